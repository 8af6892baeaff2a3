/*
 * check_record.c - a record packed flat and back, the order heap, a
 * session's uid and its ISO 8601 time.
 *
 * A packed record comes back with every array and every text as it was,
 * and a buffer whose sizes disagree with its length is refused; the order
 * heap gives its items back in id order, however they went in.  The uid
 * is checked against values computed apart from this code, from the
 * derivation record.h documents (Python: SipHash-2-4-128 written from the
 * paper and checked against its authors' test vectors, over the same
 * bytes, base64.b32encode lower-cased, first 20 characters).
 *
 * SPDX-License-Identifier: MIT
 */
#include <arpa/inet.h>
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

static struct session_record uid_record(const char *client, uint16_t cport, const char *server,
                                        uint16_t sport, int64_t syn_us)
{
    struct session_record r;
    memset(&r, 0, sizeof(r));
    uint8_t family = strchr(client, ':') != NULL ? 6 : 4;
    r.client.family = r.server.family = family;
    ck_assert_int_eq(inet_pton(family == 6 ? AF_INET6 : AF_INET, client, r.client.addr), 1);
    ck_assert_int_eq(inet_pton(family == 6 ? AF_INET6 : AF_INET, server, r.server.addr), 1);
    r.client.port = cport;
    r.server.port = sport;
    r.syn_us = syn_us;
    r.est_us = syn_us + 40;
    return r;
}

static const struct {
    const char *sensor;
    const char *client;
    uint16_t cport;
    const char *server;
    uint16_t sport;
    int64_t start_us;
    const char *uid;
} g_uids[] = {
    {"golden", "127.0.0.1", 50896, "127.0.0.1", 25, 1795344939002183LL, "S4hb4en6rc53fzzhug7sn"},
    {"mx-tap-1", "2001:db8::7", 41100, "2001:db8::25", 25, 1700000000123456LL,
     "Sfldjsfhkpqryzf4bvcvf"},
    {"mx-tap-2", "2001:db8::7", 41100, "2001:db8::25", 25, 1700000000123456LL,
     "S6gjh6gaclpsc6e6qqcee"},
    {"sensor-7.dc2.example.net", "198.51.100.9", 65535, "203.0.113.25", 587, 1,
     "Sd6oz4i2uottsvjegjt26"},
    {"", "192.0.2.1", 1, "192.0.2.2", 25, 0, "S5oqhp5ch4qwd2uidig6h"},
};

START_TEST(test_uid_vectors)
{
    for (size_t i = 0; i < sizeof(g_uids) / sizeof(g_uids[0]); i++) {
        struct session_record r = uid_record(g_uids[i].client, g_uids[i].cport, g_uids[i].server,
                                             g_uids[i].sport, g_uids[i].start_us);
        char uid[RECORD_UID_LEN];
        record_uid(&r, g_uids[i].sensor, strlen(g_uids[i].sensor), uid);
        ck_assert_str_eq(uid, g_uids[i].uid);
    }
}
END_TEST

/* Stable for the same sensor and session; different when anything that
 * names the session differs. */
START_TEST(test_uid_stable_and_distinct)
{
    struct session_record a = uid_record("192.0.2.7", 41100, "192.0.2.25", 25, 1000000);
    struct session_record same = a;
    same.id = 99; /* the run-local id plays no part */
    same.last_us = 5000000;
    char ua[RECORD_UID_LEN];
    char ub[RECORD_UID_LEN];
    record_uid(&a, "s1", 2, ua);
    record_uid(&same, "s1", 2, ub);
    ck_assert_str_eq(ua, ub);
    ck_assert_uint_eq(strlen(ua), RECORD_UID_LEN - 1);
    struct session_record other[4] = {a, a, a, a};
    other[0].client.port = 41101;
    other[1].syn_us = 1000001;
    other[2].server.addr[3] = 26;
    other[3].syn_us = -1; /* no SYN: the start is the handshake ACK */
    for (int i = 0; i < 4; i++) {
        record_uid(&other[i], "s1", 2, ub);
        ck_assert_str_ne(ua, ub);
    }
    record_uid(&a, "s2", 2, ub);
    ck_assert_str_ne(ua, ub);
    record_uid(&a, "s12", 2, ub); /* only the given length counts */
    ck_assert_str_eq(ua, ub);
}
END_TEST

START_TEST(test_ts_format)
{
    static const struct {
        int64_t us;
        const char *text; /* NULL: not written */
    } cases[] = {
        {0, "1970-01-01T00:00:00.000000Z"},
        {1795346259361670LL, "2026-11-22T11:17:39.361670Z"},
        {951782400000001LL, "2000-02-29T00:00:00.000001Z"},
        {253402300799999999LL, "9999-12-31T23:59:59.999999Z"},
        {253402300800000000LL, NULL},
        {-1, NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char ts[RECORD_TS_LEN];
        bool ok = record_ts_format(cases[i].us, ts);
        ck_assert(ok == (cases[i].text != NULL));
        ck_assert_str_eq(ts, cases[i].text != NULL ? cases[i].text : "");
    }
}
END_TEST

START_TEST(test_path_of)
{
    static const struct {
        const char *arg;
        const char *path;
    } cases[] = {
        {"FROM:<alice@example.org> SIZE=1024", "alice@example.org"},
        {"FROM:<>", ""},
        {"from: <bob@example.org>", "bob@example.org"},
        {"TO:<user@[IPv6:2001:db8::1]>", "user@[IPv6:2001:db8::1]"},
        {"<no-prefix@example.org>", "no-prefix@example.org"},
        {"TO:carol@example.org NOTIFY=NEVER", "carol@example.org"},
        {"FROM:<unclosed@example.org", "unclosed@example.org"},
        {"", ""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct span got = record_path_of(span_make(cases[i].arg, strlen(cases[i].arg)));
        ck_assert_msg(got.len == strlen(cases[i].path) &&
                          memcmp(got.ptr, cases[i].path, got.len) == 0,
                      "%s: got %.*s", cases[i].arg, (int)got.len, (const char *)got.ptr);
    }
}
END_TEST

/* Transactions cut from a list of exchanges: how each ends, its final
 * reply, and the HELO before it. */
START_TEST(test_transactions)
{
    static const struct {
        uint8_t kind;
        uint8_t verb;
        uint16_t code;
        bool bdat_last;
    } steps[] = {
        {RECORD_KIND_COMMAND, SMTP_VERB_EHLO, 250, false},    /* 0 */
        {RECORD_KIND_COMMAND, SMTP_VERB_MAIL, 250, false},    /* 1: txn 1 */
        {RECORD_KIND_COMMAND, SMTP_VERB_RCPT, 250, false},
        {RECORD_KIND_COMMAND, SMTP_VERB_RCPT, 550, false},
        {RECORD_KIND_COMMAND, SMTP_VERB_DATA, 354, false},
        {RECORD_KIND_MESSAGE, SMTP_VERB_UNKNOWN, 250, false}, /* 5: its end */
        {RECORD_KIND_COMMAND, SMTP_VERB_MAIL, 250, false},    /* 6: txn 2 */
        {RECORD_KIND_COMMAND, SMTP_VERB_RCPT, 250, false},
        {RECORD_KIND_COMMAND, SMTP_VERB_DATA, 554, false},    /* 8: refused */
        {RECORD_KIND_COMMAND, SMTP_VERB_RSET, 250, false},    /* 9: its end */
        {RECORD_KIND_COMMAND, SMTP_VERB_NOOP, 250, false},
        {RECORD_KIND_COMMAND, SMTP_VERB_MAIL, 250, false},    /* 11: txn 3 */
        {RECORD_KIND_COMMAND, SMTP_VERB_BDAT, 250, false},
        {RECORD_KIND_COMMAND, SMTP_VERB_BDAT, 250, true},     /* 13: its end */
        {RECORD_KIND_COMMAND, SMTP_VERB_MAIL, 451, false},    /* 14: txn 4 */
        {RECORD_KIND_COMMAND, SMTP_VERB_QUIT, 221, false},    /* ends it, not its own */
    };
    enum { N = sizeof(steps) / sizeof(steps[0]) };
    struct record_exchange ex[N];
    memset(ex, 0, sizeof(ex));
    for (int i = 0; i < N; i++) {
        ex[i].kind = steps[i].kind;
        ex[i].verb = steps[i].verb;
        ex[i].code = steps[i].code;
        ex[i].bdat_last = steps[i].bdat_last;
        if (steps[i].kind == RECORD_KIND_MESSAGE || steps[i].verb == SMTP_VERB_BDAT) {
            ex[i].size = 100;
        }
    }
    struct record_message msg;
    memset(&msg, 0, sizeof(msg));
    msg.exchange = 5;
    struct session_record r;
    memset(&r, 0, sizeof(r));
    r.exchanges = ex;
    r.n_exchanges = N;
    r.messages = &msg;
    r.n_messages = 1;
    static const struct {
        uint32_t mail, end, final, message;
        uint64_t size;
        enum record_txn_end ended_by;
    } want[] = {
        {1, 6, 5, 0, 100, RECORD_TXN_END_DATA},
        {6, 10, 8, RECORD_NONE, 0, RECORD_TXN_END_RSET},
        {11, 14, 13, RECORD_NONE, 200, RECORD_TXN_END_BDAT},
        {14, 15, RECORD_NONE, RECORD_NONE, 0, RECORD_TXN_END_QUIT},
    };
    struct record_txn_cursor c = record_txn_start();
    struct record_txn t;
    size_t n = 0;
    while (record_next_txn(&r, &c, &t)) {
        ck_assert_uint_lt(n, sizeof(want) / sizeof(want[0]));
        ck_assert_uint_eq(t.helo, 0);
        ck_assert_uint_eq(t.mail, want[n].mail);
        ck_assert_uint_eq(t.end, want[n].end);
        ck_assert_uint_eq(t.final, want[n].final);
        ck_assert_uint_eq(t.message, want[n].message);
        ck_assert_uint_eq(t.size, want[n].size);
        ck_assert_int_eq(t.ended_by, want[n].ended_by);
        n++;
    }
    ck_assert_uint_eq(n, sizeof(want) / sizeof(want[0]));
}
END_TEST

Suite *record_suite(void)
{
    Suite *s = suite_create("record");
    TCase *tc = tcase_create("record");
    tcase_add_test(tc, test_pack_round_trip);
    tcase_add_test(tc, test_order_heap);
    tcase_add_test(tc, test_uid_vectors);
    tcase_add_test(tc, test_uid_stable_and_distinct);
    tcase_add_test(tc, test_ts_format);
    tcase_add_test(tc, test_path_of);
    tcase_add_test(tc, test_transactions);
    suite_add_tcase(s, tc);
    return s;
}
