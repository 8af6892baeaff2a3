/*
 * capture.c - libpcap input (see capture.h).
 *
 * SPDX-License-Identifier: MIT
 */
#include "capture.h"

#include <errno.h>
#include <linux/if_packet.h>
#include <sys/socket.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "smtp_limits.h"
#include "source.h"
#include "smtpscope.h"

#define CAPTURE_READ_BUFFER (1u << 20)

int capture_open_offline(struct capture *c, const char *path, char *err, size_t errlen)
{
    char pcap_err[PCAP_ERRBUF_SIZE] = "";
    memset(c, 0, sizeof(*c));
    c->source = path;
    c->linktype = -1;
    FILE *f;
    uint8_t head[4];
    enum source_kind kind;
    int rc = source_open(path, &f, head, &c->src, &kind, err, errlen);
    if (rc != SMTPSCOPE_OK) {
        return rc;
    }
    bool swapped = false;
    bool nano = false;
    bool own_records = pcapfile_magic(head, &swapped, &nano);
    bool pcapng = pcapng_is_pcapng(head);
    if (own_records || pcapng) {
        /* Our readers ask for 1 MiB at a time: straight into their buffers. */
        setvbuf(f, NULL, _IONBF, 0);
    } else {
        /* libpcap reads each record with fread: a large stdio buffer
         * turns ~250k 4 KiB read() calls per GB into ~1k. */
        c->read_buffer = malloc(CAPTURE_READ_BUFFER); /* glibc ignores the size without one */
        if (c->read_buffer != NULL) {
            setvbuf(f, (char *)c->read_buffer, _IOFBF, CAPTURE_READ_BUFFER);
        }
    }
    if (pcapng) {
        /* pcapng: our reader, so interfaces may differ in link type. */
        c->ng_active = true;
        c->ng_file = f;
        rc = pcapng_open(&c->ng, f, CAPTURE_SNAPLEN, err, errlen);
        if (rc == SMTPSCOPE_OK && c->src != NULL) {
            readbuf_read_by(&c->ng.in, source_read_some, c->src);
        }
        return rc;
    }
    c->pcap = pcap_fopen_offline_with_tstamp_precision(f, PCAP_TSTAMP_PRECISION_NANO, pcap_err);
    if (c->pcap == NULL) {
        char why[200];
        bool failed = source_failure(c->src, why, sizeof(why));
        fclose(f); /* frees c->src */
        c->src = NULL;
        free(c->read_buffer);
        c->read_buffer = NULL;
        if (failed) {
            snprintf(err, errlen, "%s: %s", path, why);
        } else if (kind != SOURCE_FILE && kind != SOURCE_PIPE) {
            snprintf(err, errlen, "%s: %s (after %s decompression)", path, pcap_err,
                     source_kind_name(kind));
        } else if (head[0] == 'B' && head[1] == 'Z' && head[2] == 'h') {
            snprintf(err, errlen, "%s: bzip2 data: decompress it first (gzip, xz and zstd "
                     "are read directly)", path);
        } else {
            snprintf(err, errlen, "%s: %s", path, pcap_err);
        }
        return SMTPSCOPE_ERR_INPUT_OPEN;
    }
    if (own_records) {
        /* libpcap checked the header; the records are ours from here. */
        rc = pcapfile_open(&c->pf, f, swapped, nano, (uint32_t)pcap_snapshot(c->pcap),
                           CAPTURE_SNAPLEN, err, errlen);
        if (rc != SMTPSCOPE_OK) {
            pcap_close(c->pcap);
            c->pcap = NULL;
            c->src = NULL;
            return rc;
        }
        c->pf_active = true;
        if (c->src != NULL) {
            readbuf_read_by(&c->pf.in, source_read_some, c->src);
        }
    }
    c->linktype = pcap_datalink(c->pcap);
    return SMTPSCOPE_OK;
}

/* For our pcapng reader: the expression compiled for one link type. */
static struct bpf_program *filter_for(struct capture *c, int linktype)
{
    for (int i = 0; i < c->n_filters; i++) {
        if (c->filter_linktypes[i] == linktype) {
            return &c->filters[i];
        }
    }
    if (c->n_filters == CAPTURE_FILTERS_MAX) {
        return NULL;
    }
    pcap_t *dead = pcap_open_dead(linktype, 262144);
    if (dead == NULL) {
        return NULL;
    }
    struct bpf_program *prog = &c->filters[c->n_filters];
    int rc = pcap_compile(dead, prog, c->filter_expr, 1, PCAP_NETMASK_UNKNOWN);
    pcap_close(dead);
    if (rc != 0) {
        return NULL;
    }
    c->filter_linktypes[c->n_filters++] = linktype;
    return prog;
}

int capture_set_filter_one(struct capture *c, const char *expr, char *err, size_t errlen)
{
    struct bpf_program prog;
    if (c->ng_active) {
        /* Checked now on a common link type, applied per packet later. */
        pcap_t *dead = pcap_open_dead(1, 262144);
        int rc = dead != NULL ? pcap_compile(dead, &prog, expr, 1, PCAP_NETMASK_UNKNOWN) : -1;
        if (rc != 0) {
            snprintf(err, errlen, "%s", dead != NULL ? pcap_geterr(dead) : "no memory");
        } else {
            pcap_freecode(&prog);
            c->filter_expr = expr;
        }
        if (dead != NULL) {
            pcap_close(dead);
        }
        return rc == 0 ? SMTPSCOPE_OK : SMTPSCOPE_ERR_FILTER;
    }
    if (pcap_compile(c->pcap, &prog, expr, 1, PCAP_NETMASK_UNKNOWN) != 0) {
        snprintf(err, errlen, "%s", pcap_geterr(c->pcap));
        return SMTPSCOPE_ERR_FILTER;
    }
    if (c->pf_active) {
        /* Records bypass libpcap: the program runs per packet in own_next(). */
        pcap_freecode(&prog);
        c->filter_expr = expr;
        return SMTPSCOPE_OK;
    }
    int rc = pcap_setfilter(c->pcap, &prog);
    pcap_freecode(&prog);
    if (rc != 0) {
        snprintf(err, errlen, "%s", pcap_geterr(c->pcap));
        return SMTPSCOPE_ERR_FILTER;
    }
    return SMTPSCOPE_OK;
}

/* Whether a packet read by our own readers passes the BPF expression. */
static bool filter_passes(struct capture *c, const struct capture_packet *pkt)
{
    struct bpf_program *prog = filter_for(c, pkt->linktype);
    struct pcap_pkthdr hdr;
    hdr.caplen = (bpf_u_int32)pkt->caplen;
    hdr.len = (bpf_u_int32)pkt->wirelen;
    hdr.ts.tv_sec = (time_t)(pkt->ts_us / 1000000);
    hdr.ts.tv_usec = (suseconds_t)(pkt->ts_us % 1000000);
    return prog == NULL || pcap_offline_filter(prog, &hdr, pkt->data) != 0;
}

static void name_the_file(const struct capture *c, char *err, size_t errlen);

void capture_name_error(const struct capture *c, char *err, size_t errlen)
{
    name_the_file(c, err, errlen);
}

/* The next packet from our pcapng or pcap record reader. */
static int own_next(struct capture *c, struct capture_packet *pkt, char *err, size_t errlen)
{
    for (;;) {
        int rc;
        if (c->ng_active) {
            rc = pcapng_next(&c->ng, &pkt->data, &pkt->caplen, &pkt->wirelen, &pkt->ts_us,
                             &pkt->linktype, err, errlen);
        } else {
            rc = pcapfile_next(&c->pf, &pkt->data, &pkt->caplen, &pkt->wirelen, &pkt->ts_us, err,
                               errlen);
            pkt->linktype = c->linktype;
        }
        if (rc != 1 && source_failure(c->src, err, errlen)) {
            return SMTPSCOPE_ERR_INPUT_DAMAGED; /* not the end: the bytes stopped */
        }
        if (rc != 1 || c->filter_expr == NULL || filter_passes(c, pkt)) {
            return rc;
        }
    }
}

int capture_next(struct capture *c, struct capture_packet *pkt, char *err, size_t errlen)
{
    struct pcap_pkthdr *hdr;
    const u_char *data;
    if (c->ng_active || c->pf_active) {
        return own_next(c, pkt, err, errlen);
    }
    int rc = pcap_next_ex(c->pcap, &hdr, &data);
    if (rc == 1) {
        pkt->data = data;
        pkt->linktype = c->linktype;
        pkt->caplen = hdr->caplen;
        pkt->wirelen = hdr->len;
        /* Opened with nanosecond precision: tv_usec holds nanoseconds. */
        int64_t frac = c->micro_ts ? (int64_t)hdr->ts.tv_usec : (int64_t)hdr->ts.tv_usec / 1000;
        /* time_t seconds from a hostile file may not fit in microseconds. */
        int64_t secs = (int64_t)hdr->ts.tv_sec;
        if (secs > INT64_MAX / 1000000 - 1 || secs < 0) {
            secs = secs < 0 ? 0 : INT64_MAX / 1000000 - 1;
        }
        pkt->ts_us = secs * 1000000 + frac;
        return 1;
    }
    if (rc == PCAP_ERROR_BREAK) {
        if (source_failure(c->src, err, errlen)) {
            return SMTPSCOPE_ERR_INPUT_DAMAGED;
        }
        return 0;
    }
    if (rc == 0) {
        return 2; /* live, non-blocking: no packet just now */
    }
    if (!source_failure(c->src, err, errlen)) {
        snprintf(err, errlen, "%s", pcap_geterr(c->pcap));
    }
    return SMTPSCOPE_ERR_INPUT_DAMAGED;
}

void capture_close(struct capture *c)
{
    if (c->pf_active) {
        pcapfile_close(&c->pf);
        c->pf_active = false;
    }
    if (c->pcap != NULL) {
        pcap_close(c->pcap);
        c->pcap = NULL;
    }
    if (c->ng_active) {
        pcapng_close(&c->ng);
        fclose(c->ng_file);
        c->ng_active = false;
    }
    c->src = NULL; /* freed with its stream */
    free(c->read_buffer); /* only after the FILE that used it is closed */
    c->read_buffer = NULL;
    for (int i = 0; i < c->n_filters; i++) {
        pcap_freecode(&c->filters[i]);
    }
    c->n_filters = 0;
}

int capture_set_open(struct capture_set *set, const char *const *paths, size_t n, char *err,
                     size_t errlen)
{
    /* Only the slots in use are touched: the set is large (256 files),
     * and untouched pages of it cost no memory. */
    set->n = 0;
    set->last = 0;
    set->read_threads_free = 0;
    set->first_error = 0;
    set->error[0] = '\0';
    if (n > CAPTURE_FILES_MAX) {
        snprintf(err, errlen, "at most %d input files", CAPTURE_FILES_MAX);
        return SMTPSCOPE_ERR_USAGE;
    }
    for (size_t i = 0; i < n; i++) {
        set->has_pending[i] = false;
        set->done[i] = false;
        int rc = capture_open_offline(&set->files[i], paths[i], err, errlen);
        if (rc != SMTPSCOPE_OK) {
            capture_set_close(set);
            return rc;
        }
        set->n = i + 1;
    }
    return SMTPSCOPE_OK;
}

int capture_set_filter(struct capture_set *set, const char *expr, char *err, size_t errlen)
{
    for (size_t i = 0; i < set->n; i++) {
        int rc = capture_set_filter_one(&set->files[i], expr, err, errlen);
        if (rc != SMTPSCOPE_OK) {
            return rc;
        }
    }
    return SMTPSCOPE_OK;
}

/* Puts the file's name before its error (apart: keeps the packet path's
 * frame small). */
static __attribute__((noinline, cold)) void name_the_file(const struct capture *c, char *err,
                                                          size_t errlen)
{
    char file_err[400];
    snprintf(file_err, sizeof(file_err), "%s", err);
    snprintf(err, errlen, "%.200s: %s", c->source, file_err);
}

bool capture_set_streamed(const struct capture_set *set)
{
    for (size_t i = 0; i < set->n; i++) {
        if (source_is_stream(set->files[i].src)) {
            return true;
        }
    }
    return false;
}

void capture_set_on_wait(struct capture_set *set, void (*fn)(void *ctx), void *ctx)
{
    for (size_t i = 0; i < set->n; i++) {
        source_on_wait(set->files[i].src, fn, ctx);
    }
}

void capture_set_map(struct capture_set *set)
{
    for (size_t i = 0; i < set->n; i++) {
        struct capture *c = &set->files[i];
        if (c->ng_active) {
            readbuf_map(&c->ng.in);
        } else if (c->pf_active) {
            readbuf_map(&c->pf.in);
        }
    }
}

void capture_set_read_ahead(struct capture_set *set, int threads)
{
    set->read_threads_free = threads;
    for (size_t i = 0; i < set->n; i++) {
        struct capture *c = &set->files[i];
        if (c->ng_active) {
            readbuf_read_ahead(&c->ng.in, &set->read_threads_free);
        } else if (c->pf_active) {
            readbuf_read_ahead(&c->pf.in, &set->read_threads_free);
        }
    }
}

bool capture_peek(const struct capture *c, unsigned ahead, const uint8_t **data, size_t *caplen,
                  int *linktype)
{
    if (c->ng_active) {
        return pcapng_peek(&c->ng, ahead, data, caplen, linktype);
    }
    if (!c->pf_active) {
        return false;
    }
    *linktype = c->linktype;
    return pcapfile_peek(&c->pf, ahead, data, caplen);
}

bool capture_set_peek(const struct capture_set *set, unsigned ahead, const uint8_t **data,
                      size_t *caplen, int *linktype)
{
    return set->last < set->n &&
           capture_peek(&set->files[set->last], ahead, data, caplen, linktype);
}

int capture_set_next(struct capture_set *set, struct capture_packet *pkt, char *err,
                     size_t errlen)
{
    if (set->n == 1) {
        /* One file: nothing to merge. */
        int rc = capture_next(&set->files[0], pkt, err, errlen);
        if (rc < 0) {
            name_the_file(&set->files[0], err, errlen);
        }
        return rc;
    }
    size_t best = set->n;
    for (size_t i = 0; i < set->n; i++) {
        if (set->done[i]) {
            continue;
        }
        if (!set->has_pending[i]) {
            char file_err[400];
            int rc = capture_next(&set->files[i], &set->pending[i], file_err, sizeof(file_err));
            if (rc != 1) {
                set->done[i] = true;
                if (rc < 0 && set->first_error == 0) {
                    set->first_error = rc;
                    snprintf(set->error, sizeof(set->error), "%.200s: %s", set->files[i].source,
                             file_err);
                }
                continue;
            }
            set->has_pending[i] = true;
        }
        if (best == set->n || set->pending[i].ts_us < set->pending[best].ts_us) {
            best = i;
        }
    }
    if (best == set->n) {
        if (set->first_error != 0) {
            snprintf(err, errlen, "%s", set->error);
            return set->first_error;
        }
        return 0;
    }
    *pkt = set->pending[best];
    pkt->input = (uint8_t)best;
    set->has_pending[best] = false;
    set->last = best;
    return 1;
}

void capture_set_close(struct capture_set *set)
{
    for (size_t i = 0; i < set->n; i++) {
        capture_close(&set->files[i]);
    }
    set->n = 0;
}

char *capture_default_filter(const uint16_t *ports, size_t n)
{
    size_t used = 0;
    size_t cap = n * 16 + 1;
    char *list = malloc(cap);
    if (list == NULL) {
        return NULL;
    }
    list[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        used += (size_t)snprintf(list + used, cap - used, "%stcp port %u", i ? " or " : "",
                                 ports[i]);
    }
    size_t len = 3 * used + 128;
    char *f = malloc(len);
    if (f != NULL) {
        snprintf(f, len, "(%s) or (ip[6:2] & 0x3fff != 0) or (vlan and ((%s) or (vlan and (%s))))",
                 list, list, list);
    }
    free(list);
    return f;
}

const char *capture_linktype_name(int linktype)
{
    const char *name = pcap_datalink_val_to_name(linktype);
    return name != NULL ? name : "unknown";
}

int capture_open_live(struct capture *c, const char *device,
                      const struct capture_live_options *o, char *err, size_t errlen)
{
    char pcap_err[PCAP_ERRBUF_SIZE] = "";
    memset(c, 0, sizeof(*c));
    c->source = device;
    c->is_live = true;
    c->pcap = pcap_create(device, pcap_err);
    if (c->pcap == NULL) {
        snprintf(err, errlen, "%s: %s", device, pcap_err);
        return SMTPSCOPE_ERR_INPUT_OPEN;
    }
    pcap_set_snaplen(c->pcap, o->snaplen);
    pcap_set_promisc(c->pcap, o->promisc ? 1 : 0);
    pcap_set_immediate_mode(c->pcap, 1);
    pcap_set_timeout(c->pcap, 100);
    pcap_set_tstamp_precision(c->pcap, PCAP_TSTAMP_PRECISION_NANO);
    if (o->buffer_bytes > 0) {
        pcap_set_buffer_size(c->pcap, o->buffer_bytes);
    }
    int rc = pcap_activate(c->pcap);
    if (rc < 0) {
        snprintf(err, errlen, "%s: %s", device,
                 rc == PCAP_ERROR ? pcap_geterr(c->pcap) : pcap_statustostr(rc));
        pcap_close(c->pcap);
        c->pcap = NULL;
        return SMTPSCOPE_ERR_INPUT_OPEN;
    }
    if (pcap_get_tstamp_precision(c->pcap) != PCAP_TSTAMP_PRECISION_NANO) {
        c->micro_ts = true;
    }
    if (pcap_setnonblock(c->pcap, 1, pcap_err) != 0) {
        snprintf(err, errlen, "%s: %s", device, pcap_err);
        return SMTPSCOPE_ERR_INPUT_OPEN;
    }
    c->linktype = pcap_datalink(c->pcap);
    return SMTPSCOPE_OK;
}

int capture_join_fanout(struct capture *c, uint16_t group, char *err, size_t errlen)
{
    /* The kernel's flow hash is the same both ways of a connection; with
     * DEFRAG a fragmented datagram is whole before it is hashed. */
    /* Unsigned: the DEFRAG flag (0x8000) shifted by 16 does not fit an int. */
    uint32_t arg = group | ((uint32_t)(PACKET_FANOUT_HASH | PACKET_FANOUT_FLAG_DEFRAG) << 16);
    if (c->pcap == NULL ||
        setsockopt(pcap_fileno(c->pcap), SOL_PACKET, PACKET_FANOUT, &arg, sizeof(arg)) != 0) {
        snprintf(err, errlen, "%s: cannot join a packet fanout group: %s", c->source,
                 strerror(errno));
        return SMTPSCOPE_ERR_INPUT_OPEN;
    }
    return SMTPSCOPE_OK;
}

int capture_list_devices(FILE *out, char *err, size_t errlen)
{
    pcap_if_t *all = NULL;
    char pcap_err[PCAP_ERRBUF_SIZE] = "";
    if (pcap_findalldevs(&all, pcap_err) != 0) {
        snprintf(err, errlen, "%s", pcap_err);
        return SMTPSCOPE_ERR_INPUT_OPEN;
    }
    int n = 1;
    for (pcap_if_t *d = all; d != NULL; d = d->next) {
        fprintf(out, "%d.%s", n++, d->name);
        if (d->description != NULL) {
            fprintf(out, " (%s)", d->description);
        }
        fprintf(out, "%s\n", (d->flags & PCAP_IF_LOOPBACK) ? " [Loopback]" : "");
    }
    pcap_freealldevs(all);
    return SMTPSCOPE_OK;
}

bool capture_drops(struct capture *c, uint64_t *dropped, uint64_t *if_dropped)
{
    struct pcap_stat st;
    if (!c->is_live || c->pcap == NULL || pcap_stats(c->pcap, &st) != 0) {
        return false;
    }
    *dropped = st.ps_drop;
    *if_dropped = st.ps_ifdrop;
    return true;
}

int capture_fd(const struct capture *c)
{
    return c->pcap != NULL ? pcap_get_selectable_fd(c->pcap) : -1;
}
