/*
 * pipeline.c - one captured packet at a time, from frame to session.
 *
 * capture -> decode -> port choice -> stream (libnids glue) -> session.
 * Everything a packet is counted as (decode result, not TCP, fragment,
 * other port) is counted here and only here; the stream and session
 * layers count what happens inside connections, and pipeline_finish()
 * gathers both into one struct run_input for the writers.
 *
 * Port discovery: a capture of SMTP on a port nobody named (2525, 8025)
 * would read as empty.  A server whose very first byte on a connection
 * (its sequence number is the SYN/ACK's plus one) starts "220 " or "220-"
 * has its port noted; the caller may read the input again with it.
 * Tunnels (SOCKS, HTTP CONNECT) answer something else first.
 *
 * SPDX-License-Identifier: MIT
 */
#include "pipeline.h"

#include <stdio.h>
#include <string.h>

#include "smtpscope.h"
#include "stream_nids.h"

int pipeline_open(struct pipeline *p, const struct pipeline_config *cfg, char *err,
                  size_t errlen)
{
    memset(p, 0, sizeof(*p));
    p->cfg = *cfg;
    p->input.first_us = -1;
    p->input.last_us = -1;
    port_set_from(&p->ports, cfg->ports, cfg->n_ports);
    port_set_from(&p->tls_ports, cfg->tls_ports, cfg->n_tls_ports);
    struct session_config scfg = {
        .implicit_tls = &p->tls_ports,
        .idle_timeout_us = cfg->idle_timeout_us,
        .idle_timeout_data_us = cfg->idle_timeout_data_us,
        .order_window = cfg->order_window,
        .glue_size = STREAM_GLUE_SIZE,
        .resume_client = stream_resume_client,
        .prefetch_above = cfg->prefetch_above,
        .content = cfg->content,
    };
    if (!session_table_init(&p->table, &scfg, cfg->sink)) {
        session_table_free(&p->table);
        snprintf(err, errlen, "out of memory");
        return SMTPSCOPE_ERR_INTERNAL;
    }
    p->opened = true;
    struct stream_config stcfg = {
        .max_streams = cfg->max_streams,
        .free_buffers_above = cfg->free_buffers_above,
        .prefetch_above = cfg->prefetch_above,
        .verify_checksums = cfg->verify_checksums,
        .reorder_window_us = cfg->reorder_window_us,
        .reorder_packets = cfg->reorder_packets,
        .ports = &p->ports,
    };
    int rc = stream_init(&stcfg, &p->table, err, errlen);
    p->stream_started = rc == SMTPSCOPE_OK;
    return rc;
}

/* A TCP segment on a port we do not analyse: remember where each server
 * starts (SYN/ACK), and the port of one whose first bytes are a greeting. */
static void note_other_port(struct pipeline *p, const struct decoded *d, bool is_ipv6)
{
    if (!p->cfg.discover_ports || !d->has_ports ||
        p->n_greeting_ports == PIPELINE_GREETING_PORTS) {
        return;
    }
    const uint8_t *th = is_ipv6 ? d->l4 : d->ip + (size_t)(d->ip[0] & 0x0F) * 4;
    size_t seg_len = is_ipv6 ? d->l4_len : d->ip_len - (size_t)(d->ip[0] & 0x0F) * 4;
    struct tcp_view v;
    if (!tcp_view_read(th, seg_len, &v)) {
        return;
    }
    uint32_t a = is_ipv6 ? flow_fold6(d->ip + 8) : be32_at(d->ip + 12);
    uint32_t b = is_ipv6 ? flow_fold6(d->ip + 24) : be32_at(d->ip + 16);
    uint64_t key = flow_hash(a, v.sport, b, v.dport);
    __typeof__(p->first_seq[0]) *slot = &p->first_seq[key % PIPELINE_FIRST_SEQ_SLOTS];
    if ((v.flags & (TCP_FLAG_SYN | TCP_FLAG_ACK)) == (TCP_FLAG_SYN | TCP_FLAG_ACK)) {
        slot->key = key; /* the server's first byte is next */
        slot->seq = v.seq + 1;
        return;
    }
    const uint8_t *payload = th + v.header_len;
    if (v.payload < 4 || slot->key != key || slot->seq != v.seq ||
        memcmp(payload, "220", 3) != 0 || (payload[3] != ' ' && payload[3] != '-')) {
        return;
    }
    for (size_t i = 0; i < p->n_greeting_ports; i++) {
        if (p->greeting_ports[i] == v.sport) {
            return;
        }
    }
    p->greeting_ports[p->n_greeting_ports++] = v.sport;
}

static bool port_chosen(const struct pipeline *p, const struct decoded *d)
{
    return port_set_has(&p->ports, d->sport) || port_set_has(&p->ports, d->dport);
}

/* The one call of decode_frame(), so that it is inlined here. */
static __attribute__((noinline)) void classify(struct pipeline *p,
                                               const struct capture_packet *pkt,
                                               struct pipeline_item *out)
{
    struct run_input *in = &p->input;
    struct decoded *d = &out->d;
    out->feed = PIPELINE_SKIP;
    out->input = pkt->input;
    in->n_packets++;
    in->n_bytes += pkt->caplen;
    if (in->first_us < 0) {
        in->first_us = pkt->ts_us;
    }
    /* Packets with times going backwards keep the clock where it was. */
    if (pkt->ts_us > in->last_us) {
        in->last_us = pkt->ts_us;
    }
    out->now_us = in->last_us;
    if (!decode_linktype_supported(pkt->linktype)) {
        in->n_unsupported_link++;
        return;
    }
    enum decode_result r = decode_frame(pkt->linktype, pkt->data, pkt->caplen, d);
    if (r == DECODE_IPV6) {
        if (!port_chosen(p, d)) {
            in->n_other_ports++;
            note_other_port(p, d, true);
            return;
        }
        in->by_decode[r]++;
        out->feed = PIPELINE_IPV6;
        return;
    }
    if (r != DECODE_IPV4) {
        in->by_decode[r]++;
        return;
    }
    if (d->ip_proto != 6) {
        in->n_not_tcp++;
        return;
    }
    if (d->is_fragment) {
        in->n_fragments++;
    } else if (!d->has_ports) {
        in->by_decode[DECODE_MALFORMED]++;
        return;
    } else if (!port_chosen(p, d)) {
        in->n_other_ports++;
        note_other_port(p, d, false);
        return;
    }
    in->by_decode[DECODE_IPV4]++;
    out->feed = d->is_offload ? PIPELINE_IPV4_OFFLOAD : PIPELINE_IPV4;
}

static inline __attribute__((always_inline)) void feed(const struct pipeline_item *it)
{
    /* The common case first: one compare, not a jump table. */
    if (it->feed == PIPELINE_IPV4) {
        stream_feed_ipv4(it->d.ip, it->d.ip_len, it->now_us);
    } else if (it->feed == PIPELINE_IPV6) {
        stream_feed_ipv6(it->d.ip, it->d.l4, it->d.l4_len, it->now_us, it->d.is_offload);
    } else if (it->feed == PIPELINE_IPV4_OFFLOAD) {
        stream_feed_ipv4_offload(it->d.ip, it->d.ip_len, it->now_us);
    }
}

void pipeline_classify(struct pipeline *p, const struct capture_packet *pkt,
                       struct pipeline_item *out)
{
    classify(p, pkt, out);
}

void pipeline_feed(struct pipeline *p, const struct pipeline_item *it)
{
    p->table.input = it->input; /* for a session this packet opens */
    feed(it);
}

void pipeline_packet(struct pipeline *p, const struct capture_packet *pkt)
{
    struct pipeline_item it;
    classify(p, pkt, &it);
    p->table.input = it.input;
    feed(&it);
}

void pipeline_hint(struct pipeline *p, int linktype, const uint8_t *frame, size_t caplen)
{
    (void)p;
    const uint8_t *ip;
    size_t ip_len;
    if (frame != NULL && decode_ipv4_quick(linktype, frame, caplen, &ip, &ip_len)) {
        stream_prefetch_ipv4(ip, ip_len);
    } else {
        stream_prefetch_ipv4(NULL, 0);
    }
}

void pipeline_tick(struct pipeline *p, int64_t now_us)
{
    (void)p;
    stream_tick(now_us);
}

static void gather_coverage(struct pipeline *p)
{
    struct stream_stats ss;
    stream_get_stats(&ss);
    struct run_input *in = &p->input;
    in->n_established = ss.n_established;
    in->n_midstream = ss.n_midstream;
    in->n_offload_segments = ss.n_offload_segments;
    in->n_window_reopened = ss.n_window_reopened;
    in->n_held_back = ss.n_held_back;
    in->n_holes = ss.n_holes;
    in->n_hole_bytes = ss.n_hole_bytes;
    in->n_waiting_max = ss.n_waiting_max;
    in->n_reorder_overflow = ss.n_reorder_overflow;
    in->n_unattached_packets = ss.n_unattached_packets;
    in->n_unattached_flows = ss.n_unattached_flows;
    in->n_evicted = ss.n_evicted;
    in->n_idle = ss.n_idle;
    in->n_port_reused = ss.n_port_reused;
    in->n_open_at_end = ss.n_open_at_end;
    in->n_session_failed = ss.n_session_failed + p->table.stats.n_alloc_failed;
    in->n_out_of_order = p->table.stats.n_out_of_order;
    in->n_tcp_header_invalid = ss.warnings[7] + ss.warnings[4];
    in->n_queue_pruned = ss.warnings[8];
    in->n_ip_warnings = ss.warnings[1] + ss.warnings[2] + ss.warnings[3] + ss.warnings[5];
}

void pipeline_finish(struct pipeline *p, enum record_end reason)
{
    if (p->finished) {
        return;
    }
    p->finished = true;
    if (p->stream_started) {
        stream_finish(reason, p->input.last_us);
        gather_coverage(p);
    }
    session_table_flush(&p->table);
}

void pipeline_close(struct pipeline *p)
{
    if (!p->opened) {
        return;
    }
    pipeline_finish(p, RECORD_END_END_OF_INPUT);
    session_table_free(&p->table);
    p->opened = false;
}

void pipeline_input_merge(struct run_input *dst, const struct run_input *src)
{
    if (src->first_us >= 0 && (dst->first_us < 0 || src->first_us < dst->first_us)) {
        dst->first_us = src->first_us;
    }
    if (src->last_us > dst->last_us) {
        dst->last_us = src->last_us;
    }
    dst->n_packets += src->n_packets;
    dst->n_bytes += src->n_bytes;
    for (int i = 0; i < DECODE_RESULT_COUNT; i++) {
        dst->by_decode[i] += src->by_decode[i];
    }
    dst->n_not_tcp += src->n_not_tcp;
    dst->n_unsupported_link += src->n_unsupported_link;
    dst->n_other_ports += src->n_other_ports;
    dst->n_fragments += src->n_fragments;
    dst->n_established += src->n_established;
    dst->n_midstream += src->n_midstream;
    dst->n_offload_segments += src->n_offload_segments;
    dst->n_window_reopened += src->n_window_reopened;
    dst->n_held_back += src->n_held_back;
    dst->n_holes += src->n_holes;
    dst->n_hole_bytes += src->n_hole_bytes;
    if (src->n_waiting_max > dst->n_waiting_max) {
        dst->n_waiting_max = src->n_waiting_max;
    }
    dst->n_reorder_overflow += src->n_reorder_overflow;
    dst->n_unattached_packets += src->n_unattached_packets;
    dst->n_unattached_flows += src->n_unattached_flows;
    dst->n_evicted += src->n_evicted;
    dst->n_idle += src->n_idle;
    dst->n_port_reused += src->n_port_reused;
    dst->n_open_at_end += src->n_open_at_end;
    dst->n_session_failed += src->n_session_failed;
    dst->n_out_of_order += src->n_out_of_order;
    dst->n_tcp_header_invalid += src->n_tcp_header_invalid;
    dst->n_queue_pruned += src->n_queue_pruned;
    dst->n_ip_warnings += src->n_ip_warnings;
    dst->n_dropped += src->n_dropped;
    dst->n_if_dropped += src->n_if_dropped;
}
