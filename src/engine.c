/*
 * engine.c - one process or many behind the same calls.
 *
 * Every call goes either to this process's pipeline or to the workers,
 * which keep a pipeline here too (the reader's: it classifies every
 * packet and counts what was read).  Nothing else differs, so main.c's
 * loops never ask how many processes there are.
 *
 * SPDX-License-Identifier: MIT
 */
#include "engine.h"

#include <stddef.h>

#include "smtpscope.h"

int engine_open(struct engine *e, const struct pipeline_config *cfg, unsigned processes,
                struct capture *caps, unsigned n_caps, char *err, size_t errlen)
{
    e->workers = NULL;
    if (caps != NULL) {
        return workers_open_live(&e->workers, n_caps, cfg, caps, err, errlen);
    }
    if (processes > 1) {
        return workers_open(&e->workers, processes, cfg, err, errlen);
    }
    return pipeline_open(&e->pipe, cfg, err, errlen);
}

bool engine_many(const struct engine *e)
{
    return e->workers != NULL;
}

/* With many sessions open, each packet's stream state is cold: the
 * packets that come next have theirs loading while this one is processed
 * (the stream layer takes it in two steps, one packet apart). */
static void look_ahead(struct engine *e, const struct capture_set *ahead)
{
    const uint8_t *data;
    size_t caplen;
    int linktype;
    if (capture_set_peek(ahead, 2, &data, &caplen, &linktype)) {
        pipeline_hint(&e->pipe, linktype, data, caplen);
    } else {
        pipeline_hint(&e->pipe, 0, NULL, 0);
    }
}

void engine_packet(struct engine *e, const struct capture_packet *pkt,
                   const struct capture_set *ahead)
{
    if (e->workers != NULL) {
        workers_packet(e->workers, pkt);
        return;
    }
    if (ahead != NULL && pipeline_wants_hints(&e->pipe)) {
        look_ahead(e, ahead);
    }
    pipeline_packet(&e->pipe, pkt);
}

void engine_live_packet(struct engine *e, const struct capture_packet *pkt)
{
    if (e->workers != NULL) {
        workers_live_packet(e->workers, pkt);
    } else {
        pipeline_packet(&e->pipe, pkt);
    }
}

void engine_settle(void *eng)
{
    struct engine *e = eng;
    if (e->workers != NULL) {
        workers_settle(e->workers);
    }
}

void engine_tick(struct engine *e, int64_t now_us)
{
    if (e->workers != NULL) {
        workers_tick(e->workers, now_us);
    } else {
        pipeline_tick(&e->pipe, now_us);
    }
}

const struct pipeline *engine_reader(const struct engine *e)
{
    return e->workers != NULL ? workers_reader(e->workers) : &e->pipe;
}

uint64_t engine_packets(const struct engine *e, uint64_t *bytes, uint64_t *dropped,
                        uint64_t *if_dropped)
{
    uint64_t packets = engine_reader(e)->input.n_packets;
    *bytes = engine_reader(e)->input.n_bytes;
    *dropped = *if_dropped = 0;
    if (e->workers != NULL) {
        workers_counts(e->workers, &packets, bytes, dropped, if_dropped);
    }
    return packets;
}

uint64_t engine_sessions_open(const struct engine *e)
{
    return e->workers != NULL ? workers_sessions_open(e->workers)
                              : pipeline_sessions_open(&e->pipe);
}

int engine_finish(struct engine *e, enum record_end reason, const struct run_input **counters,
                  char *err, size_t errlen)
{
    if (e->workers != NULL) {
        int rc = workers_finish(e->workers, reason, err, errlen);
        *counters = workers_input(e->workers);
        return rc;
    }
    pipeline_finish(&e->pipe, reason);
    *counters = &e->pipe.input;
    return SMTPSCOPE_OK;
}

void engine_close(struct engine *e)
{
    if (e->workers != NULL) {
        workers_close(e->workers);
        e->workers = NULL;
    } else {
        pipeline_close(&e->pipe);
    }
}
