/*
 * check_record.c - a record packed flat and back, and the order heap.
 *
 * A packed record comes back with every array and every text as it was,
 * and a buffer whose sizes disagree with its length is refused; the order
 * heap gives its items back in id order, however they went in.
 *
 * SPDX-License-Identifier: MIT
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "order_heap.h"
#include "record.h"
#include "suites.h"
#include "test_util.h"

START_TEST(test_pack_round_trip)
{
    static const char text[] = "EHLO client.test\nmx.test ESMTP";
    struct record_exchange ex[3];
    memset(ex, 0, sizeof(ex));
    for (int i = 0; i < 3; i++) {
        ex[i].code = (uint16_t)(250 + i);
        ex[i].arg = (struct record_text){5, 11};
    }
    struct record_message msg;
    memset(&msg, 0, sizeof(msg));
    msg.exchange = 2;
    msg.subject = (struct record_text){17, 7};
    struct session_record r;
    memset(&r, 0, sizeof(r));
    r.id = 42;
    r.exchanges = ex;
    r.n_exchanges = 3;
    r.messages = &msg;
    r.n_messages = 1;
    r.arena = (const uint8_t *)text;
    r.arena_len = (uint32_t)strlen(text);
    size_t n = record_packed_size(&r);
    uint8_t *buf = malloc(n + 8);
    CHECK(buf != NULL);
    record_pack(&r, buf);
    struct session_record back;
    ck_assert(record_unpack(buf, n, &back));
    ck_assert_uint_eq(back.id, 42);
    ck_assert_uint_eq(back.n_exchanges, 3);
    ck_assert_uint_eq(back.exchanges[2].code, 252);
    struct span arg = record_span(&back, back.exchanges[1].arg);
    ck_assert(arg.len == 11 && memcmp(arg.ptr, "client.test", 11) == 0);
    struct span subj = record_span(&back, back.messages[0].subject);
    ck_assert(subj.len == 7 && memcmp(subj.ptr, "mx.test", 7) == 0);
    ck_assert_ptr_null(back.attachments);
    ck_assert(!record_unpack(buf, n - 8, &back)); /* a part cut short */
    ck_assert(!record_unpack(buf, n + 8, &back)); /* bytes left over */
    free(buf);
}
END_TEST

START_TEST(test_order_heap)
{
    struct order_item h[101];
    size_t n = 0;
    for (uint64_t i = 0; i < 100; i++) {
        uint64_t id = (i * 37) % 100 + 1; /* every id 1..100, shuffled */
        order_heap_push(h, &n, id, (void *)(uintptr_t)id);
    }
    for (uint64_t want = 1; want <= 100; want++) {
        ck_assert_uint_eq(h[0].id, want);
        ck_assert_uint_eq((uintptr_t)order_heap_pop(h, &n), want);
    }
    ck_assert_uint_eq(n, 0);
}
END_TEST

Suite *record_suite(void)
{
    Suite *s = suite_create("record");
    TCase *tc = tcase_create("record");
    tcase_add_test(tc, test_pack_round_trip);
    tcase_add_test(tc, test_order_heap);
    suite_add_tcase(s, tc);
    return s;
}
