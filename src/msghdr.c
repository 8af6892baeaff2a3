/*
 * msghdr.c - a message's header block, copied as content passes, then
 * read for five fields, encoded words decoded by GMime (msghdr.h).
 *
 * The copy is the only part on the packet path, so it is kept cheap:
 * whole lines are found with memchr and copied at once, and once the
 * blank line has come (or MSGHDR_CAPTURE_MAX bytes) the capture takes
 * nothing more.  The buffer grows from 1 KiB as the block needs, so a
 * session in DATA holds what its headers take, not the maximum.  Reading
 * (the five fields found and unfolded here, encoded words decoded by
 * GMime) runs once per message, after its content.
 *
 * RFC 5322 2.1 and 2.2 (header block, folding), RFC 2047 (encoded words),
 * RFC 5321 4.5.2 (dot-stuffing).
 *
 * SPDX-License-Identifier: MIT
 */
#include "msghdr.h"

#include <gmime/gmime.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "smtp_limits.h"

#define CAPTURE_FIRST 1024

enum capture_state {
    AT_LINE_START = 0, /* the start of content, or after LF */
    AT_LINE_START_UNSTUFFED, /* a line start whose stuffing "." was taken off */
    CR_AT_LINE_START,  /* CR at a line start: a blank line if LF follows */
    IN_LINE,
};

/* The struct and the first CAPTURE_FIRST bytes of its copy are one
 * object (the session module takes it from a pool: no malloc a message);
 * a longer block moves to a buffer of its own. */
struct msghdr_capture {
    uint8_t *buf; /* first, or a grown buffer */
    uint32_t len;
    uint32_t cap;
    uint8_t state; /* enum capture_state */
    bool done;
    uint8_t first[CAPTURE_FIRST];
};

size_t msghdr_capture_size(void)
{
    return sizeof(struct msghdr_capture);
}

void msghdr_capture_init(struct msghdr_capture *c)
{
    c->buf = c->first;
    c->len = 0;
    c->cap = CAPTURE_FIRST;
    c->state = AT_LINE_START;
    c->done = false;
}

void msghdr_capture_release(struct msghdr_capture *c)
{
    if (c->buf != c->first) {
        free(c->buf);
    }
    c->buf = c->first;
}

struct msghdr_capture *msghdr_capture_new(void)
{
    struct msghdr_capture *c = malloc(sizeof(*c));
    if (c != NULL) {
        msghdr_capture_init(c);
    }
    return c;
}

void msghdr_capture_free(struct msghdr_capture *c)
{
    if (c != NULL) {
        msghdr_capture_release(c);
        free(c);
    }
}

bool msghdr_capture_done(const struct msghdr_capture *c)
{
    return c->done;
}

/* Copies what fits under the maximum; full (or out of memory): done. */
static void append(struct msghdr_capture *c, const uint8_t *p, size_t n)
{
    size_t room = MSGHDR_CAPTURE_MAX - c->len;
    if (n == 0 || c->done) {
        return; /* done: full, or memory failed (later bytes would leave a gap) */
    }
    if (n > room) {
        n = room;
        c->done = true;
    }
    if (c->len + n > c->cap) {
        size_t cap = c->cap;
        while (cap < c->len + n) {
            cap *= 2;
        }
        if (cap > MSGHDR_CAPTURE_MAX) {
            cap = MSGHDR_CAPTURE_MAX;
        }
        uint8_t *grown = c->buf == c->first ? malloc(cap) : realloc(c->buf, cap);
        if (grown == NULL) {
            c->done = true; /* what was copied is still read */
            return;
        }
        if (c->buf == c->first) {
            memcpy(grown, c->first, c->len);
        }
        c->buf = grown;
        c->cap = (uint32_t)cap;
    }
    memcpy(c->buf + c->len, p, n);
    c->len += (uint32_t)n;
}

/*
 * The bytes to keep are copied in runs, not a line at a time: a run ends
 * only where a stuffing "." is left out, at the blank line, or at the
 * chunk's end, so a chunk of headers is one copy.  Each line is still
 * found (one memchr) to look at its first bytes.
 */
void msghdr_capture_feed(struct msghdr_capture *c, const uint8_t *p, size_t n, bool dot_stuffed)
{
    if (c->done || n == 0) {
        return;
    }
    size_t i = 0;   /* the next byte to look at */
    size_t run = 0; /* the start of the bytes not yet copied */
    enum capture_state state = (enum capture_state)c->state;
    while (i < n) {
        switch (state) {
        case AT_LINE_START:
            if (dot_stuffed && p[i] == '.') {
                append(c, p + run, i - run);
                i++;
                run = i;
                state = AT_LINE_START_UNSTUFFED;
                break;
            }
            /* fall through */
        case AT_LINE_START_UNSTUFFED:
            if (p[i] == '\n') {
                append(c, p + run, i + 1 - run);
                c->done = true; /* a blank line (bare LF): the block ends */
                return;
            }
            i++;
            state = p[i - 1] == '\r' ? CR_AT_LINE_START : IN_LINE;
            break;
        case CR_AT_LINE_START:
            if (p[i] == '\n') {
                append(c, p + run, i + 1 - run);
                c->done = true;
                return;
            }
            state = IN_LINE; /* a CR inside a line */
            break;
        case IN_LINE: {
            const uint8_t *lf = memchr(p + i, '\n', n - i);
            if (lf == NULL) {
                i = n;
            } else {
                i = (size_t)(lf - p) + 1;
                state = AT_LINE_START;
            }
            break;
        }
        }
    }
    append(c, p + run, n - run);
    c->state = (uint8_t)state;
}

/* Which of our fields a header line names ("Name:" in any case), or -1.
 * The first letter sorts out all but one candidate before any compare. */
static int field_of(const uint8_t *line, size_t n, size_t *value_at)
{
    int f;
    size_t len;
    const char *name;
    switch (line[0] | 0x20) {
    case 'f': f = MSGHDR_FROM; name = "from"; len = 4; break;
    case 't': f = MSGHDR_TO; name = "to"; len = 2; break;
    case 's': f = MSGHDR_SUBJECT; name = "subject"; len = 7; break;
    case 'm': f = MSGHDR_MESSAGE_ID; name = "message-id"; len = 10; break;
    case 'd': f = MSGHDR_DATE; name = "date"; len = 4; break;
    default: return -1;
    }
    if (n <= len) {
        return -1;
    }
    for (size_t k = 1; k < len; k++) {
        /* ASCII letters match in either case; '-' only itself (CR | 0x20
         * is '-' too). */
        if (name[k] == '-' ? line[k] != '-' : (line[k] | 0x20) != name[k]) {
            return -1;
        }
    }
    size_t at = len;
    while (at < n && (line[at] == ' ' || line[at] == '\t')) {
        at++; /* obsolete syntax allows space before the colon (RFC 5322 4.5) */
    }
    if (at == n || line[at] != ':') {
        return -1;
    }
    *value_at = at + 1;
    return f;
}

/* Whether GMime has anything to do: encoded words, or 8-bit bytes (which
 * it reads as UTF-8 or, failing that, in a fallback charset, as it does
 * for --extract). */
static bool needs_decoding(const uint8_t *text, size_t n)
{
    for (const uint8_t *eq = text; (eq = memchr(eq, '=', n - (size_t)(eq - text))) != NULL;
         eq++) {
        if ((size_t)(eq - text) + 1 < n && eq[1] == '?') {
            return true;
        }
    }
    size_t i = 0;
    for (; i + 8 <= n; i += 8) { /* eight bytes at a time: any high bit */
        uint64_t w;
        memcpy(&w, text + i, 8);
        if ((w & 0x8080808080808080ULL) != 0) {
            return true;
        }
    }
    for (; i < n; i++) {
        if (text[i] >= 0x80) {
            return true;
        }
    }
    return false;
}

#define BYTES8(c) (0x0101010101010101ULL * (uint8_t)(c))

/* Some byte of w is zero (exact for "some": Hacker's Delight). */
static uint64_t zero_byte_bits(uint64_t w)
{
    return (w - BYTES8(0x01)) & ~w & BYTES8(0x80);
}

/* The eight bytes in w hold no LF, NUL, '=' and no 8-bit byte. */
static bool plain8(uint64_t w)
{
    return ((w & BYTES8(0x80)) | zero_byte_bits(w) | zero_byte_bits(w ^ BYTES8('\n')) |
            zero_byte_bits(w ^ BYTES8('='))) == 0;
}

/* A value kept as it is: one line (no LF), no NUL, nothing for GMime
 * (no '=' at all, no 8-bit byte).  Eight bytes at a time; false sends
 * the value through the exact tests below, which take the rare rest. */
static bool plain_value(const uint8_t *p, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        if (!plain8(w)) {
            return false;
        }
    }
    if (i < n && n >= 8) { /* the last eight, overlapping bytes already seen */
        uint64_t w;
        memcpy(&w, p + n - 8, 8);
        return plain8(w);
    }
    for (; i < n; i++) {
        if (p[i] == '\n' || p[i] == '\0' || p[i] == '=' || p[i] >= 0x80) {
            return false;
        }
    }
    return true;
}

/*
 * One field's value into out->text[f]: without surrounding whitespace,
 * unfolded (RFC 5322 2.2.3: the line breaks before continuation
 * whitespace taken out), ending at a NUL byte if it holds one (the value
 * is text for GMime and the record), decoded by GMime where needed (RFC
 * 2047).  A value on one line in plain ASCII, the usual case, is a span
 * into the capture: no copy.
 */
static void take_value(struct msghdr_fields *out, int f, const uint8_t *p, size_t n)
{
    static bool gmime_ready;
    while (n > 0 && (p[0] == ' ' || p[0] == '\t')) {
        p++;
        n--;
    }
    while (n > 0 && (p[n - 1] == '\n' || p[n - 1] == '\r' || p[n - 1] == ' ' ||
                     p[n - 1] == '\t')) {
        n--;
    }
    if (plain_value(p, n)) { /* the usual case, in one pass */
        out->text[f] = span_make(p, n);
        out->ascii[f] = true;
        return;
    }
    const uint8_t *lf = memchr(p, '\n', n);
    char *own = NULL;
    if (lf != NULL) { /* a folded field: one line at a time into a copy */
        own = g_malloc(n + 1);
        size_t len = 0;
        do {
            size_t line = (size_t)(lf - p);
            size_t keep = line > 0 && p[line - 1] == '\r' ? line - 1 : line;
            memcpy(own + len, p, keep);
            len += keep;
            p += line + 1;
            n -= line + 1;
        } while ((lf = memchr(p, '\n', n)) != NULL);
        memcpy(own + len, p, n);
        n += len;
        p = (const uint8_t *)own;
    }
    const uint8_t *nul = memchr(p, '\0', n);
    if (nul != NULL) {
        n = (size_t)(nul - p);
    }
    if (needs_decoding(p, n)) {
        if (own == NULL) { /* GMime wants a C string */
            own = g_malloc(n + 1);
            memcpy(own, p, n);
        }
        own[n] = '\0';
        if (!gmime_ready) {
            g_mime_init();
            gmime_ready = true;
        }
        char *d = g_mime_utils_header_decode_text(NULL, own);
        if (d != NULL) {
            g_free(own);
            own = d;
            p = (const uint8_t *)d;
            n = strlen(d);
        }
    }
    out->text[f] = span_make(p, n);
    out->owned[f] = own;
}

/*
 * The block is read here, not by GMime's parser: building a GMimeMessage
 * costs some 260,000 instructions a message (measured with callgrind),
 * seven times the rest of the work for a message of a few packets;
 * finding five fields costs a few hundred.  GMime does what is worth
 * its cost, the decoding of encoded words and 8-bit text, only where
 * there are some.
 */
void msghdr_parse(const struct msghdr_capture *c, struct msghdr_fields *out)
{
    memset(out, 0, sizeof(*out));
    if (c == NULL || c->len == 0) {
        return;
    }
    const uint8_t *p = c->buf;
    size_t left = c->len;
    unsigned seen = 0;       /* the first of each field is the one kept */
    int field = -1;          /* the field whose lines are being gathered */
    const uint8_t *value = NULL;
    while (left > 0) {
        const uint8_t *lf = memchr(p, '\n', left);
        size_t n = lf != NULL ? (size_t)(lf - p) + 1 : left;
        bool continuation = p[0] == ' ' || p[0] == '\t';
        if (!continuation && field >= 0) {
            take_value(out, field, value, (size_t)(p - value));
            field = -1;
        }
        if (p[0] == '\n' || (p[0] == '\r' && n >= 2 && p[1] == '\n')) {
            break; /* the blank line */
        }
        size_t value_at = 0;
        int f = continuation ? -1 : field_of(p, n, &value_at);
        if (f >= 0 && (seen & (1u << f)) == 0) {
            seen |= 1u << f;
            field = f;
            value = p + value_at;
        }
        p += n;
        left -= n;
    }
    if (field >= 0) {
        take_value(out, field, value, (size_t)(p - value));
    }
}

void msghdr_fields_free(struct msghdr_fields *f)
{
    for (int i = 0; i < MSGHDR_COUNT; i++) {
        g_free(f->owned[i]);
        f->owned[i] = NULL;
        f->text[i] = span_make(NULL, 0);
    }
}
