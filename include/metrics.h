/*
 * metrics.h - the Prometheus endpoint (--metrics): the run's counters
 * served over HTTP in the text exposition format, never holding up the
 * packets.
 *
 * Role: the thread that reads packets (and, with --workers, merges the
 * workers' records) owns a private tally.  metrics_record() adds each
 * finished record to it, the same records in the same order whatever the
 * number of workers, so every session series equals one process's;
 * metrics_set_input() sets the packet, byte and drop counts main.c
 * already gathers.  metrics_publish() copies the tally to the one the HTTP
 * thread reads, under a mutex it only tries to take: when a scrape holds
 * it, that publication is skipped and the next one catches up.  Only the
 * last publication, once the input has ended, waits for the mutex.
 *
 * The HTTP server is libmicrohttpd's own thread.  A scrape copies the
 * published tally under the mutex and formats it after releasing it, so
 * the packet thread never waits on a client, however slow.  Which series
 * exist, their meaning and labels: docs/metrics.md.  Label values are
 * from fixed tables (close labels, flags, SMTP verbs) or addresses
 * formatted here, never raw wire text; they still go through
 * metrics_escape_label(), bounded.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef METRICS_H
#define METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "record.h"
#include "smtp_limits.h"
#include "smtp_parse.h"
#include "span.h"
#include "verdict.h"

/* Upper bounds of the latency histograms' buckets, in microseconds. */
#define METRICS_BUCKET_BOUNDS_US                                               \
    500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000,        \
        1000000, 2500000, 5000000, 10000000, 30000000, 60000000, 300000000
#define METRICS_BUCKETS 17

/* Samples per bucket (not cumulative: the formatter sums them), the last
 * for samples above every bound; the sum in microseconds. */
struct metrics_hist {
    uint64_t n[METRICS_BUCKETS + 1];
    uint64_t sum_us;
};

#define METRICS_REPLY_CLASS_MAP(XX)                                            \
    XX(2XX, "2xx")                                                             \
    XX(3XX, "3xx")                                                             \
    XX(4XX, "4xx")                                                             \
    XX(5XX, "5xx")                                                             \
    XX(OTHER, "other")

enum metrics_reply_class {
#define XX(id, str) METRICS_REPLY_##id,
    METRICS_REPLY_CLASS_MAP(XX)
#undef XX
    METRICS_REPLY_CLASS_COUNT
};

/* Reply latency by command: one histogram per SMTP verb, SMTP_VERB_UNKNOWN
 * as "other", and one more for the reply to the message content. */
#define METRICS_REPLY_END_OF_DATA SMTP_VERB_COUNT
#define METRICS_REPLY_HISTS (SMTP_VERB_COUNT + 1)

/* One server (address and port) and its sessions. */
struct metrics_server {
    struct record_endpoint ep;
    uint64_t sessions;
    uint64_t abnormal;
    struct metrics_hist banner;
};

/* Everything a scrape shows, as of one publication. */
struct metrics_tally {
    /* The input, from main.c. */
    uint64_t packets;
    uint64_t bytes;
    uint64_t dropped;
    uint64_t if_dropped;
    uint64_t sessions_open;
    bool input_ended;
    uint32_t n_pids;             /* processes of the run, for their memory */
    int32_t pids[WORKERS_MAX];
    /* The records. */
    uint64_t sessions[VERDICT_LABEL_COUNT];
    uint64_t flags[VERDICT_FLAG_COUNT];
    uint64_t replies[METRICS_REPLY_CLASS_COUNT];
    uint64_t messages_attempted;
    uint64_t messages_accepted;
    struct metrics_hist banner;
    struct metrics_hist reply[METRICS_REPLY_HISTS];
    /* Servers in the order first seen, at most METRICS_SERVERS_MAX; the
     * sessions of any server after that are counted in other_server. */
    uint32_t n_servers;
    uint32_t last_server;        /* the one found last: looked at first */
    struct metrics_server servers[METRICS_SERVERS_MAX];
    struct metrics_server other_server;
};

/* Adds one finished record: its close label, flags, replies, latencies
 * (the definitions of docs/timing.md, as the summary counts them). */
void metrics_tally_add(struct metrics_tally *t, const struct session_record *r);

/*
 * Appends the exposition of t (text format 0.0.4) to out, with
 * resident_bytes as the memory gauge.  False when out is full (its
 * maximum is too small: nothing from the input can make the text long).
 */
bool metrics_format(struct capbuf *out, const struct metrics_tally *t, uint64_t resident_bytes);

/*
 * Appends s as the inside of a quoted label value: backslash, double
 * quote and line feed escaped as the format requires (\\ \" \n), other
 * control characters and invalid UTF-8 replaced by U+FFFD, cut at
 * METRICS_LABEL_MAX bytes of s.  False when out is full.
 */
bool metrics_escape_label(struct capbuf *out, struct span s);

/*
 * Parses --metrics' [ADDR:]PORT: PORT alone (or ":PORT") is every
 * address, IPv6 and IPv4; ADDR is a numeric IPv4 address or an IPv6 one
 * in brackets.  PORT 0 lets the system choose.  True with *ss and *len
 * filled, false when s is not of that form.
 */
bool metrics_parse_listen(const char *s, struct sockaddr_storage *ss, socklen_t *len);

struct metrics;

/*
 * Binds the address (metrics_parse_listen) and starts the HTTP thread;
 * call it after any fork (workers) and once the process has the user it
 * keeps.  *out is NULL on failure.  0, or SMTPSCOPE_ERR_USAGE (bad
 * address) or SMTPSCOPE_ERR_OUTPUT (cannot listen) with err filled.  The
 * address actually bound goes to *bound (text, "ADDR:PORT") when bound is
 * not NULL.
 */
int metrics_open(struct metrics **out, const char *listen, char *bound, size_t bound_len,
                 char *err, size_t errlen);

/* Stops the HTTP thread and closes its socket (before a fork), and starts
 * them again on the same address; 0, or SMTPSCOPE_ERR_OUTPUT with err. */
void metrics_pause(struct metrics *m);
int metrics_resume(struct metrics *m, char *err, size_t errlen);

/* The packet thread's side; m may be NULL (no --metrics): they do nothing. */
void metrics_record(struct metrics *m, const struct session_record *r);
void metrics_set_input(struct metrics *m, uint64_t packets, uint64_t bytes, uint64_t dropped,
                       uint64_t if_dropped, uint64_t sessions_open);
/* The processes whose resident memory the gauge adds to this one's. */
void metrics_set_pids(struct metrics *m, const int32_t *pids, uint32_t n);
/* The input has ended: the counts published next are final. */
void metrics_set_ended(struct metrics *m);
/* Empties the tally (the input is read again from the start). */
void metrics_restart(struct metrics *m);
/*
 * Makes the tally what scrapes see.  With wait false it gives up at once
 * when a scrape is copying (false returned; the next call catches up).
 */
bool metrics_publish(struct metrics *m, bool wait);

/* Stops the HTTP thread and frees everything; NULL is fine. */
void metrics_close(struct metrics *m);

#endif
