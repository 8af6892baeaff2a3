/*
 * source.h - the bytes of a capture file: plain, from a pipe, or compressed.
 *
 * Role: under the capture readers.  Opens a path, or "-" for standard
 * input, as a stdio stream of the capture's own bytes: a regular file as
 * it is (so it can still be mapped or read ahead), a pipe through a small
 * stream that gives back the bytes looked at first, and gzip, xz or
 * zstd data (told by their magic bytes, never by the name) decompressed
 * on the fly, concatenated members included.  The first four bytes of
 * the capture are handed out up front without being consumed, so the
 * caller can choose its reader.  A decompressor's failure is kept, with
 * the offset where it happened, for the caller to report: the bytes
 * before it were good.  Readers take a stream's bytes through
 * source_read_some() (stdio would read an unbuffered stream a byte per
 * system call), and may be told before a read of a pipe would wait.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef SOURCE_H
#define SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

enum source_kind { SOURCE_FILE, SOURCE_PIPE, SOURCE_GZIP, SOURCE_XZ, SOURCE_ZSTD };

struct source; /* source.c: the state behind a stream not read as it is */

/*
 * Opens path: *f is the stream (unbuffered; fclose() it to end), head its
 * first four bytes (zeros past a shorter input), *src the state to ask
 * source_failure() about (NULL for a regular uncompressed file, whose
 * stream is an ordinary one).  0, or SMTPSCOPE_ERR_INPUT_OPEN with err
 * filled.
 */
int source_open(const char *path, FILE **f, uint8_t head[4], struct source **src,
                enum source_kind *kind, char *err, size_t errlen);

/*
 * The next bytes of src's stream, as many as one read gives (at most n,
 * at least 1 unless at the end): > 0 bytes, 0 at the end, -1 on a failure
 * (source_failure() says which) or a read cut short by a signal.  For a
 * reader that must not wait for a whole piece of a pipe; src is a struct
 * source (void * so it can be a reader's callback).  Not mixed with
 * reads through the stdio stream that have bytes of their own buffered:
 * the stream is unbuffered.
 */
ssize_t source_read_some(void *src, uint8_t *buf, size_t n);

/* True when src reads a pipe, a FIFO or a terminal: its bytes come as
 * they are written, maybe slowly (a capture still being taken). */
bool source_is_stream(const struct source *src);

/* A stream only: fn(ctx) is called before a read that would wait for
 * the writer (none of its bytes are there yet), so that what was read so
 * far can be finished first.  NULL: none. */
void source_on_wait(struct source *src, void (*fn)(void *ctx), void *ctx);

/* What the stream is, for messages ("gzip"). */
const char *source_kind_name(enum source_kind kind);

/* After the stream stopped giving bytes: true, with the reason in err,
 * when that was a failure (damaged compressed data, a read error) rather
 * than the end.  Valid until the stream is closed. */
bool source_failure(const struct source *src, char *err, size_t errlen);

#endif
