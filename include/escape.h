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

#include <stdbool.h>
#include <stddef.h>

#include "span.h"

/* Appends s as a quoted JSON string.  Returns false if out is full. */
bool escape_json(struct capbuf *out, struct span s, size_t max);
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

#endif
