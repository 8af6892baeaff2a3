/*
 * stats.h - run-wide totals: what the summary writers print.
 *
 * Role: the analysis stage's running tally over finished session records
 * (labels, flags, reply codes, latency distributions) plus the input and
 * coverage counters main.c gathers.  Filled by stats_add() one record at a
 * time, so memory is fixed however long the input.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef STATS_H
#define STATS_H

#include <stdint.h>

#include "decode.h"
#include "record.h"
#include "smtp_parse.h"
#include "timing.h"
#include "verdict.h"

/* Servers told apart (address and port) for per-server figures; past
 * this many, sessions with further servers are only counted. */
#define STATS_SERVERS_MAX 32

/* One server's banner times (record_banner_us()), for "slowest banners". */
struct stats_server {
    struct record_endpoint ep;
    uint64_t n_sessions;
    struct latency_hist banner;
};

struct run_stats {
    uint64_t n_sessions;
    uint64_t n_messages_attempted;
    uint64_t n_messages_accepted;
    uint64_t n_exchanges;
    uint64_t n_abnormal;                  /* record_is_abnormal() */
    uint64_t labels[VERDICT_LABEL_COUNT];
    uint64_t flags[VERDICT_FLAG_COUNT];
    uint64_t reply_codes[1000];
    struct latency_hist connect;
    struct latency_hist banner;
    struct latency_hist message;          /* end of data to its reply */
    struct latency_hist by_verb[SMTP_VERB_COUNT];
    /* In order of each server's first session; pages of servers never
     * seen stay untouched (calloc). */
    struct stats_server servers[STATS_SERVERS_MAX];
    uint32_t n_servers;
    uint64_t n_sessions_other_servers; /* servers past STATS_SERVERS_MAX */
};

/* Input and coverage counters, and the run's identity. */
struct run_input {
    const char *source;        /* file name as given; not from the wire */
    const char *linktype_name;
    uint64_t n_packets;
    uint64_t n_bytes;          /* captured bytes */
    int64_t first_us;          /* -1 when no packet */
    int64_t last_us;
    uint64_t by_decode[DECODE_RESULT_COUNT];
    uint64_t n_not_tcp;        /* IPv4 but not TCP */
    uint64_t n_unsupported_link; /* pcapng interfaces of a link type we do not decode */
    uint64_t n_other_ports;    /* TCP on ports we do not analyse */
    uint64_t n_fragments;
    uint64_t n_established;
    uint64_t n_midstream;
    uint64_t n_offload_segments;     /* TSO/GSO segments read by captured length */
    uint64_t n_window_reopened;      /* segments taken despite a stale window or early ACK */
    uint64_t n_held_back;            /* a side waited for the peer's reordered bytes */
    uint64_t n_holes;                /* holes given up as lost to the capture */
    uint64_t n_hole_bytes;
    uint64_t n_waiting_max;          /* most sessions waiting on a hole at once */
    uint64_t n_reorder_overflow;     /* holes not waited on (too many waiting) */
    uint64_t n_unattached_packets;
    uint64_t n_unattached_flows;
    uint64_t n_evicted;
    uint64_t n_idle;
    uint64_t n_port_reused;
    uint64_t n_open_at_end;
    uint64_t n_session_failed;
    uint64_t n_out_of_order;
    uint64_t n_tcp_header_invalid;   /* libnids: bad checksum or header */
    uint64_t n_queue_pruned;         /* libnids dropped queued segments */
    uint64_t n_ip_warnings;
    const char *error;               /* input error text, or NULL */
    bool has_extract;                /* --extract was given */
    uint64_t n_extract_written;      /* messages written with their sidecar */
    uint64_t n_extract_failed;       /* messages not (fully) written */
    bool is_live;
    uint64_t n_dropped;              /* kernel drops (pcap_stats ps_drop) */
    uint64_t n_if_dropped;           /* interface drops (ps_ifdrop) */
};

struct run_report {
    const struct run_stats *stats;
    const struct run_input *input;
};

void stats_init(struct run_stats *st);
void stats_add(struct run_stats *st, const struct session_record *r);

#endif
