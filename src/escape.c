/*
 * escape.c - JSON and terminal escaping of wire text (see escape.h).
 *
 * RFC 8259 7 (JSON strings), RFC 3629 (UTF-8).
 *
 * SPDX-License-Identifier: MIT
 */
#include "escape.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static const char hex_digits[] = "0123456789abcdef";

bool out_str(struct capbuf *out, const char *s)
{
    return capbuf_append(out, s, strlen(s));
}

bool out_fmt(struct capbuf *out, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    if (n < 0) {
        return false;
    }
    size_t len = (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1;
    return capbuf_append(out, tmp, len);
}

bool out_ms(struct capbuf *out, long long us)
{
    const char *sign = us < 0 ? "-" : "";
    unsigned long long a = us < 0 ? 0ULL - (unsigned long long)us : (unsigned long long)us;
    return out_fmt(out, "%s%llu.%03llu", sign, a / 1000, a % 1000);
}

/* Length of the valid UTF-8 sequence at p (1-4), or 0 if invalid. */
static size_t utf8_seq_len(const uint8_t *p, size_t n)
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

bool escape_json(struct capbuf *out, struct span s, size_t max)
{
    size_t n = s.len < max ? s.len : max;
    bool ok = capbuf_append(out, "\"", 1);
    size_t i = 0;
    while (ok && i < n) {
        uint8_t c = s.ptr[i];
        size_t run = utf8_seq_len(s.ptr + i, n - i);
        if (run == 0) {
            ok = out_str(out, "\\ufffd");
            i++;
        } else if (run > 1) {
            ok = capbuf_append(out, s.ptr + i, run);
            i += run;
        } else if (c == '"' || c == '\\') {
            char esc[2] = {'\\', (char)c};
            ok = capbuf_append(out, esc, 2);
            i++;
        } else if (c < 0x20 || c == 0x7F) {
            char esc[6] = {'\\', 'u', '0', '0', hex_digits[c >> 4], hex_digits[c & 15]};
            ok = capbuf_append(out, esc, 6);
            i++;
        } else {
            ok = capbuf_append(out, &c, 1);
            i++;
        }
    }
    return ok && capbuf_append(out, "\"", 1);
}

bool escape_terminal(struct capbuf *out, struct span s, size_t max)
{
    size_t n = s.len < max ? s.len : max;
    bool ok = true;
    for (size_t i = 0; ok && i < n; i++) {
        uint8_t c = s.ptr[i];
        if (c >= 0x20 && c < 0x7F && c != '\\') {
            ok = capbuf_append(out, &c, 1);
        } else if (c == '\\') {
            ok = capbuf_append(out, "\\\\", 2);
        } else {
            char esc[4] = {'\\', 'x', hex_digits[c >> 4], hex_digits[c & 15]};
            ok = capbuf_append(out, esc, 4);
        }
    }
    return ok;
}
