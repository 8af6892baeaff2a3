/*
 * out_jsonl.c - JSON Lines writer (docs/json-schema.md is its contract).
 *
 * One object per session, keys in a fixed order, no wall-clock values, so
 * the same capture always gives the same bytes (the golden tests rely on
 * it).  Every string from the wire goes through escape_json().
 *
 * SPDX-License-Identifier: MIT
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "escape.h"
#include "smtp_limits.h"
#include "timing.h"
#include "writer.h"

#define LINE_MAX_BYTES ((size_t)64 << 20)

void writer_flush_line(struct writer *w)
{
    if (w->line.len > 0 && fwrite(w->line.data, 1, w->line.len, w->out) != w->line.len) {
        w->failed = true;
    }
    w->line.len = 0;
}

void writer_free(struct writer *w)
{
    capbuf_free(&w->line);
    free(w->priv);
    w->priv = NULL;
}

static void put_ms_or_null(struct capbuf *o, int64_t us)
{
    if (us < 0) {
        OUT_LIT(o, "null");
    } else {
        out_ms(o, us);
    }
}

static void put_time(struct capbuf *o, int64_t us)
{
    if (us < 0) {
        OUT_LIT(o, "null");
        return;
    }
    char frac[7] = {'.'};
    long long rest = us % 1000000;
    for (int i = 6; i >= 1; i--) {
        frac[i] = (char)('0' + rest % 10);
        rest /= 10;
    }
    out_u64(o, (unsigned long long)(us / 1000000));
    capbuf_append(o, frac, sizeof(frac));
}

static void put_text(struct capbuf *o, const struct session_record *r, struct record_text t)
{
    escape_json(o, record_span(r, t), SMTP_TEXT_KEEP);
}

/* Dotted quad without inet_ntop: this runs twice per record. */
static void put_ipv4(struct capbuf *o, const uint8_t *a)
{
    for (int i = 0; i < 4; i++) {
        if (i > 0) {
            OUT_LIT(o, ".");
        }
        out_u64(o, a[i]);
    }
}

static void put_endpoint(struct capbuf *o, const struct record_endpoint *e)
{
    OUT_LIT(o, "{\"ip\":\"");
    if (e->family == 6) {
        char ip[INET6_ADDRSTRLEN] = "?";
        inet_ntop(AF_INET6, e->addr, ip, sizeof(ip));
        out_str(o, ip);
    } else {
        put_ipv4(o, e->addr);
    }
    OUT_LIT(o, "\",\"port\":");
    out_u64(o, e->port);
    OUT_LIT(o, "}");
}

static void put_enhanced(struct capbuf *o, const struct smtp_enhanced *e)
{
    if (e->klass == 0) {
        OUT_LIT(o, "null");
        return;
    }
    OUT_LIT(o, "\"");
    out_u64(o, e->klass);
    OUT_LIT(o, ".");
    out_u64(o, e->subject);
    OUT_LIT(o, ".");
    out_u64(o, e->detail);
    OUT_LIT(o, "\"");
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
    out_str(o, "[");
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (bits & names[i].bit) {
            out_fmt(o, "%s\"%s\"", first ? "" : ",", names[i].name);
            first = false;
        }
    }
    out_str(o, "]");
}

static void put_cmd(struct capbuf *o, const struct session_record *r,
                    const struct record_exchange *x)
{
    if (x->kind == RECORD_KIND_MESSAGE || x->kind == RECORD_KIND_AUTH_LINE) {
        out_fmt(o, "\"%s\"", record_kind_name((enum record_kind)x->kind));
        return;
    }
    if (x->kind == RECORD_KIND_UNSOLICITED) {
        out_str(o, "null");
        return;
    }
    if (x->verb != SMTP_VERB_UNKNOWN) {
        OUT_LIT(o, "\"");
        out_str(o, smtp_verb_name((enum smtp_verb)x->verb));
        OUT_LIT(o, "\"");
        return;
    }
    /* Unknown verb: upper-cased as the schema says, then escaped. */
    uint8_t upper[SMTP_VERB_KEEP];
    struct span v = record_span(r, x->verb_text);
    size_t n = v.len < sizeof(upper) ? v.len : sizeof(upper);
    for (size_t i = 0; i < n; i++) {
        uint8_t c = v.ptr[i];
        upper[i] = (c >= 'a' && c <= 'z') ? (uint8_t)(c - 32) : c;
    }
    escape_json(o, span_make(upper, n), sizeof(upper));
}

static void put_reply_fields(struct capbuf *o, const struct session_record *r,
                             const struct record_exchange *x)
{
    if (x->code == 0) {
        OUT_LIT(o, "\"code\":null,\"enhanced\":null,\"text\":null,\"lines\":0");
        return;
    }
    OUT_LIT(o, "\"code\":");
    out_u64(o, x->code);
    OUT_LIT(o, ",\"enhanced\":");
    put_enhanced(o, &x->enhanced);
    OUT_LIT(o, ",\"text\":");
    put_text(o, r, x->text);
    OUT_LIT(o, ",\"lines\":");
    out_u64(o, x->n_lines);
}

static void put_exchange(struct capbuf *o, const struct session_record *r,
                         const struct record_exchange *x, int64_t start_us)
{
    OUT_LIT(o, "{\"cmd\":");
    put_cmd(o, r, x);
    OUT_LIT(o, ",\"arg\":");
    if (x->kind == RECORD_KIND_COMMAND && x->arg.len > 0) {
        escape_json(o, record_span(r, x->arg), SMTP_ARG_KEEP);
    } else {
        OUT_LIT(o, "null");
    }
    OUT_LIT(o, ",");
    put_reply_fields(o, r, x);
    int64_t at = x->cmd_us >= 0 ? x->cmd_us : x->reply_first_us;
    OUT_LIT(o, ",\"latency_ms\":");
    put_ms_or_null(o, timing_delta_us(x->cmd_us, x->reply_first_us));
    OUT_LIT(o, ",\"complete_ms\":");
    put_ms_or_null(o, timing_delta_us(x->cmd_us, x->reply_last_us));
    OUT_LIT(o, ",\"t_ms\":");
    put_ms_or_null(o, timing_delta_us(start_us, at));
    if (x->kind == RECORD_KIND_UNSOLICITED) {
        OUT_LIT(o, ",\"unsolicited\":true");
    } else {
        OUT_LIT(o, ",\"unsolicited\":false");
    }
    if (x->kind == RECORD_KIND_MESSAGE || (x->kind == RECORD_KIND_COMMAND &&
                                           x->verb == SMTP_VERB_BDAT)) {
        OUT_LIT(o, ",\"size\":");
        out_u64(o, x->size);
    }
    if (x->anomalies != 0) {
        OUT_LIT(o, ",\"anomalies\":");
        put_anomalies(o, x->anomalies);
    }
    OUT_LIT(o, "}");
}

static void put_greeting(struct capbuf *o, const struct session_record *r)
{
    if (!r->has_greeting) {
        out_str(o, "null");
        return;
    }
    out_str(o, "{");
    put_reply_fields(o, r, &r->greeting);
    out_str(o, "}");
}

static void put_flags(struct capbuf *o, uint64_t flags)
{
    bool first = true;
    out_str(o, "[");
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
    out_str(o, "]");
}

static void put_auth(struct capbuf *o, const struct session_record *r)
{
    if (r->auth_mechanism.len == 0) {
        out_str(o, "null");
        return;
    }
    out_str(o, "{\"mechanism\":");
    put_text(o, r, r->auth_mechanism);
    out_str(o, ",\"user\":");
    if (r->auth_user.len > 0) {
        put_text(o, r, r->auth_user);
    } else {
        out_str(o, "null");
    }
    out_str(o, ",\"code\":");
    if (r->auth_code != 0) {
        out_fmt(o, "%u", r->auth_code);
    } else {
        out_str(o, "null");
    }
    out_str(o, "}");
}

static void put_extensions(struct capbuf *o, const struct session_record *r)
{
    uint32_t cursor = 0;
    struct span keyword;
    OUT_LIT(o, "[");
    for (uint32_t i = 0; record_next_extension(r, &cursor, &keyword); i++) {
        if (i > 0) {
            OUT_LIT(o, ",");
        }
        escape_json(o, keyword, SMTP_TEXT_KEEP);
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
    if (r->n_messages == 0) {
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

static void jsonl_session(struct writer *w, const struct session_record *r)
{
    struct capbuf *o = &w->line;
    int64_t start_us = r->syn_us >= 0 ? r->syn_us : r->est_us;
    put_key_u64(o, "{\"type\":\"session\",\"id\":", r->id);
    OUT_LIT(o, ",\"client\":");
    put_endpoint(o, &r->client);
    OUT_LIT(o, ",\"server\":");
    put_endpoint(o, &r->server);
    OUT_LIT(o, ",\"start\":");
    put_time(o, start_us);
    OUT_LIT(o, ",\"end\":");
    put_time(o, r->last_us);
    OUT_LIT(o, ",\"connect_ms\":");
    put_ms_or_null(o, timing_delta_us(r->syn_us, r->synack_us));
    OUT_LIT(o, ",\"banner_ms\":");
    /* Mid-stream there was no handshake to measure the banner from. */
    bool banner_known = r->has_greeting && !r->is_midstream;
    put_ms_or_null(o, banner_known ? timing_delta_us(r->est_us, r->greeting.reply_first_us) : -1);
    OUT_LIT(o, ",\"greeting\":");
    put_greeting(o, r);
    OUT_LIT(o, ",\"exchanges\":[");
    for (uint32_t i = 0; i < r->n_exchanges; i++) {
        if (i > 0) {
            OUT_LIT(o, ",");
        }
        put_exchange(o, r, &r->exchanges[i], start_us);
    }
    put_key_u64(o, "],\"exchanges_dropped\":", r->n_exchanges_dropped);
    put_key_u64(o, ",\"messages_attempted\":", r->messages_attempted);
    put_key_u64(o, ",\"messages_accepted\":", r->messages_accepted);
    put_key_u64(o, ",\"message_bytes\":", r->message_bytes);
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
    OUT_LIT(o, ",\"close\":\"");
    out_str(o, verdict_label_info((enum verdict_label)r->label)->name);
    OUT_LIT(o, "\",\"flags\":");
    put_flags(o, r->flags);
    OUT_LIT(o, ",\"closer\":");
    out_str(o, closer_name(r->closer));
    OUT_LIT(o, ",\"end_reason\":\"");
    out_str(o, record_end_name((enum record_end)r->end));
    put_key_u64(o, "\",\"bytes\":{\"client\":", r->bytes[SMTP_DIR_CLIENT]);
    put_key_u64(o, ",\"server\":", r->bytes[SMTP_DIR_SERVER]);
    OUT_LIT(o, "}}\n");
    writer_flush_line(w);
    if (w->flush_each && fflush(w->out) != 0) {
        w->failed = true;
    }
}

static void put_hist(struct capbuf *o, const struct latency_hist *h)
{
    out_fmt(o, "{\"n\":%llu", (unsigned long long)h->n);
    if (h->n == 0) {
        out_str(o, "}");
        return;
    }
    static const struct {
        const char *name;
        double q;
    } qs[] = {{"p50", 0.50}, {"p90", 0.90}, {"p99", 0.99}};
    for (size_t i = 0; i < sizeof(qs) / sizeof(qs[0]); i++) {
        out_fmt(o, ",\"%s_ms\":", qs[i].name);
        out_ms(o, latency_quantile(h, qs[i].q));
    }
    out_str(o, ",\"min_ms\":");
    out_ms(o, h->min_us);
    out_str(o, ",\"max_ms\":");
    out_ms(o, h->max_us);
    out_str(o, "}");
}

static void put_counts(struct capbuf *o, const struct run_stats *st)
{
    out_str(o, ",\"labels\":{");
    for (int l = 0; l < VERDICT_LABEL_COUNT; l++) {
        out_fmt(o, "%s\"%s\":%llu", l ? "," : "", verdict_label_info((enum verdict_label)l)->name,
                (unsigned long long)st->labels[l]);
    }
    out_str(o, "},\"flags\":{");
    bool first = true;
    for (int f = 0; f < VERDICT_FLAG_COUNT; f++) {
        if (st->flags[f] > 0) {
            out_fmt(o, "%s\"%s\":%llu", first ? "" : ",",
                    verdict_flag_info((enum verdict_flag)f)->name,
                    (unsigned long long)st->flags[f]);
            first = false;
        }
    }
    out_str(o, "},\"reply_codes\":{");
    first = true;
    for (int c = 0; c < 1000; c++) {
        if (st->reply_codes[c] > 0) {
            out_fmt(o, "%s\"%d\":%llu", first ? "" : ",", c, (unsigned long long)st->reply_codes[c]);
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
        out_fmt(o, "%s\"%s\":", first ? "" : ",", smtp_verb_name((enum smtp_verb)v));
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
            (unsigned long long)(in->by_decode[DECODE_IPV6_UNSUPPORTED] + in->n_ipv6_too_big),
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
}

static void jsonl_summary(struct writer *w, const struct run_report *rep)
{
    struct capbuf *o = &w->line;
    const struct run_stats *st = rep->stats;
    const struct run_input *in = rep->input;
    out_fmt(o, "{\"type\":\"summary\",\"packets\":%llu,\"bytes\":%llu,\"first\":",
            (unsigned long long)in->n_packets, (unsigned long long)in->n_bytes);
    put_time(o, in->first_us);
    out_str(o, ",\"last\":");
    put_time(o, in->last_us);
    out_fmt(o, ",\"sessions\":%llu,\"messages_attempted\":%llu,\"messages_accepted\":%llu",
            (unsigned long long)st->n_sessions, (unsigned long long)st->n_messages_attempted,
            (unsigned long long)st->n_messages_accepted);
    put_counts(o, st);
    put_latencies(o, st);
    put_coverage(o, in);
    if (in->is_live) {
        out_fmt(o, ",\"drops\":{\"kernel\":%llu,\"interface\":%llu}",
                (unsigned long long)in->n_dropped, (unsigned long long)in->n_if_dropped);
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
