/*
 * span.h - borrowed byte slices and capped growable buffers.
 *
 * A span is a pointer with its length; it borrows memory owned by someone
 * else and is valid only as long as that owner says.  A capbuf is a buffer
 * that owns its memory and refuses to grow past the maximum fixed when it
 * was created (curl's dynbuf idea), so no wire input can make it unbounded.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef SPAN_H
#define SPAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct span {
    const uint8_t *ptr;
    size_t len;
};

static inline struct span span_make(const void *ptr, size_t len)
{
    struct span s = {(const uint8_t *)ptr, len};
    return s;
}

/* A growable byte buffer with a hard maximum; zero-initialised is empty. */
struct capbuf {
    uint8_t *data;
    size_t len;
    size_t cap;
    size_t max;
};

/* Sets the maximum; the buffer allocates nothing until the first append. */
void capbuf_init(struct capbuf *b, size_t max);
/*
 * Appends len bytes.  Returns false, appending nothing, when the result
 * would pass the maximum or memory runs out.  Earlier pointers into
 * b->data are invalid after a successful append (the data may move).
 */
bool capbuf_append_slow(struct capbuf *b, const void *p, size_t len);
/* Makes room for len more bytes without adding any; false as above. */
bool capbuf_reserve(struct capbuf *b, size_t len);

static inline bool capbuf_append(struct capbuf *b, const void *p, size_t len)
{
    if (len <= b->cap - b->len) {
        __builtin_memcpy(b->data + b->len, p, len);
        b->len += len;
        return true;
    }
    return capbuf_append_slow(b, p, len);
}
void capbuf_free(struct capbuf *b);

#endif
