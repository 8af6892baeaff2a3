/*
 * check_knowledge.c - the reply-code knowledge base and its links.
 *
 * Every code the issue lists has every field; every enhanced subject and
 * detail has a name, a meaning and its RFC; every enhanced code a basic
 * code names is registered; every close label and flag names codes the
 * base knows; the parsers accept what they should and nothing else.
 *
 * SPDX-License-Identifier: MIT
 */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "knowledge.h"
#include "suites.h"
#include "verdict.h"

static const unsigned required_codes[] = {
    211, 214, 220, 221, 235, 250, 251, 252, 334, 354, 421, 432, 450, 451, 452, 454, 455,
    500, 501, 502, 503, 504, 521, 530, 534, 535, 538, 550, 551, 552, 553, 554, 555, 556,
};
#define N_REQUIRED (sizeof(required_codes) / sizeof(required_codes[0]))

static bool filled(const char *s)
{
    return s != NULL && s[0] != '\0';
}

START_TEST(test_code_has_every_field)
{
    unsigned code = required_codes[_i];
    const struct knowledge_code *k = knowledge_code_lookup(code);
    ck_assert_msg(k != NULL, "code %u missing", code);
    ck_assert_uint_eq(k->code, code);
    ck_assert_msg(filled(k->name), "%u: name", code);
    ck_assert_msg(filled(k->meaning), "%u: meaning", code);
    ck_assert_msg(filled(k->when), "%u: when", code);
    ck_assert_msg(filled(k->check), "%u: check", code);
    ck_assert_msg(filled(k->rfc), "%u: rfc", code);
    ck_assert_msg(filled(k->enhanced), "%u: enhanced", code);
    ck_assert_msg(knowledge_class_name(code) != NULL, "%u: class", code);
    ck_assert_msg(knowledge_class_advice(code) != NULL, "%u: class advice", code);
}
END_TEST

START_TEST(test_table_is_exactly_the_list)
{
    ck_assert_uint_eq(knowledge_n_codes(), N_REQUIRED);
    for (size_t i = 0; i < knowledge_n_codes(); i++) {
        for (size_t j = i + 1; j < knowledge_n_codes(); j++) {
            ck_assert_uint_ne(knowledge_code_at(i)->code, knowledge_code_at(j)->code);
        }
    }
    ck_assert_ptr_null(knowledge_code_lookup(299));
    ck_assert_ptr_null(knowledge_code_at(knowledge_n_codes()));
}
END_TEST

/* Each enhanced code a basic code lists is registered (3xx carry none). */
START_TEST(test_code_enhanced_lists_resolve)
{
    const struct knowledge_code *k = knowledge_code_at((size_t)_i);
    if (k->code / 100 == 3) {
        ck_assert_msg(strncmp(k->enhanced, "none", 4) == 0, "%u", k->code);
        return;
    }
    char buf[128];
    snprintf(buf, sizeof(buf), "%s", k->enhanced);
    char *save = NULL;
    int n = 0;
    for (char *tok = strtok_r(buf, ", ", &save); tok != NULL; tok = strtok_r(NULL, ", ", &save)) {
        unsigned c;
        unsigned s;
        unsigned d;
        ck_assert_msg(knowledge_parse_enhanced(tok, &c, &s, &d), "%u: %s", k->code, tok);
        ck_assert_msg(c == k->code / 100, "%u: %s has another class", k->code, tok);
        ck_assert_msg(knowledge_enhanced_lookup((int)s, (int)d) != NULL, "%u: %s", k->code, tok);
        n++;
    }
    ck_assert_int_gt(n, 0);
}
END_TEST

START_TEST(test_enhanced_has_every_field)
{
    const struct knowledge_enhanced *e = knowledge_enhanced_at((size_t)_i);
    ck_assert_int_ge(e->subject, 0);
    ck_assert_int_le(e->subject, 7);
    ck_assert_int_ge(e->detail, -1);
    ck_assert_msg(filled(e->name), "X.%d.%d name", e->subject, e->detail);
    ck_assert_msg(filled(e->meaning), "X.%d.%d meaning", e->subject, e->detail);
    ck_assert_msg(strncmp(e->rfc, "RFC ", 4) == 0, "X.%d.%d rfc", e->subject, e->detail);
    ck_assert_ptr_eq(knowledge_enhanced_lookup(e->subject, e->detail), e); /* no duplicate */
}
END_TEST

/* RFC 3463 3.1-3.8: eight subjects, each with its X.Y.0 and the details it
 * defines; spot checks of later registrations. */
START_TEST(test_enhanced_registry_coverage)
{
    static const int rfc3463_last_detail[8] = {0, 8, 4, 5, 7, 5, 5, 7};
    for (int s = 0; s <= 7; s++) {
        ck_assert_msg(knowledge_enhanced_lookup(s, -1) != NULL, "subject %d", s);
        for (int d = 0; d <= rfc3463_last_detail[s]; d++) {
            ck_assert_msg(knowledge_enhanced_lookup(s, d) != NULL, "X.%d.%d", s, d);
        }
    }
    ck_assert_ptr_nonnull(knowledge_enhanced_lookup(5, 6));  /* RFC 4954 */
    ck_assert_ptr_nonnull(knowledge_enhanced_lookup(7, 8));  /* RFC 4954 */
    ck_assert_ptr_nonnull(knowledge_enhanced_lookup(7, 26)); /* RFC 7372 */
    ck_assert_ptr_nonnull(knowledge_enhanced_lookup(1, 10)); /* RFC 7505 */
    ck_assert_ptr_null(knowledge_enhanced_lookup(8, 0));
    ck_assert_ptr_null(knowledge_enhanced_lookup(7, 99));
    ck_assert_ptr_nonnull(knowledge_enhanced_class_name(2));
    ck_assert_ptr_null(knowledge_enhanced_class_name(3));
    ck_assert_ptr_nonnull(knowledge_enhanced_class_name(4));
    ck_assert_ptr_nonnull(knowledge_enhanced_class_name(5));
}
END_TEST

static void check_verdict_codes(const struct verdict_info *v)
{
    struct knowledge_code_ref refs[16];
    int n = knowledge_parse_code_list(v->codes, refs, 16);
    ck_assert_msg(n >= 0, "%s: codes \"%s\" do not parse", v->name, v->codes);
    for (int i = 0; i < n; i++) {
        if (refs[i].is_class) {
            ck_assert_msg(knowledge_class_name(refs[i].code) != NULL, "%s", v->name);
        } else {
            ck_assert_msg(knowledge_code_lookup(refs[i].code) != NULL, "%s: code %u unknown",
                          v->name, refs[i].code);
        }
    }
}

START_TEST(test_label_codes_resolve)
{
    check_verdict_codes(verdict_label_info((enum verdict_label)_i));
}
END_TEST

START_TEST(test_flag_codes_resolve)
{
    check_verdict_codes(verdict_flag_info((enum verdict_flag)_i));
}
END_TEST

struct list_case {
    const char *in;
    int n;
    uint16_t first;
    bool first_is_class;
};

static const struct list_case list_cases[] = {
    {"", 0, 0, false},
    {"221", 1, 221, false},
    {"221,250,5xx,4xx", 4, 221, false},
    {"5xx", 1, 500, true},
    {"22", -1, 0, false},
    {"221,", -1, 0, false},
    {"2x1", -1, 0, false},
    {"621", -1, 0, false},
    {"221 ,250", -1, 0, false},
};

START_TEST(test_parse_code_list)
{
    const struct list_case *c = &list_cases[_i];
    struct knowledge_code_ref refs[8];
    int n = knowledge_parse_code_list(c->in, refs, 8);
    ck_assert_msg(n == c->n, "\"%s\": %d items, want %d", c->in, n, c->n);
    if (n > 0) {
        ck_assert_uint_eq(refs[0].code, c->first);
        ck_assert(refs[0].is_class == c->first_is_class);
    }
}
END_TEST

struct enh_case {
    const char *in;
    bool ok;
    unsigned c, s, d;
};

static const struct enh_case enh_cases[] = {
    {"5.7.1", true, 5, 7, 1},       {"4.7.12", true, 4, 7, 12},  {"2.0.0", true, 2, 0, 0},
    {"5.1.100", true, 5, 1, 100},   {"5.7", false, 0, 0, 0},     {"5.7.1.", false, 0, 0, 0},
    {"55.7.1", false, 0, 0, 0},     {"5..1", false, 0, 0, 0},    {"5.7.1000", false, 0, 0, 0},
    {"a.b.c", false, 0, 0, 0},      {"", false, 0, 0, 0},
};

START_TEST(test_parse_enhanced)
{
    const struct enh_case *c = &enh_cases[_i];
    unsigned k = 9;
    unsigned s = 9;
    unsigned d = 9;
    bool ok = knowledge_parse_enhanced(c->in, &k, &s, &d);
    ck_assert_msg(ok == c->ok, "\"%s\"", c->in);
    if (ok) {
        ck_assert_uint_eq(k, c->c);
        ck_assert_uint_eq(s, c->s);
        ck_assert_uint_eq(d, c->d);
    }
}
END_TEST

START_TEST(test_explain_text)
{
    struct capbuf out;
    capbuf_init(&out, 1 << 16);
    ck_assert(knowledge_explain_code(&out, 221));
    ck_assert(capbuf_append(&out, "", 1));
    ck_assert_ptr_nonnull(strstr((char *)out.data, "221  Service closing transmission channel"));
    /* Wrapped at 78 columns. */
    for (char *line = (char *)out.data; line != NULL;) {
        char *nl = strchr(line, '\n');
        size_t len = nl != NULL ? (size_t)(nl - line) : strlen(line);
        ck_assert_msg(len <= 78, "line of %zu columns", len);
        line = nl != NULL ? nl + 1 : NULL;
    }
    out.len = 0;
    ck_assert(!knowledge_explain_code(&out, 299));
    out.len = 0;
    ck_assert(knowledge_explain_enhanced(&out, 5, 7, 1));
    out.len = 0;
    ck_assert(!knowledge_explain_enhanced(&out, 3, 7, 1));
    ck_assert(!knowledge_explain_enhanced(&out, 5, 9, 1));
    ck_assert_ptr_nonnull(knowledge_pair_note(250, 221));
    ck_assert_ptr_nonnull(knowledge_pair_note(221, 250));
    ck_assert_ptr_null(knowledge_pair_note(211, 556));
    capbuf_free(&out);
}
END_TEST

Suite *knowledge_suite(void)
{
    Suite *s = suite_create("knowledge");
    TCase *tc = tcase_create("tables");
    tcase_add_loop_test(tc, test_code_has_every_field, 0, (int)N_REQUIRED);
    tcase_add_test(tc, test_table_is_exactly_the_list);
    tcase_add_loop_test(tc, test_code_enhanced_lists_resolve, 0, (int)knowledge_n_codes());
    tcase_add_loop_test(tc, test_enhanced_has_every_field, 0, (int)knowledge_n_enhanced());
    tcase_add_test(tc, test_enhanced_registry_coverage);
    tcase_add_loop_test(tc, test_label_codes_resolve, 0, VERDICT_LABEL_COUNT);
    tcase_add_loop_test(tc, test_flag_codes_resolve, 0, VERDICT_FLAG_COUNT);
    suite_add_tcase(s, tc);
    TCase *parse = tcase_create("parse");
    tcase_add_loop_test(parse, test_parse_code_list, 0,
                        (int)(sizeof(list_cases) / sizeof(list_cases[0])));
    tcase_add_loop_test(parse, test_parse_enhanced, 0,
                        (int)(sizeof(enh_cases) / sizeof(enh_cases[0])));
    tcase_add_test(parse, test_explain_text);
    suite_add_tcase(s, parse);
    return s;
}
