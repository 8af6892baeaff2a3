/*
 * capture.c - libpcap input (see capture.h).
 *
 * SPDX-License-Identifier: MIT
 */
#include "capture.h"

#include <stdio.h>
#include <string.h>

#include "smtpscope.h"

int capture_open_offline(struct capture *c, const char *path, char *err, size_t errlen)
{
    char pcap_err[PCAP_ERRBUF_SIZE] = "";
    memset(c, 0, sizeof(*c));
    c->source = path;
    c->pcap = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_NANO, pcap_err);
    if (c->pcap == NULL) {
        snprintf(err, errlen, "%s", pcap_err);
        return SMTPSCOPE_ERR_INPUT_OPEN;
    }
    c->linktype = pcap_datalink(c->pcap);
    return SMTPSCOPE_OK;
}

int capture_set_filter(struct capture *c, const char *expr, char *err, size_t errlen)
{
    struct bpf_program prog;
    if (pcap_compile(c->pcap, &prog, expr, 1, PCAP_NETMASK_UNKNOWN) != 0) {
        snprintf(err, errlen, "%s", pcap_geterr(c->pcap));
        return SMTPSCOPE_ERR_FILTER;
    }
    int rc = pcap_setfilter(c->pcap, &prog);
    pcap_freecode(&prog);
    if (rc != 0) {
        snprintf(err, errlen, "%s", pcap_geterr(c->pcap));
        return SMTPSCOPE_ERR_FILTER;
    }
    return SMTPSCOPE_OK;
}

int capture_next(struct capture *c, struct capture_packet *pkt, char *err, size_t errlen)
{
    struct pcap_pkthdr *hdr;
    const u_char *data;
    int rc = pcap_next_ex(c->pcap, &hdr, &data);
    if (rc == 1) {
        pkt->data = data;
        pkt->caplen = hdr->caplen;
        pkt->wirelen = hdr->len;
        /* Opened with nanosecond precision: tv_usec holds nanoseconds. */
        int64_t frac = c->micro_ts ? (int64_t)hdr->ts.tv_usec : (int64_t)hdr->ts.tv_usec / 1000;
        pkt->ts_us = (int64_t)hdr->ts.tv_sec * 1000000 + frac;
        return 1;
    }
    if (rc == PCAP_ERROR_BREAK) {
        return 0;
    }
    if (rc == 0) {
        return 2; /* live, non-blocking: no packet just now */
    }
    snprintf(err, errlen, "%s", pcap_geterr(c->pcap));
    return SMTPSCOPE_ERR_INPUT_DAMAGED;
}

void capture_close(struct capture *c)
{
    if (c->pcap != NULL) {
        pcap_close(c->pcap);
        c->pcap = NULL;
    }
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
