/*
 * check_flow.c - the one TCP header view, flow hash and port set.
 *
 * The hash is the same both ways of a connection and never 0, and it
 * tells connections apart; IPv6 addresses fold to the same value both
 * ways; a header view refuses a segment shorter than its header; a port
 * set holds exactly the ports put in.
 *
 * SPDX-License-Identifier: MIT
 */
#include <check.h>
#include <string.h>

#include "flow.h"
#include "suites.h"
#include "test_util.h"

START_TEST(test_hash_both_ways)
{
    uint64_t seen[64];
    size_t n = 0;
    for (uint32_t a = 1; a < 5; a++) {
        for (uint16_t p = 1000; p < 1016; p++) {
            uint64_t h = flow_hash(0x0A000000u + a, p, 0x0A0000FFu, 25);
            ck_assert_uint_eq(h, flow_hash(0x0A0000FFu, 25, 0x0A000000u + a, p));
            ck_assert_uint_ne(h, 0);
            for (size_t i = 0; i < n; i++) {
                ck_assert_uint_ne(seen[i], h);
            }
            seen[n++] = h;
        }
    }
    uint8_t a6[16];
    uint8_t b6[16];
    memset(a6, 0x20, sizeof(a6));
    memset(b6, 0x30, sizeof(b6));
    b6[15] = 1;
    ck_assert_uint_eq(flow_hash(flow_fold6(a6), 40000, flow_fold6(b6), 587),
                      flow_hash(flow_fold6(b6), 587, flow_fold6(a6), 40000));
}
END_TEST

START_TEST(test_tcp_view_bounds)
{
    uint8_t th[24] = {0x9c, 0x40, 0x00, 0x19, 0, 0, 0, 7, 0, 0, 0, 9, 0x60, 0x12};
    struct tcp_view v;
    ck_assert(tcp_view_read(th, 24, &v));
    ck_assert_uint_eq(v.sport, 40000);
    ck_assert_uint_eq(v.dport, 25);
    ck_assert_uint_eq(v.seq, 7);
    ck_assert_uint_eq(v.ack, 9);
    ck_assert_uint_eq(v.flags, TCP_FLAG_SYN | TCP_FLAG_ACK);
    ck_assert_uint_eq(v.header_len, 24);
    ck_assert_uint_eq(v.payload, 0);
    ck_assert(!tcp_view_read(th, 23, &v)); /* options cut */
    ck_assert(!tcp_view_read(th, 19, &v));
    th[12] = 0x40; /* data offset 16 < 20 */
    ck_assert(!tcp_view_read(th, 24, &v));
}
END_TEST

START_TEST(test_port_set)
{
    static struct port_set s;
    static const uint16_t ports[] = {25, 465, 587, 65535, 0};
    port_set_from(&s, ports, 5);
    for (uint32_t p = 0; p < 65536; p++) {
        bool in = p == 25 || p == 465 || p == 587 || p == 65535 || p == 0;
        ck_assert_int_eq(port_set_has(&s, (uint16_t)p), in);
    }
    port_set_clear(&s);
    ck_assert(!port_set_has(&s, 25));
}
END_TEST

Suite *flow_suite(void)
{
    Suite *s = suite_create("flow");
    TCase *tc = tcase_create("flow");
    tcase_add_test(tc, test_hash_both_ways);
    tcase_add_test(tc, test_tcp_view_bounds);
    tcase_add_test(tc, test_port_set);
    suite_add_tcase(s, tc);
    return s;
}
