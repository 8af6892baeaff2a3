/*
 * out_text.c - the human summary: what a mail operator reads first.
 *
 * Sessions are tallied by stats.c; this writer keeps only a short list of
 * abnormal sessions (record_is_abnormal(): id, start, endpoints, reason,
 * the greeting when it was not 220 and the last exchange, escaped and cut
 * to a few dozen bytes as the record is handed over; of AUTH only the
 * mechanism, never an initial response or AUTH line) and prints, at the
 * end: the input and its time range, sessions and messages, closes by
 * label with their meaning, flags, replies by class and code, connect,
 * banner and reply latency percentiles, the servers with the slowest
 * banners, what was not analysed and the abnormal sessions.  Every line
 * is wrapped to the terminal's width (80 columns when the output is not a
 * terminal) at spaces, or between Chinese characters, continuation lines
 * indented under the text they continue.  Wire text goes through escape_terminal() only.
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "escape.h"
#include "i18n.h"
#include "timing.h"
#include "writer.h"

#define ABNORMAL_LISTED 20
#define SLOWEST_SERVERS 5
#define ARG_SHOWN 60       /* bytes of a command's argument shown */
#define REPLY_SHOWN 80     /* bytes of a reply's text shown */
#define EXCHANGE_TEXT_MAX 512 /* room for either, escaped (\xNN: 4 bytes a byte) */
#define WIDTH_DEFAULT 80
#define WIDTH_MIN 40
#define WIDTH_MAX 400

/* Marks where continuation lines of a wrapped line start: our own text
 * only, never from the wire (escape_terminal() turns 0x01 into \x01). */
#define HANG "\001"

struct abnormal_entry {
    uint64_t id;
    char uid[RECORD_UID_LEN]; /* the JSON record's "uid", to look it up there */
    int64_t start_us;
    char client[RECORD_ENDPOINT_TEXT_MAX];
    char server[RECORD_ENDPOINT_TEXT_MAX];
    uint8_t label;
    uint64_t flags;
    const struct verdict_info *reason;
    char greeting[EXCHANGE_TEXT_MAX]; /* escaped; empty when the greeting was 220 */
    char last[EXCHANGE_TEXT_MAX];     /* escaped; empty when no exchange */
};

struct text_state {
    struct abnormal_entry listed[ABNORMAL_LISTED];
    size_t n_listed;
    unsigned width;
    struct capbuf scratch; /* one exchange, escaped */
    struct capbuf wrapped; /* the summary, wrapped */
};

/* The output's width: the terminal's when it is one, else 80. */
static unsigned output_width(FILE *out)
{
    int fd = out != NULL ? fileno(out) : -1;
    struct winsize ws;
    if (fd < 0 || !isatty(fd) || ioctl(fd, TIOCGWINSZ, &ws) != 0 || ws.ws_col == 0) {
        return WIDTH_DEFAULT;
    }
    unsigned w = ws.ws_col;
    return w < WIDTH_MIN ? WIDTH_MIN : w > WIDTH_MAX ? WIDTH_MAX : w;
}

/* Wire text for a terminal, cut at max bytes with "..." when longer. */
static void put_wire(struct capbuf *o, struct span s, size_t max)
{
    escape_terminal(o, s, max);
    if (s.len > max) {
        out_str(o, "...");
    }
}

static void put_reply(struct capbuf *o, const struct session_record *r,
                      const struct record_exchange *x)
{
    if (x->code == 0) {
        out_str(o, _("no reply"));
        return;
    }
    out_fmt(o, "%u", x->code);
    if (x->enhanced.klass != 0) {
        out_fmt(o, " %u.%u.%u", x->enhanced.klass, x->enhanced.subject, x->enhanced.detail);
    }
    struct span t = record_span(r, x->text);
    if (t.len > 0) {
        out_str(o, " ");
        put_wire(o, t, REPLY_SHOWN);
    }
}

/* "MAIL FROM:<a@b> -> 250 2.1.0 Ok"; AUTH lines are never shown. */
static void put_exchange(struct capbuf *o, const struct session_record *r,
                         const struct record_exchange *x)
{
    switch (x->kind) {
    case RECORD_KIND_MESSAGE:
        /* TRANSLATORS: the last exchange was a message of this size. */
        out_fmt(o, _("<message> %llu bytes"), (unsigned long long)x->size);
        break;
    case RECORD_KIND_AUTH_LINE:
        out_str(o, _("<auth line>"));
        break;
    case RECORD_KIND_UNSOLICITED:
        out_str(o, _("(no command)"));
        break;
    case RECORD_KIND_GREETING:
        out_str(o, _("(greeting)"));
        break;
    default:
        if (record_has_verb_text(x)) {
            put_wire(o, record_span(r, x->verb_text), SMTP_VERB_KEEP);
        } else {
            out_str(o, smtp_verb_name((enum smtp_verb)x->verb));
        }
        if (x->arg.len > 0) {
            struct span a = record_span(r, x->arg);
            size_t keep = a.len;
            if (x->verb == SMTP_VERB_AUTH) {
                /* AUTH PLAIN carries the credentials in its argument:
                 * the mechanism only. */
                keep = 0;
                while (keep < a.len && a.ptr[keep] != ' ') {
                    keep++;
                }
            }
            out_str(o, " ");
            put_wire(o, span_make(a.ptr, keep), ARG_SHOWN);
            if (keep < a.len) {
                out_str(o, " ");
                out_str(o, _("<initial response not shown>"));
            }
        }
        break;
    }
    out_str(o, " -> ");
    put_reply(o, r, x);
}

/* The scratch buffer's text into a fixed field, NUL-ended. */
static void keep_scratch(struct text_state *st, char *field, size_t cap)
{
    size_t n = st->scratch.len < cap - 1 ? st->scratch.len : cap - 1;
    if (n > 0) {
        memcpy(field, st->scratch.data, n);
    }
    field[n] = '\0';
    st->scratch.len = 0;
}

static void text_session(struct writer *w, const struct session_record *r)
{
    struct text_state *st = w->priv;
    if (st == NULL || st->n_listed == ABNORMAL_LISTED || !record_is_abnormal(r)) {
        return;
    }
    /* The first ones, in record order: the count comes from the stats. */
    struct abnormal_entry *e = &st->listed[st->n_listed++];
    e->id = r->id;
    const char *sensor = w->sensor != NULL ? w->sensor : "";
    record_uid(r, sensor, strlen(sensor), e->uid);
    e->start_us = record_start_us(r);
    record_endpoint_format(e->client, sizeof(e->client), &r->client);
    record_endpoint_format(e->server, sizeof(e->server), &r->server);
    e->label = r->label;
    e->flags = r->flags;
    e->reason = record_reason(r);
    st->scratch.len = 0;
    if (r->has_greeting && r->greeting.code != 220) {
        put_reply(&st->scratch, r, &r->greeting);
    }
    keep_scratch(st, e->greeting, sizeof(e->greeting));
    const struct record_exchange *x = record_last_exchange(r);
    if (x != NULL) {
        put_exchange(&st->scratch, r, x);
    }
    keep_scratch(st, e->last, sizeof(e->last));
}

/* ISO 8601 UTC with milliseconds, "2026-11-21T12:15:07.342Z", into buf. */
static void iso_text(char *buf, size_t cap, int64_t us)
{
    time_t secs = (time_t)(us / 1000000);
    struct tm tm;
    char day[40];
    if (us < 0 || gmtime_r(&secs, &tm) == NULL ||
        strftime(day, sizeof(day), "%Y-%m-%dT%H:%M:%S", &tm) == 0) {
        snprintf(buf, cap, "%s", _("(unknown)"));
        return;
    }
    snprintf(buf, cap, "%s.%03dZ", day, (int)(us % 1000000 / 1000));
}

static void put_iso(struct capbuf *o, int64_t us)
{
    char buf[64];
    iso_text(buf, sizeof(buf), us);
    out_str(o, buf);
}

/* A span of time for people, into buf: 0.006 s, 42.1 s, 12 min 5 s,
 * 3 h 12 min, 2 d 4 h (the unit symbols are the translators'). */
static void duration_text(char *buf, size_t cap, int64_t us)
{
    int64_t s = us / 1000000;
    if (us < 60 * 1000000LL) {
        /* TRANSLATORS: seconds; keep the number's format as it is. */
        snprintf(buf, cap, us < 10 * 1000000LL ? _("%.3f s") : _("%.1f s"), (double)us / 1e6);
    } else if (s < 3600) {
        /* TRANSLATORS: minutes and seconds. */
        snprintf(buf, cap, _("%lld min %lld s"), (long long)(s / 60), (long long)(s % 60));
    } else if (s < 86400) {
        /* TRANSLATORS: hours and minutes. */
        snprintf(buf, cap, _("%lld h %lld min"), (long long)(s / 3600),
                 (long long)(s % 3600 / 60));
    } else {
        /* TRANSLATORS: days and hours. */
        snprintf(buf, cap, _("%lld d %lld h"), (long long)(s / 86400),
                 (long long)(s % 86400 / 3600));
    }
}

/* The first sentence of an explanation, translated, for one-line listings. */
static void put_first_sentence(struct capbuf *o, const char *text)
{
    const char *t = _(text);
    capbuf_append(o, t, i18n_first_sentence(t));
}

/* text, then spaces up to width terminal columns (printf's %-Ns counts
 * bytes, which misaligns translated UTF-8 text). */
static void put_padded(struct capbuf *o, const char *text, unsigned width)
{
    out_str(o, text);
    for (unsigned c = i18n_columns(text); c < width; c++) {
        out_str(o, " ");
    }
}

static void put_hist_line(struct capbuf *o, const char *name, const struct latency_hist *h)
{
    out_str(o, "  ");
    put_padded(o, name, 14);
    out_fmt(o, " n=%-7llu" HANG, (unsigned long long)h->n);
    if (h->n == 0) {
        out_str(o, "\n");
        return;
    }
    static const double qs[] = {0.50, 0.90, 0.99};
    static const char *const qn[] = {"p50", "p90", "p99"};
    for (size_t i = 0; i < 3; i++) {
        out_fmt(o, " %s ", qn[i]);
        out_ms(o, latency_quantile(h, qs[i]));
    }
    out_str(o, "  ");
    out_str(o, _("max"));
    out_str(o, " ");
    out_ms(o, h->max_us);
    out_str(o, "\n");
}

static void put_header(struct capbuf *o, const struct run_report *rep)
{
    const struct run_input *in = rep->input;
    const struct run_stats *st = rep->stats;
    out_str(o, _("smtpscope summary"));
    out_str(o, "\n");
    /* TRANSLATORS: followed by the capture file's name. */
    out_str(o, _("Input: "));
    out_str(o, HANG);
    escape_terminal(o, span_make(in->source, strlen(in->source)), 256);
    out_fmt(o, _(" (%s), %llu packets, %llu bytes"), in->linktype_name,
            (unsigned long long)in->n_packets, (unsigned long long)in->n_bytes);
    out_str(o, "\n");
    if (in->first_us >= 0) {
        char first[64], last[64], span[64];
        iso_text(first, sizeof(first), in->first_us);
        iso_text(last, sizeof(last), in->last_us);
        duration_text(span, sizeof(span), in->last_us - in->first_us);
        /* TRANSLATORS: followed by the capture's time range. */
        out_str(o, _("Time: "));
        out_str(o, HANG);
        /* TRANSLATORS: first packet's time, last packet's time, the span
         * between them ("42.1 s"). */
        out_fmt(o, _("%s to %s (%s of traffic)"), first, last, span);
        out_str(o, "\n");
    } else {
        out_str(o, _("Time: "));
        out_str(o, _("no packets"));
        out_str(o, "\n");
    }
    if (in->is_live) {
        out_str(o, _("Capture drops: "));
        out_str(o, HANG);
        out_fmt(o, _("kernel %llu, interface %llu"), (unsigned long long)in->n_dropped,
                (unsigned long long)in->n_if_dropped);
        if (in->n_dropped > 0) {
            /* The kernel's buffer filled up: the reader fell behind. */
            out_str(o, " ");
            out_str(o, _("(latency and sessions may be incomplete; a larger -B, or more "
                         "--workers, lets the capture keep up)"));
        } else if (in->n_if_dropped > 0) {
            out_str(o, " ");
            out_str(o, _("(latency and sessions may be incomplete)"));
        }
        out_str(o, "\n");
    }
    if (in->error != NULL) {
        /* TRANSLATORS: followed by the reader's error message. */
        out_str(o, _("Input error: "));
        out_str(o, HANG);
        escape_terminal(o, span_make(in->error, strlen(in->error)), 512);
        out_str(o, " ");
        out_str(o, _("(sessions up to this point are reported)"));
        out_str(o, "\n");
    }
    out_fmt(o, _("\nSessions: %llu    messages attempted: %llu    accepted: %llu    abnormal: %llu\n"),
            (unsigned long long)st->n_sessions, (unsigned long long)st->n_messages_attempted,
            (unsigned long long)st->n_messages_accepted, (unsigned long long)st->n_abnormal);
    if (in->has_extract) {
        /* TRANSLATORS: --extract's outcome follows. */
        out_str(o, _("Extracted: "));
        out_str(o, HANG);
        out_fmt(o, _("%llu messages written, %llu failed"),
                (unsigned long long)in->n_extract_written,
                (unsigned long long)in->n_extract_failed);
        if (in->n_extract_failed > 0) {
            out_str(o, " ");
            out_str(o, _("(not written: see the warnings on standard error)"));
        }
        out_str(o, "\n");
    }
}

static void put_closes(struct capbuf *o, const struct run_stats *st)
{
    out_str(o, "\n");
    out_str(o, _("Closes by label:"));
    out_str(o, "\n");
    for (int l = 0; l < VERDICT_LABEL_COUNT; l++) {
        if (st->labels[l] == 0) {
            continue;
        }
        const struct verdict_info *info = verdict_label_info((enum verdict_label)l);
        out_fmt(o, "  %-26s %6llu  " HANG, info->name, (unsigned long long)st->labels[l]);
        put_first_sentence(o, info->explanation);
        out_str(o, "\n");
    }
    bool any = false;
    for (int f = 0; f < VERDICT_FLAG_COUNT; f++) {
        if (st->flags[f] == 0) {
            continue;
        }
        if (!any) {
            out_str(o, "\n");
            out_str(o, _("Flags (sessions):"));
            out_str(o, "\n");
            any = true;
        }
        const struct verdict_info *info = verdict_flag_info((enum verdict_flag)f);
        out_fmt(o, "  %-26s %6llu  " HANG, info->name, (unsigned long long)st->flags[f]);
        put_first_sentence(o, info->explanation);
        out_str(o, "\n");
    }
}

static void put_replies(struct capbuf *o, const struct run_stats *st)
{
    uint64_t by_class[6] = {0};
    for (int c = 100; c < 600; c++) {
        by_class[c / 100] += st->reply_codes[c];
    }
    out_fmt(o, _("\nReplies by class: 2xx %llu, 3xx %llu, 4xx %llu, 5xx %llu\n"),
            (unsigned long long)by_class[2], (unsigned long long)by_class[3],
            (unsigned long long)by_class[4], (unsigned long long)by_class[5]);
    out_str(o, _("Replies by code:"));
    out_str(o, HANG);
    int n = 0;
    for (int c = 0; c < 1000; c++) {
        if (st->reply_codes[c] > 0) {
            out_fmt(o, " %d x%llu", c, (unsigned long long)st->reply_codes[c]);
            n++;
        }
    }
    if (n == 0) {
        out_str(o, " ");
        out_str(o, _("none"));
    }
    out_str(o, "\n");
}

static void put_latencies(struct capbuf *o, const struct run_stats *st)
{
    out_str(o, "\n");
    out_str(o, _("Latency (ms):"));
    out_str(o, "\n");
    put_hist_line(o, _("connect"), &st->connect);
    put_hist_line(o, _("banner"), &st->banner);
    put_hist_line(o, _("end of data"), &st->message);
    out_str(o, _("Reply latency by command (ms):"));
    out_str(o, "\n");
    for (int v = 1; v < SMTP_VERB_COUNT; v++) {
        if (st->by_verb[v].n > 0) {
            put_hist_line(o, smtp_verb_name((enum smtp_verb)v), &st->by_verb[v]);
        }
    }
}

/* The few servers whose worst banner was slowest, worst first. */
static void put_slowest_banners(struct capbuf *o, const struct run_stats *st)
{
    const struct stats_server *top[SLOWEST_SERVERS];
    size_t n_top = 0;
    for (uint32_t i = 0; i < st->n_servers; i++) {
        const struct stats_server *s = &st->servers[i];
        if (s->banner.n == 0) {
            continue;
        }
        /* Insertion into a short sorted list; ties keep first-seen order. */
        size_t at = n_top;
        while (at > 0 && top[at - 1]->banner.max_us < s->banner.max_us) {
            at--;
        }
        if (at == SLOWEST_SERVERS) {
            continue;
        }
        size_t last = n_top < SLOWEST_SERVERS ? n_top : SLOWEST_SERVERS - 1;
        memmove(&top[at + 1], &top[at], (last - at) * sizeof(top[0]));
        top[at] = s;
        if (n_top < SLOWEST_SERVERS) {
            n_top++;
        }
    }
    if (n_top == 0) {
        return;
    }
    out_str(o, "\n");
    out_str(o, _("Slowest banners by server (ms):"));
    out_str(o, "\n");
    for (size_t i = 0; i < n_top; i++) {
        char name[RECORD_ENDPOINT_TEXT_MAX];
        record_endpoint_format(name, sizeof(name), &top[i]->ep);
        out_fmt(o, "  %-24s n=%-7llu" HANG " ", name, (unsigned long long)top[i]->banner.n);
        /* TRANSLATORS: the server's slowest banner, in ms. */
        out_str(o, _("worst"));
        out_str(o, " ");
        out_ms(o, top[i]->banner.max_us);
        out_str(o, "  ");
        out_str(o, _("median"));
        out_str(o, " ");
        out_ms(o, latency_quantile(&top[i]->banner, 0.50));
        out_str(o, "\n");
    }
    if (st->n_sessions_other_servers > 0) {
        out_str(o, "  ");
        out_fmt(o, _("(%llu sessions with servers past the first %d are not broken down)"),
                (unsigned long long)st->n_sessions_other_servers, STATS_SERVERS_MAX);
        out_str(o, "\n");
    }
}

static void put_coverage(struct capbuf *o, const struct run_input *in)
{
    out_str(o, "\n");
    out_str(o, _("Not analysed:"));
    out_str(o, "\n");
    out_fmt(o, _("  non-IP frames %llu, IPv6 fragments/AH/ESP/other %llu, snaplen-cut packets %llu, "
                 "malformed %llu\n"),
            (unsigned long long)in->by_decode[DECODE_NON_IP],
            (unsigned long long)in->by_decode[DECODE_IPV6_UNSUPPORTED],
            (unsigned long long)in->by_decode[DECODE_TRUNCATED],
            (unsigned long long)in->by_decode[DECODE_MALFORMED]);
    out_fmt(o, _("  sessions picked up mid-stream (no handshake captured): %llu\n"),
            (unsigned long long)in->n_midstream);
    out_fmt(o, _("  SMTP-port packets with no session (no handshake and no ACK to recover from): "
                 "%llu in %llu flows\n"),
            (unsigned long long)in->n_unattached_packets,
            (unsigned long long)in->n_unattached_flows);
    out_fmt(o, _("  evicted (stream table full) %llu, invalid TCP header or checksum %llu, "
                 "reassembly queue pruned %llu\n"),
            (unsigned long long)in->n_evicted, (unsigned long long)in->n_tcp_header_invalid,
            (unsigned long long)in->n_queue_pruned);
    out_fmt(o, _("  other TCP ports %llu, non-TCP %llu packets; sessions open at end %llu, "
                 "ended idle %llu\n"),
            (unsigned long long)in->n_other_ports, (unsigned long long)in->n_not_tcp,
            (unsigned long long)in->n_open_at_end, (unsigned long long)in->n_idle);
    if (in->n_offload_segments + in->n_window_reopened + in->n_held_back + in->n_holes > 0) {
        out_str(o, _("Read despite the capture:"));
        out_str(o, "\n");
        out_fmt(o, _("  offloaded segments (TSO/GSO) %llu, segments past a stale window or "
                     "after their ACK %llu, waits for reordered bytes %llu (at most %llu "
                     "sessions at once, %llu not waited on)\n"),
                (unsigned long long)in->n_offload_segments,
                (unsigned long long)in->n_window_reopened, (unsigned long long)in->n_held_back,
                (unsigned long long)in->n_waiting_max, (unsigned long long)in->n_reorder_overflow);
        out_fmt(o, _("  holes lost to the capture %llu (%llu bytes)\n"),
                (unsigned long long)in->n_holes, (unsigned long long)in->n_hole_bytes);
    }
}

/* "      why: " and the hanging indent after it, for one abnormal session. */
static void put_field(struct capbuf *o, const char *name)
{
    out_str(o, "      ");
    out_str(o, name);
    out_str(o, " " HANG);
}

static void put_abnormal(struct capbuf *o, const struct text_state *st, uint64_t n_abnormal)
{
    if (st == NULL || n_abnormal == 0) {
        return;
    }
    out_fmt(o, _("\nAbnormal sessions (%llu):\n"), (unsigned long long)n_abnormal);
    for (size_t i = 0; i < st->n_listed; i++) {
        const struct abnormal_entry *e = &st->listed[i];
        out_fmt(o, "  #%llu " HANG, (unsigned long long)e->id);
        put_iso(o, e->start_us);
        out_fmt(o, " %s -> %s\n", e->client, e->server);
        /* TRANSLATORS: the session's uid, as in the JSON record, follows. */
        put_field(o, _("uid:"));
        out_str(o, e->uid);
        out_str(o, "\n");
        /* TRANSLATORS: why the session is listed as abnormal. */
        put_field(o, _("why:"));
        /* TRANSLATORS: a close label or flag identifier and its severity
         * (both stay as they are), then its explanation. */
        out_fmt(o, _("%s (%s): "), e->reason->name, e->reason->severity);
        put_first_sentence(o, e->reason->explanation);
        out_str(o, "\n");
        /* TRANSLATORS: the close label and flags of the session follow. */
        put_field(o, _("close:"));
        out_str(o, verdict_label_info((enum verdict_label)e->label)->name);
        for (int f = 0; f < VERDICT_FLAG_COUNT; f++) {
            if (e->flags & VERDICT_FLAG_BIT(f)) {
                out_fmt(o, " +%s", verdict_flag_info((enum verdict_flag)f)->name);
            }
        }
        out_str(o, "\n");
        if (e->greeting[0] != '\0') {
            /* TRANSLATORS: the server's greeting (when not 220) follows. */
            put_field(o, _("greeting:"));
            out_str(o, e->greeting);
            out_str(o, "\n");
        }
        /* TRANSLATORS: the session's last command and reply follow. */
        put_field(o, _("last:"));
        out_str(o, e->last[0] != '\0' ? e->last : _("(no exchange)"));
        out_str(o, "\n");
    }
    if (n_abnormal > st->n_listed) {
        out_fmt(o, _("  ... and %llu more (see --json or --report)\n"),
                (unsigned long long)(n_abnormal - st->n_listed));
    }
}

/* Terminal columns of p[0..n), UTF-8 (translated text, a file name):
 * East Asian wide characters take two.  p[n] and on may be read up to
 * the NUL that ends the line. */
static size_t columns(const char *p, size_t n)
{
    size_t cols = 0;
    for (size_t i = 0; i < n;) {
        unsigned c;
        bool wide;
        i += i18n_char_at(p + i, &c, &wide);
        cols += c;
    }
    return cols;
}

/* The byte offset of the character at or past column col in p[0..n). */
static size_t byte_at_column(const char *p, size_t n, size_t col)
{
    size_t cols = 0;
    for (size_t i = 0; i < n;) {
        unsigned c;
        bool wide;
        size_t len = i18n_char_at(p + i, &c, &wide);
        if (cols + c > col) {
            return i;
        }
        cols += c;
        i += len;
    }
    return n;
}

/*
 * The last place at or before byte limit of p where a line may break: a
 * space (dropped from the output), or, in Chinese text, which has none
 * between words, the boundary between two characters next to a wide one
 * (i18n_may_break_between()).  0 when there is none.
 */
static size_t last_break(const char *p, size_t limit)
{
    size_t best = 0;
    size_t prev = 0;
    for (size_t i = 0; i <= limit && p[i] != '\0';) {
        if (p[i] == ' ' || (i > 0 && i18n_may_break_between(p + prev, p + i))) {
            best = i;
        }
        unsigned c;
        bool wide;
        prev = i;
        i += i18n_char_at(p + i, &c, &wide);
    }
    return best;
}

/*
 * One line (without its newline) into out, wrapped at spaces to width
 * columns (or between Chinese characters); continuation lines start at
 * the column of the HANG mark, or two columns right of the line's first
 * non-space when there is none.  A word longer than the room is cut where
 * the room ends.
 */
static void wrap_line(struct capbuf *out, const char *p, size_t n, size_t width)
{
    char line[8192];
    size_t len = 0;
    size_t hang = SIZE_MAX;
    for (size_t i = 0; i < n && len < sizeof(line) - 1; i++) {
        if (p[i] == HANG[0]) {
            if (hang == SIZE_MAX) {
                hang = columns(line, len);
            }
        } else {
            line[len++] = p[i];
        }
    }
    if (hang == SIZE_MAX) {
        hang = 0;
        while (hang < len && line[hang] == ' ') {
            hang++;
        }
        hang += 2; /* a continuation is not a new item */
    }
    while (len > 0 && line[len - 1] == ' ') {
        len--; /* padding of a last column left empty */
    }
    line[len] = '\0'; /* columns() may look at a character's bytes past n */
    if (hang > width / 2) {
        hang = width / 2; /* leave room for text on every continuation line */
    }
    const char *rest = line;
    size_t left = len;
    size_t indent = 0;
    while (indent + columns(rest, left) > width) {
        size_t room = width - indent;
        size_t limit = byte_at_column(rest, left, room); /* first byte past the room */
        size_t cut = last_break(rest, limit);
        /* Break after the hang, else cut the word. */
        size_t min_cut = indent == 0 ? byte_at_column(rest, left, hang) : 0;
        if (cut <= min_cut) {
            cut = limit;
        }
        size_t end = cut;
        while (end > 0 && rest[end - 1] == ' ') {
            end--;
        }
        capbuf_append(out, rest, end);
        out_str(out, "\n");
        while (cut < left && rest[cut] == ' ') {
            cut++;
        }
        rest += cut;
        left -= cut;
        indent = hang;
        for (size_t i = 0; i < indent; i++) {
            out_str(out, " ");
        }
    }
    capbuf_append(out, rest, left);
    out_str(out, "\n");
}

static void wrap_all(struct capbuf *out, const struct capbuf *in, size_t width)
{
    const char *p = (const char *)in->data;
    size_t n = in->len;
    while (n > 0) {
        const char *nl = memchr(p, '\n', n);
        size_t len = nl != NULL ? (size_t)(nl - p) : n;
        wrap_line(out, p, len, width);
        size_t step = nl != NULL ? len + 1 : len;
        p += step;
        n -= step;
    }
}

static void text_summary(struct writer *w, const struct run_report *rep)
{
    struct text_state *st = w->priv;
    struct capbuf *o = &w->line;
    put_header(o, rep);
    put_closes(o, rep->stats);
    put_replies(o, rep->stats);
    put_latencies(o, rep->stats);
    put_slowest_banners(o, rep->stats);
    put_coverage(o, rep->input);
    put_abnormal(o, st, rep->stats->n_abnormal);
    if (st != NULL) {
        wrap_all(&st->wrapped, o, st->width);
        if (st->wrapped.len > 0 &&
            fwrite(st->wrapped.data, 1, st->wrapped.len, w->out) != st->wrapped.len) {
            w->failed = true;
        }
        st->wrapped.len = 0;
        o->len = 0;
        return;
    }
    writer_flush_line(w);
}

static void text_release(void *priv)
{
    struct text_state *st = priv;
    capbuf_free(&st->scratch);
    capbuf_free(&st->wrapped);
}

void writer_text_init(struct writer *w, FILE *out)
{
    memset(w, 0, sizeof(*w));
    w->out = out;
    w->session = text_session;
    w->summary = text_summary;
    struct text_state *st = calloc(1, sizeof(*st));
    if (st != NULL) {
        st->width = output_width(out);
        capbuf_init(&st->scratch, 4 * EXCHANGE_TEXT_MAX);
        capbuf_init(&st->wrapped, (size_t)2 << 20);
    }
    w->priv = st;
    w->release = text_release;
    capbuf_init(&w->line, (size_t)1 << 20);
}
