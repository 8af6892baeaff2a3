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
        pkt->ts_us = (int64_t)hdr->ts.tv_sec * 1000000 + (int64_t)hdr->ts.tv_usec / 1000;
        return 1;
    }
    if (rc == PCAP_ERROR_BREAK) {
        return 0;
    }
    if (rc == 0) {
        return 0; /* live timeout: no packet now (offline never returns it) */
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
