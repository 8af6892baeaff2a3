/*
 * explain.c - `smtpscope explain CODE|ENHANCED|LABEL ...` (see explain.h).
 *
 * Role: prints the knowledge base (knowledge.h) and the verdict table
 * (verdict.h) for a reader at a terminal.  Output text is ours; command
 * line arguments are printed only once recognised, and otherwise through
 * escape_terminal().  No capture is read.
 *
 * SPDX-License-Identifier: MIT
 */
#include "explain.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "escape.h"
#include "i18n.h"
#include "knowledge.h"
#include "verdict.h"

#define EXPLAIN_MAX_CODES 16
/* Distinct arguments remembered for dropping repeats; beyond, none is dropped. */
#define EXPLAIN_MAX_ARGS 64
#define EXPLAIN_OUT_MAX ((size_t)1 << 20)
#define WIDTH 78

static void usage(FILE *f)
{
    fputs(_("Usage: smtpscope explain CODE [CODE...]\n"
               "Explains SMTP reply codes in plain words: what each means, when it is\n"
               "seen and what to check.  CODE may be a reply code (221), a reply\n"
               "class (5xx), an enhanced status code (5.7.1, or X.7.1 for any class),\n"
               "or a close label or flag name (normal_quit), in any case.  Repeats are\n"
               "explained once.  With two or more reply codes, their key differences\n"
               "follow.  Unknown codes and names are reported on standard error.\n"),
          f);
}

/* "    prefix text" with continuation lines under the text. */
static void wrap_hanging(struct capbuf *out, const char *prefix, const char *text, size_t n)
{
    char buf[1024];
    size_t len = n < sizeof(buf) - 1 ? n : sizeof(buf) - 1;
    memcpy(buf, text, len);
    buf[len] = '\0';
    unsigned hang = 4 + (unsigned)strlen(prefix);
    struct capbuf tmp;
    capbuf_init(&tmp, 8192);
    knowledge_wrap(&tmp, buf, hang, WIDTH);
    if (tmp.len >= hang) {
        out_str(out, "    ");
        out_str(out, prefix);
        capbuf_append(out, tmp.data + hang, tmp.len - hang);
    }
    capbuf_free(&tmp);
}

/* "  Heading:" on its own line, translated. */
static void heading(struct capbuf *out, const char *text)
{
    out_str(out, "  ");
    out_str(out, text);
    out_str(out, "\n");
}

/* A class line less its leading "5xx " (translations keep that prefix). */
static const char *class_text(const char *c)
{
    bool prefixed = c[0] >= '2' && c[0] <= '5' && c[1] == 'x' && c[2] == 'x' && c[3] == ' ';
    return prefixed ? c + 4 : c;
}

static bool is_basic_code(const char *s)
{
    return strlen(s) == 3 && isdigit((unsigned char)s[0]) && isdigit((unsigned char)s[1]) &&
           isdigit((unsigned char)s[2]);
}

static const struct verdict_info *find_verdict(const char *name, bool *is_label)
{
    for (int l = 0; l < VERDICT_LABEL_COUNT; l++) {
        const struct verdict_info *v = verdict_label_info((enum verdict_label)l);
        if (strcmp(v->name, name) == 0) {
            *is_label = true;
            return v;
        }
    }
    for (int f = 0; f < VERDICT_FLAG_COUNT; f++) {
        const struct verdict_info *v = verdict_flag_info((enum verdict_flag)f);
        if (strcmp(v->name, name) == 0) {
            *is_label = false;
            return v;
        }
    }
    return NULL;
}

static void explain_verdict(struct capbuf *out, const struct verdict_info *v, bool is_label)
{
    /* The name and severity are identifiers (as in JSON): not translated. */
    out_fmt(out, is_label ? _("%s  (close label, severity %s)\n") : _("%s  (flag, severity %s)\n"),
            v->name, v->severity);
    heading(out, _("Meaning:"));
    knowledge_wrap(out, _(v->explanation), 4, WIDTH);
    heading(out, _("What to check:"));
    knowledge_wrap(out, _(v->check), 4, WIDTH);
    struct knowledge_code_ref refs[EXPLAIN_MAX_CODES];
    int n = knowledge_parse_code_list(v->codes, refs, EXPLAIN_MAX_CODES);
    heading(out, _("Codes involved:"));
    if (n <= 0) {
        knowledge_wrap(out, _("none: this is about the TCP connection or the capture, not a reply."),
                       4, WIDTH);
        return;
    }
    for (int i = 0; i < n; i++) {
        char prefix[16];
        if (refs[i].is_class) {
            snprintf(prefix, sizeof(prefix), "%cxx  ", '0' + refs[i].code / 100);
            /* "5xx permanent negative: ..." less its own "5xx ". */
            const char *c = class_text(knowledge_class_name(refs[i].code));
            wrap_hanging(out, prefix, c, strlen(c));
            continue;
        }
        snprintf(prefix, sizeof(prefix), "%u  ", refs[i].code);
        const struct knowledge_code *k = knowledge_code_lookup(refs[i].code);
        char sentence[768] = "";
        if (k != NULL) {
            const char *meaning = _(k->meaning);
            snprintf(sentence, sizeof(sentence), "%.*s", (int)i18n_first_sentence(meaning), meaning);
        }
        char line[1024];
        /* TRANSLATORS: a reply code's name, then the first sentence of its meaning. */
        snprintf(line, sizeof(line), _("%s. %s"), k != NULL ? _(k->name) : _("(unknown code)"),
                 sentence);
        wrap_hanging(out, prefix, line, strlen(line));
    }
    heading(out, _("(smtpscope explain CODE gives each code in full.)"));
}

/* The class line of one code, short form ("2xx positive completion"). */
static size_t class_short_len(const char *c)
{
    const char *colon = strchr(c, ':');
    const char *wide = strstr(c, "：");
    if (wide != NULL && (colon == NULL || wide < colon)) {
        colon = wide;
    }
    size_t n = colon != NULL ? (size_t)(colon - c) : strlen(c);
    /* French sets its colon off with a no-break space (U+00A0). */
    for (;;) {
        if (n >= 1 && c[n - 1] == ' ') {
            n--;
        } else if (n >= 2 && (unsigned char)c[n - 2] == 0xc2 && (unsigned char)c[n - 1] == 0xa0) {
            n -= 2;
        } else {
            return n;
        }
    }
}

static void key_differences(struct capbuf *out, const unsigned *codes, size_t n)
{
    out_str(out, _("Key differences"));
    out_str(out, "\n");
    bool same_class = true;
    for (size_t i = 1; i < n; i++) {
        same_class = same_class && codes[i] / 100 == codes[0] / 100;
    }
    heading(out, _("Class:"));
    for (size_t i = 0; i < n; i++) {
        char prefix[16];
        snprintf(prefix, sizeof(prefix), "%u  ", codes[i]);
        const char *c = knowledge_class_name(codes[i]);
        if (c == NULL) {
            c = _("no defined class");
        }
        wrap_hanging(out, prefix, c, strlen(c));
    }
    if (same_class && knowledge_class_name(codes[0]) != NULL) {
        const char *c = knowledge_class_name(codes[0]);
        char short_class[256];
        snprintf(short_class, sizeof(short_class), "%.*s", (int)class_short_len(c), c);
        char line[1024];
        snprintf(line, sizeof(line),
                 _("Same class (%s): the difference is in what each one answers, below."),
                 short_class);
        knowledge_wrap(out, line, 4, WIDTH);
    } else {
        knowledge_wrap(out, _("Different classes: they call for different responses, "
                              "whatever the text says."), 4, WIDTH);
    }
    heading(out, _("When each appears:"));
    for (size_t i = 0; i < n; i++) {
        const struct knowledge_code *k = knowledge_code_lookup(codes[i]);
        char prefix[16];
        snprintf(prefix, sizeof(prefix), "%u  ", codes[i]);
        const char *t = k != NULL ? _(k->when) : _("not a defined reply code");
        wrap_hanging(out, prefix, t, i18n_first_sentence(t));
    }
    heading(out, _("What to do:"));
    for (size_t i = 0; i < n; i++) {
        const struct knowledge_code *k = knowledge_code_lookup(codes[i]);
        char prefix[16];
        snprintf(prefix, sizeof(prefix), "%u  ", codes[i]);
        const char *t = k != NULL ? _(k->check) : knowledge_class_advice(codes[i]);
        if (t == NULL) {
            t = _("nothing is defined for it");
        }
        wrap_hanging(out, prefix, t, i18n_first_sentence(t));
    }
    for (size_t i = 0; i < n; i++) {
        for (size_t j = i + 1; j < n; j++) {
            const char *note = knowledge_pair_note(codes[i], codes[j]);
            if (note != NULL) {
                out_str(out, "  ");
                out_fmt(out, _("%u vs %u:"), codes[i], codes[j]);
                out_str(out, "\n");
                knowledge_wrap(out, note, 4, WIDTH);
            }
        }
    }
}

/* Longest argument worth recognising ("server_221_mid_transaction" is 26). */
#define EXPLAIN_ARG_MAX 48

/*
 * Lower-cases a into buf and checks it is short and printable ASCII;
 * returns false otherwise (it cannot name anything we know).
 */
static bool normalise_arg(const char *a, char *buf, size_t size)
{
    size_t n = strlen(a);
    if (n == 0 || n >= size) {
        return false;
    }
    for (size_t i = 0; i <= n; i++) {
        unsigned char c = (unsigned char)a[i];
        if (c != '\0' && (c < 0x21 || c > 0x7e)) {
            return false;
        }
        buf[i] = (char)tolower(c);
    }
    return true;
}

/* "5xx": a reply class. */
static bool is_class_code(const char *s)
{
    return strlen(s) == 3 && s[0] >= '2' && s[0] <= '5' && s[1] == 'x' && s[2] == 'x';
}

/* One reply class: what it means, what to do, the codes it holds. */
static void explain_class(struct capbuf *out, unsigned klass)
{
    out_fmt(out, "%uxx  ", klass);
    out_str(out, _("(reply class)"));
    out_str(out, "\n");
    heading(out, _("Class:"));
    knowledge_wrap(out, knowledge_class_name(klass), 4, WIDTH);
    heading(out, _("What to do:"));
    knowledge_wrap(out, knowledge_class_advice(klass), 4, WIDTH);
    heading(out, _("Codes in this class:"));
    for (size_t i = 0; i < knowledge_n_codes(); i++) {
        const struct knowledge_code *k = knowledge_code_at(i);
        if (k->code / 100 != klass) {
            continue;
        }
        char prefix[16];
        snprintf(prefix, sizeof(prefix), "%u  ", k->code);
        const char *name = _(k->name);
        wrap_hanging(out, prefix, name, strlen(name));
    }
    heading(out, _("(smtpscope explain CODE gives each code in full.)"));
}

/*
 * Moves what out gained since from into err: an argument that names
 * nothing known is an error, so its text belongs on stderr.
 */
static void move_to(struct capbuf *err, struct capbuf *out, size_t from)
{
    capbuf_append(err, out->data + from, out->len - from);
    out->len = from;
}

/* The canonical spelling of an argument, for dropping repeats. */
static bool seen_before(char (*seen)[EXPLAIN_ARG_MAX], size_t *n_seen, const char *key)
{
    for (size_t i = 0; i < *n_seen; i++) {
        if (strcmp(seen[i], key) == 0) {
            return true;
        }
    }
    if (*n_seen < EXPLAIN_MAX_ARGS) {
        snprintf(seen[(*n_seen)++], EXPLAIN_ARG_MAX, "%s", key);
    }
    return false;
}

int explain_main(int argc, char **argv)
{
    /* --lang was read by main(); the arguments are what follows it. */
    int first = i18n_skip_lang_options(argc, argv, 1);
    if (first >= argc) {
        usage(stderr);
        return 1;
    }
    if (strcmp(argv[first], "-h") == 0 || strcmp(argv[first], "--help") == 0) {
        usage(stdout);
        return 0;
    }
    struct capbuf out;
    struct capbuf err;
    capbuf_init(&out, EXPLAIN_OUT_MAX);
    capbuf_init(&err, EXPLAIN_OUT_MAX);
    unsigned codes[EXPLAIN_MAX_CODES];
    size_t n_codes = 0;
    static char seen[EXPLAIN_MAX_ARGS][EXPLAIN_ARG_MAX];
    size_t n_seen = 0;
    int status = 0;
    for (int i = i18n_skip_lang_options(argc, argv, 1); i < argc;
         i = i18n_skip_lang_options(argc, argv, i + 1)) {
        char a[EXPLAIN_ARG_MAX];
        char key[EXPLAIN_ARG_MAX];
        unsigned klass;
        unsigned subject;
        unsigned detail;
        bool is_label;
        const struct verdict_info *v = NULL;
        bool valid = normalise_arg(argv[i], a, sizeof(a));
        /* "X.7.1" (any class) reads as class KNOWLEDGE_CLASS_ANY. */
        bool any_class = valid && a[0] == 'x' && a[1] == '.';
        if (any_class) {
            a[0] = '0';
        }
        bool is_enhanced = valid && knowledge_parse_enhanced(a, &klass, &subject, &detail);
        if (is_enhanced) {
            if (any_class) {
                klass = KNOWLEDGE_CLASS_ANY;
                snprintf(key, sizeof(key), "x.%u.%u", subject, detail);
            } else {
                snprintf(key, sizeof(key), "%u.%u.%u", klass, subject, detail);
            }
        } else {
            if (any_class) {
                a[0] = 'x';
            }
            snprintf(key, sizeof(key), "%s", valid ? a : "");
        }
        if (valid && seen_before(seen, &n_seen, key)) {
            continue;
        }
        size_t mark = out.len;
        if (out.len > 0) {
            out_str(&out, "\n");
        }
        size_t body = out.len;
        if (valid && is_basic_code(a)) {
            unsigned code = (unsigned)((a[0] - '0') * 100 + (a[1] - '0') * 10 + (a[2] - '0'));
            if (!knowledge_explain_code(&out, code)) {
                move_to(&err, &out, body);
                out.len = mark;
                status = 1;
                continue;
            }
            if (n_codes < EXPLAIN_MAX_CODES) {
                codes[n_codes++] = code;
            }
        } else if (valid && is_class_code(a)) {
            explain_class(&out, (unsigned)(a[0] - '0'));
        } else if (is_enhanced) {
            if (!knowledge_explain_enhanced(&out, klass, subject, detail)) {
                move_to(&err, &out, body);
                out.len = mark;
                status = 1;
            }
        } else if (valid && (v = find_verdict(a, &is_label)) != NULL) {
            explain_verdict(&out, v, is_label);
        } else {
            out.len = mark;
            out_str(&err, "smtpscope explain: ");
            out_str(&err, _("unknown code or name:"));
            out_str(&err, " ");
            escape_terminal(&err, span_make(argv[i], strlen(argv[i])), 64);
            out_str(&err, " ");
            out_str(&err, _("(give a reply code like 221, a class like 5xx, an enhanced "
                            "code like 5.7.1 or X.7.1, or a close label or flag name)"));
            out_str(&err, "\n");
            status = 1;
        }
    }
    if (n_codes >= 2) {
        out_str(&out, "\n");
        key_differences(&out, codes, n_codes);
    }
    /* Errors first: a reader scrolling back finds the output last. */
    if (err.len > 0) {
        fwrite(err.data, 1, err.len, stderr);
    }
    if (out.len > 0 && fwrite(out.data, 1, out.len, stdout) != out.len) {
        status = 1;
    }
    capbuf_free(&out);
    capbuf_free(&err);
    if (fflush(stdout) != 0) {
        status = 1;
    }
    return status;
}
