/*
 * fuzz_session.c - libFuzzer harness for the session layer (session.h)
 * and everything downstream of it: stats, the JSON and terminal writers.
 *
 * Input layout (Suricata's app-layer fuzzers):
 *   byte 0  bit 0    implicit TLS: server port 465 (opaque from the start)
 *           bit 1    order window of 2 records (else 0: write at once)
 *           bit 2    idle timeouts of 1 s / 2 s (else none), with time jumps
 *           bit 3    the client speaks first (else the server does)
 *           bit 4    two sessions open at once, chunks spread between them
 *           bits 5-7 how sessions still open at the end end (record_end)
 *   byte 1  seed of the PRNG for segment sizes, times and TCP notes; when
 *           its low 6 bits are all 1 the run summaries are printed too
 *   rest    chunks separated by FUZZ_SEP, alternating direction.
 *
 * Each chunk is cut into TCP-like segments.  Like the libnids glue, the
 * harness keeps what session_feed() did not consume and offers it again in
 * front of the next segment (held).  Each slot's direction is one stream
 * buffer whose bytes outside the held window are ASan-poisoned
 * (fuzz_window), so reading past the bytes handed over, or back into bytes
 * already consumed, is caught exactly as with an exact-size malloc, without
 * a copy per segment.  After each server segment the harness offers the
 * held client bytes again while session_client_resume() says so.  FIN, RST and activity notes and early ends (FIN, RST,
 * eviction, port reuse) are sprinkled in from the PRNG; idle sessions are
 * swept as stream_nids.c does.  At the end every open session is ended with
 * its held tails.
 *
 * The sink walks the whole record (every text span inside the arena, every
 * enum in range, caps respected), adds it to the run stats and prints it
 * with the JSON and terminal writers to checking FILEs (fuzz_common.h) that
 * abort on any unescaped control byte or invalid UTF-8.
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "fuzz_record.h"
#include "stats.h"
#include "session.h"
#include "smtp_limits.h"
#include "writer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_SEP "\xff\xff\xff\xff"
#define FUZZ_SEP_LEN 4
#define SLOTS 2

/* One input chunk: a turn of one side, for one of the session slots. */
struct chunk {
    const uint8_t *p;
    size_t n;
    uint8_t dir;
    uint8_t slot;
};

/* Each slot reads each direction from one stream: the concatenation of its
 * chunks.  The window [lo, hi) is what the glue holds (fuzz_common.h). */
struct slot {
    struct session *s;
    struct fuzz_window w[2];
};

struct harness {
    struct session_table table;
    struct run_stats *stats;
    struct writer json;
    struct writer text;
    FILE *json_out;
    FILE *text_out;
    struct slot slots[SLOTS];
    struct fuzz_rng rng;
    uint16_t server_port;
    uint16_t next_client_port;
    int64_t now_us;
    uint64_t n_records;
};

static struct port_set g_tls_ports;

/* ---- the sink ------------------------------------------------------------ */

static void emit(void *ctx, const struct session_record *r)
{
    struct harness *h = ctx;
    h->n_records++;
    fuzz_check_record(r);
    stats_add(h->stats, r);
    h->json.session(&h->json, r);
    h->text.session(&h->text, r);
}

/* ---- the glue imitation -------------------------------------------------- */

static void slot_open(struct harness *h, struct slot *sl)
{
    struct record_endpoint client;
    struct record_endpoint server;
    memset(&client, 0, sizeof(client));
    memset(&server, 0, sizeof(server));
    client.family = 4;
    server.family = 4;
    client.addr[0] = 10;
    client.addr[3] = 1;
    server.addr[0] = 10;
    server.addr[3] = 2;
    client.port = h->next_client_port++;
    server.port = h->server_port;
    int64_t syn = fuzz_rng_below(&h->rng, 4) == 0 ? -1 : h->now_us - 2000;
    sl->s = session_open(&h->table, &client, &server, syn, syn < 0 ? -1 : h->now_us - 1000,
                         h->now_us);
    FUZZ_CHECK(sl->s != NULL);
    for (int d = 0; d < 2; d++) {
        FUZZ_CHECK(sl->w[d].lo == sl->w[d].hi); /* a new connection holds nothing */
    }
}

static void slot_end(struct harness *h, struct slot *sl, enum record_end reason)
{
    struct session_end end;
    memset(&end, 0, sizeof(end));
    end.reason = reason;
    end.now_us = h->now_us;
    for (int d = 0; d < 2; d++) {
        struct fuzz_window *w = &sl->w[d];
        if (w->hi > w->lo) { /* the glue passes NULL when it holds nothing */
            end.tail[d] = w->buf + w->lo;
            end.tail_len[d] = w->hi - w->lo;
        }
        end.gap[d] = fuzz_rng_below(&h->rng, 8) == 0;
    }
    session_end(&h->table, sl->s, &end);
    sl->s = NULL;
    for (int d = 0; d < 2; d++) {
        fuzz_window_consume(&sl->w[d], sl->w[d].hi - sl->w[d].lo);
    }
}

static struct slot *slot_of(struct harness *h, struct session *s)
{
    for (int i = 0; i < SLOTS; i++) {
        if (h->slots[i].s == s) {
            return &h->slots[i];
        }
    }
    return NULL;
}

static void sweep_idle(struct harness *h)
{
    struct session *s;
    while ((s = session_idle_candidate(&h->table, h->now_us)) != NULL) {
        struct slot *sl = slot_of(h, s);
        FUZZ_CHECK(sl != NULL);
        slot_end(h, sl, RECORD_END_IDLE);
    }
}

static void advance_time(struct harness *h, bool idle_on)
{
    uint64_t r = fuzz_rng_next(&h->rng);
    int64_t step = (int64_t)(r % 50000);
    if (idle_on && (r >> 32) % 32 == 0) {
        step += 1500000 + (int64_t)((r >> 40) % 2000000); /* may pass a timeout */
    }
    h->now_us += step;
}

/* seg_len more bytes of direction dir arrive (they are next in the stream). */
static void feed_segment(struct harness *h, struct slot *sl, enum smtp_dir dir, size_t seg_len)
{
    struct fuzz_window *w = &sl->w[dir];
    size_t held = w->hi - w->lo;
    fuzz_window_extend(w, seg_len);
    size_t len = w->hi - w->lo;
    const struct session_record *view = session_record_view(sl->s);
    uint64_t before = view->bytes[dir];
    size_t used = session_feed(&h->table, sl->s, dir, w->buf + w->lo, len, held, h->now_us);
    FUZZ_CHECK(used <= len);
    FUZZ_CHECK(len - used < SMTP_LINE_CAP);
    FUZZ_CHECK(view->bytes[dir] == before + seg_len);
    FUZZ_CHECK(view->n_exchanges <= SESSION_EXCHANGES_KEEP);
    fuzz_window_consume(w, used);
    /* session.h: after the reply to DATA/STARTTLS, offer the client bytes
     * held behind it again, all counted as held (stream_nids.c resume_client). */
    if (dir == SMTP_DIR_SERVER) {
        struct fuzz_window *cw = &sl->w[SMTP_DIR_CLIENT];
        while (session_client_resume(sl->s) && cw->hi > cw->lo) {
            size_t n_held = cw->hi - cw->lo;
            uint64_t client_before = view->bytes[SMTP_DIR_CLIENT];
            size_t n = session_feed(&h->table, sl->s, SMTP_DIR_CLIENT, cw->buf + cw->lo, n_held,
                                    n_held, h->now_us);
            FUZZ_CHECK(n <= n_held);
            FUZZ_CHECK(n_held - n < SMTP_LINE_CAP);
            FUZZ_CHECK(view->bytes[SMTP_DIR_CLIENT] == client_before);
            fuzz_window_consume(cw, n);
        }
    }
}

static void feed_chunk(struct harness *h, struct slot *sl, enum smtp_dir dir, size_t chunk_len,
                       bool idle_on)
{
    static const size_t seg_max[4] = {1, 40, 1460, 65536};
    size_t max = seg_max[fuzz_rng_below(&h->rng, 4)];
    size_t pos = 0;
    do {
        size_t n = 1 + fuzz_rng_below(&h->rng, max);
        if (n > chunk_len - pos) {
            n = chunk_len - pos;
        }
        advance_time(h, idle_on);
        if (idle_on) {
            sweep_idle(h);
            if (sl->s == NULL) {
                slot_open(h, sl); /* a new connection takes over */
            }
        }
        feed_segment(h, sl, dir, n);
        pos += n;
        switch (fuzz_rng_below(&h->rng, 32)) {
        case 0:
            session_note_fin(sl->s, dir, h->now_us);
            break;
        case 1:
            session_note_rst(sl->s, dir, h->now_us, fuzz_rng_below(&h->rng, 2));
            break;
        default:
            session_note_activity(&h->table, sl->s, h->now_us);
            break;
        }
    } while (pos < chunk_len);
}

static const uint8_t *find_sep(const uint8_t *p, size_t n)
{
    return memmem(p, n, FUZZ_SEP, FUZZ_SEP_LEN);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const enum record_end end_reasons[8] = {
        RECORD_END_END_OF_INPUT, RECORD_END_FIN,     RECORD_END_RST,
        RECORD_END_EVICTED,      RECORD_END_IDLE,    RECORD_END_PORT_REUSED,
        RECORD_END_STOPPED,      RECORD_END_END_OF_INPUT,
    };
    if (size < 2) {
        return 0;
    }
    uint8_t flags = data[0];
    bool implicit_tls = flags & 1;
    bool idle_on = flags & 4;
    bool client_first = flags & 8;
    bool two = flags & 16;
    enum record_end final_reason = end_reasons[(flags >> 5) & 7];

    struct harness *h = calloc(1, sizeof(*h));
    if (h == NULL) {
        abort();
    }
    fuzz_rng_seed(&h->rng, data[1]);
    h->server_port = implicit_tls ? 465 : 25;
    h->next_client_port = 40000;
    h->now_us = 1700000000LL * 1000000;
    /* struct run_stats is over 1 MB: allocated once, reset per input. */
    static struct run_stats *stats;
    if (stats == NULL) {
        if ((stats = malloc(sizeof(*stats))) == NULL) {
            abort();
        }
        stats_init(stats);
    }
    h->stats = stats;
    /* Reset only when this input prints the summaries; otherwise the stats
     * keep accumulating (stats_add still runs on every record). */
    bool summaries = (data[1] & 63) == 63;
    if (summaries) {
        stats_init(h->stats);
    }
    h->json_out = fuzz_out_open(FUZZ_OUT_JSON);
    h->text_out = fuzz_out_open(FUZZ_OUT_TERMINAL);
    writer_jsonl_init(&h->json, h->json_out);
    writer_text_init(&h->text, h->text_out);
    port_set_add(&g_tls_ports, 465);
    struct session_config cfg = {
        .implicit_tls = &g_tls_ports,
        .idle_timeout_us = idle_on ? 1000000 : 0,
        .idle_timeout_data_us = idle_on ? 2000000 : 0,
        .order_window = (flags & 2) ? 2 : 0,
        .glue_size = 64,
    };
    struct session_sink sink = {emit, h};
    FUZZ_CHECK(session_table_init(&h->table, &cfg, sink));

    /* Cut the input into chunks; chunk i goes to slot slot_of_chunk (drawn
     * from its own PRNG so the split does not shift the other draws). */
    const uint8_t *p = data + 2;
    size_t left = size - 2;
    size_t n_chunks = 0;
    struct chunk *chunks = NULL;
    struct fuzz_rng slot_rng;
    fuzz_rng_seed(&slot_rng, data[1] ^ 0x5A5AULL);
    enum smtp_dir dir = client_first ? SMTP_DIR_CLIENT : SMTP_DIR_SERVER;
    size_t stream_len[SLOTS][2] = {{0, 0}, {0, 0}};
    for (;;) {
        const uint8_t *sep = find_sep(p, left);
        size_t n = sep ? (size_t)(sep - p) : left;
        chunks = realloc(chunks, (n_chunks + 1) * sizeof(*chunks));
        if (chunks == NULL) {
            abort();
        }
        struct chunk *c = &chunks[n_chunks++];
        c->p = p;
        c->n = n;
        c->dir = (uint8_t)dir;
        c->slot = two ? (uint8_t)fuzz_rng_below(&slot_rng, SLOTS) : 0;
        stream_len[c->slot][dir] += n;
        dir = dir == SMTP_DIR_CLIENT ? SMTP_DIR_SERVER : SMTP_DIR_CLIENT;
        if (sep == NULL) {
            break;
        }
        p = sep + FUZZ_SEP_LEN;
        left -= n + FUZZ_SEP_LEN;
    }
    for (int i = 0; i < SLOTS; i++) {
        for (int d = 0; d < 2; d++) {
            uint8_t *joined = malloc(stream_len[i][d] + 1);
            size_t at = 0;
            if (joined == NULL) {
                abort();
            }
            for (size_t k = 0; k < n_chunks; k++) {
                if (chunks[k].slot == i && chunks[k].dir == d) {
                    memcpy(joined + at, chunks[k].p, chunks[k].n);
                    at += chunks[k].n;
                }
            }
            fuzz_window_init(&h->slots[i].w[d], joined, at);
            free(joined);
        }
    }

    for (size_t k = 0; k < n_chunks; k++) {
        struct slot *sl = &h->slots[chunks[k].slot];
        if (sl->s == NULL) {
            slot_open(h, sl);
        }
        if (chunks[k].n > 0) {
            feed_chunk(h, sl, (enum smtp_dir)chunks[k].dir, chunks[k].n, idle_on);
        }
        /* Now and then the connection ends early, as TCP would end it. */
        if (sl->s != NULL) {
            switch (fuzz_rng_below(&h->rng, 64)) {
            case 0:
                slot_end(h, sl, RECORD_END_FIN);
                break;
            case 1:
                slot_end(h, sl, RECORD_END_RST);
                break;
            case 2:
                slot_end(h, sl, RECORD_END_EVICTED);
                break;
            case 3:
                slot_end(h, sl, RECORD_END_PORT_REUSED);
                break;
            default:
                break;
            }
        }
    }
    /* End of input: end what is open, oldest first, as stream_finish does. */
    struct session *s;
    while ((s = session_oldest_open(&h->table)) != NULL) {
        struct slot *sl = slot_of(h, s);
        FUZZ_CHECK(sl != NULL);
        slot_end(h, sl, final_reason);
    }
    session_table_flush(&h->table);
    FUZZ_CHECK(h->table.stats.n_open == 0);
    FUZZ_CHECK(h->table.stats.n_emitted == h->table.stats.n_opened);
    FUZZ_CHECK(h->n_records == h->table.stats.n_emitted);

    struct run_input in;
    memset(&in, 0, sizeof(in));
    in.source = "fuzz";
    in.linktype_name = "EN10MB";
    in.first_us = 1700000000LL * 1000000;
    in.last_us = h->now_us;
    in.n_out_of_order = h->table.stats.n_out_of_order;
    struct run_report rep = {h->stats, &in};
    /* The summaries walk every latency histogram (slow under coverage
     * tracing): print them for one input in 64. */
    if (summaries) {
        h->json.summary(&h->json, &rep);
        h->text.summary(&h->text, &rep);
    }
    FUZZ_CHECK(!h->json.failed && !h->text.failed);

    session_table_free(&h->table);
    for (int i = 0; i < SLOTS; i++) {
        for (int d = 0; d < 2; d++) {
            fuzz_window_free(&h->slots[i].w[d]);
        }
    }
    free(chunks);
    writer_free(&h->json);
    writer_free(&h->text);
    fclose(h->json_out); /* checks the JSON did not end mid UTF-8 sequence */
    fclose(h->text_out);
    free(h);
    return 0;
}
