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
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "utf8.h"

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

/* "00".."99": two digits per division when printing integers. */
static const char digit_pairs[201] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

static const unsigned long long powers_of_ten[20] = {
    1ULL, 10ULL, 100ULL, 1000ULL, 10000ULL, 100000ULL, 1000000ULL, 10000000ULL,
    100000000ULL, 1000000000ULL, 10000000000ULL, 100000000000ULL, 1000000000000ULL,
    10000000000000ULL, 100000000000000ULL, 1000000000000000ULL, 10000000000000000ULL,
    100000000000000000ULL, 1000000000000000000ULL, 10000000000000000000ULL,
};

/* Digits of v: log10 estimated from the bit length (1233/4096 ~ log10 2),
 * then corrected by one comparison. */
static size_t decimal_len(unsigned long long v)
{
    unsigned bits = 64 - (unsigned)__builtin_clzll(v | 1);
    size_t n = (bits * 1233) >> 12;
    n += n < 20 && v >= powers_of_ten[n];
    return n > 0 ? n : 1;
}

char *put_u64_fixed(char *d, unsigned long long v, size_t width)
{
    size_t n = width;
    while (n >= 2) {
        unsigned pair = (unsigned)(v % 100) * 2;
        v /= 100;
        d[--n] = digit_pairs[pair + 1];
        d[--n] = digit_pairs[pair];
    }
    if (n == 1) {
        d[0] = (char)('0' + v % 10);
    }
    return d + width;
}

/* Two digits of v < 100. */
static char *put_pair(char *d, unsigned v)
{
    memcpy(d, digit_pairs + v * 2, 2);
    return d + 2;
}

/* One or two digits of v < 100. */
static char *put_small(char *d, unsigned v)
{
    if (v < 10) {
        *d = (char)('0' + v);
        return d + 1;
    }
    return put_pair(d, v);
}

char *put_u64(char *d, unsigned long long v)
{
    /* Most numbers in a record are short (codes, line counts, octets,
     * milliseconds): no loop and no digit count for them. */
    if (v < 100) {
        return put_small(d, (unsigned)v);
    }
    if (v < 10000) {
        return put_pair(put_small(d, (unsigned)v / 100), (unsigned)v % 100);
    }
    return put_u64_fixed(d, v, decimal_len(v));
}

char *put_ms(char *d, long long us)
{
    unsigned long long a = us < 0 ? 0ULL - (unsigned long long)us : (unsigned long long)us;
    unsigned frac = (unsigned)(a % 1000);
    if (us < 0) {
        *d++ = '-';
    }
    d = put_u64(d, a / 1000);
    d[0] = '.';
    d[1] = (char)('0' + frac / 100);
    return put_pair(d + 2, frac % 100);
}

char *out_room_slow(struct capbuf *out, size_t len)
{
    return capbuf_reserve(out, len) ? (char *)out->data + out->len : NULL;
}

/* Formatted on the stack, then appended: the capped append takes a number
 * that fits even when out is nearly full. */
bool out_u64(struct capbuf *out, unsigned long long v)
{
    char tmp[OUT_U64_MAX];
    return capbuf_append(out, tmp, (size_t)(put_u64(tmp, v) - tmp));
}

bool out_ms(struct capbuf *out, long long us)
{
    char tmp[OUT_MS_MAX];
    return capbuf_append(out, tmp, (size_t)(put_ms(tmp, us) - tmp));
}

static uint32_t code_point(const uint8_t *p, size_t n)
{
    uint32_t cp = n == 2 ? p[0] & 0x1Fu : n == 3 ? p[0] & 0x0Fu : p[0] & 0x07u;
    for (size_t k = 1; k < n; k++) {
        cp = cp << 6 | (p[k] & 0x3Fu);
    }
    return cp;
}

/*
 * Valid code points still written as \uXXXX: C1 controls (U+0080-U+009F,
 * U+009B is a terminal's CSI), the line and paragraph separators, and the
 * bidirectional overrides and isolates that can reorder what a reader sees
 * (Trojan Source).
 */
static bool json_escaped_code_point(const uint8_t *p, size_t n)
{
    uint32_t cp = code_point(p, n);
    return (cp >= 0x80 && cp <= 0x9F) || cp == 0x2028 || cp == 0x2029 ||
           (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069) || cp == 0xFEFF;
}

static bool put_u_escape(struct capbuf *out, uint32_t cp)
{
    char esc[6] = {'\\', 'u', hex_digits[(cp >> 12) & 15], hex_digits[(cp >> 8) & 15],
                   hex_digits[(cp >> 4) & 15], hex_digits[cp & 15]};
    return capbuf_append(out, esc, sizeof(esc));
}

/* Bytes that go into a JSON string as they are: printable ASCII but the
 * quote and the backslash (a table: this test runs for every byte). */
static const uint8_t json_plain_table[256] = {
    [0x20] = 1, [0x21] = 1, [0x23 ... 0x5B] = 1, [0x5D ... 0x7E] = 1,
};

/* Bytes that go into HTML text and attributes as they are. */
static const uint8_t html_plain_table[256] = {
    [0x20 ... 0x21] = 1, [0x23 ... 0x25] = 1, [0x28 ... 0x3B] = 1, [0x3D] = 1,
    [0x3F ... 0x7E] = 1,
};

/* Appends the run of HTML-plain bytes at s[*i..n) and moves *i past it;
 * false only when out is full. */
static bool append_html_plain_run(struct capbuf *out, struct span s, size_t *i, size_t n)
{
    size_t run = *i;
    while (run < n && html_plain_table[s.ptr[run]]) {
        run++;
    }
    bool ok = run == *i || capbuf_append(out, s.ptr + *i, run - *i);
    *i = run;
    return ok;
}

#define BYTES8(c) (0x0101010101010101ULL * (uint8_t)(c))

/* True when some byte of w is zero (exact for "some", Hacker's Delight). */
static bool has_zero_byte(uint64_t w)
{
    return ((w - BYTES8(0x01)) & ~w & BYTES8(0x80)) != 0;
}

/*
 * json_plain_table for eight bytes at once: none below 0x20, none at or
 * above 0x7F (w + 1 sets the top bit of a 0x7F byte), no quote and no
 * backslash.  A carry between bytes can only make it answer false.
 */
static bool json_plain8(const uint8_t *p)
{
    uint64_t w;
    memcpy(&w, p, sizeof(w)); /* one unaligned load */
    uint64_t outside = ((w - BYTES8(0x20)) & ~w) | w | (w + BYTES8(0x01));
    return (outside & BYTES8(0x80)) == 0 && !has_zero_byte(w ^ BYTES8('"')) &&
           !has_zero_byte(w ^ BYTES8('\\'));
}

#ifdef __SSE2__
/* Bits set where the 16 bytes at p need escaping: below 0x20 or at or
 * above 0x7F (a signed compare takes both at once), quote, backslash. */
static unsigned json_special16(const uint8_t *p)
{
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
    __m128i bad = _mm_or_si128(_mm_cmplt_epi8(v, _mm_set1_epi8(0x20)),
                               _mm_cmpeq_epi8(v, _mm_set1_epi8(0x7F)));
    bad = _mm_or_si128(bad, _mm_cmpeq_epi8(v, _mm_set1_epi8('"')));
    bad = _mm_or_si128(bad, _mm_cmpeq_epi8(v, _mm_set1_epi8('\\')));
    return (unsigned)_mm_movemask_epi8(bad);
}
#endif

/* Length of the run of bytes at p[0..n) that go into a JSON string as they are. */
size_t json_plain_len(const uint8_t *p, size_t n)
{
    size_t i = 0;
#ifdef __SSE2__
    if (n >= 16) {
        for (; n - i >= 16; i += 16) {
            unsigned bad = json_special16(p + i);
            if (bad != 0) {
                return i + (size_t)__builtin_ctz(bad);
            }
        }
        if (i == n) {
            return n;
        }
        /* The last 16 bytes, overlapping some already known plain. */
        unsigned bad = json_special16(p + n - 16) >> (16 - (n - i));
        return bad == 0 ? n : i + (size_t)__builtin_ctz(bad);
    }
#endif
    while (n - i >= 8 && json_plain8(p + i)) {
        i += 8;
    }
    /* Fewer than eight left: test the last eight, overlapping bytes
     * already known plain, rather than one at a time. */
    if (i < n && n - i < 8 && n >= 8 && json_plain8(p + n - 8)) {
        return n;
    }
    while (i < n && json_plain_table[p[i]]) {
        i++;
    }
    return i;
}

/* capbuf_append, skipping empty runs (whose pointer may be NULL). */
static bool append_some(struct capbuf *out, const uint8_t *p, size_t len)
{
    return len == 0 || capbuf_append(out, p, len);
}

/* The general case (escape.h): s[plain..n) holds something to escape, or
 * out must grow. */
bool escape_json_slow(struct capbuf *out, struct span s, size_t n, size_t plain)
{
    bool ok = capbuf_append(out, "\"", 1) && append_some(out, s.ptr, plain);
    size_t i = plain;
    while (ok && i < n) {
        uint8_t c = s.ptr[i];
        size_t seq = utf8_seq_len(s.ptr + i, n - i);
        if (seq == 0) {
            ok = OUT_LIT(out, "\\ufffd");
            i++;
        } else if (seq > 1 && !json_escaped_code_point(s.ptr + i, seq)) {
            ok = capbuf_append(out, s.ptr + i, seq);
            i += seq;
        } else if (seq > 1) {
            ok = put_u_escape(out, code_point(s.ptr + i, seq));
            i += seq;
        } else if (c == '"' || c == '\\') {
            char esc[2] = {'\\', (char)c};
            ok = capbuf_append(out, esc, 2);
            i++;
        } else {
            char esc[6] = {'\\', 'u', '0', '0', hex_digits[c >> 4], hex_digits[c & 15]};
            ok = capbuf_append(out, esc, 6);
            i++;
        }
        size_t run = ok ? json_plain_len(s.ptr + i, n - i) : 0;
        ok = ok && append_some(out, s.ptr + i, run);
        i += run;
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

/* Code point of a valid multi-byte UTF-8 sequence of length seq at p. */
static uint32_t utf8_decode(const uint8_t *p, size_t seq)
{
    uint32_t cp = p[0] & (seq == 2 ? 0x1F : seq == 3 ? 0x0F : 0x07);
    for (size_t k = 1; k < seq; k++) {
        cp = (cp << 6) | (p[k] & 0x3F);
    }
    return cp;
}

/*
 * Code points that are valid UTF-8 but would let captured text disguise
 * itself: C1 controls, bidi embeddings, overrides and isolates (the
 * "Trojan Source" trick), line and paragraph separators, BOM.
 */
static bool html_hidden_control(uint32_t cp)
{
    return (cp >= 0x80 && cp <= 0x9F) || cp == 0x200E || cp == 0x200F ||
           (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069) ||
           cp == 0x2028 || cp == 0x2029 || cp == 0xFEFF;
}

bool escape_html(struct capbuf *out, struct span s, size_t max)
{
    size_t n = s.len < max ? s.len : max;
    bool ok = true;
    size_t i = 0;
    while (ok && i < n) {
        ok = append_html_plain_run(out, s, &i, n);
        if (!ok || i == n) {
            break;
        }
        uint8_t c = s.ptr[i];
        size_t seq = utf8_seq_len(s.ptr + i, n - i);
        switch (c) {
        case '&':
            ok = OUT_LIT(out, "&amp;");
            break;
        case '<':
            ok = OUT_LIT(out, "&lt;");
            break;
        case '>':
            ok = OUT_LIT(out, "&gt;");
            break;
        case '"':
            ok = OUT_LIT(out, "&quot;");
            break;
        case '\'':
            ok = OUT_LIT(out, "&#39;");
            break;
        default:
            if (seq == 0) {
                ok = OUT_LIT(out, "\xEF\xBF\xBD"); /* U+FFFD */
                seq = 1;
            } else if (seq == 1) {
                char esc[4] = {'\\', 'x', hex_digits[c >> 4], hex_digits[c & 15]};
                ok = capbuf_append(out, esc, sizeof(esc));
            } else if (html_hidden_control(utf8_decode(s.ptr + i, seq))) {
                ok = out_fmt(out, "\\u{%04x}", (unsigned)utf8_decode(s.ptr + i, seq));
            } else {
                ok = capbuf_append(out, s.ptr + i, seq);
            }
            i += seq;
            continue;
        }
        i++;
    }
    return ok;
}
