/*
 * decode.h - link-layer and IP decoding with checked reads.
 *
 * Role: between capture and the libnids glue.  Strips the link layer of
 * every supported capture type itself (libnids knows only a few and
 * mishandles VLAN stacks), validates the IP header against the captured
 * length, and says what the packet is, so that everything not analysed is
 * counted rather than silently lost.  It reads the frame only through
 * length-checked accessors and never writes to it.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef DECODE_H
#define DECODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DECODE_RESULT_MAP(XX)                                                  \
    XX(IPV4, "ipv4")                                                           \
    XX(IPV6, "ipv6")                                                           \
    XX(NON_IP, "non_ip")                                                       \
    XX(IPV6_UNSUPPORTED, "ipv6_unsupported")                                   \
    XX(TRUNCATED, "truncated")                                                 \
    XX(MALFORMED, "malformed")

enum decode_result {
#define XX(id, str) DECODE_##id,
    DECODE_RESULT_MAP(XX)
#undef XX
    DECODE_RESULT_COUNT
};

struct decoded {
    const uint8_t *ip;   /* start of the IP header, borrowed from the frame */
    size_t ip_len;       /* the IP total length, all of it captured */
    const uint8_t *l4;   /* IPv6: the TCP segment after extension headers */
    size_t l4_len;
    uint8_t ip_proto;    /* IPPROTO_TCP etc. */
    bool is_fragment;    /* any IPv4 fragment */
    bool has_ports;      /* TCP header present: ports below are valid */
    bool is_offload;     /* the IP length field was 0 (a TSO/GSO segment
                          * captured before segmentation): ip_len, or
                          * l4_len for IPv6, is the captured length and
                          * may pass 65535 */
    uint16_t sport;
    uint16_t dport;
};

/* True when decode_frame() knows this pcap link type (DLT_*). */
bool decode_linktype_supported(int linktype);

/*
 * Decodes frame[0..caplen) of the given link type.  On DECODE_IPV4 *out
 * describes the IP packet; out->ip borrows from frame.  On DECODE_IPV6,
 * out->ip is the IPv6 header (addresses at +8 and +24) and out->l4 the TCP
 * segment found after any Hop-by-Hop, Routing or Destination Options
 * headers; fragments, AH, ESP and non-TCP give DECODE_IPV6_UNSUPPORTED.
 * DECODE_TRUNCATED means the snaplen cut the IP packet short.
 */
enum decode_result decode_frame(int linktype, const uint8_t *frame, size_t caplen,
                                 struct decoded *out);

/*
 * The IPv4 header of the usual frame (untagged Ethernet, or raw IPv4),
 * found without a full decode: *ip and *len (the bytes captured from the
 * IP header on, unchecked) set and true; false for any other frame.  For
 * hints only, never for what is reported.
 */
bool decode_ipv4_quick(int linktype, const uint8_t *frame, size_t caplen, const uint8_t **ip,
                       size_t *len);

const char *decode_result_name(enum decode_result r);

#endif
