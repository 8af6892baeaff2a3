/*
 * pcapfile.h - reads the records of a classic pcap file in place.
 *
 * Role: libpcap opens a pcap file and checks its header (link type, byte
 * order, snapshot length); this reader then takes over the records.  It
 * reads the file in 1 MiB pieces into one buffer and hands out each
 * packet where it lies, so a packet costs no stdio call and no copy (with
 * libpcap's reader each record was two freads and a copy).  Only the four
 * standard magics (microsecond and nanosecond, either byte order) come
 * here; capture.c leaves any other variant to libpcap.  The buffer is a
 * readbuf (readbuf.h).
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef PCAPFILE_H
#define PCAPFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "readbuf.h"

#define PCAPFILE_RECORD_HEADER 16

struct pcapfile_reader {
    struct readbuf in; /* from the first record on; the file is not closed here */
    bool swapped;     /* the file's byte order differs from ours */
    bool nanosecond;  /* timestamps in nanoseconds */
    uint32_t snaplen; /* longer records are cut to this, as libpcap does */
    uint32_t max_caplen; /* longer records mean a damaged file */
};

/*
 * True when the first four bytes are a standard pcap magic; *swapped and
 * *nanosecond tell how to read the file.
 */
bool pcapfile_magic(const uint8_t head[4], bool *swapped, bool *nanosecond);

/* 0, or SMTPSCOPE_ERR_INPUT_OPEN with err filled when memory is lacking. */
int pcapfile_open(struct pcapfile_reader *r, FILE *f, bool swapped, bool nanosecond,
                  uint32_t snaplen, uint32_t max_caplen, char *err, size_t errlen);

/*
 * Next packet: 1 with *data (valid until the next call), lengths and time
 * filled; 0 at the end; SMTPSCOPE_ERR_INPUT_DAMAGED with err filled for a
 * record cut short or one longer than max_caplen.
 */
int pcapfile_next(struct pcapfile_reader *r, const uint8_t **data, size_t *caplen,
                  size_t *wirelen, int64_t *ts_us, char *err, size_t errlen);

/*
 * The packet `ahead` records after the one pcapfile_next() last returned
 * (1: the next one), when it already lies whole in the buffer (nothing is
 * read): true with *data and *caplen filled.  For looking ahead only; the
 * record is not checked or consumed.
 */
bool pcapfile_peek(const struct pcapfile_reader *r, unsigned ahead, const uint8_t **data,
                   size_t *caplen);

void pcapfile_close(struct pcapfile_reader *r);

#endif
