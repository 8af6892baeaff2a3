/*
 * workers.h - the pipeline on N processes: this one reads, classifies,
 * analyses a share and writes; N - 1 forked workers analyse the rest.
 *
 * Role: libnids keeps its state in globals, so more than one core means
 * more than one process.  This process reads and classifies each packet
 * (pipeline_classify) and sends each connection, by its flow hash (both
 * directions, and every fragment of a datagram, alike), to one process:
 * its own pipeline, or a worker's through a shared-memory ring (no system
 * call and no allocation per packet).  Each process's records come back
 * here, are merged into the order one process writes them and given
 * their public ids, so that the records, the summary and the report are
 * the same whatever N.
 *
 * What only one process can tell exactly: the most sessions waiting on a
 * hole at once (the largest of any one worker's), and bounds reached per
 * worker instead of in all (stream table, sessions waiting), which hold
 * N times as much in all.
 *
 * A worker that dies is reported with its cause and the count of its
 * sessions lost; workers_finish() then fails.  Workers ignore the
 * terminal's signals: this process ends them in order.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef WORKERS_H
#define WORKERS_H

#include <stddef.h>
#include <stdint.h>

#include "capture.h"
#include "pipeline.h"
#include "record.h"
#include "stats.h"

struct workers;

/* The count --workers auto means: the CPUs this process may run on. */
unsigned workers_auto_count(void);

/*
 * Forks n - 1 workers (n >= 2; 0: workers_auto_count()), each running a
 * pipeline with cfg, and opens this process's; records reach cfg->sink
 * here, in one process's order.  0, or SMTPSCOPE_ERR_* with err filled.
 * Call it before starting any thread.
 */
int workers_open(struct workers **out, unsigned n, const struct pipeline_config *cfg,
                 char *err, size_t errlen);

/*
 * Live capture: caps[0..n) are n captures of one interface, joined in one
 * fanout group (capture_join_fanout).  Workers 1..n-1 each take theirs
 * (closed here); caps[0] stays with this process, which gives its packets
 * to workers_live_packet().  Records are written as they come.
 */
int workers_open_live(struct workers **out, unsigned n, const struct pipeline_config *cfg,
                      struct capture *caps, char *err, size_t errlen);
void workers_live_packet(struct workers *w, const struct capture_packet *pkt);
/* Live: the clock here, and the records the workers have sent. */
void workers_tick(struct workers *w, int64_t now_us);
/* Files: the input has nothing more for now (a pipe waits for its
 * writer): hands the workers what is in their rings, waits until they
 * have analysed it and writes every record that can be written. */
void workers_settle(struct workers *w);
/* Packets and their captured bytes read in all (live: as far as the
 * workers have told, every second) and the workers' sockets' drops (this
 * process's are its own capture's). */
void workers_counts(const struct workers *w, uint64_t *packets, uint64_t *bytes,
                    uint64_t *dropped, uint64_t *if_dropped);

/* Classifies pkt here and sends it to its worker; writes what is ready. */
void workers_packet(struct workers *w, const struct capture_packet *pkt);

/*
 * Ends the input (reason for the sessions still open), waits for every
 * worker and writes every remaining record.  0, or SMTPSCOPE_ERR_INTERNAL
 * with err saying which worker failed and how.
 */
int workers_finish(struct workers *w, enum record_end reason, char *err, size_t errlen);

/* All counters of the run, once workers_finish() has returned. */
const struct run_input *workers_input(const struct workers *w);

/* This process's pipeline: what was read and classified, greeting ports. */
const struct pipeline *workers_reader(const struct workers *w);

/* The worker processes' ids (this one's not included) into out[0..cap);
 * how many. */
uint32_t workers_pids(const struct workers *w, int32_t *out, uint32_t cap);

/* Sessions open in the workers, as far as records have come back. */
uint64_t workers_sessions_open(const struct workers *w);

/* Ends the workers (killed if still running) and frees everything. */
void workers_close(struct workers *w);

#endif
