/*
 * out_text.c - the human summary: what a mail operator reads first.
 *
 * Sessions are tallied by stats.c; this writer keeps only a short list of
 * abnormal sessions (ids, endpoints, labels: no wire text) and prints, at
 * the end: sessions and messages, closes by label with their meaning,
 * flags, replies by class and code, connect, banner and reply latency
 * percentiles, and what was not analysed.  The only wire-derived text it
 * prints (the input error) goes through escape_terminal().
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdlib.h>
#include <string.h>

#include "escape.h"
#include "timing.h"
#include "writer.h"

#define ABNORMAL_LISTED 20

struct abnormal_entry {
    uint64_t id;
    char client[RECORD_ENDPOINT_TEXT_MAX];
    char server[RECORD_ENDPOINT_TEXT_MAX];
    uint8_t label;
    uint64_t flags;
};

struct text_state {
    struct abnormal_entry listed[ABNORMAL_LISTED];
    size_t n_listed;
    uint64_t n_abnormal;
};

static void text_session(struct writer *w, const struct session_record *r)
{
    struct text_state *st = w->priv;
    if (st == NULL || !record_is_abnormal(r)) {
        return;
    }
    st->n_abnormal++;
    if (st->n_listed == ABNORMAL_LISTED) {
        return;
    }
    struct abnormal_entry *e = &st->listed[st->n_listed++];
    e->id = r->id;
    record_endpoint_format(e->client, sizeof(e->client), &r->client);
    record_endpoint_format(e->server, sizeof(e->server), &r->server);
    e->label = r->label;
    e->flags = r->flags;
}

/* The first sentence of an explanation, for one-line listings. */
static void put_first_sentence(struct capbuf *o, const char *text)
{
    const char *end = strstr(text, ". ");
    size_t n = end ? (size_t)(end - text) + 1 : strlen(text);
    capbuf_append(o, text, n);
}

static void put_hist_line(struct capbuf *o, const char *name, const struct latency_hist *h)
{
    out_fmt(o, "  %-14s n=%-7llu", name, (unsigned long long)h->n);
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
    out_str(o, "  max ");
    out_ms(o, h->max_us);
    out_str(o, "\n");
}

static void put_header(struct capbuf *o, const struct run_report *rep)
{
    const struct run_input *in = rep->input;
    const struct run_stats *st = rep->stats;
    out_str(o, "smtpscope summary\n");
    out_str(o, "Input: ");
    escape_terminal(o, span_make(in->source, strlen(in->source)), 256);
    out_fmt(o, " (%s), %llu packets, %llu bytes", in->linktype_name,
            (unsigned long long)in->n_packets, (unsigned long long)in->n_bytes);
    if (in->is_live) {
        out_fmt(o, "Capture drops: kernel %llu, interface %llu%s\n",
                (unsigned long long)in->n_dropped, (unsigned long long)in->n_if_dropped,
                in->n_dropped + in->n_if_dropped > 0 ? " (latency and sessions may be incomplete)"
                                                     : "");
    }
    if (in->first_us >= 0) {
        out_fmt(o, ", %.3f s of traffic", (double)(in->last_us - in->first_us) / 1e6);
    }
    out_str(o, "\n");
    if (in->error != NULL) {
        out_str(o, "Input error: ");
        escape_terminal(o, span_make(in->error, strlen(in->error)), 512);
        out_str(o, " (sessions up to this point are reported)\n");
    }
    out_fmt(o, "\nSessions: %llu    messages attempted: %llu    accepted: %llu\n",
            (unsigned long long)st->n_sessions, (unsigned long long)st->n_messages_attempted,
            (unsigned long long)st->n_messages_accepted);
}

static void put_closes(struct capbuf *o, const struct run_stats *st)
{
    out_str(o, "\nCloses by label:\n");
    for (int l = 0; l < VERDICT_LABEL_COUNT; l++) {
        if (st->labels[l] == 0) {
            continue;
        }
        const struct verdict_info *info = verdict_label_info((enum verdict_label)l);
        out_fmt(o, "  %-28s %6llu  ", info->name, (unsigned long long)st->labels[l]);
        put_first_sentence(o, info->explanation);
        out_str(o, "\n");
    }
    bool any = false;
    for (int f = 0; f < VERDICT_FLAG_COUNT; f++) {
        if (st->flags[f] == 0) {
            continue;
        }
        if (!any) {
            out_str(o, "\nFlags (sessions):\n");
            any = true;
        }
        const struct verdict_info *info = verdict_flag_info((enum verdict_flag)f);
        out_fmt(o, "  %-28s %6llu  ", info->name, (unsigned long long)st->flags[f]);
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
    out_fmt(o, "\nReplies by class: 2xx %llu, 3xx %llu, 4xx %llu, 5xx %llu\n",
            (unsigned long long)by_class[2], (unsigned long long)by_class[3],
            (unsigned long long)by_class[4], (unsigned long long)by_class[5]);
    out_str(o, "Replies by code:");
    int n = 0;
    for (int c = 0; c < 1000; c++) {
        if (st->reply_codes[c] > 0) {
            out_fmt(o, "%s %d x%llu", n++ % 8 == 0 && n > 1 ? "\n                " : "", c,
                    (unsigned long long)st->reply_codes[c]);
        }
    }
    out_str(o, n == 0 ? " none\n" : "\n");
}

static void put_latencies(struct capbuf *o, const struct run_stats *st)
{
    out_str(o, "\nLatency (ms):\n");
    put_hist_line(o, "connect", &st->connect);
    put_hist_line(o, "banner", &st->banner);
    put_hist_line(o, "end of data", &st->message);
    out_str(o, "Reply latency by command (ms):\n");
    for (int v = 1; v < SMTP_VERB_COUNT; v++) {
        if (st->by_verb[v].n > 0) {
            put_hist_line(o, smtp_verb_name((enum smtp_verb)v), &st->by_verb[v]);
        }
    }
}

static void put_coverage(struct capbuf *o, const struct run_input *in)
{
    out_str(o, "\nNot analysed:\n");
    out_fmt(o, "  non-IP frames %llu, IPv6 fragments/AH/ESP/other %llu, snaplen-cut packets %llu, "
               "malformed %llu\n",
            (unsigned long long)in->by_decode[DECODE_NON_IP],
            (unsigned long long)in->by_decode[DECODE_IPV6_UNSUPPORTED],
            (unsigned long long)in->by_decode[DECODE_TRUNCATED],
            (unsigned long long)in->by_decode[DECODE_MALFORMED]);
    out_fmt(o, "  sessions picked up mid-stream (no handshake captured): %llu\n",
            (unsigned long long)in->n_midstream);
    out_fmt(o, "  SMTP-port packets with no session (no handshake and no ACK to recover from): "
               "%llu in %llu flows\n",
            (unsigned long long)in->n_unattached_packets,
            (unsigned long long)in->n_unattached_flows);
    out_fmt(o, "  evicted (stream table full) %llu, invalid TCP header or checksum %llu, "
               "reassembly queue pruned %llu\n",
            (unsigned long long)in->n_evicted, (unsigned long long)in->n_tcp_header_invalid,
            (unsigned long long)in->n_queue_pruned);
    out_fmt(o, "  other TCP ports %llu, non-TCP %llu packets; sessions open at end %llu, ended idle %llu\n",
            (unsigned long long)in->n_other_ports, (unsigned long long)in->n_not_tcp,
            (unsigned long long)in->n_open_at_end, (unsigned long long)in->n_idle);
    if (in->n_offload_segments + in->n_window_reopened + in->n_held_back + in->n_holes > 0) {
        out_str(o, "Read despite the capture:\n");
        out_fmt(o, "  offloaded segments (TSO/GSO) %llu, segments past a stale window or "
                   "after their ACK %llu,\n  waits for reordered bytes %llu (at most %llu "
                   "sessions at once, %llu not waited on)\n",
                (unsigned long long)in->n_offload_segments,
                (unsigned long long)in->n_window_reopened, (unsigned long long)in->n_held_back,
                (unsigned long long)in->n_waiting_max, (unsigned long long)in->n_reorder_overflow);
        out_fmt(o, "  holes lost to the capture %llu (%llu bytes)\n",
                (unsigned long long)in->n_holes, (unsigned long long)in->n_hole_bytes);
    }
}

static void put_abnormal(struct capbuf *o, const struct text_state *st)
{
    if (st == NULL || st->n_abnormal == 0) {
        return;
    }
    out_fmt(o, "\nAbnormal sessions (%llu):\n", (unsigned long long)st->n_abnormal);
    for (size_t i = 0; i < st->n_listed; i++) {
        const struct abnormal_entry *e = &st->listed[i];
        out_fmt(o, "  #%-5llu %s -> %s  %s", (unsigned long long)e->id, e->client, e->server,
                verdict_label_info((enum verdict_label)e->label)->name);
        for (int f = 0; f < VERDICT_FLAG_COUNT; f++) {
            if (e->flags & VERDICT_FLAG_BIT(f)) {
                out_fmt(o, " +%s", verdict_flag_info((enum verdict_flag)f)->name);
            }
        }
        out_str(o, "\n");
    }
    if (st->n_abnormal > st->n_listed) {
        out_fmt(o, "  ... and %llu more (see --json)\n",
                (unsigned long long)(st->n_abnormal - st->n_listed));
    }
}

static void text_summary(struct writer *w, const struct run_report *rep)
{
    struct capbuf *o = &w->line;
    put_header(o, rep);
    put_closes(o, rep->stats);
    put_replies(o, rep->stats);
    put_latencies(o, rep->stats);
    put_coverage(o, rep->input);
    put_abnormal(o, w->priv);
    writer_flush_line(w);
}

void writer_text_init(struct writer *w, FILE *out)
{
    memset(w, 0, sizeof(*w));
    w->out = out;
    w->session = text_session;
    w->summary = text_summary;
    w->priv = calloc(1, sizeof(struct text_state));
    capbuf_init(&w->line, (size_t)1 << 20);
}
