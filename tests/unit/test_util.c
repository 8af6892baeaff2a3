/*
 * test_util.c - shared helpers for the unit tests (see test_util.h).
 *
 * SPDX-License-Identifier: MIT
 */
#include "test_util.h"

#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- growable text ------------------------------------------------------ */

static void tstr_reserve(struct tstr *s, size_t extra)
{
    if (s->len + extra + 1 <= s->cap) {
        return;
    }
    size_t cap = s->cap ? s->cap : 256;
    while (cap < s->len + extra + 1) {
        cap *= 2;
    }
    char *p = realloc(s->p, cap);
    CHECK((p) != NULL);
    s->p = p;
    s->cap = cap;
}

void tstr_printf(struct tstr *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    CHECK((n) >= (0));
    tstr_reserve(s, (size_t)n);
    va_start(ap, fmt);
    vsnprintf(s->p + s->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    s->len += (size_t)n;
}

void tstr_quote(struct tstr *s, const uint8_t *b, size_t n)
{
    tstr_printf(s, "\"");
    for (size_t i = 0; i < n; i++) {
        uint8_t c = b[i];
        switch (c) {
        case '\r':
            tstr_printf(s, "\\r");
            break;
        case '\n':
            tstr_printf(s, "\\n");
            break;
        case '\t':
            tstr_printf(s, "\\t");
            break;
        case '\0':
            tstr_printf(s, "\\0");
            break;
        case '\\':
            tstr_printf(s, "\\\\");
            break;
        case '"':
            tstr_printf(s, "\\\"");
            break;
        default:
            if (c >= 0x20 && c < 0x7f) {
                tstr_printf(s, "%c", c);
            } else {
                tstr_printf(s, "\\x%02x", c);
            }
        }
    }
    tstr_printf(s, "\"");
}

void tstr_quote_short(struct tstr *s, const uint8_t *b, size_t n)
{
    /* Long texts are filler in the tests that make them; their size is
     * the fact worth comparing, and keeps expected logs readable. */
    if (n > 64) {
        tstr_printf(s, "[%zu bytes]", n);
    } else {
        tstr_quote(s, b, n);
    }
}

const char *tstr_cstr(struct tstr *s)
{
    tstr_reserve(s, 0);
    s->p[s->len] = '\0';
    return s->p;
}

void tstr_free(struct tstr *s)
{
    free(s->p);
    s->p = NULL;
    s->len = s->cap = 0;
}

/* ---- records --------------------------------------------------------------- */

struct rec_copy *rec_copy_make(const struct session_record *r)
{
    struct rec_copy *c = calloc(1, sizeof(*c));
    CHECK((c) != NULL);
    c->r = *r;
    c->r.exchanges = NULL;
    c->r.arena = NULL;
    if (r->n_exchanges > 0) {
        struct record_exchange *x = malloc(r->n_exchanges * sizeof(*x));
        CHECK((x) != NULL);
        memcpy(x, r->exchanges, r->n_exchanges * sizeof(*x));
        c->r.exchanges = x;
    }
    if (r->arena_len > 0) {
        uint8_t *a = malloc(r->arena_len);
        CHECK((a) != NULL);
        memcpy(a, r->arena, r->arena_len);
        c->r.arena = a;
    }
    return c;
}

void rec_copy_free(struct rec_copy *c)
{
    while (c != NULL) {
        struct rec_copy *next = c->next;
        free(c->r.exchanges);
        free((void *)c->r.arena);
        free(c);
        c = next;
    }
}

bool record_arena_contains(const struct session_record *r, const char *needle, size_t n)
{
    if (n == 0 || r->arena_len < n) {
        return false;
    }
    for (size_t i = 0; i + n <= r->arena_len; i++) {
        if (memcmp(r->arena + i, needle, n) == 0) {
            return true;
        }
    }
    return false;
}

static const char *const anomaly_names[] = {
#define XX(name, bit, str) [bit] = str,
    SMTP_LINE_ANOMALY_MAP(XX)
#undef XX
};

static void dump_anomalies(struct tstr *out, uint32_t a)
{
    if (a == 0) {
        return;
    }
    const char *sep = " anom=";
    for (unsigned b = 0; b < sizeof(anomaly_names) / sizeof(anomaly_names[0]); b++) {
        if (a & (1u << b)) {
            tstr_printf(out, "%s%s", sep, anomaly_names[b]);
            sep = ",";
        }
    }
}

static void dump_time(struct tstr *out, const char *key, int64_t us)
{
    if (us < 0) {
        tstr_printf(out, " %s=-", key);
    } else {
        tstr_printf(out, " %s=%lld", key, (long long)(us - TEST_EST_US));
    }
}

static void dump_text(struct tstr *out, const struct session_record *r, const char *key,
                      struct record_text t)
{
    struct span sp = record_span(r, t);
    tstr_printf(out, " %s=", key);
    tstr_quote_short(out, sp.ptr, sp.len);
}

/* The reply half of an exchange, after " |". */
static void dump_reply(struct tstr *out, const struct session_record *r,
                       const struct record_exchange *x)
{
    if (x->code == 0 && x->reply_first_us < 0) {
        tstr_printf(out, " | none");
        return;
    }
    tstr_printf(out, " | %03u lines=%u", x->code, x->n_lines);
    if (x->enhanced.klass != 0) {
        tstr_printf(out, " enh=%u.%u.%u", x->enhanced.klass, x->enhanced.subject,
                    x->enhanced.detail);
    }
    dump_text(out, r, "text", x->text);
    dump_time(out, "reply", x->reply_first_us);
    if (x->reply_last_us != x->reply_first_us) {
        dump_time(out, "last", x->reply_last_us);
    }
    if (x->cmd_us >= 0 && x->reply_first_us >= 0) {
        tstr_printf(out, " latency=%lld", (long long)(x->reply_first_us - x->cmd_us));
    }
}

static void dump_exchange(struct tstr *out, const struct session_record *r,
                          const struct record_exchange *x)
{
    switch ((enum record_kind)x->kind) {
    case RECORD_KIND_COMMAND:
        tstr_printf(out, "cmd ");
        if (x->verb == SMTP_VERB_UNKNOWN) {
            struct span v = record_span(r, x->verb_text);
            tstr_printf(out, "?");
            tstr_quote(out, v.ptr, v.len);
        } else {
            tstr_printf(out, "%s", smtp_verb_name((enum smtp_verb)x->verb));
        }
        if (x->arg.len > 0) {
            dump_text(out, r, "arg", x->arg);
        }
        if (x->verb == SMTP_VERB_BDAT) {
            tstr_printf(out, " size=%llu%s", (unsigned long long)x->size,
                        x->bdat_last ? " last" : "");
        }
        break;
    case RECORD_KIND_MESSAGE:
        tstr_printf(out, "message size=%llu", (unsigned long long)x->size);
        break;
    case RECORD_KIND_AUTH_LINE:
        tstr_printf(out, "auth-line");
        break;
    case RECORD_KIND_UNSOLICITED:
        tstr_printf(out, "unsolicited");
        break;
    case RECORD_KIND_GREETING:
        tstr_printf(out, "greeting");
        break;
    }
    dump_anomalies(out, x->anomalies);
    if (x->cmd_us >= 0) {
        dump_time(out, "at", x->cmd_us);
    }
    dump_reply(out, r, x);
    tstr_printf(out, "\n");
}

void record_dump(struct tstr *out, const struct session_record *r)
{
    if (r->has_greeting) {
        const struct record_exchange *g = &r->greeting;
        tstr_printf(out, "greeting %03u lines=%u", g->code, g->n_lines);
        if (g->enhanced.klass != 0) {
            tstr_printf(out, " enh=%u.%u.%u", g->enhanced.klass, g->enhanced.subject,
                        g->enhanced.detail);
        }
        dump_text(out, r, "text", g->text);
        dump_anomalies(out, g->anomalies);
        tstr_printf(out, " banner=%lld",
                    (long long)(g->reply_first_us >= 0 && r->est_us >= 0
                                    ? g->reply_first_us - r->est_us
                                    : -1));
        if (g->reply_last_us != g->reply_first_us) {
            dump_time(out, "last", g->reply_last_us);
        }
        tstr_printf(out, "\n");
    } else {
        tstr_printf(out, "greeting none\n");
    }
    uint32_t cursor = 0;
    struct span e;
    while (record_next_extension(r, &cursor, &e)) {
        tstr_printf(out, "ext ");
        tstr_quote_short(out, e.ptr, e.len);
        tstr_printf(out, "\n");
    }
    for (uint32_t i = 0; i < r->n_exchanges; i++) {
        dump_exchange(out, r, &r->exchanges[i]);
    }
    if (r->n_exchanges_dropped > 0) {
        tstr_printf(out, "dropped %u\n", r->n_exchanges_dropped);
    }
    tstr_printf(out, "messages attempted=%u accepted=%u bytes=%llu\n", r->messages_attempted,
                r->messages_accepted, (unsigned long long)r->message_bytes);
    if (r->auth_mechanism.len > 0 || r->auth_user.len > 0 || r->auth_code != 0) {
        tstr_printf(out, "auth");
        dump_text(out, r, "mechanism", r->auth_mechanism);
        dump_text(out, r, "user", r->auth_user);
        tstr_printf(out, " code=%u\n", r->auth_code);
    }
    tstr_printf(out, "tls %s\n",
                r->tls == RECORD_TLS_NONE ? "none" : record_tls_name((enum record_tls)r->tls));
    tstr_printf(out, "bytes client=%llu server=%llu\n",
                (unsigned long long)r->bytes[SMTP_DIR_CLIENT],
                (unsigned long long)r->bytes[SMTP_DIR_SERVER]);
    static const char *const sides[] = {"none", "client", "server"};
    tstr_printf(out, "end %s closer=%s", record_end_name((enum record_end)r->end),
                r->closer < 3 ? sides[r->closer] : "?");
    dump_time(out, "last", r->last_us);
    tstr_printf(out, "\nlabel %s\nflags",
                verdict_label_info((enum verdict_label)r->label)->name);
    if (r->flags == 0) {
        tstr_printf(out, " -");
    }
    for (unsigned f = 0; f < VERDICT_FLAG_COUNT; f++) {
        if (r->flags & VERDICT_FLAG_BIT(f)) {
            tstr_printf(out, " %s", verdict_flag_info((enum verdict_flag)f)->name);
        }
    }
    tstr_printf(out, "\n");
}

/* ---- scripted conversations ------------------------------------------------ */

struct holder {
    uint8_t *bytes;
    size_t len;
};

struct conv_state {
    struct session_table table;
    struct session *s;
    struct holder hold[2];
    struct rec_copy *emitted;
    int64_t clock;      /* the time of the step being fed */
    bool in_server;     /* a server delivery is being fed */
};

static void conv_sink(void *ctx, const struct session_record *r)
{
    struct conv_state *st = ctx;
    struct rec_copy *c = rec_copy_make(r);
    c->next = st->emitted;
    st->emitted = c;
}

/*
 * One delivery from the glue: held bytes first, then the new ones, in an
 * allocation of exactly that size so ASan sees any read past the end.
 */
static void conv_feed(struct conv_state *st, int dir, const char *bytes, size_t len,
                      int64_t now_us)
{
    struct holder *h = &st->hold[dir];
    size_t total = h->len + len;
    if (total == 0) {
        return;
    }
    uint8_t *buf = malloc(total);
    CHECK((buf) != NULL);
    if (h->len > 0) {
        memcpy(buf, h->bytes, h->len);
    }
    if (len > 0) {
        memcpy(buf + h->len, bytes, len);
    }
    size_t used = session_feed(&st->table, st->s, (enum smtp_dir)dir, buf, total, h->len, now_us);
    CHECK((used) <= (total));
    size_t rest = total - used;
    /* session.h: the rest is always shorter than SMTP_LINE_CAP. */
    CHECK((rest) < (SMTP_LINE_CAP));
    free(h->bytes);
    h->bytes = NULL;
    h->len = 0;
    if (rest > 0) {
        h->bytes = malloc(rest);
        CHECK((h->bytes) != NULL);
        memcpy(h->bytes, buf + used, rest);
        h->len = rest;
    }
    free(buf);
    /* session.h: once the reply to DATA or STARTTLS has been fed, the
     * glue offers the client bytes it holds again, all counted as held
     * (while the server's bytes are parsed: conv_resume_client). */
    while (dir == SMTP_DIR_SERVER && session_client_resume(st->s)) {
        conv_feed(st, SMTP_DIR_CLIENT, NULL, 0, now_us);
    }
}

/* session_config.resume_client: as stream_nids.c does, the held client
 * bytes go in while the server's are parsed. */
static void conv_resume_client(void *ctx, struct session *s)
{
    struct conv_state *st = ctx;
    while (session_client_resume(s)) {
        conv_feed(st, SMTP_DIR_CLIENT, NULL, 0, st->clock);
    }
}

struct rec_copy *conv_run(const struct conv_opts *o, const struct step *steps, size_t n,
                          struct split sp)
{
    static struct port_set tls_ports;
    port_set_clear(&tls_ports);
    port_set_add(&tls_ports, 465);
    struct session_config cfg = {
        .implicit_tls = &tls_ports,
        .idle_timeout_us = SESSION_IDLE_TIMEOUT_US,
        .idle_timeout_data_us = SESSION_IDLE_TIMEOUT_DATA_US,
        .order_window = 0,
        .glue_size = 0,
        .resume_client = conv_resume_client,
    };
    struct conv_state st;
    memset(&st, 0, sizeof(st));
    cfg.resume_ctx = &st;
    struct session_sink sink = {conv_sink, &st};
    CHECK(session_table_init(&st.table, &cfg, sink));
    struct record_endpoint client = {4, {192, 0, 2, 1}, 50000};
    struct record_endpoint server = {4, {198, 51, 100, 2}, o->server_port ? o->server_port : 25};
    st.s = session_open(&st.table, &client, &server, TEST_EST_US - 2000, TEST_EST_US - 1000,
                        TEST_EST_US);
    CHECK((st.s) != NULL);

    int64_t clock = TEST_EST_US;
    bool saw_fin = false;
    bool saw_rst = false;
    for (size_t i = 0; i < n; i++) {
        const struct step *stp = &steps[i];
        if (stp->kind == STEP_WAIT) {
            clock += stp->us;
            continue;
        }
        clock += STEP_GAP_US;
        st.clock = clock;
        switch (stp->kind) {
        case STEP_GAP:
            /* As the glue: the session is told, the held bytes of that
             * side are dropped unless the session asks for them. */
            session_gap(st.s, (enum smtp_dir)stp->dir, (uint64_t)stp->us);
            if (session_client_resume(st.s)) {
                conv_feed(&st, SMTP_DIR_CLIENT, NULL, 0, clock);
            }
            free(st.hold[stp->dir].bytes);
            st.hold[stp->dir].bytes = NULL;
            st.hold[stp->dir].len = 0;
            break;
        case STEP_ONE_SIDED:
            session_set_one_sided(st.s, stp->dir == SMTP_DIR_CLIENT ? RECORD_SIDE_CLIENT
                                                                    : RECORD_SIDE_SERVER);
            if (session_client_resume(st.s)) {
                conv_feed(&st, SMTP_DIR_CLIENT, NULL, 0, clock);
            }
            break;
        case STEP_FIN:
            session_note_fin(st.s, (enum smtp_dir)stp->dir, clock);
            saw_fin = true;
            break;
        case STEP_RST:
            session_note_rst(st.s, (enum smtp_dir)stp->dir, clock, false);
            saw_rst = true;
            break;
        case STEP_CLIENT:
        case STEP_SERVER:
            if (sp.mode == SPLIT_BYTES) {
                for (size_t k = 0; k < stp->len; k++) {
                    conv_feed(&st, stp->dir, stp->bytes + k, 1, clock);
                }
            } else if (sp.mode == SPLIT_AT && sp.step == i && sp.at < stp->len) {
                conv_feed(&st, stp->dir, stp->bytes, sp.at, clock);
                conv_feed(&st, stp->dir, stp->bytes + sp.at, stp->len - sp.at, clock);
            } else {
                conv_feed(&st, stp->dir, stp->bytes, stp->len, clock);
            }
            break;
        case STEP_WAIT:
            break;
        }
    }
    clock += STEP_GAP_US;
    struct session_end end;
    memset(&end, 0, sizeof(end));
    end.reason = o->has_end_reason ? o->end_reason
                 : saw_rst         ? RECORD_END_RST
                 : saw_fin         ? RECORD_END_FIN
                                   : RECORD_END_END_OF_INPUT;
    for (int d = 0; d < 2; d++) {
        end.tail[d] = st.hold[d].len > 0 ? st.hold[d].bytes : NULL;
        end.tail_len[d] = st.hold[d].len;
        end.gap[d] = o->gap[d];
    }
    end.now_us = clock;
    session_end(&st.table, st.s, &end);
    session_table_free(&st.table);
    for (int d = 0; d < 2; d++) {
        free(st.hold[d].bytes);
    }
    REQUIRE(st.emitted != NULL && st.emitted->next == NULL,
                  "expected exactly one record from one session");
    return st.emitted;
}

void split_describe(struct tstr *out, struct split sp)
{
    switch (sp.mode) {
    case SPLIT_NONE:
        tstr_printf(out, "whole steps");
        break;
    case SPLIT_BYTES:
        tstr_printf(out, "byte by byte");
        break;
    case SPLIT_AT:
        tstr_printf(out, "step %zu split after %zu bytes", sp.step, sp.at);
        break;
    }
}

static char *conv_dump(const struct conv_opts *o, const struct step *steps, size_t n,
                       struct split sp)
{
    struct rec_copy *c = conv_run(o, steps, n, sp);
    struct tstr d = {0};
    record_dump(&d, &c->r);
    rec_copy_free(c);
    tstr_cstr(&d);
    return d.p;
}

/* Split points worth trying in a step of len bytes: all of them for
 * short steps; for long ones (filler lines) the edges, every LF's
 * neighbours, the line-cap boundary and a stride between. */
static bool split_point_wanted(const struct step *stp, size_t at)
{
    size_t len = stp->len;
    if (len <= 1024) {
        return true;
    }
    if (at < 16 || at + 16 > len || at % 61 == 0) {
        return true;
    }
    if (at + 4 >= SMTP_LINE_CAP && at <= SMTP_LINE_CAP + 4) {
        return true;
    }
    for (size_t k = at >= 2 ? at - 2 : 0; k < len && k <= at + 2; k++) {
        if (stp->bytes[k] == '\n') {
            return true;
        }
    }
    return false;
}

static char *mismatch(struct split sp, const char *want, const char *got)
{
    struct tstr m = {0};
    tstr_printf(&m, "[");
    split_describe(&m, sp);
    tstr_printf(&m, "] record differs.\n--- want\n%s--- got\n%s", want, got);
    tstr_cstr(&m);
    return m.p;
}

char *conv_check_all_splits(const struct conv_opts *o, const struct step *steps, size_t n,
                            const char *want, char **dump_out)
{
    struct split sp = {SPLIT_NONE, 0, 0};
    char *whole = conv_dump(o, steps, n, sp);
    char *fail = NULL;
    const char *ref = want != NULL ? want : whole;
    if (strcmp(ref, whole) != 0) {
        fail = mismatch(sp, ref, whole);
    }
    if (fail == NULL) {
        sp.mode = SPLIT_BYTES;
        char *got = conv_dump(o, steps, n, sp);
        if (strcmp(ref, got) != 0) {
            fail = mismatch(sp, ref, got);
        }
        free(got);
    }
    for (size_t i = 0; fail == NULL && i < n; i++) {
        if (steps[i].kind != STEP_CLIENT && steps[i].kind != STEP_SERVER) {
            continue;
        }
        for (size_t at = 1; fail == NULL && at < steps[i].len; at++) {
            if (!split_point_wanted(&steps[i], at)) {
                continue;
            }
            struct split one = {SPLIT_AT, i, at};
            char *got = conv_dump(o, steps, n, one);
            if (strcmp(ref, got) != 0) {
                fail = mismatch(one, ref, got);
            }
            free(got);
        }
    }
    if (dump_out != NULL) {
        *dump_out = whole;
    } else {
        free(whole);
    }
    return fail;
}
