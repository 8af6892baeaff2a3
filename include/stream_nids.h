/*
 * stream_nids.h - the libnids glue: IP packets in, session events out.
 *
 * Role: the only module that touches libnids and its globals.  It feeds
 * IPv4 packets to libnids through a raw-IP handle of its own, opens a
 * session when a connection to an SMTP port is established, passes each
 * direction's reassembled bytes to the session with the packet time, and
 * ends sessions on FIN, RST, eviction, idleness, port reuse and exit.  It
 * also counts what libnids never attached (flows with no SYN captured) and
 * every libnids warning, so nothing unanalysed goes unreported.  It also
 * gives libnids a keyed stream hash of ours in place of its slower one.
 *
 * It also stands between libnids and captures taken in the wild, where the
 * observer is not the receiver: segments captured before offload are fed
 * as the pieces the NIC made; a segment libnids would drop for a window or
 * an ACK the capture shows out of date is taken again; a side whose ACKs
 * show the other side's bytes came first waits for them (a reorder window
 * of packet time and packets), so the session reads both in the order they
 * were sent; an RST recorded early waits the same way; a hole the peer
 * acknowledged that outlives the window is filled, the session told how
 * many bytes of which side are missing (session_gap); and a side never
 * captured is reported (session_set_one_sided).  These decisions read
 * libnids' own view of each stream (expected sequence, queue, ACKs),
 * which is why they live here.
 *
 * libnids is a process-wide singleton: one stream_init() per process.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef STREAM_NIDS_H
#define STREAM_NIDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flow.h"
#include "record.h"
#include "session.h"

/* Bytes each session reserves for this module (session_config.glue_size). */
#define STREAM_GLUE_SIZE 72

struct stream_config {
    int max_streams;         /* libnids hash size */
    uint64_t free_buffers_above; /* open sessions past which emptied buffers are freed */
    uint64_t prefetch_above;     /* open sessions past which packets are looked ahead */
    int64_t reorder_window_us;   /* how long bytes wait on a hole the peer acknowledged */
    uint32_t reorder_packets;    /* ...and for how many packets of their connection (0: any) */
    bool verify_checksums;
    const struct port_set *ports; /* server ports that make a session */
};

#define STREAM_WARN_COUNT 10

struct stream_stats {
    uint64_t n_established;     /* connections to SMTP ports */
    uint64_t n_not_smtp;        /* established, but no SMTP server port */
    uint64_t n_closed;          /* FIN handshake completed */
    uint64_t n_reset;
    uint64_t n_evicted;         /* stream table full */
    uint64_t n_idle;            /* ended by the idle timeout */
    uint64_t n_port_reused;
    uint64_t n_open_at_end;     /* still open when input ended */
    uint64_t n_session_failed;  /* no memory for a session */
    uint64_t n_unattached_packets; /* payload on SMTP ports, no stream */
    uint64_t n_unattached_flows;
    uint64_t n_syn_retransmits;
    uint64_t n_midstream;       /* sessions picked up without a handshake */
    uint64_t n_ipv6_packets;    /* IPv6 TCP packets translated for libnids */
    uint64_t n_offload_segments; /* segments captured before TSO/GSO (IP length 0 or > 64 KiB) */
    uint64_t n_window_reopened;  /* segments libnids dropped (stale window, ACK first) and took again */
    uint64_t n_held_back;        /* times a side waited for the peer's reordered bytes */
    uint64_t n_holes;            /* holes given up as lost to the capture */
    uint64_t n_hole_bytes;       /* bytes in them */
    uint64_t n_waiting_max;      /* most sessions waiting on a hole at once */
    uint64_t n_reorder_overflow; /* holes not waited on: too many sessions waiting */
    uint64_t n_queue_span_exceeded; /* holes given up: too much queued behind them */
    uint64_t n_rst_deferred;     /* RSTs captured before bytes they follow, fed after them */
    uint64_t warnings[STREAM_WARN_COUNT]; /* by libnids NIDS_WARN_* errnum */
};

/* Starts libnids.  0 on success, else SMTPSCOPE_ERR_* with err filled. */
int stream_init(const struct stream_config *cfg, struct session_table *table, char *err,
                size_t errlen);

/*
 * Feeds one whole IPv4 packet ip[0..len) captured at now_us.  Sessions idle
 * past their timeout are ended first.  ip is borrowed for the call.
 */
void stream_feed_ipv4(const uint8_t *ip, size_t len, int64_t now_us);

/*
 * Feeds one IPv6 TCP segment: ip6 is its IPv6 header (for the addresses),
 * tcp[0..tcp_len) the segment after any extension headers.  Each address
 * stands in libnids as a token in 240.0.0.0/4 and is reported as IPv6.
 * A segment too long for IPv4 (offload, is_offload) goes in pieces.
 */
void stream_feed_ipv6(const uint8_t *ip6, const uint8_t *tcp, size_t tcp_len, int64_t now_us,
                      bool is_offload);

/*
 * Feeds an IPv4 TCP segment captured before segmentation offload: its IP
 * length field is 0 and ip[0..len) (the captured bytes) is all of it, up
 * to the capture's snaplen.  It is handed to libnids as the pieces the NIC
 * would have made, and its session is flagged offload_segments.
 */
void stream_feed_ipv4_offload(const uint8_t *ip, size_t len, int64_t now_us);

/* For session_config.resume_client: offers the client bytes the session
 * let wait (ctx unused). */
void stream_resume_client(void *ctx, struct session *s);

/* Advances the clock with no packet (a quiet live link, or a packet fed
 * to another worker): idle sessions end, due waits are given up, exactly
 * as before feeding a packet at now_us.  Earlier times are ignored. */
void stream_tick(int64_t now_us);

/* Starts loading the state that feeding this IPv4 packet will touch, if
 * its stream is known; for a packet read ahead of the one being fed, with
 * more than cfg.prefetch_above sessions open (from half that many, a 4
 * MiB table notes where each new stream's state lies).  NULL: no packet
 * to look at.  Hints only: nothing reported depends on it. */
void stream_prefetch_ipv4(const uint8_t *ip, size_t len);

/* Ends every open session with reason (END_OF_INPUT or STOPPED), in id
 * order, then shuts libnids down. */
void stream_finish(enum record_end reason, int64_t now_us);

void stream_get_stats(struct stream_stats *out);
/* Stream lookups libnids hashed with our replacement of its mkhash() (see
 * stream_nids.c); 0 after traffic means libnids' own hash ran. */
uint64_t stream_hash_calls(void);
/* libnids' text for a warning errnum. */
const char *stream_warning_name(int errnum);

#endif
