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

struct msghdr_capture {
    uint8_t *buf;
    uint32_t len;
    uint32_t cap;
    uint8_t state; /* enum capture_state */
    bool done;
};

struct msghdr_capture *msghdr_capture_new(void)
{
    return calloc(1, sizeof(struct msghdr_capture));
}

void msghdr_capture_free(struct msghdr_capture *c)
{
    if (c != NULL) {
        free(c->buf);
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
    if (n > room) {
        n = room;
        c->done = true;
    }
    if (c->len + n > c->cap) {
        size_t cap = c->cap != 0 ? c->cap : CAPTURE_FIRST;
        while (cap < c->len + n) {
            cap *= 2;
        }
        if (cap > MSGHDR_CAPTURE_MAX) {
            cap = MSGHDR_CAPTURE_MAX;
        }
        uint8_t *grown = realloc(c->buf, cap);
        if (grown == NULL) {
            c->done = true; /* what was copied is still read */
            return;
        }
        c->buf = grown;
        c->cap = (uint32_t)cap;
    }
    memcpy(c->buf + c->len, p, n);
    c->len += (uint32_t)n;
}

void msghdr_capture_feed(struct msghdr_capture *c, const uint8_t *p, size_t n, bool dot_stuffed)
{
    while (n > 0 && !c->done) {
        switch ((enum capture_state)c->state) {
        case AT_LINE_START:
            if (dot_stuffed && p[0] == '.') {
                p++;
                n--;
                c->state = AT_LINE_START_UNSTUFFED;
                break;
            }
            /* fall through */
        case AT_LINE_START_UNSTUFFED:
            if (p[0] == '\n') {
                append(c, p, 1);
                c->done = true; /* a blank line (bare LF): the block ends */
                return;
            }
            if (p[0] == '\r') {
                append(c, p, 1);
                p++;
                n--;
                c->state = CR_AT_LINE_START;
                break;
            }
            c->state = IN_LINE;
            break;
        case CR_AT_LINE_START:
            if (p[0] == '\n') {
                append(c, p, 1);
                c->done = true;
                return;
            }
            c->state = IN_LINE; /* a CR inside a line */
            break;
        case IN_LINE: {
            const uint8_t *lf = memchr(p, '\n', n);
            size_t take = lf != NULL ? (size_t)(lf - p) + 1 : n;
            append(c, p, take);
            p += take;
            n -= take;
            if (lf != NULL) {
                c->state = AT_LINE_START;
            }
            break;
        }
        }
    }
}

static const struct {
    const char *name;
    size_t len;
} field_names[MSGHDR_COUNT] = {
    {"from", 4}, {"to", 2}, {"subject", 7}, {"message-id", 10}, {"date", 4},
};

/* Which of our fields a header line names ("Name:" in any case), or -1. */
static int field_of(const uint8_t *line, size_t n, size_t *value_at)
{
    const uint8_t *colon = memchr(line, ':', n);
    if (colon == NULL) {
        return -1;
    }
    size_t name_len = (size_t)(colon - line);
    while (name_len > 0 && (line[name_len - 1] == ' ' || line[name_len - 1] == '\t')) {
        name_len--; /* obsolete syntax allows space before the colon (RFC 5322 4.5) */
    }
    for (int f = 0; f < MSGHDR_COUNT; f++) {
        if (name_len == field_names[f].len &&
            strncasecmp((const char *)line, field_names[f].name, name_len) == 0) {
            *value_at = (size_t)(colon - line) + 1;
            return f;
        }
    }
    return -1;
}

/* A field's value, unfolded (RFC 5322 2.2.3: the line breaks before
 * continuation whitespace taken out), without surrounding whitespace. */
static char *unfolded_value(const uint8_t *p, size_t n)
{
    while (n > 0 && (p[0] == ' ' || p[0] == '\t')) {
        p++;
        n--;
    }
    while (n > 0 && (p[n - 1] == '\n' || p[n - 1] == '\r' || p[n - 1] == ' ' ||
                     p[n - 1] == '\t')) {
        n--;
    }
    char *out = g_malloc(n + 1);
    size_t len = 0;
    const uint8_t *lf;
    while ((lf = memchr(p, '\n', n)) != NULL) { /* a folded field: one line at a time */
        size_t line = (size_t)(lf - p);
        size_t keep = line > 0 && p[line - 1] == '\r' ? line - 1 : line;
        memcpy(out + len, p, keep);
        len += keep;
        p += line + 1;
        n -= line + 1;
    }
    memcpy(out + len, p, n);
    out[len + n] = '\0';
    return out;
}

/* Whether GMime has anything to do: encoded words, or 8-bit bytes (which
 * it reads as UTF-8 or, failing that, in a fallback charset, as it does
 * for --extract). */
static bool needs_decoding(const char *text)
{
    size_t n = strlen(text);
    for (const char *eq = text; (eq = memchr(eq, '=', n - (size_t)(eq - text))) != NULL; eq++) {
        if (eq[1] == '?') {
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
        if ((unsigned char)text[i] >= 0x80) {
            return true;
        }
    }
    return false;
}

/* Decoded by GMime where needed (RFC 2047); plain ASCII is as sent. */
static char *decoded(char *text)
{
    static bool gmime_ready;
    if (!needs_decoding(text)) {
        return text;
    }
    if (!gmime_ready) {
        g_mime_init();
        gmime_ready = true;
    }
    char *d = g_mime_utils_header_decode_text(NULL, text);
    if (d == NULL) {
        return text;
    }
    g_free(text);
    return d;
}

/*
 * The block is read here, not by GMime's parser: building a GMimeMessage
 * costs some 260,000 instructions a message (measured with callgrind),
 * seven times the rest of the work for a message of a few packets;
 * finding five fields costs a few thousand.  GMime does what is worth
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
    int field = -1;          /* the field whose lines are being gathered */
    const uint8_t *value = NULL;
    while (left > 0) {
        const uint8_t *lf = memchr(p, '\n', left);
        size_t n = lf != NULL ? (size_t)(lf - p) + 1 : left;
        bool continuation = p[0] == ' ' || p[0] == '\t';
        bool blank = p[0] == '\n' || (p[0] == '\r' && n >= 2 && p[1] == '\n');
        if (!continuation && field >= 0) {
            out->text[field] = decoded(unfolded_value(value, (size_t)(p - value)));
            field = -1;
        }
        if (blank) {
            break;
        }
        size_t value_at = 0;
        int f = continuation ? -1 : field_of(p, n, &value_at);
        if (f >= 0 && out->text[f] == NULL) {
            field = f; /* the first of each is the one kept */
            value = p + value_at;
        }
        p += n;
        left -= n;
    }
    if (field >= 0) {
        out->text[field] = decoded(unfolded_value(value, (size_t)(p - value)));
    }
}

void msghdr_fields_free(struct msghdr_fields *f)
{
    for (int i = 0; i < MSGHDR_COUNT; i++) {
        g_free(f->text[i]);
        f->text[i] = NULL;
    }
}
