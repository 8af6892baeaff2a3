/*
 * check_escape.c - escaping wire text for JSON and for terminals.
 *
 * Both escapers are the only gate between hostile bytes and output, so
 * the tables cover every byte class: quotes, backslash, C0 controls, DEL,
 * valid UTF-8 of each length, and each way UTF-8 can be invalid (stray
 * continuation, overlong, surrogate, above U+10FFFF, cut short).
 *
 * SPDX-License-Identifier: MIT
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "escape.h"
#include "suites.h"
#include "utf8.h"

struct esc_case {
    const char *name;
    const char *in;
    size_t in_len;
    size_t max; /* 0: no cut */
    const char *want;
};

#define IN(lit) (lit), sizeof(lit) - 1

static const struct esc_case json_cases[] = {
    {"plain ASCII", IN("hello world"), 0, "\"hello world\""},
    {"empty", IN(""), 0, "\"\""},
    {"double quote", IN("a\"b"), 0, "\"a\\\"b\""},
    {"backslash", IN("a\\b"), 0, "\"a\\\\b\""},
    {"C0 controls", IN("\x01\t\n\r\x1f"), 0, "\"\\u0001\\u0009\\u000a\\u000d\\u001f\""},
    {"NUL", IN("a\0b"), 0, "\"a\\u0000b\""},
    {"DEL", IN("\x7f"), 0, "\"\\u007f\""},
    {"ESC", IN("\x1b[31m"), 0, "\"\\u001b[31m\""},
    {"two-byte UTF-8 kept", IN("caf\xc3\xa9"), 0, "\"caf\xc3\xa9\""},
    {"three-byte UTF-8 kept", IN("\xe2\x82\xac 5"), 0, "\"\xe2\x82\xac 5\""},
    {"four-byte UTF-8 kept", IN("\xf0\x9f\x98\x80"), 0, "\"\xf0\x9f\x98\x80\""},
    {"U+10FFFF kept", IN("\xf4\x8f\xbf\xbf"), 0, "\"\xf4\x8f\xbf\xbf\""},
    {"U+E000 after the surrogates kept", IN("\xee\x80\x80"), 0, "\"\xee\x80\x80\""},
    {"U+0080 (C1 control) escaped", IN("\xc2\x80"), 0, "\"\\u0080\""},
    {"U+009B (C1 CSI) escaped", IN("\xc2\x9b[31m"), 0, "\"\\u009b[31m\""},
    {"U+00A0 kept", IN("\xc2\xa0"), 0, "\"\xc2\xa0\""},
    {"U+202E (bidi override) escaped", IN("a\xe2\x80\xae" "b"), 0, "\"a\\u202eb\""},
    {"U+2028 (line separator) escaped", IN("\xe2\x80\xa8"), 0, "\"\\u2028\""},
    {"stray continuation byte", IN("a\x80z"), 0, "\"a\\ufffdz\""},
    {"bytes never in UTF-8", IN("\xfe\xff"), 0, "\"\\ufffd\\ufffd\""},
    {"overlong NUL", IN("\xc0\x80"), 0, "\"\\ufffd\\ufffd\""},
    {"overlong two-byte", IN("\xc1\xbf"), 0, "\"\\ufffd\\ufffd\""},
    {"overlong three-byte", IN("\xe0\x80\xaf"), 0, "\"\\ufffd\\ufffd\\ufffd\""},
    {"overlong four-byte", IN("\xf0\x80\x80\xaf"), 0, "\"\\ufffd\\ufffd\\ufffd\\ufffd\""},
    {"high surrogate", IN("\xed\xa0\x80"), 0, "\"\\ufffd\\ufffd\\ufffd\""},
    {"low surrogate", IN("\xed\xbf\xbf"), 0, "\"\\ufffd\\ufffd\\ufffd\""},
    {"above U+10FFFF", IN("\xf4\x90\x80\x80"), 0, "\"\\ufffd\\ufffd\\ufffd\\ufffd\""},
    {"F5 lead byte", IN("\xf5\x80\x80\x80"), 0, "\"\\ufffd\\ufffd\\ufffd\\ufffd\""},
    {"sequence cut by the end", IN("\xe2\x82"), 0, "\"\\ufffd\\ufffd\""},
    {"sequence cut by ASCII", IN("\xe2\x82x"), 0, "\"\\ufffd\\ufffdx\""},
    {"max cuts the input", IN("abcdef"), 3, "\"abc\""},
    {"max inside a sequence gives U+FFFD, not half a character", IN("\xc3\xa9"), 1,
     "\"\\ufffd\""},
    {"max beyond the input", IN("ab"), 10, "\"ab\""},
};

static const struct esc_case term_cases[] = {
    {"printable ASCII kept", IN("Hello, world! ~"), 0, "Hello, world! ~"},
    {"CSI colour sequence", IN("\x1b[31mred\x1b[0m"), 0, "\\x1b[31mred\\x1b[0m"},
    {"OSC title sequence", IN("\x1b]0;pwned\x07"), 0, "\\x1b]0;pwned\\x07"},
    {"C1 CSI byte", IN("\x9b" "2J"), 0, "\\x9b2J"},
    {"UTF-8 shown as bytes", IN("caf\xc3\xa9"), 0, "caf\\xc3\\xa9"},
    {"high bytes", IN("\x80\xff"), 0, "\\x80\\xff"},
    {"backslash doubled so escapes stay unambiguous", IN("a\\x41"), 0, "a\\\\x41"},
    {"line controls", IN("\r\n\t"), 0, "\\x0d\\x0a\\x09"},
    {"NUL and DEL", IN("\0\x7f"), 0, "\\x00\\x7f"},
    {"max cuts the input", IN("abcdef"), 2, "ab"},
};

#define N_JSON (sizeof(json_cases) / sizeof(json_cases[0]))
#define N_TERM (sizeof(term_cases) / sizeof(term_cases[0]))

/*
 * A fresh buffer has no room, so every append takes the growing path; a
 * warmed one (grown, then emptied) lets the writers format in place.  The
 * tables run on both.
 */
static void capbuf_init_warm(struct capbuf *out, size_t max, bool warm)
{
    capbuf_init(out, max);
    if (warm) {
        ck_assert(OUT_LIT(out, "x"));
        out->len = 0;
    }
}

static void check_one(const struct esc_case *c, bool json, bool warm)
{
    struct capbuf out;
    capbuf_init_warm(&out, 4096, warm);
    struct span in = span_make(c->in, c->in_len);
    size_t max = c->max ? c->max : SIZE_MAX;
    bool ok = json ? escape_json(&out, in, max) : escape_terminal(&out, in, max);
    ck_assert_msg(ok, "%s: output full", c->name);
    ck_assert_msg(out.len == strlen(c->want) && memcmp(out.data, c->want, out.len) == 0,
                  "%s: want [%s] got [%.*s]", c->name, c->want, (int)out.len,
                  out.data ? (const char *)out.data : "");
    capbuf_free(&out);
}

START_TEST(test_escape_json)
{
    check_one(&json_cases[_i], true, false);
    check_one(&json_cases[_i], true, true);
}
END_TEST

START_TEST(test_escape_terminal)
{
    check_one(&term_cases[_i], false, false);
}
END_TEST

/* Every single byte value: JSON output is quoted and holds only printable
 * ASCII or a kept valid sequence; terminal output only printable ASCII. */
START_TEST(test_every_byte)
{
    for (unsigned b = 0; b < 256; b++) {
        uint8_t c = (uint8_t)b;
        struct capbuf j;
        struct capbuf t;
        capbuf_init(&j, 64);
        capbuf_init(&t, 64);
        ck_assert(escape_json(&j, span_make(&c, 1), SIZE_MAX));
        ck_assert(escape_terminal(&t, span_make(&c, 1), SIZE_MAX));
        ck_assert_uint_ge(j.len, 3);
        ck_assert_int_eq(j.data[0], '"');
        ck_assert_int_eq(j.data[j.len - 1], '"');
        for (size_t i = 0; i < j.len; i++) {
            ck_assert_msg(j.data[i] >= 0x20 && j.data[i] < 0x7f, "byte %02x: JSON has %02x", b,
                          j.data[i]);
        }
        for (size_t i = 0; i < t.len; i++) {
            ck_assert_msg(t.data[i] >= 0x20 && t.data[i] < 0x7f, "byte %02x: terminal has %02x",
                          b, t.data[i]);
        }
        capbuf_free(&j);
        capbuf_free(&t);
    }
}
END_TEST

/* Characters that need a look, whole or as single bytes, for the tests
 * below that put them at every offset of an ASCII line. */
static const struct {
    const char *s;
    size_t len;
} specials[] = {
    {IN("\xc3\xa9")}, {IN("\xe2\x80\xae")}, {IN("\xe2\x80\xa8")}, {IN("\xf0\x9f\x98\x80")},
    {IN("\xc2\x80")}, {IN("\xed\xa0\x80")}, {IN("\xf4\x90\x80\x80")}, {IN("\xe2\x82")},
};

/* The JSON escaping of text alone, without its quotes. */
static void escape_inner(struct capbuf *out, const uint8_t *p, size_t len)
{
    struct capbuf one;
    capbuf_init(&one, 256);
    ck_assert(escape_json(&one, span_make(p, len), SIZE_MAX));
    ck_assert(capbuf_append(out, one.data + 1, one.len - 2));
    capbuf_free(&one);
}

/*
 * Plain text is scanned eight bytes at a time: a character needing escape
 * at any offset in, or across, such a block must come out as it does
 * alone, and the ASCII around it untouched.
 */
static void check_at_every_offset(const uint8_t *sp, size_t sp_len)
{
    enum { LINE = 24 };
    uint8_t line[LINE + 4];
    for (size_t at = 0; at + sp_len <= LINE; at++) {
        for (size_t k = 0; k < LINE; k++) {
            line[k] = (uint8_t)('a' + k % 26);
        }
        memcpy(line + at, sp, sp_len);
        struct capbuf want;
        capbuf_init(&want, 4096);
        ck_assert(OUT_LIT(&want, "\""));
        ck_assert(capbuf_append(&want, line, at));
        escape_inner(&want, sp, sp_len);
        ck_assert(capbuf_append(&want, line + at + sp_len, LINE - at - sp_len));
        ck_assert(OUT_LIT(&want, "\""));
        for (int warm = 0; warm <= 1; warm++) {
            struct capbuf got;
            capbuf_init_warm(&got, 4096, warm);
            ck_assert(escape_json(&got, span_make(line, LINE), SIZE_MAX));
            ck_assert_msg(got.len == want.len && memcmp(got.data, want.data, got.len) == 0,
                          "%02x at %zu: want [%.*s] got [%.*s]", sp[0], at, (int)want.len,
                          (const char *)want.data, (int)got.len, (const char *)got.data);
            capbuf_free(&got);
        }
        bool valid = sp_len == 1 ? sp[0] < 0x80 : utf8_seq_len(sp, sp_len) == sp_len;
        ck_assert_msg(utf8_valid(line, LINE) == valid, "%02x at %zu: utf8_valid", sp[0], at);
        capbuf_free(&want);
    }
}

START_TEST(test_every_offset)
{
    for (unsigned b = 0; b < 256; b++) {
        uint8_t c = (uint8_t)b;
        check_at_every_offset(&c, 1);
    }
    for (size_t i = 0; i < sizeof(specials) / sizeof(specials[0]); i++) {
        check_at_every_offset((const uint8_t *)specials[i].s, specials[i].len);
    }
}
END_TEST

/* json_plain_len() against the byte-at-a-time rule, for every length up to
 * four 16-byte blocks and one special byte at every position. */
static size_t plain_len_reference(const uint8_t *p, size_t n)
{
    size_t i = 0;
    while (i < n && p[i] >= 0x20 && p[i] < 0x7F && p[i] != '"' && p[i] != '\\') {
        i++;
    }
    return i;
}

START_TEST(test_plain_len)
{
    static const uint8_t special[] = {0x00, 0x1F, 0x7F, 0x80, 0xFF, '"', '\\'};
    uint8_t buf[72];
    for (size_t n = 0; n <= 64; n++) {
        for (size_t k = 0; k < n; k++) {
            buf[k] = (uint8_t)(0x20 + (k * 7) % 0x5F); /* 0x20..0x7E, quote and backslash aside */
            if (buf[k] == '"' || buf[k] == '\\') {
                buf[k] = 'x';
            }
        }
        ck_assert_uint_eq(json_plain_len(buf, n), n);
        for (size_t at = 0; at < n; at++) {
            for (size_t j = 0; j < sizeof(special); j++) {
                uint8_t keep = buf[at];
                buf[at] = special[j];
                ck_assert_msg(json_plain_len(buf, n) == plain_len_reference(buf, n),
                              "n %zu, %02x at %zu", n, special[j], at);
                buf[at] = keep;
            }
        }
    }
}
END_TEST

START_TEST(test_output_full)
{
    struct capbuf out;
    capbuf_init(&out, 4);
    ck_assert(!escape_json(&out, span_make("hello", 5), SIZE_MAX));
    ck_assert_uint_le(out.len, 4);
    capbuf_free(&out);
    capbuf_init(&out, 3);
    ck_assert(!escape_terminal(&out, span_make("\x1b", 1), SIZE_MAX));
    capbuf_free(&out);
}
END_TEST

struct ms_case {
    long long us;
    const char *want;
};

static const struct ms_case ms_cases[] = {
    {2700, "2.700"}, {0, "0.000"}, {1, "0.001"}, {999, "0.999"}, {1000, "1.000"},
    {-1500, "-1.500"}, {1234567890123LL, "1234567890.123"},
    {INT64_MIN, "-9223372036854775.808"}, {INT64_MAX, "9223372036854775.807"},
};

START_TEST(test_out_ms)
{
    for (size_t i = 0; i < sizeof(ms_cases) / sizeof(ms_cases[0]); i++) {
        for (int warm = 0; warm <= 1; warm++) {
            struct capbuf out;
            capbuf_init_warm(&out, 64, warm);
            ck_assert(out_ms(&out, ms_cases[i].us));
            ck_assert_msg(out.len == strlen(ms_cases[i].want) &&
                              memcmp(out.data, ms_cases[i].want, out.len) == 0,
                          "out_ms(%lld): want %s got %.*s", ms_cases[i].us, ms_cases[i].want,
                          (int)out.len, (const char *)out.data);
            capbuf_free(&out);
        }
    }
}
END_TEST

/* Each power of ten and its predecessor, so every digit count is hit. */
START_TEST(test_out_u64)
{
    unsigned long long p = 1;
    for (int k = 0; k < 20; k++) {
        unsigned long long vs[] = {p, p - 1, k == 19 ? ~0ULL : p * 10 - 1};
        for (size_t i = 0; i < sizeof(vs) / sizeof(vs[0]); i++) {
            char want[24];
            snprintf(want, sizeof(want), "%llu", vs[i]);
            for (int warm = 0; warm <= 1; warm++) {
                struct capbuf out;
                capbuf_init_warm(&out, 64, warm);
                ck_assert(out_u64(&out, vs[i]));
                ck_assert_msg(out.len == strlen(want) && memcmp(out.data, want, out.len) == 0,
                              "out_u64: want %s got %.*s", want, (int)out.len,
                              (const char *)out.data);
                capbuf_free(&out);
            }
        }
        p = k < 19 ? p * 10 : p;
    }
}
END_TEST

/* A cursor run on an empty buffer grows it; past the maximum it is refused
 * and the buffer is left as it was. */
START_TEST(test_cursor)
{
    struct capbuf out;
    capbuf_init(&out, 40);
    char *d = out_room(&out, 30);
    ck_assert_ptr_nonnull(d);
    ck_assert_uint_eq(out.len, 0);
    d = PUT_LIT(d, "x=");
    d = put_u64(d, 1234);
    d = PUT_LIT(d, " t=");
    d = put_u64_fixed(d, 42, 6);
    *d++ = ' ';
    out_done(&out, put_ms(d, -2700));
    const char *want = "x=1234 t=000042 -2.700";
    ck_assert_uint_eq(out.len, strlen(want));
    ck_assert(memcmp(out.data, want, out.len) == 0);
    ck_assert_ptr_null(out_room(&out, 40 - out.len + 1));
    ck_assert_uint_eq(out.len, strlen(want));
    ck_assert_ptr_nonnull(out_room(&out, 40 - out.len));
    ck_assert_uint_eq(out.len, strlen(want));
    capbuf_free(&out);
}
END_TEST

Suite *escape_suite(void)
{
    Suite *s = suite_create("escape");
    TCase *tc = tcase_create("escape");
    tcase_add_loop_test(tc, test_escape_json, 0, (int)N_JSON);
    tcase_add_loop_test(tc, test_escape_terminal, 0, (int)N_TERM);
    tcase_add_test(tc, test_every_byte);
    tcase_add_test(tc, test_every_offset);
    tcase_add_test(tc, test_plain_len);
    tcase_add_test(tc, test_output_full);
    tcase_add_test(tc, test_out_ms);
    tcase_add_test(tc, test_out_u64);
    tcase_add_test(tc, test_cursor);
    suite_add_tcase(s, tc);
    return s;
}
