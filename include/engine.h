/*
 * engine.h - the analysis, in this process or in several: the same calls.
 *
 * Role: main.c's one view of where packets are analysed.  With one
 * process the pipeline (pipeline.h) runs here; with more, this process
 * reads and classifies and the workers (workers.h) analyse their shares,
 * their records merged back into one process's order.  Either way
 * records reach the pipeline configuration's sink here.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef ENGINE_H
#define ENGINE_H

#include <stdbool.h>
#include <stdint.h>

#include "capture.h"
#include "pipeline.h"
#include "record.h"
#include "workers.h"

struct engine {
    struct pipeline pipe;     /* one process */
    struct workers *workers;  /* or N processes (NULL: one) */
};

/*
 * Starts the analysis in `processes` processes.  Live with a fanout group
 * (caps != NULL, n_caps sockets): one process per socket, caps[0] read
 * here.  Files: `processes` > 1 forks the workers.  0, or SMTPSCOPE_ERR_*
 * with err filled.
 */
int engine_open(struct engine *e, const struct pipeline_config *cfg, unsigned processes,
                struct capture *caps, unsigned n_caps, char *err, size_t errlen);
bool engine_many(const struct engine *e);

/* A packet read from files; `ahead`, when not NULL, lets the analysis
 * look at the packets read after it. */
void engine_packet(struct engine *e, const struct capture_packet *pkt,
                   const struct capture_set *ahead);
/* A packet of this process's live capture. */
void engine_live_packet(struct engine *e, const struct capture_packet *pkt);
/* Live: the wall clock, for idle sessions and the workers' records. */
void engine_tick(struct engine *e, int64_t now_us);
/* Files: the input is about to wait for more (a pipe whose writer is
 * slow): every record the packets so far have finished is written now.
 * Takes void * to be a reader's callback (capture_set_on_wait). */
void engine_settle(void *e);

/* Packets read in all and their captured bytes, sessions open, and the
 * workers' sockets' drops. */
uint64_t engine_packets(const struct engine *e, uint64_t *bytes, uint64_t *dropped,
                        uint64_t *if_dropped);
uint64_t engine_sessions_open(const struct engine *e);
/* The reading pipeline: greeting ports seen. */
const struct pipeline *engine_reader(const struct engine *e);

/* Ends every open session (reason), writes every record; *counters then
 * points at the run's counters.  0, or SMTPSCOPE_ERR_* (a worker failed)
 * with err filled. */
int engine_finish(struct engine *e, enum record_end reason, const struct run_input **counters,
                  char *err, size_t errlen);
void engine_close(struct engine *e);

#endif
