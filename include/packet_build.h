/*
 * packet_build.h - IPv4/TCP headers and checksums written from scratch.
 *
 * Role: the libnids glue hands libnids packets the capture never held: an
 * IPv6 segment translated to IPv4, a handshake made up for a connection
 * picked up mid-stream, filler bytes for a hole given up, an offloaded
 * segment cut in pieces.  These write them; pure functions, no state:
 * when and where they are fed stays with the glue (stream_nids.c).  Addresses are in network order, ports and numbers in host order.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef PACKET_BUILD_H
#define PACKET_BUILD_H

#include <stdbool.h>
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

/* The most TCP payload one IPv4 packet built here carries (a 20-byte IP
 * header and the longest TCP header leave this much of 65535). */
#define PACKET_PIECE_PAYLOAD_MAX (65535 - 20 - 60)
/* Room a bare segment needs (packet_bare_segment). */
#define PACKET_BARE_MAX 44

/* The IPv4 address libnids is given for an IPv6 address (network order):
 * 0xF0000000 and 28 bits of a hash of it keyed by seed, never the
 * broadcast address.  Its reverse lives with the caller. */
uint32_t packet_v6_token(uint64_t seed, const uint8_t addr[16]);

/* A TCP segment without payload as an IPv4 packet at p (PACKET_BARE_MAX
 * bytes of room), checksummed; a SYN carries window scale 14.  Returns
 * its length. */
size_t packet_bare_segment(uint8_t *p, uint32_t src, uint32_t dst, uint16_t sport,
                           uint16_t dport, uint32_t seq, uint32_t ack, uint8_t flags);

/* The three segments of a handshake made up for a connection picked up
 * mid-stream, from the initial sequence numbers its later segments
 * imply; each written at p[i] with its length in len[i]. */
void packet_made_up_handshake(uint8_t p[3][PACKET_BARE_MAX], size_t len[3], uint32_t caddr,
                              uint32_t saddr, uint16_t cport, uint16_t sport,
                              uint32_t client_isn, uint32_t server_isn);

/* `n` zero bytes at sequence number seq, as one IPv4 packet at p (room
 * for 40 + n bytes, n <= PACKET_PIECE_PAYLOAD_MAX): the filler handed to
 * libnids for bytes lost to the capture.  Returns its length. */
size_t packet_filler(uint8_t *p, uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport,
                     uint32_t seq, size_t n);

/*
 * A TCP segment cut into IPv4 packets of at most PACKET_PIECE_PAYLOAD_MAX
 * payload bytes with consecutive sequence numbers, as the NIC would have
 * cut it (FIN and PSH on the last piece only): an IPv6 segment, or an
 * offloaded one longer than an IPv4 packet holds.
 */
struct packet_cut {
    const uint8_t *tcp;
    size_t thl, payload, off;
    uint32_t src, dst, seq;
    bool checksum, done;
};
/* False when the TCP header in tcp[0..tcp_len) is not whole. */
bool packet_cut_start(struct packet_cut *c, uint32_t src, uint32_t dst, const uint8_t *tcp,
                      size_t tcp_len, bool checksum);
/* Writes the next piece at out (65535 bytes of room); its length, or 0
 * when every piece was written. */
size_t packet_cut_next(struct packet_cut *c, uint8_t *out);

#endif
