/*
 * check_out_jsonl.c - the JSON Lines writer's exchange objects.
 *
 * An exchange is written in one cursor run when its wire strings need no
 * escaping, and falls back to escape_json() in the middle of the run when
 * they do.  Each case here is a hand-made exchange and the exact object it
 * must become, so both paths, and the switch between them, are pinned
 * down byte for byte; a record of many long escaped strings checks that
 * the line grows correctly across the fallbacks.
 *
 * SPDX-License-Identifier: MIT
 */
#define _GNU_SOURCE
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "suites.h"
#include "writer.h"

struct jsonl_fake {
    uint8_t arena[64 * 1024];
    uint32_t arena_len;
    struct record_exchange x[64];
    struct session_record r;
};

static struct record_text keep(struct jsonl_fake *f, const char *s, size_t n)
{
    struct record_text t = {f->arena_len, (uint32_t)n};
    memcpy(f->arena + f->arena_len, s, n);
    f->arena_len += (uint32_t)n;
    return t;
}

static void fake_init(struct jsonl_fake *f)
{
    memset(f, 0, sizeof(*f));
    struct session_record *r = &f->r;
    r->id = 7;
    r->client.family = 4;
    memcpy(r->client.addr, "\xc0\x00\x02\x01", 4);
    r->client.port = 40000;
    r->server.family = 4;
    memcpy(r->server.addr, "\xc0\x00\x02\x02", 4);
    r->server.port = 25;
    r->syn_us = 1700000000000000LL;
    r->synack_us = r->syn_us + 1000;
    r->est_us = r->syn_us + 2000;
    r->last_us = r->syn_us + 90000;
    r->exchanges = f->x;
    r->arena = f->arena;
    r->end = RECORD_END_FIN;
}

static struct record_exchange *add(struct jsonl_fake *f, uint8_t kind, uint8_t verb)
{
    struct record_exchange *x = &f->x[f->r.n_exchanges++];
    x->kind = kind;
    x->verb = verb;
    x->cmd_us = f->r.syn_us + 10000;
    x->reply_first_us = x->cmd_us + 1500;
    x->reply_last_us = x->cmd_us + 2500;
    return x;
}

/* The session line for f, NUL-terminated; free() it. */
static char *write_line(struct jsonl_fake *f)
{
    f->r.arena_len = f->arena_len;
    char *doc = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&doc, &len);
    ck_assert_ptr_nonnull(mem);
    struct writer w;
    writer_jsonl_init(&w, mem);
    w.session(&w, &f->r);
    ck_assert(!w.failed);
    writer_free(&w);
    fclose(mem);
    return doc;
}

#define TIMES "\"lines\":1,\"latency_ms\":1.500,\"complete_ms\":2.500,\"t_ms\":10.000"

struct exchange_case {
    const char *name;
    uint8_t kind;
    uint8_t verb;
    const char *verb_text;
    const char *arg;
    size_t arg_len;
    const char *text;
    size_t text_len;
    uint16_t code;
    uint16_t anomalies;
    const char *want;
};

#define S(lit) lit, sizeof(lit) - 1

static const struct exchange_case exchange_cases[] = {
    {"plain", RECORD_KIND_COMMAND, SMTP_VERB_MAIL, NULL, S("FROM:<a@example.test>"), S("Ok"),
     250, 0,
     "{\"cmd\":\"MAIL\",\"arg\":\"FROM:<a@example.test>\",\"code\":250,\"enhanced\":null,"
     "\"text\":\"Ok\"," TIMES ",\"unsolicited\":false}"},
    {"escaped arg, plain text", RECORD_KIND_COMMAND, SMTP_VERB_RCPT, NULL,
     S("TO:<\"q\"\x01\xff@x>"), S("Ok"), 250, 0,
     "{\"cmd\":\"RCPT\",\"arg\":\"TO:<\\\"q\\\"\\u0001\\ufffd@x>\",\"code\":250,"
     "\"enhanced\":null,\"text\":\"Ok\"," TIMES ",\"unsolicited\":false}"},
    {"plain arg, escaped text", RECORD_KIND_COMMAND, SMTP_VERB_EHLO, NULL, S("c.test"),
     S("a\\b\tc"), 250, 0,
     "{\"cmd\":\"EHLO\",\"arg\":\"c.test\",\"code\":250,\"enhanced\":null,"
     "\"text\":\"a\\\\b\\u0009c\"," TIMES ",\"unsolicited\":false}"},
    {"unknown verb upper-cased", RECORD_KIND_COMMAND, SMTP_VERB_UNKNOWN, "xf\"oo", S("1 2"),
     S("Unknown"), 502, 0,
     "{\"cmd\":\"XF\\\"OO\",\"arg\":\"1 2\",\"code\":502,\"enhanced\":null,"
     "\"text\":\"Unknown\"," TIMES ",\"unsolicited\":false}"},
    {"no reply", RECORD_KIND_COMMAND, SMTP_VERB_QUIT, NULL, S(""), S(""), 0, 0,
     "{\"cmd\":\"QUIT\",\"arg\":null,\"code\":null,\"enhanced\":null,\"text\":null,"
     "\"lines\":0,\"latency_ms\":1.500,\"complete_ms\":2.500,\"t_ms\":10.000,"
     "\"unsolicited\":false}"},
    {"message with size and anomalies", RECORD_KIND_MESSAGE, SMTP_VERB_UNKNOWN, NULL, S(""),
     S("queued \"1\""), 250, SMTP_ANOM_BARE_LF,
     "{\"cmd\":\"<message>\",\"arg\":null,\"code\":250,\"enhanced\":null,"
     "\"text\":\"queued \\\"1\\\"\"," TIMES ",\"unsolicited\":false,\"size\":4242,"
     "\"anomalies\":[\"bare_lf\"]}"},
    {"unsolicited", RECORD_KIND_UNSOLICITED, SMTP_VERB_UNKNOWN, NULL, S(""), S("Bye"), 421, 0,
     "{\"cmd\":null,\"arg\":null,\"code\":421,\"enhanced\":null,\"text\":\"Bye\"," TIMES
     ",\"unsolicited\":true}"},
};
#define N_EXCHANGE_CASES (sizeof(exchange_cases) / sizeof(exchange_cases[0]))

START_TEST(test_exchange_object)
{
    const struct exchange_case *c = &exchange_cases[_i];
    struct jsonl_fake *f = calloc(1, sizeof(*f));
    ck_assert_ptr_nonnull(f);
    fake_init(f);
    struct record_exchange *x = add(f, c->kind, c->verb);
    if (c->verb_text != NULL) {
        x->verb_text = keep(f, c->verb_text, strlen(c->verb_text));
    }
    x->arg = keep(f, c->arg, c->arg_len);
    x->text = keep(f, c->text, c->text_len);
    x->code = c->code;
    x->n_lines = 1;
    x->anomalies = c->anomalies;
    if (c->kind == RECORD_KIND_MESSAGE) {
        x->size = 4242; /* shares room with verb_text (record.h) */
    }
    char *line = write_line(f);
    char want[1024];
    snprintf(want, sizeof(want), ",\"exchanges\":[%s],", c->want);
    ck_assert_msg(strstr(line, want) != NULL, "%s: want %s in %s", c->name, want, line);
    free(line);
    free(f);
}
END_TEST

/* Many exchanges whose 512-byte strings all need escaping: every one takes
 * the fallback, and the line grows far past its first allocation. */
START_TEST(test_long_escaped_exchanges)
{
    struct jsonl_fake *f = calloc(1, sizeof(*f));
    ck_assert_ptr_nonnull(f);
    fake_init(f);
    char evil[SMTP_ARG_KEEP + 40];
    for (size_t i = 0; i < sizeof(evil); i++) {
        evil[i] = (i % 7 == 0) ? '"' : (i % 11 == 0) ? '\x02' : 'a';
    }
    for (int i = 0; i < 40; i++) {
        struct record_exchange *x = add(f, RECORD_KIND_COMMAND, SMTP_VERB_NOOP);
        x->arg = keep(f, evil, sizeof(evil));
        x->text = keep(f, evil, sizeof(evil));
        x->code = 250;
        x->n_lines = 1;
    }
    char *line = write_line(f);
    size_t n_objects = 0;
    for (const char *p = line; (p = strstr(p, "{\"cmd\":\"NOOP\",\"arg\":\"\\\"")) != NULL; p++) {
        n_objects++;
    }
    ck_assert_uint_eq(n_objects, 40);
    /* Each string is cut at its keep limit, then escaped whole. */
    size_t quotes = 0, controls = 0;
    for (size_t i = 0; i < SMTP_ARG_KEEP; i++) {
        quotes += evil[i] == '"';
        controls += evil[i] == '\x02';
    }
    size_t one = 2 + SMTP_ARG_KEEP + quotes + 5 * controls;
    ck_assert_ptr_nonnull(strstr(line, "\"exchanges_dropped\":0,"));
    ck_assert_ptr_nonnull(strstr(line, "\"end_reason\":\"fin\""));
    ck_assert_uint_gt(strlen(line), 80 * one);
    ck_assert_ptr_null(strstr(line, "\x02"));
    free(line);
    free(f);
}
END_TEST

/* The end of the line: keywords (one needing escapes), a flag, the names. */
START_TEST(test_session_tail)
{
    struct jsonl_fake *f = calloc(1, sizeof(*f));
    ck_assert_ptr_nonnull(f);
    fake_init(f);
    const char keywords[] = "PIPELINING\nSIZE 10240000\nX\"Y\x01";
    f->r.extensions = keep(f, keywords, sizeof(keywords) - 1);
    f->r.n_extensions = 3;
    f->r.flags = VERDICT_FLAG_BIT(VERDICT_FLAG_BARE_LF);
    f->r.label = VERDICT_FIN_WITHOUT_QUIT;
    f->r.closer = RECORD_SIDE_SERVER;
    f->r.bytes[SMTP_DIR_CLIENT] = 12345;
    f->r.bytes[SMTP_DIR_SERVER] = 678;
    char *line = write_line(f);
    const char *want = "\"extensions\":[\"PIPELINING\",\"SIZE 10240000\",\"X\\\"Y\\u0001\"],"
                       "\"close\":\"fin_without_quit\",\"flags\":[\"bare_lf\"],\"abnormal\":true,"
                       "\"closer\":\"server\",\"end_reason\":\"fin\","
                       "\"bytes\":{\"client\":12345,\"server\":678},"
                       "\"gap_bytes\":{\"client\":0,\"server\":0},\"missing_side\":null}\n";
    ck_assert_msg(strstr(line, want) != NULL, "want %s in %s", want, line);
    free(line);
    f->r.gap_bytes[SMTP_DIR_CLIENT] = 1448;
    f->r.missing_side = RECORD_SIDE_CLIENT;
    line = write_line(f);
    want = "\"gap_bytes\":{\"client\":1448,\"server\":0},\"missing_side\":\"client\"}\n";
    ck_assert_msg(strstr(line, want) != NULL, "want %s in %s", want, line);
    f->r.gap_bytes[SMTP_DIR_CLIENT] = 0;
    f->r.missing_side = RECORD_SIDE_NONE;
    f->r.flags = 0;
    f->r.n_extensions = 0;
    f->r.extensions.len = 0;
    free(line);
    line = write_line(f);
    ck_assert_ptr_nonnull(strstr(line, "\"extensions\":[],\"close\":\"fin_without_quit\","
                                       "\"flags\":[],\"abnormal\":true,\"closer\":\"server\""));
    free(line);
    free(f);
}
END_TEST

Suite *out_jsonl_suite(void)
{
    Suite *s = suite_create("out_jsonl");
    TCase *tc = tcase_create("exchange");
    tcase_add_loop_test(tc, test_exchange_object, 0, (int)N_EXCHANGE_CASES);
    tcase_add_test(tc, test_long_escaped_exchanges);
    tcase_add_test(tc, test_session_tail);
    suite_add_tcase(s, tc);
    return s;
}
