/*
 * i18n.c - message catalogues through GNU gettext (see i18n.h).
 *
 * Role: start-up glue between the environment and glibc's gettext.  It
 * takes only LC_MESSAGES from the environment: LC_NUMERIC would put commas
 * into the decimals of the JSON and LC_CTYPE or LC_TIME could change how
 * wire bytes and timestamps are printed, and none of those may depend on
 * the reader's language.  Catalogues are bound with a UTF-8 codeset, so the
 * text is the same bytes whatever the terminal's locale says, as the HTML
 * report (UTF-8) needs.
 *
 * glibc ignores LANGUAGE while the messages locale is plain "C", and
 * setlocale() fails when the locale the environment names (fr_FR.UTF-8) is
 * not generated on this machine.  Both would silently give English to a
 * reader who asked for another language, so in those cases the messages
 * locale becomes C.UTF-8 (built into glibc since 2.35) and the language
 * wanted goes to LANGUAGE, which gettext then follows.
 *
 * SPDX-License-Identifier: MIT
 */
#include "i18n.h"

#include <libintl.h>
#include <limits.h>
#include <locale.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef LOCALEDIR
#define LOCALEDIR "/usr/local/share/locale"
#endif

/* The languages po/ ships, as catalogue directory names. */
static const char *const shipped[] = {"fr", "tr", "zh_CN"};

static bool is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* True when dir holds a catalogue of ours for lang (a directory name). */
static bool has_catalogue(const char *dir, const char *lang)
{
    char path[PATH_MAX];
    int n = snprintf(path, sizeof(path), "%s/%s/LC_MESSAGES/" I18N_DOMAIN ".mo", dir, lang);
    return n > 0 && (size_t)n < sizeof(path) && is_file(path);
}

static bool has_any_catalogue(const char *dir)
{
    for (size_t i = 0; i < sizeof(shipped) / sizeof(shipped[0]); i++) {
        if (has_catalogue(dir, shipped[i])) {
            return true;
        }
    }
    return false;
}

/*
 * The catalogue directory: the build tree's (build/locale beside ./smtpscope,
 * or ../locale beside build/asan/smtpscope) when this binary runs from one,
 * so that a fresh build speaks every language before `make install`;
 * otherwise the installed LOCALEDIR.
 */
static void find_locale_dir(char *dir, size_t size)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n > 0) {
        exe[n] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash != NULL) {
            *slash = '\0';
            static const char *const beside[] = {"build/locale", "../locale"};
            for (size_t i = 0; i < sizeof(beside) / sizeof(beside[0]); i++) {
                int m = snprintf(dir, size, "%s/%s", exe, beside[i]);
                if (m > 0 && (size_t)m < size && has_any_catalogue(dir)) {
                    return;
                }
            }
        }
    }
    snprintf(dir, size, "%s", LOCALEDIR);
}

static bool is_c_locale(const char *name)
{
    return name == NULL || name[0] == '\0' || strcmp(name, "C") == 0 ||
           strcmp(name, "POSIX") == 0;
}

/* A messages locale that is not "C", so that gettext follows LANGUAGE. */
static void use_utf8_messages_locale(void)
{
    static const char *const names[] = {"C.UTF-8", "C.utf8", "en_US.UTF-8"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (setlocale(LC_MESSAGES, names[i]) != NULL) {
            return;
        }
    }
}

/* The first of LC_ALL, LC_MESSAGES, LANG that is set (POSIX precedence). */
static const char *environment_locale(void)
{
    static const char *const vars[] = {"LC_ALL", "LC_MESSAGES", "LANG"};
    for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
        const char *v = getenv(vars[i]);
        if (v != NULL && v[0] != '\0') {
            return v;
        }
    }
    return NULL;
}

/*
 * "zh", "zh-CN", "zh_cn" -> "zh_CN"; "fr-FR" -> "fr_FR": the spelling of
 * catalogue directories.
 */
static void normalise_lang(const char *in, char *out, size_t size)
{
    size_t i = 0;
    bool region = false;
    for (; in[i] != '\0' && i + 1 < size; i++) {
        char c = in[i];
        if (c == '-' || c == '_') {
            c = '_';
            region = true;
        } else if (c >= 'A' && c <= 'Z' && !region) {
            c = (char)(c - 'A' + 'a');
        } else if (c >= 'a' && c <= 'z' && region) {
            c = (char)(c - 'a' + 'A');
        }
        out[i] = c;
    }
    out[i] = '\0';
    if (strcmp(out, "zh") == 0) {
        snprintf(out, size, "zh_CN");
    }
}

bool i18n_init(const char *lang)
{
    char dir[PATH_MAX];
    find_locale_dir(dir, sizeof(dir));
    bindtextdomain(I18N_DOMAIN, dir);
    bind_textdomain_codeset(I18N_DOMAIN, "UTF-8");
    textdomain(I18N_DOMAIN);
    if (lang != NULL) {
        char want[64];
        normalise_lang(lang, want, sizeof(want));
        setenv("LANGUAGE", want, 1);
        if (is_c_locale(setlocale(LC_MESSAGES, ""))) {
            use_utf8_messages_locale();
        }
        if (strcmp(want, "en") == 0 || strncmp(want, "en_", 3) == 0 || is_c_locale(want)) {
            return true;
        }
        char ll[64];
        snprintf(ll, sizeof(ll), "%s", want);
        ll[strcspn(ll, "_.@")] = '\0';
        return has_catalogue(dir, want) || has_catalogue(dir, ll);
    }
    if (setlocale(LC_MESSAGES, "") == NULL) {
        /* The environment names a locale this machine has not generated:
         * still honour its language for our messages. */
        const char *env = environment_locale();
        if (!is_c_locale(env)) {
            const char *language = getenv("LANGUAGE");
            if (language == NULL || language[0] == '\0') {
                setenv("LANGUAGE", env, 1);
            }
            use_utf8_messages_locale();
        }
    }
    return true;
}

const char *i18n_text(const char *msgid)
{
    if (msgid == NULL || msgid[0] == '\0') {
        return msgid;
    }
    return dgettext(I18N_DOMAIN, msgid);
}

const char *i18n_lang_tag(void)
{
    /* TRANSLATORS: the BCP 47 tag of this catalogue's language ("fr", "tr",
       "zh-CN"), written into the HTML report as <html lang="...">. */
    return _("en");
}

size_t i18n_char_at(const char *p, unsigned *cols, bool *is_wide)
{
    const unsigned char *u = (const unsigned char *)p;
    uint32_t c;
    size_t n;
    if (u[0] < 0x80) {
        c = u[0];
        n = 1;
    } else if ((u[0] & 0xe0) == 0xc0 && (u[1] & 0xc0) == 0x80) {
        c = (uint32_t)(u[0] & 0x1f) << 6 | (u[1] & 0x3f);
        n = 2;
    } else if ((u[0] & 0xf0) == 0xe0 && (u[1] & 0xc0) == 0x80 && (u[2] & 0xc0) == 0x80) {
        c = (uint32_t)(u[0] & 0x0f) << 12 | (uint32_t)(u[1] & 0x3f) << 6 | (u[2] & 0x3f);
        n = 3;
    } else if ((u[0] & 0xf8) == 0xf0 && (u[1] & 0xc0) == 0x80 && (u[2] & 0xc0) == 0x80 &&
               (u[3] & 0xc0) == 0x80) {
        c = (uint32_t)(u[0] & 0x07) << 18 | (uint32_t)(u[1] & 0x3f) << 12 |
            (uint32_t)(u[2] & 0x3f) << 6 | (u[3] & 0x3f);
        n = 4;
    } else {
        c = u[0];
        n = 1;
    }
    bool wide = (c >= 0x1100 && c <= 0x115f) || (c >= 0x2e80 && c <= 0xa4cf) ||
                (c >= 0xac00 && c <= 0xd7a3) || (c >= 0xf900 && c <= 0xfaff) ||
                (c >= 0xfe30 && c <= 0xfe4f) || (c >= 0xff00 && c <= 0xff60) ||
                (c >= 0xffe0 && c <= 0xffe6) || (c >= 0x20000 && c <= 0x3fffd);
    *cols = wide ? 2 : 1;
    *is_wide = wide;
    return n;
}

unsigned i18n_columns(const char *s)
{
    unsigned cols = 0;
    while (*s != '\0') {
        unsigned c;
        bool wide;
        s += i18n_char_at(s, &c, &wide);
        cols += c;
    }
    return cols;
}

bool i18n_closes_wide(const char *p)
{
    static const char *const closing[] = {"，", "。", "、", "：", "；", "！", "？", "）", "」", "』", "》"};
    for (size_t i = 0; i < sizeof(closing) / sizeof(closing[0]); i++) {
        if (strncmp(p, closing[i], strlen(closing[i])) == 0) {
            return true;
        }
    }
    return false;
}

bool i18n_opens_wide(const char *p)
{
    static const char *const opening[] = {"（", "「", "『", "《"};
    for (size_t i = 0; i < sizeof(opening) / sizeof(opening[0]); i++) {
        if (strncmp(p, opening[i], strlen(opening[i])) == 0) {
            return true;
        }
    }
    return false;
}

bool i18n_may_break_between(const char *prev, const char *p)
{
    unsigned c;
    bool prev_wide, wide;
    i18n_char_at(prev, &c, &prev_wide);
    i18n_char_at(p, &c, &wide);
    return (prev_wide || wide) && *prev != ' ' && *p != ' ' && *p != '\0' &&
           !i18n_closes_wide(p) && !i18n_opens_wide(prev);
}

size_t i18n_first_sentence(const char *text)
{
    const char *end = strstr(text, ". ");
    const char *ideo = strstr(text, "。");
    if (ideo != NULL && (end == NULL || ideo < end)) {
        return (size_t)(ideo - text) + strlen("。");
    }
    return end != NULL ? (size_t)(end - text) + 1 : strlen(text);
}

/* Arguments the --lang option at argv[i] takes: 2, 1 (--lang=X), or 0. */
static int lang_option_len(int argc, char **argv, int i)
{
    if (strcmp(argv[i], "--lang") == 0) {
        return i + 1 < argc ? 2 : 1;
    }
    return strncmp(argv[i], "--lang=", 7) == 0 ? 1 : 0;
}

const char *i18n_find_lang_option(int argc, char **argv)
{
    const char *lang = NULL;
    for (int i = 1; i < argc && strcmp(argv[i], "--") != 0;) {
        int n = lang_option_len(argc, argv, i);
        if (n == 2) {
            lang = argv[i + 1];
        } else if (n == 1) {
            lang = argv[i][6] == '=' ? argv[i] + 7 : "";
        }
        i += n > 0 ? n : 1;
    }
    return lang;
}

int i18n_skip_lang_options(int argc, char **argv, int i)
{
    while (i < argc) {
        int n = lang_option_len(argc, argv, i);
        if (n == 0) {
            break;
        }
        i += n;
    }
    return i < argc ? i : argc;
}
