/*
 * report_meta.h - chain of custody for the HTML report.
 *
 * Role: what the report says about where its evidence came from: each
 * input file with its size and SHA-256 (computed with Nettle before the
 * capture is read), the tool version, the exact command line and the
 * wall-clock time the analysis ran (the only wall-clock value smtpscope
 * records, and only in the report).  Filled by main.c, read by
 * out_html.c.  Nothing here comes from the wire.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef REPORT_META_H
#define REPORT_META_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define REPORT_FILES_MAX 16

struct report_file {
    const char *path;     /* borrowed from argv; not from the wire */
    uint64_t size_bytes;
    bool has_hash;        /* size_bytes and sha256_hex are valid */
    char sha256_hex[65];
    char note[128];       /* why there is no hash, when has_hash is false */
};

struct report_meta {
    const char *tool_version;
    int argc;
    char **argv;          /* borrowed; must outlive the writer */
    int64_t analysis_us;  /* wall clock at start, microseconds since epoch */
    struct report_file files[REPORT_FILES_MAX];
    size_t n_files;
};

/*
 * Fills m: tool version, argv (borrowed), the current wall-clock time, and
 * for each of the n input paths its size and SHA-256.  Reads each file
 * once, start to end, before the capture is opened; "-" (standard input)
 * cannot be read twice and is noted as not hashed.  A file that cannot be
 * read gets a note, not an error: the capture open that follows reports
 * it.  Never fails.
 */
void report_meta_init(struct report_meta *m, int argc, char **argv,
                      const char *const *paths, size_t n);

/*
 * SHA-256 of the file at path (Nettle's sha256), as 64 lower-case hex
 * digits in hex[65], and its size.  Returns false with errno set when the
 * file cannot be read.
 */
bool report_sha256_file(const char *path, char hex[65], uint64_t *size_bytes);

#endif
