/*
 * bench/pcap2ng.c - rewrites a pcap file as pcapng (one section, one
 * interface, an Enhanced Packet Block per packet, microsecond times), so
 * the benchmark can time smtpscope on the pcapng form of a generated
 * capture, the format dumpcap and Wireshark write by default.  libpcap
 * reads; libpcap 1.10 cannot write pcapng, so the blocks are written here.
 */
#define _DEFAULT_SOURCE /* u_char etc. in pcap.h under -std=c11 */
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static int put32(FILE *f, uint32_t v)
{
	return fwrite(&v, 4, 1, f) == 1 ? 0 : -1;
}

static int put_header_blocks(FILE *f, int linktype, uint32_t snaplen)
{
	/* Section Header: type, length, byte-order magic, version 1.0,
	 * section length unknown (-1), length again. */
	int rc = put32(f, 0x0A0D0D0Au) | put32(f, 28) | put32(f, 0x1A2B3C4Du) |
		 put32(f, 1) | put32(f, 0xFFFFFFFFu) | put32(f, 0xFFFFFFFFu) | put32(f, 28);
	/* Interface Description: link type, reserved, snap length. */
	rc |= put32(f, 1) | put32(f, 20) | put32(f, (uint32_t)linktype & 0xFFFF) |
	      put32(f, snaplen) | put32(f, 20);
	return rc;
}

static int put_packet(FILE *f, const struct pcap_pkthdr *h, const u_char *d)
{
	static const uint8_t pad[4];
	uint32_t padded = (h->caplen + 3) & ~3u;
	uint32_t len = 32 + padded;
	uint64_t ts = (uint64_t)h->ts.tv_sec * 1000000u + (uint64_t)h->ts.tv_usec;
	int rc = put32(f, 6) | put32(f, len) | put32(f, 0) | put32(f, (uint32_t)(ts >> 32)) |
		 put32(f, (uint32_t)ts) | put32(f, h->caplen) | put32(f, h->len);
	if (fwrite(d, 1, h->caplen, f) != h->caplen ||
	    fwrite(pad, 1, padded - h->caplen, f) != padded - h->caplen) {
		return -1;
	}
	return rc | put32(f, len);
}

int main(int argc, char **argv)
{
	char err[PCAP_ERRBUF_SIZE];
	struct pcap_pkthdr *h;
	const u_char *d;
	pcap_t *p;
	FILE *out;
	int rc;

	if (argc != 3) {
		fprintf(stderr, "usage: pcap2ng IN.pcap OUT.pcapng\n");
		return 2;
	}
	p = pcap_open_offline(argv[1], err);
	if (!p) {
		fprintf(stderr, "pcap2ng: %s\n", err);
		return 1;
	}
	out = fopen(argv[2], "wb");
	if (!out || put_header_blocks(out, pcap_datalink(p), (uint32_t)pcap_snapshot(p)) != 0) {
		fprintf(stderr, "pcap2ng: cannot write %s\n", argv[2]);
		return 1;
	}
	while ((rc = pcap_next_ex(p, &h, &d)) == 1) {
		if (put_packet(out, h, d) != 0) {
			fprintf(stderr, "pcap2ng: cannot write %s\n", argv[2]);
			return 1;
		}
	}
	if (rc != PCAP_ERROR_BREAK) {
		fprintf(stderr, "pcap2ng: %s\n", pcap_geterr(p));
		return 1;
	}
	pcap_close(p);
	if (fclose(out) != 0) {
		fprintf(stderr, "pcap2ng: cannot write %s\n", argv[2]);
		return 1;
	}
	return 0;
}
