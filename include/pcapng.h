/*
 * pcapng.h - a small reader for pcapng files, link type per interface.
 *
 * Role: libpcap 1.10 refuses a pcapng file whose interfaces have different
 * link types (dumpcap -i lo -i any writes one), so capture.c reads pcapng
 * with this instead.  It understands Section Header, Interface Description
 * (link type, if_tsresol, if_tsoffset), Enhanced and Simple Packet blocks in
 * either byte order, and skips every other block.  It reads the file in
 * 1 MiB pieces (readbuf.h) and hands out each packet where it lies; a
 * block over PCAPNG_BLOCK_MAX is skipped unread and counted, and a packet
 * captured longer than max_caplen is cut to it, as the pcap reader cuts
 * its records (so one bound holds for every packet read).  Format:
 * draft-ietf-opsawg-pcapng.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef PCAPNG_H
#define PCAPNG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "readbuf.h"

#define PCAPNG_INTERFACES_MAX 256
#define PCAPNG_BLOCK_MAX (1u << 20) /* larger blocks are skipped, counted */

struct pcapng_interface {
    int linktype;
    uint32_t snaplen;
    uint64_t ts_units_per_s; /* from if_tsresol; 1e6 by default */
    int64_t ts_offset_s;     /* if_tsoffset */
};

struct pcapng_reader {
    struct readbuf in;
    bool swapped;            /* section byte order differs from ours */
    struct pcapng_interface ifs[PCAPNG_INTERFACES_MAX];
    uint32_t n_ifs;
    int64_t last_ts_us;
    uint64_t n_skipped_big;  /* blocks over PCAPNG_BLOCK_MAX */
    uint32_t max_caplen;     /* longer packets are cut to this */
};

/* True when the first four bytes are a pcapng Section Header Block. */
bool pcapng_is_pcapng(const uint8_t head[4]);
/*
 * Starts reading f (positioned at the file's start, unbuffered; the reader
 * does not close it).  Returns 0 or a negative SMTPSCOPE_ERR_* with err
 * filled.
 */
int pcapng_open(struct pcapng_reader *r, FILE *f, uint32_t max_caplen, char *err, size_t errlen);
/*
 * Next packet: 1 with *data (borrowed until the next call), lengths, time
 * and link type filled; 0 at the end; SMTPSCOPE_ERR_INPUT_DAMAGED on a
 * truncated or corrupt block (packets before it were good).
 */
int pcapng_next(struct pcapng_reader *r, const uint8_t **data, size_t *caplen, size_t *wirelen,
                int64_t *ts_us, int *linktype, char *err, size_t errlen);
/*
 * The packet ahead packets after the one last returned (ahead >= 1), if
 * its block is read already and no section or interface block comes
 * first; nothing is taken.  For hints only.
 */
bool pcapng_peek(const struct pcapng_reader *r, unsigned ahead, const uint8_t **data,
                 size_t *caplen, int *linktype);
void pcapng_close(struct pcapng_reader *r);

#endif
