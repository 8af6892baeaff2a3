/*
 * check_metrics.c - the Prometheus exposition: label escaping, the
 * listening address, what a record adds to the tally and how it prints.
 *
 * Label values reach the scrape text only through metrics_escape_label(),
 * so its table covers every byte class (the format's three escapes, other
 * controls, UTF-8 valid and not, the length cap), and every single byte
 * is checked to leave no raw quote, backslash or line feed behind.  The
 * tally cases build records by hand and read the formatted text back,
 * sample by sample.
 *
 * SPDX-License-Identifier: MIT
 */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "suites.h"
#include "utf8.h"

struct label_case {
    const char *name;
    const char *in;
    size_t in_len;
    const char *want;
};

#define IN(lit) (lit), sizeof(lit) - 1

static const struct label_case label_cases[] = {
    {"plain", IN("192.0.2.1:25"), "192.0.2.1:25"},
    {"empty", IN(""), ""},
    {"double quote", IN("a\"b"), "a\\\"b"},
    {"backslash", IN("a\\b"), "a\\\\b"},
    {"line feed", IN("a\nb"), "a\\nb"},
    {"quote and brace cannot end the label", IN("\"} 1\nx{"), "\\\"} 1\\nx{"},
    {"carriage return replaced", IN("a\rb"), "a\xef\xbf\xbd" "b"},
    {"tab replaced", IN("\t"), "\xef\xbf\xbd"},
    {"NUL replaced", IN("a\0b"), "a\xef\xbf\xbd" "b"},
    {"DEL replaced", IN("\x7f"), "\xef\xbf\xbd"},
    {"ESC replaced", IN("\x1b[31m"), "\xef\xbf\xbd[31m"},
    {"two-byte UTF-8 kept", IN("caf\xc3\xa9"), "caf\xc3\xa9"},
    {"four-byte UTF-8 kept", IN("\xf0\x9f\x98\x80"), "\xf0\x9f\x98\x80"},
    {"stray continuation byte", IN("a\x80z"), "a\xef\xbf\xbdz"},
    {"overlong slash", IN("\xc0\xaf"), "\xef\xbf\xbd\xef\xbf\xbd"},
    {"surrogate", IN("\xed\xa0\x80"), "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"},
    {"sequence cut by the end", IN("\xe2\x82"), "\xef\xbf\xbd\xef\xbf\xbd"},
};
#define N_LABEL (sizeof(label_cases) / sizeof(label_cases[0]))

static char *escaped(const void *in, size_t len)
{
    struct capbuf out;
    capbuf_init(&out, 1 << 16);
    ck_assert(metrics_escape_label(&out, span_make(in, len)));
    char *s = calloc(1, out.len + 1);
    ck_assert_ptr_nonnull(s);
    if (out.len > 0) {
        memcpy(s, out.data, out.len);
    }
    capbuf_free(&out);
    return s;
}

START_TEST(test_escape_label)
{
    const struct label_case *c = &label_cases[_i];
    char *got = escaped(c->in, c->in_len);
    ck_assert_msg(strcmp(got, c->want) == 0, "%s: got \"%s\"", c->name, got);
    free(got);
}
END_TEST

/* Every byte alone: valid UTF-8 out, and no quote, backslash or line feed
 * that is not part of an escape. */
START_TEST(test_every_byte)
{
    for (int b = 0; b < 256; b++) {
        uint8_t in = (uint8_t)b;
        char *got = escaped(&in, 1);
        size_t n = strlen(got);
        ck_assert_msg(utf8_valid((const uint8_t *)got, n), "byte %02x", b);
        for (size_t i = 0; i < n; i++) {
            ck_assert_msg(got[i] != '\n', "byte %02x: raw line feed", b);
            if (got[i] == '\\') {
                ck_assert_msg(i + 1 < n && strchr("\\\"n", got[i + 1]) != NULL,
                              "byte %02x: lone backslash", b);
                i++;
            } else {
                ck_assert_msg(got[i] != '"', "byte %02x: raw quote", b);
            }
        }
        free(got);
    }
}
END_TEST

/* A long value is cut at METRICS_LABEL_MAX bytes of input; a UTF-8
 * sequence cut by the cap becomes U+FFFD, not a broken character. */
START_TEST(test_label_cap)
{
    char in[METRICS_LABEL_MAX * 3];
    memset(in, 'a', sizeof(in));
    char *got = escaped(in, sizeof(in));
    ck_assert_uint_eq(strlen(got), METRICS_LABEL_MAX);
    free(got);
    memset(in, 'a', sizeof(in));
    memcpy(in + METRICS_LABEL_MAX - 1, "\xc3\xa9", 2);
    got = escaped(in, sizeof(in));
    ck_assert_uint_eq(strlen(got), METRICS_LABEL_MAX - 1 + 3);
    ck_assert(strcmp(got + METRICS_LABEL_MAX - 1, "\xef\xbf\xbd") == 0);
    free(got);
}
END_TEST

struct listen_case {
    const char *in;
    bool ok;
    int family;
    const char *addr;
    unsigned port;
};

static const struct listen_case listen_cases[] = {
    {"9100", true, AF_INET6, "::", 9100},
    {":9100", true, AF_INET6, "::", 9100},
    {"0", true, AF_INET6, "::", 0},
    {"127.0.0.1:9100", true, AF_INET, "127.0.0.1", 9100},
    {"0.0.0.0:65535", true, AF_INET, "0.0.0.0", 65535},
    {"[::1]:9100", true, AF_INET6, "::1", 9100},
    {"[2001:db8::5]:80", true, AF_INET6, "2001:db8::5", 80},
    {"", false, 0, NULL, 0},
    {":", false, 0, NULL, 0},
    {"65536", false, 0, NULL, 0},
    {"-1", false, 0, NULL, 0},
    {"+80", false, 0, NULL, 0},
    {"91 00", false, 0, NULL, 0},
    {"127.0.0.1:", false, 0, NULL, 0},
    {"127.0.0.1", false, 0, NULL, 0},
    {"localhost:9100", false, 0, NULL, 0},
    {"::1:9100", false, 0, NULL, 0},
    {"[::1]", false, 0, NULL, 0},
    {"[::1:9100", false, 0, NULL, 0},
    {"[]:9100", false, 0, NULL, 0},
    {"[127.0.0.1]:9100", false, 0, NULL, 0},
    {"256.0.0.1:9100", false, 0, NULL, 0},
};
#define N_LISTEN (sizeof(listen_cases) / sizeof(listen_cases[0]))

START_TEST(test_parse_listen)
{
    const struct listen_case *c = &listen_cases[_i];
    struct sockaddr_storage ss;
    socklen_t len = 0;
    bool ok = metrics_parse_listen(c->in, &ss, &len);
    ck_assert_msg(ok == c->ok, "\"%s\": %s", c->in, ok ? "accepted" : "refused");
    if (!ok) {
        return;
    }
    ck_assert_int_eq(ss.ss_family, c->family);
    char text[INET6_ADDRSTRLEN];
    unsigned port;
    if (c->family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)&ss;
        ck_assert_uint_eq(len, sizeof(*a));
        inet_ntop(AF_INET, &a->sin_addr, text, sizeof(text));
        port = ntohs(a->sin_port);
    } else {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&ss;
        ck_assert_uint_eq(len, sizeof(*a));
        inet_ntop(AF_INET6, &a->sin6_addr, text, sizeof(text));
        port = ntohs(a->sin6_port);
    }
    ck_assert_str_eq(text, c->addr);
    ck_assert_uint_eq(port, c->port);
}
END_TEST

/* ---- the tally and its text ------------------------------------------------ */

struct fake {
    struct record_exchange x[8];
    struct session_record r;
};

/* A session to 192.0.2.<host>:25 with a 3 ms banner. */
static void fake_init(struct fake *f, uint8_t host)
{
    memset(f, 0, sizeof(*f));
    struct session_record *r = &f->r;
    r->client.family = 4;
    memcpy(r->client.addr, "\xc6\x33\x64\x07", 4);
    r->client.port = 40000;
    r->server.family = 4;
    memcpy(r->server.addr, "\xc0\x00\x02\x00", 4);
    r->server.addr[3] = host;
    r->server.port = 25;
    r->syn_us = 1700000000000000LL;
    r->synack_us = r->syn_us + 1000;
    r->est_us = r->syn_us + 2000;
    r->last_us = r->syn_us + 90000;
    r->has_greeting = true;
    r->greeting.kind = RECORD_KIND_GREETING;
    r->greeting.code = 220;
    r->greeting.cmd_us = -1;
    r->greeting.reply_first_us = r->est_us + 3000;
    r->exchanges = f->x;
    r->label = VERDICT_NORMAL_QUIT;
    r->end = RECORD_END_FIN;
}

static void add(struct fake *f, uint8_t kind, uint8_t verb, uint16_t code, int64_t latency_us)
{
    struct record_exchange *x = &f->x[f->r.n_exchanges++];
    x->kind = kind;
    x->verb = verb;
    x->code = code;
    x->cmd_us = f->r.syn_us + 10000;
    x->reply_first_us = latency_us < 0 ? -1 : x->cmd_us + latency_us;
    x->reply_last_us = x->reply_first_us;
}

/* The scrape text of t, NUL-terminated; free() it. */
static char *format(const struct metrics_tally *t)
{
    struct capbuf out;
    capbuf_init(&out, METRICS_SCRAPE_MAX);
    ck_assert(metrics_format(&out, t, 4096));
    ck_assert(capbuf_append(&out, "", 1));
    char *s = (char *)out.data; /* capbuf's storage is malloc'd */
    return s;
}

/* The value of the sample line that starts with "series " exactly. */
static long long sample(const char *text, const char *series)
{
    size_t n = strlen(series);
    for (const char *p = text; p != NULL && *p != '\0';) {
        if (strncmp(p, series, n) == 0 && p[n] == ' ') {
            return strtoll(p + n + 1, NULL, 10);
        }
        p = strchr(p, '\n');
        p = p != NULL ? p + 1 : NULL;
    }
    ck_abort_msg("no sample %s", series);
    return -1;
}

static bool has_line(const char *text, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = text; p != NULL && *p != '\0';) {
        if (strncmp(p, line, n) == 0 && (p[n] == '\n' || p[n] == '\0')) {
            return true;
        }
        p = strchr(p, '\n');
        p = p != NULL ? p + 1 : NULL;
    }
    return false;
}

START_TEST(test_tally_one_session)
{
    static struct metrics_tally t;
    memset(&t, 0, sizeof(t));
    static struct fake f;
    fake_init(&f, 1);
    f.r.label = VERDICT_RST;
    f.r.flags = VERDICT_FLAG_BIT(VERDICT_FLAG_BARE_LF) | VERDICT_FLAG_BIT(VERDICT_FLAG_STREAM_GAP);
    f.r.messages_attempted = 1;
    add(&f, RECORD_KIND_COMMAND, SMTP_VERB_EHLO, 250, 1500);
    add(&f, RECORD_KIND_COMMAND, SMTP_VERB_UNKNOWN, 502, 700);
    add(&f, RECORD_KIND_COMMAND, SMTP_VERB_DATA, 354, 400);
    add(&f, RECORD_KIND_MESSAGE, SMTP_VERB_UNKNOWN, 451, 2000000);
    add(&f, RECORD_KIND_COMMAND, SMTP_VERB_QUIT, 0, -1); /* no reply */
    add(&f, RECORD_KIND_COMMAND, SMTP_VERB_NOOP, 250, -1); /* reply time unknown */
    metrics_tally_add(&t, &f.r);
    t.packets = 12;
    t.sessions_open = 3;
    char *s = format(&t);
    ck_assert_int_eq(sample(s, "smtpscope_packets_total"), 12);
    ck_assert_int_eq(sample(s, "smtpscope_sessions_open"), 3);
    ck_assert_int_eq(sample(s, "smtpscope_resident_memory_bytes"), 4096);
    ck_assert_int_eq(sample(s, "smtpscope_input_ended"), 0);
    ck_assert_int_eq(sample(s, "smtpscope_sessions_total{close=\"rst\",abnormal=\"true\"}"), 1);
    ck_assert_int_eq(
        sample(s, "smtpscope_sessions_total{close=\"normal_quit\",abnormal=\"false\"}"), 0);
    ck_assert_int_eq(sample(s, "smtpscope_session_flags_total{flag=\"bare_lf\"}"), 1);
    ck_assert_int_eq(sample(s, "smtpscope_session_flags_total{flag=\"stream_gap\"}"), 1);
    ck_assert_int_eq(sample(s, "smtpscope_session_flags_total{flag=\"nul_byte\"}"), 0);
    /* 220, 250, 250 | 354 | 451 | 502 */
    ck_assert_int_eq(sample(s, "smtpscope_replies_total{class=\"2xx\"}"), 3);
    ck_assert_int_eq(sample(s, "smtpscope_replies_total{class=\"3xx\"}"), 1);
    ck_assert_int_eq(sample(s, "smtpscope_replies_total{class=\"4xx\"}"), 1);
    ck_assert_int_eq(sample(s, "smtpscope_replies_total{class=\"5xx\"}"), 1);
    ck_assert_int_eq(sample(s, "smtpscope_messages_attempted_total"), 1);
    /* The banner, 3 ms: above 2.5 ms, within 5 ms; the sum in seconds. */
    ck_assert_int_eq(sample(s, "smtpscope_banner_latency_seconds_bucket{le=\"0.0025\"}"), 0);
    ck_assert_int_eq(sample(s, "smtpscope_banner_latency_seconds_bucket{le=\"0.005\"}"), 1);
    ck_assert_int_eq(sample(s, "smtpscope_banner_latency_seconds_bucket{le=\"+Inf\"}"), 1);
    ck_assert(has_line(s, "smtpscope_banner_latency_seconds_sum 0.003"));
    ck_assert_int_eq(sample(s, "smtpscope_banner_latency_seconds_count"), 1);
    /* Reply latencies by command; a bound is inclusive (le). */
    ck_assert_int_eq(
        sample(s, "smtpscope_reply_latency_seconds_bucket{command=\"EHLO\",le=\"0.001\"}"), 0);
    ck_assert_int_eq(
        sample(s, "smtpscope_reply_latency_seconds_bucket{command=\"EHLO\",le=\"0.0025\"}"), 1);
    ck_assert(has_line(s, "smtpscope_reply_latency_seconds_sum{command=\"EHLO\"} 0.0015"));
    ck_assert_int_eq(sample(s, "smtpscope_reply_latency_seconds_count{command=\"other\"}"), 1);
    ck_assert(has_line(s, "smtpscope_reply_latency_seconds_sum{command=\"end_of_data\"} 2"));
    ck_assert_int_eq(
        sample(s, "smtpscope_reply_latency_seconds_bucket{command=\"end_of_data\",le=\"1\"}"),
        0);
    ck_assert_int_eq(
        sample(s, "smtpscope_reply_latency_seconds_bucket{command=\"end_of_data\",le=\"2.5\"}"),
        1);
    /* No reply, or no time for it: no sample, and no series for it. */
    ck_assert_ptr_null(strstr(s, "command=\"QUIT\""));
    ck_assert_ptr_null(strstr(s, "command=\"NOOP\""));
    ck_assert_int_eq(sample(s, "smtpscope_server_sessions_total{server=\"192.0.2.1:25\"}"), 1);
    ck_assert_int_eq(
        sample(s, "smtpscope_server_abnormal_sessions_total{server=\"192.0.2.1:25\"}"), 1);
    ck_assert_int_eq(
        sample(s, "smtpscope_server_banner_latency_seconds_count{server=\"192.0.2.1:25\"}"), 1);
    ck_assert_ptr_null(strstr(s, "{server=\"other\"}"));
    free(s);
}
END_TEST

/* Buckets are cumulative, never decrease, and +Inf equals _count. */
static void check_histograms(const char *s)
{
    long long prev = -1;
    for (const char *p = s; p != NULL && *p != '\0';) {
        const char *nl = strchr(p, '\n');
        if (strstr(p, "_bucket{") != NULL && strstr(p, "_bucket{") < nl) {
            const char *le = strstr(p, "le=\"");
            ck_assert(le != NULL && le < nl);
            long long v = strtoll(strchr(le, '}') + 2, NULL, 10);
            if (strncmp(le, "le=\"0.0005\"", 11) == 0) {
                prev = -1;
            }
            ck_assert_int_ge(v, prev);
            prev = v;
        } else if (strstr(p, "_count") != NULL && strstr(p, "_count") < nl) {
            long long v = strtoll(strchr(p, ' ') + 1, NULL, 10);
            ck_assert_int_eq(v, prev);
        }
        p = nl != NULL ? nl + 1 : NULL;
    }
}

/* Past METRICS_SERVERS_MAX servers, sessions go to server="other". */
START_TEST(test_server_cap)
{
    static struct metrics_tally t;
    memset(&t, 0, sizeof(t));
    static struct fake f;
    for (int i = 0; i < METRICS_SERVERS_MAX + 6; i++) {
        fake_init(&f, (uint8_t)(i + 1));
        f.r.label = i % 2 ? VERDICT_RST : VERDICT_NORMAL_QUIT;
        metrics_tally_add(&t, &f.r);
        metrics_tally_add(&t, &f.r); /* the same server again: no new series */
    }
    ck_assert_uint_eq(t.n_servers, METRICS_SERVERS_MAX);
    char *s = format(&t);
    ck_assert_int_eq(sample(s, "smtpscope_server_sessions_total{server=\"192.0.2.1:25\"}"), 2);
    char series[128];
    snprintf(series, sizeof(series), "smtpscope_server_sessions_total{server=\"192.0.2.%d:25\"}",
             METRICS_SERVERS_MAX);
    ck_assert_int_eq(sample(s, series), 2);
    snprintf(series, sizeof(series), "server=\"192.0.2.%d:25\"", METRICS_SERVERS_MAX + 1);
    ck_assert_ptr_null(strstr(s, series));
    ck_assert_int_eq(sample(s, "smtpscope_server_sessions_total{server=\"other\"}"), 12);
    ck_assert_int_eq(sample(s, "smtpscope_server_abnormal_sessions_total{server=\"other\"}"), 6);
    ck_assert_int_eq(
        sample(s, "smtpscope_server_banner_latency_seconds_count{server=\"other\"}"), 12);
    ck_assert_int_eq(
        sample(s, "smtpscope_sessions_total{close=\"rst\",abnormal=\"true\"}"),
        METRICS_SERVERS_MAX + 6);
    check_histograms(s);
    free(s);
}
END_TEST

/* The largest tally (every server, every command, 20-digit counts)
 * formats well within METRICS_SCRAPE_MAX. */
START_TEST(test_largest_scrape)
{
    static struct metrics_tally t;
    memset(&t, 0xFF, sizeof(t));
    t.n_servers = METRICS_SERVERS_MAX;
    t.n_pids = 0;
    t.input_ended = true;
    for (int i = 0; i < METRICS_SERVERS_MAX; i++) {
        memset(&t.servers[i].ep, 0, sizeof(t.servers[i].ep));
        t.servers[i].ep.family = 6;
        memset(t.servers[i].ep.addr, 0xAB, 16);
        t.servers[i].ep.port = 65535;
    }
    struct capbuf out;
    capbuf_init(&out, METRICS_SCRAPE_MAX);
    ck_assert(metrics_format(&out, &t, UINT64_MAX));
    ck_assert_uint_lt(out.len, METRICS_SCRAPE_MAX / 2);
    capbuf_free(&out);
}
END_TEST

Suite *metrics_suite(void)
{
    Suite *s = suite_create("metrics");
    TCase *tc = tcase_create("metrics");
    tcase_add_loop_test(tc, test_escape_label, 0, (int)N_LABEL);
    tcase_add_test(tc, test_every_byte);
    tcase_add_test(tc, test_label_cap);
    tcase_add_loop_test(tc, test_parse_listen, 0, (int)N_LISTEN);
    tcase_add_test(tc, test_tally_one_session);
    tcase_add_test(tc, test_server_cap);
    tcase_add_test(tc, test_largest_scrape);
    suite_add_tcase(s, tc);
    return s;
}
