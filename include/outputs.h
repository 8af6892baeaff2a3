/*
 * outputs.h - the run's outputs: JSON Lines, the terminal summary, the
 * HTML report, and the statistics they summarise.
 *
 * Role: every finished record goes to outputs_record() (statistics, then
 * each writer); at the end outputs_summary() writes the run report.  Write
 * errors are kept, not printed: the caller says them.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef OUTPUTS_H
#define OUTPUTS_H

#include <stdbool.h>
#include <stdio.h>

#include "record.h"
#include "stats.h"
#include "report_meta.h"
#include "writer.h"

struct metrics;

struct outputs {
    struct run_stats *stats;
    struct metrics *metrics;  /* --metrics: each record is added to it too; borrowed */
    struct writer json;
    struct writer text;
    struct writer html;
    FILE *json_file;
    FILE *html_file;
    const char *json_path;
    const char *report_path;
    bool has_json;
    bool has_text;
    bool has_html;
    uint64_t max_records;   /* -c: records past this many are not written (0: all) */
};

/*
 * Opens what was asked for: JSON Lines to json_path ("-": standard output,
 * and then the terminal summary goes to standard error), the terminal
 * summary unless quiet, the report to report_path ("-": standard output
 * too, and the summary to standard error; not both "-"; meta borrowed).
 * Files are created mode 0640.  With flush_each (a capture read as it is
 * taken) each record reaches its file at once.  0, or SMTPSCOPE_ERR_* with
 * err filled.
 */
int outputs_open(struct outputs *o, const char *json_path, const char *report_path, bool quiet,
                 bool flush_each, const struct report_meta *meta, char *err, size_t errlen);

/* For session_sink.emit: ctx is the struct outputs.  Past max_records
 * records (-c), a record is neither counted nor written: the sessions
 * still open when the limit stops the capture are left out. */
void outputs_record(void *ctx, const struct session_record *r);

/* Writes every summary; 0, or SMTPSCOPE_ERR_OUTPUT with err filled. */
int outputs_summary(struct outputs *o, const struct run_input *in, char *err, size_t errlen);

/* SIGHUP: reopens the JSON file (after log rotation moved it away); on
 * failure the old file is kept and err says why. */
int outputs_reopen_json(struct outputs *o, char *err, size_t errlen);

/* Empties the statistics (the input is read again from the start). */
void outputs_restart(struct outputs *o);

/* The one-line statistics of --stats and SIGUSR1: the counters given,
 * the sessions closed and abnormal so far, resident memory. */
void outputs_stats_line(const struct outputs *o, FILE *f, uint64_t packets, uint64_t dropped,
                        uint64_t if_dropped, uint64_t sessions_open);

void outputs_close(struct outputs *o);

#endif
