/*
 * pcapfile.c - in-place reader of classic pcap records (see pcapfile.h).
 *
 * Record layout (draft-ietf-opsawg-pcap): seconds, fraction (micro- or
 * nanoseconds), captured length, original length, each 32 bits in the
 * file's byte order, then the captured bytes.  Error texts follow
 * libpcap's, so a damaged file reads the same whichever reader met it.
 *
 * SPDX-License-Identifier: MIT
 */
#include "pcapfile.h"

#include <string.h>

#include "smtpscope.h"

#define MAGIC_MICRO 0xA1B2C3D4u
#define MAGIC_NANO 0xA1B23C4Du

bool pcapfile_magic(const uint8_t head[4], bool *swapped, bool *nanosecond)
{
    uint32_t v;
    memcpy(&v, head, 4);
    uint32_t s = __builtin_bswap32(v);
    *swapped = s == MAGIC_MICRO || s == MAGIC_NANO;
    *nanosecond = v == MAGIC_NANO || s == MAGIC_NANO;
    return *swapped || v == MAGIC_MICRO || v == MAGIC_NANO;
}

int pcapfile_open(struct pcapfile_reader *r, FILE *f, bool swapped, bool nanosecond,
                  uint32_t snaplen, uint32_t max_caplen, char *err, size_t errlen)
{
    memset(r, 0, sizeof(*r));
    r->swapped = swapped;
    r->nanosecond = nanosecond;
    r->max_caplen = max_caplen;
    r->snaplen = snaplen == 0 || snaplen > max_caplen ? max_caplen : snaplen;
    if (!readbuf_open(&r->in, f, PCAPFILE_RECORD_HEADER + (size_t)max_caplen)) {
        snprintf(err, errlen, "no memory for the read buffer");
        return SMTPSCOPE_ERR_INPUT_OPEN;
    }
    return SMTPSCOPE_OK;
}

static uint32_t rd32(const struct pcapfile_reader *r, const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return r->swapped ? __builtin_bswap32(v) : v;
}

/* Seconds (signed 32 bits, as libpcap reads them; before 1970 is taken
 * as 1970) and fraction as microseconds. */
static int64_t record_time_us(const struct pcapfile_reader *r, uint32_t secs, uint32_t frac)
{
    int64_t s = (int32_t)secs < 0 ? 0 : (int64_t)(int32_t)secs;
    int64_t us = r->nanosecond ? (int64_t)(frac / 1000) : (int64_t)frac;
    return s * 1000000 + us;
}

int pcapfile_next(struct pcapfile_reader *r, const uint8_t **data, size_t *caplen,
                  size_t *wirelen, int64_t *ts_us, char *err, size_t errlen)
{
    size_t have = readbuf_fill(&r->in, PCAPFILE_RECORD_HEADER);
    if (have == 0 && readbuf_shrank(&r->in)) {
        snprintf(err, errlen, "the file shrank while it was read (cut by another program?)");
        return SMTPSCOPE_ERR_INPUT_DAMAGED;
    }
    if (have == 0) {
        return 0;
    }
    if (have < PCAPFILE_RECORD_HEADER) {
        snprintf(err, errlen, "truncated dump file; tried to read %u header bytes, only got %zu",
                 PCAPFILE_RECORD_HEADER, have);
        return SMTPSCOPE_ERR_INPUT_DAMAGED;
    }
    const uint8_t *h = readbuf_at(&r->in);
    uint32_t cap = rd32(r, h + 8);
    if (cap > r->max_caplen) {
        snprintf(err, errlen, "invalid packet capture length %u, bigger than snaplen of %u", cap,
                 r->snaplen);
        return SMTPSCOPE_ERR_INPUT_DAMAGED;
    }
    if (have < PCAPFILE_RECORD_HEADER + (size_t)cap) { /* rarely: most records are there */
        have = readbuf_fill(&r->in, PCAPFILE_RECORD_HEADER + (size_t)cap);
        h = readbuf_at(&r->in); /* the fill may have moved the bytes */
    }
    if (have < PCAPFILE_RECORD_HEADER + (size_t)cap) {
        snprintf(err, errlen, "truncated dump file; tried to read %u captured bytes, only got %zu",
                 cap, have - PCAPFILE_RECORD_HEADER);
        return SMTPSCOPE_ERR_INPUT_DAMAGED;
    }
    *ts_us = record_time_us(r, rd32(r, h), rd32(r, h + 4));
    *wirelen = rd32(r, h + 12);
    *caplen = cap > r->snaplen ? r->snaplen : cap;
    *data = h + PCAPFILE_RECORD_HEADER;
    readbuf_take(&r->in, PCAPFILE_RECORD_HEADER + (size_t)cap);
    return 1;
}

bool pcapfile_peek(const struct pcapfile_reader *r, unsigned ahead, const uint8_t **data,
                   size_t *caplen)
{
    const uint8_t *h = readbuf_at(&r->in);
    size_t have = readbuf_have(&r->in);
    if (ahead == 0) {
        return false; /* the packet last returned is not a peek */
    }
    for (;;) {
        if (have < PCAPFILE_RECORD_HEADER) {
            return false;
        }
        uint32_t cap = rd32(r, h + 8);
        if (cap > r->max_caplen || have - PCAPFILE_RECORD_HEADER < (size_t)cap) {
            return false;
        }
        if (--ahead == 0) {
            *data = h + PCAPFILE_RECORD_HEADER;
            *caplen = cap > r->snaplen ? r->snaplen : cap;
            return true;
        }
        h += PCAPFILE_RECORD_HEADER + (size_t)cap;
        have -= PCAPFILE_RECORD_HEADER + (size_t)cap;
    }
}

void pcapfile_close(struct pcapfile_reader *r)
{
    readbuf_close(&r->in);
}
