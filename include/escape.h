/*
 * escape.h - the only way wire bytes reach JSON, HTML or a terminal.
 *
 * Role: writers hold text copied from the wire (bounded, never escaped).
 * These functions append it to an output buffer escaped for its target:
 * JSON strings are valid UTF-8 with every control character escaped and
 * each invalid byte replaced by U+FFFD; terminal text is printable ASCII
 * only, everything else shown as \xNN.  Both cut the input at max bytes.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef ESCAPE_H
#define ESCAPE_H

#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "span.h"

/* Length of the run at p[0..n) that goes into a JSON string unescaped. */
size_t json_plain_len(const uint8_t *p, size_t n);
/* escape_json() when s needs escaping or out must grow. */
bool escape_json_slow(struct capbuf *out, struct span s, size_t n, size_t plain);

/* Appends s (at most max bytes of it) as a quoted JSON string.  Returns
 * false if out is full.  The usual case, nothing to escape and room, is
 * inline: a quote, a copy, a quote. */
static inline bool escape_json(struct capbuf *out, struct span s, size_t max)
{
    size_t n = s.len < max ? s.len : max;
    size_t plain = json_plain_len(s.ptr, n);
    size_t room = out->cap - out->len;
    if (plain < n || room < 2 || room - 2 < n) {
        return escape_json_slow(out, s, n, plain);
    }
    uint8_t *d = out->data + out->len;
    d[0] = '"';
    if (n > 0) {
        memcpy(d + 1, s.ptr, n); /* an empty span may have no pointer */
    }
    d[n + 1] = '"';
    out->len += n + 2;
    return true;
}
/* Appends s for a terminal: printable ASCII as is, the rest as \xNN. */
bool escape_terminal(struct capbuf *out, struct span s, size_t max);
/*
 * Appends s as HTML text, safe in element content and in quoted attribute
 * values alike: & < > " ' become character references; control characters
 * (C0, DEL, C1) and the Unicode controls that reorder or break text (bidi
 * overrides and isolates, U+2028/9) become visible \xNN or \u{NNNN} text;
 * each byte of invalid UTF-8 becomes U+FFFD.  The output never contains a
 * raw < > " ' & from s, so captured text cannot open a tag, close an
 * attribute or start an entity.  Returns false if out is full.
 */
bool escape_html(struct capbuf *out, struct span s, size_t max);
/* Appends a NUL-terminated string that is not from the wire. */
bool out_str(struct capbuf *out, const char *s);
/* Appends printf-formatted text that is not from the wire. */
bool out_fmt(struct capbuf *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends a string literal without measuring it. */
#define OUT_LIT(out, lit) capbuf_append((out), (lit), sizeof(lit) - 1)
/* Appends an unsigned decimal without printf. */
bool out_u64(struct capbuf *out, unsigned long long v);
/* Appends us/1000 as a decimal with exactly three decimals ("2.700"). */
bool out_ms(struct capbuf *out, long long us);

/*
 * Writing through a cursor, for runs of fields of bounded size: one
 * capacity test for the run instead of one per field.  out_room() makes
 * room for len bytes and returns where they go, or NULL when out cannot
 * grow that far; runs of fixed fields stay within OUT_ROOM_MAX (checked at
 * compile time).  The put_*() functions and PUT_LIT write at d and return
 * the end of what they wrote; the caller keeps the total within len.
 * out_done() then sets out's length to end.  The pointer is valid only
 * until the next append to out.  Wire bytes go through a cursor only when
 * json_plain_len() finds nothing in them to escape; otherwise through
 * escape_json().
 */
#define OUT_ROOM_MAX 256
#define OUT_U64_MAX 20 /* digits of 2^64 - 1 */
#define OUT_MS_MAX 21  /* sign, 16 digits, point, 3 decimals */
char *out_room_slow(struct capbuf *out, size_t len);

static inline char *out_room(struct capbuf *out, size_t len)
{
    if (out->cap - out->len >= len) {
        return (char *)out->data + out->len;
    }
    return out_room_slow(out, len);
}

static inline void out_done(struct capbuf *out, const char *end)
{
    assert(end >= (const char *)out->data + out->len &&
           end <= (const char *)out->data + out->cap); /* the run stayed in its room */
    out->len = (size_t)(end - (const char *)out->data);
}

/* At most OUT_U64_MAX bytes. */
char *put_u64(char *d, unsigned long long v);
/* Exactly width digits of v, zero-padded, v < 10^width; at most 20. */
char *put_u64_fixed(char *d, unsigned long long v, size_t width);
/* As out_ms(); at most OUT_MS_MAX bytes. */
char *put_ms(char *d, long long us);
/* Writes a string literal at d ("" lit refuses anything else: sizeof). */
#define PUT_LIT(d, lit) ((char *)memcpy((d), "" lit, sizeof(lit) - 1) + sizeof(lit) - 1)

#endif
