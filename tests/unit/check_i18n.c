/*
 * check_i18n.c - the language plumbing that does not need a catalogue:
 * --lang found in argv wherever it is, and text wrapping by display
 * columns (French accents one column, Chinese characters two, breaks
 * between Chinese characters but never before a closing mark or after an
 * opening one; English wrapped exactly as before).
 *
 * SPDX-License-Identifier: MIT
 */
#include <check.h>
#include <string.h>

#include "escape.h"
#include "i18n.h"
#include "knowledge.h"
#include "suites.h"

START_TEST(test_find_lang)
{
    char a0[] = "smtpscope", a1[] = "--lang", a2[] = "fr", a3[] = "explain", a4[] = "221",
         a5[] = "--lang=tr", a6[] = "--", a7[] = "--lang", a8[] = "zh";
    char *argv[] = {a0, a1, a2, a3, a4, a5, a6, a7, a8, NULL};
    /* The last one before "--" wins; argv is left as it was. */
    ck_assert_str_eq(i18n_find_lang_option(9, argv), "tr");
    ck_assert_ptr_eq(argv[1], a1);
    ck_assert_int_eq(i18n_skip_lang_options(9, argv, 1), 3); /* "explain" */
    ck_assert_int_eq(i18n_skip_lang_options(9, argv, 5), 6); /* "--" */
    ck_assert_int_eq(i18n_skip_lang_options(9, argv, 7), 9); /* past the end */
    ck_assert_ptr_null(i18n_find_lang_option(5, (char *[]){a0, a3, a4, a6, a1, NULL}));

    char b0[] = "smtpscope", b1[] = "-r", b2[] = "x.pcap", b3[] = "--lang";
    char *argv2[] = {b0, b1, b2, b3, NULL};
    ck_assert_str_eq(i18n_find_lang_option(4, argv2), ""); /* no value: main refuses it */
}
END_TEST

/* Display columns of one line of our own UTF-8 text. */
static unsigned columns(const char *s, size_t n)
{
    unsigned cols = 0;
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        size_t len = c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
        cols += len == 3 ? 2 : 1; /* the CJK text below is all three-byte */
        i += len;
    }
    return cols;
}

struct wrap_case {
    const char *name;
    const char *text;
    unsigned width;
    const char *want;
};

static const struct wrap_case wrap_cases[] = {
    {"english unchanged", "The server confirms it is ending the session.", 20,
     "  The server\n  confirms it is\n  ending the\n  session.\n"},
    {"french accents are one column", "échec définitif à réessayer", 17,
     "  échec définitif\n  à réessayer\n"},
    {"chinese breaks between characters", "服务器确认将结束会话并关闭连接。", 12,
     "  服务器确认\n  将结束会话\n  并关闭连\n  接。\n"},
    {"no line starts with a closing mark", "一二三四，五六", 10, "  一二三\n  四，五六\n"},
    {"no line ends with an opening bracket", "一二三（五六）", 10, "  一二三\n  （五六）\n"},
    {"latin words inside chinese stay whole", "使用STARTTLS命令", 12,
     "  使用\n  STARTTLS命\n  令\n"},
};

START_TEST(test_wrap_columns)
{
    const struct wrap_case *c = &wrap_cases[_i];
    struct capbuf out;
    capbuf_init(&out, 4096);
    ck_assert(knowledge_wrap(&out, c->text, 2, c->width));
    ck_assert(capbuf_append(&out, "", 1));
    ck_assert_msg(strcmp((char *)out.data, c->want) == 0, "%s: got\n%s", c->name,
                  (char *)out.data);
    for (const char *line = (char *)out.data; *line != '\0';) {
        const char *nl = strchr(line, '\n');
        ck_assert_uint_le(columns(line, (size_t)(nl - line)), c->width);
        line = nl + 1;
    }
    capbuf_free(&out);
}
END_TEST

/* The text summary's wrapper breaks Chinese where explain does. */
START_TEST(test_break_between)
{
    ck_assert(i18n_may_break_between("服务", "务"));        /* two wide characters */
    ck_assert(i18n_may_break_between("1（", "（"));         /* before an opening bracket */
    ck_assert(i18n_may_break_between("的QUIT", "QUIT"));    /* wide, then latin */
    ck_assert(!i18n_may_break_between("务，", "，"));       /* never before a closing mark */
    ck_assert(!i18n_may_break_between("（M", "M"));         /* never after an opening one */
    ck_assert(!i18n_may_break_between("ab", "b"));          /* latin words break at spaces */
    ck_assert(!i18n_may_break_between("的 ", " "));         /* spaces are the caller's */
    ck_assert(!i18n_may_break_between("的", ""));
}
END_TEST

START_TEST(test_untranslated_is_identity)
{
    /* No catalogue bound in the unit runner: English, the same pointer. */
    const char *s = "Nothing to fix.";
    ck_assert_ptr_eq(i18n_text(s), s);
    ck_assert_str_eq(i18n_text(""), "");
    ck_assert_str_eq(i18n_lang_tag(), "en");
}
END_TEST

Suite *i18n_suite(void)
{
    Suite *s = suite_create("i18n");
    TCase *tc = tcase_create("i18n");
    tcase_add_test(tc, test_find_lang);
    tcase_add_loop_test(tc, test_wrap_columns, 0,
                        (int)(sizeof(wrap_cases) / sizeof(wrap_cases[0])));
    tcase_add_test(tc, test_break_between);
    tcase_add_test(tc, test_untranslated_is_identity);
    suite_add_tcase(s, tc);
    return s;
}
