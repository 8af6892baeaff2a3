/*
 * pipeline.h - the one path from a captured packet to finished session
 * records: decode, port choice, the libnids glue, sessions, coverage.
 *
 * Role: every caller that has packets (the command line reading files or
 * an interface, each worker process, the fuzz harness) runs them through
 * these functions and nothing else, so that what is counted, skipped and
 * reassembled cannot differ between them.  Records leave through the
 * session sink in the configuration; the input and coverage counters are
 * in pipeline.input once pipeline_finish() has run.
 *
 * A packet goes in two steps, which a single process runs back to back
 * (pipeline_packet) and the worker split runs in two processes:
 *   pipeline_classify()  decode, count, choose by port, note greetings on
 *                        other ports; says what to feed, if anything;
 *   pipeline_feed()      hand it to the stream layer (libnids).
 *
 * libnids is one per process, so there is one open pipeline per process.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef PIPELINE_H
#define PIPELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "capture.h"
#include "decode.h"
#include "flow.h"
#include "record.h"
#include "stats.h"
#include "session.h"

#define PIPELINE_PORTS_MAX 64
#define PIPELINE_GREETING_PORTS 8
/* Where each server on a port we do not analyse starts its byte stream:
 * (flow hash, ISN + 1) from SYN/ACKs, direct-mapped. */
#define PIPELINE_FIRST_SEQ_SLOTS 1024

struct pipeline_config {
    const uint16_t *ports;       /* server ports analysed */
    size_t n_ports;
    bool discover_ports;         /* note SMTP greetings on other ports */
    const uint16_t *tls_ports;   /* implicit-TLS ports among them */
    size_t n_tls_ports;
    int64_t idle_timeout_us;
    int64_t idle_timeout_data_us;
    size_t order_window;         /* session_config.order_window */
    int max_streams;
    uint64_t free_buffers_above;
    uint64_t prefetch_above;
    bool verify_checksums;
    int64_t reorder_window_us;
    uint32_t reorder_packets;
    struct session_sink sink;              /* every finished record */
    struct session_content_sink content;   /* message bytes (--extract); may be empty */
};

/* What pipeline_classify() decided for one packet. */
enum pipeline_feed {
    PIPELINE_SKIP,          /* counted, nothing to feed */
    PIPELINE_IPV4,          /* d.ip[0..d.ip_len) */
    PIPELINE_IPV4_OFFLOAD,  /* the same, captured before segmentation */
    PIPELINE_IPV6,          /* header d.ip, segment d.l4[0..d.l4_len) */
};

struct pipeline_item {
    enum pipeline_feed feed;
    struct decoded d;
    int64_t now_us;         /* packet time, never before an earlier packet's */
    uint8_t input;          /* the capture file it came from (capture_packet.input) */
};

struct pipeline {
    struct pipeline_config cfg;
    struct port_set ports;
    struct port_set tls_ports;
    struct session_table table;
    struct run_input input;      /* counters; the caller sets source, linktype, drops */
    uint16_t greeting_ports[PIPELINE_GREETING_PORTS]; /* other ports whose server sent "220" */
    size_t n_greeting_ports;
    bool opened;
    bool stream_started;
    bool finished;
    struct {
        uint64_t key;
        uint32_t seq;
    } first_seq[PIPELINE_FIRST_SEQ_SLOTS];
};

/* Starts sessions and the stream layer.  0, or SMTPSCOPE_ERR_* with err
 * filled; after a failure of the stream layer no pipeline can be opened
 * again in this process (libnids). */
int pipeline_open(struct pipeline *p, const struct pipeline_config *cfg, char *err,
                  size_t errlen);

/* Decode, count and choose; out says what to feed.  Borrows pkt's bytes. */
void pipeline_classify(struct pipeline *p, const struct capture_packet *pkt,
                       struct pipeline_item *out);
/* Feeds what pipeline_classify() chose (its bytes still valid). */
void pipeline_feed(struct pipeline *p, const struct pipeline_item *it);
/* Both, for a single process. */
void pipeline_packet(struct pipeline *p, const struct capture_packet *pkt);

/* A packet two ahead of the next one fed, or NULL: starts loading its
 * stream state.  Speed only. */
void pipeline_hint(struct pipeline *p, int linktype, const uint8_t *frame, size_t caplen);

/* True when packets read ahead are worth a look (many sessions open). */
static inline bool pipeline_wants_hints(const struct pipeline *p)
{
    return p->table.stats.n_open > p->cfg.prefetch_above;
}

/* Packet time passes with no packet (live capture's timer, or another
 * worker's packet): idle sessions end, due waits are given up. */
void pipeline_tick(struct pipeline *p, int64_t now_us);

/* Ends every open session with reason (END_OF_INPUT or STOPPED) at the
 * last packet time, writes every record still waiting and gathers the
 * coverage counters into p->input. */
void pipeline_finish(struct pipeline *p, enum record_end reason);

/* Frees everything; finishes first (records go to the sink) if needed. */
void pipeline_close(struct pipeline *p);

static inline uint64_t pipeline_sessions_open(const struct pipeline *p)
{
    return p->table.stats.n_open;
}

static inline uint64_t pipeline_sessions_opened(const struct pipeline *p)
{
    return p->table.stats.n_opened;
}

/*
 * Adds the counters of a part of the run (another process's pipeline)
 * to dst: everything counted is summed, except the most sessions waiting
 * at once, which is the largest of the two; times are widened.
 */
void pipeline_input_merge(struct run_input *dst, const struct run_input *src);

#endif
