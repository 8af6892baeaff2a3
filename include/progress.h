/*
 * progress.h - the progress line of a long offline read, on a terminal.
 *
 * Role: beside the packet loop in main.c.  While capture files are read,
 * a line on standard error says how far the read is: bytes and percent of
 * the files, packets per second, sessions written, time left; redrawn in
 * place (carriage return, erase to end of line) at most PROGRESS_REDRAW_MS
 * apart, and only once the read has taken PROGRESS_AFTER_MS, so short
 * reads show nothing.  Only when standard error is a terminal: never into
 * a pipe or a file.  Bytes read are counted from the records (a pcap
 * record header and its captured bytes); the total is the files' sizes,
 * so percent and time left are estimates, left out when the total is not
 * known (standard input) or the count outgrows it.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef PROGRESS_H
#define PROGRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PROGRESS_AFTER_MS 1000
#define PROGRESS_REDRAW_MS 250
/* The clock is read once per this many packets. */
#define PROGRESS_CHECK_EVERY 1024

struct progress {
    bool is_on;          /* standard error is a terminal and not --no-progress */
    bool drawn;          /* a line is on the terminal now */
    uint64_t total_bytes; /* 0: unknown */
    uint64_t n_bytes;
    uint64_t n_packets;
    uint32_t until_check;
    unsigned width;      /* terminal columns */
    int64_t start_ms;
    int64_t next_ms;     /* the next redraw, not before */
};

/*
 * Starts the line for reading paths[0..n) ("-" is standard input, of
 * unknown size).  wanted: false for --no-progress.  The paths are only
 * looked at (stat), not kept.
 */
void progress_start(struct progress *p, const char *const *paths, size_t n, bool wanted);

/* One packet read, of caplen captured bytes.  True every
 * PROGRESS_CHECK_EVERY packets when the line is on: then call
 * progress_draw(). */
static inline bool progress_packet(struct progress *p, size_t caplen)
{
    p->n_packets++;
    p->n_bytes += 16 + caplen;
    if (!p->is_on || --p->until_check > 0) {
        return false;
    }
    p->until_check = PROGRESS_CHECK_EVERY;
    return true;
}

/* Redraws the line if it is time; sessions: those written so far. */
void progress_draw(struct progress *p, uint64_t sessions);

/* Erases the line (before the summary or an error is printed). */
void progress_end(struct progress *p);

#endif
