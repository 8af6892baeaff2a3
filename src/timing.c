/*
 * timing.c - log-linear latency histograms (see timing.h).
 *
 * SPDX-License-Identifier: MIT
 */
#include "timing.h"

#include <stdint.h>
#include <string.h>

void latency_init(struct latency_hist *h)
{
    memset(h, 0, sizeof(*h));
}

/* Group g holds [2^(g+7), 2^(g+8)) for g >= 1; group 0 holds [0, 256). */
static void bin_of(uint64_t v, unsigned *group, unsigned *sub)
{
    if (v < TIMING_SUB) {
        *group = 0;
        *sub = (unsigned)v;
        return;
    }
    unsigned top = 63 - (unsigned)__builtin_clzll(v); /* >= 8 */
    unsigned shift = top - (TIMING_SUB_BITS - 1);
    *group = shift;
    *sub = (unsigned)(v >> shift);
    if (*group >= TIMING_GROUPS) {
        *group = TIMING_GROUPS - 1;
        *sub = TIMING_SUB - 1;
    }
}

static uint64_t bin_value(unsigned group, unsigned sub)
{
    return group == 0 ? sub : (uint64_t)sub << group;
}

void latency_add(struct latency_hist *h, int64_t us)
{
    unsigned group;
    unsigned sub;
    if (us < 0) {
        return;
    }
    bin_of((uint64_t)us, &group, &sub);
    h->bins[group][sub]++;
    h->group_n[group]++;
    if (h->n == 0 || us < h->min_us) {
        h->min_us = us;
    }
    if (h->n == 0 || us > h->max_us) {
        h->max_us = us;
    }
    h->n++;
    /* Saturate: absurd capture times (hostile files) must not overflow. */
    h->sum_us = us > INT64_MAX - h->sum_us ? INT64_MAX : h->sum_us + us;
}

int64_t latency_quantile(const struct latency_hist *h, double q)
{
    if (h->n == 0) {
        return 0;
    }
    uint64_t rank = (uint64_t)(q * (double)h->n + 0.999999);
    if (rank < 1) {
        rank = 1;
    }
    if (rank >= h->n) {
        return h->max_us; /* the top sample is kept exactly */
    }
    unsigned g = 0;
    uint64_t seen = 0;
    while (g < TIMING_GROUPS - 1 && seen + h->group_n[g] < rank) {
        seen += h->group_n[g];
        g++;
    }
    /* At this point the rank-th sample lies in group g (rank < n).  Above
     * group 0 the top bit of every value is bit 7 of its sub-bin, so the
     * lower half of the group is always empty. */
    unsigned s = g == 0 ? 0 : TIMING_SUB / 2;
    while (s < TIMING_SUB - 1) {
        seen += h->bins[g][s];
        if (seen >= rank) {
            break;
        }
        s++;
    }
    int64_t v = (int64_t)bin_value(g, s);
    if (v < h->min_us) {
        v = h->min_us;
    }
    return v > h->max_us ? h->max_us : v;
}
