/*
 * span.c - capped growable buffers (see span.h).
 *
 * SPDX-License-Identifier: MIT
 */
#include "span.h"

#include <stdlib.h>
#include <string.h>

void capbuf_init(struct capbuf *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

bool capbuf_reserve(struct capbuf *b, size_t len)
{
    if (len <= b->cap - b->len) {
        return true;
    }
    if (len > b->max - b->len) {
        return false;
    }
    size_t cap = b->cap ? b->cap : 256; /* typical session text fits: fewer reallocs */
    while (cap < b->len + len) {
        cap *= 2;
    }
    if (cap > b->max) {
        cap = b->max;
    }
    uint8_t *grown = realloc(b->data, cap);
    if (grown == NULL) {
        return false;
    }
    b->data = grown;
    b->cap = cap;
    return true;
}

bool capbuf_append_slow(struct capbuf *b, const void *p, size_t len)
{
    if (!capbuf_reserve(b, len)) {
        return false;
    }
    memcpy(b->data + b->len, p, len);
    b->len += len;
    return true;
}

void capbuf_free(struct capbuf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}
