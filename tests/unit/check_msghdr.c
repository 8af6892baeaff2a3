/*
 * check_msghdr.c - a message's header block copied as content passes and
 * read for the transaction record.
 *
 * Each case is fed whole, one byte at a time and split at every point,
 * and must read the same fields every way: the copy keeps its line state
 * across chunks (a "." or CR at the end of one chunk, LF at the start of
 * the next).  Encoded words (RFC 2047) come back decoded, folded fields
 * unfolded; DATA's dot-stuffing is undone; nothing after the blank line
 * is read; a block past the cap is read as far as it was kept.
 *
 * SPDX-License-Identifier: MIT
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "msghdr.h"
#include "smtp_limits.h"
#include "suites.h"

static const struct {
    const char *name;
    const char *content;
    bool dot_stuffed;
    const char *want[MSGHDR_COUNT]; /* from, to, subject, message_id, date; NULL: absent */
} g_cases[] = {
    {"plain CRLF, body not read",
     "From: Alice <alice@example.org>\r\nTo: bob@example.net, carol@example.net\r\n"
     "Subject: hello\r\nMessage-ID: <m1@example.org>\r\n"
     "Date: Mon, 7 Dec 2026 02:00:00 +0000\r\n\r\nSubject: not a header\r\n.\r\n",
     true,
     {"Alice <alice@example.org>", "bob@example.net, carol@example.net", "hello",
      "<m1@example.org>", "Mon, 7 Dec 2026 02:00:00 +0000"}},
    {"encoded words",
     "From: =?ISO-8859-1?Q?J=F6rg?= <j@example.org>\r\n"
     "Subject: =?UTF-8?B?SMOpbGxvIHfDtnJsZA==?=\r\n\r\nbody\r\n",
     false,
     {"J\xc3\xb6rg <j@example.org>", NULL, "H\xc3\xa9llo w\xc3\xb6rld", NULL, NULL}},
    {"folded subject",
     "Subject: part one\r\n\tpart two\r\nTo: x@example.org\r\n\r\n", true,
     {NULL, "x@example.org", "part one\tpart two", NULL, NULL}},
    {"headers only, ended by the final dot line",
     "From: a@example.org\r\nSubject: short\r\n.\r\n", true,
     {"a@example.org", NULL, "short", NULL, NULL}},
    {"dot-stuffed header line undone",
     "Subject: s\r\n..X-Odd: y\r\nFrom: f@example.org\r\n\r\n", true,
     {"f@example.org", NULL, "s", NULL, NULL}},
    {"names in any case, space before the colon, look-alikes, an empty value kept first",
     "FROM : a@example.org\r\nTo-Do: no\r\nMessage\rID: <no>\r\nMESSAGE-id: <i@example.org>\r\n"
     "Dates: no\r\nsubject:\r\nSubject: later\r\nDate:d\r\nTo\t: t@example.org\r\n\r\n",
     true,
     {"a@example.org", "t@example.org", "", "<i@example.org>", "d"}},
    {"a folded field with 8-bit text, a dot line start inside it",
     "Subject: caf\xc3\xa9\r\n ..au lait\r\n..From: f@example.org\r\n\r\n", true,
     {NULL, NULL, "caf\xc3\xa9 ..au lait", NULL, NULL}},
    {"bare LF lines",
     "From: lf@example.org\nSubject: bare\n\nSubject: body\n", false,
     {"lf@example.org", NULL, "bare", NULL, NULL}},
};
#define N_CASES (sizeof(g_cases) / sizeof(g_cases[0]))

static void check_read(int i, struct msghdr_capture *c, const char *how)
{
    struct msghdr_fields f;
    msghdr_parse(c, &f);
    for (int k = 0; k < MSGHDR_COUNT; k++) {
        const char *want = g_cases[i].want[k];
        struct span got = f.text[k];
        for (size_t b = 0; f.ascii[k] && b < got.len; b++) {
            ck_assert_msg(got.ptr[b] < 0x80, "%s (%s): field %d said ASCII, has an 8-bit byte",
                          g_cases[i].name, how, k);
        }
        if (want == NULL) {
            ck_assert_msg(got.ptr == NULL, "%s (%s): field %d: got \"%.*s\"", g_cases[i].name,
                          how, k, (int)got.len, (const char *)got.ptr);
        } else {
            ck_assert_msg(got.ptr != NULL && got.len == strlen(want) &&
                              memcmp(got.ptr, want, got.len) == 0,
                          "%s (%s): field %d: got \"%.*s\", want \"%s\"", g_cases[i].name, how,
                          k, got.ptr != NULL ? (int)got.len : 8,
                          got.ptr != NULL ? (const char *)got.ptr : "(absent)", want);
        }
    }
    msghdr_fields_free(&f);
}

START_TEST(test_fields_every_split)
{
    const uint8_t *p = (const uint8_t *)g_cases[_i].content;
    size_t n = strlen(g_cases[_i].content);
    bool dot = g_cases[_i].dot_stuffed;
    for (size_t split = 0; split <= n; split++) {
        struct msghdr_capture *c = msghdr_capture_new();
        ck_assert_ptr_nonnull(c);
        msghdr_capture_feed(c, p, split, dot);
        msghdr_capture_feed(c, p + split, n - split, dot);
        ck_assert_msg(msghdr_capture_done(c), "%s: the blank line ends the copy",
                      g_cases[_i].name);
        check_read(_i, c, "split");
        msghdr_capture_free(c);
    }
    struct msghdr_capture *c = msghdr_capture_new();
    for (size_t k = 0; k < n; k++) {
        msghdr_capture_feed(c, p + k, 1, dot);
    }
    check_read(_i, c, "byte by byte");
    msghdr_capture_free(c);
}
END_TEST

/* A block past the cap: the copy stops there and reads what it kept. */
START_TEST(test_capped)
{
    struct msghdr_capture *c = msghdr_capture_new();
    static const char head[] = "From: big@example.org\r\nSubject: many\r\n";
    msghdr_capture_feed(c, (const uint8_t *)head, strlen(head), true);
    char line[100];
    memset(line, 'a', sizeof(line));
    memcpy(line, "X-Pad: ", 7);
    line[98] = '\r';
    line[99] = '\n';
    for (int i = 0; i < 2 * MSGHDR_CAPTURE_MAX / 100 && !msghdr_capture_done(c); i++) {
        msghdr_capture_feed(c, (const uint8_t *)line, sizeof(line), true);
    }
    ck_assert(msghdr_capture_done(c));
    struct msghdr_fields f;
    msghdr_parse(c, &f);
    ck_assert_int_eq(f.text[MSGHDR_FROM].len, 15);
    ck_assert_int_eq(memcmp(f.text[MSGHDR_FROM].ptr, "big@example.org", 15), 0);
    ck_assert_int_eq(f.text[MSGHDR_SUBJECT].len, 4);
    ck_assert_int_eq(memcmp(f.text[MSGHDR_SUBJECT].ptr, "many", 4), 0);
    msghdr_fields_free(&f);
    msghdr_capture_free(c);
}
END_TEST

/* Nothing copied: nothing read; NULL is accepted where it says so. */
START_TEST(test_empty)
{
    struct msghdr_capture *c = msghdr_capture_new();
    struct msghdr_fields f;
    msghdr_parse(c, &f);
    for (int k = 0; k < MSGHDR_COUNT; k++) {
        ck_assert_ptr_null(f.text[k].ptr);
    }
    msghdr_fields_free(&f);
    msghdr_capture_free(c);
    msghdr_capture_free(NULL);
}
END_TEST

Suite *msghdr_suite(void)
{
    Suite *s = suite_create("msghdr");
    TCase *tc = tcase_create("msghdr");
    tcase_add_loop_test(tc, test_fields_every_split, 0, (int)N_CASES);
    tcase_add_test(tc, test_capped);
    tcase_add_test(tc, test_empty);
    suite_add_tcase(s, tc);
    return s;
}
