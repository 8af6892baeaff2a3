/*
 * fuzz_pcap.c - libFuzzer harness for the whole pipeline on capture bytes.
 *
 * The input is a capture file (pcap or pcapng, plain or compressed with
 * gzip, xz or zstd: seeds of each are in the corpus).  It is written to a memfd
 * and opened with capture_set_open("/proc/self/fd/N"), the reading path
 * main.c takes for -r (read-ahead thread included when knob 9.0 says so),
 * and every packet goes through the pipeline (pipeline.h) as in main.c:
 * this file has no packet dispatch of its own.  Each frame is handed over
 * as an exact copy, so that any read past its captured bytes is caught.
 * Records reach the sink below, which checks them and feeds the JSON and
 * terminal writers (to checking FILEs, fuzz_common.h).
 *
 * libnids is a process-wide singleton (docs: libnids-notes.md 6).  Each
 * input gets its own pipeline_open() ... pipeline_close() cycle: nids_init()
 * with our DLT_RAW handle and no BPF filter cannot fail after opening its
 * input, so the double free that follows a failed re-init cannot happen;
 * if it ever fails the harness aborts at once rather than run a
 * half-initialised libnids.  nids_exit() leaks a few small callback nodes
 * per cycle (and any pending fragment queues); lsan.supp silences leaks
 * whose stack is inside libnids.
 *
 * Knobs from the pcap header's ignored fields (thiszone, sigfigs: bytes
 * 8-15 of a classic pcap file; real captures have zeros there):
 *   byte 8 bits 0-1   libnids table size: 64, 16, 1024, 256
 *   byte 8 bit 2      verify checksums
 *   byte 8 bit 3      order window 2 (else the default 4096)
 *   byte 8 bit 4      idle timeout 1 s (else the defaults)
 *   byte 8 bit 5      print the run summaries (else only when size % 64 == 0)
 *   byte 8 bit 6      free every emptied libnids buffer
 *   byte 8 bit 7      prefetch (look ahead) from the first session on
 *   byte 9 bit 0      read ahead on a thread, as main.c does with two CPUs
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
#include "fuzz_common.h"
#include "fuzz_record.h"
#include "pipeline.h"
#include "stats.h"
#include "smtp_limits.h"
#include "smtpscope.h"
#include "writer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint16_t g_ports[] = {25, 465, 587};
static const uint16_t g_tls_ports[] = {465};

struct harness {
    struct capture_set files;
    struct pipeline pipe;
    struct run_stats *stats;
    struct writer json;
    struct writer text;
    FILE *json_out;
    FILE *text_out;
    uint64_t n_records;
};

/* The sink: every record is checked, then counted and written. */
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

/* The frame two ahead, as an exact copy, so that ASan checks what the
 * hint code reads of it. */
static void look_ahead(struct harness *h)
{
    const uint8_t *frame;
    size_t caplen;
    int linktype;
    if (capture_set_peek(&h->files, 2, &frame, &caplen, &linktype)) {
        uint8_t *copy = fuzz_dup(frame, caplen);
        pipeline_hint(&h->pipe, linktype, copy, caplen);
        free(copy);
    } else {
        pipeline_hint(&h->pipe, 0, NULL, 0);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const int table_sizes[4] = {64, 16, 1024, 256};
    char err[512] = "";
    uint8_t knobs = 0;
    uint8_t knobs2 = 0;
    if (size >= 16 && data[0] != 0x0a) { /* classic pcap, not pcapng's 0a0d0d0a */
        knobs = data[8] ^ data[12];
        knobs2 = data[9] ^ data[13];
    }
    /* capture_set_open() takes paths and picks libpcap or our pcapng
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
    const char *paths[1] = {path};
    int orc = capture_set_open(&h->files, paths, 1, err, sizeof(err));
    close(fd); /* the capture opened its own descriptor */
    FUZZ_CHECK(orc == SMTPSCOPE_OK || orc == SMTPSCOPE_ERR_INPUT_OPEN ||
               orc == SMTPSCOPE_ERR_INPUT_DAMAGED);
    if (orc != SMTPSCOPE_OK) {
        capture_set_close(&h->files);
        free(h);
        return 0;
    }
    int linktype = h->files.files[0].linktype;
    (void)capture_linktype_name(linktype);
    /* main.c: a pcap file of an unknown link type is refused; pcapng
     * (linktype -1) is checked per packet. */
    if (linktype >= 0 && !decode_linktype_supported(linktype)) {
        capture_set_close(&h->files);
        free(h);
        return 0;
    }
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
    struct pipeline_config cfg = {
        .ports = g_ports,
        .n_ports = sizeof(g_ports) / sizeof(g_ports[0]),
        .discover_ports = true,
        .tls_ports = g_tls_ports,
        .n_tls_ports = 1,
        .idle_timeout_us = idle_short ? 1000000 : SESSION_IDLE_TIMEOUT_US,
        .idle_timeout_data_us = idle_short ? 1000000 : SESSION_IDLE_TIMEOUT_DATA_US,
        .order_window = (knobs & 8) ? 2 : ORDER_WINDOW_DEFAULT,
        .max_streams = table_sizes[knobs & 3],
        .verify_checksums = (knobs & 4) != 0,
        /* With short idle timeouts, holes are given up at once too. */
        .reorder_window_us = idle_short ? 0 : REORDER_WINDOW_MS_DEFAULT * 1000LL,
        .reorder_packets = REORDER_PACKETS_DEFAULT,
        .free_buffers_above = (knobs & 64) ? 0 : STREAM_FREE_BUFFERS_ABOVE_DEFAULT,
        .prefetch_above = (knobs & 128) ? 0 : PREFETCH_ABOVE_DEFAULT,
        .sink = {emit, h},
    };
    if (pipeline_open(&h->pipe, &cfg, err, sizeof(err)) != SMTPSCOPE_OK) {
        /* libnids cannot be re-initialised safely after a failure. */
        fprintf(stderr, "fuzz_pcap: pipeline_open failed: %s\n", err);
        abort();
    }
    capture_set_read_ahead(&h->files, (knobs2 & 1) ? 1 : 0);

    struct capture_packet pkt;
    int rc;
    while ((rc = capture_set_next(&h->files, &pkt, err, sizeof(err))) == 1) {
        FUZZ_CHECK(pkt.data != NULL || pkt.caplen == 0);
        if (pipeline_wants_hints(&h->pipe)) {
            look_ahead(h);
        }
        /* An exact copy of the frame: reads past its end are caught. */
        uint8_t *frame = fuzz_dup(pkt.data, pkt.caplen);
        pkt.data = frame;
        pipeline_packet(&h->pipe, &pkt);
        free(frame);
        /* The live loop's timer work, driven by packet time here. */
        if ((h->pipe.input.n_packets & 63) == 0) {
            pipeline_tick(&h->pipe, h->pipe.input.last_us);
        }
    }
    FUZZ_CHECK(rc == 0 || rc == SMTPSCOPE_ERR_INPUT_DAMAGED);

    pipeline_finish(&h->pipe, RECORD_END_END_OF_INPUT);
    FUZZ_CHECK(pipeline_sessions_open(&h->pipe) == 0);
    FUZZ_CHECK(h->n_records == h->pipe.table.stats.n_emitted);
    FUZZ_CHECK(h->pipe.table.stats.n_emitted == pipeline_sessions_opened(&h->pipe));
    struct run_input in = h->pipe.input;
    in.source = "fuzz";
    in.linktype_name = linktype >= 0 ? capture_linktype_name(linktype) : "per interface (pcapng)";
    in.error = rc < 0 ? err : NULL;
    struct run_report rep = {h->stats, &in};
    /* The summaries walk every latency histogram (slow under coverage
     * tracing): print them for one input in 64, or when knob bit 5 says so. */
    if (summaries) {
        h->json.summary(&h->json, &rep);
        h->text.summary(&h->text, &rep);
    }
    FUZZ_CHECK(!h->json.failed && !h->text.failed);

    pipeline_close(&h->pipe);
    capture_set_close(&h->files);
    writer_free(&h->json);
    writer_free(&h->text);
    fclose(h->json_out);
    fclose(h->text_out);
    free(h);
    return 0;
}
