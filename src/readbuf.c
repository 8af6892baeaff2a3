/*
 * readbuf.c - a file read in large pieces into one buffer (see readbuf.h).
 *
 * SPDX-License-Identifier: MIT
 */
#include "readbuf.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Past a small file's size, so that reading it to the end sees the end. */
#define READBUF_SLACK 16

bool readbuf_open(struct readbuf *b, FILE *f, size_t record_max)
{
    memset(b, 0, sizeof(*b));
    b->f = f;
    b->cap = READBUF_PIECE + record_max;
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) &&
        (uint64_t)st.st_size + READBUF_SLACK < b->cap) {
        b->cap = (size_t)st.st_size + READBUF_SLACK;
    }
    b->buf = malloc(b->cap);
    return b->buf != NULL;
}

size_t readbuf_fill(struct readbuf *b, size_t want)
{
    size_t have = b->end - b->start;
    if (have >= want || b->at_eof) {
        return have;
    }
    if (b->start > 0) {
        memmove(b->buf, b->buf + b->start, have);
        b->start = 0;
        b->end = have;
    }
    while (b->end < want && !b->at_eof) {
        size_t room = b->cap - b->end;
        if (room == 0) {
            break; /* the file grew past its size at open: the record is not read */
        }
        size_t ask = room > READBUF_PIECE ? READBUF_PIECE : room;
        size_t got = fread(b->buf + b->end, 1, ask, b->f);
        b->end += got;
        if (got < ask) {
            b->at_eof = true;
        }
    }
    return b->end - b->start;
}

bool readbuf_skip(struct readbuf *b, uint64_t n)
{
    size_t have = b->end - b->start;
    if (n <= have) {
        b->start += (size_t)n;
        return true;
    }
    uint64_t beyond = n - have;
    b->start = b->end = 0;
    if (b->at_eof) {
        return true; /* nothing is left to skip */
    }
    if (beyond > (uint64_t)INT64_MAX || fseeko(b->f, (off_t)beyond, SEEK_CUR) != 0) {
        return false;
    }
    return true;
}

void readbuf_close(struct readbuf *b)
{
    free(b->buf);
    b->buf = NULL;
}
