/*
 * check_packet_build.c - the packets built for libnids.
 *
 * An IPv6 address's token is in 240.0.0.0/4, never the broadcast address,
 * the same for the same address and seed; a made-up handshake carries the
 * sequence numbers a real one would; a segment longer than an IPv4 packet
 * holds is cut into pieces with consecutive sequence numbers, FIN only on
 * the last, the payload whole and every checksum right; a filler is zeros.
 *
 * SPDX-License-Identifier: MIT
 */
#include <arpa/inet.h>
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "flow.h"
#include "packet_build.h"
#include "suites.h"
#include "test_util.h"

START_TEST(test_v6_token)
{
    uint8_t a[16];
    for (int seed = 0; seed < 64; seed++) {
        for (int i = 0; i < 16; i++) {
            a[i] = (uint8_t)(seed * 31 + i);
        }
        uint32_t t = ntohl(packet_v6_token((uint64_t)seed, a));
        ck_assert_uint_eq(t & 0xF0000000u, 0xF0000000u);
        ck_assert_uint_ne(t, 0xFFFFFFFFu);
        ck_assert_uint_eq(packet_v6_token((uint64_t)seed, a), packet_v6_token((uint64_t)seed, a));
    }
    memset(a, 0, sizeof(a));
    uint32_t t0 = packet_v6_token(1, a);
    a[15] = 1;
    ck_assert_uint_ne(t0, packet_v6_token(1, a));
}
END_TEST

static void check_ipv4_tcp(const uint8_t *p, size_t len)
{
    ck_assert_uint_eq(p[0], 0x45);
    ck_assert_uint_eq(be16_at(p + 2), len);
    ck_assert_uint_eq(tcp_checksum(p + 12, p + 16, 4, p + 20, len - 20), 0);
}

START_TEST(test_handshake)
{
    uint8_t p[3][PACKET_BARE_MAX];
    size_t len[3];
    uint32_t c = htonl(0x0A000001u);
    uint32_t s = htonl(0x0A000002u);
    packet_made_up_handshake(p, len, c, s, 40000, 25, 1000, 0xFFFFFFFFu);
    for (int i = 0; i < 3; i++) {
        check_ipv4_tcp(p[i], len[i]);
    }
    ck_assert_uint_eq(p[0][20 + 13], TCP_FLAG_SYN);
    ck_assert_uint_eq(be32_at(p[0] + 24), 1000);
    ck_assert_uint_eq(p[0][20 + 23], 14); /* window scale */
    ck_assert_uint_eq(p[1][20 + 13], TCP_FLAG_SYN | TCP_FLAG_ACK);
    ck_assert_uint_eq(be32_at(p[1] + 24), 0xFFFFFFFFu);
    ck_assert_uint_eq(be32_at(p[1] + 28), 1001);
    ck_assert_uint_eq(be16_at(p[1] + 20), 25);
    ck_assert_uint_eq(p[2][20 + 13], TCP_FLAG_ACK);
    ck_assert_uint_eq(be32_at(p[2] + 24), 1001);
    ck_assert_uint_eq(be32_at(p[2] + 28), 0); /* the server's ISN + 1 wraps */
    ck_assert_uint_eq(len[2], 40);
}
END_TEST

START_TEST(test_cut)
{
    size_t payload = 2 * PACKET_PIECE_PAYLOAD_MAX + 1234;
    uint8_t *tcp = malloc(32 + payload);
    uint8_t *out = malloc(65536);
    ck_assert_ptr_nonnull(tcp);
    ck_assert_ptr_nonnull(out);
    memset(tcp, 0, 32);
    tcp[12] = 8 << 4; /* 32-byte header */
    tcp[13] = TCP_FLAG_ACK | TCP_FLAG_PSH | TCP_FLAG_FIN;
    uint32_t seq0 = 0xFFFFFF00u;
    for (int i = 0; i < 4; i++) {
        tcp[4 + i] = (uint8_t)(seq0 >> (24 - 8 * i));
    }
    for (size_t i = 0; i < payload; i++) {
        tcp[32 + i] = (uint8_t)(i * 7);
    }
    struct packet_cut cut;
    ck_assert(!packet_cut_start(&cut, 1, 2, tcp, 31, true));
    ck_assert(packet_cut_start(&cut, 1, 2, tcp, 32 + payload, true));
    size_t len;
    size_t got = 0;
    int pieces = 0;
    while ((len = packet_cut_next(&cut, out)) > 0) {
        check_ipv4_tcp(out, len);
        size_t n = len - 20 - 32;
        ck_assert_uint_le(n, PACKET_PIECE_PAYLOAD_MAX);
        ck_assert_uint_eq(be32_at(out + 24), (uint32_t)(seq0 + got));
        ck_assert_int_eq(memcmp(out + 52, tcp + 32 + got, n), 0);
        got += n;
        pieces++;
        bool last = got == payload;
        ck_assert_uint_eq(out[20 + 13] & (TCP_FLAG_FIN | TCP_FLAG_PSH),
                          last ? (TCP_FLAG_FIN | TCP_FLAG_PSH) : 0);
    }
    ck_assert_uint_eq(got, payload);
    ck_assert_int_eq(pieces, 3);
    free(tcp);
    free(out);
}
END_TEST

START_TEST(test_filler)
{
    uint8_t p[40 + 100];
    memset(p, 0xAA, sizeof(p));
    size_t len = packet_filler(p, 1, 2, 40000, 25, 77, 100);
    ck_assert_uint_eq(len, 140);
    check_ipv4_tcp(p, len);
    ck_assert_uint_eq(be32_at(p + 24), 77);
    for (size_t i = 40; i < len; i++) {
        ck_assert_uint_eq(p[i], 0);
    }
}
END_TEST

Suite *packet_build_suite(void)
{
    Suite *s = suite_create("packet_build");
    TCase *tc = tcase_create("build");
    tcase_add_test(tc, test_v6_token);
    tcase_add_test(tc, test_handshake);
    tcase_add_test(tc, test_cut);
    tcase_add_test(tc, test_filler);
    suite_add_tcase(s, tc);
    return s;
}
