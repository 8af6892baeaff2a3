/*
 * check_community_id.c - Community ID v1 against the specification's own
 * baseline (corelight/community-id-spec, baseline/baseline_deflt.json and
 * baseline_seed1.json: the TCP rows, IPv4 and IPv6, both directions).
 *
 * SPDX-License-Identifier: MIT
 */
#include <arpa/inet.h>
#include <check.h>
#include <string.h>

#include "community_id.h"
#include "suites.h"
#include "test_util.h"

static struct record_endpoint endpoint(const char *ip, uint16_t port)
{
    struct record_endpoint e;
    memset(&e, 0, sizeof(e));
    e.port = port;
    if (strchr(ip, ':') != NULL) {
        e.family = 6;
        CHECK(inet_pton(AF_INET6, ip, e.addr) == 1);
    } else {
        e.family = 4;
        CHECK(inet_pton(AF_INET, ip, e.addr) == 1);
    }
    return e;
}

static const struct {
    const char *saddr;
    uint16_t sport;
    const char *daddr;
    uint16_t dport;
    uint16_t seed;
    const char *id;
} g_vectors[] = {
    {"2001:470:e5bf:dead:4957:2174:e82c:4887", 63943, "2607:f8b0:400c:c03::1a", 25, 0,
     "1:/qFaeAR+gFe1KYjMzVDsMv+wgU4="},
    {"128.232.110.120", 34855, "66.35.250.204", 80, 0, "1:LQU9qZlK+B5F3KDmev6m5PMibrg="},
    {"2001:470:e5bf:dead:4957:2174:e82c:4887", 63943, "2607:f8b0:400c:c03::1a", 25, 1,
     "1:eJYTW6AOzFLlSUoESovMjnu7rMw="},
    {"128.232.110.120", 34855, "66.35.250.204", 80, 1, "1:3V71V58M3Ksw/yuFALMcW0LAHvc="},
};

START_TEST(test_published_vectors)
{
    for (size_t i = 0; i < sizeof(g_vectors) / sizeof(g_vectors[0]); i++) {
        struct record_endpoint s = endpoint(g_vectors[i].saddr, g_vectors[i].sport);
        struct record_endpoint d = endpoint(g_vectors[i].daddr, g_vectors[i].dport);
        char one[COMMUNITY_ID_LEN];
        char other[COMMUNITY_ID_LEN];
        community_id_tcp(&s, &d, g_vectors[i].seed, one);
        community_id_tcp(&d, &s, g_vectors[i].seed, other);
        ck_assert_str_eq(one, g_vectors[i].id);
        ck_assert_str_eq(other, g_vectors[i].id); /* the reverse direction, the same */
    }
}
END_TEST

Suite *community_id_suite(void)
{
    Suite *s = suite_create("community_id");
    TCase *tc = tcase_create("community_id");
    tcase_add_test(tc, test_published_vectors);
    suite_add_tcase(s, tc);
    return s;
}
