/*
 * fuzz_pcap.c - libFuzzer harness for the whole pipeline on capture bytes.
 *
 * The input is a capture file (pcap or pcapng).  It is written to a memfd
 * and opened with capture_open_offline("/proc/self/fd/N"), so libpcap or
 * our own pcapng reader is chosen exactly as for a real file, and run
 * through the same wiring as main.c: capture_next -> decode_frame -> port
 * selection -> stream_feed_ipv4/ipv6 (libnids) -> session -> stats and the JSON
 * and terminal writers (to checking FILEs, fuzz_common.h).  main() itself
 * cannot be called, so this file repeats main.c's handle_packet() and
 * finish() in a few lines; keep them in step.
 *
 * libnids is a process-wide singleton (docs: libnids-notes.md 6).  Each
 * input gets its own stream_init() ... stream_finish() cycle: nids_init()
 * with our DLT_RAW handle and no BPF filter cannot fail after opening its
 * input, so the double free that follows a failed re-init cannot happen;
 * if stream_init() ever fails the harness aborts at once rather than run
 * a half-initialised libnids.  nids_exit() leaks a few small callback
 * nodes per cycle (and any pending fragment queues); lsan.supp silences
 * leaks whose stack is inside libnids.
 *
 * Knobs from the pcap header's ignored fields (thiszone, sigfigs: bytes
 * 8-15 of a classic pcap file; real captures have zeros there):
 *   byte 8 bits 0-1   libnids table size: 64, 16, 1024, 256
 *   byte 8 bit 2      verify checksums
 *   byte 8 bit 3      order window 2 (else the default 4096)
 *   byte 8 bit 4      idle timeout 1 s (else the defaults)
 *   byte 8 bit 5      print the run summaries (else only when size % 64 == 0)
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "capture.h"
#include "decode.h"
#include "fuzz_common.h"
#include "fuzz_record.h"
#include "report.h"
#include "session.h"
#include "smtp_limits.h"
#include "smtpscope.h"
#include "stream.h"
#include "writer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint16_t g_ports[] = {25, 465, 587};
static const uint16_t g_tls_ports[] = {465};

struct harness {
    struct capture cap;
    struct session_table table;
    struct run_stats *stats;
    struct run_input input;
    struct writer json;
    struct writer text;
    FILE *json_out;
    FILE *text_out;
    uint64_t n_records;
};

static void emit(void *ctx, const struct session_record *r)
{
    struct harness *h = ctx;
    h->n_records++;
    fuzz_check_record(r);
    FUZZ_CHECK(r->client.family == r->server.family);
    FUZZ_CHECK(r->client.family == 4 || r->client.family == 6);
    stats_add(h->stats, r);
    h->json.session(&h->json, r);
    h->text.session(&h->text, r);
}

static bool port_selected(uint16_t port)
{
    for (size_t i = 0; i < sizeof(g_ports) / sizeof(g_ports[0]); i++) {
        if (g_ports[i] == port) {
            return true;
        }
    }
    return false;
}

/* main.c handle_packet(), with the decode contract checked. */
static void handle_packet(struct harness *h, const struct capture_packet *pkt)
{
    struct run_input *in = &h->input;
    struct decoded d;
    in->n_packets++;
    in->n_bytes += pkt->caplen;
    if (in->first_us < 0) {
        in->first_us = pkt->ts_us;
    }
    if (pkt->ts_us > in->last_us) {
        in->last_us = pkt->ts_us;
    }
    if (!decode_linktype_supported(pkt->linktype)) {
        in->n_unsupported_link++;
        return;
    }
    enum decode_result r = decode_frame(pkt->linktype, pkt->data, pkt->caplen, &d);
    FUZZ_CHECK((unsigned)r < DECODE_RESULT_COUNT);
    (void)decode_result_name(r);
    if (r == DECODE_IPV6) {
        /* decode.h: l4 is the TCP segment after the extension headers. */
        FUZZ_CHECK(d.ip >= pkt->data && (size_t)(d.ip - pkt->data) + 40 <= pkt->caplen);
        FUZZ_CHECK(d.l4 >= d.ip && (size_t)(d.l4 - pkt->data) <= pkt->caplen);
        FUZZ_CHECK(d.l4_len <= pkt->caplen - (size_t)(d.l4 - pkt->data));
        if (!port_selected(d.sport) && !port_selected(d.dport)) {
            in->n_other_ports++;
            return;
        }
        in->by_decode[r]++;
        int64_t now6 = pkt->ts_us < in->last_us ? in->last_us : pkt->ts_us;
        /* Exact copies, so reads past the header or segment are caught. */
        uint8_t *ip6 = fuzz_dup(d.ip, 40);
        uint8_t *l4 = fuzz_dup(d.l4, d.l4_len);
        stream_feed_ipv6(ip6, l4, d.l4_len, now6, d.is_offload);
        free(ip6);
        free(l4);
        return;
    }
    if (r != DECODE_IPV4) {
        in->by_decode[r]++;
        return;
    }
    /* decode.h: out->ip borrows from the frame and all ip_len bytes are captured. */
    FUZZ_CHECK(d.ip >= pkt->data && (size_t)(d.ip - pkt->data) <= pkt->caplen);
    FUZZ_CHECK(d.ip_len <= pkt->caplen - (size_t)(d.ip - pkt->data));
    FUZZ_CHECK(d.ip_len >= 20);
    if (d.ip_proto != 6) {
        in->n_not_tcp++;
        return;
    }
    if (d.is_fragment) {
        in->n_fragments++;
    } else if (!d.has_ports) {
        in->by_decode[DECODE_MALFORMED]++;
        return;
    } else if (!port_selected(d.sport) && !port_selected(d.dport)) {
        in->n_other_ports++;
        return;
    }
    in->by_decode[DECODE_IPV4]++;
    int64_t now = pkt->ts_us < in->last_us ? in->last_us : pkt->ts_us;
    /* An exact copy of the IP packet, so libnids' reads are checked too. */
    uint8_t *ip = fuzz_dup(d.ip, d.ip_len);
    if (d.is_offload) {
        stream_feed_ipv4_offload(ip, d.ip_len, now);
    } else {
        stream_feed_ipv4(ip, d.ip_len, now);
    }
    free(ip);
}

/* main.c look_ahead(), on an exact copy of the IP bytes so that ASan
 * checks what the hint code reads of them. */
static void look_ahead(struct harness *h)
{
    const uint8_t *data;
    size_t caplen;
    int linktype;
    const uint8_t *ip;
    size_t ip_len;
    if (capture_peek(&h->cap, 2, &data, &caplen, &linktype) &&
        decode_ipv4_quick(linktype, data, caplen, &ip, &ip_len)) {
        FUZZ_CHECK(ip >= data && ip_len <= caplen - (size_t)(ip - data));
        uint8_t *copy = fuzz_dup(ip, ip_len);
        stream_prefetch_ipv4(copy, ip_len);
        free(copy);
    } else {
        stream_prefetch_ipv4(NULL, 0);
    }
}

/* main.c gather_coverage(). */
static void gather_coverage(struct harness *h)
{
    struct stream_stats ss;
    stream_get_stats(&ss);
    struct run_input *in = &h->input;
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
    in->n_session_failed = ss.n_session_failed + h->table.stats.n_alloc_failed;
    in->n_out_of_order = h->table.stats.n_out_of_order;
    in->n_tcp_header_invalid = ss.warnings[7] + ss.warnings[4];
    (void)capture_drops(&h->cap, &in->n_dropped, &in->n_if_dropped);
    in->n_queue_pruned = ss.warnings[8];
    in->n_ip_warnings = ss.warnings[1] + ss.warnings[2] + ss.warnings[3] + ss.warnings[5];
    for (int i = 0; i < STREAM_WARN_COUNT; i++) {
        (void)stream_warning_name(i);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const int table_sizes[4] = {64, 16, 1024, 256};
    char err[512] = "";
    uint8_t knobs = 0;
    if (size >= 16 && data[0] != 0x0a) { /* classic pcap, not pcapng's 0a0d0d0a */
        knobs = data[8] ^ data[12];
    }
    /* capture_open_offline() takes a path and picks libpcap or our pcapng
     * reader from the magic, as for a real file: give it a memfd. */
    int fd = memfd_create("fuzz_pcap", 0);
    if (fd < 0) {
        abort();
    }
    if (size > 0 && write(fd, data, size) != (ssize_t)size) {
        abort();
    }
    char path[64];
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    struct harness *h = calloc(1, sizeof(*h));
    if (h == NULL) {
        abort();
    }
    int orc = capture_open_offline(&h->cap, path, err, sizeof(err));
    close(fd); /* the capture opened its own descriptor */
    FUZZ_CHECK(orc == SMTPSCOPE_OK || orc == SMTPSCOPE_ERR_INPUT_OPEN ||
               orc == SMTPSCOPE_ERR_INPUT_DAMAGED);
    if (orc != SMTPSCOPE_OK) {
        capture_close(&h->cap);
        free(h);
        return 0;
    }
    h->cap.source = "fuzz";
    (void)capture_linktype_name(h->cap.linktype);
    /* main.c: a pcap file of an unknown link type is refused; pcapng
     * (linktype -1) is checked per packet. */
    if (h->cap.linktype >= 0 && !decode_linktype_supported(h->cap.linktype)) {
        capture_close(&h->cap);
        free(h);
        return 0;
    }
    h->input.source = "fuzz";
    h->input.linktype_name =
        h->cap.linktype >= 0 ? capture_linktype_name(h->cap.linktype) : "per interface (pcapng)";
    h->input.first_us = -1;
    h->input.last_us = -1;
    /* struct run_stats is over 1 MB: allocated once, reset per input. */
    static struct run_stats *stats;
    if (stats == NULL) {
        if ((stats = malloc(sizeof(*stats))) == NULL) {
            abort();
        }
        stats_init(stats);
    }
    h->stats = stats;
    bool summaries = (size & 63) == 0 || (knobs & 32);
    if (summaries) {
        stats_init(h->stats); /* else keep accumulating: stats_add still runs */
    }
    h->json_out = fuzz_out_open(FUZZ_OUT_JSON);
    h->text_out = fuzz_out_open(FUZZ_OUT_TERMINAL);
    writer_jsonl_init(&h->json, h->json_out);
    writer_text_init(&h->text, h->text_out);

    bool idle_short = knobs & 16;
    struct session_config scfg = {
        .implicit_tls_ports = g_tls_ports,
        .n_implicit_tls_ports = 1,
        .idle_timeout_us = idle_short ? 1000000 : SESSION_IDLE_TIMEOUT_US,
        .idle_timeout_data_us = idle_short ? 1000000 : SESSION_IDLE_TIMEOUT_DATA_US,
        .order_window = (knobs & 8) ? 2 : ORDER_WINDOW_DEFAULT,
        .glue_size = STREAM_GLUE_SIZE,
        .resume_client = stream_resume_client,
        /* Half the inputs prefetch from the first session on. */
        .prefetch_above = (knobs & 128) ? 0 : PREFETCH_ABOVE_DEFAULT,
    };
    struct session_sink sink = {emit, h};
    FUZZ_CHECK(session_table_init(&h->table, &scfg, sink));
    struct stream_config cfg = {
        .max_streams = table_sizes[knobs & 3],
        .verify_checksums = (knobs & 4) != 0,
        /* With short idle timeouts, holes are given up at once too. */
        .reorder_window_us = idle_short ? 0 : REORDER_WINDOW_MS_DEFAULT * 1000LL,
        .reorder_packets = REORDER_PACKETS_DEFAULT,
        /* Half the inputs free every emptied libnids buffer. */
        .free_buffers_above = (knobs & 64) ? 0 : STREAM_FREE_BUFFERS_ABOVE_DEFAULT,
        .prefetch_above = (knobs & 128) ? 0 : PREFETCH_ABOVE_DEFAULT,
        .ports = g_ports,
        .n_ports = sizeof(g_ports) / sizeof(g_ports[0]),
    };
    if (stream_init(&cfg, &h->table, err, sizeof(err)) != SMTPSCOPE_OK) {
        /* libnids cannot be re-initialised safely after a failure. */
        fprintf(stderr, "fuzz_pcap: stream_init failed: %s\n", err);
        abort();
    }

    struct capture_packet pkt;
    int rc;
    while ((rc = capture_next(&h->cap, &pkt, err, sizeof(err))) == 1) {
        FUZZ_CHECK(pkt.data != NULL || pkt.caplen == 0);
        if ((knobs & 128) && h->table.stats.n_open > 0) {
            look_ahead(h);
        }
        handle_packet(h, &pkt);
        /* The live loop's timer work, driven by packet time here. */
        if ((h->input.n_packets & 63) == 0) {
            stream_tick(h->input.last_us);
        }
    }
    FUZZ_CHECK(rc == 0 || rc == SMTPSCOPE_ERR_INPUT_DAMAGED);
    if (rc < 0) {
        h->input.error = err;
    }

    stream_finish(RECORD_END_END_OF_INPUT, h->input.last_us);
    session_table_flush(&h->table);
    FUZZ_CHECK(h->table.stats.n_open == 0);
    FUZZ_CHECK(h->n_records == h->table.stats.n_emitted);
    FUZZ_CHECK(h->table.stats.n_emitted == h->table.stats.n_opened);
    gather_coverage(h);
    struct run_report rep = {h->stats, &h->input};
    /* The summaries walk every latency histogram (slow under coverage
     * tracing): print them for one input in 64, or when knob bit 5 says so. */
    if (summaries) {
        h->json.summary(&h->json, &rep);
        h->text.summary(&h->text, &rep);
    }
    FUZZ_CHECK(!h->json.failed && !h->text.failed);

    session_table_free(&h->table);
    capture_close(&h->cap);
    writer_free(&h->json);
    writer_free(&h->text);
    fclose(h->json_out);
    fclose(h->text_out);
    free(h);
    return 0;
}
