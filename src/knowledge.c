/*
 * knowledge.c - the reply-code tables and their plain-text explanations.
 *
 * Role: reference data for `smtpscope explain` and the HTML report (see
 * knowledge.h).  Facts from RFC 5321 4.2 (reply codes and their classes),
 * RFC 3463 (enhanced status codes), RFC 2034 (how enhanced codes appear in
 * replies), RFC 3207, RFC 4954 and RFC 7504; the wording is ours.  Pure
 * apart from appending to a caller's capbuf: no I/O, no wire bytes.
 *
 * SPDX-License-Identifier: MIT
 */
#include "knowledge.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "escape.h"

static const struct knowledge_code code_table[] = {
#define XX(code, name, meaning, when, check, rfc, enh) {code, name, meaning, when, check, rfc, enh},
    KNOWLEDGE_CODE_MAP(XX)
#undef XX
};

static const struct knowledge_enhanced enhanced_table[] = {
#define XX(subject, detail, name, meaning, rfc) {subject, detail, name, meaning, rfc},
    KNOWLEDGE_ENHANCED_MAP(XX)
#undef XX
};

#define N_ITEMS(t) (sizeof(t) / sizeof((t)[0]))

/*
 * How neighbouring codes differ, in the cases readers confuse most.  The
 * smaller code comes first; knowledge_pair_note() accepts either order.
 */
#define KNOWLEDGE_PAIR_MAP(XX)                                                 \
    XX(220, 221,                                                               \
       N_("220 opens the conversation (or starts TLS); 221 ends it. A session " \
       "normally has exactly one of each: 220 first, 221 last, after QUIT."))  \
    XX(221, 250,                                                               \
       N_("Both are success replies, but 250 means 'done, go on' and keeps the " \
       "session open, while 221 means 'goodbye': the server closes the "       \
       "connection after it. Only the 250 after the message data means a "     \
       "message was accepted; a 221 alone proves nothing was delivered."))     \
    XX(221, 421,                                                               \
       N_("Both announce that the server closes the connection. 221 is the "   \
       "polite answer to the client's QUIT; 421 is the server closing on its " \
       "own for a temporary reason, telling the client to retry later. A "     \
       "server that closes unasked should send 421, not 221."))                \
    XX(221, 500,                                                               \
       N_("221 is a success reply that ends the session on request; 500 is a " \
       "permanent error for one command line the server could not parse, and " \
       "the session goes on. After 221 nothing more is read; after 500 the "   \
       "client may send a corrected command."))                                \
    XX(250, 251,                                                               \
       N_("Both accept the recipient; 251 adds that the user is not local and " \
       "the server will forward the message. Delivery goes ahead either way.")) \
    XX(250, 354,                                                               \
       N_("250 completes a command; 354 is only an intermediate step after DATA: " \
       "it asks for the message, and the real verdict on the message is the "  \
       "reply after the final dot."))                                          \
    XX(421, 554,                                                               \
       N_("Both can refuse a session at the greeting. 421 is temporary (try "  \
       "again later: overload, rate limit); 554 is permanent (this client is " \
       "not welcome: blocklist, policy)."))                                    \
    XX(450, 550,                                                               \
       N_("Same situation (the mailbox cannot be used), different permanence: " \
       "450 says try again later (busy, greylisted), 550 says do not retry "   \
       "(no such user, or refused by policy)."))                               \
    XX(451, 554,                                                               \
       N_("451 is a temporary failure on the server's side (its error, retry " \
       "later); 554 is a permanent refusal of the transaction (do not retry "  \
       "unchanged)."))                                                         \
    XX(452, 552,                                                               \
       N_("Both concern size or storage. 452 is temporary (server short of "   \
       "space now, or too many recipients in this transaction); 552 is "       \
       "permanent (this message is too big, or the mailbox is over quota)."))  \
    XX(500, 501,                                                               \
       N_("500 means the command itself was not understood; 501 means the "    \
       "command was understood but its argument was wrong."))                  \
    XX(502, 504,                                                               \
       N_("502 means the whole command is not supported; 504 means the command " \
       "is supported but the parameter given (for example the AUTH "           \
       "mechanism) is not."))                                                  \
    XX(503, 554,                                                               \
       N_("503 says the client sent a command at the wrong point of the "      \
       "conversation (usually after an earlier failure); 554 is the server "   \
       "refusing the transaction on its merits."))                             \
    XX(530, 535,                                                               \
       N_("530 means the client must authenticate before doing this; 535 means " \
       "it tried and its credentials were rejected."))                         \
    XX(550, 553,                                                               \
       N_("550 refuses because of the mailbox (unknown, or refused by policy); " \
       "553 refuses because of the address as written (bad syntax, or a "      \
       "sender this client may not use)."))                                    \
    XX(550, 554,                                                               \
       N_("Both are permanent refusals. 550 is usually about one recipient or " \
       "the sender; 554 is about the whole transaction or the session "        \
       "(content rejected, or no service for this client)."))

struct pair_note {
    uint16_t a;
    uint16_t b;
    const char *note;
};

static const struct pair_note pair_table[] = {
#define XX(a, b, note) {a, b, note},
    KNOWLEDGE_PAIR_MAP(XX)
#undef XX
};

/* RFC 5321 4.2.1: the first digit gives the class of the reply. */
static const char *const class_names[6] = {
    NULL,
    NULL,
    N_("2xx positive completion: the request succeeded"),
    N_("3xx positive intermediate: accepted so far, the server waits for more"),
    N_("4xx transient negative: failed this time, may work if retried later"),
    N_("5xx permanent negative: failed, and will fail again if repeated unchanged"),
};

static const char *const class_advice[6] = {
    NULL,
    NULL,
    N_("Nothing to fix; the conversation goes on."),
    N_("Send what the server asks for next (message data, or the next AUTH step)."),
    N_("Retry later: the client should keep the message queued."),
    N_("Do not retry unchanged: fix the address, credentials, content or policy first."),
};

/* RFC 3463 3.1: the class digit of an enhanced code. */
static const char *const enhanced_class_names[6] = {
    NULL,
    NULL,
    N_("2 success: the action was carried out"),
    NULL,
    N_("4 persistent transient failure: the message is valid, a temporary "
    "condition stopped it; sending again later may work"),
    N_("5 permanent failure: sending the same message again will not work "
    "without a change"),
};

const char *knowledge_class_name(unsigned code)
{
    unsigned c = code >= 100 ? code / 100 : code;
    return c < 6 && class_names[c] != NULL ? _(class_names[c]) : NULL;
}

const char *knowledge_class_advice(unsigned code)
{
    unsigned c = code >= 100 ? code / 100 : code;
    return c < 6 && class_advice[c] != NULL ? _(class_advice[c]) : NULL;
}

const char *knowledge_enhanced_class_name(unsigned klass)
{
    return klass < 6 && enhanced_class_names[klass] != NULL ? _(enhanced_class_names[klass])
                                                            : NULL;
}

const struct knowledge_code *knowledge_code_lookup(unsigned code)
{
    for (size_t i = 0; i < N_ITEMS(code_table); i++) {
        if (code_table[i].code == code) {
            return &code_table[i];
        }
    }
    return NULL;
}

const struct knowledge_enhanced *knowledge_enhanced_lookup(int subject, int detail)
{
    for (size_t i = 0; i < N_ITEMS(enhanced_table); i++) {
        if (enhanced_table[i].subject == subject && enhanced_table[i].detail == detail) {
            return &enhanced_table[i];
        }
    }
    return NULL;
}

size_t knowledge_n_codes(void)
{
    return N_ITEMS(code_table);
}

const struct knowledge_code *knowledge_code_at(size_t i)
{
    return i < N_ITEMS(code_table) ? &code_table[i] : NULL;
}

size_t knowledge_n_enhanced(void)
{
    return N_ITEMS(enhanced_table);
}

const struct knowledge_enhanced *knowledge_enhanced_at(size_t i)
{
    return i < N_ITEMS(enhanced_table) ? &enhanced_table[i] : NULL;
}

const char *knowledge_pair_note(unsigned a, unsigned b)
{
    for (size_t i = 0; i < N_ITEMS(pair_table); i++) {
        const struct pair_note *p = &pair_table[i];
        if ((p->a == a && p->b == b) || (p->a == b && p->b == a)) {
            return _(p->note);
        }
    }
    return NULL;
}

int knowledge_parse_code_list(const char *list, struct knowledge_code_ref *out, size_t max)
{
    size_t n = 0;
    const char *p = list;
    while (*p != '\0') {
        const char *end = strchr(p, ',');
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
        if (len != 3 || p[0] < '1' || p[0] > '5' || n == max) {
            return -1;
        }
        if (p[1] == 'x' && p[2] == 'x') {
            out[n].code = (uint16_t)((p[0] - '0') * 100);
            out[n].is_class = true;
        } else if (isdigit((unsigned char)p[1]) && isdigit((unsigned char)p[2])) {
            out[n].code = (uint16_t)((p[0] - '0') * 100 + (p[1] - '0') * 10 + (p[2] - '0'));
            out[n].is_class = false;
        } else {
            return -1;
        }
        n++;
        p += len;
        if (*p == ',') {
            p++;
            if (*p == '\0') {
                return -1;
            }
        }
    }
    return (int)n;
}

/* Reads 1-3 decimal digits at *p; advances *p. */
static bool read_number(const char **p, unsigned *out)
{
    unsigned v = 0;
    int n = 0;
    while (isdigit((unsigned char)**p) && n < 3) {
        v = v * 10 + (unsigned)(**p - '0');
        (*p)++;
        n++;
    }
    *out = v;
    return n > 0 && !isdigit((unsigned char)**p);
}

bool knowledge_parse_enhanced(const char *s, unsigned *klass, unsigned *subject,
                              unsigned *detail)
{
    /* RFC 3463 2: class "." subject "." detail; class is one digit. */
    if (!isdigit((unsigned char)s[0]) || s[1] != '.') {
        return false;
    }
    *klass = (unsigned)(s[0] - '0');
    const char *p = s + 2;
    if (!read_number(&p, subject) || *p != '.') {
        return false;
    }
    p++;
    return read_number(&p, detail) && *p == '\0';
}

/*
 * The next unit that may not be broken at p: a run of narrow characters up
 * to a space or a wide character, or one wide character; either takes the
 * closing wide punctuation right after it, and opening wide punctuation
 * takes the unit after it.  Sets its display columns.
 */
static size_t next_unit(const char *p, unsigned *cols)
{
    size_t len = 0;
    unsigned w = 0;
    unsigned c;
    bool wide;
    size_t n = i18n_char_at(p, &c, &wide);
    if (wide && i18n_opens_wide(p) && p[n] != '\0' && p[n] != ' ') {
        unsigned rest;
        len = n + next_unit(p + n, &rest);
        *cols = c + rest;
        return len;
    }
    if (wide) {
        len = n;
        w = c;
    } else {
        while (p[len] != '\0' && p[len] != ' ') {
            n = i18n_char_at(p + len, &c, &wide);
            if (wide) {
                break;
            }
            len += n;
            w += c;
        }
    }
    while (p[len] != '\0' && i18n_closes_wide(p + len)) {
        n = i18n_char_at(p + len, &c, &wide);
        len += n;
        w += c;
    }
    *cols = w;
    return len;
}

bool knowledge_wrap(struct capbuf *out, const char *text, unsigned indent, unsigned width)
{
    static const char spaces[] = "                                        ";
    unsigned pad = indent < sizeof(spaces) - 1 ? indent : (unsigned)sizeof(spaces) - 1;
    bool ok = capbuf_append(out, spaces, pad);
    unsigned col = pad;
    const char *p = text;
    while (ok && *p != '\0') {
        bool spaced = false;
        while (*p == ' ') {
            p++;
            spaced = true;
        }
        unsigned cols;
        size_t unit = next_unit(p, &cols);
        if (unit == 0) {
            break;
        }
        /* Words are joined by their space; wide characters (Chinese has
         * no spaces) join directly and may break between any two. */
        unsigned gap = spaced ? 1 : 0;
        if (col > pad && col + gap + cols > width) {
            ok = capbuf_append(out, "\n", 1) && capbuf_append(out, spaces, pad);
            col = pad;
        } else if (col > pad && gap > 0) {
            ok = capbuf_append(out, " ", 1);
            col++;
        }
        ok = ok && capbuf_append(out, p, unit);
        col += cols;
        p += unit;
    }
    return ok && capbuf_append(out, "\n", 1);
}

#define WIDTH 78

/* "  Label: text" with the text wrapped under the label's indent. */
static bool put_field(struct capbuf *out, const char *label, const char *text)
{
    return out_str(out, "  ") && out_str(out, label) && out_str(out, "\n") &&
           knowledge_wrap(out, text, 4, WIDTH);
}

bool knowledge_explain_code(struct capbuf *out, unsigned code)
{
    const struct knowledge_code *k = knowledge_code_lookup(code);
    const char *klass = knowledge_class_name(code);
    if (k == NULL) {
        out_fmt(out, "%u  ", code);
        out_str(out, _("(not a reply code defined by RFC 5321 or its extensions)"));
        out_str(out, "\n");
        if (klass != NULL && code >= 200 && code <= 599) {
            put_field(out, _("Class:"), klass);
            put_field(out, _("What to do:"), knowledge_class_advice(code));
        }
        return false;
    }
    bool ok = out_fmt(out, "%u  ", code) && out_str(out, _(k->name)) && out_str(out, "\n");
    ok = ok && put_field(out, _("Class:"), klass);
    ok = ok && put_field(out, _("Meaning:"), _(k->meaning));
    ok = ok && put_field(out, _("When you see it:"), _(k->when));
    ok = ok && put_field(out, _("What to check:"), _(k->check));
    ok = ok && put_field(out, _("Enhanced codes often sent with it:"), _(k->enhanced));
    ok = ok && put_field(out, _("Defined in:"), k->rfc);
    return ok;
}

bool knowledge_explain_enhanced(struct capbuf *out, unsigned klass, unsigned subject,
                                unsigned detail)
{
    bool any_class = klass == KNOWLEDGE_CLASS_ANY;
    const char *cn = any_class ? _("X: the class digit is not given (2 success, 4 temporary, "
                                   "5 permanent failure)")
                               : knowledge_enhanced_class_name(klass);
    const struct knowledge_enhanced *s = knowledge_enhanced_lookup((int)subject, -1);
    const struct knowledge_enhanced *d = knowledge_enhanced_lookup((int)subject, (int)detail);
    bool known = cn != NULL && s != NULL && d != NULL;
    bool ok;
    char code[16];
    if (any_class) {
        snprintf(code, sizeof(code), "X.%u.%u", subject, detail);
    } else {
        snprintf(code, sizeof(code), "%u.%u.%u", klass, subject, detail);
    }
    ok = out_str(out, code) && out_str(out, "  ");
    ok = ok && out_str(out, known ? _(d->name) : _("(not a registered enhanced status code)"));
    ok = ok && out_str(out, "\n");
    /* Translated text is up to three bytes a character (UTF-8). */
    char line[1024];
    if (cn != NULL) {
        ok = ok && put_field(out, _("Class:"), cn);
    } else {
        ok = ok && put_field(out, _("Class:"), _("unknown: RFC 3463 defines only 2, 4 and 5"));
    }
    if (s != NULL) {
        snprintf(line, sizeof(line), "X.%u.X %s: %s", subject, _(s->name), _(s->meaning));
        ok = ok && put_field(out, _("Subject:"), line);
    } else {
        ok = ok && put_field(out, _("Subject:"), _("unknown: RFC 3463 defines subjects 0 to 7"));
    }
    if (d != NULL) {
        snprintf(line, sizeof(line), "X.%u.%u %s", subject, detail, _(d->meaning));
        ok = ok && put_field(out, _("Detail:"), line);
        ok = ok && put_field(out, _("Defined in:"), d->rfc);
    } else if (s != NULL) {
        ok = ok && put_field(out, _("Detail:"), _("not registered for this subject"));
    }
    /* Basic codes whose usual enhanced codes include this one (with any
     * class digit when none was given). */
    char usual[256] = "";
    for (size_t i = 0; i < N_ITEMS(code_table); i++) {
        const char *e = code_table[i].enhanced;
        bool found = false;
        for (unsigned k = 2; k <= 5 && !found; k++) {
            if (!any_class && k != klass) {
                continue;
            }
            char enh[16];
            snprintf(enh, sizeof(enh), "%u.%u.%u", k, subject, detail);
            size_t el = strlen(enh);
            for (const char *hit = strstr(e, enh); hit != NULL && !found;
                 hit = strstr(hit + 1, enh)) {
                bool starts = hit == e || hit[-1] == ' ';
                bool ends = hit[el] == '\0' || hit[el] == ',';
                found = starts && ends;
            }
        }
        if (found) {
            char c[8];
            snprintf(c, sizeof(c), "%s%u", usual[0] != '\0' ? ", " : "", code_table[i].code);
            strncat(usual, c, sizeof(usual) - strlen(usual) - 1);
        }
    }
    if (usual[0] != '\0') {
        ok = ok && put_field(out, _("Usually sent with:"), usual);
    }
    return ok && known;
}
