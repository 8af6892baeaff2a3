/*
 * packet_build.h - IPv4/TCP headers and checksums written from scratch.
 *
 * Role: the libnids glue hands libnids packets the capture never held: an
 * IPv6 segment translated to IPv4, a handshake made up for a connection
 * picked up mid-stream, filler bytes for a hole given up, an offloaded
 * segment cut in pieces.  These write their headers; pure functions, no
 * state.  Addresses are in network order, ports and numbers in host order.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef PACKET_BUILD_H
#define PACKET_BUILD_H

#include <stddef.h>
#include <stdint.h>

/* TCP checksum over a pseudo-header of the given addresses (RFC 793, 8200);
 * 0 when tcp already carries a right one. */
uint16_t tcp_checksum(const uint8_t *src, const uint8_t *dst, size_t addr_len,
                      const uint8_t *tcp, size_t tcp_len);
/* Writes an IPv4 header for tcp_len bytes of TCP into out; returns 20. */
size_t put_ipv4_header(uint8_t *out, uint32_t src, uint32_t dst, size_t tcp_len);
/* Sets the TCP checksum of the IPv4 packet ip[0..total) (20-byte header). */
void set_tcp_checksum(uint8_t *ip, size_t total);
/* Writes a TCP header of thl bytes (20, or 24 with room for one option)
 * at t: ports, sequence numbers, flags, the largest window, no checksum. */
void put_tcp_header(uint8_t *t, size_t thl, uint16_t sport, uint16_t dport, uint32_t seq,
                    uint32_t ack, uint8_t flags);

#endif
