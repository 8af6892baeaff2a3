/*
 * report_meta.c - input file hashes and run identity for the report.
 *
 * Role: fills struct report_meta (report_meta.h) for main.c.  SHA-256
 * comes from Nettle (Debian nettle-dev, <nettle/sha2.h>): a hash is not
 * something to hand-write.  Files are read in 64 KiB blocks, so memory
 * does not grow with the capture.
 *
 * SPDX-License-Identifier: MIT
 */
#include "report_meta.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <nettle/sha2.h>

#include "smtpscope.h"

bool report_sha256_file(const char *path, char hex[65], uint64_t *size_bytes)
{
    static const char digits[] = "0123456789abcdef";
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return false;
    }
    struct sha256_ctx ctx;
    sha256_init(&ctx);
    uint8_t buf[65536];
    uint64_t total = 0;
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
        sha256_update(&ctx, n, buf);
        total += n;
    }
    bool ok = !ferror(f);
    int saved = errno;
    fclose(f);
    if (!ok) {
        errno = saved;
        return false;
    }
    uint8_t digest[SHA256_DIGEST_SIZE];
    sha256_digest(&ctx, sizeof(digest), digest);
    for (size_t i = 0; i < sizeof(digest); i++) {
        hex[2 * i] = digits[digest[i] >> 4];
        hex[2 * i + 1] = digits[digest[i] & 15];
    }
    hex[64] = '\0';
    *size_bytes = total;
    return true;
}

void report_meta_init(struct report_meta *m, int argc, char **argv,
                      const char *const *paths, size_t n)
{
    memset(m, 0, sizeof(*m));
    m->tool_version = SMTPSCOPE_VERSION;
    m->argc = argc;
    m->argv = argv;
    struct timespec ts;
    if (clock_gettime(CLOCK_REALTIME, &ts) == 0) {
        m->analysis_us = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
    }
    for (size_t i = 0; i < n && m->n_files < REPORT_FILES_MAX; i++) {
        struct report_file *f = &m->files[m->n_files++];
        f->path = paths[i];
        if (strcmp(paths[i], "-") == 0) {
            snprintf(f->note, sizeof(f->note),
                     "standard input: not hashed (hash the file that was piped in)");
        } else if (!report_sha256_file(paths[i], f->sha256_hex, &f->size_bytes)) {
            snprintf(f->note, sizeof(f->note), "not hashed: %s", strerror(errno));
        } else {
            f->has_hash = true;
        }
    }
}
