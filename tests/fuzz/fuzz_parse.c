/*
 * fuzz_parse.c - libFuzzer harness for the pure SMTP parser (smtp_parse.h).
 *
 * Input layout (llhttp's idea: the first byte picks the set-up):
 *   byte 0  bit 0      direction (0 client, 1 server)
 *           bits 1-2   starting mode: 0 line, 1 data, 2 bdat, 3 opaque
 *           bit 3      client: enter DATA mode after a DATA command (as if
 *                      a 354 came), so the end-of-data matcher runs again
 *           bit 4      bdat: the chunk is LAST
 *   byte 1  seed of the split sizes
 *   bdat only: the next 8 bytes (big-endian, fewer if the input is short)
 *           are the chunk size
 *   rest    the wire bytes.
 *
 * The wire bytes are fed in pieces whose sizes derive from byte 1, the way
 * a real caller does it: unconsumed bytes are kept and offered again in
 * front of the next piece; everything outside the offered window is ASan
 * poisoned (fuzz_window), so any read past its end or before its start is
 * caught; smtp_parse_finish() ends the stream.  A second run feeds the
 * whole input at once from an exact-size malloc.
 *
 * Invariants checked (smtp_parse.h contract):
 *  - consumed <= len, and SMTP_EV_NONE consumes nothing;
 *  - ev->line_len equals the bytes the event consumed;
 *  - every span lies inside the bytes the event consumed;
 *  - after the loop the caller holds fewer than SMTP_LINE_CAP bytes;
 *  - no endless run of zero-byte events;
 *  - splitting does not change the result: the same input fed whole gives
 *    the same normalised event log (skipped when a line was truncated,
 *    where the cut point legitimately depends on the split).
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "smtp_limits.h"
#include "smtp_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* One normalised event: bulk events (content, opaque, skipped) are summed
 * until the next line event or end event, so splits do not show. */
struct norm_event {
    uint64_t bytes;
    uint64_t stuffed;
    uint64_t bdat_size;
    uint64_t h_verb;
    uint64_t h_arg;
    uint64_t h_text;
    uint32_t anomalies;
    uint16_t code;
    uint16_t subject;
    uint16_t detail;
    uint8_t type;
    uint8_t verb;
    uint8_t is_last;
    uint8_t bdat_last;
    uint8_t klass;
    uint8_t pad; /* no implicit padding: the log is compared with memcmp */
};

_Static_assert(sizeof(struct norm_event) == 64, "norm_event must have no padding");

struct norm_log {
    struct norm_event *ev;
    size_t n;
    size_t cap;
    struct norm_event bulk; /* accumulating bulk bytes */
    bool has_bulk;
    bool saw_truncated;
};

static uint64_t hash_span(struct span s)
{
    uint64_t h = 1469598103934665603ULL ^ s.len;
    for (size_t i = 0; i < s.len; i++) {
        h = (h ^ s.ptr[i]) * 1099511628211ULL;
    }
    return h;
}

static void log_push(struct norm_log *l, const struct norm_event *e)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->ev = realloc(l->ev, l->cap * sizeof(*l->ev));
        if (l->ev == NULL) {
            abort();
        }
    }
    l->ev[l->n++] = *e;
}

static void log_flush_bulk(struct norm_log *l)
{
    if (l->has_bulk) {
        log_push(l, &l->bulk);
        memset(&l->bulk, 0, sizeof(l->bulk));
        l->has_bulk = false;
    }
}

static void log_event(struct norm_log *l, const struct smtp_event *ev)
{
    if (ev->anomalies & SMTP_ANOM_TRUNCATED) {
        l->saw_truncated = true;
    }
    switch (ev->type) {
    case SMTP_EV_DATA_BYTES:
    case SMTP_EV_BDAT_BYTES:
    case SMTP_EV_OPAQUE_BYTES:
    case SMTP_EV_SKIPPED:
        l->has_bulk = true;
        l->bulk.type = 100;
        l->bulk.bytes += ev->u.data.n_bytes;
        if (ev->type == SMTP_EV_DATA_BYTES) {
            l->bulk.stuffed += ev->u.data.n_dot_stuffed;
        }
        l->bulk.anomalies |= ev->anomalies;
        return;
    case SMTP_EV_DATA_END:
    case SMTP_EV_BDAT_END:
        l->has_bulk = true;
        l->bulk.type = (uint8_t)ev->type;
        l->bulk.bytes += ev->u.data.n_bytes;
        if (ev->type == SMTP_EV_DATA_END) {
            l->bulk.stuffed += ev->u.data.n_dot_stuffed;
        } else {
            l->bulk.bdat_last = ev->u.data.bdat_last;
        }
        l->bulk.anomalies |= ev->anomalies;
        log_flush_bulk(l);
        return;
    default:
        break;
    }
    log_flush_bulk(l);
    struct norm_event e;
    memset(&e, 0, sizeof(e));
    e.type = (uint8_t)ev->type;
    e.anomalies = ev->anomalies;
    e.bytes = ev->line_len;
    if (ev->type == SMTP_EV_COMMAND) {
        e.verb = (uint8_t)ev->u.command.verb;
        e.h_verb = hash_span(ev->u.command.verb_text);
        e.h_arg = hash_span(ev->u.command.arg);
        e.bdat_size = ev->u.command.bdat_size;
        e.bdat_last = ev->u.command.bdat_last;
    } else if (ev->type == SMTP_EV_REPLY) {
        e.code = ev->u.reply.code;
        e.is_last = ev->u.reply.is_last;
        e.klass = ev->u.reply.enhanced.klass;
        e.subject = ev->u.reply.enhanced.subject;
        e.detail = ev->u.reply.enhanced.detail;
        e.h_text = hash_span(ev->u.reply.text);
    }
    log_push(l, &e);
}

static void check_span(struct span s, const uint8_t *base, size_t used)
{
    FUZZ_CHECK(s.len == 0 || s.ptr != NULL);
    if (s.len == 0) {
        return;
    }
    FUZZ_CHECK(s.ptr >= base);
    FUZZ_CHECK((size_t)(s.ptr - base) <= used);
    FUZZ_CHECK(s.len <= used - (size_t)(s.ptr - base));
    /* Touch every byte so ASan checks the span really is readable. */
    volatile uint8_t sink = 0;
    for (size_t i = 0; i < s.len; i++) {
        sink ^= s.ptr[i];
    }
    (void)sink;
}

static void check_event(const struct smtp_event *ev, const uint8_t *base, size_t len,
                        size_t used)
{
    FUZZ_CHECK(used <= len);
    if (ev->type == SMTP_EV_NONE) {
        FUZZ_CHECK(used == 0);
        return;
    }
    FUZZ_CHECK(ev->line_len == used);
    (void)smtp_event_name(ev->type);
    if (ev->type == SMTP_EV_COMMAND) {
        FUZZ_CHECK((unsigned)ev->u.command.verb < SMTP_VERB_COUNT);
        (void)smtp_verb_name(ev->u.command.verb);
        check_span(ev->u.command.verb_text, base, used);
        check_span(ev->u.command.arg, base, used);
        FUZZ_CHECK(ev->u.command.verb_text.len <= SMTP_LINE_CAP);
        FUZZ_CHECK(ev->u.command.arg.len <= SMTP_LINE_CAP);
    } else if (ev->type == SMTP_EV_REPLY) {
        FUZZ_CHECK(ev->u.reply.code <= 999);
        check_span(ev->u.reply.text, base, used);
        FUZZ_CHECK(ev->u.reply.text.len <= SMTP_LINE_CAP);
        const struct smtp_enhanced *e = &ev->u.reply.enhanced;
        FUZZ_CHECK(e->klass == 0 || e->klass == 2 || e->klass == 4 || e->klass == 5);
        FUZZ_CHECK(e->subject <= 999 && e->detail <= 999);
    } else {
        FUZZ_CHECK(ev->u.data.n_bytes == used);
    }
}

struct setup {
    enum smtp_dir dir;
    enum smtp_mode mode;
    bool data_after_data_cmd;
    uint64_t bdat_size;
    bool bdat_last;
};

static void parser_start(struct smtp_parser *p, const struct setup *su)
{
    smtp_parser_init(p, su->dir);
    (void)smtp_mode_name(su->mode);
    if (su->mode != SMTP_MODE_LINE) {
        smtp_parser_set_mode(p, su->mode);
    }
    if (su->mode == SMTP_MODE_BDAT) {
        p->bdat_left = su->bdat_size;
        p->bdat_last = su->bdat_last;
    }
}

/*
 * Runs the parser over buf[0..len) (an exact allocation), looping until it
 * needs more; returns bytes consumed.
 */
static size_t drive(struct smtp_parser *p, const struct setup *su, const uint8_t *buf,
                    size_t len, struct norm_log *log)
{
    size_t off = 0;
    unsigned zero_run = 0;
    for (;;) {
        struct smtp_event ev;
        size_t used = smtp_parse(p, buf + off, len - off, &ev);
        check_event(&ev, buf + off, len - off, used);
        if (ev.type == SMTP_EV_NONE) {
            break;
        }
        zero_run = used == 0 ? zero_run + 1 : 0;
        FUZZ_CHECK(zero_run < 4);
        log_event(log, &ev);
        off += used;
        if (su->data_after_data_cmd && ev.type == SMTP_EV_COMMAND &&
            ev.u.command.verb == SMTP_VERB_DATA &&
            !(ev.anomalies & SMTP_ANOM_TRUNCATED)) {
            smtp_parser_set_mode(p, SMTP_MODE_DATA);
        }
    }
    FUZZ_CHECK(off <= len);
    FUZZ_CHECK(len - off < SMTP_LINE_CAP);
    if (p->mode != SMTP_MODE_LINE) {
        /* Content, chunks and opaque bytes are never held back, except
         * while a BDAT chunk still waits for bytes. */
        FUZZ_CHECK(off == len);
    }
    return off;
}

static void finish(struct smtp_parser *p, const uint8_t *tail, size_t held_len,
                   struct norm_log *log)
{
    struct smtp_event ev;
    size_t used = smtp_parse_finish(p, tail, held_len, &ev);
    FUZZ_CHECK(used <= held_len);
    if (ev.type != SMTP_EV_NONE) {
        check_event(&ev, tail, held_len, used);
        log_event(log, &ev);
    } else {
        FUZZ_CHECK(held_len == 0 || p->mode == SMTP_MODE_BDAT);
    }
    log_flush_bulk(log);
}

/* Piece sizes: a few regimes, from one byte at a time to big segments. */
static size_t next_piece(struct fuzz_rng *r, uint8_t seed)
{
    static const size_t maxes[8] = {1, 2, 7, 64, 536, 1460, 9000, 65536};
    size_t max = maxes[seed & 7];
    return 1 + fuzz_rng_below(r, max);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) {
        return 0;
    }
    struct setup su;
    memset(&su, 0, sizeof(su));
    su.dir = (data[0] & 1) ? SMTP_DIR_SERVER : SMTP_DIR_CLIENT;
    su.mode = (enum smtp_mode)((data[0] >> 1) & 3);
    su.data_after_data_cmd = (data[0] >> 3) & 1;
    su.bdat_last = (data[0] >> 4) & 1;
    uint8_t seed = data[1];
    const uint8_t *wire = data + 2;
    size_t wire_len = size - 2;
    if (su.mode == SMTP_MODE_BDAT) {
        size_t n = wire_len < 8 ? wire_len : 8;
        for (size_t i = 0; i < n; i++) {
            su.bdat_size = su.bdat_size << 8 | wire[i];
        }
        wire += n;
        wire_len -= n;
    }

    /* Run 1: in pieces, like the glue: held bytes stay in front of the new
     * ones, and nothing outside the held window is readable (ASan). */
    struct norm_log split_log;
    memset(&split_log, 0, sizeof(split_log));
    struct smtp_parser p;
    parser_start(&p, &su);
    struct fuzz_rng rng;
    fuzz_rng_seed(&rng, seed);
    struct fuzz_window w;
    fuzz_window_init(&w, wire, wire_len);
    bool first = true;
    while (first || w.hi < w.total) { /* at least one call, as the glue does */
        first = false;
        size_t piece = next_piece(&rng, seed >> 3);
        if (piece > w.total - w.hi) {
            piece = w.total - w.hi;
        }
        fuzz_window_extend(&w, piece);
        size_t used = drive(&p, &su, w.buf + w.lo, w.hi - w.lo, &split_log);
        fuzz_window_consume(&w, used);
    }
    finish(&p, w.buf + w.lo, w.hi - w.lo, &split_log);
    fuzz_window_free(&w);

    /* Run 2: the whole input in one exact-size buffer. */
    struct norm_log whole_log;
    memset(&whole_log, 0, sizeof(whole_log));
    parser_start(&p, &su);
    uint8_t *all = fuzz_dup(wire, wire_len);
    size_t used = drive(&p, &su, all, wire_len, &whole_log);
    finish(&p, all + used, wire_len - used, &whole_log);
    free(all);

    if (!split_log.saw_truncated && !whole_log.saw_truncated) {
        FUZZ_CHECK(split_log.n == whole_log.n);
        for (size_t i = 0; i < split_log.n; i++) {
            if (memcmp(&split_log.ev[i], &whole_log.ev[i], sizeof(struct norm_event)) != 0) {
                fprintf(stderr, "fuzz_parse: event %zu differs between split and whole "
                                "(type %u/%u)\n",
                        i, split_log.ev[i].type, whole_log.ev[i].type);
                abort();
            }
        }
    }
    free(split_log.ev);
    free(whole_log.ev);
    return 0;
}
