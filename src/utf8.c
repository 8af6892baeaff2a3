/*
 * utf8.c - UTF-8 well-formedness checks (see utf8.h).
 *
 * SPDX-License-Identifier: MIT
 */
#include "utf8.h"

#include <string.h>

size_t utf8_seq_len(const uint8_t *p, size_t n)
{
    uint8_t c = p[0];
    size_t need;
    uint8_t lo = 0x80;
    uint8_t hi = 0xBF;
    if (c < 0x80) {
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF) {
        need = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 2;
        lo = c == 0xE0 ? 0xA0 : 0x80;
        hi = c == 0xED ? 0x9F : 0xBF;
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 3;
        lo = c == 0xF0 ? 0x90 : 0x80;
        hi = c == 0xF4 ? 0x8F : 0xBF;
    } else {
        return 0;
    }
    if (n <= need || p[1] < lo || p[1] > hi) {
        return 0;
    }
    for (size_t k = 2; k <= need; k++) {
        if (p[k] < 0x80 || p[k] > 0xBF) {
            return 0;
        }
    }
    return need + 1;
}

/* True when none of the 8 bytes at p has its top bit set. */
static bool ascii8(const uint8_t *p)
{
    uint64_t w;
    memcpy(&w, p, sizeof(w)); /* one unaligned load */
    return (w & 0x8080808080808080ULL) == 0;
}

bool utf8_valid(const uint8_t *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        /* ASCII, the usual case: eight bytes per test, no call. */
        if (n - i >= 8 && ascii8(p + i)) {
            i += 8;
            continue;
        }
        if (n - i < 8 && n >= 8 && ascii8(p + n - 8)) {
            return true; /* the tail, overlapping bytes already checked */
        }
        if (p[i] < 0x80) {
            i++;
            continue;
        }
        size_t len = utf8_seq_len(p + i, n - i);
        if (len == 0) {
            return false;
        }
        i += len;
    }
    return true;
}
