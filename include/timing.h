/*
 * timing.h - latency distributions in integer microseconds.
 *
 * Role: part of the analysis stage.  A latency histogram keeps every
 * sample in a fixed-size log-linear table (values below 256 us exact,
 * above that within 1/128 relative, rounded down), so percentiles over millions of
 * sessions cost a fixed 40 KiB each and memory never grows with input.
 * The exact minimum, maximum and sum are kept beside it.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef TIMING_H
#define TIMING_H

#include <stdbool.h>
#include <stdint.h>

#define TIMING_SUB_BITS 8
#define TIMING_SUB (1 << TIMING_SUB_BITS)
#define TIMING_GROUPS 40 /* 2^(40+8) us: beyond any capture */

struct latency_hist {
    uint64_t n;
    int64_t min_us;
    int64_t max_us;
    int64_t sum_us;
    uint32_t bins[TIMING_GROUPS][TIMING_SUB];
    /* Samples per group, so a quantile skips whole groups (10,240 bins)
     * instead of summing every bin below it. */
    uint64_t group_n[TIMING_GROUPS];
};

void latency_init(struct latency_hist *h);
/* Adds one sample; negative values are ignored (clock went backwards). */
void latency_add(struct latency_hist *h, int64_t us);
/*
 * The q-quantile (0 < q <= 1) as the smallest recorded bin value at or
 * above which q of the samples lie, clamped to the exact min and max.
 * 0 when there are no samples.
 */
int64_t latency_quantile(const struct latency_hist *h, double q);

/* Difference of two packet times, or -1 when either is unknown (-1).
 * Inline: writers call it several times per exchange. */
static inline int64_t timing_delta_us(int64_t from_us, int64_t to_us)
{
    if (from_us < 0 || to_us < 0 || to_us < from_us) {
        return -1;
    }
    return to_us - from_us;
}

#endif
