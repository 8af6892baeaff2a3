/*
 * auth.c - the mechanism and user name of an SMTP AUTH exchange (auth.h).
 *
 * SPDX-License-Identifier: MIT
 */
#include "auth.h"

#include <string.h>

static int b64_value(uint8_t c)
{
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }
    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }
    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }
    if (c == '+') {
        return 62;
    }
    if (c == '/') {
        return 63;
    }
    return -1;
}

/* Decodes base64 into out (cap bytes); returns the length or -1. */
static long b64_decode(struct span in, uint8_t *out, size_t cap)
{
    uint32_t acc = 0;
    int bits = 0;
    size_t n = 0;
    for (size_t i = 0; i < in.len; i++) {
        uint8_t c = in.ptr[i];
        if (c == '=') {
            break;
        }
        int v = b64_value(c);
        if (v < 0) {
            return -1;
        }
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (n == cap) {
                return -1;
            }
            out[n++] = (uint8_t)(acc >> bits);
        }
    }
    return (long)n;
}

enum auth_mech auth_mech_of(struct span m)
{
    static const struct {
        const char *name;
        enum auth_mech mech;
    } names[] = {{"PLAIN", AUTH_MECH_PLAIN}, {"LOGIN", AUTH_MECH_LOGIN},
                 {"CRAM-MD5", AUTH_MECH_CRAM}};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        size_t len = strlen(names[i].name);
        if (m.len != len) {
            continue;
        }
        size_t k = 0;
        /* Letters in either case; '-' and digits as they are ("CRAM-MD5"). */
        while (k < len && (m.ptr[k] == (uint8_t)names[i].name[k] ||
                           ((m.ptr[k] & ~0x20) == (uint8_t)names[i].name[k] &&
                            names[i].name[k] >= 'A' && names[i].name[k] <= 'Z'))) {
            k++;
        }
        if (k == len) {
            return names[i].mech;
        }
    }
    return AUTH_MECH_OTHER;
}

bool auth_user_of(enum auth_mech mech, struct span b64, uint8_t *buf, size_t cap,
                  struct span *user)
{
    long n = b64_decode(b64, buf, cap);
    if (n <= 0) {
        return false;
    }
    switch (mech) {
    case AUTH_MECH_PLAIN: {
        /* authzid NUL authcid NUL passwd (RFC 4616 2) */
        const uint8_t *nul1 = memchr(buf, 0, (size_t)n);
        if (nul1 == NULL) {
            return false;
        }
        const uint8_t *authcid = nul1 + 1;
        const uint8_t *nul2 = memchr(authcid, 0, (size_t)(buf + n - authcid));
        if (nul2 == NULL) {
            return false;
        }
        *user = span_make(authcid, (size_t)(nul2 - authcid));
        return true;
    }
    case AUTH_MECH_LOGIN:
        *user = span_make(buf, (size_t)n);
        return true;
    case AUTH_MECH_CRAM: {
        /* user SP digest (RFC 2195 2) */
        const uint8_t *sp = memchr(buf, ' ', (size_t)n);
        *user = span_make(buf, sp ? (size_t)(sp - buf) : 0);
        return true;
    }
    case AUTH_MECH_NONE:
    case AUTH_MECH_OTHER:
        break;
    }
    *user = span_make(buf, 0);
    return true;
}

bool auth_prompt_asks_password(struct span t)
{
    size_t len = t.len > 40 ? 40 : t.len;
    uint8_t buf[32];
    long n = b64_decode(span_make(t.ptr, len - len % 4), buf, sizeof(buf));
    return n >= 4 && (buf[0] | 0x20) == 'p' && (buf[1] | 0x20) == 'a' &&
           (buf[2] | 0x20) == 's' && (buf[3] | 0x20) == 's';
}
