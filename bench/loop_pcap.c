/*
 * bench/loop_pcap.c - baseline for the smtpscope benchmark: the cheapest
 * possible libpcap read loop (pcap_open_offline + pcap_next_ex), counting
 * packets and captured bytes.  Anything slower than this is our overhead.
 */
#define _DEFAULT_SOURCE /* u_char etc. in pcap.h under -std=c11 */
#include <pcap/pcap.h>
#include <stdio.h>

int main(int argc, char **argv)
{
	char err[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr *h;
	const u_char *d;
	unsigned long long pkts = 0, bytes = 0;
	unsigned sink = 0;
	pcap_t *p;
	int rc;

	if (argc != 2) {
		fprintf(stderr, "usage: loop_pcap FILE\n");
		return 2;
	}
	p = pcap_open_offline(argv[1], err);
	if (!p) {
		fprintf(stderr, "loop_pcap: %s\n", err);
		return 1;
	}
	while ((rc = pcap_next_ex(p, &h, &d)) == 1) {
		pkts++;
		bytes += h->caplen;
		sink += d[0]; /* touch the data like a real consumer would */
	}
	if (rc == PCAP_ERROR)
		fprintf(stderr, "loop_pcap: %s\n", pcap_geterr(p));
	pcap_close(p);
	printf("packets=%llu bytes=%llu sink=%u\n", pkts, bytes, sink & 1);
	return rc == PCAP_ERROR;
}
