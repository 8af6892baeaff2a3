/*
 * decode.c - link-layer stripping and IPv4 header checks (see decode.h).
 *
 * Supported link types: Ethernet with any stack of 802.1Q / 802.1ad tags,
 * Linux cooked v1 and v2, BSD NULL and LOOP, raw IP (DLT_RAW and the
 * LINKTYPE_IPV4/IPV6 values).  Every read goes through a cursor that checks
 * the remaining length first (tcpdump's GET idea, without longjmp).
 *
 * RFC 791 (IPv4 header), RFC 793 (TCP header), IEEE 802.1Q.
 *
 * SPDX-License-Identifier: MIT
 */
#include "decode.h"
#include "flow.h"

#include <pcap/dlt.h>
#include <string.h>

#ifndef DLT_LINUX_SLL2
#define DLT_LINUX_SLL2 276
#endif
#ifndef DLT_IPV4
#define DLT_IPV4 228
#endif
#ifndef DLT_IPV6
#define DLT_IPV6 229
#endif
/* pcapng stores LINKTYPE_ values; raw IP is 101 there (libpcap maps it to
 * DLT_RAW for pcap files). */
#define LINKTYPE_RAW_VALUE 101

#define ETHERTYPE_IPV4 0x0800
#define ETHERTYPE_IPV6 0x86DD
#define ETHERTYPE_VLAN 0x8100
#define ETHERTYPE_QINQ 0x88A8
#define ETHERTYPE_QINQ_OLD 0x9100
#define ETHERTYPE_MPLS 0x8847
#define ETHERTYPE_MPLS_MC 0x8848
#define ETHERTYPE_PPPOE_SESSION 0x8864
#define VLAN_TAGS_MAX 8
#define MPLS_LABELS_MAX 8

static const char *const result_names[] = {
#define XX(id, str) str,
    DECODE_RESULT_MAP(XX)
#undef XX
};

const char *decode_result_name(enum decode_result r)
{
    return (unsigned)r < DECODE_RESULT_COUNT ? result_names[r] : "?";
}

/* A read cursor over the captured bytes. */
struct cursor {
    const uint8_t *p;
    size_t left;
};

static bool cur_skip(struct cursor *c, size_t n)
{
    if (c->left < n) {
        return false;
    }
    c->p += n;
    c->left -= n;
    return true;
}

static bool cur_be16_at(const struct cursor *c, size_t off, uint16_t *v)
{
    if (c->left < 2 || c->left - 2 < off) {
        return false;
    }
    *v = (uint16_t)(c->p[off] << 8 | c->p[off + 1]);
    return true;
}

bool decode_linktype_supported(int linktype)
{
    switch (linktype) {
    case DLT_EN10MB:
    case DLT_LINUX_SLL:
    case DLT_LINUX_SLL2:
    case DLT_NULL:
    case DLT_LOOP:
    case DLT_RAW:
    case LINKTYPE_RAW_VALUE:
    case DLT_IPV4:
    case DLT_IPV6:
        return true;
    default:
        return false;
    }
}

/* Maps an ethertype to a result; NON_IP for anything not IP. */
static enum decode_result by_ethertype(uint16_t type)
{
    if (type == ETHERTYPE_IPV4) {
        return DECODE_IPV4;
    }
    if (type == ETHERTYPE_IPV6) {
        return DECODE_IPV6;
    }
    return DECODE_NON_IP;
}

static enum decode_result strip_raw(struct cursor *c);

/* RFC 3032: labels until the bottom-of-stack bit; the payload's version
 * nibble then says IPv4 or IPv6 (no pseudowire control word support). */
static enum decode_result strip_mpls(struct cursor *c)
{
    for (int n = 0; n < MPLS_LABELS_MAX; n++) {
        if (c->left < 4) {
            return DECODE_TRUNCATED;
        }
        bool bottom = (c->p[2] & 0x01) != 0;
        cur_skip(c, 4);
        if (bottom) {
            return strip_raw(c);
        }
    }
    return DECODE_MALFORMED;
}

/* RFC 2516 session stage: 6-byte PPPoE header, then the PPP protocol. */
static enum decode_result strip_pppoe(struct cursor *c)
{
    uint16_t proto;
    if (!cur_be16_at(c, 6, &proto) || !cur_skip(c, 8)) {
        return DECODE_TRUNCATED;
    }
    return proto == 0x0021 ? DECODE_IPV4 : proto == 0x0057 ? DECODE_IPV6 : DECODE_NON_IP;
}

static enum decode_result strip_ethernet(struct cursor *c)
{
    uint16_t type;
    if (!cur_be16_at(c, 12, &type) || !cur_skip(c, 14)) {
        return DECODE_TRUNCATED;
    }
    for (int tags = 0; type == ETHERTYPE_VLAN || type == ETHERTYPE_QINQ ||
                       type == ETHERTYPE_QINQ_OLD; tags++) {
        if (tags == VLAN_TAGS_MAX) {
            return DECODE_MALFORMED;
        }
        if (!cur_be16_at(c, 2, &type) || !cur_skip(c, 4)) {
            return DECODE_TRUNCATED;
        }
    }
    if (type == ETHERTYPE_MPLS || type == ETHERTYPE_MPLS_MC) {
        return strip_mpls(c);
    }
    if (type == ETHERTYPE_PPPOE_SESSION) {
        return strip_pppoe(c);
    }
    return by_ethertype(type);
}

/* BSD AF values for IPv6 differ by OS: 24 (NetBSD/OpenBSD), 28, 30, 10. */
static enum decode_result by_af(uint32_t af)
{
    if (af == 2) {
        return DECODE_IPV4;
    }
    if (af == 24 || af == 28 || af == 30 || af == 10) {
        return DECODE_IPV6;
    }
    return DECODE_NON_IP;
}

static enum decode_result strip_null(struct cursor *c, bool network_order)
{
    if (c->left < 4) {
        return DECODE_TRUNCATED;
    }
    uint32_t be = (uint32_t)c->p[0] << 24 | (uint32_t)c->p[1] << 16 |
                  (uint32_t)c->p[2] << 8 | c->p[3];
    uint32_t le = (uint32_t)c->p[3] << 24 | (uint32_t)c->p[2] << 16 |
                  (uint32_t)c->p[1] << 8 | c->p[0];
    cur_skip(c, 4);
    if (network_order) {
        return by_af(be);
    }
    /* DLT_NULL is in the capturing host's order: accept either. */
    enum decode_result r = by_af(le);
    return r != DECODE_NON_IP ? r : by_af(be);
}

static enum decode_result strip_raw(struct cursor *c)
{
    if (c->left < 1) {
        return DECODE_TRUNCATED;
    }
    uint8_t version = c->p[0] >> 4;
    return version == 4 ? DECODE_IPV4 : version == 6 ? DECODE_IPV6 : DECODE_NON_IP;
}

static enum decode_result strip_link(int linktype, struct cursor *c)
{
    uint16_t type;
    switch (linktype) {
    case DLT_EN10MB:
        return strip_ethernet(c);
    case DLT_LINUX_SLL:
        if (!cur_be16_at(c, 14, &type) || !cur_skip(c, 16)) {
            return DECODE_TRUNCATED;
        }
        return by_ethertype(type);
    case DLT_LINUX_SLL2:
        if (!cur_be16_at(c, 0, &type) || !cur_skip(c, 20)) {
            return DECODE_TRUNCATED;
        }
        return by_ethertype(type);
    case DLT_NULL:
        return strip_null(c, false);
    case DLT_LOOP:
        return strip_null(c, true);
    case DLT_RAW:
    case LINKTYPE_RAW_VALUE:
    case DLT_IPV4:
    case DLT_IPV6:
        return strip_raw(c);
    default:
        return DECODE_NON_IP;
    }
}

static enum decode_result check_ipv4(struct cursor *c, struct decoded *out)
{
    if (c->left < 20) {
        return DECODE_TRUNCATED;
    }
    const uint8_t *ip = c->p;
    size_t hlen = (size_t)(ip[0] & 0x0F) * 4;
    size_t total = (size_t)(ip[2] << 8 | ip[3]);
    if ((ip[0] >> 4) != 4 || hlen < 20 || total < hlen) {
        if (total != 0 || (ip[0] >> 4) != 4 || hlen < 20 || ip[9] != 6 ||
            ((ip[6] & 0x3F) | ip[7]) != 0 || c->left < hlen + 20) {
            return DECODE_MALFORMED;
        }
        /* A segment captured on the sending host before the NIC cut it up
         * (TSO/GSO, BIG TCP): the stack leaves the length 0 for the NIC to
         * fill, and the frame holds the whole segment.  Its length is the
         * captured bytes (Wireshark reads these frames the same way). */
        total = c->left;
        out->is_offload = true;
    }
    if (c->left < total) {
        return DECODE_TRUNCATED;
    }
    /* At this point: a whole IPv4 packet of total bytes is captured. */
    uint16_t frag = (uint16_t)((ip[6] & 0x3F) << 8 | ip[7]);
    out->ip = ip;
    out->ip_len = total;
    out->ip_proto = ip[9];
    out->is_fragment = frag != 0;
    out->has_ports = false;
    if (out->ip_proto == 6 && (frag & 0x1FFF) == 0 && total - hlen >= 20) {
        out->sport = be16_at(ip + hlen);
        out->dport = be16_at(ip + hlen + 2);
        out->has_ports = true;
    }
    return DECODE_IPV4;
}

/*
 * The payload length of an IPv6 packet whose header says 0, from the
 * Jumbo Payload option (RFC 2675 2, first in a Hop-by-Hop header), or the
 * captured bytes when there is no Hop-by-Hop header at all; 0 when
 * neither gives a length that the capture holds.
 */
static size_t jumbo_length(const uint8_t *ip, size_t captured)
{
    if (captured <= 40) {
        return 0;
    }
    if (ip[6] != 0) {
        return captured - 40;
    }
    /* Hop-by-Hop header: next, length, then options; the jumbo option is
     * type 0xC2, length 4, and needs no other option before it. */
    if (captured < 48 || ip[42] != 0xC2 || ip[43] != 4) {
        return 0;
    }
    size_t jumbo = (size_t)ip[44] << 24 | (size_t)ip[45] << 16 | (size_t)ip[46] << 8 | ip[47];
    return jumbo > 65535 && jumbo <= captured - 40 ? jumbo : 0;
}

/*
 * RFC 8200 4: walk Hop-by-Hop (0), Routing (43) and Destination Options
 * (60) to the upper-layer header.  Fragment (44), AH (51), ESP (50) and
 * anything else are not analysed.
 */
static enum decode_result check_ipv6(struct cursor *c, struct decoded *out)
{
    if (c->left < 40) {
        return DECODE_TRUNCATED;
    }
    const uint8_t *ip = c->p;
    if ((ip[0] >> 4) != 6) {
        return DECODE_MALFORMED;
    }
    size_t payload = (size_t)(ip[4] << 8 | ip[5]);
    out->is_offload = false;
    if (payload == 0) {
        /* A BIG TCP / GSO segment captured on the sending host: its length
         * is in an RFC 2675 jumbo option, or nowhere (newer kernels drop
         * the option), and the frame holds the whole segment. */
        payload = jumbo_length(ip, c->left);
        if (payload == 0) {
            return DECODE_MALFORMED;
        }
        out->is_offload = true;
    }
    if (c->left - 40 < payload) {
        return DECODE_TRUNCATED;
    }
    /* At this point: the whole IPv6 packet (40 + payload bytes) is here. */
    uint8_t next = ip[6];
    size_t off = 40;
    size_t end = 40 + payload;
    for (int hops = 0; next == 0 || next == 43 || next == 60; hops++) {
        if (hops == 8 || end - off < 8) {
            return DECODE_MALFORMED;
        }
        size_t ext_len = ((size_t)ip[off + 1] + 1) * 8;
        if (end - off < ext_len) {
            return DECODE_MALFORMED;
        }
        next = ip[off];
        off += ext_len;
    }
    if (next != 6) {
        return DECODE_IPV6_UNSUPPORTED;
    }
    if (end - off < 20) {
        return DECODE_MALFORMED;
    }
    out->ip = ip;
    out->ip_len = end;
    out->ip_proto = 6;
    out->l4 = ip + off;
    out->l4_len = end - off;
    out->sport = be16_at(ip + off);
    out->dport = be16_at(ip + off + 2);
    out->has_ports = true;
    return DECODE_IPV6;
}

_Static_assert(sizeof(struct decoded) == 2 * sizeof(const uint8_t *) + 2 * sizeof(size_t) + 8,
               "decode_frame() clears each field: add the new one");

bool decode_ipv4_quick(int linktype, const uint8_t *frame, size_t caplen, const uint8_t **ip,
                       size_t *len)
{
    size_t skip;
    if (linktype == DLT_EN10MB && caplen >= 14 &&
        (frame[12] << 8 | frame[13]) == ETHERTYPE_IPV4) {
        skip = 14;
    } else if (linktype == DLT_RAW || linktype == DLT_IPV4) {
        skip = 0;
    } else {
        return false;
    }
    if (caplen - skip < 20 || (frame[skip] >> 4) != 4) {
        return false;
    }
    *ip = frame + skip;
    *len = caplen - skip;
    return true;
}

enum decode_result decode_frame(int linktype, const uint8_t *frame, size_t caplen,
                                struct decoded *out)
{
    struct cursor c = {frame, caplen};
    /* Field by field: GCC makes a memset of this struct a "rep stos",
     * 6 instructions per packet more (callgrind); the assertion below
     * makes a new field come here too. */
    out->ip = NULL;
    out->ip_len = 0;
    out->l4 = NULL;
    out->l4_len = 0;
    out->ip_proto = 0;
    out->is_fragment = false;
    out->has_ports = false;
    out->is_offload = false;
    out->sport = 0;
    out->dport = 0;
    enum decode_result r = strip_link(linktype, &c);
    if (r == DECODE_IPV6) {
        return check_ipv6(&c, out);
    }
    if (r != DECODE_IPV4) {
        return r;
    }
    return check_ipv4(&c, out);
}
