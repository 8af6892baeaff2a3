/*
 * community_id.c - Community ID v1 for TCP (community_id.h).
 *
 * SPDX-License-Identifier: MIT
 */
#include "community_id.h"

#include <string.h>

#include <nettle/sha1.h>

#define PROTO_TCP 6

/* Whether endpoint a comes before b: address bytes, then port. */
static int endpoint_cmp(const struct record_endpoint *a, const struct record_endpoint *b,
                        size_t addr_len)
{
    int c = memcmp(a->addr, b->addr, addr_len);
    if (c != 0) {
        return c;
    }
    return a->port < b->port ? -1 : a->port > b->port;
}

void community_id_tcp(const struct record_endpoint *a, const struct record_endpoint *b,
                      uint16_t seed, char out[COMMUNITY_ID_LEN])
{
    size_t addr_len = a->family == 6 ? 16 : 4;
    if (endpoint_cmp(a, b, addr_len) > 0) {
        const struct record_endpoint *t = a;
        a = b;
        b = t;
    }
    uint8_t in[2 + 16 + 16 + 2 + 4];
    size_t n = 0;
    in[n++] = (uint8_t)(seed >> 8);
    in[n++] = (uint8_t)seed;
    memcpy(in + n, a->addr, addr_len);
    n += addr_len;
    memcpy(in + n, b->addr, addr_len);
    n += addr_len;
    in[n++] = PROTO_TCP;
    in[n++] = 0; /* padding */
    in[n++] = (uint8_t)(a->port >> 8);
    in[n++] = (uint8_t)a->port;
    in[n++] = (uint8_t)(b->port >> 8);
    in[n++] = (uint8_t)b->port;
    struct sha1_ctx ctx;
    uint8_t digest[SHA1_DIGEST_SIZE];
    sha1_init(&ctx);
    sha1_update(&ctx, n, in);
    sha1_digest(&ctx, sizeof(digest), digest);
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *o = out;
    *o++ = '1';
    *o++ = ':';
    /* 20 bytes: six groups of three, then two bytes and one '='. */
    for (size_t i = 0; i < 18; i += 3) {
        uint32_t v = (uint32_t)digest[i] << 16 | (uint32_t)digest[i + 1] << 8 | digest[i + 2];
        *o++ = b64[v >> 18];
        *o++ = b64[(v >> 12) & 63];
        *o++ = b64[(v >> 6) & 63];
        *o++ = b64[v & 63];
    }
    uint32_t v = (uint32_t)digest[18] << 16 | (uint32_t)digest[19] << 8;
    *o++ = b64[v >> 18];
    *o++ = b64[(v >> 12) & 63];
    *o++ = b64[(v >> 6) & 63];
    *o++ = '=';
    *o = '\0';
}
