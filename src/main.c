/*
 * main.c - the command line's run: inputs, outputs, signals, exit statuses.
 *
 * Packets go through the pipeline (pipeline.h) in this process, or through
 * N worker processes (workers.h) that run the same pipeline on their share
 * of the connections; either way every finished record comes back to
 * emit_record(), which hands it to the statistics and the writers.  This
 * is the only file that maps SMTPSCOPE_ERR_* codes to exit statuses
 * (docs/smtpscope.1, EXIT STATUS) and the only one that prints errors.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* sched_getaffinity, CPU_COUNT */
#endif
#include <errno.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "capture.h"
#include "decode.h"
#include "explain.h"
#include "extract.h"
#include "metrics.h"
#include "options.h"
#include "pipeline.h"
#include "report.h"
#include "outputs.h"
#include "report_meta.h"
#include "smtp_limits.h"
#include "smtpscope.h"
#include "workers.h"

struct run {
    struct options opt;
    struct capture cap;          /* live capture */
    struct capture *caps;        /* live with workers: one per process, caps[0] is cap */
    unsigned n_caps;
    struct capture_set *files;   /* offline: every -r file, merged by time */
    struct pipeline pipe;        /* one process */
    struct workers *workers;     /* or N worker processes (NULL: one process) */
    struct outputs out;
    struct run_input input;      /* the run's identity, then every counter */
    struct report_meta meta;
    struct extractor *extractor;
    struct metrics *metrics;     /* --metrics, or NULL */
    int64_t next_metrics_us;     /* wall clock of the next publication */
    char err[512];
    char source_text[320]; /* "a.pcap and N more files" */
};

static volatile sig_atomic_t g_stop;
static volatile sig_atomic_t g_interrupted; /* SIGINT or SIGTERM, not --duration or -c */
static volatile sig_atomic_t g_stats_now;
static volatile sig_atomic_t g_reopen;

static void on_signal(int sig)
{
    if (sig == SIGUSR1) {
        g_stats_now = 1;
    } else if (sig == SIGHUP) {
        g_reopen = 1;
    } else {
        g_stop = 1;
        g_interrupted = 1;
    }
}

static int exit_status(int err)
{
    switch (err) {
    case SMTPSCOPE_OK:
        return 0;
#define XX(name, value, status, text)                                          \
    case SMTPSCOPE_ERR_##name:                                                 \
        return status;
        SMTPSCOPE_ERR_MAP(XX)
#undef XX
    default:
        return 6;
    }
}

/* ---- one process or many: the same calls -------------------------------- */

static const struct pipeline *reader_pipeline(const struct run *run)
{
    return run->workers != NULL ? workers_reader(run->workers) : &run->pipe;
}

static uint64_t sessions_open(const struct run *run)
{
    return run->workers != NULL ? workers_sessions_open(run->workers)
                                : pipeline_sessions_open(&run->pipe);
}

/* Packets read and their captured bytes, and the drops of every capture
 * socket. */
static uint64_t packets_read(struct run *run, uint64_t *bytes, uint64_t *dropped,
                             uint64_t *if_dropped)
{
    uint64_t packets = reader_pipeline(run)->input.n_packets;
    *bytes = reader_pipeline(run)->input.n_bytes;
    *dropped = *if_dropped = 0;
    if (run->workers != NULL) {
        workers_counts(run->workers, &packets, bytes, dropped, if_dropped);
    }
    uint64_t d = 0;
    uint64_t ifd = 0;
    capture_drops(&run->cap, &d, &ifd);
    *dropped += d;
    *if_dropped += ifd;
    return packets;
}

/* ---- the packet loop ------------------------------------------------------- */

static int64_t wall_clock_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static long resident_kib(void)
{
    long pages = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f != NULL) {
        if (fscanf(f, "%*s %ld", &pages) != 1) {
            pages = 0;
        }
        fclose(f);
    }
    return pages * (sysconf(_SC_PAGESIZE) / 1024);
}

static void print_stats_line(struct run *run)
{
    uint64_t bytes = 0;
    uint64_t drop = 0;
    uint64_t ifdrop = 0;
    uint64_t packets = packets_read(run, &bytes, &drop, &ifdrop);
    unsigned long long abnormal = 0;
    for (int l = 0; l < VERDICT_LABEL_COUNT; l++) {
        if (verdict_label_is_abnormal(l)) {
            abnormal += run->out.stats->labels[l];
        }
    }
    fprintf(stderr,
            "smtpscope: packets %llu, drops %llu kernel %llu interface, sessions open %llu "
            "closed %llu, abnormal closes %llu, resident %ld KiB\n",
            (unsigned long long)packets, (unsigned long long)drop,
            (unsigned long long)ifdrop, (unsigned long long)sessions_open(run),
            (unsigned long long)run->out.stats->n_sessions, abnormal, resident_kib());
}

/* --metrics: the tally with the input's counts, at most ten times a
 * second, for the HTTP thread; never waits for it. */
#define METRICS_PUBLISH_EVERY_US 100000
static void publish_metrics(struct run *run, int64_t now)
{
    if (run->metrics == NULL || now < run->next_metrics_us) {
        return;
    }
    uint64_t bytes = 0;
    uint64_t drop = 0;
    uint64_t ifdrop = 0;
    uint64_t packets = packets_read(run, &bytes, &drop, &ifdrop);
    metrics_set_input(run->metrics, packets, bytes, drop, ifdrop, sessions_open(run));
    if (metrics_publish(run->metrics, false)) {
        run->next_metrics_us = now + METRICS_PUBLISH_EVERY_US;
    }
}

/* Work that runs on a timer in live capture: idle sweep, stats, limits. */
static void live_housekeeping(struct run *run, int64_t *next_stats_us, int64_t stop_at_us)
{
    int64_t now = wall_clock_us();
    if (run->workers != NULL) {
        workers_tick(run->workers, now);
    } else {
        pipeline_tick(&run->pipe, now);
    }
    if (g_reopen) {
        g_reopen = 0;
        char err[512];
        if (outputs_reopen_json(&run->out, err, sizeof(err)) != SMTPSCOPE_OK) {
            fprintf(stderr, "smtpscope: %s\n", err);
        }
    }
    if (g_stats_now || (run->opt.stats_every_s > 0 && now >= *next_stats_us)) {
        g_stats_now = 0;
        *next_stats_us = now + run->opt.stats_every_s * 1000000;
        print_stats_line(run);
    }
    if (stop_at_us > 0 && now >= stop_at_us) {
        g_stop = 1;
    }
    publish_metrics(run, now);
}

static bool session_limit_reached(const struct run *run)
{
    return run->opt.max_sessions > 0 && (long long)run->out.stats->n_sessions >= run->opt.max_sessions;
}

/* With many sessions open, each packet's stream state is cold: the
 * packets that come next have theirs loading while this one is processed
 * (the stream layer takes it in two steps, one packet apart). */
static void look_ahead(struct run *run)
{
    const uint8_t *data;
    size_t caplen;
    int linktype;
    if (capture_set_peek(run->files, 2, &data, &caplen, &linktype)) {
        pipeline_hint(&run->pipe, linktype, data, caplen);
    } else {
        pipeline_hint(&run->pipe, 0, NULL, 0);
    }
}

/* Capture files: one process or the workers, nothing live to look after. */
static int read_files(struct run *run, struct capture_packet *pkt)
{
    int rc = 0;
    uint64_t n = 0;
    if (run->workers != NULL) {
        while (!g_stop && !session_limit_reached(run) &&
               (rc = capture_set_next(run->files, pkt, run->err, sizeof(run->err))) == 1) {
            workers_packet(run->workers, pkt);
            if (run->metrics != NULL && (++n & 63) == 0) {
                publish_metrics(run, wall_clock_us());
            }
        }
        return g_stop || session_limit_reached(run) ? 0 : rc;
    }
    /* One file (the common case) is read without the merge by time. */
    struct capture *one = run->files->n == 1 ? &run->files->files[0] : NULL;
    bool limited = run->opt.max_sessions > 0;
    while (!g_stop && !(limited && session_limit_reached(run)) &&
           (rc = one != NULL ? capture_next(one, pkt, run->err, sizeof(run->err))
                             : capture_set_next(run->files, pkt, run->err, sizeof(run->err))) == 1) {
        if (pipeline_wants_hints(&run->pipe)) {
            look_ahead(run);
        }
        pipeline_packet(&run->pipe, pkt);
        if (run->metrics != NULL && (++n & 63) == 0) {
            publish_metrics(run, wall_clock_us());
        }
    }
    if (rc < 0 && one != NULL) {
        capture_name_error(one, run->err, sizeof(run->err));
    }
    return g_stop || session_limit_reached(run) ? 0 : rc;
}

/* Live: packets when there are some, the timer's work in between. */
static int read_live(struct run *run, struct capture_packet *pkt)
{
    int rc = 0;
    int64_t start = wall_clock_us();
    int64_t next_stats = start + run->opt.stats_every_s * 1000000;
    int64_t stop_at = run->opt.duration_s > 0 ? start + run->opt.duration_s * 1000000 : 0;
    uint64_t since_housekeeping = 0;
    while (!g_stop && !session_limit_reached(run)) {
        rc = capture_next(&run->cap, pkt, run->err, sizeof(run->err));
        if (rc == 1) {
            if (run->workers != NULL) {
                workers_live_packet(run->workers, pkt);
            } else {
                pipeline_packet(&run->pipe, pkt);
            }
            if (++since_housekeeping == 256) {
                since_housekeeping = 0;
                live_housekeeping(run, &next_stats, stop_at);
            }
            continue;
        }
        if (rc != 2) {
            break;
        }
        struct pollfd pfd = {capture_fd(&run->cap), POLLIN, 0};
        poll(&pfd, 1, 200);
        live_housekeeping(run, &next_stats, stop_at);
    }
    return rc;
}

static int read_packets(struct run *run)
{
    struct capture_packet pkt;
    int rc = run->files != NULL ? read_files(run, &pkt) : read_live(run, &pkt);
    if (session_limit_reached(run)) {
        g_stop = 1; /* -c: the open sessions end as stopped, like on SIGINT */
    }
    if (g_stop || rc >= 0) {
        return SMTPSCOPE_OK;
    }
    run->input.error = run->err;
    return rc;
}

/* ---- set-up and tear-down ------------------------------------------------ */

/* pcap files say their link type up front; pcapng per interface. */
static int check_linktypes(struct run *run)
{
    run->input.linktype_name = "per interface (pcapng)";
    for (size_t i = 0; i < run->files->n; i++) {
        const struct capture *c = &run->files->files[i];
        if (c->linktype < 0) {
            continue;
        }
        if (!decode_linktype_supported(c->linktype)) {
            snprintf(run->err, sizeof(run->err), "%.300s: link type %s (%d) is not supported",
                     c->source, capture_linktype_name(c->linktype), c->linktype);
            return SMTPSCOPE_ERR_LINKTYPE;
        }
        run->input.linktype_name = capture_linktype_name(c->linktype);
    }
    return SMTPSCOPE_OK;
}

/* -Z: give up root once the interface is open (tcpdump's habit). */
static int drop_privileges(struct run *run)
{
    struct passwd *pw = getpwnam(run->opt.run_as);
    if (pw == NULL) {
        snprintf(run->err, sizeof(run->err), "-Z: no user %s", run->opt.run_as);
        return SMTPSCOPE_ERR_USAGE;
    }
    if (initgroups(pw->pw_name, pw->pw_gid) != 0 || setgid(pw->pw_gid) != 0 ||
        setuid(pw->pw_uid) != 0) {
        snprintf(run->err, sizeof(run->err), "-Z %s: %s", run->opt.run_as, strerror(errno));
        return SMTPSCOPE_ERR_USAGE;
    }
    return SMTPSCOPE_OK;
}

/* Reading ahead on one CPU only adds switches between the threads
 * (measured: 8-10% slower under taskset -c 0), so by default it needs a
 * second CPU this process may run on. */
static int read_threads(const struct options *o)
{
    if (o->read_threads >= 0) {
        return (int)o->read_threads;
    }
    cpu_set_t cpus;
    if (sched_getaffinity(0, sizeof(cpus), &cpus) != 0 || CPU_COUNT(&cpus) < 2) {
        return 0;
    }
    return READ_THREADS_DEFAULT;
}

/* One live capture of the interface, filtered: the user's filter, or the
 * default one (without its vlan part where the link type has none). */
static int open_live_one(struct run *run, struct capture *c)
{
    struct capture_live_options lo = {CAPTURE_SNAPLEN, run->opt.buffer_mib << 20,
                                      !run->opt.no_promisc};
    int rc = capture_open_live(c, run->opt.device, &lo, run->err, sizeof(run->err));
    if (rc == SMTPSCOPE_OK && run->opt.filter == NULL) {
        run->opt.filter = capture_default_filter(run->opt.ports, run->opt.n_ports);
        char spare[512];
        if (run->opt.filter != NULL &&
            capture_set_filter_one(c, run->opt.filter, spare, sizeof(spare)) == 0) {
            return SMTPSCOPE_OK;
        }
        char *cut = run->opt.filter != NULL ? strstr(run->opt.filter, " or (ip[6:2]") : NULL;
        if (cut != NULL) {
            *cut = '\0';
        }
    }
    if (rc == SMTPSCOPE_OK && run->opt.filter != NULL) {
        rc = capture_set_filter_one(c, run->opt.filter, run->err, sizeof(run->err));
    }
    return rc;
}

static unsigned workers_wanted(const struct options *o)
{
    return o->workers == 0 ? workers_auto_count() : (unsigned)o->workers;
}

/* Live with workers: one capture per process, all in one fanout group. */
static int open_live_fanout(struct run *run, unsigned n)
{
    run->caps = calloc(n, sizeof(*run->caps));
    if (run->caps == NULL) {
        snprintf(run->err, sizeof(run->err), "out of memory");
        return SMTPSCOPE_ERR_INTERNAL;
    }
    run->n_caps = n;
    uint16_t group = (uint16_t)(getpid() & 0xFFFF);
    int rc = SMTPSCOPE_OK;
    for (unsigned i = 0; i < n && rc == SMTPSCOPE_OK; i++) {
        rc = open_live_one(run, &run->caps[i]);
        if (rc == SMTPSCOPE_OK) {
            rc = capture_join_fanout(&run->caps[i], group, run->err, sizeof(run->err));
        }
    }
    run->cap = run->caps[0]; /* closed by release() with the others if need be */
    return rc;
}

static int open_input(struct run *run)
{
    int rc;
    if (run->opt.device != NULL) {
        run->input.is_live = true;
        run->input.source = run->opt.device;
        unsigned n = workers_wanted(&run->opt);
        rc = n > 1 ? open_live_fanout(run, n) : open_live_one(run, &run->cap);
        if (rc == SMTPSCOPE_OK && run->opt.run_as != NULL) {
            rc = drop_privileges(run);
        }
    } else {
        if (run->files == NULL && (run->files = calloc(1, sizeof(*run->files))) == NULL) {
            snprintf(run->err, sizeof(run->err), "out of memory");
            return SMTPSCOPE_ERR_INTERNAL;
        }
        rc = capture_set_open(run->files, run->opt.read_paths, run->opt.n_read, run->err,
                              sizeof(run->err));
        if (run->opt.n_read > 1) {
            snprintf(run->source_text, sizeof(run->source_text), "%.256s and %zu more files",
                     run->opt.read_paths[0], run->opt.n_read - 1);
            run->input.source = run->source_text;
        }
        if (rc == SMTPSCOPE_OK) {
            rc = check_linktypes(run);
        }
        if (rc == SMTPSCOPE_OK && run->opt.filter != NULL) {
            rc = capture_set_filter(run->files, run->opt.filter, run->err, sizeof(run->err));
        }
        return rc;
    }
    if (rc != SMTPSCOPE_OK) {
        return rc;
    }
    if (!decode_linktype_supported(run->cap.linktype)) {
        snprintf(run->err, sizeof(run->err), "%s: link type %s (%d) is not supported",
                 run->cap.source, capture_linktype_name(run->cap.linktype), run->cap.linktype);
        return SMTPSCOPE_ERR_LINKTYPE;
    }
    run->input.linktype_name = capture_linktype_name(run->cap.linktype);
    return SMTPSCOPE_OK;
}

/* One process, or the workers with the reader's pipeline here. */
static int start_pipeline(struct run *run)
{
    const struct options *o = &run->opt;
    struct pipeline_config cfg = {
        .ports = o->ports,
        .n_ports = o->n_ports,
        .discover_ports = !o->ports_given,
        .tls_ports = o->tls_ports,
        .n_tls_ports = o->n_tls_ports,
        .idle_timeout_us = o->idle_timeout_s < 0 ? SESSION_IDLE_TIMEOUT_US
                                                 : o->idle_timeout_s * 1000000,
        .idle_timeout_data_us = o->idle_timeout_s < 0 ? SESSION_IDLE_TIMEOUT_DATA_US
                                                      : o->idle_timeout_s * 1000000,
        .order_window = (size_t)o->order_window,
        .max_streams = o->max_streams,
        .free_buffers_above = (uint64_t)o->free_buffers_above,
        .prefetch_above = (uint64_t)o->prefetch_above,
        .verify_checksums = o->verify_checksums,
        .reorder_window_us = o->reorder_window_ms * 1000,
        .reorder_packets = (uint32_t)o->reorder_packets,
        .sink = {outputs_record, &run->out},
    };
    if (o->extract_dir != NULL && run->extractor == NULL) {
        run->extractor = extract_open(o->extract_dir, run->err, sizeof(run->err));
        if (run->extractor == NULL) {
            return SMTPSCOPE_ERR_OUTPUT;
        }
    }
    if (run->extractor != NULL) {
        cfg.content = extract_content_sink(run->extractor);
    }
    unsigned n_workers = workers_wanted(o);
    if (n_workers > 1 && run->extractor != NULL) {
        /* Extracted files are named by the session's public id, which is
         * known only once the workers' records are merged. */
        fprintf(stderr, "smtpscope: --extract: reading with one process (--workers ignored)\n");
        n_workers = 1;
    }
    int rc;
    if (run->caps != NULL) {
        /* The workers take their captures; this process keeps caps[0]. */
        rc = workers_open_live(&run->workers, run->n_caps, &cfg, run->caps, run->err,
                               sizeof(run->err));
        free(run->caps);
        run->caps = NULL;
    } else if (n_workers > 1 && run->files != NULL) {
        rc = workers_open(&run->workers, n_workers, &cfg, run->err, sizeof(run->err));
    } else {
        rc = pipeline_open(&run->pipe, &cfg, run->err, sizeof(run->err));
    }
    if (rc == SMTPSCOPE_OK && run->files != NULL) {
        /* With a core free, a thread reading ahead is fastest; with every
         * core analysing, mapping the files costs least.  After the
         * workers are forked: they must not inherit the thread. */
        int threads = run->workers != NULL ? 0 : read_threads(o);
        if (threads > 0) {
            capture_set_read_ahead(run->files, threads);
        } else {
            capture_set_map(run->files);
        }
    }
    return rc;
}

/* Ends every open session, writes what waits, gathers the counters. */
static int end_pipeline(struct run *run, enum record_end reason)
{
    int rc = SMTPSCOPE_OK;
    const struct run_input *in;
    if (run->workers != NULL) {
        rc = workers_finish(run->workers, reason, run->err, sizeof(run->err));
        in = workers_input(run->workers);
    } else {
        pipeline_finish(&run->pipe, reason);
        in = &run->pipe.input;
    }
    struct run_input id = run->input;
    run->input = *in;
    run->input.source = id.source;
    run->input.linktype_name = id.linktype_name;
    run->input.is_live = id.is_live;
    run->input.error = id.error;
    /* The workers' sockets' drops are in their counters; this one's: */
    uint64_t d = 0;
    uint64_t ifd = 0;
    capture_drops(&run->cap, &d, &ifd);
    run->input.n_dropped += d;
    run->input.n_if_dropped += ifd;
    return rc;
}

static void close_pipeline(struct run *run)
{
    if (run->workers != NULL) {
        workers_close(run->workers);
        run->workers = NULL;
    } else {
        pipeline_close(&run->pipe);
    }
}

/* --metrics: the HTTP thread starts once any workers are forked (a fork
 * copies only the forking thread) and knows their processes. */
static int resume_metrics(struct run *run)
{
    if (run->opt.metrics_listen == NULL) {
        return SMTPSCOPE_OK;
    }
    int rc;
    if (run->metrics == NULL) {
        char bound[80];
        rc = metrics_open(&run->metrics, run->opt.metrics_listen, bound, sizeof(bound), run->err,
                          sizeof(run->err));
        const char *port = strrchr(run->opt.metrics_listen, ':');
        port = port != NULL ? port + 1 : run->opt.metrics_listen;
        if (rc == SMTPSCOPE_OK && strtol(port, NULL, 10) == 0) {
            /* The system chose the port: the only way to learn it. */
            fprintf(stderr, "smtpscope: metrics at http://%s/metrics\n", bound);
        }
        run->out.metrics = run->metrics;
    } else {
        rc = metrics_resume(run->metrics, run->err, sizeof(run->err));
    }
    if (rc == SMTPSCOPE_OK && run->workers != NULL) {
        int32_t pids[WORKERS_MAX];
        metrics_set_pids(run->metrics, pids, workers_pids(run->workers, pids, WORKERS_MAX));
    }
    run->next_metrics_us = 0;
    return rc;
}

/* The counts once the input has ended, exact and final, published at
 * once (waiting for a scrape in progress, if any). */
static void publish_final_metrics(struct run *run)
{
    if (run->metrics == NULL) {
        return;
    }
    metrics_set_input(run->metrics, run->input.n_packets, run->input.n_bytes,
                      run->input.n_dropped, run->input.n_if_dropped, 0);
    metrics_set_ended(run->metrics);
    metrics_publish(run->metrics, true);
}

/* --metrics-linger: serve the final counts a while, unless interrupted. */
static void linger_metrics(struct run *run)
{
    if (run->metrics == NULL || run->opt.metrics_linger_s <= 0) {
        return;
    }
    int64_t until = wall_clock_us() + run->opt.metrics_linger_s * 1000000;
    while (!g_interrupted && wall_clock_us() < until) {
        poll(NULL, 0, 100);
    }
}

/*
 * Files with no SMTP at all on the analysed ports, but SMTP greetings on
 * others: say so, add those ports and read the files again (nothing has
 * been written yet).  Not with --ports (the user chose), not for standard
 * input or live capture (they cannot be read twice).
 */
static bool should_read_again(const struct run *run, int rc)
{
    const struct pipeline *p = reader_pipeline(run);
    if (rc != SMTPSCOPE_OK || g_stop || run->opt.ports_given || run->files == NULL ||
        p->n_greeting_ports == 0 || run->out.stats->n_sessions > 0 ||
        run->input.n_unattached_packets > 0) {
        return false;
    }
    for (size_t i = 0; i < run->opt.n_read; i++) {
        if (strcmp(run->opt.read_paths[i], "-") == 0) {
            return false;
        }
    }
    return true;
}

static int read_again_with_greeting_ports(struct run *run)
{
    char list[256] = "";
    size_t used = 0;
    const struct pipeline *p = reader_pipeline(run);
    for (size_t i = 0; i < p->n_greeting_ports && run->opt.n_ports < PIPELINE_PORTS_MAX; i++) {
        run->opt.ports[run->opt.n_ports++] = p->greeting_ports[i];
        used += (size_t)snprintf(list + used, sizeof(list) - used, "%s%u", i ? "," : "",
                                 p->greeting_ports[i]);
    }
    fprintf(stderr,
            "smtpscope: no SMTP on the default ports, but SMTP greetings from port %s: "
            "reading again with those ports (--ports chooses them yourself)\n",
            list);
    close_pipeline(run);
    capture_set_close(run->files);
    struct run_input id = run->input;
    memset(&run->input, 0, sizeof(run->input));
    run->input.source = id.source;
    run->input.linktype_name = id.linktype_name;
    outputs_restart(&run->out);
    metrics_restart(run->metrics);
    /* Workers are forked again: not with the HTTP thread running. */
    metrics_pause(run->metrics);
    int rc = open_input(run);
    if (rc == SMTPSCOPE_OK) {
        rc = start_pipeline(run);
    }
    if (rc == SMTPSCOPE_OK) {
        rc = resume_metrics(run);
    }
    return rc != SMTPSCOPE_OK ? rc : read_packets(run);
}

static void release(struct run *run)
{
    close_pipeline(run);
    capture_close(&run->cap);
    for (unsigned i = 1; run->caps != NULL && i < run->n_caps; i++) {
        capture_close(&run->caps[i]); /* opened, never handed to workers */
    }
    free(run->caps);
    if (run->files != NULL) {
        capture_set_close(run->files);
        free(run->files);
    }
    outputs_close(&run->out);
    metrics_close(run->metrics);
    extract_close(run->extractor);
    free(run->opt.filter);
}

/* Reads the whole input; rc of the reading, the output's errors after. */
static int run_analysis(struct run *run)
{
    int rc = read_packets(run);
    int end_rc = end_pipeline(run, g_stop ? RECORD_END_STOPPED : RECORD_END_END_OF_INPUT);
    if (should_read_again(run, rc == SMTPSCOPE_OK ? end_rc : rc)) {
        rc = read_again_with_greeting_ports(run);
        end_rc = end_pipeline(run, g_stop ? RECORD_END_STOPPED : RECORD_END_END_OF_INPUT);
    }
    if (end_rc != SMTPSCOPE_OK) {
        rc = end_rc; /* a worker failed: that outranks damaged input */
    }
    publish_final_metrics(run);
    int out_rc = outputs_summary(&run->out, &run->input, run->err, sizeof(run->err));
    return out_rc != SMTPSCOPE_OK ? out_rc : rc;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "explain") == 0) return explain_main(argc - 1, argv + 1);
    static struct run run;
    int status = options_parse(argc, argv, &run.opt);
    if (status >= 0) {
        return status;
    }
    run.input.first_us = -1;
    run.input.last_us = -1;
    run.input.source = run.opt.read_path != NULL ? run.opt.read_path : run.opt.device;
    if (run.opt.list_devices) {
        int rc = capture_list_devices(stdout, run.err, sizeof(run.err));
        if (rc != SMTPSCOPE_OK) {
            fprintf(stderr, "smtpscope: %s\n", run.err);
        }
        return exit_status(rc);
    }
    run.input.linktype_name = "?";
    if (run.opt.report_path != NULL) {
        /* Hash the input before libpcap reads it (a live capture has none). */
        report_meta_init(&run.meta, argc, argv, run.opt.read_paths, run.opt.n_read);
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    int rc = open_input(&run);
    if (rc == SMTPSCOPE_OK) {
        rc = outputs_open(&run.out, run.opt.json_path, run.opt.report_path, run.opt.quiet,
                          run.opt.device != NULL, &run.meta, run.err, sizeof(run.err));
        run.out.json.community_id_seed = (uint16_t)run.opt.community_id_seed;
    }
    if (rc == SMTPSCOPE_OK) {
        rc = start_pipeline(&run);
        if (rc != SMTPSCOPE_OK) {
            fprintf(stderr, "smtpscope: %s\n", run.err);
            return exit_status(rc); /* libnids cannot be shut down after a failed init */
        }
        rc = resume_metrics(&run);
        if (rc == SMTPSCOPE_OK) {
            rc = run_analysis(&run);
            linger_metrics(&run);
        }
    }
    if (rc != SMTPSCOPE_OK) {
        fprintf(stderr, "smtpscope: %s\n", run.err);
    }
    release(&run);
    return exit_status(rc);
}
