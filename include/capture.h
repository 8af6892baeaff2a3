/*
 * capture.h - reading packets with libpcap.
 *
 * Role: the first stage.  Opens capture files (pcap and pcapng, or "-" for
 * standard input) with nanosecond timestamps, applies an optional BPF
 * expression, and hands out one packet at a time with its time in
 * microseconds.  Errors come back as negative codes with libpcap's text in
 * the caller's buffer; nothing here prints or exits.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef CAPTURE_H
#define CAPTURE_H

#include <pcap/pcap.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "pcapfile.h"
#include "pcapng.h"

#define CAPTURE_FILTERS_MAX 8

struct source; /* source.h */

struct capture {
    pcap_t *pcap;        /* libpcap handle, or NULL when ng_active */
    bool ng_active;      /* reading pcapng with our own reader */
    FILE *ng_file;
    uint8_t *read_buffer; /* stdio buffer of an offline file, freed after it */
    struct source *src;   /* a piped or compressed file's bytes (source.h), or NULL */
    struct pcapng_reader ng;
    bool pf_active;      /* pcap records read by our own reader (libpcap read the header) */
    struct pcapfile_reader pf;
    /* BPF programs per link type, for files read without libpcap. */
    struct bpf_program filters[CAPTURE_FILTERS_MAX];
    int filter_linktypes[CAPTURE_FILTERS_MAX];
    int n_filters;
    const char *filter_expr;
    int linktype;        /* of a pcap file or live handle; -1 for pcapng */
    const char *source; /* the path or interface name, borrowed */
    bool is_live;
    bool micro_ts; /* the device gives microseconds, not nanoseconds */
};

struct capture_packet {
    const uint8_t *data; /* borrowed until the next capture_next() */
    int linktype;
    size_t caplen;
    size_t wirelen;
    int64_t ts_us;
    uint8_t input; /* which file of a capture set it came from (0: one file, or live) */
};

/* Opens a file; 0 on success, else SMTPSCOPE_ERR_* with err filled. */
int capture_open_offline(struct capture *c, const char *path, char *err, size_t errlen);
struct capture_live_options {
    int snaplen;
    int buffer_bytes; /* 0: libpcap's default */
    bool promisc;
};

/*
 * Opens an interface for live capture (libpcap, not libnids): immediate
 * mode, non-blocking, with its selectable descriptor for poll().
 */
int capture_open_live(struct capture *c, const char *device,
                      const struct capture_live_options *o, char *err, size_t errlen);
/* Prints the interfaces libpcap can open, like tcpdump -D. */
int capture_list_devices(FILE *out, char *err, size_t errlen);
/* Kernel and interface drop counters of a live capture; false if none. */
bool capture_drops(struct capture *c, uint64_t *dropped, uint64_t *if_dropped);
/* The descriptor to poll, or -1. */
int capture_fd(const struct capture *c);

/* Compiles and installs a BPF expression on c (kept by pointer). */
int capture_set_filter_one(struct capture *c, const char *expr, char *err, size_t errlen);
/*
 * Reads the next packet: 1 with *pkt filled, 0 at the end of the input,
 * 2 when a live capture has no packet just now (poll capture_fd()),
 * or SMTPSCOPE_ERR_INPUT_DAMAGED with err filled (a truncated or corrupt
 * file: the packets before it were good).
 */
int capture_next(struct capture *c, struct capture_packet *pkt, char *err, size_t errlen);
void capture_close(struct capture *c);

/*
 * Several files read as one capture, packets merged in time order (a
 * ring buffer of files, or captures from several points).  Each file keeps
 * its own link type.  A damaged file stops only itself: the others are
 * read on, and the first error is kept.
 */
#define CAPTURE_FILES_MAX 256 /* a file's index fits a byte (record.input) */

struct capture_set {
    struct capture files[CAPTURE_FILES_MAX];
    struct capture_packet pending[CAPTURE_FILES_MAX];
    bool has_pending[CAPTURE_FILES_MAX];
    bool done[CAPTURE_FILES_MAX];
    size_t n;
    size_t last;     /* the file the last packet came from */
    int read_threads_free; /* for reading files ahead (readbuf.h) */
    int first_error;
    char error[640];
};

/*
 * The packet `ahead` packets after the one capture_next() last returned
 * (1: the next), when our pcap or pcapng reader already holds it whole;
 * false otherwise (libpcap's reader, live capture, a pcapng section or
 * interface block first).  For looking ahead only: it may yet be
 * filtered out or found damaged.
 */
bool capture_peek(const struct capture *c, unsigned ahead, const uint8_t **data, size_t *caplen,
                  int *linktype);
/* The same for a set, looking in the file the last packet came from.
 * Several files are mostly a ring, one after another, so that file's next
 * packets are the set's; where files overlap in time a hint may point at a
 * packet that comes later than that, which costs only a useless load. */
bool capture_set_peek(const struct capture_set *set, unsigned ahead, const uint8_t **data,
                      size_t *caplen, int *linktype);

int capture_set_open(struct capture_set *set, const char *const *paths, size_t n, char *err,
                     size_t errlen);
int capture_set_filter(struct capture_set *set, const char *expr, char *err, size_t errlen);
/* Lets the set's files be read ahead on up to `threads` threads at once
 * (0: none), each while its file is being read past its first piece; a
 * ring of files read one after another needs one. */
void capture_set_read_ahead(struct capture_set *set, int threads);
/* As capture_next(); errors come back once all files are read. */
/* Puts c's name in front of the error text err of one of its packets. */
void capture_name_error(const struct capture *c, char *err, size_t errlen);
/* True when a file of the set is a pipe (or a FIFO, a terminal): its
 * packets come as they are captured, and records should follow them. */
bool capture_set_streamed(const struct capture_set *set);
/* fn(ctx) before a read of a streamed file waits for its writer
 * (source_on_wait()). */
void capture_set_on_wait(struct capture_set *set, void (*fn)(void *ctx), void *ctx);
/* Maps the set's large regular files instead of reading them (readbuf.h):
 * the least CPU time, for when no core is free to read ahead. */
void capture_set_map(struct capture_set *set);
int capture_set_next(struct capture_set *set, struct capture_packet *pkt, char *err,
                     size_t errlen);
void capture_set_close(struct capture_set *set);
/* Joins live capture c to the AF_PACKET fanout group `group`: the kernel
 * then gives each socket of the group its share of the connections (both
 * directions, and every fragment, to the same one).  0, or
 * SMTPSCOPE_ERR_INPUT_OPEN with err filled. */
int capture_join_fanout(struct capture *c, uint16_t group, char *err, size_t errlen);
/* The default live filter (malloc'd, NULL without memory): the server
 * ports, also inside VLAN tags, plus IP fragments (their later pieces
 * carry no ports).  A link type without the vlan keyword takes what comes
 * before " or (ip[6:2]". */
char *capture_default_filter(const uint16_t *ports, size_t n);
/* The link type's name ("EN10MB") for reports. */
const char *capture_linktype_name(int linktype);

#endif
