/*
 * readbuf.h - a file read in large pieces into one buffer, used in place.
 *
 * Role: the pcap and pcapng readers parse records where they lie in this
 * buffer, so a packet's bytes are copied once (by the kernel) and the
 * records after the current one can be looked at before they are taken.
 * The buffer holds a piece of READBUF_PIECE bytes plus the longest record
 * its reader allows, so a record that begins at the end of a piece still
 * fits whole; a file smaller than that gets a buffer of its own size.
 *
 * Reading ahead (readbuf_read_ahead): once a file proves longer than one
 * piece, a thread of its own reads the next piece into a second buffer
 * while this one is parsed, so the copy out of the page cache, a fifth of
 * the work on a large file, runs on another core.  The unparsed end of a
 * piece (shorter than a record) is copied in front of the next one, into
 * room kept there, and parsing goes on as before.
 *
 * Mapping (readbuf_map, regular files of READBUF_MAP_MIN bytes or more):
 * the file is mapped whole, read only, and records are parsed where they
 * lie in the page cache: no copy at all, the least CPU time; reading
 * ahead on a thread is faster in wall time when a core is free for it.  A file that shrinks while
 * mapped would raise SIGBUS on the pages it lost: those pages are
 * replaced with zeros and the file is taken to end there (the reader
 * reports it damaged), so a truncated file is an error, never a crash.
 *
 * A stream (readbuf_read_by: a pipe, a decompressor) is read a call at a
 * time, each fill taking what the call gives, so that the records of a
 * capture still being written are parsed as soon as their bytes come.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef READBUF_H
#define READBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#define READBUF_PIECE (1u << 20)
#define READBUF_MAP_MIN (8u << 20)

struct readbuf_thread; /* readbuf.c */

/* Reads at most n bytes, as many as are there (at least 1, blocking only
 * while there are none): > 0, 0 at the end, < 0 on a failure. */
typedef ssize_t (*readbuf_read_fn)(void *ctx, uint8_t *buf, size_t n);

struct readbuf {
    FILE *f;       /* read unbuffered, from where it stands; not closed here */
    uint8_t *buf;
    size_t cap;
    size_t piece;  /* bytes read at a time; READBUF_PIECE, smaller in tests */
    readbuf_read_fn read_some; /* a stream's reads (readbuf_read_by), else NULL: fread */
    void *read_ctx;
    size_t record_max;
    size_t start;  /* the first byte not taken */
    size_t end;    /* bytes read into buf */
    bool at_eof;
    int *threads_free;             /* NULL: read here, never ahead */
    struct readbuf_thread *ahead;  /* the thread reading ahead, if one runs */
    bool mapped;                   /* buf is the whole file, mapped (cap bytes) */
    size_t advise_at;              /* mapped: where the pages behind are next let go */
    size_t dropped;                /* mapped: pages before this are let go */
    volatile int *lost;            /* mapped: set when the file lost pages (SIGBUS),
                                    * which also sets advise_at to 0: the next
                                    * readbuf_take() looks */
    bool shrank;                   /* the file ended early for that */
};

/* Makes the buffer for records of at most record_max bytes; false: no
 * memory.  f should be unbuffered (setvbuf _IONBF): pieces go straight
 * into the buffer. */
bool readbuf_open(struct readbuf *b, FILE *f, size_t record_max);

/* Lets the buffer read ahead on a thread once the file has more than one
 * piece, if *threads_free > 0 then: it takes one and gives it back when
 * the file ends or is closed.  Readbufs that share the count must all be
 * used from one thread.  Without a thread (none free, or none could be
 * made) reading goes on here; results are the same either way. */
void readbuf_read_ahead(struct readbuf *b, int *threads_free);

/*
 * A stream (a pipe, a decompressor): each fill takes what one call of
 * read_some gives, as soon as it has the bytes asked for, instead of
 * waiting for a whole piece, so the records of a capture still being
 * written are read as they come.  Before the first fill.
 */
void readbuf_read_by(struct readbuf *b, readbuf_read_fn read_some, void *ctx);

/* Maps the file from where the reading stands, instead of reading it
 * (see above); false (and nothing changed) when it cannot or is not worth
 * it.  Not once a thread reads ahead. */
bool readbuf_map(struct readbuf *b);

/* The part of readbuf_fill that reads. */
size_t readbuf_fill_more(struct readbuf *b, size_t want);

/* Makes at least want bytes (want <= record_max) available from the first
 * byte not taken, unless the file ends first; returns how many are.  May
 * move the bytes: pointers into the buffer are good until the next call.
 * Inline because readers ask once or twice a packet and nearly always
 * have the bytes already. */
static inline size_t readbuf_fill(struct readbuf *b, size_t want)
{
    size_t have = b->end - b->start;
    return have >= want ? have : readbuf_fill_more(b, want);
}

/* True once a mapped file was seen to shrink while it was read: its end
 * is then where reading stopped, not the end of what was written. */
static inline bool readbuf_shrank(const struct readbuf *b)
{
    return b->shrank;
}

/* Bytes available without reading, and where they start. */
static inline size_t readbuf_have(const struct readbuf *b)
{
    return b->end - b->start;
}

static inline const uint8_t *readbuf_at(const struct readbuf *b)
{
    return b->buf + b->start;
}

/* Mapped: lets go of the pages well behind start. */
void readbuf_advise(struct readbuf *b);

/* Takes n <= readbuf_have() bytes. */
static inline void readbuf_take(struct readbuf *b, size_t n)
{
    b->start += n;
    if (b->start >= b->advise_at) {
        readbuf_advise(b);
    }
}

/* Takes n bytes, seeking past those not read yet (or, reading ahead,
 * reading past them); false if the file cannot seek.  Seeking past the
 * end is not an error: the next fill finds the end. */
bool readbuf_skip(struct readbuf *b, uint64_t n);

/* Stops the thread, if one runs, and frees the buffers. */
void readbuf_close(struct readbuf *b);

#endif
