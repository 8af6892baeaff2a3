/*
 * writer.h - output writers: JSON Lines, the human summary, the HTML report.
 *
 * Role: the last stage.  A writer receives each finished session record
 * and, at the end, the run report.  Writers see only record.h, stats.h
 * and escape.h: every wire string goes through escape.h.  Each writes to
 * a FILE it does not own and reports write failures through *failed.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef WRITER_H
#define WRITER_H

#include <stdbool.h>
#include <stdio.h>

#include "record.h"
#include "stats.h"
#include "report_meta.h"
#include "span.h"

struct writer {
    void (*session)(struct writer *w, const struct session_record *r);
    void (*summary)(struct writer *w, const struct run_report *rep);
    FILE *out;
    struct capbuf line; /* reused for every record: no per-record malloc */
    bool failed;
    bool flush_each;    /* live capture: every record reaches the file at once */
    uint16_t community_id_seed; /* JSON: the Community ID's seed (--community-id-seed) */
    const char *sensor;         /* uids (all), and JSON's "sensor": --sensor, or the host name; borrowed */
    const char *const *input_names; /* JSON: name of each input by record.input; borrowed */
    size_t n_inputs;
    bool flat;                  /* JSON: --json-format flat, one level of keys, no summary */
    void *priv;         /* writer-private state, freed by writer_free */
    void (*release)(void *priv); /* frees what priv holds, before priv; may be NULL */
};

/* JSON Lines: one object per session, then one summary object. */
void writer_jsonl_init(struct writer *w, FILE *out);
/* Human summary; sessions are tallied, only abnormal ones are listed. */
void writer_text_init(struct writer *w, FILE *out);
/*
 * Self-contained HTML report (inline CSS and SVG, no script).  meta is
 * borrowed and must outlive the writer; NULL leaves the chain of custody
 * without hashes.  Keeps bounded aggregates per session and writes the
 * whole document at summary time, after which its transcripts are freed.
 */
void writer_html_init(struct writer *w, FILE *out, const struct report_meta *meta);
void writer_free(struct writer *w);

/* Shared by writers: emits w->line to w->out and empties it. */
void writer_flush_line(struct writer *w);

#endif
