/*
 * packet_build.c - IPv4/TCP packets written for libnids (packet_build.h).
 *
 * SPDX-License-Identifier: MIT
 */
#include "packet_build.h"

#include <string.h>

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

