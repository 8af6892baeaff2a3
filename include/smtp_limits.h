/*
 * smtp_limits.h - every numeric cap in smtpscope, with its reason.
 *
 * The capture is hostile input: each buffer, table and counter that wire
 * bytes can grow has its maximum here, so the bounds are reviewed in one
 * place and documented in docs/security.md.  The RFC 5321 sizes are anomaly
 * thresholds (lines over them are flagged, not cut); the hard caps bound
 * memory.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef SMTP_LIMITS_H
#define SMTP_LIMITS_H

/* RFC 5321 4.5.3.1.4: a command line is at most 512 octets with CRLF. */
#define SMTP_RFC_COMMAND_LINE_MAX 512
/* RFC 5321 4.5.3.1.5: a reply line is at most 512 octets with CRLF. */
#define SMTP_RFC_REPLY_LINE_MAX 512
/* RFC 5321 4.5.3.1.6: a text line (message content) is 1000 octets. */
#define SMTP_RFC_TEXT_LINE_MAX 1000

/*
 * Hard cap on one command or reply line.  A longer line is cut here,
 * reported truncated, and the rest is skipped up to the next LF, so the
 * bytes held back per direction never exceed this.  It is well above the
 * RFC size because real AUTH GSSAPI and XOAUTH2 tokens run to a few KB.
 */
#define SMTP_LINE_CAP 8192

/* Characters of a command argument or reply text copied into a record. */
#define SMTP_ARG_KEEP 512
#define SMTP_TEXT_KEEP 512
/* Verb text kept for an unknown command (real verbs are at most 8). */
#define SMTP_VERB_KEEP 16
/* Lines of a multi-line reply whose text is kept (EHLO keywords). */
#define SMTP_REPLY_LINES_KEEP 32

/* Exchanges kept per session; later ones are counted, not stored. */
#define SESSION_EXCHANGES_KEEP 2048
/* Bytes of copied wire text one session may hold in its record. */
#define SESSION_TEXT_ARENA_MAX (256 * 1024)
/* Names given on the command line as written into records (--sensor, an
 * input file's name): bytes kept, the rest cut. */
#define SMTP_NAME_KEEP 255

/* A message's header block copied for its transaction's From, To,
 * Subject, Message-ID and Date: blocks are a few KiB; past this the rest
 * is not read (and the session's memory stays bounded while it sends). */
#define MSGHDR_CAPTURE_MAX (16 * 1024)

/* Extracted messages and attachments summarised per session record. */
#define SESSION_MESSAGES_KEEP 64
#define SESSION_ATTACHMENTS_KEEP 256

/* Commands awaiting replies beyond the kept exchanges, counted only. */
#define SESSION_PENDING_UNSTORED_MAX 1000000

/* libnids stream table size (hash buckets); pool is 3/4 of it. */
#define STREAM_TABLE_DEFAULT 65536
#define STREAM_TABLE_MAX (1 << 22)

/* Above this many open sessions, each emptied libnids stream buffer is
 * freed at once instead of kept for the stream's life (4 KiB, at most
 * STREAM_BUFFER_KEEP_MAX, per direction: the buffers kept stay under about
 * 32 MiB, 128 MiB at worst). */
#define STREAM_FREE_BUFFERS_ABOVE_DEFAULT 4096

/* libnids sizes a stream buffer at twice a large segment and never shrinks
 * it: a capture taken on a host with segmentation offload has segments of
 * up to 64 KiB, so one segment would leave 130 KiB per direction behind.
 * A buffer larger than this is freed once its bytes are parsed, or cut
 * down to what it still holds, whatever the number of open sessions. */
#define STREAM_BUFFER_KEEP_MAX (16 * 1024)

/* With more sessions than this open, a session's state and its libnids
 * stream are no longer in cache when their next packet comes: from there
 * on, the state a packet will touch is prefetched ahead of it (reading
 * a pcap file).  Below, prefetching only costs instructions (measured: 3%
 * slower at 5,000 open, 20% faster at 20,000).  --prefetch-above. */
#define PREFETCH_ABOVE_DEFAULT 8192

/* Threads that read capture files ahead of the parser (readbuf.h): one
 * takes the copy out of the page cache off the main thread; files read
 * one after another (a ring) share it.  More help only files read side
 * by side.  --read-threads. */
#define READ_THREADS_DEFAULT 1
#define READ_THREADS_MAX 8

/* Slots of the look-ahead table (a hash of each connection's addresses to
 * where its state lies), 32 bytes each: 4 MiB, backed only where used. */
#define PREFETCH_HINT_BITS 17

/* Fixed tables keyed by TCP 4-tuple: handshake times, unattached flows. */
#define FLOWTAB_SLOTS_DEFAULT 16384

/* Finished records waiting for an older open session before output. */
#define ORDER_WINDOW_DEFAULT 4096

/* Idle timeouts, RFC 5321 4.5.3.2: the server gives up after 5 minutes
 * awaiting a command, 10 minutes awaiting the end of message data. */
#define SESSION_IDLE_TIMEOUT_US (300LL * 1000000)
/* How long (packet time) a side's bytes wait for the peer bytes its ACKs
 * show were sent before them, when the capture recorded those later or
 * not at all (--reorder-window).  Capture reordering on mirror ports and
 * multi-queue NICs spans microseconds to milliseconds; a hole still open
 * after this is taken as lost to the capture. */
#define REORDER_WINDOW_MS_DEFAULT 250
/* ...and at most this many packets of the connection with nothing
 * released (--reorder-window MS,PACKETS): a bound on how long a wait can
 * hold a busy connection's bytes.  The time is what decides in practice;
 * a hole whose side's FIN the peer acknowledged is given up at once. */
#define REORDER_PACKETS_DEFAULT 1024
/* A segment the peer sent before a RST reached it is captured after the
 * RST wherever the capture point is nearer the resetting side: up to a
 * round trip later.  Within this time of the RST, such a segment is data
 * in flight of the connection that ended, not a connection to pick up
 * mid-stream.  Data from the side that sent the RST (a connection that
 * went on, its peer having ignored the RST) is still picked up. */
#define RESET_IN_FLIGHT_US 1000000
#define SESSION_IDLE_TIMEOUT_DATA_US (600LL * 1000000)

/* Snapshot length for live capture and the largest frame we accept. */
#define CAPTURE_SNAPLEN 262144
/* Kernel capture buffer of each capture socket without -B, in MiB.
 * libpcap's own 2 MiB holds about 31 packets on an interface with
 * offloads (each slot sized for a 64 KiB frame), and on loopback every
 * packet is stored twice (sent and received): a reader kept off the CPU
 * for a few milliseconds by a busy host drops packets mid-session. */
#define CAPTURE_BUFFER_MIB_DEFAULT 32
/* --workers: at most this many analysing processes. */
#define WORKERS_MAX 64

/* Diagnostics of one kind printed before they are only counted. */
#define DIAG_SHOW_MAX 5

/* --metrics: servers with series of their own, in the order first seen
 * (each costs about 20 series and 200 bytes of every publication);
 * sessions of servers past them are counted under server="other".
 * Label values are cut at METRICS_LABEL_MAX bytes; a scrape's text never
 * passes METRICS_SCRAPE_MAX (the largest tally formats to about 240 KB);
 * at most METRICS_CONNECTIONS_MAX clients at once, each dropped after
 * METRICS_TIMEOUT_S idle seconds. */
#define METRICS_SERVERS_MAX 64
#define METRICS_LABEL_MAX 128
#define METRICS_SCRAPE_MAX (1u << 20)
#define METRICS_CONNECTIONS_MAX 16
#define METRICS_TIMEOUT_S 10
/* --metrics-linger: the longest wait after the input has ended. */
#define METRICS_LINGER_MAX_S 3600

#endif
