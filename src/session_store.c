/*
 * session_store.c - the storage of sessions (session_store.h): pools for
 * sessions, small exchange lists and texts, the text arena growing up to
 * its cap, the table's lists by age and by activity, and the output
 * order (records leave in id order, session.h).  The protocol machine in
 * session.c asks for room and says when a session ends; nothing here
 * reads a byte of SMTP.
 *
 * SPDX-License-Identifier: MIT
 */
#include "session_store.h"

#include <stdlib.h>
#include <string.h>

#include "order_heap.h"
#include "smtp_limits.h"

/* ---- lists ------------------------------------------------------------ */

static void age_unlink(struct session_table *t, struct session *s)
{
    if (s->age_prev) {
        s->age_prev->age_next = s->age_next;
    } else {
        t->by_age_head = s->age_next;
    }
    if (s->age_next) {
        s->age_next->age_prev = s->age_prev;
    } else {
        t->by_age_tail = s->age_prev;
    }
    s->age_prev = s->age_next = NULL;
}

static void idle_unlink(struct session_table *t, struct session *s)
{
    if (s->idle_prev) {
        s->idle_prev->idle_next = s->idle_next;
    } else {
        t->idle_head = s->idle_next;
    }
    if (s->idle_next) {
        s->idle_next->idle_prev = s->idle_prev;
    } else {
        t->idle_tail = s->idle_prev;
    }
    s->idle_prev = s->idle_next = NULL;
}

static void idle_append(struct session_table *t, struct session *s)
{
    s->idle_prev = t->idle_tail;
    s->idle_next = NULL;
    if (t->idle_tail) {
        t->idle_tail->idle_next = s;
    } else {
        t->idle_head = s;
    }
    t->idle_tail = s;
}

/* ---- memory: small exchange lists and sessions come from pools ---------- */

/* Exchange lists of these capacities live in the pools; larger ones are
 * malloc'd (a session with that many commands is rare). */
#define EXCHANGES_SMALL 4
#define EXCHANGES_MID 8
/* release_sized() tells pooled buffers by their size, and pools round sizes
 * up to 16: the pooled sizes must already be multiples of 16. */
_Static_assert(EXCHANGES_SMALL * sizeof(struct record_exchange) % 16 == 0 &&
                   EXCHANGES_MID * sizeof(struct record_exchange) % 16 == 0,
               "pooled exchange lists keep their exact size");

/* Gives back a buffer of size bytes: to the pool of that size, else to
 * malloc (pooled sizes are never malloc'd, so the size tells). */
static void release_sized(struct pool *small, struct pool *mid, void *p, size_t size)
{
    if (size == small->size) {
        pool_put(small, p);
    } else if (size == mid->size) {
        pool_put(mid, p);
    } else {
        free(p);
    }
}

static void exchanges_release(struct session_pools *pools, struct record_exchange *list,
                              uint32_t cap)
{
    release_sized(&pools->exchanges_small, &pools->exchanges_mid, list, cap * sizeof(*list));
}

/* A list of cap exchanges holding the n of old (released); NULL if lacking memory. */
static struct record_exchange *exchanges_grow(struct session_pools *pools,
                                              struct record_exchange *old, uint32_t old_cap,
                                              uint32_t n, uint32_t cap)
{
    struct record_exchange *list;
    if (cap == EXCHANGES_SMALL) {
        list = pool_get(&pools->exchanges_small);
    } else if (cap == EXCHANGES_MID) {
        list = pool_get(&pools->exchanges_mid);
    } else if (old_cap > EXCHANGES_MID) {
        return realloc(old, cap * sizeof(*old));
    } else {
        list = malloc(cap * sizeof(*list));
    }
    if (list != NULL && n > 0) {
        memcpy(list, old, n * sizeof(*old));
    }
    if (list != NULL) {
        exchanges_release(pools, old, old_cap);
    }
    return list;
}

bool store_exchange_room(struct session *s)
{
    /* Every open session holds its list: start small (a typical session
     * has 6 to 8 exchanges; many are open with fewer). */
    uint32_t cap = s->exchanges_cap ? s->exchanges_cap * 2u : EXCHANGES_SMALL;
    if (cap > SESSION_EXCHANGES_KEEP) {
        cap = SESSION_EXCHANGES_KEEP;
    }
    struct record_exchange *grown = exchanges_grow(&s->table->pools, s->rec.exchanges,
                                                   s->exchanges_cap, s->rec.n_exchanges, cap);
    if (grown == NULL) {
        return false;
    }
    s->rec.exchanges = grown;
    s->exchanges_cap = (uint16_t)cap;
    return true;
}

/* Text buffers of these sizes live in the pools (most sessions need one
 * of them); larger ones are malloc'd, doubling up to the cap (text_reserve()). */
#define TEXT_SMALL 256
#define TEXT_MID 512
_Static_assert(TEXT_SMALL % 16 == 0 && TEXT_MID % 16 == 0, "pooled texts keep their exact size");


static void text_release(struct session_pools *pools, uint8_t *data, size_t cap)
{
    release_sized(&pools->text_small, &pools->text_mid, data, cap);
}

static void session_free(struct session_table *t, struct session *s)
{
    text_release(&t->pools, store_text(s), s->text_cap);
    free(s->rec.messages);
    free(s->rec.attachments);
    if (s->headers_capture != NULL) {
        msghdr_capture_release(s->headers_capture);
        pool_put(&t->pools.captures, s->headers_capture);
    }
    exchanges_release(&t->pools, s->rec.exchanges, s->exchanges_cap);
    pool_put(&t->pools.sessions, s);
}

static void emit_and_free(struct session_table *t, struct session *s)
{
    t->sink.emit(t->sink.ctx, &s->rec);
    t->stats.n_emitted++;
    session_free(t, s);
}

/* Writes every finished record no open session precedes. */
static void drain_ready(struct session_table *t)
{
    while (t->n_finished > 0) {
        uint64_t top = t->finished[0].id;
        if (t->by_age_head != NULL && t->by_age_head->rec.id < top) {
            break;
        }
        emit_and_free(t, order_heap_pop(t->finished, &t->n_finished));
    }
}

bool session_table_init(struct session_table *t, const struct session_config *cfg,
                        struct session_sink sink)
{
    memset(t, 0, sizeof(*t));
    t->cfg = *cfg;
    t->sink = sink;
    t->next_id = 1;
    pool_init(&t->pools.sessions, sizeof(struct session) + cfg->glue_size);
    pool_init(&t->pools.exchanges_small, EXCHANGES_SMALL * sizeof(struct record_exchange));
    pool_init(&t->pools.exchanges_mid, EXCHANGES_MID * sizeof(struct record_exchange));
    pool_init(&t->pools.text_small, TEXT_SMALL);
    pool_init(&t->pools.text_mid, TEXT_MID);
    pool_init(&t->pools.captures, msghdr_capture_size());
    if (cfg->order_window > 0) {
        /* One slot more than the window: the record just finished. */
        t->finished = calloc(cfg->order_window + 1, sizeof(*t->finished));
        if (t->finished == NULL) {
            return false;
        }
    }
    return true;
}

void session_table_flush(struct session_table *t)
{
    while (t->n_finished > 0) {
        emit_and_free(t, order_heap_pop(t->finished, &t->n_finished));
    }
}

void session_table_free(struct session_table *t)
{
    session_table_flush(t);
    while (t->by_age_head != NULL) {
        struct session *s = t->by_age_head;
        age_unlink(t, s);
        session_free(t, s);
    }
    free(t->finished);
    t->finished = NULL;
    pool_free_all(&t->pools.sessions);
    pool_free_all(&t->pools.exchanges_small);
    pool_free_all(&t->pools.exchanges_mid);
    pool_free_all(&t->pools.text_small);
    pool_free_all(&t->pools.text_mid);
    pool_free_all(&t->pools.captures);
}

/* ---- text storage -------------------------------------------------------- */

/* Room for need bytes of text: pooled buffers while small, then malloc'd
 * ones doubling up to the cap.  False when capped or memory is lacking. */
static bool text_reserve(struct session *s, size_t need)
{
    struct session_pools *pools = &s->table->pools;
    if (need > SESSION_TEXT_ARENA_MAX) {
        return false;
    }
    size_t cap = need <= TEXT_SMALL ? TEXT_SMALL : TEXT_MID;
    uint8_t *data;
    if (need <= TEXT_MID) {
        data = pool_get(cap == TEXT_SMALL ? &pools->text_small : &pools->text_mid);
    } else {
        for (cap = 2 * (size_t)TEXT_MID; cap < need; cap *= 2) {
        }
        cap = cap < SESSION_TEXT_ARENA_MAX ? cap : SESSION_TEXT_ARENA_MAX;
        if (s->text_cap > TEXT_MID) { /* malloc'd already: grow it in place if it can */
            data = realloc(store_text(s), cap);
            if (data == NULL) {
                return false;
            }
            s->rec.arena = data;
            s->text_cap = (uint32_t)cap;
            return true;
        }
        data = malloc(cap);
    }
    if (data == NULL) {
        return false;
    }
    if (s->rec.arena_len > 0) {
        memcpy(data, s->rec.arena, s->rec.arena_len);
    }
    text_release(pools, store_text(s), s->text_cap);
    s->rec.arena = data;
    s->text_cap = (uint32_t)cap;
    return true;
}

bool store_text_append(struct session *s, const void *p, size_t n)
{
    if (n > s->text_cap - s->rec.arena_len && !text_reserve(s, (size_t)s->rec.arena_len + n)) {
        return false;
    }
    memcpy(store_text(s) + s->rec.arena_len, p, n);
    s->rec.arena_len += (uint32_t)n;
    return true;
}

/* ---- a session's life on the table --------------------------------------- */

struct session *store_session_new(struct session_table *t)
{
    struct session *s = pool_get(&t->pools.sessions);
    if (s == NULL) {
        t->stats.n_alloc_failed++;
        return NULL;
    }
    memset(s, 0, sizeof(*s) + t->cfg.glue_size);
    s->table = t;
    s->rec.id = t->next_id++;
    s->age_prev = t->by_age_tail;
    if (t->by_age_tail) {
        t->by_age_tail->age_next = s;
    } else {
        t->by_age_head = s;
    }
    t->by_age_tail = s;
    idle_append(t, s);
    t->stats.n_opened++;
    t->stats.n_open++;
    return s;
}

void store_session_done(struct session_table *t, struct session *s)
{
    idle_unlink(t, s);
    t->stats.n_open--;
    age_unlink(t, s);
    if (t->cfg.order_window == 0) {
        emit_and_free(t, s);
        return;
    }
    order_heap_push(t->finished, &t->n_finished, s->rec.id, s);
    drain_ready(t);
    if (t->n_finished > t->cfg.order_window) {
        /* Window full: the oldest waiting record goes out early. */
        emit_and_free(t, order_heap_pop(t->finished, &t->n_finished));
        t->stats.n_out_of_order++;
    }
}

/* ---- idleness -------------------------------------------------------------- */

void session_note_activity(struct session_table *t, struct session *s, int64_t now_us)
{
    if (now_us > s->rec.last_us) {
        s->rec.last_us = now_us;
    }
    /* Moving to the tail touches two other sessions, a cache miss each
     * with many open: do it at most once per ~1 s of packet time.  The
     * list stays in order of activity to within that, so an idle session
     * is found at most ~1 s late, against timeouts of minutes. */
    uint32_t mark = (uint32_t)((uint64_t)now_us >> 20);
    if (t->idle_tail != s && mark != s->idle_mark) {
        s->idle_mark = mark;
        idle_unlink(t, s);
        idle_append(t, s);
    }
}

static int64_t idle_limit_us(const struct session_table *t, const struct session *s)
{
    if (s->state == SESSION_CONTENT ||
        s->parser[SMTP_DIR_CLIENT].mode == SMTP_MODE_BDAT) {
        return t->cfg.idle_timeout_data_us;
    }
    return t->cfg.idle_timeout_us;
}

struct session *session_idle_candidate(struct session_table *t, int64_t now_us)
{
    struct session *s = t->idle_head;
    if (s == NULL) {
        return NULL;
    }
    int64_t limit = idle_limit_us(t, s);
    if (limit <= 0 || now_us - s->rec.last_us <= limit) {
        return NULL;
    }
    return s;
}

int64_t session_idle_check_us(const struct session_table *t, int64_t now_us)
{
    int64_t limit = t->cfg.idle_timeout_us < t->cfg.idle_timeout_data_us
                        ? t->cfg.idle_timeout_us : t->cfg.idle_timeout_data_us;
    if (limit <= 0) {
        return INT64_MAX;
    }
    /* The list is in order of activity to within one move mark (2^20 us,
     * session_note_activity()): the next head may be that much older. */
    int64_t from = t->idle_head != NULL ? t->idle_head->rec.last_us : now_us;
    int64_t slack = (int64_t)2 << 20;
    if (from > INT64_MAX - limit) {
        return INT64_MAX; /* packet times that far on: nothing goes idle */
    }
    int64_t at = from + limit;
    at = at > INT64_MIN + slack ? at - slack : INT64_MIN;
    return at > now_us ? at : now_us;
}

struct session *session_oldest_open(struct session_table *t)
{
    return t->by_age_head;
}

