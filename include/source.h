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
 * before it were good.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef SOURCE_H
#define SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

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

/* What the stream is, for messages ("gzip"). */
const char *source_kind_name(enum source_kind kind);

/* After the stream stopped giving bytes: true, with the reason in err,
 * when that was a failure (damaged compressed data, a read error) rather
 * than the end.  Valid until the stream is closed. */
bool source_failure(const struct source *src, char *err, size_t errlen);

#endif
