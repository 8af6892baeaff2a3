/*
 * out_html.c - the forensic HTML report: one self-contained file.
 *
 * Role: a writer (writer.h).  Per session it keeps bounded aggregates
 * (per-server banner and reply latencies, a deterministic sample of
 * session times for the timeline, distinct clients) and, for abnormal
 * sessions only, a pre-rendered transcript, at most HTML_ABNORMAL_MAX of
 * them, the most severe kept.  At the end it writes one HTML document with
 * inline CSS and SVG drawn here: no script, no external asset, and a
 * Content-Security-Policy that forbids both, as a second wall.
 *
 * Every byte from the wire (greetings, arguments, reply texts) goes
 * through escape_html(); so do file names and the command line.  Charts
 * carry only numbers, addresses formatted here and names from our tables.
 * Times are packet times (UTC) except the one "analysis ran at" value.
 * Latency definitions are those of docs/timing.md.
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "escape.h"
#include "i18n.h"
#include "knowledge.h"
#include "smtp_limits.h"
#include "timing.h"
#include "writer.h"

/* Caps: every table below has one; nothing grows with the input. */
#define HTML_SERVERS_MAX 64          /* servers charted; the rest are "other" */
#define HTML_TIMELINE_MAX 2000       /* sessions drawn on the timeline */
#define HTML_ABNORMAL_MAX 500        /* abnormal sessions with transcripts */
#define HTML_ABNORMAL_OPEN 10        /* of those, shown expanded */
#define HTML_ROWS_HEAD 150           /* transcript rows kept from the start */
#define HTML_ROWS_TAIL 50            /* ... and from the end */
#define HTML_SESSION_MAX ((size_t)256 << 10) /* bytes of one rendered session */
#define HTML_GREETING_KEEP 200       /* greeting bytes kept per server */
#define HTML_CLIENT_SLOTS 16384      /* distinct client addresses counted */
#define HTML_SERVER_CHARTS_OPEN 6    /* banner charts shown before <details> */
#define HTML_CODES_CHARTED 48        /* reply codes drawn as separate bars */
#define HTML_TIMELINE_LANES 80
#define HTML_LINE_MAX ((size_t)8 << 20)

/* Latency bins: 1-1.5-2-3-5-7 per decade from 10 us to 100 s (log scale
 * without libm), plus one bin below and one above. */
#define LAT_DECADES 7
#define LAT_PER_DECADE 6
#define LAT_EDGES (LAT_DECADES * LAT_PER_DECADE + 1)
#define LAT_BINS (LAT_EDGES + 1)

struct html_server {
    struct record_endpoint ep;
    char name[RECORD_ENDPOINT_TEXT_MAX];
    bool is_other;
    uint64_t n_sessions;
    uint64_t n_abnormal;
    uint64_t n_accepted;
    uint64_t labels[VERDICT_LABEL_COUNT];
    uint32_t banner_bins[LAT_BINS];
    struct latency_hist banner;
    struct latency_hist reply;
    uint16_t greeting_code;
    uint8_t greeting[HTML_GREETING_KEEP];
    size_t greeting_len;
    bool has_greeting;
    bool greetings_differ;
};

struct html_point {
    uint64_t id;
    int64_t start_us;
    int64_t end_us;
    uint8_t label;
};

struct html_abnormal {
    uint64_t id;
    int rank;          /* label severity * 64 + worst flag severity * 16 + flags */
    int severity;      /* of the reason it is listed (record_reason()) */
    uint8_t label;
    char summary[512]; /* our text only: id, endpoints, label, flags */
    struct capbuf body;
};

struct html_client {
    uint8_t used;
    uint8_t family;
    uint8_t addr[16];
};

struct html_state {
    const struct report_meta *meta;
    struct html_server servers[HTML_SERVERS_MAX + 1];
    size_t n_servers;        /* named servers, not counting "other" */
    uint64_t n_servers_seen; /* distinct, saturating at the cap */
    struct html_point points[HTML_TIMELINE_MAX];
    size_t n_points;
    uint64_t stride;         /* keep every stride-th session */
    uint64_t n_offered;
    struct html_abnormal abnormal[HTML_ABNORMAL_MAX];
    size_t n_abnormal_kept;
    uint64_t n_abnormal;
    uint64_t n_abnormal_by_label[VERDICT_LABEL_COUNT];
    struct html_client clients[HTML_CLIENT_SLOTS];
    uint64_t n_clients;
    bool clients_full;
    int64_t lat_edges[LAT_EDGES];
};

/* ---- small helpers ------------------------------------------------------ */

static void put_esc_str(struct capbuf *o, const char *s)
{
    escape_html(o, span_make(s, strlen(s)), 65536);
}

/* A table text of ours (knowledge base, verdicts), translated (i18n.h) and
 * escaped like any text. */
static void put_t(struct capbuf *o, const char *msgid)
{
    put_esc_str(o, _(msgid));
}

/*
 * One of this writer's own sentences, translated.  It goes into element
 * content only, so &, < and > are all that need escaping (apostrophes stay
 * as written, and the English report stays as it was).
 */
static void put_l(struct capbuf *o, const char *msgid)
{
    for (const char *p = _(msgid); *p != '\0'; p++) {
        switch (*p) {
        case '&':
            out_str(o, "&amp;");
            break;
        case '<':
            out_str(o, "&lt;");
            break;
        case '>':
            out_str(o, "&gt;");
            break;
        default:
            capbuf_append(o, p, 1);
            break;
        }
    }
}

static void put_text(struct capbuf *o, const struct session_record *r, struct record_text t)
{
    escape_html(o, record_span(r, t), SMTP_TEXT_KEEP);
}

static int severity_rank(const char *sev)
{
    if (strcmp(sev, "error") == 0) {
        return 3;
    }
    if (strcmp(sev, "warning") == 0) {
        return 2;
    }
    return strcmp(sev, "info") == 0 ? 1 : 0;
}

/* Fixed colours per close label, by meaning: green ok, reds error. */
static const char *label_colour(unsigned label)
{
    switch (label) {
    case VERDICT_TRUNCATED_CAPTURE:
        return "#9e9e9e";
    case VERDICT_TLS_OPAQUE:
        return "#4e79a7";
    case VERDICT_SERVER_421:
        return "#d62728";
    case VERDICT_SERVER_221_MID_TRANSACTION:
        return "#8c1a1a";
    case VERDICT_SERVER_221_UNSOLICITED:
        return "#ff7f0e";
    case VERDICT_CLIENT_DATA_AFTER_221:
        return "#e6a800";
    case VERDICT_SERVER_221_AFTER_NO_250:
        return "#b5651d";
    case VERDICT_NORMAL_QUIT:
        return "#2ca02c";
    case VERDICT_QUIT_NO_221:
        return "#bcbd22";
    case VERDICT_RST:
        return "#9467bd";
    case VERDICT_FIN_WITHOUT_QUIT:
        return "#e377c2";
    default:
        return "#7f7f7f";
    }
}

static const char *class_colour(unsigned code)
{
    static const char *const c[6] = {"#7f7f7f", "#7f7f7f", "#2ca02c", "#4e79a7", "#ff7f0e",
                                     "#d62728"};
    return code / 100 < 6 ? c[code / 100] : c[0];
}

/* "2026-11-22 03:35:03.258317 UTC", or "n/a". */
static void put_utc(struct capbuf *o, int64_t us)
{
    if (us < 0) {
        out_str(o, "n/a");
        return;
    }
    time_t sec = (time_t)(us / 1000000);
    struct tm tm;
    char buf[64];
    if (gmtime_r(&sec, &tm) == NULL || strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", &tm) == 0) {
        out_str(o, "?");
        return;
    }
    out_fmt(o, "%s.%06lld UTC", buf, (long long)(us % 1000000));
}

/* Time of day only, for transcript rows. */
static void put_tod(struct capbuf *o, int64_t us)
{
    if (us < 0) {
        out_str(o, "&#8212;");
        return;
    }
    time_t sec = (time_t)(us / 1000000);
    struct tm tm;
    char buf[32];
    if (gmtime_r(&sec, &tm) == NULL || strftime(buf, sizeof(buf), "%H:%M:%S", &tm) == 0) {
        out_str(o, "?");
        return;
    }
    out_fmt(o, "%s.%06lld", buf, (long long)(us % 1000000));
}

static void put_ms_or_dash(struct capbuf *o, int64_t us)
{
    if (us < 0) {
        out_str(o, "&#8212;");
    } else {
        out_ms(o, us);
    }
}

/*
 * A duration in the unit a person would use, to three significant digits:
 * "150µs", "2ms", "15.4ms", "1.5s", "2.5min", "3h", "2d".  Axis labels and
 * chart annotations use it, so no label is a long run of digits.
 */
static void put_duration_label(struct capbuf *o, int64_t us)
{
    static const struct {
        int64_t below; /* use this unit for values below this many us */
        double unit_us;
        const char *name;
    } units[] = {
        {1000, 1, "\xC2\xB5s"},
        {1000000, 1e3, "ms"},
        {60 * 1000000LL, 1e6, "s"},
        {3600 * 1000000LL, 60e6, "min"},
        {86400 * 1000000LL, 3600e6, "h"},
        {INT64_MAX, 86400e6, "d"},
    };
    if (us < 0) {
        us = 0;
    }
    size_t u = 0;
    while (us >= units[u].below) {
        u++;
    }
    out_fmt(o, "%.3g%s", (double)us / units[u].unit_us, units[u].name);
}

/* ---- latency bins --------------------------------------------------------- */

static void lat_edges_init(int64_t *edges)
{
    static const int mant[LAT_PER_DECADE] = {10, 15, 20, 30, 50, 70};
    int64_t scale = 1;
    size_t k = 0;
    for (int d = 0; d < LAT_DECADES; d++) {
        for (int m = 0; m < LAT_PER_DECADE; m++) {
            edges[k++] = mant[m] * scale;
        }
        scale *= 10;
    }
    edges[k] = 10 * scale; /* 100 s */
}

/* Bin 0 is below edges[0]; bin k (1..LAT_EDGES) starts at edges[k-1]. */
static unsigned lat_bin(const int64_t *edges, int64_t us)
{
    unsigned k = 0;
    while (k < LAT_EDGES && us >= edges[k]) {
        k++;
    }
    return k;
}

/* Position in bins (fractional, 0 .. LAT_BINS) of a value, linear in a bin. */
static double lat_pos(const int64_t *edges, int64_t us)
{
    if (us <= 0) {
        return 0.0;
    }
    unsigned k = lat_bin(edges, us);
    if (k == 0) {
        return (double)us / (double)edges[0];
    }
    if (k == LAT_EDGES) {
        return (double)LAT_EDGES + 0.5;
    }
    return (double)k + (double)(us - edges[k - 1]) / (double)(edges[k] - edges[k - 1]);
}

/* Lower edge of bin k in us (bin 0 starts at 0). */
static int64_t lat_bin_low(const int64_t *edges, unsigned k)
{
    return k == 0 ? 0 : edges[k - 1];
}

/* ---- per-session intake -------------------------------------------------- */

static struct html_server *server_slot(struct html_state *st, const struct record_endpoint *e)
{
    for (size_t i = 0; i < st->n_servers; i++) {
        struct html_server *s = &st->servers[i];
        if (s->ep.family == e->family && s->ep.port == e->port &&
            memcmp(s->ep.addr, e->addr, e->family == 6 ? 16 : 4) == 0) {
            return s;
        }
    }
    if (st->n_servers < HTML_SERVERS_MAX) {
        struct html_server *s = &st->servers[st->n_servers++];
        s->ep = *e;
        record_endpoint_format(s->name, sizeof(s->name), e);
        latency_init(&s->banner);
        latency_init(&s->reply);
        st->n_servers_seen++;
        return s;
    }
    struct html_server *other = &st->servers[HTML_SERVERS_MAX];
    if (!other->is_other) {
        other->is_other = true;
        snprintf(other->name, sizeof(other->name), "%s", _("other servers"));
        latency_init(&other->banner);
        latency_init(&other->reply);
    }
    return other;
}

static void count_client(struct html_state *st, const struct record_endpoint *e)
{
    /* FNV-1a over the address, open addressing; full table stops counting. */
    uint32_t h = 2166136261u;
    size_t alen = e->family == 6 ? 16 : 4;
    for (size_t i = 0; i < alen; i++) {
        h = (h ^ e->addr[i]) * 16777619u;
    }
    for (size_t probe = 0; probe < HTML_CLIENT_SLOTS; probe++) {
        struct html_client *c = &st->clients[(h + probe) % HTML_CLIENT_SLOTS];
        if (!c->used) {
            if (st->n_clients >= HTML_CLIENT_SLOTS * 3 / 4) {
                st->clients_full = true;
                return;
            }
            c->used = 1;
            c->family = e->family;
            memcpy(c->addr, e->addr, alen);
            st->n_clients++;
            return;
        }
        if (c->family == e->family && memcmp(c->addr, e->addr, alen) == 0) {
            return;
        }
    }
}

/*
 * Deterministic sample for the timeline: keep every stride-th session;
 * when the table fills, keep every other kept point and double the stride.
 */
static void add_point(struct html_state *st, const struct session_record *r)
{
    uint64_t n = st->n_offered++;
    if (n % st->stride != 0) {
        return;
    }
    if (st->n_points == HTML_TIMELINE_MAX) {
        size_t j = 0;
        for (size_t i = 0; i < st->n_points; i += 2) {
            st->points[j++] = st->points[i];
        }
        st->n_points = j;
        st->stride *= 2;
        if (n % st->stride != 0) {
            return;
        }
    }
    struct html_point *p = &st->points[st->n_points++];
    p->id = r->id;
    p->start_us = record_start_us(r);
    p->end_us = record_end_us(r);
    p->label = r->label;
}

static void add_server(struct html_state *st, struct html_server *s,
                       const struct session_record *r)
{
    s->n_sessions++;
    s->n_accepted += r->messages_accepted;
    if (r->label < VERDICT_LABEL_COUNT) {
        s->labels[r->label]++;
    }
    if (record_is_abnormal(r)) {
        s->n_abnormal++;
    }
    int64_t b = record_banner_us(r); /* unknown mid-stream: no sample */
    if (b >= 0) {
        latency_add(&s->banner, b);
        s->banner_bins[lat_bin(st->lat_edges, b)]++;
    }
    if (r->has_greeting) {
        struct span g = record_span(r, r->greeting.text);
        size_t n = g.len < HTML_GREETING_KEEP ? g.len : HTML_GREETING_KEEP;
        if (!s->has_greeting) {
            s->has_greeting = true;
            s->greeting_code = r->greeting.code;
            memcpy(s->greeting, g.ptr, n);
            s->greeting_len = n;
        } else if (s->greeting_code != r->greeting.code || s->greeting_len != n ||
                   memcmp(s->greeting, g.ptr, n) != 0) {
            s->greetings_differ = true;
        }
    }
    for (uint32_t i = 0; i < r->n_exchanges; i++) {
        const struct record_exchange *x = &r->exchanges[i];
        if (x->code != 0 && x->kind == RECORD_KIND_COMMAND) {
            latency_add(&s->reply, record_latency_us(x));
        }
    }
}

/* ---- abnormal sessions: rendered once, when the record is at hand ---------- */

static int session_rank(const struct session_record *r, int *worst_flag)
{
    int worst = 0;
    int n = 0;
    for (int f = 0; f < VERDICT_FLAG_COUNT; f++) {
        if (r->flags & VERDICT_FLAG_BIT(f)) {
            int sev = severity_rank(verdict_flag_info((enum verdict_flag)f)->severity);
            worst = sev > worst ? sev : worst;
            n++;
        }
    }
    *worst_flag = worst;
    int label_sev = severity_rank(verdict_label_info((enum verdict_label)r->label)->severity);
    return label_sev * 64 + worst * 16 + (n < 15 ? n : 15);
}

static void put_command_cell(struct capbuf *o, const struct session_record *r,
                             const struct record_exchange *x)
{
    switch (x->kind) {
    case RECORD_KIND_MESSAGE:
        out_str(o, "<span class=\"meta\">&lt;");
        out_fmt(o, _("message, %llu octets"), (unsigned long long)x->size);
        out_str(o, "&gt;</span>");
        return;
    case RECORD_KIND_AUTH_LINE:
        out_str(o, "<span class=\"meta\">&lt;");
        put_l(o, "AUTH response: credentials not shown");
        out_str(o, "&gt;</span>");
        return;
    case RECORD_KIND_UNSOLICITED:
        out_str(o, "<span class=\"meta\">");
        put_l(o, "(no command: unsolicited reply)");
        out_str(o, "</span>");
        return;
    case RECORD_KIND_GREETING:
        out_str(o, "<span class=\"meta\">");
        put_l(o, "(connection opened: greeting)");
        out_str(o, "</span>");
        return;
    default:
        break;
    }
    out_str(o, "<span class=\"cmd\">");
    if (x->verb != SMTP_VERB_UNKNOWN) {
        out_str(o, smtp_verb_name((enum smtp_verb)x->verb));
    } else {
        escape_html(o, record_span(r, x->verb_text), SMTP_VERB_KEEP);
    }
    out_str(o, "</span>");
    if (x->arg.len > 0) {
        out_str(o, " ");
        if (x->verb == SMTP_VERB_AUTH) {
            /* AUTH PLAIN carries the credentials in its argument. */
            struct span a = record_span(r, x->arg);
            size_t mech = 0;
            while (mech < a.len && a.ptr[mech] != ' ') {
                mech++;
            }
            escape_html(o, span_make(a.ptr, mech), 64);
            if (mech < a.len) {
                out_str(o, " <span class=\"meta\">&lt;");
                put_l(o, "initial response not shown");
                out_str(o, "&gt;</span>");
            }
        } else {
            put_text(o, r, x->arg);
        }
    }
    if (x->kind == RECORD_KIND_COMMAND && x->verb == SMTP_VERB_BDAT) {
        out_str(o, " <span class=\"meta\">(");
        out_fmt(o, x->bdat_last ? _("%llu octets, last") : _("%llu octets"),
                (unsigned long long)x->size);
        out_str(o, ")</span>");
    }
}

static void put_reply_cell(struct capbuf *o, const struct session_record *r,
                           const struct record_exchange *x)
{
    if (x->code == 0) {
        out_str(o, "<span class=\"meta\">");
        put_l(o, "no reply");
        out_str(o, "</span>");
        return;
    }
    out_fmt(o, "<b class=\"code\" style=\"color:%s\">%u</b> ", class_colour(x->code), x->code);
    if (x->enhanced.klass != 0) {
        out_fmt(o, "%u.%u.%u ", x->enhanced.klass, x->enhanced.subject, x->enhanced.detail);
    }
    put_text(o, r, x->text);
    if (x->n_lines > 1) {
        out_str(o, " <span class=\"meta\">(");
        out_fmt(o, _("+%u lines"), x->n_lines - 1);
        out_str(o, ")</span>");
    }
}

static void put_row(struct capbuf *o, const struct session_record *r,
                    const struct record_exchange *x, int64_t t0)
{
    /* Failures, anomalies, and a 221 that answers anything but QUIT. */
    bool bad = x->code >= 400 || x->anomalies != 0 ||
               (x->code == 221 && !(x->kind == RECORD_KIND_COMMAND && x->verb == SMTP_VERB_QUIT));
    out_str(o, bad ? "<tr class=\"bad\"><td>" : "<tr><td>");
    put_tod(o, record_exchange_at_us(x));
    out_str(o, "</td><td class=\"num\">");
    put_ms_or_dash(o, record_offset_us(t0, x));
    out_str(o, "</td><td>");
    put_command_cell(o, r, x);
    out_str(o, "</td><td>");
    put_reply_cell(o, r, x);
    out_str(o, "</td><td class=\"num\">");
    if (x->kind == RECORD_KIND_GREETING || x->kind == RECORD_KIND_UNSOLICITED) {
        if (x->kind == RECORD_KIND_GREETING) {
            put_l(o, "banner");
            out_str(o, " ");
        }
        put_ms_or_dash(o, x->kind == RECORD_KIND_GREETING ? record_banner_us(r) : -1);
    } else {
        put_ms_or_dash(o, record_latency_us(x));
    }
    out_str(o, "</td></tr>\n");
}

static void put_code_explanation(struct capbuf *o, unsigned code)
{
    const struct knowledge_code *k = knowledge_code_lookup(code);
    out_fmt(o, "<dt><b class=\"code\" style=\"color:%s\">%u</b> ", class_colour(code), code);
    put_t(o, k != NULL ? k->name : "not a code defined by RFC 5321 or its extensions");
    out_str(o, "</dt><dd>");
    const char *cls = knowledge_class_name(code);
    if (cls != NULL) {
        out_str(o, "<i>");
        put_esc_str(o, cls);
        out_str(o, ".</i> ");
    }
    if (k != NULL) {
        put_t(o, k->meaning);
        out_str(o, " <b>");
        put_l(o, "Check:");
        out_str(o, "</b> ");
        put_t(o, k->check);
    }
    out_str(o, "</dd>\n");
}

static void put_enhanced_explanation(struct capbuf *o, const struct smtp_enhanced *e)
{
    const struct knowledge_enhanced *d = knowledge_enhanced_lookup(e->subject, e->detail);
    const struct knowledge_enhanced *s = knowledge_enhanced_lookup(e->subject, -1);
    out_fmt(o, "<dt>%u.%u.%u ", e->klass, e->subject, e->detail);
    put_t(o, d != NULL ? d->name : "(detail not registered)");
    out_str(o, "</dt><dd>");
    if (s != NULL) {
        put_t(o, s->name);
        out_str(o, ". ");
    }
    if (d != NULL) {
        put_t(o, d->meaning);
    }
    out_str(o, "</dd>\n");
}

static bool code_in_list(const struct knowledge_code_ref *refs, int n, unsigned code)
{
    for (int i = 0; i < n; i++) {
        if ((refs[i].is_class && refs[i].code / 100 == code / 100) ||
            (!refs[i].is_class && refs[i].code == code)) {
            return true;
        }
    }
    return false;
}

/* The codes of this session worth explaining: failures, and the codes its
 * label or flags are about. */
static void put_session_codes(struct capbuf *o, const struct session_record *r)
{
    struct knowledge_code_ref refs[64];
    int n_refs = 0;
    int k = knowledge_parse_code_list(verdict_label_info((enum verdict_label)r->label)->codes,
                                      refs, 16);
    n_refs = k > 0 ? k : 0;
    for (int f = 0; f < VERDICT_FLAG_COUNT && n_refs < 48; f++) {
        if (r->flags & VERDICT_FLAG_BIT(f)) {
            k = knowledge_parse_code_list(verdict_flag_info((enum verdict_flag)f)->codes,
                                          refs + n_refs, 16);
            n_refs += k > 0 ? k : 0;
        }
    }
    bool seen[1000] = {false};
    struct smtp_enhanced enh[16];
    size_t n_enh = 0;
    uint16_t codes[64];
    size_t n_codes = 0;
    for (int64_t i = -1; i < (int64_t)r->n_exchanges; i++) {
        const struct record_exchange *x = i < 0 ? (r->has_greeting ? &r->greeting : NULL)
                                                : &r->exchanges[i];
        if (x == NULL || x->code == 0 || x->code >= 1000) {
            continue;
        }
        bool wanted = x->code >= 400 || code_in_list(refs, n_refs, x->code);
        if (wanted && !seen[x->code] && n_codes < 64) {
            seen[x->code] = true;
            codes[n_codes++] = x->code;
        }
        if (x->enhanced.klass >= 4 && n_enh < 16) {
            bool dup = false;
            for (size_t j = 0; j < n_enh; j++) {
                dup = dup || (enh[j].klass == x->enhanced.klass &&
                              enh[j].subject == x->enhanced.subject &&
                              enh[j].detail == x->enhanced.detail);
            }
            if (!dup) {
                enh[n_enh++] = x->enhanced;
            }
        }
    }
    if (n_codes == 0 && n_enh == 0) {
        return;
    }
    out_str(o, "<h4>");
    put_l(o, "Codes in this session, explained");
    out_str(o, "</h4>\n<dl class=\"codes\">\n");
    for (size_t i = 0; i < n_codes; i++) {
        put_code_explanation(o, codes[i]);
    }
    for (size_t i = 0; i < n_enh; i++) {
        put_enhanced_explanation(o, &enh[i]);
    }
    out_str(o, "</dl>\n");
}

static void render_session(struct capbuf *o, const struct session_record *r, const char *sensor)
{
    const struct verdict_info *li = verdict_label_info((enum verdict_label)r->label);
    int64_t t0 = record_start_us(r);
    char uid[RECORD_UID_LEN];
    record_uid(r, sensor, strlen(sensor), uid); /* base32: nothing to escape */
    /* Identifiers (uid, end, closer side, TLS mode, label) stay as in JSON. */
    out_str(o, "<p><b>");
    /* TRANSLATORS: the session's uid, as in the JSON record, follows. */
    put_l(o, "uid");
    out_fmt(o, "</b> <code>%s</code>. <b>", uid);
    put_l(o, "Started");
    out_str(o, "</b> ");
    put_utc(o, t0);
    out_str(o, ", <b>");
    put_l(o, "lasted");
    out_str(o, "</b> ");
    put_ms_or_dash(o, record_duration_us(r));
    out_str(o, " ms. <b>");
    put_l(o, "Ended by");
    out_fmt(o, "</b> %s", record_end_name((enum record_end)r->end));
    if (r->closer != RECORD_SIDE_NONE) {
        out_str(o, " (");
        put_l(o, r->closer == RECORD_SIDE_CLIENT ? N_("first close from the client")
                                                  : N_("first close from the server"));
        out_str(o, ")");
    }
    out_str(o, ". <b>");
    put_l(o, "Messages");
    out_str(o, "</b> ");
    out_fmt(o, _("attempted %u, accepted %u."), r->messages_attempted, r->messages_accepted);
    out_str(o, " <b>");
    put_l(o, "Bytes");
    out_str(o, "</b> ");
    out_fmt(o, _("client %llu, server %llu."), (unsigned long long)r->bytes[0],
            (unsigned long long)r->bytes[1]);
    if (r->tls != RECORD_TLS_NONE) {
        out_fmt(o, " <b>TLS</b> %s.", record_tls_name((enum record_tls)r->tls));
    }
    out_str(o, "</p>\n<div class=\"why\"><p><b>");
    put_l(o, "Close:");
    out_str(o, " ");
    out_str(o, li->name);
    out_str(o, "</b> &#8212; ");
    put_t(o, li->explanation);
    out_str(o, "</p><p><b>");
    put_l(o, "What to check:");
    out_str(o, "</b> ");
    put_t(o, li->check);
    out_str(o, "</p>\n");
    for (int f = 0; f < VERDICT_FLAG_COUNT; f++) {
        if (r->flags & VERDICT_FLAG_BIT(f)) {
            const struct verdict_info *fi = verdict_flag_info((enum verdict_flag)f);
            out_str(o, "<p><b>");
            put_l(o, "Flag");
            out_fmt(o, " %s</b> (%s) &#8212; ", fi->name, fi->severity);
            put_t(o, fi->explanation);
            out_str(o, " <b>");
            put_l(o, "Check:");
            out_str(o, "</b> ");
            put_t(o, fi->check);
            out_str(o, "</p>\n");
        }
    }
    out_str(o, "</div>\n");
    put_session_codes(o, r);
    out_str(o, "<h4>");
    put_l(o, "Transcript");
    out_str(o, "</h4>\n<table class=\"tx\"><thead><tr><th>");
    put_l(o, "time (UTC)");
    out_str(o, "</th><th>+ms</th><th>");
    put_l(o, "client sent");
    out_str(o, "</th><th>");
    put_l(o, "server replied");
    out_str(o, "</th><th>");
    put_l(o, "latency ms");
    out_str(o, "</th></tr></thead><tbody>\n");
    if (r->has_greeting) {
        put_row(o, r, &r->greeting, t0);
    }
    uint32_t n = r->n_exchanges;
    for (uint32_t i = 0; i < n; i++) {
        if (n > HTML_ROWS_HEAD + HTML_ROWS_TAIL && i == HTML_ROWS_HEAD) {
            out_str(o, "<tr><td colspan=\"5\" class=\"meta\">&#8230; ");
            out_fmt(o, _("%u exchanges left out here (see --json for all)"),
                    n - HTML_ROWS_HEAD - HTML_ROWS_TAIL);
            out_str(o, " &#8230;</td></tr>\n");
            i = n - HTML_ROWS_TAIL;
        }
        put_row(o, r, &r->exchanges[i], t0);
    }
    out_str(o, "</tbody></table>\n");
    if (r->n_exchanges_dropped > 0) {
        out_str(o, "<p class=\"meta\">");
        out_fmt(o, _("%u further exchanges were counted but not kept."), r->n_exchanges_dropped);
        out_str(o, "</p>\n");
    }
}

static void keep_abnormal(struct html_state *st, const struct session_record *r,
                          const char *sensor)
{
    int worst_flag;
    int rank = session_rank(r, &worst_flag);
    struct html_abnormal *slot = NULL;
    if (st->n_abnormal_kept < HTML_ABNORMAL_MAX) {
        slot = &st->abnormal[st->n_abnormal_kept++];
        capbuf_init(&slot->body, HTML_SESSION_MAX);
    } else {
        /* Full: replace the least severe (latest on ties) if this is worse. */
        size_t min = 0;
        for (size_t i = 1; i < HTML_ABNORMAL_MAX; i++) {
            if (st->abnormal[i].rank < st->abnormal[min].rank ||
                (st->abnormal[i].rank == st->abnormal[min].rank &&
                 st->abnormal[i].id > st->abnormal[min].id)) {
                min = i;
            }
        }
        if (st->abnormal[min].rank >= rank) {
            return;
        }
        slot = &st->abnormal[min];
        slot->body.len = 0;
    }
    slot->id = r->id;
    slot->rank = rank;
    slot->severity = severity_rank(record_reason(r)->severity);
    slot->label = r->label;
    char client[RECORD_ENDPOINT_TEXT_MAX];
    char server[RECORD_ENDPOINT_TEXT_MAX];
    record_endpoint_format(client, sizeof(client), &r->client);
    record_endpoint_format(server, sizeof(server), &r->server);
    const struct verdict_info *li = verdict_label_info((enum verdict_label)r->label);
    int len = snprintf(slot->summary, sizeof(slot->summary), "#%llu %s &#8594; %s &#183; <b>%s</b> (%s)",
                       (unsigned long long)r->id, client, server, li->name, li->severity);
    for (int f = 0; f < VERDICT_FLAG_COUNT && len > 0 && (size_t)len < sizeof(slot->summary);
         f++) {
        if (r->flags & VERDICT_FLAG_BIT(f)) {
            len += snprintf(slot->summary + len, sizeof(slot->summary) - (size_t)len, " +%s",
                            verdict_flag_info((enum verdict_flag)f)->name);
        }
    }
    render_session(&slot->body, r, sensor);
}

static void html_session(struct writer *w, const struct session_record *r)
{
    struct html_state *st = w->priv;
    if (st == NULL) {
        return;
    }
    add_server(st, server_slot(st, &r->server), r);
    count_client(st, &r->client);
    add_point(st, r);
    if (record_is_abnormal(r)) {
        st->n_abnormal++;
        if (r->label < VERDICT_LABEL_COUNT) {
            st->n_abnormal_by_label[r->label]++;
        }
        keep_abnormal(st, r, w->sensor != NULL ? w->sensor : "");
    }
}

/* ---- the document ------------------------------------------------------------ */

static const char css[] =
    "<style>\n"
    ":root{--fg:#1d1d1f;--muted:#5f6368;--line:#d9dce1;--bg2:#f5f6f8}\n"
    "body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:var(--fg);"
    "max-width:1100px;margin:0 auto;padding:24px}\n"
    "h1{font-size:24px;margin:0 0 4px}h2{font-size:19px;margin:32px 0 8px;border-bottom:2px solid "
    "var(--line);padding-bottom:4px}h3{font-size:16px;margin:20px 0 6px}h4{font-size:14px;"
    "margin:14px 0 4px}\n"
    "table{border-collapse:collapse;width:100%;margin:6px 0 12px}th,td{border-bottom:1px solid "
    "var(--line);padding:4px 6px;text-align:left;vertical-align:top}th{background:var(--bg2);"
    "font-weight:600}\n"
    "td.num,th.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}\n"
    ".kv th{width:190px}.mono,.tx td,code{font-family:ui-monospace,'DejaVu Sans Mono',Menlo,"
    "monospace;font-size:12.5px;word-break:break-all}\n"
    ".nw{white-space:nowrap;word-break:normal}.meta{color:var(--muted)}.tx tr.bad td{background:#fff1f0}\n"
    ".sw{display:inline-block;width:11px;height:11px;border-radius:2px;margin-right:6px;"
    "vertical-align:-1px}\n"
    ".sev-error{color:#b3261e;font-weight:600}.sev-warning{color:#a15c00;font-weight:600}"
    ".sev-info{color:#3b6ea8}.sev-ok{color:#1e7b34}\n"
    ".cards{display:flex;flex-wrap:wrap;gap:10px;margin:10px 0}.card{border:1px solid "
    "var(--line);border-radius:6px;padding:8px 14px;min-width:120px}.card b{display:block;"
    "font-size:22px}\n"
    "details{border:1px solid var(--line);border-radius:6px;margin:8px 0;padding:0 10px}"
    "details>summary{cursor:pointer;padding:7px 0;font-weight:500}details[open]>summary{"
    "border-bottom:1px solid var(--line);margin-bottom:6px}\n"
    ".why{background:var(--bg2);border-radius:6px;padding:2px 10px}dl.codes dt{margin-top:6px}"
    "dl.codes dd{margin:0 0 0 18px}\n"
    "svg{max-width:100%;height:auto;display:block;margin:6px 0}svg text{font:11px system-ui,"
    "sans-serif;fill:#333}\n"
    ".legend span{margin-right:14px;white-space:nowrap}\n"
    ".note{color:var(--muted);font-size:12.5px}\n"
    "@media print{body{max-width:none;padding:0;font-size:11px}details{break-inside:avoid}"
    "h2{break-after:avoid}.tx{font-size:10px}}\n"
    "</style>\n";

/* Shell-style quoting, so the command line reads exactly as typed. */
static void put_quoted_arg(struct capbuf *o, const char *a)
{
    bool plain = a[0] != '\0';
    for (const char *p = a; *p != '\0' && plain; p++) {
        plain = strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                       "_./:=,+@%-",
                       *p) != NULL;
    }
    if (plain) {
        put_esc_str(o, a);
        return;
    }
    out_str(o, "&#39;");
    for (const char *p = a; *p != '\0'; p++) {
        if (*p == '\'') {
            out_str(o, "&#39;\\&#39;&#39;");
        } else {
            escape_html(o, span_make(p, 1), 1);
        }
    }
    out_str(o, "&#39;");
}

static void put_custody(struct capbuf *o, const struct html_state *st,
                        const struct run_report *rep)
{
    const struct run_input *in = rep->input;
    const struct report_meta *m = st->meta;
    out_str(o, "<h2 id=\"custody\">");
    put_l(o, "Chain of custody");
    out_str(o, "</h2>\n<table class=\"kv\">\n");
    if (m != NULL && m->n_files > 0) {
        for (size_t i = 0; i < m->n_files; i++) {
            const struct report_file *f = &m->files[i];
            out_str(o, "<tr><th>");
            put_l(o, "Input file");
            out_str(o, "</th><td><code>");
            put_esc_str(o, f->path != NULL ? f->path : "?");
            out_str(o, "</code><br>");
            if (f->has_hash) {
                out_fmt(o, _("%llu bytes"), (unsigned long long)f->size_bytes);
                out_fmt(o, "<br>SHA-256 <code>%s</code>", f->sha256_hex);
            } else {
                put_esc_str(o, f->note);
            }
            out_str(o, "</td></tr>\n");
        }
    } else {
        out_str(o, "<tr><th>");
        put_l(o, "Input");
        out_str(o, "</th><td><code>");
        put_esc_str(o, in->source != NULL ? in->source : "?");
        out_str(o, "</code> (");
        put_l(o, "not hashed");
        out_str(o, ")</td></tr>\n");
    }
    out_str(o, "<tr><th>");
    put_l(o, "First packet");
    out_str(o, "</th><td>");
    put_utc(o, in->first_us);
    out_str(o, "</td></tr>\n<tr><th>");
    put_l(o, "Last packet");
    out_str(o, "</th><td>");
    put_utc(o, in->last_us);
    if (in->first_us >= 0) {
        out_str(o, " (");
        out_fmt(o, _("%.6f s of traffic"), (double)(in->last_us - in->first_us) / 1e6);
        out_str(o, ")");
    }
    out_str(o, "</td></tr>\n<tr><th>");
    put_l(o, "Link type");
    out_str(o, "</th><td>");
    put_esc_str(o, in->linktype_name != NULL ? in->linktype_name : "?");
    out_str(o, "</td></tr>\n<tr><th>");
    put_l(o, "Packets, bytes");
    out_str(o, "</th><td>");
    out_fmt(o, _("%llu packets, %llu captured bytes"), (unsigned long long)in->n_packets,
            (unsigned long long)in->n_bytes);
    out_str(o, "</td></tr>\n");
    out_str(o, "<tr><th>");
    put_l(o, "Drops and gaps");
    out_str(o, "</th><td>");
    if (in->is_live) {
        out_fmt(o, _("Dropped by the kernel: %llu; by the interface: %llu. "),
                (unsigned long long)in->n_dropped, (unsigned long long)in->n_if_dropped);
    } else {
        put_l(o, "Capture drops: not recorded in a capture file. ");
    }
    out_fmt(o, _("Packets cut by the snapshot length: %llu. SMTP-port packets of connections whose "
                 "handshake was not captured: %llu (%llu flows). Sessions evicted from a full "
                 "stream table: %llu. Reassembly queue pruned: %llu. Invalid TCP header or "
                 "checksum: %llu."),
            (unsigned long long)in->by_decode[DECODE_TRUNCATED],
            (unsigned long long)in->n_unattached_packets,
            (unsigned long long)in->n_unattached_flows, (unsigned long long)in->n_evicted,
            (unsigned long long)in->n_queue_pruned, (unsigned long long)in->n_tcp_header_invalid);
    out_str(o, "</td></tr>\n");
    if (in->n_offload_segments + in->n_window_reopened + in->n_held_back + in->n_holes > 0) {
        out_str(o, "<tr><th>");
        put_l(o, "Read despite the capture");
        out_str(o, "</th><td>");
        out_fmt(o, _("Segments captured before segmentation offload: %llu. Segments past a stale "
                     "window or recorded after their ACK: %llu. Waits for bytes recorded late: "
                     "%llu (at most %llu sessions at once; %llu not waited on). Holes lost to the "
                     "capture: %llu (%llu bytes)."),
                (unsigned long long)in->n_offload_segments,
                (unsigned long long)in->n_window_reopened, (unsigned long long)in->n_held_back,
                (unsigned long long)in->n_waiting_max, (unsigned long long)in->n_reorder_overflow,
                (unsigned long long)in->n_holes, (unsigned long long)in->n_hole_bytes);
        out_str(o, "</td></tr>\n");
    }
    if (in->error != NULL) {
        out_str(o, "<tr><th>");
        put_l(o, "Input error");
        out_str(o, "</th><td class=\"sev-error\">");
        put_esc_str(o, in->error);
        out_str(o, " ");
        put_l(o, "(sessions up to this point are reported)");
        out_str(o, "</td></tr>\n");
    }
    out_str(o, "<tr><th>");
    put_l(o, "Tool");
    out_str(o, "</th><td>smtpscope ");
    put_esc_str(o, m != NULL && m->tool_version != NULL ? m->tool_version : "?");
    out_str(o, "</td></tr>\n<tr><th>");
    put_l(o, "Command line");
    out_str(o, "</th><td><code>");
    for (int i = 0; m != NULL && i < m->argc; i++) {
        if (i > 0) {
            out_str(o, " ");
        }
        put_quoted_arg(o, m->argv[i]);
    }
    out_str(o, "</code></td></tr>\n<tr><th>");
    put_l(o, "Analysis ran at");
    out_str(o, "</th><td>");
    put_utc(o, m != NULL && m->analysis_us > 0 ? m->analysis_us : -1);
    out_str(o, " <span class=\"note\">(");
    put_l(o, "wall clock of the analysing machine: the only time in this report not taken "
             "from the packets");
    out_str(o, ")</span></td></tr>\n</table>\n");
}

static void put_card(struct capbuf *o, const char *name, unsigned long long v, const char *more)
{
    out_fmt(o, "<div class=\"card\"><b>%llu%s</b>", v, more);
    put_l(o, name);
    out_str(o, "</div>");
}

static void put_overview(struct capbuf *o, const struct html_state *st,
                         const struct run_report *rep)
{
    const struct run_stats *s = rep->stats;
    out_str(o, "<h2 id=\"overview\">");
    put_l(o, "Overview");
    out_str(o, "</h2>\n<div class=\"cards\">");
    put_card(o, N_("sessions"), (unsigned long long)s->n_sessions, "");
    put_card(o, N_("messages attempted"), (unsigned long long)s->n_messages_attempted, "");
    put_card(o, N_("messages accepted"), (unsigned long long)s->n_messages_accepted, "");
    put_card(o, N_("servers"), (unsigned long long)st->n_servers_seen,
             st->servers[HTML_SERVERS_MAX].is_other ? "+" : "");
    put_card(o, N_("clients"), (unsigned long long)st->n_clients, st->clients_full ? "+" : "");
    put_card(o, N_("abnormal sessions"), (unsigned long long)st->n_abnormal, "");
    out_str(o, "</div>\n<h3>");
    put_l(o, "How sessions ended");
    out_str(o, "</h3>\n<table><thead><tr><th>");
    put_l(o, "close label");
    out_str(o, "</th><th class=\"num\">");
    put_l(o, "sessions");
    out_str(o, "</th><th class=\"num\">");
    put_l(o, "share");
    out_str(o, "</th><th>");
    put_l(o, "severity");
    out_str(o, "</th><th>");
    put_l(o, "what it means and what to check");
    out_str(o, "</th><th>");
    put_l(o, "codes");
    out_str(o, "</th></tr></thead><tbody>\n");
    for (int l = 0; l < VERDICT_LABEL_COUNT; l++) {
        if (s->labels[l] == 0) {
            continue;
        }
        const struct verdict_info *li = verdict_label_info((enum verdict_label)l);
        out_fmt(o, "<tr><td class=\"nw\"><span class=\"sw\" style=\"background:%s\"></span>"
                   "<b>%s</b></td><td class=\"num\">%llu</td><td class=\"num\">%.1f%%</td>"
                   "<td class=\"sev-%s\">%s</td><td>",
                label_colour((unsigned)l), li->name, (unsigned long long)s->labels[l],
                100.0 * (double)s->labels[l] / (double)(s->n_sessions ? s->n_sessions : 1),
                li->severity, li->severity);
        put_t(o, li->explanation);
        out_str(o, " <b>");
        put_l(o, "Check:");
        out_str(o, "</b> ");
        put_t(o, li->check);
        out_str(o, "</td><td>");
        struct knowledge_code_ref refs[16];
        int n = knowledge_parse_code_list(li->codes, refs, 16);
        for (int i = 0; i < n; i++) {
            const struct knowledge_code *k = refs[i].is_class ? NULL
                                                              : knowledge_code_lookup(refs[i].code);
            if (refs[i].is_class) {
                out_fmt(o, "%s%cxx", i ? ", " : "", '0' + refs[i].code / 100);
            } else {
                out_fmt(o, "%s<span title=\"", i ? ", " : "");
                put_t(o, k != NULL ? k->name : "");
                out_fmt(o, "\">%u</span>", refs[i].code);
            }
        }
        out_str(o, "</td></tr>\n");
    }
    out_str(o, "</tbody></table>\n");
    bool any = false;
    for (int f = 0; f < VERDICT_FLAG_COUNT; f++) {
        if (s->flags[f] == 0) {
            continue;
        }
        if (!any) {
            out_str(o, "<h3>");
            put_l(o, "Other findings (flags)");
            out_str(o, "</h3>\n<table><thead><tr><th>");
            put_l(o, "flag");
            out_str(o, "</th><th class=\"num\">");
            put_l(o, "sessions");
            out_str(o, "</th><th>");
            put_l(o, "severity");
            out_str(o, "</th><th>");
            put_l(o, "what it means and what to check");
            out_str(o, "</th></tr></thead><tbody>\n");
            any = true;
        }
        const struct verdict_info *fi = verdict_flag_info((enum verdict_flag)f);
        out_fmt(o, "<tr><td><b>%s</b></td><td class=\"num\">%llu</td><td class=\"sev-%s\">%s</td>"
                   "<td>",
                fi->name, (unsigned long long)s->flags[f], fi->severity, fi->severity);
        put_t(o, fi->explanation);
        out_str(o, " <b>");
        put_l(o, "Check:");
        out_str(o, "</b> ");
        put_t(o, fi->check);
        out_str(o, "</td></tr>\n");
    }
    if (any) {
        out_str(o, "</tbody></table>\n");
    }
}

/* ---- charts ----------------------------------------------------------------- */

struct lat_axis {
    const int64_t *edges;
    unsigned lo;  /* first bin shown */
    unsigned hi;  /* last bin shown */
    double x0;
    double width;
};

static double axis_x(const struct lat_axis *a, int64_t us)
{
    double p = lat_pos(a->edges, us);
    if (p < a->lo) {
        p = a->lo;
    }
    if (p > a->hi + 1) {
        p = a->hi + 1;
    }
    return a->x0 + (p - a->lo) * a->width / (double)(a->hi + 1 - a->lo);
}

static void axis_fit(struct lat_axis *a, int64_t min_us, int64_t max_us)
{
    unsigned lo = lat_bin(a->edges, min_us < 0 ? 0 : min_us);
    unsigned hi = lat_bin(a->edges, max_us < 0 ? 0 : max_us);
    lo = lo > 0 ? lo - 1 : 0;
    hi = hi + 1 < LAT_BINS ? hi + 1 : LAT_BINS - 1;
    while (hi - lo < 11) {
        if (lo > 0) {
            lo--;
        }
        if (hi - lo < 11 && hi + 1 < LAT_BINS) {
            hi++;
        }
        if (lo == 0 && hi + 1 == LAT_BINS) {
            break;
        }
    }
    a->lo = lo;
    a->hi = hi;
}

/* Tick marks at bin edges: every edge when few, else 1-2-5 style ones. */
static void axis_ticks(struct capbuf *o, const struct lat_axis *a, double y0, double y1)
{
    unsigned span = a->hi + 1 - a->lo;
    for (unsigned k = a->lo > 0 ? a->lo : 1; k <= a->hi + 1 && k <= LAT_EDGES; k++) {
        int64_t e = a->edges[k - 1];
        int64_t m = e;
        while (m >= 100) {
            m /= 10;
        }
        bool show = span <= 14 || m == 10 || (span <= 24 && (m == 20 || m == 50));
        if (!show) {
            continue;
        }
        double x = axis_x(a, e);
        out_fmt(o, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e3e5e8\"/>",
                x, y0, x, y1);
        out_fmt(o, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">", x, y1 + 13);
        put_duration_label(o, e);
        out_str(o, "</text>\n");
    }
}

static void banner_chart(struct capbuf *o, const struct html_state *st,
                         const struct html_server *s, const struct lat_axis *proto)
{
    const double w = 760;
    const double h = 180;
    const double top = 18;
    const double bottom = h - 36;
    struct lat_axis a = *proto;
    uint32_t maxc = 1;
    for (unsigned k = a.lo; k <= a.hi; k++) {
        maxc = s->banner_bins[k] > maxc ? s->banner_bins[k] : maxc;
    }
    out_fmt(o, "<svg viewBox=\"0 0 %.0f %.0f\" width=\"%.0f\" role=\"img\" aria-label=\"", w, h,
            w);
    out_fmt(o, _("banner latency of %s"), s->name);
    out_str(o, "\">\n");
    out_fmt(o, "<text x=\"%.1f\" y=\"12\" font-weight=\"bold\">%s</text>", a.x0, s->name);
    out_fmt(o, "<text x=\"%.1f\" y=\"12\" text-anchor=\"end\">", a.x0 + a.width);
    out_fmt(o, _("n=%llu sessions with a greeting"), (unsigned long long)s->banner.n);
    out_str(o, "</text>\n");
    axis_ticks(o, &a, top, bottom);
    out_fmt(o, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#888\"/>\n", a.x0,
            bottom, a.x0 + a.width, bottom);
    /* Left axis: count; right axis: cumulative share. */
    out_fmt(o, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%u</text>", a.x0 - 4, top + 4,
            maxc);
    out_fmt(o, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">0</text>", a.x0 - 4, bottom);
    out_fmt(o, "<text x=\"%.1f\" y=\"%.1f\">100%%</text>", a.x0 + a.width + 4, top + 4);
    out_fmt(o, "<text x=\"%.1f\" y=\"%.1f\">0%%</text>\n", a.x0 + a.width + 4, bottom);
    double bw = a.width / (double)(a.hi + 1 - a.lo);
    uint64_t below = 0;
    for (unsigned k = 0; k < a.lo; k++) {
        below += s->banner_bins[k];
    }
    for (unsigned k = a.lo; k <= a.hi; k++) {
        if (s->banner_bins[k] == 0) {
            continue;
        }
        double bh = (bottom - top) * s->banner_bins[k] / (double)maxc;
        out_fmt(o, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#9ecae1\">"
                   "<title>",
                a.x0 + (k - a.lo) * bw + 1, bottom - bh, bw - 2, bh);
        /* TRANSLATORS: followed by the lower edge of a latency range ("2ms"). */
        out_fmt(o, _("%u sessions from "), s->banner_bins[k]);
        put_duration_label(o, lat_bin_low(st->lat_edges, k));
        out_str(o, "</title></rect>\n");
    }
    /* CDF: the share of sessions at or below each bin's right edge. */
    uint64_t total = s->banner.n ? s->banner.n : 1;
    uint64_t cum = below;
    out_fmt(o, "<polyline fill=\"none\" stroke=\"#08519c\" stroke-width=\"1.8\" points=\"%.1f,%.1f",
            a.x0, bottom - (bottom - top) * (double)cum / (double)total);
    /* Linear within a bin: the histogram's best estimate of the CDF. */
    for (unsigned k = a.lo; k <= a.hi; k++) {
        cum += s->banner_bins[k];
        out_fmt(o, " %.1f,%.1f", a.x0 + (k + 1 - a.lo) * bw,
                bottom - (bottom - top) * (double)cum / (double)total);
    }
    out_str(o, "\"/>\n");
    static const double qs[] = {0.50, 0.90, 0.99};
    static const char *const qn[] = {"p50", "p90", "p99"};
    static const char *const qc[] = {"#2ca02c", "#ff7f0e", "#d62728"};
    for (int i = 0; i < 3 && s->banner.n > 0; i++) {
        int64_t v = latency_quantile(&s->banner, qs[i]);
        double x = axis_x(&a, v);
        out_fmt(o, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
                   "stroke-width=\"1.5\" stroke-dasharray=\"4 3\"/>",
                x, top, x, bottom, qc[i]);
        /* Right of the line in the left half, left of it in the right
         * half: a label never runs past the chart. */
        bool right_half = x > a.x0 + a.width / 2;
        out_fmt(o, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\" fill=\"%s\" "
                   "style=\"fill:%s\">%s ",
                right_half ? x - 3 : x + 3, top + 10 + 12 * i, right_half ? "end" : "start",
                qc[i], qc[i], qn[i]);
        put_duration_label(o, v);
        out_str(o, "</text>\n");
    }
    out_str(o, "</svg>\n");
}

static void put_banner_charts(struct capbuf *o, const struct html_state *st)
{
    out_str(o, "<h3>");
    put_l(o, "Banner latency by server");
    out_str(o, "</h3>\n<p class=\"note\">");
    put_l(o, "Time from the client's handshake ACK to the first byte of the server's greeting. "
             "Bars: sessions per latency range (log scale); line: share of sessions at or below "
             "that latency; dashed: p50, p90, p99.");
    out_str(o, "</p>\n");
    int64_t lo = -1;
    int64_t hi = -1;
    for (size_t i = 0; i <= HTML_SERVERS_MAX; i++) {
        const struct html_server *s = &st->servers[i];
        if (s->banner.n == 0 || (i == HTML_SERVERS_MAX && !s->is_other)) {
            continue;
        }
        lo = lo < 0 || s->banner.min_us < lo ? s->banner.min_us : lo;
        hi = s->banner.max_us > hi ? s->banner.max_us : hi;
    }
    if (hi < 0) {
        out_str(o, "<p>");
        put_l(o, "No greeting was captured.");
        out_str(o, "</p>\n");
        return;
    }
    struct lat_axis a = {st->lat_edges, 0, 0, 44, 660};
    axis_fit(&a, lo, hi);
    /* Busiest servers first; ties by order of appearance. */
    size_t order[HTML_SERVERS_MAX + 1];
    size_t n = 0;
    for (size_t i = 0; i <= HTML_SERVERS_MAX; i++) {
        if (st->servers[i].banner.n > 0 && (i < HTML_SERVERS_MAX || st->servers[i].is_other)) {
            order[n++] = i;
        }
    }
    for (size_t i = 1; i < n; i++) {
        size_t v = order[i];
        size_t j = i;
        while (j > 0 && st->servers[order[j - 1]].banner.n < st->servers[v].banner.n) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = v;
    }
    for (size_t i = 0; i < n; i++) {
        if (i == HTML_SERVER_CHARTS_OPEN) {
            out_str(o, "<details><summary>");
            out_fmt(o, _("%zu more servers"), n - i);
            out_str(o, "</summary>\n");
        }
        banner_chart(o, st, &st->servers[order[i]], &a);
    }
    if (n > HTML_SERVER_CHARTS_OPEN) {
        out_str(o, "</details>\n");
    }
}

static void latency_row(struct capbuf *o, const struct lat_axis *a, double y, const char *name,
                        const struct latency_hist *h)
{
    int64_t p50 = latency_quantile(h, 0.50);
    int64_t p90 = latency_quantile(h, 0.90);
    int64_t p99 = latency_quantile(h, 0.99);
    out_fmt(o, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%s (n=%llu)</text>", a->x0 - 6,
            y + 4, name, (unsigned long long)h->n);
    out_fmt(o, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#888\"/>",
            axis_x(a, h->min_us), y, axis_x(a, h->max_us), y);
    double x50 = axis_x(a, p50);
    double x90 = axis_x(a, p90);
    out_fmt(o, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"12\" fill=\"#9ecae1\" "
               "stroke=\"#3182bd\"/>",
            x50, y - 6, x90 - x50 < 2 ? 2 : x90 - x50);
    out_fmt(o, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#08519c\" "
               "stroke-width=\"2\"/>",
            x50, y - 7, x50, y + 7);
    out_fmt(o, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#d62728\" "
               "stroke-width=\"2\"/>",
            axis_x(a, p99), y - 7, axis_x(a, p99), y + 7);
    out_fmt(o, "<text x=\"%.1f\" y=\"%.1f\">p50 ", a->x0 + a->width + 8, y + 4);
    put_duration_label(o, p50);
    out_str(o, " \xC2\xB7 p90 ");
    put_duration_label(o, p90);
    out_str(o, " \xC2\xB7 p99 ");
    put_duration_label(o, p99);
    out_str(o, "</text>\n");
}

static void put_reply_latency_chart(struct capbuf *o, const struct html_state *st,
                                    const struct run_stats *s)
{
    out_str(o, "<h3>");
    put_l(o, "Reply latency by command");
    out_str(o, "</h3>\n<p class=\"note\">");
    put_l(o, "From the segment that completed a command to the first byte of its reply (log "
             "scale). Grey line: minimum to maximum; box: p50 to p90 (dark tick p50); red tick: "
             "p99.");
    out_str(o, "</p>\n");
    const struct latency_hist *rows[SMTP_VERB_COUNT + 3];
    const char *names[SMTP_VERB_COUNT + 3];
    size_t n = 0;
    if (s->connect.n > 0) {
        rows[n] = &s->connect;
        names[n++] = _("TCP connect");
    }
    if (s->banner.n > 0) {
        rows[n] = &s->banner;
        names[n++] = _("greeting (banner)");
    }
    for (int v = 1; v < SMTP_VERB_COUNT; v++) {
        if (s->by_verb[v].n > 0) {
            rows[n] = &s->by_verb[v];
            names[n++] = smtp_verb_name((enum smtp_verb)v);
        }
    }
    if (s->message.n > 0) {
        rows[n] = &s->message;
        names[n++] = _("end of data");
    }
    if (n == 0) {
        out_str(o, "<p>");
        put_l(o, "No replies were timed.");
        out_str(o, "</p>\n");
        return;
    }
    int64_t lo = rows[0]->min_us;
    int64_t hi = rows[0]->max_us;
    for (size_t i = 1; i < n; i++) {
        lo = rows[i]->min_us < lo ? rows[i]->min_us : lo;
        hi = rows[i]->max_us > hi ? rows[i]->max_us : hi;
    }
    /* Room on the left for "greeting (banner) (n=...)" with a 20-digit n,
     * and on the right for "p50 999ms · p90 999ms · p99 999ms" (11px). */
    struct lat_axis a = {st->lat_edges, 0, 0, 240, 500};
    axis_fit(&a, lo, hi);
    double h = 30 + 26 * (double)n + 24;
    out_fmt(o, "<svg viewBox=\"0 0 960 %.0f\" width=\"960\" role=\"img\" aria-label=\"", h);
    put_l(o, "reply latency by command");
    out_str(o, "\">\n");
    axis_ticks(o, &a, 14, h - 24);
    for (size_t i = 0; i < n; i++) {
        latency_row(o, &a, 30 + 26 * (double)i, names[i], rows[i]);
    }
    out_str(o, "</svg>\n");
}

static int cmp_point(const void *pa, const void *pb)
{
    const struct html_point *a = pa;
    const struct html_point *b = pb;
    if (a->start_us != b->start_us) {
        return a->start_us < b->start_us ? -1 : 1;
    }
    return a->id < b->id ? -1 : a->id > b->id;
}

/*
 * The timeline's axis from t0 to t1 (packet times, us) over [x0, x0+wd]:
 * ticks a round step apart (1-2-5 within a unit; 15 and 30 s and min; 3,
 * 6 and 12 h; days), at most about 7 of them.  Under an hour the labels
 * are offsets from t0 ("+250ms", "+5min"); from an hour they are UTC
 * times of day on round clock times ("14:30"), with the date when it
 * changes, and from two days dates alone.
 */
static void put_time_axis(struct capbuf *o, int64_t t0, int64_t t1, double x0, double wd,
                          double bottom)
{
    static const int64_t steps[] = {
        1, 2, 5, 10, 20, 50, 100, 200, 500,                       /* us */
        1000, 2000, 5000, 10000, 20000, 50000, 100000, 200000, 500000, /* ms */
        1000000, 2000000, 5000000, 10000000, 15000000, 30000000,        /* s */
        60000000, 120000000, 300000000, 600000000, 900000000, 1800000000, /* min */
        3600000000LL, 7200000000LL, 10800000000LL, 21600000000LL, 43200000000LL, /* h */
        86400000000LL, 172800000000LL, 604800000000LL, 2592000000000LL, /* d */
    };
    int64_t span = t1 - t0 > 0 ? t1 - t0 : 1;
    size_t i = 0;
    while (i + 1 < sizeof(steps) / sizeof(steps[0]) && span / steps[i] > 6) {
        i++;
    }
    int64_t step = steps[i];
    bool absolute = span >= 3600000000LL;
    /* Absolute ticks sit on round clock times, offsets on round offsets. */
    int64_t first = absolute ? (t0 + step - 1) / step * step : t0;
    int last_day = -1;
    for (int64_t t = first; t <= t1; t += step) {
        double x = x0 + wd * (double)(t - t0) / (double)span;
        out_fmt(o, "<line x1=\"%.1f\" y1=\"14\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e3e5e8\"/>"
                   "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">",
                x, x, bottom, x, bottom + 14);
        if (!absolute && t == t0) {
            out_str(o, "0");
        } else if (!absolute) {
            out_str(o, "+");
            put_duration_label(o, t - t0);
        } else {
            time_t sec = (time_t)(t / 1000000);
            struct tm tm;
            char buf[32] = "?";
            if (gmtime_r(&sec, &tm) != NULL) {
                if (step >= 86400000000LL) {
                    strftime(buf, sizeof(buf), "%Y-%m-%d", &tm);
                } else if (tm.tm_yday != last_day) {
                    strftime(buf, sizeof(buf), "%m-%d %H:%M", &tm);
                } else {
                    strftime(buf, sizeof(buf), "%H:%M", &tm);
                }
                last_day = tm.tm_yday;
            }
            out_str(o, buf);
        }
        out_str(o, "</text>\n");
    }
    out_fmt(o, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">", x0 + wd, bottom + 28);
    if (absolute) {
        /* TRANSLATORS: the time axis shows UTC times of day. */
        put_l(o, "UTC");
    } else {
        /* TRANSLATORS: the time axis shows offsets ("+5min") from this. */
        put_l(o, "after the first session's start");
    }
    out_str(o, "</text>\n");
}

static void put_timeline(struct capbuf *o, struct html_state *st)
{
    out_str(o, "<h3>");
    put_l(o, "Sessions over time");
    out_str(o, "</h3>\n");
    if (st->n_points == 0) {
        out_str(o, "<p>");
        put_l(o, "No sessions.");
        out_str(o, "</p>\n");
        return;
    }
    qsort(st->points, st->n_points, sizeof(st->points[0]), cmp_point);
    int64_t t0 = st->points[0].start_us;
    int64_t t1 = t0 + 1;
    for (size_t i = 0; i < st->n_points; i++) {
        t1 = st->points[i].end_us > t1 ? st->points[i].end_us : t1;
    }
    /* Greedy lanes: a session goes to the first lane free at its start. */
    int64_t lane_end[HTML_TIMELINE_LANES];
    uint8_t lane_of[HTML_TIMELINE_MAX];
    size_t n_lanes = 0;
    for (size_t i = 0; i < st->n_points; i++) {
        size_t l = 0;
        while (l < n_lanes && lane_end[l] >= st->points[i].start_us) {
            l++;
        }
        if (l == n_lanes) {
            if (n_lanes < HTML_TIMELINE_LANES) {
                n_lanes++;
            } else {
                l = 0; /* all busy: pick the lane that frees first */
                for (size_t k = 1; k < n_lanes; k++) {
                    l = lane_end[k] < lane_end[l] ? k : l;
                }
            }
        }
        lane_end[l] = st->points[i].end_us;
        lane_of[i] = (uint8_t)l;
    }
    double lane_h = n_lanes <= 20 ? 14 : n_lanes <= 40 ? 8 : 5;
    const double x0 = 60;
    const double wd = 860;
    double h = 20 + lane_h * (double)n_lanes + 34;
    out_str(o, "<p class=\"note\">");
    out_fmt(o, _("One bar per session, from its first packet to its last, coloured by how it "
                 "ended; overlapping sessions stack. %zu of %llu sessions drawn"),
            st->n_points, (unsigned long long)st->n_offered);
    if (st->stride > 1) {
        out_str(o, " ");
        put_l(o, "(a regular sample: every n-th session in start order)");
    }
    out_str(o, ".</p>\n");
    out_fmt(o, "<svg viewBox=\"0 0 960 %.0f\" width=\"960\" role=\"img\" aria-label=\"", h);
    put_l(o, "session timeline");
    out_str(o, "\">\n");
    double span = (double)(t1 - t0);
    double bottom = 20 + lane_h * (double)n_lanes;
    put_time_axis(o, t0, t1, x0, wd, bottom);
    out_str(o, "<text x=\"4\" y=\"12\">");
    /* TRANSLATORS: the timeline's first time follows. */
    put_l(o, "start:");
    out_str(o, " ");
    put_utc(o, t0);
    out_str(o, "</text>\n<text x=\"956\" y=\"12\" text-anchor=\"end\">");
    /* TRANSLATORS: the timeline's last time follows. */
    put_l(o, "end:");
    out_str(o, " ");
    put_utc(o, t1);
    out_str(o, "</text>\n");
    for (size_t i = 0; i < st->n_points; i++) {
        const struct html_point *p = &st->points[i];
        double x = x0 + wd * (double)(p->start_us - t0) / span;
        double bw = wd * (double)(p->end_us - p->start_us) / span;
        out_fmt(o, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\">"
                   "<title>#%llu %s, ",
                x, 20 + lane_h * lane_of[i], bw < 1.5 ? 1.5 : bw, lane_h - 1,
                label_colour(p->label), (unsigned long long)p->id,
                verdict_label_info((enum verdict_label)p->label)->name);
        out_ms(o, p->end_us - p->start_us);
        out_str(o, " ms</title></rect>\n");
    }
    out_str(o, "</svg>\n<p class=\"legend\">");
    bool present[VERDICT_LABEL_COUNT] = {false};
    for (size_t i = 0; i < st->n_points; i++) {
        if (st->points[i].label < VERDICT_LABEL_COUNT) {
            present[st->points[i].label] = true;
        }
    }
    for (int l = 0; l < VERDICT_LABEL_COUNT; l++) {
        if (!present[l]) {
            continue;
        }
        out_fmt(o, "<span><span class=\"sw\" style=\"background:%s\"></span>%s</span> ",
                label_colour((unsigned)l), verdict_label_info((enum verdict_label)l)->name);
    }
    out_str(o, "</p>\n");
}

static void put_codes_chart(struct capbuf *o, const struct run_stats *s)
{
    out_str(o, "<h3>");
    put_l(o, "Reply codes by class and code");
    out_str(o, "</h3>\n");
    uint64_t by_class[10] = {0};
    uint16_t codes[1000];
    size_t n = 0;
    uint64_t maxc = 1;
    for (int c = 0; c < 1000; c++) {
        if (s->reply_codes[c] > 0) {
            by_class[c / 100] += s->reply_codes[c];
            codes[n++] = (uint16_t)c;
            maxc = s->reply_codes[c] > maxc ? s->reply_codes[c] : maxc;
        }
    }
    out_str(o, "<p class=\"legend\">");
    static const char *const cname[6] = {"", "", N_("2xx success"), N_("3xx intermediate"),
                                         N_("4xx temporary failure"), N_("5xx permanent failure")};
    for (int k = 2; k <= 5; k++) {
        out_fmt(o, "<span><span class=\"sw\" style=\"background:%s\"></span>",
                class_colour((unsigned)k * 100));
        put_l(o, cname[k]);
        out_fmt(o, ": %llu</span> ", (unsigned long long)by_class[k]);
    }
    out_str(o, "</p>\n");
    if (n == 0) {
        out_str(o, "<p>");
        put_l(o, "No replies.");
        out_str(o, "</p>\n");
        return;
    }
    size_t shown = n < HTML_CODES_CHARTED ? n : HTML_CODES_CHARTED;
    double bw = 40;
    double w = 60 + bw * (double)shown + 20;
    const double top = 18;
    const double bottom = 170;
    out_fmt(o, "<svg viewBox=\"0 0 %.0f 200\" width=\"%.0f\" role=\"img\" aria-label=\"", w, w);
    put_l(o, "reply codes");
    out_str(o, "\">\n");
    out_fmt(o, "<line x1=\"56\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" stroke=\"#888\"/>\n", bottom,
            w - 10, bottom);
    for (size_t i = 0; i < shown; i++) {
        unsigned c = codes[i];
        double bh = (bottom - top) * (double)s->reply_codes[c] / (double)maxc;
        double x = 60 + bw * (double)i;
        const struct knowledge_code *k = knowledge_code_lookup(c);
        out_fmt(o, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\">"
                   "<title>%u ",
                x + 4, bottom - bh, bw - 8, bh < 1 ? 1 : bh, class_colour(c), c);
        put_t(o, k != NULL ? k->name : "");
        out_fmt(o, ": %llu</title></rect>", (unsigned long long)s->reply_codes[c]);
        out_fmt(o, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%llu</text>", x + bw / 2,
                bottom - bh - 3, (unsigned long long)s->reply_codes[c]);
        out_fmt(o, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\" font-weight=\"bold\">%u"
                   "</text>\n",
                x + bw / 2, bottom + 14, c);
    }
    out_str(o, "</svg>\n");
    if (n > shown) {
        out_str(o, "<p class=\"note\">");
        out_fmt(o, _("%zu further codes are listed below only."), n - shown);
        out_str(o, "</p>\n");
    }
    out_str(o, "<details><summary>");
    put_l(o, "What each code seen means");
    out_str(o, "</summary>\n<dl class=\"codes\">\n");
    for (size_t i = 0; i < n; i++) {
        put_code_explanation(o, codes[i]);
    }
    out_str(o, "</dl></details>\n");
}

static void put_pcts(struct capbuf *o, const struct latency_hist *h, bool three)
{
    if (h->n == 0) {
        out_str(o, "<td class=\"num\">&#8212;</td>");
        return;
    }
    out_str(o, "<td class=\"num\">");
    out_ms(o, latency_quantile(h, 0.50));
    out_str(o, " / ");
    out_ms(o, latency_quantile(h, 0.90));
    if (three) {
        out_str(o, " / ");
        out_ms(o, latency_quantile(h, 0.99));
    }
    out_str(o, "</td>");
}

static void put_servers(struct capbuf *o, const struct html_state *st)
{
    out_str(o, "<h2 id=\"servers\">");
    put_l(o, "Servers");
    out_str(o, "</h2>\n<table><thead><tr><th>");
    put_l(o, "server");
    out_str(o, "</th><th class=\"num\">");
    put_l(o, "sessions");
    out_str(o, "</th><th>");
    put_l(o, "greeting (first seen)");
    out_str(o, "</th><th class=\"num\">");
    put_l(o, "banner ms");
    out_str(o, "<br>p50 / p90 / p99</th><th class=\"num\">");
    put_l(o, "reply ms");
    out_str(o, "<br>p50 / p90</th><th class=\"num\">");
    put_l(o, "messages accepted");
    out_str(o, "</th><th class=\"num\">");
    put_l(o, "abnormal sessions");
    out_str(o, "</th></tr></thead><tbody>\n");
    for (size_t i = 0; i <= HTML_SERVERS_MAX; i++) {
        const struct html_server *s = &st->servers[i];
        if (s->n_sessions == 0) {
            continue;
        }
        out_fmt(o, "<tr><td class=\"mono nw\">%s</td><td class=\"num\">%llu</td><td class=\"mono\">",
                s->name, (unsigned long long)s->n_sessions);
        if (s->has_greeting) {
            out_fmt(o, "<b class=\"code\" style=\"color:%s\">%u</b> ",
                    class_colour(s->greeting_code), s->greeting_code);
            escape_html(o, span_make(s->greeting, s->greeting_len), HTML_GREETING_KEEP);
            if (s->greetings_differ) {
                out_str(o, " <span class=\"meta\">(");
                put_l(o, "others differ");
                out_str(o, ")</span>");
            }
        } else {
            out_str(o, "<span class=\"meta\">");
            put_l(o, "none captured");
            out_str(o, "</span>");
        }
        out_str(o, "</td>");
        put_pcts(o, &s->banner, true);
        put_pcts(o, &s->reply, false);
        out_fmt(o, "<td class=\"num\">%llu</td><td class=\"num%s\">%llu (%.0f%%)</td></tr>\n",
                (unsigned long long)s->n_accepted, s->n_abnormal > 0 ? " sev-warning" : "",
                (unsigned long long)s->n_abnormal,
                100.0 * (double)s->n_abnormal / (double)s->n_sessions);
    }
    out_str(o, "</tbody></table>\n<p class=\"note\">");
    put_l(o, "Servers are told apart by address and port. Abnormal sessions: a close label or a "
             "flag of severity warning or error. ");
    if (st->servers[HTML_SERVERS_MAX].is_other) {
        out_fmt(o, _("Only the first %d servers are listed by name; the rest are summed as "
                     "&#8220;other servers&#8221;."),
                HTML_SERVERS_MAX);
    }
    out_str(o, "</p>\n");
}

static int cmp_abnormal(const void *pa, const void *pb)
{
    const struct html_abnormal *a = pa;
    const struct html_abnormal *b = pb;
    if (a->rank != b->rank) {
        return a->rank > b->rank ? -1 : 1;
    }
    return a->id < b->id ? -1 : a->id > b->id;
}

static void put_abnormal(struct writer *w, struct html_state *st, uint64_t n_sessions)
{
    struct capbuf *o = &w->line;
    out_str(o, "<h2 id=\"abnormal\">");
    out_fmt(o, _("Abnormal sessions (%llu)"), (unsigned long long)st->n_abnormal);
    out_str(o, "</h2>\n");
    if (n_sessions == 0) {
        out_str(o, "<p>");
        put_l(o, "No sessions: the capture holds no SMTP session to judge.");
        out_str(o, "</p>\n");
        return;
    }
    if (st->n_abnormal == 0) {
        out_str(o, "<p>");
        put_l(o, "No session has a close label or flag of severity warning or error. Sessions "
                 "labelled info (TLS, cut by the start or end of the capture, one side missing) "
                 "are facts about the capture, not faults: see How sessions ended.");
        out_str(o, "</p>\n");
        return;
    }
    out_str(o, "<p class=\"note\">");
    put_l(o, "Sessions whose close label or any flag has severity warning or error; most severe "
             "first (severity of the close, then of the flags), then in order of session id. "
             "Rows with a 4xx/5xx reply or a line anomaly are shaded. AUTH credentials are "
             "never shown.");
    if (st->n_abnormal > st->n_abnormal_kept) {
        out_str(o, " ");
        out_fmt(o, _("The %zu most severe are shown with transcripts; the JSON output (--json) "
                     "has all %llu."),
                st->n_abnormal_kept, (unsigned long long)st->n_abnormal);
    }
    out_str(o, "</p>\n<table><thead><tr><th>");
    put_l(o, "close label");
    out_str(o, "</th><th class=\"num\">");
    put_l(o, "sessions");
    out_str(o, "</th></tr></thead><tbody>\n");
    for (int l = 0; l < VERDICT_LABEL_COUNT; l++) {
        if (st->n_abnormal_by_label[l] > 0) {
            out_fmt(o, "<tr><td><span class=\"sw\" style=\"background:%s\"></span>%s</td>"
                       "<td class=\"num\">%llu</td></tr>\n",
                    label_colour((unsigned)l), verdict_label_info((enum verdict_label)l)->name,
                    (unsigned long long)st->n_abnormal_by_label[l]);
        }
    }
    out_str(o, "</tbody></table>\n");
    qsort(st->abnormal, st->n_abnormal_kept, sizeof(st->abnormal[0]), cmp_abnormal);
    for (size_t i = 0; i < st->n_abnormal_kept; i++) {
        struct html_abnormal *a = &st->abnormal[i];
        int sev = a->severity;
        out_fmt(o, "<details class=\"sess\"%s><summary><span class=\"sw\" style=\"background:%s\">"
                   "</span><span class=\"sev-%s\">%s</span> %s</summary>\n",
                i < HTML_ABNORMAL_OPEN ? " open" : "", label_colour(a->label),
                sev >= 3 ? "error" : sev == 2 ? "warning" : sev == 1 ? "info" : "ok",
                sev >= 3 ? "error" : sev == 2 ? "warning" : sev == 1 ? "info" : "ok", a->summary);
        writer_flush_line(w);
        if (a->body.len > 0 && fwrite(a->body.data, 1, a->body.len, w->out) != a->body.len) {
            w->failed = true;
        }
        out_str(o, "</details>\n");
    }
}

static void put_about(struct capbuf *o)
{
    out_str(o, "<h2 id=\"about\">");
    put_l(o, "About this report");
    out_str(o, "</h2>\n<p>");
    put_l(o, "Made by smtpscope from packet timestamps: every latency is the difference of two "
             "packet times as captured, so it includes the network between the capture point and "
             "each side.");
    out_str(o, " <b>");
    put_l(o, "Banner latency");
    out_str(o, "</b>: ");
    put_l(o, "the client's handshake ACK to the first byte of the greeting.");
    out_str(o, " <b>");
    put_l(o, "Reply latency");
    out_str(o, "</b>: ");
    put_l(o, "the segment that completed a command to the first byte of its reply.");
    out_str(o, " ");
    put_l(o, "Percentiles come from a histogram accurate to 1/128 of the value. Text from the "
             "network is shown escaped, exactly as sent, up to 512 bytes per line; bytes that are "
             "not printable are shown as \\xNN.");
    out_str(o, " <code>smtpscope explain CODE</code> ");
    put_l(o, "explains any reply code at the terminal.");
    out_str(o, "</p>\n");
}

static void html_summary(struct writer *w, const struct run_report *rep)
{
    struct html_state *st = w->priv;
    struct capbuf *o = &w->line;
    if (st == NULL) {
        w->failed = true;
        return;
    }
    /* The language the text below is in: the catalogue's own tag. */
    out_str(o, "<!DOCTYPE html>\n<html lang=\"");
    out_str(o, i18n_lang_tag());
    out_str(o, "\"><head><meta charset=\"utf-8\">\n"
               "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
               "style-src 'unsafe-inline'; img-src data:\">\n"
               "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
               "<title>");
    put_l(o, "smtpscope report:");
    out_str(o, " ");
    put_esc_str(o, rep->input->source != NULL ? rep->input->source : "?");
    out_str(o, "</title>\n");
    out_str(o, css);
    out_str(o, "</head><body>\n<h1>");
    put_l(o, "SMTP capture report");
    out_str(o, "</h1>\n<p class=\"meta\"><code>");
    put_esc_str(o, rep->input->source != NULL ? rep->input->source : "?");
    out_str(o, "</code> &#183; ");
    put_utc(o, rep->input->first_us);
    out_str(o, " &#8594; ");
    put_utc(o, rep->input->last_us);
    out_str(o, "</p>\n<p class=\"meta\"><a href=\"#custody\">");
    put_l(o, "Chain of custody");
    out_str(o, "</a> &#183; <a href=\"#overview\">");
    put_l(o, "Overview");
    out_str(o, "</a> &#183; <a href=\"#charts\">");
    put_l(o, "Charts");
    out_str(o, "</a> &#183; <a href=\"#servers\">");
    put_l(o, "Servers");
    out_str(o, "</a> &#183; <a href=\"#abnormal\">");
    put_l(o, "Abnormal sessions");
    out_str(o, "</a> &#183; <a href=\"#about\">");
    put_l(o, "About");
    out_str(o, "</a></p>\n");
    put_custody(o, st, rep);
    put_overview(o, st, rep);
    writer_flush_line(w);
    out_str(o, "<h2 id=\"charts\">");
    put_l(o, "Charts");
    out_str(o, "</h2>\n");
    put_timeline(o, st);
    writer_flush_line(w);
    put_banner_charts(o, st);
    writer_flush_line(w);
    put_reply_latency_chart(o, st, rep->stats);
    put_codes_chart(o, rep->stats);
    writer_flush_line(w);
    put_servers(o, st);
    writer_flush_line(w);
    put_abnormal(w, st, rep->stats->n_sessions);
    put_about(o);
    out_str(o, "</body></html>\n");
    writer_flush_line(w);
    if (fflush(w->out) != 0) {
        w->failed = true;
    }
    /* Transcripts are released here; writer_free() frees the state itself. */
    for (size_t i = 0; i < st->n_abnormal_kept; i++) {
        capbuf_free(&st->abnormal[i].body);
    }
    st->n_abnormal_kept = 0;
}

void writer_html_init(struct writer *w, FILE *out, const struct report_meta *meta)
{
    memset(w, 0, sizeof(*w));
    w->out = out;
    w->session = html_session;
    w->summary = html_summary;
    struct html_state *st = calloc(1, sizeof(*st));
    if (st != NULL) {
        st->meta = meta;
        st->stride = 1;
        lat_edges_init(st->lat_edges);
    }
    w->priv = st;
    capbuf_init(&w->line, HTML_LINE_MAX);
}
