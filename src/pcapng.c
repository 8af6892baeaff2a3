/*
 * pcapng.c - minimal pcapng reader (see pcapng.h).
 *
 * Every length read from the file is checked against what is left of the
 * block before it is used; a block must be a multiple of 4 octets, at least
 * 12 long, and its trailing length must repeat its leading one.
 *
 * SPDX-License-Identifier: MIT
 */
#include "pcapng.h"

#include <string.h>

#include "smtpscope.h"

#define BT_SHB 0x0A0D0D0Au
#define BT_IDB 0x00000001u
#define BT_SPB 0x00000003u
#define BT_EPB 0x00000006u
#define BYTE_ORDER_MAGIC 0x1A2B3C4Du

static uint32_t rd32(const struct pcapng_reader *r, const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return r->swapped ? __builtin_bswap32(v) : v;
}

static uint16_t rd16(const struct pcapng_reader *r, const uint8_t *p)
{
    uint16_t v;
    memcpy(&v, p, 2);
    return r->swapped ? __builtin_bswap16(v) : v;
}

bool pcapng_is_pcapng(const uint8_t head[4])
{
    uint32_t v;
    memcpy(&v, head, 4);
    return v == BT_SHB; /* the same bytes in either byte order */
}

/*
 * Reads a block's header (and a section header's byte-order magic, which
 * sets how the rest is read): 1 with *type and *len, 0 at a clean end of
 * the file.
 */
static int read_header(struct pcapng_reader *r, uint32_t *type, uint32_t *len, char *err,
                       size_t errlen)
{
    size_t have = readbuf_fill(&r->in, 12);
    if (have == 0 && readbuf_shrank(&r->in)) {
        snprintf(err, errlen, "the file shrank while it was read (cut by another program?)");
        return SMTPSCOPE_ERR_INPUT_DAMAGED;
    }
    if (have == 0) {
        return 0;
    }
    if (have < 8) {
        snprintf(err, errlen, "truncated pcapng block header");
        return SMTPSCOPE_ERR_INPUT_DAMAGED;
    }
    const uint8_t *h = readbuf_at(&r->in);
    uint32_t raw_type;
    memcpy(&raw_type, h, 4);
    if (raw_type == BT_SHB) {
        if (have < 12) {
            snprintf(err, errlen, "truncated pcapng section header");
            return SMTPSCOPE_ERR_INPUT_DAMAGED;
        }
        uint32_t m;
        memcpy(&m, h + 8, 4);
        if (m == BYTE_ORDER_MAGIC) {
            r->swapped = false;
        } else if (m == __builtin_bswap32(BYTE_ORDER_MAGIC)) {
            r->swapped = true;
        } else {
            snprintf(err, errlen, "pcapng section header with a bad byte-order magic");
            return SMTPSCOPE_ERR_INPUT_DAMAGED;
        }
        r->n_ifs = 0;
    }
    *type = raw_type == BT_SHB ? BT_SHB : rd32(r, h);
    *len = rd32(r, h + 4);
    if (*len < 12 || *len % 4 != 0 || (raw_type == BT_SHB && *len < 28)) {
        snprintf(err, errlen, "pcapng block with an invalid length %u", *len);
        return SMTPSCOPE_ERR_INPUT_DAMAGED;
    }
    return 1;
}

/* Makes the whole block of length len available; *body and *body_len
 * are what follows its header, up to the trailing length. */
static int read_body(struct pcapng_reader *r, uint32_t type, uint32_t len, const uint8_t **body,
                     size_t *body_len, char *err, size_t errlen)
{
    if (readbuf_fill(&r->in, len) < len) {
        snprintf(err, errlen, "truncated pcapng block (%u octets announced)", len);
        return SMTPSCOPE_ERR_INPUT_DAMAGED;
    }
    const uint8_t *b = readbuf_at(&r->in);
    if (rd32(r, b + len - 4) != len) {
        snprintf(err, errlen, "pcapng block lengths disagree");
        return SMTPSCOPE_ERR_INPUT_DAMAGED;
    }
    size_t header = type == BT_SHB ? 12 : 8;
    *body = b + header;
    *body_len = len - header - 4;
    return 1;
}

/* if_tsresol (9) and if_tsoffset (14) from an IDB's options. */
static void read_idb_options(struct pcapng_reader *r, struct pcapng_interface *ifc,
                             const uint8_t *p, size_t n)
{
    while (n >= 4) {
        uint16_t code = rd16(r, p);
        uint16_t olen = rd16(r, p + 2);
        size_t padded = ((size_t)olen + 3) & ~(size_t)3;
        if (code == 0 || n - 4 < padded) {
            return;
        }
        if (code == 9 && olen >= 1) {
            uint8_t res = p[4];
            uint8_t exp = res & 0x7F;
            uint64_t units = 1;
            for (uint8_t i = 0; i < exp && units <= UINT64_MAX / 10; i++) {
                units *= (res & 0x80) ? 2 : 10;
            }
            ifc->ts_units_per_s = units;
        } else if (code == 14 && olen >= 8) {
            uint64_t off = (uint64_t)rd32(r, p + 4) | (uint64_t)rd32(r, p + 8) << 32;
            if (r->swapped) {
                off = (uint64_t)rd32(r, p + 8) | (uint64_t)rd32(r, p + 4) << 32;
            }
            ifc->ts_offset_s = (int64_t)off;
        }
        p += 4 + padded;
        n -= 4 + padded;
    }
}

static void add_interface(struct pcapng_reader *r, const uint8_t *body, size_t n)
{
    if (n < 8 || r->n_ifs >= PCAPNG_INTERFACES_MAX) {
        return;
    }
    struct pcapng_interface *ifc = &r->ifs[r->n_ifs++];
    ifc->linktype = rd16(r, body);
    ifc->snaplen = rd32(r, body + 4);
    ifc->ts_units_per_s = 1000000;
    ifc->ts_offset_s = 0;
    read_idb_options(r, ifc, body + 8, n - 8);
}

static int64_t to_us(const struct pcapng_interface *ifc, uint64_t ts)
{
    uint64_t units = ifc->ts_units_per_s ? ifc->ts_units_per_s : 1000000;
    uint64_t secs;
    uint64_t us;
    /* Micro- and nanoseconds, nearly every file, divide by constants,
     * which the compiler turns into multiplications, where the general
     * case takes three 64-bit divisions a packet. */
    if (units == 1000000) {
        secs = ts / 1000000;
        us = ts % 1000000;
    } else if (units == 1000000000) {
        secs = ts / 1000000000;
        us = ts % 1000000000 / 1000;
    } else {
        secs = ts / units;
        uint64_t frac = ts % units;
        us = units >= 1000000 ? frac / (units / 1000000) : frac * (1000000 / units);
    }
    /* Clamp absurd times (hostile files) instead of overflowing. */
    uint64_t total = secs + (uint64_t)ifc->ts_offset_s;
    if (total > (uint64_t)INT64_MAX / 1000000 - 1) {
        total = (uint64_t)INT64_MAX / 1000000 - 1;
    }
    return (int64_t)total * 1000000 + (int64_t)us;
}

int pcapng_open(struct pcapng_reader *r, FILE *f, uint32_t max_caplen, char *err, size_t errlen)
{
    memset(r, 0, sizeof(*r));
    r->max_caplen = max_caplen;
    if (!readbuf_open(&r->in, f, PCAPNG_BLOCK_MAX)) {
        snprintf(err, errlen, "no memory for the read buffer");
        return SMTPSCOPE_ERR_INPUT_OPEN;
    }
    return SMTPSCOPE_OK;
}

/* An Enhanced Packet Block's packet: false if its interface is unknown or
 * its captured length runs past the block. */
static bool epb_packet(const struct pcapng_reader *r, const uint8_t *b, size_t n,
                       const uint8_t **data, size_t *caplen, uint32_t *ifid)
{
    *ifid = rd32(r, b);
    uint32_t cap = rd32(r, b + 12);
    if (*ifid >= r->n_ifs || cap > n - 20) {
        return false;
    }
    *data = b + 20;
    *caplen = cap > r->max_caplen ? r->max_caplen : cap;
    return true;
}

/* A Simple Packet Block's captured length: what the block holds, cut to
 * the packet's length, the first interface's snapshot length and ours. */
static size_t spb_caplen(const struct pcapng_reader *r, const uint8_t *b, size_t n)
{
    uint32_t orig = rd32(r, b);
    size_t cap = n - 4;
    if (cap > orig) {
        cap = orig;
    }
    if (r->ifs[0].snaplen != 0 && cap > r->ifs[0].snaplen) {
        cap = r->ifs[0].snaplen;
    }
    return cap > r->max_caplen ? r->max_caplen : cap;
}

int pcapng_next(struct pcapng_reader *r, const uint8_t **data, size_t *caplen, size_t *wirelen,
                int64_t *ts_us, int *linktype, char *err, size_t errlen)
{
    for (;;) {
        uint32_t type;
        uint32_t len;
        const uint8_t *b;
        size_t n;
        int rc = read_header(r, &type, &len, err, errlen);
        if (rc <= 0) {
            return rc;
        }
        if (len > PCAPNG_BLOCK_MAX) {
            r->n_skipped_big++;
            if (!readbuf_skip(&r->in, len)) {
                snprintf(err, errlen, "cannot skip an oversized pcapng block");
                return SMTPSCOPE_ERR_INPUT_DAMAGED;
            }
            continue;
        }
        rc = read_body(r, type, len, &b, &n, err, errlen);
        if (rc <= 0) {
            return rc;
        }
        /* The block stays where it is until the next call. */
        readbuf_take(&r->in, len);
        if (type == BT_IDB) {
            add_interface(r, b, n);
        } else if (type == BT_EPB && n >= 20) {
            uint32_t ifid;
            if (!epb_packet(r, b, n, data, caplen, &ifid)) {
                snprintf(err, errlen, "pcapng packet block for an unknown interface or too long");
                return SMTPSCOPE_ERR_INPUT_DAMAGED;
            }
            uint64_t ts = (uint64_t)rd32(r, b + 4) << 32 | rd32(r, b + 8);
            *wirelen = rd32(r, b + 16);
            *ts_us = to_us(&r->ifs[ifid], ts);
            *linktype = r->ifs[ifid].linktype;
            r->last_ts_us = *ts_us;
            return 1;
        } else if (type == BT_SPB && n >= 4 && r->n_ifs > 0) {
            *data = b + 4;
            *caplen = spb_caplen(r, b, n);
            *wirelen = rd32(r, b);
            *ts_us = r->last_ts_us; /* simple blocks carry no time */
            *linktype = r->ifs[0].linktype;
            return 1;
        }
    }
}

bool pcapng_peek(const struct pcapng_reader *r, unsigned ahead, const uint8_t **data,
                 size_t *caplen, int *linktype)
{
    const uint8_t *p = readbuf_at(&r->in);
    size_t have = readbuf_have(&r->in);
    if (ahead == 0) {
        return false; /* the packet last returned is not a peek */
    }
    while (have >= 8) {
        uint32_t raw_type;
        memcpy(&raw_type, p, 4);
        uint32_t type = rd32(r, p);
        uint32_t len = rd32(r, p + 4);
        /* A section may change the byte order, an interface the link
         * types: the reader has to take those first. */
        if (raw_type == BT_SHB || type == BT_IDB || len < 12 || len % 4 != 0 ||
            len > PCAPNG_BLOCK_MAX || len > have) {
            return false;
        }
        const uint8_t *b = p + 8;
        size_t n = len - 12;
        bool packet = false;
        uint32_t ifid = 0;
        if (type == BT_EPB && n >= 20) {
            if (!epb_packet(r, b, n, data, caplen, &ifid)) {
                return false;
            }
            packet = true;
        } else if (type == BT_SPB && n >= 4 && r->n_ifs > 0) {
            *data = b + 4;
            *caplen = spb_caplen(r, b, n);
            packet = true;
        }
        if (packet && --ahead == 0) {
            *linktype = r->ifs[ifid].linktype;
            return true;
        }
        p += len;
        have -= len;
    }
    return false;
}

void pcapng_close(struct pcapng_reader *r)
{
    readbuf_close(&r->in);
}
