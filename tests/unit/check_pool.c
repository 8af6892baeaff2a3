/*
 * check_pool.c - fixed-size object pools.
 *
 * Objects are aligned, distinct while held, reused once returned, and
 * survive many slabs' worth of allocations (the unit build runs under
 * AddressSanitizer, where the pool hands out plain mallocs, so these
 * checks hold for both builds).
 *
 * SPDX-License-Identifier: MIT
 */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pool.h"
#include "suites.h"
#include "test_util.h"

#define N_OBJECTS 3000 /* several 64 KiB slabs of 600-byte objects */

START_TEST(test_objects_distinct_and_aligned)
{
    struct pool p;
    pool_init(&p, 600);
    ck_assert_uint_eq(p.size, 608);
    uint8_t **held = calloc(N_OBJECTS, sizeof(*held));
    CHECK(held != NULL);
    for (size_t i = 0; i < N_OBJECTS; i++) {
        held[i] = pool_get(&p);
        CHECK(held[i] != NULL);
        ck_assert_uint_eq((uintptr_t)held[i] % 16, 0);
        memset(held[i], (int)(i & 0xFF), 600);
    }
    for (size_t i = 0; i < N_OBJECTS; i++) {
        for (size_t k = 0; k < 600; k += 97) {
            ck_assert_uint_eq(held[i][k], (uint8_t)(i & 0xFF)); /* no overlap */
        }
    }
    for (size_t i = 0; i < N_OBJECTS; i++) {
        pool_put(&p, held[i]);
    }
    pool_put(&p, NULL);
    free(held);
    pool_free_all(&p);
}
END_TEST

START_TEST(test_returned_object_is_reused)
{
    struct pool p;
    pool_init(&p, 256);
    void *a = pool_get(&p);
    void *b = pool_get(&p);
    CHECK(a != NULL && b != NULL && a != b);
    pool_put(&p, a);
    void *c = pool_get(&p);
#if !defined(__SANITIZE_ADDRESS__)
    ck_assert_ptr_eq(c, a); /* the last one returned comes back first */
#endif
    pool_put(&p, b);
    pool_put(&p, c);
    pool_free_all(&p);
}
END_TEST

Suite *pool_suite(void)
{
    Suite *s = suite_create("pool");
    TCase *tc = tcase_create("objects");
    tcase_add_test(tc, test_objects_distinct_and_aligned);
    tcase_add_test(tc, test_returned_object_is_reused);
    suite_add_tcase(s, tc);
    return s;
}
