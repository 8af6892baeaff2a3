/*
 * check_verdict.c - close-label rules and the label/flag tables.
 *
 * The rule table in docs/verdicts.md is ordered and the first match wins,
 * so each case sets the facts of a winning rule together with the facts
 * of every later rule it must beat.  The tables must be complete (name,
 * explanation and what to check for each entry), unique, and each name
 * must have its own heading in docs/verdicts.md so the docs cannot drift.
 *
 * SPDX-License-Identifier: MIT
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "suites.h"
#include "verdict.h"

struct classify_case {
    const char *name;
    struct verdict_facts f;
    enum verdict_label want;
};

#define ALL_FACTS                                                              \
    .is_tls = true, .saw_421 = true, .saw_221_not_quit_in_txn = true,          \
    .saw_221_not_quit_no_txn = true, .quit_answered_221 = true,                \
    .client_data_after_221 = true, .saw_quit = true, .n_mail_tried = 1

static const struct classify_case classify_cases[] = {
    {"nothing seen: truncated", {.saw_fin = false}, VERDICT_TRUNCATED_CAPTURE},
    {"truncated beats every other fact", {ALL_FACTS}, VERDICT_TRUNCATED_CAPTURE},
    {"tls beats 421 and all below", {.saw_fin = true, ALL_FACTS}, VERDICT_TLS_OPAQUE},
    {"tls with rst", {.saw_rst = true, .is_tls = true}, VERDICT_TLS_OPAQUE},
    {"421 beats 221 rules",
     {.saw_fin = true, .saw_421 = true, .saw_221_not_quit_in_txn = true,
      .saw_221_not_quit_no_txn = true, .quit_answered_221 = true, .saw_quit = true},
     VERDICT_SERVER_421},
    {"421 with rst", {.saw_rst = true, .saw_421 = true}, VERDICT_SERVER_421},
    {"221 in a transaction beats 221 outside",
     {.saw_fin = true, .saw_221_not_quit_in_txn = true, .saw_221_not_quit_no_txn = true,
      .quit_answered_221 = true, .saw_quit = true},
     VERDICT_SERVER_221_MID_TRANSACTION},
    {"unsolicited 221 beats quit answered",
     {.saw_fin = true, .saw_221_not_quit_no_txn = true, .quit_answered_221 = true,
      .client_data_after_221 = true, .saw_quit = true},
     VERDICT_SERVER_221_UNSOLICITED},
    {"data after 221 beats no 250",
     {.saw_fin = true, .quit_answered_221 = true, .client_data_after_221 = true,
      .saw_quit = true, .n_mail_tried = 2},
     VERDICT_CLIENT_DATA_AFTER_221},
    {"221 after MAIL with nothing accepted",
     {.saw_fin = true, .quit_answered_221 = true, .saw_quit = true, .n_mail_tried = 1},
     VERDICT_SERVER_221_AFTER_NO_250},
    {"221 after an accepted message",
     {.saw_fin = true, .quit_answered_221 = true, .saw_quit = true, .n_mail_tried = 2,
      .n_messages_accepted = 1},
     VERDICT_NORMAL_QUIT},
    {"221 without MAIL", {.saw_fin = true, .quit_answered_221 = true, .saw_quit = true},
     VERDICT_NORMAL_QUIT},
    {"rst after 221 is still normal",
     {.saw_rst = true, .quit_answered_221 = true, .saw_quit = true}, VERDICT_NORMAL_QUIT},
    {"quit without 221", {.saw_fin = true, .saw_quit = true}, VERDICT_QUIT_NO_221},
    {"quit without 221 beats rst", {.saw_rst = true, .saw_fin = true, .saw_quit = true},
     VERDICT_QUIT_NO_221},
    {"rst", {.saw_rst = true, .n_mail_tried = 3}, VERDICT_RST},
    {"rst beats fin", {.saw_rst = true, .saw_fin = true}, VERDICT_RST},
    {"data after 221 alone is not a label", {.saw_fin = true, .client_data_after_221 = true},
     VERDICT_FIN_WITHOUT_QUIT},
    {"fin", {.saw_fin = true}, VERDICT_FIN_WITHOUT_QUIT},
};

START_TEST(test_classify)
{
    const struct classify_case *c = &classify_cases[_i];
    enum verdict_label got = verdict_classify(&c->f);
    ck_assert_msg(got == c->want, "%s: want %s got %s", c->name,
                  verdict_label_info(c->want)->name, verdict_label_info(got)->name);
}
END_TEST

static const char *const severities[] = {"ok", "info", "warning", "error"};

static void check_info(const struct verdict_info *v, const char *what, unsigned i)
{
    ck_assert_ptr_nonnull(v);
    ck_assert_msg(v->name && v->name[0], "%s %u has no name", what, i);
    ck_assert_msg(v->explanation && v->explanation[0], "%s %s: no explanation", what, v->name);
    ck_assert_msg(v->check && v->check[0], "%s %s: nothing to check", what, v->name);
    ck_assert_ptr_nonnull(v->codes);
    bool known = false;
    for (size_t k = 0; k < sizeof(severities) / sizeof(severities[0]); k++) {
        known = known || (v->severity && strcmp(v->severity, severities[k]) == 0);
    }
    ck_assert_msg(known, "%s %s: unknown severity", what, v->name);
    /* Names are JSON values matched by scripts: lower snake case only. */
    for (const char *p = v->name; *p; p++) {
        ck_assert_msg((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_',
                      "%s %s: character %c in name", what, v->name, *p);
    }
}

START_TEST(test_tables_complete)
{
    for (unsigned i = 0; i < VERDICT_LABEL_COUNT; i++) {
        check_info(verdict_label_info((enum verdict_label)i), "label", i);
    }
    for (unsigned i = 0; i < VERDICT_FLAG_COUNT; i++) {
        check_info(verdict_flag_info((enum verdict_flag)i), "flag", i);
    }
    /* Flags are bits of a uint64_t. */
    ck_assert_uint_le(VERDICT_FLAG_COUNT, 64);
    /* Out-of-range indexes still give an entry, never NULL. */
    ck_assert_ptr_nonnull(verdict_label_info(VERDICT_LABEL_COUNT));
    ck_assert_ptr_nonnull(verdict_flag_info(VERDICT_FLAG_COUNT));
}
END_TEST

static const char *name_at(unsigned i)
{
    return i < VERDICT_LABEL_COUNT ? verdict_label_info((enum verdict_label)i)->name
                                   : verdict_flag_info((enum verdict_flag)(i - VERDICT_LABEL_COUNT))->name;
}

/* Labels and flags share one docs page of headings: unique across both. */
START_TEST(test_names_unique)
{
    unsigned n = VERDICT_LABEL_COUNT + VERDICT_FLAG_COUNT;
    for (unsigned i = 0; i < n; i++) {
        for (unsigned j = i + 1; j < n; j++) {
            ck_assert_msg(strcmp(name_at(i), name_at(j)) != 0, "name %s used twice",
                          name_at(i));
        }
    }
}
END_TEST

/* docs/verdicts.md, relative to the repository root the tests run from. */
static char *read_docs(void)
{
    const char *path = getenv("SMTPSCOPE_VERDICTS_MD");
    FILE *f = fopen(path ? path : "docs/verdicts.md", "rb");
    if (f == NULL) {
        return NULL;
    }
    size_t cap = 1 << 16;
    size_t len = 0;
    char *buf = malloc(cap);
    ck_assert_ptr_nonnull(buf);
    size_t got;
    while ((got = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += got;
        if (len + 1 == cap) {
            cap *= 2;
            buf = realloc(buf, cap);
            ck_assert_ptr_nonnull(buf);
        }
    }
    fclose(f);
    buf[len] = '\0';
    return buf;
}

static bool has_heading(const char *doc, const char *name)
{
    static const char *const levels[] = {"## ", "### "};
    for (size_t k = 0; k < 2; k++) {
        size_t hl = strlen(levels[k]);
        size_t nl = strlen(name);
        for (const char *p = doc; (p = strstr(p, levels[k])) != NULL; p++) {
            bool line_start = p == doc || p[-1] == '\n';
            if (line_start && strncmp(p + hl, name, nl) == 0 &&
                (p[hl + nl] == '\n' || p[hl + nl] == '\r' || p[hl + nl] == '\0')) {
                return true;
            }
        }
    }
    return false;
}

START_TEST(test_docs_headings)
{
    char *doc = read_docs();
    if (doc == NULL) {
        fprintf(stderr, "check_verdict: SKIPPED docs heading test: docs/verdicts.md not found "
                        "(run from the repository root or set SMTPSCOPE_VERDICTS_MD)\n");
        return;
    }
    for (unsigned i = 0; i < VERDICT_LABEL_COUNT + VERDICT_FLAG_COUNT; i++) {
        ck_assert_msg(has_heading(doc, name_at(i)),
                      "docs/verdicts.md has no heading \"## %s\" or \"### %s\"", name_at(i),
                      name_at(i));
    }
    free(doc);
}
END_TEST

/* One definition of abnormal: a label or flag of severity warning or error. */
static const struct {
    const char *name;
    unsigned label;
    uint64_t flags;
    bool abnormal;
    const char *reason; /* name of the entry given as the reason, or NULL */
} abnormal_cases[] = {
    {"normal close", VERDICT_NORMAL_QUIT, 0, false, NULL},
    {"tls", VERDICT_TLS_OPAQUE, 0, false, NULL},
    {"capture ended", VERDICT_TRUNCATED_CAPTURE, 0, false, NULL},
    {"capture ended, info flag", VERDICT_TRUNCATED_CAPTURE, VERDICT_FLAG_BIT(VERDICT_FLAG_MIDSTREAM),
     false, NULL},
    {"554 greeting, then QUIT", VERDICT_NORMAL_QUIT,
     VERDICT_FLAG_BIT(VERDICT_FLAG_GREETING_REFUSED), true, "greeting_refused"},
    {"421 beats a warning flag", VERDICT_SERVER_421, VERDICT_FLAG_BIT(VERDICT_FLAG_BARE_LF), true,
     "server_421"},
    {"label first on a tie", VERDICT_FIN_WITHOUT_QUIT, VERDICT_FLAG_BIT(VERDICT_FLAG_BARE_LF), true,
     "fin_without_quit"},
    {"first warning flag", VERDICT_TRUNCATED_CAPTURE,
     VERDICT_FLAG_BIT(VERDICT_FLAG_MIDSTREAM) | VERDICT_FLAG_BIT(VERDICT_FLAG_LONG_LINE) |
         VERDICT_FLAG_BIT(VERDICT_FLAG_NUL_BYTE),
     true, "long_line"},
    {"rst", VERDICT_RST, 0, true, "rst"},
};

START_TEST(test_abnormal)
{
    const __typeof__(abnormal_cases[0]) *c = &abnormal_cases[_i];
    ck_assert_msg(verdict_is_abnormal(c->label, c->flags) == c->abnormal, "%s", c->name);
    const struct verdict_info *why = verdict_reason(c->label, c->flags);
    if (c->reason == NULL) {
        ck_assert_msg(why == NULL, "%s: a reason given", c->name);
    } else {
        ck_assert_msg(why != NULL, "%s: no reason", c->name);
        ck_assert_str_eq(why->name, c->reason);
    }
}
END_TEST

Suite *verdict_suite(void)
{
    Suite *s = suite_create("verdict");
    TCase *tc = tcase_create("verdict");
    tcase_add_loop_test(tc, test_classify, 0,
                        (int)(sizeof(classify_cases) / sizeof(classify_cases[0])));
    tcase_add_test(tc, test_tables_complete);
    tcase_add_test(tc, test_names_unique);
    tcase_add_test(tc, test_docs_headings);
    tcase_add_loop_test(tc, test_abnormal, 0,
                        (int)(sizeof(abnormal_cases) / sizeof(abnormal_cases[0])));
    suite_add_tcase(s, tc);
    return s;
}
