/*
 * bench/loop_nids.c - libnids baseline for the smtpscope benchmark.
 *
 * Drives libnids exactly the way the dissector does: the capture is read
 * with libpcap here, Ethernet/802.1Q is stripped here, and the bare IPv4
 * packet is fed to nids_pcap_handler() with libnids set up on a dead
 * DLT_RAW handle (no checksums, no port-scan detection, no syslog).  The
 * TCP callback collects both directions and only counts; the difference
 * between this and loop_pcap is the cost of libnids itself.
 */
#define _DEFAULT_SOURCE
#include <getopt.h>
#include <nids.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>

struct counts {
	unsigned long long pkts, bytes, ip_pkts, est, closed, reset, timed_out, exiting;
	unsigned long long data_c2s, data_s2c, warnings;
};

static struct counts C;

static void nop_syslog(int type, int err, struct ip *iph, void *data)
{
	(void)type; (void)err; (void)iph; (void)data;
	C.warnings++;
}

static void on_tcp(struct tcp_stream *ts, void **param)
{
	(void)param;
	switch (ts->nids_state) {
	case NIDS_JUST_EST:
		ts->client.collect++;
		ts->server.collect++;
		C.est++;
		return;
	case NIDS_DATA:
		C.data_c2s += (unsigned)ts->server.count_new;
		C.data_s2c += (unsigned)ts->client.count_new;
		return;
	case NIDS_CLOSE: C.closed++; return;
	case NIDS_RESET: C.reset++; return;
	case NIDS_TIMED_OUT: C.timed_out++; return;
	case NIDS_EXITING: C.exiting++; return;
	default: return;
	}
}

static int setup_nids(int n_streams)
{
	static struct nids_chksum_ctl no_chk = { 0, 0, NIDS_DONT_CHKSUM, 0 };

	nids_params.pcap_desc = pcap_open_dead(DLT_RAW, 65535);
	nids_params.n_tcp_streams = n_streams;
	nids_params.scan_num_hosts = 0;
	nids_params.syslog = nop_syslog;
	nids_register_chksum_ctl(&no_chk, 1);
	if (!nids_init()) {
		fprintf(stderr, "loop_nids: nids_init: %s\n", nids_errbuf);
		return -1;
	}
	nids_register_tcp(on_tcp);
	return 0;
}

/* Offset of the IPv4 header in an Ethernet frame, or -1 if not IPv4. */
static int ip_offset(const u_char *d, bpf_u_int32 caplen)
{
	bpf_u_int32 off = 12;

	while (off + 2 <= caplen) {
		unsigned type = (unsigned)d[off] << 8 | d[off + 1];
		if (type == 0x0800)
			return (int)off + 2;
		if (type != 0x8100 && type != 0x88a8)
			return -1;
		off += 4; /* skip VLAN tag */
	}
	return -1;
}

static void feed(const struct pcap_pkthdr *h, const u_char *d)
{
	struct pcap_pkthdr ih = *h;
	int off = ip_offset(d, h->caplen);

	if (off < 0 || (bpf_u_int32)off >= h->caplen)
		return;
	ih.caplen = h->caplen - (bpf_u_int32)off;
	ih.len = h->len - (bpf_u_int32)off;
	C.ip_pkts++;
	nids_pcap_handler(NULL, &ih, (u_char *)d + off);
}

/* read_buffer > 0: the file gets a stdio buffer of that size, as
 * smtpscope gives its offline files, so the two read alike. */
static int read_file(const char *path, size_t read_buffer)
{
	char err[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr *h;
	const u_char *d;
	pcap_t *p;
	char *buf = NULL;
	int rc;

	if (read_buffer > 0) {
		FILE *f = fopen(path, "rb");
		buf = malloc(read_buffer);
		if (!f || !buf) {
			fprintf(stderr, "loop_nids: %s: cannot open\n", path);
			return -1;
		}
		setvbuf(f, buf, _IOFBF, read_buffer);
		p = pcap_fopen_offline(f, err);
	} else {
		p = pcap_open_offline(path, err);
	}
	if (!p) {
		fprintf(stderr, "loop_nids: %s\n", err);
		free(buf);
		return -1;
	}
	if (pcap_datalink(p) != DLT_EN10MB)
		fprintf(stderr, "loop_nids: warning: link type is not Ethernet\n");
	while ((rc = pcap_next_ex(p, &h, &d)) == 1) {
		C.pkts++;
		C.bytes += h->caplen;
		feed(h, d);
	}
	if (rc == PCAP_ERROR)
		fprintf(stderr, "loop_nids: %s\n", pcap_geterr(p));
	pcap_close(p);
	free(buf);
	return rc == PCAP_ERROR ? -1 : 0;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = { { "streams", 1, 0, 's' },
					    { "read-buffer", 1, 0, 'b' },
					    { 0, 0, 0, 0 } };
	int n_streams = 65536, c, rc;
	long read_buffer = 0;

	while ((c = getopt_long(argc, argv, "s:b:", lo, NULL)) != -1) {
		if (c == 's')
			n_streams = atoi(optarg);
		else if (c == 'b')
			read_buffer = atol(optarg);
		else
			goto usage;
	}
	if (optind != argc - 1 || n_streams < 1)
		goto usage;
	if (setup_nids(n_streams))
		return 1;
	rc = read_file(argv[optind], read_buffer > 0 ? (size_t)read_buffer : 0);
	nids_exit();
	printf("packets=%llu bytes=%llu ip_packets=%llu established=%llu closed=%llu "
	       "reset=%llu timed_out=%llu exiting=%llu data_c2s=%llu data_s2c=%llu "
	       "warnings=%llu\n", C.pkts, C.bytes, C.ip_pkts, C.est, C.closed, C.reset,
	       C.timed_out, C.exiting, C.data_c2s, C.data_s2c, C.warnings);
	return rc ? 1 : 0;
usage:
	fprintf(stderr, "usage: loop_nids [--streams N] [--read-buffer BYTES] FILE\n");
	return 2;
}
