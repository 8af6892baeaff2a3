/*
 * out_jsonl.c - JSON Lines writer (docs/json-schema.md is its contract).
 *
 * One object per session, keys in a fixed order, no wall-clock values, so
 * the same capture always gives the same bytes (the golden tests rely on
 * it).  Every string from the wire goes through escape_json().
 *
 * Keys and numbers between wire strings are written in runs through one
 * cursor (out_room() in escape.h): a record has dozens of fields per
 * exchange, and a capacity test and a call per field cost more than
 * formatting them.  Each run's longest output is checked against
 * OUT_ROOM_MAX at compile time.
 *
 * SPDX-License-Identifier: MIT
 */
#include <arpa/inet.h>
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "community_id.h"
#include "escape.h"
#include "smtp_limits.h"
#include "timing.h"
#include "writer.h"

#define LINE_MAX_BYTES ((size_t)64 << 20)

/* Longest output of the cursor writers below. */
#define MS_OR_NULL_MAX OUT_MS_MAX
#define TIME_MAX (OUT_U64_MAX + 7)
#define IPV4_MAX 15
#define ENHANCED_MAX (2 + 3 * OUT_U64_MAX + 2)

static char *put_ms_or_null(char *d, int64_t us)
{
    return us < 0 ? PUT_LIT(d, "null") : put_ms(d, us);
}

/* Seconds with six decimals, or null. */
static char *put_time(char *d, int64_t us)
{
    if (us < 0) {
        return PUT_LIT(d, "null");
    }
    d = put_u64(d, (unsigned long long)(us / 1000000));
    *d++ = '.';
    return put_u64_fixed(d, (unsigned long long)(us % 1000000), 6);
}

static void put_text(struct capbuf *o, const struct session_record *r, struct record_text t)
{
    escape_json(o, record_span(r, t), SMTP_TEXT_KEEP);
}

/* Dotted quad without inet_ntop: this runs twice per record. */
static char *put_ipv4(char *d, const uint8_t *a)
{
    for (int i = 0; i < 4; i++) {
        if (i > 0) {
            *d++ = '.';
        }
        d = put_u64(d, a[i]);
    }
    return d;
}

static void put_endpoint(struct capbuf *o, const struct record_endpoint *e)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    if (e->family == 6) {
        inet_ntop(AF_INET6, e->addr, ip, sizeof(ip));
    }
    size_t ip_len = e->family == 6 ? strlen(ip) : IPV4_MAX;
    _Static_assert(sizeof(ip) + 18 + OUT_U64_MAX <= OUT_ROOM_MAX, "endpoint fits one run");
    char *d = out_room(o, 18 + ip_len + OUT_U64_MAX);
    if (d == NULL) {
        return;
    }
    d = PUT_LIT(d, "{\"ip\":\"");
    if (e->family == 6) {
        d = (char *)memcpy(d, ip, ip_len) + ip_len;
    } else {
        d = put_ipv4(d, e->addr);
    }
    d = PUT_LIT(d, "\",\"port\":");
    d = put_u64(d, e->port);
    out_done(o, PUT_LIT(d, "}"));
}

static char *put_enhanced(char *d, const struct smtp_enhanced *e)
{
    if (e->klass == 0) {
        return PUT_LIT(d, "null");
    }
    *d++ = '"';
    d = put_u64(d, e->klass);
    *d++ = '.';
    d = put_u64(d, e->subject);
    *d++ = '.';
    d = put_u64(d, e->detail);
    *d++ = '"';
    return d;
}

static void put_anomalies(struct capbuf *o, uint16_t bits)
{
    static const struct {
        uint32_t bit;
        const char *name;
    } names[] = {
#define XX(id, bit, str) {SMTP_ANOM_##id, str},
        SMTP_LINE_ANOMALY_MAP(XX)
#undef XX
    };
    bool first = true;
    OUT_LIT(o, "[");
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (bits & names[i].bit) {
            out_str(o, first ? "\"" : ",\"");
            out_str(o, names[i].name);
            OUT_LIT(o, "\"");
            first = false;
        }
    }
    OUT_LIT(o, "]");
}

/* Each known command as its JSON value, with its length: no strlen per exchange. */
static const struct {
    char text[16];
    uint8_t len;
} verb_json[SMTP_VERB_COUNT] = {
#define XX(id, str) {"\"" str "\"", sizeof(str) + 1},
    SMTP_VERB_MAP(XX)
#undef XX
};

#define CMD_MAX ((size_t)16)

/* The "cmd" value of an exchange whose command is not an unknown verb. */
static char *put_cmd_name(char *d, const struct record_exchange *x)
{
    if (x->kind == RECORD_KIND_MESSAGE) {
        return PUT_LIT(d, "\"<message>\"");
    }
    if (x->kind == RECORD_KIND_AUTH_LINE) {
        return PUT_LIT(d, "\"<auth>\"");
    }
    if (x->kind == RECORD_KIND_UNSOLICITED) {
        return PUT_LIT(d, "null");
    }
    unsigned v = x->verb < SMTP_VERB_COUNT ? x->verb : SMTP_VERB_UNKNOWN;
    memcpy(d, verb_json[v].text, CMD_MAX);
    return d + verb_json[v].len;
}

static bool is_unknown_verb(const struct record_exchange *x)
{
    return x->kind != RECORD_KIND_MESSAGE && x->kind != RECORD_KIND_AUTH_LINE &&
           x->kind != RECORD_KIND_UNSOLICITED && x->verb == SMTP_VERB_UNKNOWN;
}

/* Unknown verb: upper-cased as the schema says, then escaped. */
static void put_unknown_verb(struct capbuf *o, const struct session_record *r,
                             const struct record_exchange *x)
{
    uint8_t upper[SMTP_VERB_KEEP];
    struct span v = record_span(r, x->verb_text);
    size_t n = v.len < sizeof(upper) ? v.len : sizeof(upper);
    for (size_t i = 0; i < n; i++) {
        uint8_t c = v.ptr[i];
        upper[i] = (c >= 'a' && c <= 'z') ? (uint8_t)(c - 32) : c;
    }
    escape_json(o, span_make(upper, n), sizeof(upper));
}

/*
 * A wire string written at the cursor d when it needs no escaping (nearly
 * always); otherwise the run is closed and escape_json() writes it.
 * Returns the cursor with room for `after` more bytes, or NULL.
 */
static char *put_wire(struct capbuf *o, char *d, const struct session_record *r,
                      struct record_text t, size_t max, size_t after)
{
    struct span s = record_span(r, t);
    size_t n = s.len < max ? s.len : max;
    if (json_plain_len(s.ptr, n) == n) {
        *d++ = '"';
        if (n > 0) {
            memcpy(d, s.ptr, n); /* an empty span may have no pointer */
        }
        d += n;
        *d++ = '"';
        return d;
    }
    out_done(o, d);
    escape_json(o, s, max);
    return out_room(o, after);
}

/* Longest output of an exchange's fields after its reply text. */
#define EXCHANGE_TAIL_MAX (LINES_MAX + 14 + 15 + 8 + 3 * MS_OR_NULL_MAX + 21 + 8 + OUT_U64_MAX)
/* From the "code" key to the reply text. */
#define REPLY_HEAD_MAX (7 + OUT_U64_MAX + 12 + ENHANCED_MAX + 8)
#define LINES_MAX (9 + OUT_U64_MAX)
/* ",\"anomalies\":", or the closing brace */
#define ANOMALIES_KEY_LEN 13

/* The reply's fields up to its text, then the text. */
static char *put_reply_fields(struct capbuf *o, char *d, const struct session_record *r,
                              const struct record_exchange *x, size_t after)
{
    if (x->code == 0) {
        return PUT_LIT(d, "\"code\":null,\"enhanced\":null,\"text\":null");
    }
    d = PUT_LIT(d, "\"code\":");
    d = put_u64(d, x->code);
    d = PUT_LIT(d, ",\"enhanced\":");
    d = put_enhanced(d, &x->enhanced);
    d = PUT_LIT(d, ",\"text\":");
    return put_wire(o, d, r, x->text, SMTP_TEXT_KEEP, after);
}

static char *put_lines(char *d, const struct record_exchange *x)
{
    d = PUT_LIT(d, ",\"lines\":");
    return put_u64(d, x->code == 0 ? 0 : x->n_lines);
}

/* From "lines" to "size": everything after the reply text but anomalies. */
static char *put_exchange_times(char *d, const struct record_exchange *x, int64_t start_us)
{
    d = put_lines(d, x);
    d = PUT_LIT(d, ",\"latency_ms\":");
    char *latency = d;
    d = put_ms_or_null(d, record_latency_us(x));
    size_t latency_len = (size_t)(d - latency);
    d = PUT_LIT(d, ",\"complete_ms\":");
    if (x->reply_last_us == x->reply_first_us) {
        /* A reply in one segment: the same figure, copied not formatted. */
        memmove(d, latency, latency_len);
        d += latency_len;
    } else {
        d = put_ms_or_null(d, record_complete_us(x));
    }
    d = PUT_LIT(d, ",\"t_ms\":");
    d = put_ms_or_null(d, record_offset_us(start_us, x));
    if (x->kind == RECORD_KIND_UNSOLICITED) {
        d = PUT_LIT(d, ",\"unsolicited\":true");
    } else {
        d = PUT_LIT(d, ",\"unsolicited\":false");
    }
    if (x->kind == RECORD_KIND_MESSAGE || (x->kind == RECORD_KIND_COMMAND &&
                                           x->verb == SMTP_VERB_BDAT)) {
        d = PUT_LIT(d, ",\"size\":");
        d = put_u64(d, x->size);
    }
    return d;
}

/*
 * One exchange in one run through the cursor: its fixed fields and, when
 * they need no escaping, its wire strings (the room asked for covers both).
 */
static void put_exchange(struct capbuf *o, const struct session_record *r,
                         const struct record_exchange *x, int64_t start_us)
{
    bool has_arg = x->kind == RECORD_KIND_COMMAND && x->arg.len > 0;
    size_t text_room = 2 + (x->text.len < SMTP_TEXT_KEEP ? x->text.len : SMTP_TEXT_KEEP);
    size_t tail = REPLY_HEAD_MAX + text_room + EXCHANGE_TAIL_MAX + ANOMALIES_KEY_LEN;
    size_t arg_room = has_arg ? 2 + (x->arg.len < SMTP_ARG_KEEP ? x->arg.len : SMTP_ARG_KEEP) : 4;
    char *d = out_room(o, 8 + CMD_MAX + 7 + arg_room + 1 + tail);
    if (d == NULL) {
        return;
    }
    d = PUT_LIT(d, "{\"cmd\":");
    if (is_unknown_verb(x)) {
        out_done(o, d);
        put_unknown_verb(o, r, x);
        if ((d = out_room(o, 7 + arg_room + 1 + tail)) == NULL) {
            return;
        }
    } else {
        d = put_cmd_name(d, x);
    }
    d = PUT_LIT(d, ",\"arg\":");
    if (has_arg) {
        if ((d = put_wire(o, d, r, x->arg, SMTP_ARG_KEEP, 1 + tail)) == NULL) {
            return;
        }
    } else {
        d = PUT_LIT(d, "null");
    }
    d = PUT_LIT(d, ",");
    if ((d = put_reply_fields(o, d, r, x, EXCHANGE_TAIL_MAX + ANOMALIES_KEY_LEN)) == NULL) {
        return;
    }
    d = put_exchange_times(d, x, start_us);
    if (x->anomalies == 0) {
        out_done(o, PUT_LIT(d, "}"));
        return;
    }
    out_done(o, PUT_LIT(d, ",\"anomalies\":"));
    put_anomalies(o, x->anomalies);
    OUT_LIT(o, "}");
}

static void put_greeting(struct capbuf *o, const struct session_record *r)
{
    if (!r->has_greeting) {
        OUT_LIT(o, "null");
        return;
    }
    const struct record_exchange *g = &r->greeting;
    size_t text_room = 2 + (g->text.len < SMTP_TEXT_KEEP ? g->text.len : SMTP_TEXT_KEEP);
    char *d = out_room(o, 1 + REPLY_HEAD_MAX + text_room + LINES_MAX + 1);
    if (d == NULL) {
        return;
    }
    d = PUT_LIT(d, "{");
    if ((d = put_reply_fields(o, d, r, g, LINES_MAX + 1)) == NULL) {
        return;
    }
    d = put_lines(d, g);
    out_done(o, PUT_LIT(d, "}"));
}

static void put_flags(struct capbuf *o, uint64_t flags)
{
    bool first = true;
    OUT_LIT(o, "[");
    for (int f = 0; f < VERDICT_FLAG_COUNT; f++) {
        if (flags & VERDICT_FLAG_BIT(f)) {
            if (!first) {
                OUT_LIT(o, ",");
            }
            OUT_LIT(o, "\"");
            out_str(o, verdict_flag_info((enum verdict_flag)f)->name);
            OUT_LIT(o, "\"");
            first = false;
        }
    }
    OUT_LIT(o, "]");
}

static void put_auth(struct capbuf *o, const struct session_record *r)
{
    if (r->auth_mechanism.len == 0) {
        OUT_LIT(o, "null");
        return;
    }
    OUT_LIT(o, "{\"mechanism\":");
    put_text(o, r, r->auth_mechanism);
    OUT_LIT(o, ",\"user\":");
    if (r->auth_user.len > 0) {
        put_text(o, r, r->auth_user);
    } else {
        OUT_LIT(o, "null");
    }
    OUT_LIT(o, ",\"code\":");
    if (r->auth_code != 0) {
        out_u64(o, r->auth_code);
    } else {
        OUT_LIT(o, "null");
    }
    OUT_LIT(o, "}");
}

static void put_extensions(struct capbuf *o, const struct session_record *r)
{
    uint32_t cursor = 0;
    struct span keyword;
    OUT_LIT(o, "[");
    for (uint32_t i = 0; record_next_extension(r, &cursor, &keyword); i++) {
        size_t n = keyword.len < SMTP_TEXT_KEEP ? keyword.len : SMTP_TEXT_KEEP;
        char *d = out_room(o, n + 3);
        if (d == NULL) {
            return;
        }
        if (i > 0) {
            *d++ = ',';
        }
        if (json_plain_len(keyword.ptr, n) == n) {
            /* Keywords are plain ASCII nearly always: no escaper call. */
            *d++ = '"';
            memcpy(d, keyword.ptr, n);
            d += n;
            out_done(o, PUT_LIT(d, "\""));
        } else {
            out_done(o, d);
            escape_json(o, keyword, SMTP_TEXT_KEEP);
        }
    }
    OUT_LIT(o, "]");
}

static void put_key_text(struct capbuf *o, const char *key, const struct session_record *r,
                         struct record_text t)
{
    out_str(o, key);
    if (t.len > 0) {
        put_text(o, r, t);
    } else {
        OUT_LIT(o, "null");
    }
}

static void put_attachment(struct capbuf *o, const struct session_record *r,
                           const struct record_attachment *a)
{
    put_key_text(o, "{\"filename\":", r, a->filename);
    put_key_text(o, ",\"content_type\":", r, a->content_type);
    OUT_LIT(o, ",\"size\":");
    out_u64(o, a->size);
    put_key_text(o, ",\"sha256\":", r, a->sha256);
    OUT_LIT(o, "}");
}

/* Only with --extract: each message's files and MIME summary. */
static void put_messages(struct capbuf *o, const struct session_record *r)
{
    if (r->n_messages == 0 || !r->messages_extracted) {
        return;
    }
    OUT_LIT(o, ",\"messages\":[");
    for (uint32_t i = 0; i < r->n_messages; i++) {
        const struct record_message *m = &r->messages[i];
        if (i > 0) {
            OUT_LIT(o, ",");
        }
        OUT_LIT(o, "{\"exchange\":");
        if (m->exchange == UINT32_MAX) {
            OUT_LIT(o, "null");
        } else {
            out_u64(o, m->exchange);
        }
        put_key_text(o, ",\"file\":", r, m->file);
        OUT_LIT(o, ",\"size\":");
        out_u64(o, m->size);
        put_key_text(o, ",\"sha256\":", r, m->sha256);
        put_key_text(o, ",\"headers\":{\"from\":", r, m->from);
        put_key_text(o, ",\"to\":", r, m->to);
        put_key_text(o, ",\"cc\":", r, m->cc);
        put_key_text(o, ",\"subject\":", r, m->subject);
        put_key_text(o, ",\"date\":", r, m->date);
        put_key_text(o, ",\"message_id\":", r, m->message_id);
        OUT_LIT(o, "},\"attachments\":[");
        for (uint32_t k = 0; k < m->n_attachments; k++) {
            if (k > 0) {
                OUT_LIT(o, ",");
            }
            uint32_t index = m->first_attachment + k;
            if (index < r->n_attachments) {
                put_attachment(o, r, &r->attachments[index]);
            }
        }
        OUT_LIT(o, "]}");
    }
    OUT_LIT(o, "]");
}

/* {"code", "enhanced", "text"} of x's reply, or null when none came. */
static void put_reply_object(struct capbuf *o, const struct session_record *r,
                             const struct record_exchange *x)
{
    if (x->code == 0) {
        OUT_LIT(o, "null");
        return;
    }
    char *d = out_room(o, 8 + OUT_U64_MAX + 12 + ENHANCED_MAX);
    if (d == NULL) {
        return;
    }
    d = PUT_LIT(d, "{\"code\":");
    d = put_u64(d, x->code);
    d = PUT_LIT(d, ",\"enhanced\":");
    d = put_enhanced(d, &x->enhanced);
    out_done(o, PUT_LIT(d, ",\"text\":"));
    put_text(o, r, x->text);
    OUT_LIT(o, "}");
}

#define NAME_MAX_LEN 48

/*
 * key_len bytes of key, then s (at most max bytes) as a JSON string, or
 * null when s is empty and null_if_empty: one room test and no call for
 * the usual plain text, escape_json() for the rest.  The transactions
 * are written through this (about ten strings each); inlined so that each
 * key's length is a constant and its copy a few moves.
 */
static inline __attribute__((always_inline)) void
put_key_span(struct capbuf *o, const char *key, size_t key_len, struct span s, size_t max,
             bool null_if_empty)
{
    size_t n = s.len < max ? s.len : max;
    char *d = out_room(o, key_len + 4 + n);
    if (d == NULL) {
        return;
    }
    memcpy(d, key, key_len);
    d += key_len;
    if (n == 0 && null_if_empty) {
        out_done(o, PUT_LIT(d, "null"));
        return;
    }
    if (json_plain_len(s.ptr, n) != n) {
        out_done(o, d);
        escape_json(o, s, max);
        return;
    }
    *d++ = '"';
    if (n > 0) {
        memcpy(d, s.ptr, n); /* an empty span may have no pointer */
    }
    d += n;
    *d++ = '"';
    out_done(o, d);
}

#define PUT_KEY_SPAN(o, lit, s, max, null_if_empty)                            \
    put_key_span((o), (lit), sizeof(lit) - 1, (s), (max), (null_if_empty))

/* {"addr", "code"}: the path of a MAIL or RCPT argument and its reply
 * code; lead is the text before it ("," or a key). */
static void put_path(struct capbuf *o, const char *lead, size_t lead_len,
                     const struct session_record *r, const struct record_exchange *x)
{
    char key[32];
    assert(lead_len + 9 <= sizeof(key));
    memcpy(key, lead, lead_len);
    memcpy(key + lead_len, "{\"addr\":", 8);
    put_key_span(o, key, lead_len + 8, record_path_of(record_span(r, x->arg)), SMTP_ARG_KEEP,
                 false);
    char *d = out_room(o, 8 + OUT_U64_MAX + 1);
    if (d == NULL) {
        return;
    }
    d = PUT_LIT(d, ",\"code\":");
    d = x->code != 0 ? put_u64(d, x->code) : PUT_LIT(d, "null");
    out_done(o, PUT_LIT(d, "}"));
}

/* The headers of a transaction's message, as read from its content. */
static void put_txn_headers(struct capbuf *o, const struct session_record *r,
                            const struct record_txn *t)
{
    if (t->message == RECORD_NONE) {
        OUT_LIT(o, "null");
        return;
    }
    const struct record_message *m = &r->messages[t->message];
    PUT_KEY_SPAN(o, "{\"from\":", record_span(r, m->from), SMTP_TEXT_KEEP, true);
    PUT_KEY_SPAN(o, ",\"to\":", record_span(r, m->to), SMTP_TEXT_KEEP, true);
    PUT_KEY_SPAN(o, ",\"subject\":", record_span(r, m->subject), SMTP_TEXT_KEEP, true);
    PUT_KEY_SPAN(o, ",\"message_id\":", record_span(r, m->message_id), SMTP_TEXT_KEEP, true);
    PUT_KEY_SPAN(o, ",\"date\":", record_span(r, m->date), SMTP_TEXT_KEEP, true);
    OUT_LIT(o, "}");
}

/* One object per mail transaction (record_next_txn()). */
static void put_transactions(struct capbuf *o, const struct session_record *r)
{
    OUT_LIT(o, ",\"transactions\":[");
    struct record_txn_cursor c = record_txn_start();
    struct record_txn t;
    for (bool first = true; record_next_txn(r, &c, &t); first = false) {
        struct span helo = t.helo != RECORD_NONE ? record_span(r, r->exchanges[t.helo].arg)
                                                 : span_make("", 0);
        if (first) {
            PUT_KEY_SPAN(o, "{\"helo\":", helo, SMTP_ARG_KEEP, true);
        } else {
            PUT_KEY_SPAN(o, ",{\"helo\":", helo, SMTP_ARG_KEEP, true);
        }
        if (t.mail != RECORD_NONE) {
            put_path(o, ",\"mail_from\":", 13, r, &r->exchanges[t.mail]);
            OUT_LIT(o, ",\"rcpt_to\":[");
        } else {
            OUT_LIT(o, ",\"mail_from\":null,\"rcpt_to\":[");
        }
        bool first_rcpt = true;
        for (uint32_t i = t.first; i < t.end; i++) {
            const struct record_exchange *x = &r->exchanges[i];
            if (x->kind == RECORD_KIND_COMMAND && x->verb == SMTP_VERB_RCPT) {
                put_path(o, ",", first_rcpt ? 0 : 1, r, x);
                first_rcpt = false;
            }
        }
        char *d = out_room(o, 10 + OUT_U64_MAX + 9);
        if (d == NULL) {
            return;
        }
        d = PUT_LIT(d, "],\"size\":");
        d = t.has_size ? put_u64(d, t.size) : PUT_LIT(d, "null");
        out_done(o, PUT_LIT(d, ",\"reply\":"));
        if (t.final != RECORD_NONE) {
            put_reply_object(o, r, &r->exchanges[t.final]);
        } else {
            OUT_LIT(o, "null");
        }
        const char *end = record_txn_end_name((enum record_txn_end)t.ended_by);
        size_t end_len = strlen(end);
        if ((d = out_room(o, 13 + NAME_MAX_LEN + 12)) == NULL) {
            return;
        }
        assert(end_len <= NAME_MAX_LEN);
        d = PUT_LIT(d, ",\"ended_by\":\"");
        memcpy(d, end, end_len);
        out_done(o, PUT_LIT(d + end_len, "\",\"headers\":"));
        put_txn_headers(o, r, &t);
        OUT_LIT(o, "}");
    }
    OUT_LIT(o, "]");
}

static const char *closer_name(uint8_t side)
{
    return side == RECORD_SIDE_CLIENT ? "\"client\"" : side == RECORD_SIDE_SERVER ? "\"server\""
                                                                                   : "null";
}

static void put_key_u64(struct capbuf *o, const char *key, unsigned long long v)
{
    out_str(o, key);
    out_u64(o, v);
}

/* From "start" to the "greeting" key. */
static void put_session_times(struct capbuf *o, const struct session_record *r, int64_t start_us)
{
    _Static_assert(9 + 7 + 2 * TIME_MAX + 14 + 13 + 2 * MS_OR_NULL_MAX + 12 <= OUT_ROOM_MAX,
                   "one run");
    char *d = out_room(o, OUT_ROOM_MAX);
    if (d == NULL) {
        return;
    }
    d = PUT_LIT(d, ",\"start\":");
    d = put_time(d, start_us);
    d = PUT_LIT(d, ",\"end\":");
    d = put_time(d, r->last_us);
    d = PUT_LIT(d, ",\"connect_ms\":");
    d = put_ms_or_null(d, record_connect_us(r));
    d = PUT_LIT(d, ",\"banner_ms\":");
    d = put_ms_or_null(d, record_banner_us(r));
    out_done(o, PUT_LIT(d, ",\"greeting\":"));
}

/* From "exchanges_dropped" to "message_bytes". */
static void put_session_counts(struct capbuf *o, const struct session_record *r)
{
    _Static_assert(23 + 22 + 21 + 17 + 4 * OUT_U64_MAX <= OUT_ROOM_MAX, "one run");
    char *d = out_room(o, OUT_ROOM_MAX);
    if (d == NULL) {
        return;
    }
    d = PUT_LIT(d, "],\"exchanges_dropped\":");
    d = put_u64(d, r->n_exchanges_dropped);
    d = PUT_LIT(d, ",\"messages_attempted\":");
    d = put_u64(d, r->messages_attempted);
    d = PUT_LIT(d, ",\"messages_accepted\":");
    d = put_u64(d, r->messages_accepted);
    d = PUT_LIT(d, ",\"message_bytes\":");
    out_done(o, put_u64(d, r->message_bytes));
}

/* A name from one of our fixed tables (labels, end reasons) at d. */
static char *put_name(char *d, const char *name)
{
    size_t n = strlen(name);
    assert(n <= NAME_MAX_LEN);
    memcpy(d, name, n);
    return d + n;
}

/* From "close" to the end of the line; the flags list (usually empty) is
 * the only part written apart. */
static void put_session_end(struct capbuf *o, const struct session_record *r)
{
    _Static_assert(11 + NAME_MAX_LEN + 11 + 2 + 17 + 10 + 8 + 16 + NAME_MAX_LEN + 21 + OUT_U64_MAX +
                           10 + OUT_U64_MAX + 3 <= 2 * OUT_ROOM_MAX,
                   "one run");
    char *d = out_room(o, 2 * OUT_ROOM_MAX);
    if (d == NULL) {
        return;
    }
    d = PUT_LIT(d, ",\"close\":\"");
    d = put_name(d, verdict_label_info((enum verdict_label)r->label)->name);
    d = PUT_LIT(d, "\",\"flags\":");
    if (r->flags != 0) {
        out_done(o, d);
        put_flags(o, r->flags);
        if ((d = out_room(o, 2 * OUT_ROOM_MAX)) == NULL) {
            return;
        }
    } else {
        d = PUT_LIT(d, "[]");
    }
    d = record_is_abnormal(r) ? PUT_LIT(d, ",\"abnormal\":true") : PUT_LIT(d, ",\"abnormal\":false");
    d = PUT_LIT(d, ",\"closer\":");
    d = put_name(d, closer_name(r->closer));
    d = PUT_LIT(d, ",\"end_reason\":\"");
    d = put_name(d, record_end_name((enum record_end)r->end));
    d = PUT_LIT(d, "\",\"bytes\":{\"client\":");
    d = put_u64(d, r->bytes[SMTP_DIR_CLIENT]);
    d = PUT_LIT(d, ",\"server\":");
    d = put_u64(d, r->bytes[SMTP_DIR_SERVER]);
    out_done(o, PUT_LIT(d, "}"));
    _Static_assert(27 + OUT_U64_MAX + 10 + OUT_U64_MAX + 18 + NAME_MAX_LEN + 6 <= OUT_ROOM_MAX,
                   "one run");
    if ((d = out_room(o, OUT_ROOM_MAX)) == NULL) {
        return;
    }
    d = PUT_LIT(d, ",\"gap_bytes\":{\"client\":");
    d = put_u64(d, r->gap_bytes[SMTP_DIR_CLIENT]);
    d = PUT_LIT(d, ",\"server\":");
    d = put_u64(d, r->gap_bytes[SMTP_DIR_SERVER]);
    d = PUT_LIT(d, "},\"missing_side\":");
    d = put_name(d, closer_name(r->missing_side));
    out_done(o, PUT_LIT(d, "}\n"));
}

/* The strings that name the session outside this run: uid, sensor, input. */
static void put_identity(struct writer *w, const struct session_record *r)
{
    struct capbuf *o = &w->line;
    const char *sensor = w->sensor != NULL ? w->sensor : "";
    size_t sensor_len = strlen(sensor);
    char uid[RECORD_UID_LEN];
    record_uid(r, sensor, sensor_len, uid);
    OUT_LIT(o, ",\"uid\":\"");
    out_str(o, uid); /* base32: nothing to escape */
    OUT_LIT(o, "\",\"sensor\":");
    escape_json(o, span_make(sensor, sensor_len), SMTP_NAME_KEEP);
    OUT_LIT(o, ",\"input\":");
    if (r->input < w->n_inputs) {
        const char *name = w->input_names[r->input];
        escape_json(o, span_make(name, strlen(name)), SMTP_NAME_KEEP);
    } else {
        OUT_LIT(o, "null");
    }
}


/* ---- --json-format flat: the same record with one level of keys --------- */

/*
 * For stores that take one level of keys (ClickHouse 18's JSONEachRow
 * reads neither nested objects nor arrays of objects): an object's
 * members become KEY_MEMBER ("client_ip"), and an array of objects
 * becomes one array per member under ARRAY.MEMBER ("exchanges.code"),
 * the form of a ClickHouse Nested column.  The values are those of the
 * nested form, from the same record (docs/clickhouse.sql).
 */

static void put_u64_or_null(struct capbuf *o, bool has, unsigned long long v)
{
    if (has) {
        out_u64(o, v);
    } else {
        OUT_LIT(o, "null");
    }
}

static void put_ms_value(struct capbuf *o, int64_t us)
{
    char *d = out_room(o, MS_OR_NULL_MAX);
    if (d != NULL) {
        out_done(o, put_ms_or_null(d, us));
    }
}

static void put_enhanced_value(struct capbuf *o, const struct smtp_enhanced *e)
{
    char *d = out_room(o, ENHANCED_MAX);
    if (d != NULL) {
        out_done(o, put_enhanced(d, e));
    }
}

static void put_text_or_null(struct capbuf *o, const struct session_record *r,
                             struct record_text t, bool has)
{
    if (has) {
        put_text(o, r, t);
    } else {
        OUT_LIT(o, "null");
    }
}

/* A message header's value, or null when the message or the header was
 * not seen. */
static inline void put_header_field(struct capbuf *o, const struct session_record *r,
                                    const struct record_text *t)
{
    put_text_or_null(o, r, t != NULL ? *t : (struct record_text){0, 0}, t != NULL && t->len > 0);
}

static void put_endpoint_flat(struct capbuf *o, const char *side, const struct record_endpoint *e)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    inet_ntop(e->family == 6 ? AF_INET6 : AF_INET, e->addr, ip, sizeof(ip));
    out_fmt(o, ",\"%s_ip\":\"%s\",\"%s_port\":%u", side, ip, side, (unsigned)e->port);
}

/* One member of every exchange, as an array: "exchanges.KEY":[...]. */
enum flat_exchange_member {
    FX_CMD, FX_ARG, FX_CODE, FX_ENHANCED, FX_TEXT, FX_LINES, FX_LATENCY, FX_COMPLETE, FX_T,
    FX_UNSOLICITED, FX_SIZE, FX_ANOMALIES, FX_COUNT
};

static const char *const flat_exchange_keys[FX_COUNT] = {
    "cmd", "arg", "code", "enhanced", "text", "lines", "latency_ms", "complete_ms", "t_ms",
    "unsolicited", "size", "anomalies",
};

static void put_exchange_member(struct capbuf *o, const struct session_record *r,
                                const struct record_exchange *x, int64_t start_us,
                                enum flat_exchange_member m)
{
    switch (m) {
    case FX_CMD:
        if (is_unknown_verb(x)) {
            put_unknown_verb(o, r, x);
        } else {
            char *d = out_room(o, CMD_MAX);
            if (d != NULL) {
                out_done(o, put_cmd_name(d, x));
            }
        }
        break;
    case FX_ARG:
        put_text_or_null(o, r, x->arg, x->kind == RECORD_KIND_COMMAND && x->arg.len > 0);
        break;
    case FX_CODE:
        put_u64_or_null(o, x->code != 0, x->code);
        break;
    case FX_ENHANCED:
        put_enhanced_value(o, &x->enhanced);
        break;
    case FX_TEXT:
        put_text_or_null(o, r, x->text, x->code != 0);
        break;
    case FX_LINES:
        out_u64(o, x->code == 0 ? 0 : x->n_lines);
        break;
    case FX_LATENCY:
        put_ms_value(o, record_latency_us(x));
        break;
    case FX_COMPLETE:
        put_ms_value(o, record_complete_us(x));
        break;
    case FX_T:
        put_ms_value(o, record_offset_us(start_us, x));
        break;
    case FX_UNSOLICITED:
        out_str(o, x->kind == RECORD_KIND_UNSOLICITED ? "true" : "false");
        break;
    case FX_SIZE:
        put_u64_or_null(o, record_has_size(x), record_has_size(x) ? x->size : 0);
        break;
    case FX_ANOMALIES:
        put_anomalies(o, x->anomalies);
        break;
    case FX_COUNT:
        break;
    }
}

/* One member of every transaction, as an array: "transactions.KEY":[...]. */
enum flat_txn_member {
    FT_HELO, FT_MAIL_FROM, FT_MAIL_CODE, FT_RCPT_TO, FT_RCPT_CODE, FT_SIZE, FT_CODE,
    FT_ENHANCED, FT_TEXT, FT_ENDED_BY, FT_FROM, FT_TO, FT_SUBJECT, FT_MESSAGE_ID, FT_DATE,
    FT_COUNT
};

static const char *const flat_txn_keys[FT_COUNT] = {
    "helo", "mail_from", "mail_code", "rcpt_to", "rcpt_code", "size", "code", "enhanced",
    "text", "ended_by", "from", "to", "subject", "message_id", "date",
};

static void put_rcpt_list(struct capbuf *o, const struct session_record *r,
                          const struct record_txn *t, bool codes)
{
    OUT_LIT(o, "[");
    bool first = true;
    for (uint32_t i = t->first; i < t->end; i++) {
        const struct record_exchange *x = &r->exchanges[i];
        if (x->kind != RECORD_KIND_COMMAND || x->verb != SMTP_VERB_RCPT) {
            continue;
        }
        if (!first) {
            OUT_LIT(o, ",");
        }
        first = false;
        if (codes) {
            put_u64_or_null(o, x->code != 0, x->code);
        } else {
            escape_json(o, record_path_of(record_span(r, x->arg)), SMTP_ARG_KEEP);
        }
    }
    OUT_LIT(o, "]");
}

static void put_txn_member(struct capbuf *o, const struct session_record *r,
                           const struct record_txn *t, enum flat_txn_member m)
{
    const struct record_exchange *mail = t->mail != RECORD_NONE ? &r->exchanges[t->mail] : NULL;
    const struct record_exchange *fin = t->final != RECORD_NONE ? &r->exchanges[t->final] : NULL;
    const struct record_message *msg = t->message != RECORD_NONE ? &r->messages[t->message]
                                                                  : NULL;
    switch (m) {
    case FT_HELO: {
        bool has = t->helo != RECORD_NONE && r->exchanges[t->helo].arg.len > 0;
        put_text_or_null(o, r, has ? r->exchanges[t->helo].arg : (struct record_text){0, 0},
                         has);
        break;
    }
    case FT_MAIL_FROM:
        if (mail != NULL) {
            escape_json(o, record_path_of(record_span(r, mail->arg)), SMTP_ARG_KEEP);
        } else {
            OUT_LIT(o, "null");
        }
        break;
    case FT_MAIL_CODE:
        put_u64_or_null(o, mail != NULL && mail->code != 0, mail != NULL ? mail->code : 0);
        break;
    case FT_RCPT_TO:
        put_rcpt_list(o, r, t, false);
        break;
    case FT_RCPT_CODE:
        put_rcpt_list(o, r, t, true);
        break;
    case FT_SIZE:
        put_u64_or_null(o, t->has_size, t->size);
        break;
    case FT_CODE:
        put_u64_or_null(o, fin != NULL && fin->code != 0, fin != NULL ? fin->code : 0);
        break;
    case FT_ENHANCED:
        if (fin != NULL && fin->code != 0) {
            put_enhanced_value(o, &fin->enhanced);
        } else {
            OUT_LIT(o, "null");
        }
        break;
    case FT_TEXT:
        put_text_or_null(o, r, fin != NULL ? fin->text : (struct record_text){0, 0},
                         fin != NULL && fin->code != 0);
        break;
    case FT_ENDED_BY:
        OUT_LIT(o, "\"");
        out_str(o, record_txn_end_name((enum record_txn_end)t->ended_by));
        OUT_LIT(o, "\"");
        break;
    case FT_FROM:
        put_header_field(o, r, msg != NULL ? &msg->from : NULL);
        break;
    case FT_TO:
        put_header_field(o, r, msg != NULL ? &msg->to : NULL);
        break;
    case FT_SUBJECT:
        put_header_field(o, r, msg != NULL ? &msg->subject : NULL);
        break;
    case FT_MESSAGE_ID:
        put_header_field(o, r, msg != NULL ? &msg->message_id : NULL);
        break;
    case FT_DATE:
        put_header_field(o, r, msg != NULL ? &msg->date : NULL);
        break;
    case FT_COUNT:
        break;
    }
}

static void jsonl_session_flat(struct writer *w, const struct session_record *r)
{
    struct capbuf *o = &w->line;
    int64_t start_us = record_start_us(r);
    put_key_u64(o, "{\"type\":\"session\",\"id\":", r->id);
    put_identity(w, r);
    put_endpoint_flat(o, "client", &r->client);
    put_endpoint_flat(o, "server", &r->server);
    char cid[COMMUNITY_ID_LEN];
    community_id_tcp(&r->client, &r->server, w->community_id_seed, cid);
    out_fmt(o, ",\"community_id\":\"%s\"", cid);
    char ts[RECORD_TS_LEN];
    if (record_ts_format(start_us, ts)) {
        out_fmt(o, ",\"ts\":\"%s\"", ts);
    } else {
        OUT_LIT(o, ",\"ts\":null");
    }
    char *d = out_room(o, OUT_ROOM_MAX);
    if (d != NULL) {
        d = PUT_LIT(d, ",\"start\":");
        d = put_time(d, start_us);
        d = PUT_LIT(d, ",\"end\":");
        d = put_time(d, r->last_us);
        d = PUT_LIT(d, ",\"connect_ms\":");
        d = put_ms_or_null(d, record_connect_us(r));
        d = PUT_LIT(d, ",\"banner_ms\":");
        out_done(o, put_ms_or_null(d, record_banner_us(r)));
    }
    const struct record_exchange *g = &r->greeting;
    OUT_LIT(o, ",\"greeting_code\":");
    put_u64_or_null(o, r->has_greeting && g->code != 0, g->code);
    OUT_LIT(o, ",\"greeting_enhanced\":");
    if (r->has_greeting) {
        put_enhanced_value(o, &g->enhanced);
    } else {
        OUT_LIT(o, "null");
    }
    OUT_LIT(o, ",\"greeting_text\":");
    put_text_or_null(o, r, g->text, r->has_greeting && g->code != 0);
    OUT_LIT(o, ",\"greeting_lines\":");
    out_u64(o, r->has_greeting && g->code != 0 ? g->n_lines : 0);
    for (int m = 0; m < FX_COUNT; m++) {
        out_fmt(o, ",\"exchanges.%s\":[", flat_exchange_keys[m]);
        for (uint32_t i = 0; i < r->n_exchanges; i++) {
            if (i > 0) {
                OUT_LIT(o, ",");
            }
            put_exchange_member(o, r, &r->exchanges[i], start_us, (enum flat_exchange_member)m);
        }
        OUT_LIT(o, "]");
    }
    out_fmt(o, ",\"exchanges_dropped\":%u,\"messages_attempted\":%u,\"messages_accepted\":%u"
               ",\"message_bytes\":%llu",
            r->n_exchanges_dropped, r->messages_attempted, r->messages_accepted,
            (unsigned long long)r->message_bytes);
    for (int m = 0; m < FT_COUNT; m++) {
        out_fmt(o, ",\"transactions.%s\":[", flat_txn_keys[m]);
        struct record_txn_cursor c = record_txn_start();
        struct record_txn t;
        for (bool first = true; record_next_txn(r, &c, &t); first = false) {
            if (!first) {
                OUT_LIT(o, ",");
            }
            put_txn_member(o, r, &t, (enum flat_txn_member)m);
        }
        OUT_LIT(o, "]");
    }
    OUT_LIT(o, ",\"tls\":");
    if (r->tls == RECORD_TLS_NONE) {
        OUT_LIT(o, "null");
    } else {
        out_fmt(o, "\"%s\"", record_tls_name((enum record_tls)r->tls));
    }
    bool has_auth = r->auth_mechanism.len > 0;
    OUT_LIT(o, ",\"auth_mechanism\":");
    put_text_or_null(o, r, r->auth_mechanism, has_auth);
    OUT_LIT(o, ",\"auth_user\":");
    put_text_or_null(o, r, r->auth_user, has_auth && r->auth_user.len > 0);
    OUT_LIT(o, ",\"auth_code\":");
    put_u64_or_null(o, has_auth && r->auth_code != 0, r->auth_code);
    OUT_LIT(o, ",\"extensions\":");
    put_extensions(o, r);
    out_fmt(o, ",\"close\":\"%s\",\"flags\":",
            verdict_label_info((enum verdict_label)r->label)->name);
    put_flags(o, r->flags);
    out_str(o, record_is_abnormal(r) ? ",\"abnormal\":true" : ",\"abnormal\":false");
    out_fmt(o, ",\"closer\":%s,\"end_reason\":\"%s\"", closer_name(r->closer),
            record_end_name((enum record_end)r->end));
    out_fmt(o, ",\"bytes_client\":%llu,\"bytes_server\":%llu,\"gap_bytes_client\":%llu"
               ",\"gap_bytes_server\":%llu,\"missing_side\":%s}\n",
            (unsigned long long)r->bytes[SMTP_DIR_CLIENT],
            (unsigned long long)r->bytes[SMTP_DIR_SERVER],
            (unsigned long long)r->gap_bytes[SMTP_DIR_CLIENT],
            (unsigned long long)r->gap_bytes[SMTP_DIR_SERVER], closer_name(r->missing_side));
    writer_flush_line(w);
    if (w->flush_each && fflush(w->out) != 0) {
        w->failed = true;
    }
}

static void jsonl_session(struct writer *w, const struct session_record *r)
{
    if (w->flat) {
        jsonl_session_flat(w, r);
        return;
    }
    struct capbuf *o = &w->line;
    int64_t start_us = record_start_us(r);
    put_key_u64(o, "{\"type\":\"session\",\"id\":", r->id);
    put_identity(w, r);
    OUT_LIT(o, ",\"client\":");
    put_endpoint(o, &r->client);
    OUT_LIT(o, ",\"server\":");
    put_endpoint(o, &r->server);
    char cid[COMMUNITY_ID_LEN];
    community_id_tcp(&r->client, &r->server, w->community_id_seed, cid);
    OUT_LIT(o, ",\"community_id\":\"");
    out_str(o, cid); /* base64: nothing to escape */
    char ts[RECORD_TS_LEN];
    if (record_ts_format(start_us, ts)) {
        OUT_LIT(o, "\",\"ts\":\"");
        out_str(o, ts); /* digits and punctuation */
        OUT_LIT(o, "\"");
    } else {
        OUT_LIT(o, "\",\"ts\":null");
    }
    put_session_times(o, r, start_us);
    put_greeting(o, r);
    OUT_LIT(o, ",\"exchanges\":[");
    for (uint32_t i = 0; i < r->n_exchanges; i++) {
        if (i > 0) {
            OUT_LIT(o, ",");
        }
        put_exchange(o, r, &r->exchanges[i], start_us);
    }
    put_session_counts(o, r);
    put_transactions(o, r);
    OUT_LIT(o, ",\"tls\":");
    if (r->tls == RECORD_TLS_NONE) {
        OUT_LIT(o, "null");
    } else {
        OUT_LIT(o, "\"");
        out_str(o, record_tls_name((enum record_tls)r->tls));
        OUT_LIT(o, "\"");
    }
    OUT_LIT(o, ",\"auth\":");
    put_auth(o, r);
    OUT_LIT(o, ",\"extensions\":");
    put_extensions(o, r);
    put_messages(o, r);
    put_session_end(o, r);
    writer_flush_line(w);
    if (w->flush_each && fflush(w->out) != 0) {
        w->failed = true;
    }
}

static void put_hist(struct capbuf *o, const struct latency_hist *h)
{
    _Static_assert(5 + OUT_U64_MAX + 5 * (10 + OUT_MS_MAX) + 1 <= OUT_ROOM_MAX, "one run");
    char *d = out_room(o, OUT_ROOM_MAX);
    if (d == NULL) {
        return;
    }
    d = PUT_LIT(d, "{\"n\":");
    d = put_u64(d, h->n);
    if (h->n > 0) {
        d = PUT_LIT(d, ",\"p50_ms\":");
        d = put_ms(d, latency_quantile(h, 0.50));
        d = PUT_LIT(d, ",\"p90_ms\":");
        d = put_ms(d, latency_quantile(h, 0.90));
        d = PUT_LIT(d, ",\"p99_ms\":");
        d = put_ms(d, latency_quantile(h, 0.99));
        d = PUT_LIT(d, ",\"min_ms\":");
        d = put_ms(d, h->min_us);
        d = PUT_LIT(d, ",\"max_ms\":");
        d = put_ms(d, h->max_us);
    }
    out_done(o, PUT_LIT(d, "}"));
}

/* Appends ,"key":v, or "key":v for the first of a list. */
static void put_member_u64(struct capbuf *o, bool first, const char *key, unsigned long long v)
{
    out_str(o, first ? "\"" : ",\"");
    out_str(o, key);
    OUT_LIT(o, "\":");
    out_u64(o, v);
}

static void put_counts(struct capbuf *o, const struct run_stats *st)
{
    out_str(o, ",\"labels\":{");
    for (int l = 0; l < VERDICT_LABEL_COUNT; l++) {
        put_member_u64(o, l == 0, verdict_label_info((enum verdict_label)l)->name,
                       st->labels[l]);
    }
    out_str(o, "},\"flag_counts\":{");
    bool first = true;
    for (int f = 0; f < VERDICT_FLAG_COUNT; f++) {
        if (st->flags[f] > 0) {
            put_member_u64(o, first, verdict_flag_info((enum verdict_flag)f)->name, st->flags[f]);
            first = false;
        }
    }
    out_str(o, "},\"reply_codes\":{");
    first = true;
    for (int c = 0; c < 1000; c++) {
        if (st->reply_codes[c] > 0) {
            char code[4] = {0};
            put_u64(code, (unsigned long long)c);
            put_member_u64(o, first, code, st->reply_codes[c]);
            first = false;
        }
    }
    out_str(o, "}");
}

static void put_latencies(struct capbuf *o, const struct run_stats *st)
{
    out_str(o, ",\"connect\":");
    put_hist(o, &st->connect);
    out_str(o, ",\"banner\":");
    put_hist(o, &st->banner);
    out_str(o, ",\"end_of_data\":");
    put_hist(o, &st->message);
    out_str(o, ",\"reply_latency\":{");
    bool first = true;
    for (int v = 1; v < SMTP_VERB_COUNT; v++) {
        if (st->by_verb[v].n == 0) {
            continue;
        }
        out_str(o, first ? "\"" : ",\"");
        out_str(o, smtp_verb_name((enum smtp_verb)v));
        OUT_LIT(o, "\":");
        put_hist(o, &st->by_verb[v]);
        first = false;
    }
    out_str(o, "}");
}

static void put_coverage(struct capbuf *o, const struct run_input *in)
{
    out_fmt(o, ",\"ipv6_packets\":%llu,\"midstream_sessions\":%llu",
            (unsigned long long)in->by_decode[DECODE_IPV6], (unsigned long long)in->n_midstream);
    out_fmt(o, ",\"not_analysed\":{\"non_ip\":%llu,\"ipv6\":%llu,\"truncated\":%llu,"
               "\"malformed\":%llu,\"not_tcp\":%llu,\"other_ports\":%llu,"
               "\"unattached_packets\":%llu,\"unattached_flows\":%llu,\"evicted\":%llu,"
               "\"tcp_header_invalid\":%llu,\"queue_pruned\":%llu,\"session_failed\":%llu}",
            (unsigned long long)in->by_decode[DECODE_NON_IP],
            (unsigned long long)in->by_decode[DECODE_IPV6_UNSUPPORTED],
            (unsigned long long)in->by_decode[DECODE_TRUNCATED],
            (unsigned long long)in->by_decode[DECODE_MALFORMED],
            (unsigned long long)in->n_not_tcp, (unsigned long long)in->n_other_ports,
            (unsigned long long)in->n_unattached_packets,
            (unsigned long long)in->n_unattached_flows, (unsigned long long)in->n_evicted,
            (unsigned long long)in->n_tcp_header_invalid, (unsigned long long)in->n_queue_pruned,
            (unsigned long long)in->n_session_failed);
    out_fmt(o, ",\"ended_idle\":%llu,\"port_reused\":%llu,\"open_at_end\":%llu,"
               "\"records_out_of_order\":%llu",
            (unsigned long long)in->n_idle, (unsigned long long)in->n_port_reused,
            (unsigned long long)in->n_open_at_end, (unsigned long long)in->n_out_of_order);
    out_fmt(o, ",\"normalised\":{\"offload_segments\":%llu,\"window_reopened\":%llu,"
               "\"held_back\":%llu,\"holes\":%llu,\"hole_bytes\":%llu,\"waiting_max\":%llu,"
               "\"reorder_overflow\":%llu}",
            (unsigned long long)in->n_offload_segments, (unsigned long long)in->n_window_reopened,
            (unsigned long long)in->n_held_back, (unsigned long long)in->n_holes,
            (unsigned long long)in->n_hole_bytes, (unsigned long long)in->n_waiting_max,
            (unsigned long long)in->n_reorder_overflow);
}

static void jsonl_summary(struct writer *w, const struct run_report *rep)
{
    if (w->flat) {
        return; /* a table of sessions: the summary stays in the nested form */
    }
    struct capbuf *o = &w->line;
    const struct run_stats *st = rep->stats;
    const struct run_input *in = rep->input;
    out_fmt(o, "{\"type\":\"summary\",\"packets\":%llu,\"captured_bytes\":%llu,\"first\":",
            (unsigned long long)in->n_packets, (unsigned long long)in->n_bytes);
    char *d = out_room(o, TIME_MAX + 8 + TIME_MAX);
    if (d != NULL) {
        d = put_time(d, in->first_us);
        d = PUT_LIT(d, ",\"last\":");
        out_done(o, put_time(d, in->last_us));
    }
    out_fmt(o, ",\"sessions\":%llu,\"messages_attempted\":%llu,\"messages_accepted\":%llu",
            (unsigned long long)st->n_sessions, (unsigned long long)st->n_messages_attempted,
            (unsigned long long)st->n_messages_accepted);
    out_fmt(o, ",\"abnormal_sessions\":%llu", (unsigned long long)st->n_abnormal);
    put_counts(o, st);
    put_latencies(o, st);
    put_coverage(o, in);
    if (in->is_live) {
        out_fmt(o, ",\"drops\":{\"kernel\":%llu,\"interface\":%llu}",
                (unsigned long long)in->n_dropped, (unsigned long long)in->n_if_dropped);
    }
    if (in->has_extract) {
        out_fmt(o, ",\"extract_counts\":{\"written\":%llu,\"failed\":%llu}",
                (unsigned long long)in->n_extract_written,
                (unsigned long long)in->n_extract_failed);
    }
    out_str(o, ",\"input_error\":");
    if (in->error != NULL) {
        escape_json(o, span_make(in->error, strlen(in->error)), 512);
    } else {
        out_str(o, "null");
    }
    out_str(o, "}\n");
    writer_flush_line(w);
}

void writer_jsonl_init(struct writer *w, FILE *out)
{
    memset(w, 0, sizeof(*w));
    w->out = out;
    w->session = jsonl_session;
    w->summary = jsonl_summary;
    capbuf_init(&w->line, LINE_MAX_BYTES);
}
