/*
 * source.c - capture bytes from a file, a pipe, or a compressed stream.
 *
 * Captures are archived compressed and piped from other tools, and the
 * readers above only want the capture's bytes, in order, once.  A regular
 * uncompressed file is left an ordinary stream (it may be mapped or read
 * ahead); everything else becomes a stdio stream over a cookie: a pipe
 * hands back the bytes read to tell its format first, a compressed file
 * is decompressed as the reader asks.  Reads are not retried on EINTR: the
 * run's signals that must not interrupt a read are installed with
 * SA_RESTART, and the ones that do (SIGINT) end the run.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* fopencookie */
#endif
#include "source.h"

#include <errno.h>
#include <fcntl.h>
#include <lzma.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include "smtpscope.h"

#define SOURCE_IN_BYTES (256u << 10)
#define SOURCE_MAGIC_BYTES 6
/* An xz stream says how large a dictionary it needs; a hostile one may ask
 * for gigabytes.  xz -9 needs 65 MiB: anything past this is refused. */
#define SOURCE_XZ_MEMLIMIT (256u << 20)

struct source {
    int fd;
    bool own_fd;
    enum source_kind kind;
    uint8_t pending[SOURCE_MAGIC_BYTES]; /* bytes to hand out before any other */
    size_t pending_len, pending_pos;
    uint8_t *in; /* compressed bytes read, in[in_pos..in_len) not yet used */
    size_t in_len, in_pos;
    bool in_eof;
    bool frame_open; /* within a compressed member (its end not yet seen) */
    bool stream;     /* not a regular file: bytes come as the writer gives them */
    void (*on_wait)(void *ctx); /* called before a read that would wait */
    void *on_wait_ctx;
    int64_t waited_ms;          /* when on_wait was last called (monotonic) */
    bool failed;
    char why[200];
    uint64_t raw_offset; /* compressed bytes read */
    z_stream z;
    lzma_stream x;
    ZSTD_DStream *zs;
};

const char *source_kind_name(enum source_kind kind)
{
    switch (kind) {
    case SOURCE_GZIP:
        return "gzip";
    case SOURCE_XZ:
        return "xz";
    case SOURCE_ZSTD:
        return "zstd";
    case SOURCE_PIPE:
        return "pipe";
    case SOURCE_FILE:
        break;
    }
    return "file";
}

/*
 * Before a read of the descriptor that would wait (none of the writer's
 * bytes are there), say so, so that what was read is finished first; at
 * most every SOURCE_WAIT_MS, waiting for bytes until then: a writer that
 * is only slower than us refills the pipe within that, and one that
 * trickles packets (a live capture piped in) still sees its records that
 * late at most.
 */
#define SOURCE_WAIT_MS 20

static int64_t monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void before_read(struct source *s)
{
    if (s->on_wait == NULL) {
        return;
    }
    struct pollfd p = {s->fd, POLLIN, 0};
    if (poll(&p, 1, 0) != 0) {
        return; /* bytes are there (or the end, or an error: read says) */
    }
    int64_t since = monotonic_ms() - s->waited_ms;
    if (since < SOURCE_WAIT_MS && poll(&p, 1, (int)(SOURCE_WAIT_MS - since)) != 0) {
        return;
    }
    s->on_wait(s->on_wait_ctx);
    s->waited_ms = monotonic_ms();
}

static void fail(struct source *s, const char *what)
{
    if (!s->failed) {
        s->failed = true;
        snprintf(s->why, sizeof(s->why), "%s data %s (after %llu compressed bytes)",
                 source_kind_name(s->kind), what, (unsigned long long)s->raw_offset);
    }
}

/* Reads into in[] when it is used up; false at the end or on failure. */
static bool refill(struct source *s)
{
    if (s->in_pos < s->in_len) {
        return true;
    }
    if (s->in_eof) {
        return false;
    }
    before_read(s);
    ssize_t r = read(s->fd, s->in, SOURCE_IN_BYTES);
    if (r < 0) {
        if (errno != EINTR) {
            s->failed = true;
            snprintf(s->why, sizeof(s->why), "read error: %s", strerror(errno));
        }
        return false;
    }
    s->in_pos = 0;
    s->in_len = (size_t)r;
    s->raw_offset += (uint64_t)r;
    s->in_eof = r == 0;
    return r > 0;
}

/* xz's decoder reports the end of the input only when told: at the end
 * of the file, finish what it holds. */
static ssize_t xz_finish(struct source *s, uint8_t *out, size_t cap)
{
    lzma_ret rc = LZMA_OK;
    size_t produced = 0;
    /* A call may make no progress and still say LZMA_OK; the next one
     * then tells LZMA_BUF_ERROR (cut short) apart from the end. */
    for (int i = 0; i < 2 && produced == 0 && rc == LZMA_OK; i++) {
        s->x.next_in = NULL;
        s->x.avail_in = 0;
        s->x.next_out = out;
        s->x.avail_out = cap;
        rc = lzma_code(&s->x, LZMA_FINISH);
        produced = (size_t)(s->x.next_out - out);
    }
    if (rc == LZMA_OK && produced == 0) {
        rc = LZMA_BUF_ERROR;
    }
    if (rc == LZMA_STREAM_END) {
        s->frame_open = false;
    } else if (rc != LZMA_OK) {
        fail(s, rc == LZMA_BUF_ERROR ? "ends early: the file was cut short" : "is damaged");
        return produced > 0 ? (ssize_t)produced : -1;
    }
    return (ssize_t)produced;
}

/* One step of the decompressor: output bytes, 0 at the clean end, -1
 * on failure. */
static ssize_t inflate_some(struct source *s, uint8_t *out, size_t cap)
{
    for (;;) {
        bool more = refill(s);
        if (s->failed) {
            return -1;
        }
        if (!more) {
            if (s->kind == SOURCE_XZ && s->frame_open) {
                return xz_finish(s, out, cap);
            }
            if (s->frame_open) {
                fail(s, "ends early: the file was cut short");
                return -1;
            }
            return 0;
        }
        size_t produced = 0;
        size_t used = 0;
        switch (s->kind) {
        case SOURCE_GZIP: {
            if (!s->frame_open) {
                inflateReset(&s->z);
            }
            s->z.next_in = s->in + s->in_pos;
            s->z.avail_in = (uInt)(s->in_len - s->in_pos);
            s->z.next_out = out;
            s->z.avail_out = (uInt)(cap > UINT32_MAX ? UINT32_MAX : cap);
            s->frame_open = true;
            int rc = inflate(&s->z, Z_NO_FLUSH);
            used = (size_t)(s->z.next_in - (s->in + s->in_pos));
            produced = (size_t)(s->z.next_out - out);
            if (rc == Z_STREAM_END) {
                s->frame_open = false; /* another member may follow */
            } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
                fail(s, s->z.msg != NULL ? s->z.msg : "is damaged");
                return -1;
            }
            break;
        }
        case SOURCE_XZ: {
            s->x.next_in = s->in + s->in_pos;
            s->x.avail_in = s->in_len - s->in_pos;
            s->x.next_out = out;
            s->x.avail_out = cap;
            s->frame_open = true;
            lzma_ret rc = lzma_code(&s->x, LZMA_RUN);
            used = (size_t)(s->x.next_in - (s->in + s->in_pos));
            produced = (size_t)(s->x.next_out - out);
            if (rc == LZMA_STREAM_END) {
                s->frame_open = false;
            } else if (rc != LZMA_OK && rc != LZMA_BUF_ERROR) {
                fail(s, rc == LZMA_MEMLIMIT_ERROR ? "needs a dictionary past the 256 MiB allowed"
                        : rc == LZMA_MEM_ERROR          ? "needs more memory than is free"
                                                        : "is damaged");
                return -1;
            }
            break;
        }
        case SOURCE_ZSTD: {
            ZSTD_inBuffer ib = {s->in + s->in_pos, s->in_len - s->in_pos, 0};
            ZSTD_outBuffer ob = {out, cap, 0};
            size_t rc = ZSTD_decompressStream(s->zs, &ob, &ib);
            if (ZSTD_isError(rc)) {
                fail(s, ZSTD_getErrorName(rc));
                return -1;
            }
            s->frame_open = rc != 0;
            used = ib.pos;
            produced = ob.pos;
            break;
        }
        case SOURCE_FILE:
        case SOURCE_PIPE:
            return -1;
        }
        s->in_pos += used;
        if (produced > 0) {
            return (ssize_t)produced;
        }
        if (used == 0 && s->in_pos < s->in_len) {
            fail(s, "is damaged"); /* no progress on bytes it was given */
            return -1;
        }
    }
}

static ssize_t cookie_read(void *cookie, char *buf, size_t size)
{
    struct source *s = cookie;
    if (s->pending_pos < s->pending_len) {
        size_t n = s->pending_len - s->pending_pos;
        n = n < size ? n : size;
        memcpy(buf, s->pending + s->pending_pos, n);
        s->pending_pos += n;
        return (ssize_t)n;
    }
    if (s->kind == SOURCE_PIPE) {
        before_read(s);
        ssize_t r = read(s->fd, buf, size);
        if (r < 0 && errno != EINTR) {
            s->failed = true;
            snprintf(s->why, sizeof(s->why), "read error: %s", strerror(errno));
        }
        return r;
    }
    if (s->failed) {
        return -1;
    }
    return inflate_some(s, (uint8_t *)buf, size);
}

ssize_t source_read_some(void *src, uint8_t *buf, size_t n)
{
    return cookie_read(src, (char *)buf, n);
}

bool source_is_stream(const struct source *src)
{
    return src != NULL && src->stream;
}

void source_on_wait(struct source *src, void (*fn)(void *ctx), void *ctx)
{
    if (src != NULL && src->stream) {
        src->on_wait = fn;
        src->on_wait_ctx = ctx;
    }
}

static void free_source(struct source *s)
{
    if (s == NULL) {
        return;
    }
    if (s->kind == SOURCE_GZIP) {
        inflateEnd(&s->z);
    } else if (s->kind == SOURCE_XZ) {
        lzma_end(&s->x);
    } else if (s->kind == SOURCE_ZSTD) {
        ZSTD_freeDStream(s->zs);
    }
    if (s->own_fd) {
        close(s->fd);
    }
    free(s->in);
    free(s);
}

static int cookie_close(void *cookie)
{
    free_source(cookie);
    return 0;
}

/* Reads up to n bytes, as many as come before the end. */
static size_t read_full(int fd, uint8_t *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r <= 0) {
            break;
        }
        got += (size_t)r;
    }
    return got;
}

static enum source_kind kind_of(const uint8_t *m, size_t n)
{
    if (n >= 2 && m[0] == 0x1f && m[1] == 0x8b) {
        return SOURCE_GZIP;
    }
    if (n >= 6 && memcmp(m, "\xfd" "7zXZ\0", 6) == 0) {
        return SOURCE_XZ;
    }
    if (n >= 4 && m[0] == 0x28 && m[1] == 0xb5 && m[2] == 0x2f && m[3] == 0xfd) {
        return SOURCE_ZSTD;
    }
    return SOURCE_PIPE;
}

static bool start_decoder(struct source *s)
{
    switch (s->kind) {
    case SOURCE_GZIP:
        /* 15 + 16: gzip members only (RFC 1952). */
        return inflateInit2(&s->z, 15 + 16) == Z_OK;
    case SOURCE_XZ: {
        lzma_stream init = LZMA_STREAM_INIT;
        s->x = init;
        return lzma_stream_decoder(&s->x, SOURCE_XZ_MEMLIMIT, LZMA_CONCATENATED) == LZMA_OK;
    }
    case SOURCE_ZSTD:
        s->zs = ZSTD_createDStream();
        return s->zs != NULL && !ZSTD_isError(ZSTD_initDStream(s->zs));
    case SOURCE_FILE:
    case SOURCE_PIPE:
        break;
    }
    return true;
}

/* A regular file read as it is: an ordinary stream, its head by pread. */
static int open_plain(int fd, bool own_fd, FILE **f, uint8_t head[4], char *err, size_t errlen,
                      const char *path)
{
    memset(head, 0, 4);
    if (pread(fd, head, 4, 0) < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        if (own_fd) {
            close(fd);
        }
        return SMTPSCOPE_ERR_INPUT_OPEN;
    }
    int use = own_fd ? fd : dup(fd);
    *f = use >= 0 ? fdopen(use, "rb") : NULL;
    if (*f == NULL) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        if (use >= 0) {
            close(use);
        }
        return SMTPSCOPE_ERR_INPUT_OPEN;
    }
    return SMTPSCOPE_OK;
}

int source_open(const char *path, FILE **f, uint8_t head[4], struct source **src,
                enum source_kind *kind, char *err, size_t errlen)
{
    bool is_stdin = strcmp(path, "-") == 0;
    int fd = is_stdin ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
    *f = NULL;
    *src = NULL;
    *kind = SOURCE_FILE;
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return SMTPSCOPE_ERR_INPUT_OPEN;
    }
    struct stat st;
    bool regular = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
                   lseek(fd, 0, SEEK_CUR) == 0;
    uint8_t magic[SOURCE_MAGIC_BYTES] = {0};
    size_t got;
    if (regular) {
        ssize_t r = pread(fd, magic, sizeof(magic), 0);
        got = r > 0 ? (size_t)r : 0;
        if (kind_of(magic, got) == SOURCE_PIPE) {
            return open_plain(fd, !is_stdin, f, head, err, errlen, path);
        }
    } else {
        got = read_full(fd, magic, sizeof(magic));
    }
    struct source *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        if (!is_stdin) {
            close(fd);
        }
        snprintf(err, errlen, "out of memory");
        return SMTPSCOPE_ERR_INPUT_OPEN;
    }
    s->fd = fd;
    s->own_fd = !is_stdin;
    s->stream = !regular;
    s->kind = kind_of(magic, got);
    if (s->kind == SOURCE_PIPE) {
        memcpy(s->pending, magic, got);
        s->pending_len = got;
    } else {
        s->in = malloc(SOURCE_IN_BYTES);
        if (s->in == NULL || !start_decoder(s)) {
            snprintf(err, errlen, "%s: cannot start the %s decoder", path,
                     source_kind_name(s->kind));
            free_source(s);
            return SMTPSCOPE_ERR_INPUT_OPEN;
        }
        if (regular) {
            got = 0; /* read again from the start */
        }
        memcpy(s->in, magic, got);
        s->in_len = got;
        s->raw_offset = got;
    }
    cookie_io_functions_t io = {cookie_read, NULL, NULL, cookie_close};
    *f = fopencookie(s, "rb", io);
    if (*f == NULL) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        free_source(s);
        return SMTPSCOPE_ERR_INPUT_OPEN;
    }
    if (s->kind != SOURCE_PIPE) {
        /* The capture's own first bytes, handed out again first. */
        ssize_t n = 0;
        while (n < 4 && !s->failed) {
            ssize_t r = cookie_read(s, (char *)s->pending + n, 4 - (size_t)n);
            if (r <= 0) {
                break;
            }
            n += r;
        }
        s->pending_len = (size_t)n;
        s->pending_pos = 0;
    }
    memset(head, 0, 4);
    memcpy(head, s->pending, s->pending_len < 4 ? s->pending_len : 4);
    *src = s;
    *kind = s->kind;
    return SMTPSCOPE_OK;
}

bool source_failure(const struct source *src, char *err, size_t errlen)
{
    if (src == NULL || !src->failed) {
        return false;
    }
    snprintf(err, errlen, "%s", src->why);
    return true;
}
