/*
 * msghdr.h - a message's header block, copied while its content passes
 * and read for the transaction record (From, To, Subject, Message-ID,
 * Date).
 *
 * Role: the session module hands every content chunk of a message in
 * clear to a capture, which copies bytes only until the blank line that
 * ends the header block (RFC 5322 2.1), undoing DATA's dot-stuffing (RFC
 * 5321 4.5.2), and never more than MSGHDR_CAPTURE_MAX bytes.  Once the
 * content has ended, msghdr_parse() reads the block: fields unfolded
 * (RFC 5322 2.2.3) and RFC 2047 encoded words decoded by GMime.  Nothing here is escaped:
 * the values are wire text, for the record's arena and escape.h.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef MSGHDR_H
#define MSGHDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct msghdr_capture;

/* A capture for one message, or NULL without memory.  The caller frees
 * it with msghdr_capture_free() (NULL accepted). */
struct msghdr_capture *msghdr_capture_new(void);
void msghdr_capture_free(struct msghdr_capture *c);

/* Content bytes as sent (dot_stuffed: DATA, so a leading "." of a line is
 * taken off; BDAT chunks are as is).  p is borrowed for the call.  Does
 * nothing once the header block is complete or the capture full. */
void msghdr_capture_feed(struct msghdr_capture *c, const uint8_t *p, size_t n, bool dot_stuffed);

/* True once the blank line ending the header block has been copied, or
 * the capture is full: later content need not be offered. */
bool msghdr_capture_done(const struct msghdr_capture *c);

enum msghdr_field { MSGHDR_FROM, MSGHDR_TO, MSGHDR_SUBJECT, MSGHDR_MESSAGE_ID, MSGHDR_DATE,
                    MSGHDR_COUNT };

/* The fields read from a header block: NUL-terminated text (UTF-8 when
 * decoding gave it, else the bytes as sent) or NULL when absent. */
struct msghdr_fields {
    char *text[MSGHDR_COUNT];
};

/* Reads what c holds (a block cut short is read as far as it goes).
 * Fills out; msghdr_fields_free() releases it. */
void msghdr_parse(const struct msghdr_capture *c, struct msghdr_fields *out);
void msghdr_fields_free(struct msghdr_fields *f);

#endif
