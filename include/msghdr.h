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

#include "span.h"

struct msghdr_capture;

/* A capture for one message, or NULL without memory.  The caller frees
 * it with msghdr_capture_free() (NULL accepted). */
struct msghdr_capture *msghdr_capture_new(void);
void msghdr_capture_free(struct msghdr_capture *c);

/* The same in memory the caller provides (a pool: one message after
 * another reuses it): msghdr_capture_size() bytes, suitably aligned for
 * any object, made a capture by msghdr_capture_init(); release() frees
 * what the capture allocated itself (a block past its first 1 KiB), not
 * the memory it is in. */
size_t msghdr_capture_size(void);
void msghdr_capture_init(struct msghdr_capture *c);
void msghdr_capture_release(struct msghdr_capture *c);

/* Content bytes as sent (dot_stuffed: DATA, so a leading "." of a line is
 * taken off; BDAT chunks are as is).  p is borrowed for the call.  Does
 * nothing once the header block is complete or the capture full. */
void msghdr_capture_feed(struct msghdr_capture *c, const uint8_t *p, size_t n, bool dot_stuffed);

/* True once the blank line ending the header block has been copied, or
 * the capture is full: later content need not be offered. */
bool msghdr_capture_done(const struct msghdr_capture *c);

enum msghdr_field { MSGHDR_FROM, MSGHDR_TO, MSGHDR_SUBJECT, MSGHDR_MESSAGE_ID, MSGHDR_DATE,
                    MSGHDR_COUNT };

/* The fields read from a header block: text (UTF-8 when decoding gave
 * it, else the bytes as sent, up to a NUL byte if there is one), ptr NULL
 * when absent.  A plain one-line value borrows the capture's buffer (valid
 * while the capture lives); a folded or decoded one is owned[i]. */
struct msghdr_fields {
    struct span text[MSGHDR_COUNT];
    char *owned[MSGHDR_COUNT];
    bool ascii[MSGHDR_COUNT]; /* true: text has no 8-bit byte (false: not known) */
};

/* Reads what c holds (a block cut short is read as far as it goes).
 * Fills out; msghdr_fields_free() releases it (before c is freed, or
 * after: the borrowed spans just must not be used once c is gone). */
void msghdr_parse(const struct msghdr_capture *c, struct msghdr_fields *out);
void msghdr_fields_free(struct msghdr_fields *f);

#endif
