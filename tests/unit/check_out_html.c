/*
 * check_out_html.c - HTML escaping and the HTML report writer.
 *
 * escape_html() is the wall between capture bytes and the report: each
 * case is wire text and the exact HTML it must become.  The writer test
 * feeds hand-made records whose every wire string is hostile (tags, quotes,
 * NUL, invalid UTF-8, a bidi override) through writer_html_init() into
 * memory and checks that no tag from the wire survives.
 *
 * SPDX-License-Identifier: MIT
 */
#define _GNU_SOURCE
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "escape.h"
#include "suites.h"
#include "writer.h"

struct html_case {
    const char *name;
    const char *in;
    size_t in_len;
    const char *want;
};

#define CASE(name, in, want) {name, in, sizeof(in) - 1, want}

static const struct html_case html_cases[] = {
    CASE("plain", "mx.example.test ESMTP", "mx.example.test ESMTP"),
    CASE("script tag", "<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"),
    CASE("attribute break", "\"><img src=x onerror=alert(1)>",
         "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"),
    CASE("single quote", "a'b", "a&#39;b"),
    CASE("ampersand entity", "&lt;", "&amp;lt;"),
    CASE("controls", "a\r\n\t\x01\x7f", "a\\x0d\\x0a\\x09\\x01\\x7f"),
    CASE("nul", "a\0b", "a\\x00b"),
    CASE("utf-8 kept", "caf\xc3\xa9 \xe2\x82\xac", "caf\xc3\xa9 \xe2\x82\xac"),
    CASE("invalid byte", "a\xff" "b", "a\xef\xbf\xbd" "b"),
    CASE("overlong", "\xc0\xbc", "\xef\xbf\xbd\xef\xbf\xbd"),
    CASE("truncated sequence", "a\xe2\x82", "a\xef\xbf\xbd\xef\xbf\xbd"),
    CASE("bidi override", "x\xe2\x80\xaey", "x\\u{202e}y"),
    CASE("c1 control", "x\xc2\x85y", "x\\u{0085}y"),
    CASE("surrogate", "\xed\xa0\x80", "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"),
};
#define N_HTML_CASES (sizeof(html_cases) / sizeof(html_cases[0]))

START_TEST(test_escape_html)
{
    const struct html_case *c = &html_cases[_i];
    struct capbuf out;
    capbuf_init(&out, 4096);
    ck_assert(escape_html(&out, span_make(c->in, c->in_len), 1000));
    ck_assert_msg(out.len == strlen(c->want) && memcmp(out.data, c->want, out.len) == 0,
                  "%s: got \"%.*s\"", c->name, (int)out.len, (const char *)out.data);
    capbuf_free(&out);
}
END_TEST

START_TEST(test_escape_html_cap)
{
    struct capbuf out;
    capbuf_init(&out, 4096);
    ck_assert(escape_html(&out, span_make("<<<<", 4), 2));
    ck_assert_uint_eq(out.len, 8);
    out.len = 0;
    /* A cap in the middle of a UTF-8 sequence gives U+FFFD, never half. */
    ck_assert(escape_html(&out, span_make("\xc3\xa9", 2), 1));
    ck_assert_uint_eq(out.len, 3);
    capbuf_free(&out);
    struct capbuf tiny;
    capbuf_init(&tiny, 3);
    ck_assert(!escape_html(&tiny, span_make("<", 1), 10));
    capbuf_free(&tiny);
}
END_TEST

/* ---- the writer, fed hostile records ------------------------------------ */

static const char hostile[] = "<script>alert(1)</script>\"><img src=x onerror=alert(1)>"
                              "'\x00\xff\xe2\x80\xae<svg onload=alert(2)>";

struct fake {
    uint8_t arena[1024];
    uint32_t arena_len;
    struct record_exchange x[3];
    struct session_record r;
};

static struct record_text put(struct fake *f, const char *s, size_t n)
{
    struct record_text t = {f->arena_len, (uint32_t)n};
    memcpy(f->arena + f->arena_len, s, n);
    f->arena_len += (uint32_t)n;
    return t;
}

static void make_record(struct fake *f, uint64_t id, uint8_t label)
{
    memset(f, 0, sizeof(*f));
    size_t hn = sizeof(hostile) - 1;
    struct session_record *r = &f->r;
    r->id = id;
    r->client.family = 4;
    memcpy(r->client.addr, "\x0a\x00\x00\x01", 4);
    r->client.port = 40000;
    r->server.family = 4;
    memcpy(r->server.addr, "\x0a\x00\x00\x02", 4);
    r->server.port = 25;
    r->syn_us = 1700000000000000LL + (int64_t)id * 1000;
    r->synack_us = r->syn_us + 20;
    r->est_us = r->syn_us + 40;
    r->last_us = r->syn_us + 5000;
    r->has_greeting = true;
    r->greeting.kind = RECORD_KIND_GREETING;
    r->greeting.code = 220;
    r->greeting.text = put(f, hostile, hn);
    r->greeting.reply_first_us = r->est_us + 300;
    f->x[0].kind = RECORD_KIND_COMMAND;
    f->x[0].verb = SMTP_VERB_EHLO;
    f->x[0].arg = put(f, hostile, hn);
    f->x[0].code = 250;
    f->x[0].text = put(f, hostile, hn);
    f->x[0].cmd_us = r->est_us + 400;
    f->x[0].reply_first_us = r->est_us + 500;
    f->x[1].kind = RECORD_KIND_COMMAND;
    f->x[1].verb = SMTP_VERB_UNKNOWN;
    f->x[1].verb_text = put(f, "<b>", 3);
    f->x[1].code = 550;
    f->x[1].enhanced.klass = 5;
    f->x[1].enhanced.subject = 7;
    f->x[1].enhanced.detail = 1;
    f->x[1].text = put(f, hostile, hn);
    f->x[1].cmd_us = r->est_us + 600;
    f->x[1].reply_first_us = r->est_us + 700;
    f->x[2].kind = RECORD_KIND_COMMAND;
    f->x[2].verb = SMTP_VERB_AUTH;
    f->x[2].arg = put(f, "PLAIN AGFsaWNlAHNlY3JldA==", 26);
    f->x[2].code = 535;
    f->x[2].cmd_us = r->est_us + 800;
    f->x[2].reply_first_us = r->est_us + 900;
    r->exchanges = f->x;
    r->n_exchanges = 3;
    r->label = label;
    r->end = RECORD_END_FIN;
    r->closer = RECORD_SIDE_CLIENT;
    r->arena = f->arena;
    r->arena_len = f->arena_len;
}

START_TEST(test_writer_hostile)
{
    char *doc = NULL;
    size_t doc_len = 0;
    FILE *mem = open_memstream(&doc, &doc_len);
    ck_assert_ptr_nonnull(mem);
    static char arg0[] = "smtpscope";
    static char arg1[] = "-r";
    static char arg2[] = "<x>.pcap";
    static char *argv[] = {arg0, arg1, arg2, NULL};
    struct report_meta meta = {.tool_version = "test", .argc = 3, .argv = argv};
    struct writer w;
    writer_html_init(&w, mem, &meta);
    struct run_stats *st = calloc(1, sizeof(*st));
    ck_assert_ptr_nonnull(st);
    stats_init(st);
    struct fake *f = calloc(1, sizeof(*f));
    for (uint64_t id = 1; id <= 700; id++) {
        make_record(f, id, id % 3 == 0 ? VERDICT_NORMAL_QUIT : VERDICT_FIN_WITHOUT_QUIT);
        stats_add(st, &f->r);
        w.session(&w, &f->r);
    }
    struct run_input in = {.source = "<x>.pcap", .linktype_name = "EN10MB", .first_us = -1,
                           .last_us = -1};
    struct run_report rep = {st, &in};
    w.summary(&w, &rep);
    ck_assert(!w.failed);
    writer_free(&w);
    fclose(mem);
    ck_assert_uint_gt(doc_len, 1000);
    ck_assert_ptr_null(strcasestr(doc, "<script"));
    ck_assert_ptr_null(strcasestr(doc, "<img"));
    ck_assert_ptr_null(strcasestr(doc, "<svg onload"));
    ck_assert_ptr_null(strstr(doc, "\"cmd\"><b>")); /* the unknown verb "<b>" */
    ck_assert_ptr_null(strstr(doc, "AGFsaWNlAHNlY3JldA")); /* AUTH PLAIN credentials */
    ck_assert_ptr_null(memchr(doc, '\0', doc_len));
    ck_assert_ptr_nonnull(strstr(doc, "&lt;script&gt;alert(1)&lt;/script&gt;&quot;&gt;&lt;img"));
    ck_assert_ptr_nonnull(strstr(doc, "\\u{202e}"));
    ck_assert_ptr_nonnull(strstr(doc, "Content-Security-Policy"));
    ck_assert_ptr_nonnull(strstr(doc, "&lt;x&gt;.pcap"));
    ck_assert_ptr_nonnull(strstr(doc, "5.7.1 Delivery not authorized"));
    /* 467 abnormal sessions, 500 kept at most: all listed. */
    ck_assert_ptr_nonnull(strstr(doc, "Abnormal sessions (467)"));
    ck_assert_ptr_nonnull(strstr(doc, "</html>"));
    free(f);
    free(st);
    free(doc);
}
END_TEST

/* The text summary, fed the same records: wire text escaped and cut,
 * credentials never shown, every line within 80 columns (not a
 * terminal), the abnormal sessions listed with time and reason. */
START_TEST(test_text_writer_hostile)
{
    char *doc = NULL;
    size_t doc_len = 0;
    FILE *mem = open_memstream(&doc, &doc_len);
    ck_assert_ptr_nonnull(mem);
    struct writer w;
    writer_text_init(&w, mem);
    struct run_stats *st = calloc(1, sizeof(*st));
    ck_assert_ptr_nonnull(st);
    struct fake *f = calloc(1, sizeof(*f));
    ck_assert_ptr_nonnull(f);
    for (uint64_t id = 1; id <= 60; id++) {
        make_record(f, id, id % 3 == 0 ? VERDICT_NORMAL_QUIT : VERDICT_RST);
        stats_add(st, &f->r);
        w.session(&w, &f->r);
    }
    struct run_input in = {.source = "<x>.pcap", .linktype_name = "EN10MB",
                           .first_us = 1700000000001000LL, .last_us = 1700000000035000LL};
    struct run_report rep = {st, &in};
    w.summary(&w, &rep);
    ck_assert(!w.failed);
    writer_free(&w);
    fclose(mem);
    ck_assert_uint_gt(doc_len, 1000);
    for (size_t i = 0; i < doc_len; i++) {
        unsigned char c = (unsigned char)doc[i];
        ck_assert_msg(c == '\n' || (c >= 0x20 && c < 0x7f), "byte 0x%02x at %zu", c, i);
    }
    size_t col = 0;
    for (size_t i = 0; i < doc_len; i++) {
        col = doc[i] == '\n' ? 0 : col + 1;
        ck_assert_msg(col <= 80, "a line longer than 80 columns at byte %zu", i);
    }
    ck_assert_ptr_null(strstr(doc, "AGFsaWNlAHNlY3JldA")); /* AUTH PLAIN credentials */
    ck_assert_ptr_nonnull(strstr(doc, "Time: 2023-11-14T22:13:20.001Z to 2023-11-14T22:13:20.035Z"));
    ck_assert_ptr_nonnull(strstr(doc, "Abnormal sessions (40):"));
    ck_assert_ptr_nonnull(strstr(doc, "  #1 2023-11-14T22:13:20.001Z 10.0.0.1:40000 -> 10.0.0.2:25"));
    ck_assert_ptr_nonnull(strstr(doc, "why: rst (error): The connection was reset"));
    ck_assert_ptr_nonnull(strstr(doc, "last: AUTH PLAIN <initial response not shown> -> 535"));
    /* The 20 listed are the first; the count is all of them. */
    ck_assert_ptr_nonnull(strstr(doc, "#29 "));
    ck_assert_ptr_null(strstr(doc, "#30 ")); /* normal_quit */
    ck_assert_ptr_null(strstr(doc, "#31 "));
    ck_assert_ptr_nonnull(strstr(doc, "... and 20 more (see --json or --report)"));
    ck_assert_ptr_nonnull(strstr(doc, "Slowest banners by server (ms):"));
    free(f);
    free(st);
    free(doc);
}
END_TEST

Suite *out_html_suite(void)
{
    Suite *s = suite_create("out_html");
    TCase *tc = tcase_create("escape_html");
    tcase_add_loop_test(tc, test_escape_html, 0, (int)N_HTML_CASES);
    tcase_add_test(tc, test_escape_html_cap);
    suite_add_tcase(s, tc);
    TCase *wr = tcase_create("writer");
    tcase_set_timeout(wr, 60);
    tcase_add_test(wr, test_writer_hostile);
    tcase_add_test(wr, test_text_writer_hostile);
    suite_add_tcase(s, wr);
    return s;
}
