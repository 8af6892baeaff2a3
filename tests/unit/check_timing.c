/*
 * check_timing.c - latency histograms: exact below 256 us, within 1/128
 * (rounded down) above, clamped to the exact minimum and maximum.
 *
 * SPDX-License-Identifier: MIT
 */
#include <check.h>
#include <stdlib.h>

#include "suites.h"
#include "timing.h"

/* The histogram is 40 KiB: keep it off the test's stack. */
static struct latency_hist *hist_new(void)
{
    struct latency_hist *h = malloc(sizeof(*h));
    ck_assert_ptr_nonnull(h);
    latency_init(h);
    return h;
}

START_TEST(test_empty_and_negative)
{
    struct latency_hist *h = hist_new();
    ck_assert_int_eq(latency_quantile(h, 0.5), 0);
    latency_add(h, -1);
    latency_add(h, -1000000);
    ck_assert_uint_eq(h->n, 0);
    ck_assert_int_eq(latency_quantile(h, 1.0), 0);
    free(h);
}
END_TEST

struct q_case {
    double q;
    int64_t want;
};

/* Samples 1..100 once each: the q-quantile is the ceil(q*100)-th value. */
static const struct q_case one_to_hundred[] = {
    {0.01, 1}, {0.25, 25}, {0.5, 50}, {0.75, 75}, {0.9, 90},
    {0.95, 95}, {0.99, 99}, {1.0, 100}, {0.001, 1}, {0.505, 51},
};

START_TEST(test_known_samples)
{
    struct latency_hist *h = hist_new();
    for (int64_t v = 100; v >= 1; v--) { /* order must not matter */
        latency_add(h, v);
    }
    ck_assert_uint_eq(h->n, 100);
    ck_assert_int_eq(h->min_us, 1);
    ck_assert_int_eq(h->max_us, 100);
    ck_assert_int_eq(h->sum_us, 5050);
    const struct q_case *c = &one_to_hundred[_i];
    ck_assert_msg(latency_quantile(h, c->q) == c->want, "q=%g: want %lld got %lld", c->q,
                  (long long)c->want, (long long)latency_quantile(h, c->q));
    free(h);
}
END_TEST

/*
 * q*n computed in floating point lands one ulp above an integer for some
 * everyday q (0.07 * 100 == 7.000000000000001), and the rank must still be
 * that integer (7 samples of 1..100 lie at or below 7), not the next one.
 */
static const struct q_case float_ranks[] = {
    {0.07, 7}, {0.14, 14}, {0.28, 28}, {0.56, 56}, {0.57, 57}, {0.29, 29},
};

START_TEST(test_rank_not_bumped_by_rounding)
{
    struct latency_hist *h = hist_new();
    for (int64_t v = 1; v <= 100; v++) {
        latency_add(h, v);
    }
    const struct q_case *c = &float_ranks[_i];
    int64_t got = latency_quantile(h, c->q);
    ck_assert_msg(got == c->want, "q=%g over 1..100: want %lld got %lld", c->q,
                  (long long)c->want, (long long)got);
    free(h);
}
END_TEST

/* Below 256 us every value has its own bin. */
START_TEST(test_exact_below_256)
{
    struct latency_hist *h = hist_new();
    for (int64_t v = 0; v < 256; v++) {
        latency_add(h, v);
    }
    for (int k = 1; k <= 256; k++) {
        /* k/256 is exact in binary, so the rank is exactly k. */
        ck_assert_int_eq(latency_quantile(h, (double)k / 256.0), k - 1);
    }
    free(h);
}
END_TEST

static uint64_t lcg_next(uint64_t *state)
{
    *state = *state * 6364136223846793005ULL + 1442695040888963407ULL;
    return *state >> 11;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a;
    int64_t y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Dyadic q, so q*n is exact and the true rank is unambiguous. */
static const double dyadic_q[] = {0.0001220703125, 0.125, 0.25, 0.5, 0.75, 0.9375, 0.99609375, 1.0};

START_TEST(test_relative_error_above_256)
{
    enum { N = 8192 };
    struct latency_hist *h = hist_new();
    int64_t *v = malloc(N * sizeof(*v));
    ck_assert_ptr_nonnull(v);
    uint64_t seed = 42;
    for (int i = 0; i < N; i++) {
        /* Log-spread values from 0 to about 2^40 us (12 days). */
        unsigned bits = (unsigned)(lcg_next(&seed) % 41);
        v[i] = (int64_t)(lcg_next(&seed) & ((1ULL << bits) - 1));
        latency_add(h, v[i]);
    }
    qsort(v, N, sizeof(*v), cmp_i64);
    for (size_t k = 0; k < sizeof(dyadic_q) / sizeof(dyadic_q[0]); k++) {
        double q = dyadic_q[k];
        size_t rank = (size_t)(q * N);
        ck_assert_uint_ge(rank, 1);
        int64_t exact = v[rank - 1];
        int64_t got = latency_quantile(h, q);
        ck_assert_msg(got <= exact, "q=%g: %lld above exact %lld", q, (long long)got,
                      (long long)exact);
        if (exact < 256) {
            ck_assert_int_eq(got, exact);
        } else {
            ck_assert_msg((exact - got) * 128 <= exact, "q=%g: %lld too far below %lld", q,
                          (long long)got, (long long)exact);
        }
    }
    ck_assert_int_eq(latency_quantile(h, 1.0), v[N - 1]);
    free(v);
    free(h);
}
END_TEST

/* The quantile as first written: every bin summed from the bottom. */
static int64_t quantile_full_walk(const struct latency_hist *h, double q)
{
    uint64_t rank = (uint64_t)(q * (double)h->n + 0.999999);
    rank = rank < 1 ? 1 : rank;
    if (rank >= h->n) {
        return h->max_us;
    }
    uint64_t seen = 0;
    for (unsigned g = 0; g < TIMING_GROUPS; g++) {
        for (unsigned s = 0; s < TIMING_SUB; s++) {
            seen += h->bins[g][s];
            if (seen >= rank) {
                int64_t v = g == 0 ? (int64_t)s : (int64_t)((uint64_t)s << g);
                v = v < h->min_us ? h->min_us : v;
                return v > h->max_us ? h->max_us : v;
            }
        }
    }
    return h->max_us;
}

/* Skipping whole groups by their counts gives what summing every bin gave,
 * for sample counts that put ranks at group edges and inside groups. */
START_TEST(test_same_as_full_walk)
{
    static const int counts[] = {1, 2, 3, 7, 100, 1000, 5000};
    uint64_t seed = 7;
    for (size_t c = 0; c < sizeof(counts) / sizeof(counts[0]); c++) {
        struct latency_hist *h = hist_new();
        for (int i = 0; i < counts[c]; i++) {
            unsigned bits = (unsigned)(lcg_next(&seed) % 49);
            latency_add(h, (int64_t)(lcg_next(&seed) & ((1ULL << bits) - 1)));
        }
        for (int k = 1; k <= 1000; k++) {
            double q = k / 1000.0;
            ck_assert_msg(latency_quantile(h, q) == quantile_full_walk(h, q),
                          "n=%d q=%g: %lld, full walk %lld", counts[c], q,
                          (long long)latency_quantile(h, q), (long long)quantile_full_walk(h, q));
        }
        free(h);
    }
}
END_TEST

/* A lone sample comes back exactly: the bin value is clamped to min/max. */
START_TEST(test_clamped_to_min_max)
{
    static const int64_t samples[] = {257, 1000, 123456789, 1LL << 45};
    for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
        struct latency_hist *h = hist_new();
        latency_add(h, samples[i]);
        ck_assert_int_eq(latency_quantile(h, 0.5), samples[i]);
        ck_assert_int_eq(latency_quantile(h, 1.0), samples[i]);
        free(h);
    }
}
END_TEST

START_TEST(test_delta)
{
    ck_assert_int_eq(timing_delta_us(1000, 3500), 2500);
    ck_assert_int_eq(timing_delta_us(1000, 1000), 0);
    ck_assert_int_eq(timing_delta_us(-1, 1000), -1);
    ck_assert_int_eq(timing_delta_us(1000, -1), -1);
    ck_assert_int_eq(timing_delta_us(2000, 1000), -1);
}
END_TEST

Suite *timing_suite(void)
{
    Suite *s = suite_create("timing");
    TCase *tc = tcase_create("latency");
    tcase_add_test(tc, test_empty_and_negative);
    tcase_add_loop_test(tc, test_known_samples, 0,
                        (int)(sizeof(one_to_hundred) / sizeof(one_to_hundred[0])));
    tcase_add_loop_test(tc, test_rank_not_bumped_by_rounding, 0,
                        (int)(sizeof(float_ranks) / sizeof(float_ranks[0])));
    tcase_add_test(tc, test_exact_below_256);
    tcase_add_test(tc, test_relative_error_above_256);
    tcase_add_test(tc, test_clamped_to_min_max);
    tcase_add_test(tc, test_same_as_full_walk);
    tcase_add_test(tc, test_delta);
    suite_add_tcase(s, tc);
    return s;
}
