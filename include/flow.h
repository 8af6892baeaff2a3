/*
 * flow.h - what names a TCP flow: the one TCP header view, the one flow
 * hash and the one port set every stage shares.
 *
 * Role: the decoder, the pipeline (port choice, greeting discovery, the
 * split between worker processes) and the libnids glue (look-ahead hints,
 * SMTP ports) all read TCP headers, hash connections and test ports.  They
 * do it here, so that the stage that sends a packet to a worker and the
 * stage that looks up its stream agree on what a connection is.
 *
 * Everything is inline: these run once or more per packet.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef FLOW_H
#define FLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define TCP_FLAG_FIN 0x01
#define TCP_FLAG_SYN 0x02
#define TCP_FLAG_RST 0x04
#define TCP_FLAG_PSH 0x08
#define TCP_FLAG_ACK 0x10

static inline uint16_t be16_at(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t be32_at(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/*
 * A TCP segment as read from its header.  src and dst are IPv4 addresses
 * in network order (for IPv6, the glue's stand-in tokens); sport, dport,
 * seq and ack in host order; payload is the segment's data length.
 */
struct tcp_view {
    uint32_t src;
    uint32_t dst;
    uint16_t sport;
    uint16_t dport;
    uint32_t seq;
    uint32_t ack;
    uint8_t flags;
    uint8_t header_len;
    size_t payload;
};

/*
 * Reads the TCP header at th, seg_len bytes of segment captured: false
 * unless a whole header (20 bytes or its data offset, whichever is more)
 * is there.  Addresses are left as they were.
 */
static inline bool tcp_view_read(const uint8_t *th, size_t seg_len, struct tcp_view *v)
{
    if (seg_len < 20) {
        return false;
    }
    size_t thl = (size_t)(th[12] >> 4) * 4;
    if (thl < 20 || thl > seg_len) {
        return false;
    }
    v->sport = be16_at(th);
    v->dport = be16_at(th + 2);
    v->seq = be32_at(th + 4);
    v->ack = be32_at(th + 8);
    v->flags = th[13];
    v->header_len = (uint8_t)thl;
    v->payload = seg_len - thl;
    return true;
}

/*
 * The flow hash: the same value for both directions of a connection,
 * never 0 (0 marks an empty slot in the tables that use it).  IPv6
 * addresses are folded to 32 bits first (flow_fold6).
 */
static inline uint64_t flow_hash(uint32_t addr1, uint16_t port1, uint32_t addr2, uint16_t port2)
{
    uint64_t x = (uint64_t)addr1 << 16 | port1;
    uint64_t y = (uint64_t)addr2 << 16 | port2;
    if (x > y) {
        uint64_t t = x;
        x = y;
        y = t;
    }
    uint64_t h = (x * 0x9E3779B97F4A7C15ULL) ^ y;
    h *= 0xBF58476D1CE4E5B9ULL;
    return (h ^ (h >> 31)) | 1;
}

static inline uint32_t flow_fold6(const uint8_t addr[16])
{
    uint32_t w[4];
    memcpy(w, addr, 16);
    return w[0] ^ w[1] ^ w[2] ^ w[3];
}

/* A set of TCP ports: one bit test per packet. */
struct port_set {
    uint64_t bits[65536 / 64];
};

static inline void port_set_clear(struct port_set *s)
{
    memset(s->bits, 0, sizeof(s->bits));
}

static inline void port_set_add(struct port_set *s, uint16_t port)
{
    s->bits[port / 64] |= 1ULL << (port % 64);
}

static inline bool port_set_has(const struct port_set *s, uint16_t port)
{
    return (s->bits[port / 64] >> (port % 64)) & 1;
}

static inline void port_set_from(struct port_set *s, const uint16_t *ports, size_t n)
{
    port_set_clear(s);
    for (size_t i = 0; i < n; i++) {
        port_set_add(s, ports[i]);
    }
}

#endif
