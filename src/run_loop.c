/*
 * run_loop.c - reading the packets: capture files, or live until stopped.
 *
 * The loops hand each packet to the engine (engine.h) and do the work
 * that falls between packets: the signals' requests (SIGUSR1's stats
 * line, SIGHUP's reopened JSON file), the progress line, the metrics'
 * publication, and live, the timer's idle sweep, --stats, --duration
 * and -c.  The signal handlers themselves live in main.c and only set
 * run->flags.
 *
 * SPDX-License-Identifier: MIT
 */
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "run_loop.h"
#include "smtpscope.h"

/* Packets read and their captured bytes, and the drops of every capture
 * socket. */
static uint64_t packets_read(struct run *run, uint64_t *bytes, uint64_t *dropped,
                             uint64_t *if_dropped)
{
    uint64_t packets = engine_packets(&run->eng, bytes, dropped, if_dropped);
    uint64_t d = 0;
    uint64_t ifd = 0;
    input_drops(&run->in, &d, &ifd);
    *dropped += d;
    *if_dropped += ifd;
    return packets;
}

static void print_stats_line(struct run *run)
{
    uint64_t bytes = 0;
    uint64_t drop = 0;
    uint64_t ifdrop = 0;
    uint64_t packets = packets_read(run, &bytes, &drop, &ifdrop);
    outputs_stats_line(&run->out, stderr, packets, drop, ifdrop, engine_sessions_open(&run->eng));
}

/* SIGHUP reopens the JSON file (log rotation), SIGUSR1 prints the stats
 * line: live or reading files alike. */
static void answer_signals(struct run *run)
{
    run->flags->asked = 0;
    if (run->flags->reopen) {
        run->flags->reopen = 0;
        char err[512];
        if (outputs_reopen_json(&run->out, err, sizeof(err)) != SMTPSCOPE_OK) {
            fprintf(stderr, "smtpscope: %s\n", err);
        }
    }
    if (run->flags->stats_now) {
        run->flags->stats_now = 0;
        print_stats_line(run);
    }
}

/* --metrics: the tally with the input's counts, at most ten times a
 * second (reading files, the clock is looked at every 64 packets; live,
 * at each housekeeping pass), for the HTTP thread; never waits for it. */
#define METRICS_PUBLISH_EVERY_US 100000
void run_publish_metrics(struct run *run, int64_t now)
{
    if (run->metrics == NULL || now < run->next_metrics_us) {
        return;
    }
    uint64_t bytes = 0;
    uint64_t drop = 0;
    uint64_t ifdrop = 0;
    uint64_t packets = packets_read(run, &bytes, &drop, &ifdrop);
    metrics_set_input(run->metrics, packets, bytes, drop, ifdrop,
                      engine_sessions_open(&run->eng));
    if (metrics_publish(run->metrics, false)) {
        run->next_metrics_us = now + METRICS_PUBLISH_EVERY_US;
    }
}

/* Work that runs on a timer in live capture: idle sweep, stats, limits. */
static void live_housekeeping(struct run *run, int64_t *next_stats_us, int64_t stop_at_us)
{
    int64_t now = run_wall_clock_us();
    engine_tick(&run->eng, now);
    answer_signals(run);
    if (run->opt.stats_every_s > 0 && now >= *next_stats_us) {
        *next_stats_us = now + run->opt.stats_every_s * 1000000;
        print_stats_line(run);
    }
    if (stop_at_us > 0 && now >= stop_at_us) {
        run->flags->stop = 1;
    }
    run_publish_metrics(run, now);
}

static bool session_limit_reached(const struct run *run)
{
    return run->opt.max_sessions > 0 && (long long)run->out.stats->n_sessions >= run->opt.max_sessions;
}

/* Capture files: nothing live to look after.  The progress line is drawn
 * here, in the process that reads (also with --workers). */
static int read_files(struct run *run, struct capture_packet *pkt)
{
    int rc = 0;
    struct progress *pr = &run->progress;
    /* Not over records or a report that go to the same terminal. */
    bool to_stdout = (run->opt.json_path != NULL && strcmp(run->opt.json_path, "-") == 0) ||
                     (run->opt.report_path != NULL && strcmp(run->opt.report_path, "-") == 0);
    progress_start(pr, run->opt.read_paths, run->opt.n_read,
                   !run->opt.no_progress && !(to_stdout && isatty(STDOUT_FILENO)));
    uint64_t n = 0;
    /* One file (the common case) is read without the merge by time. */
    struct capture_set *set = run->in.files;
    struct capture *one = set->n == 1 && !engine_many(&run->eng) ? &set->files[0] : NULL;
    bool limited = run->opt.max_sessions > 0;
    while (!run->flags->stop && !(limited && session_limit_reached(run)) &&
           (rc = one != NULL ? capture_next(one, pkt, run->err, sizeof(run->err))
                             : capture_set_next(set, pkt, run->err, sizeof(run->err))) == 1) {
        engine_packet(&run->eng, pkt, set);
        if (run->flags->asked) {
            answer_signals(run);
        }
        if (progress_packet(pr, pkt->caplen)) {
            progress_draw(pr, run->out.stats->n_sessions);
        }
        if (run->metrics != NULL && (++n & 63) == 0) {
            run_publish_metrics(run, run_wall_clock_us());
        }
    }
    progress_end(pr);
    if (rc < 0 && one != NULL) {
        capture_name_error(one, run->err, sizeof(run->err));
    }
    return run->flags->stop || session_limit_reached(run) ? 0 : rc;
}

/* Live: packets when there are some, the timer's work in between. */
static int read_live(struct run *run, struct capture_packet *pkt)
{
    int rc = 0;
    int64_t start = run_wall_clock_us();
    int64_t next_stats = start + run->opt.stats_every_s * 1000000;
    int64_t stop_at = run->opt.duration_s > 0 ? start + run->opt.duration_s * 1000000 : 0;
    uint64_t since_housekeeping = 0;
    while (!run->flags->stop && !session_limit_reached(run)) {
        rc = capture_next(&run->in.cap, pkt, run->err, sizeof(run->err));
        if (rc == 1) {
            engine_live_packet(&run->eng, pkt);
            if (++since_housekeeping == 256) {
                since_housekeeping = 0;
                live_housekeeping(run, &next_stats, stop_at);
            }
            continue;
        }
        if (rc != 2) {
            break;
        }
        struct pollfd pfd = {capture_fd(&run->in.cap), POLLIN, 0};
        poll(&pfd, 1, 200);
        live_housekeeping(run, &next_stats, stop_at);
    }
    return rc;
}

int run_read_packets(struct run *run)
{
    struct capture_packet pkt = {0};
    int rc = run->in.files != NULL ? read_files(run, &pkt) : read_live(run, &pkt);
    if (session_limit_reached(run)) {
        run->flags->stop = 1; /* -c: the open sessions end as stopped, like on SIGINT */
    }
    if (run->flags->stop || rc >= 0) {
        return SMTPSCOPE_OK;
    }
    run->input.error = run->err;
    return rc;
}

