/*
 * run_loop.h - one run of the command: what main.c opens and the read loop uses.
 *
 * Role: the private contract between main.c (argv, signals, opening and
 * closing, exit statuses) and run_loop.c (reading the packets and the
 * work between them).  Nothing else includes it.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef RUN_LOOP_H
#define RUN_LOOP_H

#include <signal.h>
#include <stdint.h>
#include <time.h>

#include "engine.h"
#include "extract.h"
#include "input.h"
#include "metrics.h"
#include "options.h"
#include "outputs.h"
#include "progress.h"
#include "report_meta.h"
#include "smtp_limits.h"

/* What the signal handlers ask; read once per packet (asked) at most. */
struct run_flags {
    volatile sig_atomic_t stop;
    volatile sig_atomic_t interrupted; /* SIGINT or SIGTERM, not --duration or -c */
    volatile sig_atomic_t stats_now;
    volatile sig_atomic_t reopen;
    volatile sig_atomic_t asked; /* stats_now or reopen: one test per packet */
};

struct run {
    struct run_flags *flags;     /* set by the signal handlers (main.c) */
    struct options opt;
    struct input in;
    struct engine eng;           /* one process or many */
    struct outputs out;
    struct run_input input;      /* the run's identity, then every counter */
    struct report_meta meta;
    struct extractor *extractor;
    struct progress progress;    /* offline, on a terminal */
    struct metrics *metrics;     /* --metrics, or NULL */
    int64_t next_metrics_us;     /* wall clock of the next publication */
    char err[512];
    char host_name[SMTP_NAME_KEEP + 1]; /* the default --sensor */
    const char *input_names[CAPTURE_FILES_MAX]; /* each input's name in records */
};

static inline int64_t run_wall_clock_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Reads every packet of the input (files, or live until stopped): 0, or
 * the input's error code with run->err filled. */
int run_read_packets(struct run *run);

/* --metrics: the input's counts published now if due (never waits). */
void run_publish_metrics(struct run *run, int64_t now_us);

#endif
