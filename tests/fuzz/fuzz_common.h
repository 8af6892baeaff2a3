/*
 * fuzz_common.h - helpers shared by the fuzz harnesses (header-only).
 *
 * Role: a checking output FILE for the writers and a tiny deterministic
 * PRNG for split sizes.  The FILE is made with fopencookie(): everything
 * the JSON or terminal writer prints goes through a write hook that checks
 * the escaping discipline (STYLE.md 6.5) byte by byte and then discards the
 * bytes, like /dev/null but with teeth:
 *  - JSON: valid UTF-8 (RFC 3629), no C0 control byte except the '\n' that
 *    ends each line, no DEL;
 *  - terminal: printable ASCII, '\n' and '\t' only.
 * A violation aborts, so libFuzzer and replay.c report it with the input.
 * C1 controls encoded as UTF-8 (U+0080..U+009F) are legal JSON; they are
 * only counted (fuzz_c1_seen) because some terminals act on them.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef FUZZ_COMMON_H
#define FUZZ_COMMON_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include <sanitizer/asan_interface.h> /* no-op macros without ASan */

enum fuzz_out_kind { FUZZ_OUT_JSON, FUZZ_OUT_TERMINAL };

struct fuzz_out {
    enum fuzz_out_kind kind;
    unsigned utf8_need;  /* continuation bytes still due */
    uint8_t utf8_lo;     /* allowed range of the next continuation byte */
    uint8_t utf8_hi;
    uint8_t utf8_lead;   /* lead byte of the sequence in progress */
    uint64_t n_bytes;
};

static uint64_t fuzz_c1_seen;

static inline void fuzz_out_fail(const char *what, uint8_t c)
{
    fprintf(stderr, "fuzz: writer output violates escaping: %s (byte 0x%02x)\n", what, c);
    abort();
}

static inline void fuzz_out_byte(struct fuzz_out *o, uint8_t c)
{
    o->n_bytes++;
    if (o->kind == FUZZ_OUT_TERMINAL) {
        if (!((c >= 0x20 && c < 0x7F) || c == '\n' || c == '\t')) {
            fuzz_out_fail("terminal byte not printable ASCII", c);
        }
        return;
    }
    if (o->utf8_need > 0) {
        if (c < o->utf8_lo || c > o->utf8_hi) {
            fuzz_out_fail("JSON not valid UTF-8 (continuation)", c);
        }
        if (o->utf8_lead == 0xC2 && c <= 0x9F) {
            fuzz_c1_seen++;
        }
        o->utf8_need--;
        o->utf8_lo = 0x80;
        o->utf8_hi = 0xBF;
        return;
    }
    if (c < 0x80) {
        if ((c < 0x20 && c != '\n') || c == 0x7F) {
            fuzz_out_fail("raw control byte in JSON", c);
        }
        return;
    }
    o->utf8_lead = c;
    o->utf8_lo = 0x80;
    o->utf8_hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
        o->utf8_need = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
        o->utf8_need = 2;
        o->utf8_lo = c == 0xE0 ? 0xA0 : 0x80;
        o->utf8_hi = c == 0xED ? 0x9F : 0xBF;
    } else if (c >= 0xF0 && c <= 0xF4) {
        o->utf8_need = 3;
        o->utf8_lo = c == 0xF0 ? 0x90 : 0x80;
        o->utf8_hi = c == 0xF4 ? 0x8F : 0xBF;
    } else {
        fuzz_out_fail("JSON not valid UTF-8 (lead)", c);
    }
}

static inline ssize_t fuzz_out_write(void *cookie, const char *buf, size_t size)
{
    struct fuzz_out *o = cookie;
    for (size_t i = 0; i < size; i++) {
        fuzz_out_byte(o, (uint8_t)buf[i]);
    }
    return (ssize_t)size;
}

static inline int fuzz_out_close(void *cookie)
{
    struct fuzz_out *o = cookie;
    if (o->utf8_need != 0) {
        fuzz_out_fail("JSON ends inside a UTF-8 sequence", o->utf8_lead);
    }
    free(o);
    return 0;
}

/* A FILE that checks what the writer of this kind prints, then drops it. */
static inline FILE *fuzz_out_open(enum fuzz_out_kind kind)
{
    struct fuzz_out *o = calloc(1, sizeof(*o));
    if (o == NULL) {
        abort();
    }
    o->kind = kind;
    cookie_io_functions_t io = {NULL, fuzz_out_write, NULL, fuzz_out_close};
    FILE *f = fopencookie(o, "w", io);
    if (f == NULL) {
        abort();
    }
    return f;
}

/* xorshift64*: split sizes and coin flips derived from input bytes. */
struct fuzz_rng {
    uint64_t s;
};

static inline void fuzz_rng_seed(struct fuzz_rng *r, uint64_t seed)
{
    r->s = seed * 0x9E3779B97F4A7C15ULL + 0x2545F4914F6CDD1DULL;
    if (r->s == 0) {
        r->s = 1;
    }
}

static inline uint64_t fuzz_rng_next(struct fuzz_rng *r)
{
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return r->s * 0x2545F4914F6CDD1DULL;
}

/* Uniform-ish in [0, n); n > 0. */
static inline size_t fuzz_rng_below(struct fuzz_rng *r, size_t n)
{
    return (size_t)(fuzz_rng_next(r) % n);
}

/* An exact-size heap copy, so ASan sees any read past the end. */
static inline uint8_t *fuzz_dup(const uint8_t *p, size_t n)
{
    uint8_t *q = malloc(n > 0 ? n : 1);
    if (q == NULL) {
        abort();
    }
    if (n > 0) {
        memcpy(q, p, n);
    }
    return q;
}

/*
 * A byte stream handed to a parser the way a TCP glue hands it: the caller
 * holds buf[lo..hi) (kept bytes plus new ones), and everything outside that
 * window is ASan-poisoned, so a read before lo (already consumed) or at or
 * past hi (not yet arrived) is reported as an error.  One allocation per
 * stream keeps slow-drip inputs linear (no copy per segment).
 */
struct fuzz_window {
    uint8_t *buf;
    size_t total;
    size_t lo;
    size_t hi;
};

static inline void fuzz_window_init(struct fuzz_window *w, const uint8_t *p, size_t n)
{
    w->buf = fuzz_dup(p, n);
    w->total = n;
    w->lo = 0;
    w->hi = 0;
    ASAN_POISON_MEMORY_REGION(w->buf, n);
}

/* n more bytes arrive (n <= total - hi). */
static inline void fuzz_window_extend(struct fuzz_window *w, size_t n)
{
    ASAN_UNPOISON_MEMORY_REGION(w->buf + w->hi, n);
    w->hi += n;
}

/* The caller lets go of its first n held bytes (n <= hi - lo). */
static inline void fuzz_window_consume(struct fuzz_window *w, size_t n)
{
    ASAN_POISON_MEMORY_REGION(w->buf + w->lo, n);
    w->lo += n;
}

static inline void fuzz_window_free(struct fuzz_window *w)
{
    ASAN_UNPOISON_MEMORY_REGION(w->buf, w->total);
    free(w->buf);
    w->buf = NULL;
}

#define FUZZ_CHECK(cond)                                                       \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "fuzz: invariant failed at %s:%d: %s\n", __FILE__, \
                    __LINE__, #cond);                                          \
            abort();                                                           \
        }                                                                      \
    } while (0)

#endif
