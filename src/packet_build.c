/*
 * packet_build.c - IPv4/TCP packets written for libnids (packet_build.h).
 *
 * SPDX-License-Identifier: MIT
 */
#include "packet_build.h"

#include <arpa/inet.h>
#include <string.h>

#include "flow.h"

static uint16_t checksum_fold(uint32_t sum)
{
    while (sum >> 16) {
        sum = (sum & 0xFFFF) + (sum >> 16);
    }
    return (uint16_t)~sum;
}

static uint32_t checksum_add(uint32_t sum, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i + 1 < n; i += 2) {
        sum += (uint32_t)(p[i] << 8 | p[i + 1]);
    }
    if (n & 1) {
        sum += (uint32_t)p[n - 1] << 8;
    }
    return sum;
}

/* TCP checksum over a pseudo-header of the given addresses (RFC 793, 8200). */
uint16_t tcp_checksum(const uint8_t *src, const uint8_t *dst, size_t addr_len,
                             const uint8_t *tcp, size_t tcp_len)
{
    uint32_t sum = checksum_add(0, src, addr_len);
    sum = checksum_add(sum, dst, addr_len);
    sum += 6 + (uint32_t)(tcp_len & 0xFFFF) + (uint32_t)(tcp_len >> 16);
    return checksum_fold(checksum_add(sum, tcp, tcp_len));
}

/* Writes an IPv4 header for tcp_len bytes of TCP into out; returns 20. */
size_t put_ipv4_header(uint8_t *out, uint32_t src, uint32_t dst, size_t tcp_len)
{
    size_t total = 20 + tcp_len;
    memset(out, 0, 20);
    out[0] = 0x45;
    out[2] = (uint8_t)(total >> 8);
    out[3] = (uint8_t)total;
    out[8] = 64;
    out[9] = 6;
    memcpy(out + 12, &src, 4);
    memcpy(out + 16, &dst, 4);
    uint16_t sum = checksum_fold(checksum_add(0, out, 20));
    out[10] = (uint8_t)(sum >> 8);
    out[11] = (uint8_t)sum;
    return 20;
}

void set_tcp_checksum(uint8_t *ip, size_t total)
{
    uint8_t *tcp = ip + 20;
    tcp[16] = tcp[17] = 0;
    uint16_t sum = tcp_checksum(ip + 12, ip + 16, 4, tcp, total - 20);
    tcp[16] = (uint8_t)(sum >> 8);
    tcp[17] = (uint8_t)sum;
}

/* Writes a TCP header of thl bytes (20, or 24 with room for one option)
 * at t: ports, sequence numbers, flags, the largest window, no checksum. */
void put_tcp_header(uint8_t *t, size_t thl, uint16_t sport, uint16_t dport, uint32_t seq,
                           uint32_t ack, uint8_t flags)
{
    memset(t, 0, thl);
    t[0] = (uint8_t)(sport >> 8);
    t[1] = (uint8_t)sport;
    t[2] = (uint8_t)(dport >> 8);
    t[3] = (uint8_t)dport;
    for (int i = 0; i < 4; i++) {
        t[4 + i] = (uint8_t)(seq >> (24 - 8 * i));
        t[8 + i] = (uint8_t)(ack >> (24 - 8 * i));
    }
    t[12] = (uint8_t)((thl / 4) << 4);
    t[13] = flags;
    t[14] = t[15] = 0xFF;
}


uint32_t packet_v6_token(uint64_t seed, const uint8_t addr[16])
{
    uint64_t h = seed;
    for (int i = 0; i < 16; i++) {
        h = (h ^ addr[i]) * 0x100000001B3ULL;
    }
    h ^= h >> 29;
    uint32_t token = 0xF0000000u | (uint32_t)(h & 0x0FFFFFFFu);
    if (token == 0xFFFFFFFFu) {
        token = 0xFFFFFFFEu; /* the broadcast address is special in libnids */
    }
    return htonl(token);
}

size_t packet_bare_segment(uint8_t *p, uint32_t src, uint32_t dst, uint16_t sport,
                           uint16_t dport, uint32_t seq, uint32_t ack, uint8_t flags)
{
    size_t tcp_len = (flags & TCP_FLAG_SYN) ? 24 : 20;
    uint8_t *t = p + put_ipv4_header(p, src, dst, tcp_len);
    put_tcp_header(t, tcp_len, sport, dport, seq, ack, flags);
    if (tcp_len == 24) {
        /* Window scale 14: the real segments' windows are unscaled guesses,
         * so the largest scale keeps libnids' window check from dropping
         * data of a connection whose real scale was never seen. */
        t[20] = 1;
        t[21] = 3;
        t[22] = 3;
        t[23] = 14;
    }
    set_tcp_checksum(p, 20 + tcp_len);
    return 20 + tcp_len;
}

void packet_made_up_handshake(uint8_t p[3][PACKET_BARE_MAX], size_t len[3], uint32_t caddr,
                              uint32_t saddr, uint16_t cport, uint16_t sport,
                              uint32_t client_isn, uint32_t server_isn)
{
    len[0] = packet_bare_segment(p[0], caddr, saddr, cport, sport, client_isn, 0, TCP_FLAG_SYN);
    len[1] = packet_bare_segment(p[1], saddr, caddr, sport, cport, server_isn, client_isn + 1,
                                 TCP_FLAG_SYN | TCP_FLAG_ACK);
    len[2] = packet_bare_segment(p[2], caddr, saddr, cport, sport, client_isn + 1,
                                 server_isn + 1, TCP_FLAG_ACK);
}

size_t packet_filler(uint8_t *p, uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport,
                     uint32_t seq, size_t n)
{
    size_t hl = put_ipv4_header(p, src, dst, 20 + n);
    uint8_t *t = p + hl;
    put_tcp_header(t, 20, sport, dport, seq, 0, 0);
    memset(t + 20, 0, n);
    set_tcp_checksum(p, hl + 20 + n);
    return hl + 20 + n;
}

bool packet_cut_start(struct packet_cut *c, uint32_t src, uint32_t dst, const uint8_t *tcp,
                      size_t tcp_len, bool checksum)
{
    size_t thl = tcp_len >= 20 ? (size_t)(tcp[12] >> 4) * 4 : 0;
    if (thl < 20 || tcp_len < thl) {
        return false;
    }
    *c = (struct packet_cut){.tcp = tcp,
                             .thl = thl,
                             .payload = tcp_len - thl,
                             .src = src,
                             .dst = dst,
                             .seq = be32_at(tcp + 4),
                             .checksum = checksum};
    return true;
}

size_t packet_cut_next(struct packet_cut *c, uint8_t *p)
{
    if (c->done) {
        return 0;
    }
    size_t left = c->payload - c->off;
    size_t n = left > PACKET_PIECE_PAYLOAD_MAX ? PACKET_PIECE_PAYLOAD_MAX : left;
    bool last = n == left;
    size_t hl = put_ipv4_header(p, c->src, c->dst, c->thl + n);
    memcpy(p + hl, c->tcp, c->thl);
    memcpy(p + hl + c->thl, c->tcp + c->thl + c->off, n);
    uint32_t piece_seq = c->seq + (uint32_t)c->off;
    for (int i = 0; i < 4; i++) {
        p[hl + 4 + i] = (uint8_t)(piece_seq >> (24 - 8 * i));
    }
    if (!last) {
        p[hl + 13] &= (uint8_t)~(TCP_FLAG_FIN | TCP_FLAG_PSH);
    }
    if (c->checksum) {
        set_tcp_checksum(p, hl + c->thl + n);
    }
    c->off += n;
    c->done = last;
    return hl + c->thl + n;
}
