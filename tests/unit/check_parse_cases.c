/*
 * check_parse_cases.c - conversation scripts, the .case files in tests/parser.
 *
 * Each file is a conversation (client and server bytes, waits, FIN/RST)
 * and the record dump it must produce; tests/parser/README.md defines the
 * format.  Each script runs whole, byte by byte, and with every step split
 * in two at every point, through the session layer exactly as the TCP glue
 * drives it, and every run must give the expected dump.  The directory is
 * tests/parser relative to the repository root (the unit binary runs from
 * there), or $SMTPSCOPE_PARSER_CASES.  SMTPSCOPE_CASES_PRINT=1 prints each
 * whole-run dump, for writing a new case (check it by hand before use).
 *
 * SPDX-License-Identifier: MIT
 */
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "suites.h"
#include "test_util.h"

static const char *cases_dir(void)
{
    const char *d = getenv("SMTPSCOPE_PARSER_CASES");
    return d != NULL && d[0] != '\0' ? d : "tests/parser";
}

/* File names, found when the suite is built. */
static char **case_names;
static int n_case_names;

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void find_cases(void)
{
    DIR *dir = opendir(cases_dir());
    if (dir == NULL) {
        return;
    }
    struct dirent *e;
    int cap = 0;
    while ((e = readdir(dir)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len <= 5 || strcmp(e->d_name + len - 5, ".case") != 0) {
            continue;
        }
        if (n_case_names == cap) {
            cap = cap ? cap * 2 : 32;
            char **grown = realloc(case_names, (size_t)cap * sizeof(*grown));
            if (grown == NULL) {
                break;
            }
            case_names = grown;
        }
        case_names[n_case_names] = strdup(e->d_name);
        if (case_names[n_case_names] != NULL) {
            n_case_names++;
        }
    }
    closedir(dir);
    if (n_case_names > 1) {
        qsort(case_names, (size_t)n_case_names, sizeof(*case_names), cmp_names);
    }
}

/* ---- loading a script ----------------------------------------------------- */

struct script {
    struct conv_opts opts;
    struct step *steps;
    size_t n;
    size_t cap;
    char *want;
};

static void script_add(struct script *sc, struct step st)
{
    if (sc->n == sc->cap) {
        sc->cap = sc->cap ? sc->cap * 2 : 16;
        sc->steps = realloc(sc->steps, sc->cap * sizeof(*sc->steps));
        ck_assert_ptr_nonnull(sc->steps);
    }
    sc->steps[sc->n++] = st;
}

static void script_free(struct script *sc)
{
    for (size_t i = 0; i < sc->n; i++) {
        free((void *)sc->steps[i].bytes);
    }
    free(sc->steps);
    free(sc->want);
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* Decodes the escapes of a C:/S: line (README.md) into wire bytes. */
static char *unescape(const char *file, int line_no, const char *s, size_t *out_len)
{
    struct tstr b = {0};
    for (const char *p = s; *p; p++) {
        if (*p != '\\') {
            tstr_printf(&b, "%c", *p);
            continue;
        }
        p++;
        switch (*p) {
        case 'r':
            tstr_printf(&b, "\r");
            break;
        case 'n':
            tstr_printf(&b, "\n");
            break;
        case 't':
            tstr_printf(&b, "\t");
            break;
        case '\\':
            tstr_printf(&b, "\\");
            break;
        case '0':
            tstr_printf(&b, "%c", '\0');
            break;
        case 'x': {
            int hi = hex_value(p[1]);
            int lo = hi >= 0 ? hex_value(p[2]) : -1;
            ck_assert_msg(lo >= 0, "%s:%d: bad \\x escape", file, line_no);
            tstr_printf(&b, "%c", (char)(hi * 16 + lo));
            p += 2;
            break;
        }
        case '{': {
            /* \{N*c}: N copies of the character c (filler for long lines). */
            char *end;
            unsigned long n = strtoul(p + 1, &end, 10);
            ck_assert_msg(end[0] == '*' && end[1] != '\0' && end[2] == '}',
                          "%s:%d: bad \\{N*c} escape", file, line_no);
            for (unsigned long k = 0; k < n; k++) {
                tstr_printf(&b, "%c", end[1]);
            }
            p = end + 2;
            break;
        }
        default:
            ck_abort_msg("%s:%d: unknown escape \\%c", file, line_no, *p);
        }
    }
    *out_len = b.len;
    if (b.p == NULL) {
        tstr_cstr(&b);
    }
    return b.p;
}

static int side_of(const char *file, int line_no, const char *v)
{
    if (strcmp(v, "client") == 0) {
        return SMTP_DIR_CLIENT;
    }
    ck_assert_msg(strcmp(v, "server") == 0, "%s:%d: want client or server, got \"%s\"", file,
                  line_no, v);
    return SMTP_DIR_SERVER;
}

static enum record_end end_of(const char *file, int line_no, const char *v)
{
    for (int e = RECORD_END_OPEN; e <= RECORD_END_STOPPED; e++) {
        if (strcmp(v, record_end_name((enum record_end)e)) == 0) {
            return (enum record_end)e;
        }
    }
    ck_abort_msg("%s:%d: unknown end reason \"%s\"", file, line_no, v);
    return RECORD_END_OPEN;
}

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    struct tstr t = {0};
    char chunk[4096];
    size_t got;
    while ((got = fread(chunk, 1, sizeof(chunk), f)) > 0) {
        tstr_printf(&t, "%.*s", (int)got, chunk);
    }
    fclose(f);
    tstr_cstr(&t);
    return t.p;
}

static void load_script(const char *name, struct script *sc)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", cases_dir(), name);
    char *text = read_all(path);
    memset(sc, 0, sizeof(*sc));
    int line_no = 0;
    char *p = text;
    bool in_expect = false;
    struct tstr want = {0};
    while (*p != '\0') {
        char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        char *line = strndup(p, len);
        ck_assert_ptr_nonnull(line);
        if (len > 0 && line[len - 1] == '\r') {
            line[--len] = '\0';
        }
        line_no++;
        p = nl ? nl + 1 : p + len;
        if (in_expect) {
            tstr_printf(&want, "%s\n", line);
            free(line);
            continue;
        }
        if (strcmp(line, "--- expect") == 0) {
            in_expect = true;
        } else if (len == 0 || line[0] == '#') {
            /* blank or comment */
        } else if (strncmp(line, "C: ", 3) == 0 || strncmp(line, "S: ", 3) == 0) {
            struct step st = {line[0] == 'C' ? STEP_CLIENT : STEP_SERVER, NULL, 0, 0,
                              line[0] == 'C' ? SMTP_DIR_CLIENT : SMTP_DIR_SERVER};
            st.bytes = unescape(name, line_no, line + 3, &st.len);
            script_add(sc, st);
        } else if (strncmp(line, "wait: ", 6) == 0) {
            struct step st = {STEP_WAIT, NULL, 0, strtoll(line + 6, NULL, 10), 0};
            ck_assert_msg(st.us > 0, "%s:%d: wait needs microseconds > 0", name, line_no);
            script_add(sc, st);
        } else if (strncmp(line, "fin: ", 5) == 0) {
            struct step st = {STEP_FIN, NULL, 0, 0, side_of(name, line_no, line + 5)};
            script_add(sc, st);
        } else if (strncmp(line, "rst: ", 5) == 0) {
            struct step st = {STEP_RST, NULL, 0, 0, side_of(name, line_no, line + 5)};
            script_add(sc, st);
        } else if (strncmp(line, "port: ", 6) == 0) {
            sc->opts.server_port = (uint16_t)strtoul(line + 6, NULL, 10);
        } else if (strncmp(line, "end: ", 5) == 0) {
            sc->opts.has_end_reason = true;
            sc->opts.end_reason = end_of(name, line_no, line + 5);
        } else if (strncmp(line, "gap: ", 5) == 0) {
            sc->opts.gap[side_of(name, line_no, line + 5)] = true;
        } else {
            ck_abort_msg("%s:%d: cannot read \"%s\"", name, line_no, line);
        }
        free(line);
    }
    free(text);
    ck_assert_msg(in_expect, "%s: no \"--- expect\" line", name);
    /* Trailing blank lines of the file are not part of the dump. */
    while (want.len >= 2 && want.p[want.len - 1] == '\n' && want.p[want.len - 2] == '\n') {
        want.len--;
    }
    tstr_cstr(&want);
    sc->want = want.p;
}

START_TEST(test_case_file)
{
    const char *name = case_names[_i];
    struct script sc;
    load_script(name, &sc);
    if (getenv("SMTPSCOPE_CASES_PRINT") != NULL) {
        struct split whole = {SPLIT_NONE, 0, 0};
        struct rec_copy *c = conv_run(&sc.opts, sc.steps, sc.n, whole);
        struct tstr d = {0};
        record_dump(&d, &c->r);
        fprintf(stderr, "==== %s\n%s", name, tstr_cstr(&d));
        tstr_free(&d);
        rec_copy_free(c);
    }
    char *fail = conv_check_all_splits(&sc.opts, sc.steps, sc.n, sc.want, NULL);
    ck_assert_msg(fail == NULL, "%s %s", name, fail ? fail : "");
    script_free(&sc);
}
END_TEST

START_TEST(test_cases_found)
{
    ck_assert_msg(n_case_names >= 12, "found %d .case files in %s (run from the repository "
                  "root or set SMTPSCOPE_PARSER_CASES)", n_case_names, cases_dir());
}
END_TEST

Suite *parse_cases_suite(void)
{
    Suite *s = suite_create("parse_cases");
    TCase *tc = tcase_create("cases");
    tcase_set_timeout(tc, 120);
    find_cases();
    tcase_add_test(tc, test_cases_found);
    if (n_case_names > 0) {
        tcase_add_loop_test(tc, test_case_file, 0, n_case_names);
    }
    suite_add_tcase(s, tc);
    return s;
}
