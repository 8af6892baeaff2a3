/*
 * bench/gen.c - deterministic synthetic SMTP capture generator.
 *
 * Writes an Ethernet/IPv4/TCP pcap holding many concurrent SMTP sessions
 * (handshake, delayed 220 banner, EHLO, MAIL/RCPT/DATA with optional
 * PIPELINING, dot-stuffed RFC 5322 bodies in MSS-sized segments, QUIT, FIN
 * teardown, plus three kinds of abnormal endings) and a JSON "truth" file
 * describing the capture, for smtpscope's performance and correctness
 * benchmark (bench/run.sh).  The same seed and options give identical files.
 *
 * Memory is bounded by --concurrency, not --sessions: each in-flight session
 * ("slot") keeps only the packets of its current protocol step, and a binary
 * heap over the slots merges them into one time-ordered stream.
 *
 * Timing model: the capture point sits mid-path, so every change of
 * direction costs RTT/2; the server adds ~1 ms think time per reply and a
 * few ms after end of data; the client sends body data in slow-start
 * flights clocked by the server's ACKs (one ACK per two segments).
 */
#define _DEFAULT_SOURCE
#include <getopt.h>
#include <math.h>
#include <pcap/pcap.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define T0_US (1700000000ULL * 1000000ULL)
#define NSERVERS 8
#define TCP_WINDOW 65535
#define FLIGHT_MAX_BYTES 60000 /* keep flights inside the peer's window */
#define INIT_CWND 10
#define MAX_CWND 44

#define F_FIN 0x01
#define F_SYN 0x02
#define F_RST 0x04
#define F_PSH 0x08
#define F_ACK 0x10

enum { C2S = 0, S2C = 1 };
enum kind { K_NORMAL, K_RST, K_221, K_FIN, K_COUNT };
enum phase { PH_SYN, PH_BANNER, PH_MSG, PH_BODY, PH_RST, PH_DONE };

static const char *const kind_label[K_COUNT] = {
	"normal_quit", "rst", "server_221_mid_transaction", "fin_without_quit"
};

struct opts {
	const char *out, *truth;
	uint64_t seed;
	long sessions, concurrency, messages, body_bytes, rtt_us, banner_ms, mss;
	double pipe_share, anom_share;
};

struct pkt {
	uint64_t ts;
	struct pkt *next;
	uint32_t len;
	unsigned char data[];
};

struct sbuf {
	char *p;
	size_t len, cap;
};

/* One endpoint of a session; h[C2S] is the client, h[S2C] the server. */
struct half {
	uint8_t mac[6];
	uint8_t ttl;
	uint16_t port, ipid;
	uint32_t ip, nxt;
};

struct sess {
	struct half h[2];
	struct pkt *head, *tail;
	uint64_t next_gen, last_ts, rng, t_hs_ack;
	uint32_t rtt, banner_us;
	long sid, msg, abort_msg;
	int phase, kind, pipelining, server, cwnd, nrcpt;
	struct sbuf body;
	size_t body_off, abort_at;
};

struct truth {
	long sessions, attempted, accepted, pipelined, labels[K_COUNT];
	uint64_t packets, bytes, payload, last_ts;
	uint32_t *banner;
	size_t nbanner, banner_cap;
};

struct gen {
	struct opts o;
	pcap_dumper_t *dump;
	struct sess *slot;
	uint64_t *key;
	long *heap;
	long heapn, nslots, scheduled, next_sid, anomalies;
	struct truth t;
};

/* ---------- small utilities ---------- */

static void die(const char *msg)
{
	fprintf(stderr, "gen: %s\n", msg);
	exit(2);
}

static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		die("out of memory");
	return p;
}

static uint64_t rng_next(uint64_t *s) /* splitmix64 */
{
	uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
	return z ^ (z >> 31);
}

static double rnd01(uint64_t *s)
{
	return (double)(rng_next(s) >> 11) * 0x1.0p-53;
}

static uint32_t rndn(uint64_t *s, uint32_t n)
{
	return (uint32_t)(((rng_next(s) >> 32) * n) >> 32);
}

static void sb_reserve(struct sbuf *b, size_t extra)
{
	if (b->len + extra + 1 <= b->cap)
		return;
	b->cap = (b->len + extra + 1) * 2;
	b->p = xrealloc(b->p, b->cap);
}

static void sb_add(struct sbuf *b, const char *s, size_t n)
{
	sb_reserve(b, n);
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = 0;
}

static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	sb_reserve(b, (size_t)n);
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

static void put16(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 8);
	p[1] = (unsigned char)v;
}

static void put32(unsigned char *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p + 2, v & 0xffff);
}

static uint64_t sum16(const unsigned char *b, size_t n, uint64_t acc)
{
	for (; n > 1; b += 2, n -= 2)
		acc += (uint32_t)b[0] << 8 | b[1];
	if (n)
		acc += (uint32_t)b[0] << 8;
	return acc;
}

static uint16_t fold(uint64_t acc)
{
	while (acc >> 16)
		acc = (acc & 0xffff) + (acc >> 16);
	return (uint16_t)~acc;
}

/* ---------- frame building and per-session packet queue ---------- */

static void write_ip(unsigned char *ip, struct half *src, const struct half *dst,
		     uint32_t iplen)
{
	ip[0] = 0x45;
	ip[1] = 0;
	put16(ip + 2, iplen);
	put16(ip + 4, src->ipid++);
	put16(ip + 6, 0x4000); /* DF */
	ip[8] = src->ttl;
	ip[9] = 6;
	put16(ip + 10, 0);
	put32(ip + 12, src->ip);
	put32(ip + 16, dst->ip);
	put16(ip + 10, fold(sum16(ip, 20, 0)));
}

static void write_tcp(unsigned char *th, const struct half *src, const struct half *dst,
		      const uint32_t sa[2], uint8_t flags, uint32_t thl, long mss)
{
	put16(th, src->port);
	put16(th + 2, dst->port);
	put32(th + 4, sa[0]);
	put32(th + 8, sa[1]);
	th[12] = (unsigned char)((thl / 4) << 4);
	th[13] = flags;
	put16(th + 14, TCP_WINDOW);
	put16(th + 16, 0);
	put16(th + 18, 0);
	if (thl > 20) { /* MSS option on SYN and SYN/ACK */
		th[20] = 2;
		th[21] = 4;
		put16(th + 22, (uint32_t)mss);
	}
}

static uint16_t tcp_csum(const unsigned char *ip, const unsigned char *th, uint32_t tcplen)
{
	uint64_t acc = sum16(ip + 12, 8, 0) + 6 + tcplen;

	return fold(sum16(th, tcplen, acc));
}

static struct pkt *build(struct gen *g, struct sess *s, int dir, uint8_t flags,
			 const uint32_t sa[2], const void *pl, uint32_t plen)
{
	uint32_t thl = (flags & F_SYN) ? 24 : 20, iplen = 20 + thl + plen;
	struct pkt *p = xrealloc(NULL, sizeof(*p) + 14 + iplen);
	unsigned char *ip = p->data + 14, *th = ip + 20;

	p->len = 14 + iplen;
	memcpy(p->data, s->h[!dir].mac, 6);
	memcpy(p->data + 6, s->h[dir].mac, 6);
	put16(p->data + 12, 0x0800);
	write_ip(ip, &s->h[dir], &s->h[!dir], iplen);
	write_tcp(th, &s->h[dir], &s->h[!dir], sa, flags, thl, g->o.mss);
	if (plen)
		memcpy(th + thl, pl, plen);
	put16(th + 16, tcp_csum(ip, th, thl + plen));
	return p;
}

/* Insert in timestamp order; equal timestamps keep generation order. */
static void enqueue(struct sess *s, struct pkt *p, uint64_t ts)
{
	struct pkt **pp = &s->head;

	p->ts = ts;
	p->next = NULL;
	if (ts > s->last_ts)
		s->last_ts = ts;
	if (!s->head || s->tail->ts <= ts) {
		if (s->tail)
			s->tail->next = p;
		else
			s->head = p;
		s->tail = p;
		return;
	}
	while ((*pp)->ts <= ts)
		pp = &(*pp)->next;
	p->next = *pp;
	*pp = p;
}

/* Build and queue one segment from dir with the sender's next seq and the
 * peer's next seq as ACK number (everything sent so far is acknowledged). */
static void emit(struct gen *g, struct sess *s, int dir, uint8_t flags,
		 const void *pl, uint32_t plen, uint64_t ts)
{
	struct half *src = &s->h[dir];
	uint32_t sa[2] = { src->nxt, (flags & F_ACK) ? s->h[!dir].nxt : 0 };

	enqueue(s, build(g, s, dir, flags, sa, pl, plen), ts);
	src->nxt += plen + !!(flags & F_SYN) + !!(flags & F_FIN);
	g->t.payload += plen;
}

static void emit_text(struct gen *g, struct sess *s, int dir, const char *txt, uint64_t ts)
{
	emit(g, s, dir, F_PSH | F_ACK, txt, (uint32_t)strlen(txt), ts);
}

/* ---------- timing helpers ---------- */

static uint64_t half_rtt(const struct sess *s)
{
	return s->rtt / 2;
}

static uint64_t client_turn(struct sess *s) /* server->client->server */
{
	return half_rtt(s) + 30 + rndn(&s->rng, 120);
}

static uint64_t server_turn(struct sess *s) /* client->server, ~1 ms think */
{
	return half_rtt(s) + 800 + rndn(&s->rng, 400);
}

static uint64_t wire_us(size_t frame_len) /* serialisation at 1 Gbit/s */
{
	return (frame_len * 8 + 999) / 1000;
}

static uint32_t banner_delay_us(struct gen *g, struct sess *s)
{
	const double sigma = 0.6;
	double mean = (double)g->o.banner_ms * 1000.0, mu, z, v;
	double u1 = rnd01(&s->rng), u2 = rnd01(&s->rng);

	if (mean <= 0)
		return 0;
	mu = log(mean) - sigma * sigma / 2; /* log-normal with the given mean */
	z = sqrt(-2.0 * log(1.0 - u1)) * cos(2.0 * M_PI * u2);
	v = exp(mu + sigma * z);
	if (v > 20 * mean)
		v = 20 * mean;
	return (uint32_t)v;
}

/* ---------- session setup ---------- */

static void setup_halves(struct sess *s)
{
	struct half *c = &s->h[C2S], *sv = &s->h[S2C];
	uint8_t cmac[6] = { 0x02, 0x00, 0x5e, 0x00, 0x00, 0x01 };
	uint8_t smac[6] = { 0x02, 0x00, 0x00, 0x00, 0x19, (uint8_t)s->server };

	memcpy(c->mac, cmac, 6);
	memcpy(sv->mac, smac, 6);
	c->ttl = 57;
	sv->ttl = 64;
	c->ip = 10u << 24 | rndn(&s->rng, 256) << 16 | rndn(&s->rng, 256) << 8 |
		(1 + rndn(&s->rng, 254));
	sv->ip = 192u << 24 | 0u << 16 | 2u << 8 | (10u + (uint32_t)s->server);
	c->port = (uint16_t)(1024 + s->sid % 64000);
	sv->port = 25;
	c->nxt = (uint32_t)rng_next(&s->rng);
	sv->nxt = (uint32_t)rng_next(&s->rng);
	c->ipid = (uint16_t)rng_next(&s->rng);
	sv->ipid = (uint16_t)rng_next(&s->rng);
}

static void session_setup(struct gen *g, struct sess *s)
{
	s->sid = g->next_sid++;
	s->rng = g->o.seed * 0xD1B54A32D192ED03ULL ^ (uint64_t)s->sid * 0x9E3779B97F4A7C15ULL;
	rng_next(&s->rng);
	s->server = (int)rndn(&s->rng, NSERVERS);
	s->rtt = (uint32_t)((double)g->o.rtt_us * (0.75 + 0.5 * rnd01(&s->rng)));
	s->banner_us = banner_delay_us(g, s);
	s->pipelining = rnd01(&s->rng) < g->o.pipe_share;
	s->kind = K_NORMAL;
	if (rnd01(&s->rng) < g->o.anom_share && g->o.messages > 0)
		s->kind = 1 + (int)(g->anomalies++ % 3);
	s->abort_msg = g->o.messages > 0 ? (long)rndn(&s->rng, (uint32_t)g->o.messages) : 0;
	s->msg = 0;
	setup_halves(s);
	g->t.sessions++;
	g->t.pipelined += s->pipelining;
}

/* ---------- message body ---------- */

static const char *const words[] = {
	"the", "quarterly", "report", "shows", "that", "delivery", "rates", "improved",
	"across", "all", "regions", "and", "we", "expect", "further", "growth", "in",
	"next", "period", "please", "review", "attached", "figures", "before", "our",
	"meeting", "on", "Thursday", "regards", "team", "invoice", "payment", "due",
	"schedule", "project", "update", "server", "migration", "completed", "without",
	"issues", "customer", "feedback", "was", "positive", "budget", "approval",
	"pending", "for", "new", "hardware", "order", "shipped", "tracking", "number",
	"follows", "thanks", "again", "support", "ticket", "resolved", "closing", "now",
	"agenda"
};

static void body_line(struct sess *s, struct sbuf *b)
{
	size_t start = b->len, target = 30 + rndn(&s->rng, 47);
	uint32_t r = rndn(&s->rng, 1000);

	if (r < 3) { /* a line that is a lone "." -> stuffed to ".." */
		sb_add(b, "..\r\n", 4);
		return;
	}
	if (r < 100) { /* paragraph break */
		sb_add(b, "\r\n", 2);
		return;
	}
	if (r < 125) /* line starting with '.', dot-stuffed */
		sb_add(b, "..", 2);
	while (b->len - start < target) {
		const char *w = words[rndn(&s->rng, sizeof(words) / sizeof(words[0]))];
		if (b->len > start && b->p[b->len - 1] != '.')
			sb_add(b, " ", 1);
		sb_add(b, w, strlen(w));
	}
	sb_add(b, "\r\n", 2);
}

static void body_headers(struct sess *s, struct sbuf *b, uint64_t ts)
{
	char date[64];
	time_t sec = (time_t)(ts / 1000000);
	struct tm tm;
	uint32_t cip = s->h[C2S].ip;

	gmtime_r(&sec, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S +0000", &tm);
	sb_printf(b, "Received: from client%ld.example.net (client%ld.example.net "
		  "[%u.%u.%u.%u])\r\n\tby mx%d.bench.test (Postfix) with ESMTP id %08X\r\n"
		  "\tfor <rcpt0@dest%ld.example.com>; %s\r\n",
		  s->sid, s->sid, cip >> 24, cip >> 16 & 255, cip >> 8 & 255, cip & 255,
		  s->server, (unsigned)rng_next(&s->rng), s->sid % 97, date);
	sb_printf(b, "From: \"Sender %ld\" <user%ld@sender%ld.example.org>\r\n"
		  "To: <rcpt0@dest%ld.example.com>\r\nSubject: Benchmark message %ld/%ld\r\n"
		  "Date: %s\r\nMessage-ID: <%ld.%ld.%08x@client%ld.example.net>\r\n"
		  "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n",
		  s->sid, s->sid, s->sid % 101, s->sid % 97, s->sid, s->msg, date, s->sid,
		  s->msg, (unsigned)rng_next(&s->rng), s->sid);
}

static void make_body(struct gen *g, struct sess *s, uint64_t ts)
{
	size_t target = (size_t)((double)g->o.body_bytes * (0.75 + 0.5 * rnd01(&s->rng)));

	s->body.len = 0;
	body_headers(s, &s->body, ts);
	while (s->body.len < target)
		body_line(s, &s->body);
	sb_add(&s->body, ".\r\n", 3);
	s->body_off = 0;
	s->abort_at = s->body.len / 2;
}

/* ---------- protocol steps ---------- */

static void step_syn(struct gen *g, struct sess *s, uint64_t t)
{
	session_setup(g, s);
	emit(g, s, C2S, F_SYN, NULL, 0, t);
	t += half_rtt(s);
	emit(g, s, S2C, F_SYN | F_ACK, NULL, 0, t);
	t += half_rtt(s);
	emit(g, s, C2S, F_ACK, NULL, 0, t);
	s->t_hs_ack = t;
	s->phase = PH_BANNER;
	s->next_gen = t + s->banner_us;
}

static void record_banner(struct gen *g, uint64_t lat_us)
{
	struct truth *t = &g->t;

	if (t->nbanner == t->banner_cap) {
		t->banner_cap = t->banner_cap ? t->banner_cap * 2 : 4096;
		t->banner = xrealloc(t->banner, t->banner_cap * sizeof(*t->banner));
	}
	t->banner[t->nbanner++] = (uint32_t)lat_us;
}

static void step_banner(struct gen *g, struct sess *s, uint64_t t)
{
	char buf[256];

	snprintf(buf, sizeof(buf), "220 mx%d.bench.test ESMTP\r\n", s->server);
	emit_text(g, s, S2C, buf, t);
	record_banner(g, t - s->t_hs_ack);
	t += client_turn(s);
	snprintf(buf, sizeof(buf), "EHLO client%ld.example.net\r\n", s->sid);
	emit_text(g, s, C2S, buf, t);
	t += server_turn(s);
	snprintf(buf, sizeof(buf), "250-mx%d.bench.test\r\n%s250-SIZE 52428800\r\n"
		 "250-ETRN\r\n250-ENHANCEDSTATUSCODES\r\n250-8BITMIME\r\n250 DSN\r\n",
		 s->server, s->pipelining ? "250-PIPELINING\r\n" : "");
	emit_text(g, s, S2C, buf, t);
	s->phase = PH_MSG;
	s->next_gen = t + client_turn(s);
}

static void cmd_mail(const struct sess *s, char *buf, size_t n)
{
	snprintf(buf, n, "MAIL FROM:<user%ld@sender%ld.example.org> SIZE=%zu\r\n",
		 s->sid, s->sid % 101, s->body.len);
}

static void cmd_rcpt(const struct sess *s, int i, char *buf, size_t n)
{
	snprintf(buf, n, "RCPT TO:<rcpt%d@dest%ld.example.com>\r\n", i, (s->sid + i) % 97);
}

/* Server answers with 221 and closes (FIN); client answers FIN; final ACK.
 * t is the time of the 221 segment, already emitted. */
static void close_by_server(struct gen *g, struct sess *s, uint64_t t)
{
	emit(g, s, S2C, F_FIN | F_ACK, NULL, 0, t + 30);
	t += 30 + client_turn(s);
	emit(g, s, C2S, F_FIN | F_ACK, NULL, 0, t);
	emit(g, s, S2C, F_ACK, NULL, 0, t + half_rtt(s));
	s->phase = PH_DONE;
}

/* Pipelined MAIL + RCPTs + DATA in one segment, replies in one segment. */
static uint64_t pipelined_cmds(struct gen *g, struct sess *s, uint64_t t, int bye)
{
	char line[256];
	struct sbuf cmd = { 0 }, rep = { 0 };

	cmd_mail(s, line, sizeof(line));
	sb_add(&cmd, line, strlen(line));
	for (int i = 0; i < s->nrcpt; i++) {
		cmd_rcpt(s, i, line, sizeof(line));
		sb_add(&cmd, line, strlen(line));
	}
	sb_add(&cmd, "DATA\r\n", 6);
	emit_text(g, s, C2S, cmd.p, t);
	sb_add(&rep, "250 2.1.0 Ok\r\n", 14);
	for (int i = 0; i < (bye ? 1 : s->nrcpt); i++)
		sb_add(&rep, bye ? "221 2.0.0 Bye\r\n" : "250 2.1.5 Ok\r\n", bye ? 15 : 14);
	if (!bye)
		sb_add(&rep, "354 End data with <CR><LF>.<CR><LF>\r\n", 37);
	t += server_turn(s);
	emit_text(g, s, S2C, rep.p, t);
	free(cmd.p);
	free(rep.p);
	return t;
}

static uint64_t exchange(struct gen *g, struct sess *s, uint64_t t, const char *cmd,
			 const char *reply)
{
	emit_text(g, s, C2S, cmd, t);
	t += server_turn(s);
	emit_text(g, s, S2C, reply, t);
	return t;
}

/* One command per round trip; with bye, the first RCPT is answered by 221. */
static uint64_t serial_cmds(struct gen *g, struct sess *s, uint64_t t, int bye)
{
	char line[256];

	cmd_mail(s, line, sizeof(line));
	t = exchange(g, s, t, line, "250 2.1.0 Ok\r\n");
	for (int i = 0; i < s->nrcpt; i++) {
		cmd_rcpt(s, i, line, sizeof(line));
		t = exchange(g, s, t + client_turn(s), line,
			     bye ? "221 2.0.0 Bye\r\n" : "250 2.1.5 Ok\r\n");
		if (bye)
			return t;
	}
	return exchange(g, s, t + client_turn(s), "DATA\r\n",
			"354 End data with <CR><LF>.<CR><LF>\r\n");
}

static void step_close(struct gen *g, struct sess *s, uint64_t t)
{
	if (s->kind == K_FIN) {
		emit(g, s, C2S, F_FIN | F_ACK, NULL, 0, t);
		t += server_turn(s);
		emit(g, s, S2C, F_FIN | F_ACK, NULL, 0, t);
		emit(g, s, C2S, F_ACK, NULL, 0, t + half_rtt(s));
		s->phase = PH_DONE;
		return;
	}
	close_by_server(g, s, exchange(g, s, t, "QUIT\r\n", "221 2.0.0 Bye\r\n"));
}

static void step_msg(struct gen *g, struct sess *s, uint64_t t)
{
	int bye;

	if (s->msg == g->o.messages) {
		step_close(g, s, t);
		return;
	}
	g->t.attempted++;
	make_body(g, s, t);
	s->nrcpt = 1 + (int)rndn(&s->rng, 3);
	bye = s->kind == K_221 && s->msg == s->abort_msg;
	t = s->pipelining ? pipelined_cmds(g, s, t, bye) : serial_cmds(g, s, t, bye);
	if (bye) {
		close_by_server(g, s, t);
		return;
	}
	s->cwnd = INIT_CWND;
	s->phase = PH_BODY;
	s->next_gen = t + client_turn(s);
}

static void end_of_data(struct gen *g, struct sess *s, uint64_t t)
{
	char buf[128];

	t += half_rtt(s) + 3000 + rndn(&s->rng, 4000);
	snprintf(buf, sizeof(buf), "250 2.0.0 Ok: queued as %010X\r\n",
		 (unsigned)rng_next(&s->rng));
	emit_text(g, s, S2C, buf, t);
	g->t.accepted++;
	s->msg++;
	s->phase = PH_MSG;
	s->next_gen = t + client_turn(s);
}

/* One slow-start flight of body segments, the server ACKing every second. */
static void step_body(struct gen *g, struct sess *s, uint64_t t)
{
	int aborting = s->kind == K_RST && s->msg == s->abort_msg;
	size_t end = aborting ? s->abort_at : s->body.len, flight = 0, mss = (size_t)g->o.mss;
	uint64_t ts = t, last_seg = t, last_ack = t;
	int nseg = 0;

	while (s->body_off < end && nseg < s->cwnd && flight + mss <= FLIGHT_MAX_BYTES) {
		size_t n = end - s->body_off < mss ? end - s->body_off : mss;
		emit(g, s, C2S, F_ACK | (s->body_off + n == end ? F_PSH : 0),
		     s->body.p + s->body_off, (uint32_t)n, ts);
		s->body_off += n;
		flight += n;
		last_seg = ts;
		if (++nseg % 2 == 0)
			emit(g, s, S2C, F_ACK, NULL, 0, (last_ack = ts + half_rtt(s)));
		ts += wire_us(n + 54);
	}
	if (nseg % 2 && s->body_off < s->body.len)
		emit(g, s, S2C, F_ACK, NULL, 0, (last_ack = last_seg + half_rtt(s)));
	if (s->body_off == s->body.len) {
		end_of_data(g, s, last_seg);
	} else if (s->body_off == end) {
		s->phase = PH_RST;
		s->next_gen = s->last_ts + 200;
	} else {
		s->cwnd = s->cwnd * 2 > MAX_CWND ? MAX_CWND : s->cwnd * 2;
		s->next_gen = last_ack + half_rtt(s) > ts ? last_ack + half_rtt(s) : ts;
	}
}

static void step_rst(struct gen *g, struct sess *s, uint64_t t)
{
	emit(g, s, C2S, F_RST | F_ACK, NULL, 0, t);
	s->phase = PH_DONE;
}

static void step(struct gen *g, struct sess *s)
{
	uint64_t t = s->next_gen;

	switch (s->phase) {
	case PH_SYN: step_syn(g, s, t); break;
	case PH_BANNER: step_banner(g, s, t); break;
	case PH_MSG: step_msg(g, s, t); break;
	case PH_BODY: step_body(g, s, t); break;
	case PH_RST: step_rst(g, s, t); break;
	default: die("step in bad phase");
	}
}

/* ---------- event heap over slots ---------- */

static int key_less(const struct gen *g, long a, long b)
{
	return g->key[a] < g->key[b] || (g->key[a] == g->key[b] && a < b);
}

static void heap_down(struct gen *g, long i)
{
	long n = g->heapn, *h = g->heap;

	for (;;) {
		long l = 2 * i + 1, r = l + 1, m = i;
		if (l < n && key_less(g, h[l], h[m]))
			m = l;
		if (r < n && key_less(g, h[r], h[m]))
			m = r;
		if (m == i)
			return;
		long tmp = h[i];
		h[i] = h[m];
		h[m] = tmp;
		i = m;
	}
}

static uint64_t slot_key(const struct sess *s)
{
	if (s->phase == PH_DONE)
		return s->head->ts;
	if (s->head && s->head->ts <= s->next_gen)
		return s->head->ts;
	return s->next_gen;
}

static void write_head(struct gen *g, struct sess *s)
{
	struct pkt *p = s->head;
	struct pcap_pkthdr h;

	if (p->ts < g->t.last_ts)
		die("internal error: timestamps out of order");
	g->t.last_ts = p->ts;
	h.ts.tv_sec = (time_t)(p->ts / 1000000);
	h.ts.tv_usec = (suseconds_t)(p->ts % 1000000);
	h.caplen = h.len = p->len;
	pcap_dump((u_char *)g->dump, &h, p->data);
	g->t.packets++;
	g->t.bytes += p->len;
	s->head = p->next;
	if (!s->head)
		s->tail = NULL;
	free(p);
}

/* Session in slot i is over: start the next one there, or retire the slot. */
static void slot_finish(struct gen *g, long i)
{
	struct sess *s = &g->slot[i];

	g->t.labels[s->kind]++;
	if (g->scheduled < g->o.sessions) {
		g->scheduled++;
		s->phase = PH_SYN;
		s->next_gen = s->last_ts + 100 + rndn(&s->rng, 2000);
		g->key[i] = s->next_gen;
	} else {
		g->heap[0] = g->heap[--g->heapn];
	}
	heap_down(g, 0);
}

static void run(struct gen *g)
{
	while (g->heapn) {
		long i = g->heap[0];
		struct sess *s = &g->slot[i];

		if (s->head && (s->phase == PH_DONE || s->head->ts <= s->next_gen))
			write_head(g, s);
		else
			step(g, s);
		if (s->phase == PH_DONE && !s->head) {
			slot_finish(g, i);
			continue;
		}
		g->key[i] = slot_key(s);
		heap_down(g, 0);
	}
}

/* Rough session length, used only to stagger the first session of each slot. */
static double est_session_us(const struct opts *o)
{
	double half = o->rtt_us / 2.0, segs = ceil(o->body_bytes * 1.2 / o->mss);
	double flights = ceil(log2(segs / INIT_CWND + 1.0)) + 1.0;
	double serial = 2 * (half + 1000) * 4 + 4 * half;
	double piped = 2 * (half + 1000) + 2 * half;
	double per_msg = o->pipe_share * piped + (1 - o->pipe_share) * serial +
			 flights * 2 * half + 5000 + 2 * half;

	return 4 * half + o->banner_ms * 1000.0 + 2 * (2 * half + 1000) +
	       (double)o->messages * per_msg + 4 * half;
}

static void init_slots(struct gen *g)
{
	long n = g->o.concurrency < g->o.sessions ? g->o.concurrency : g->o.sessions;
	double spread = 0.5 * est_session_us(&g->o); /* ramp well within one session */

	g->nslots = g->heapn = n;
	g->slot = calloc((size_t)n + 1, sizeof(*g->slot));
	g->key = calloc((size_t)n + 1, sizeof(*g->key));
	g->heap = calloc((size_t)n + 1, sizeof(*g->heap));
	if (!g->slot || !g->key || !g->heap)
		die("out of memory");
	for (long i = 0; i < n; i++) {
		g->slot[i].phase = PH_SYN;
		g->slot[i].next_gen = T0_US + (uint64_t)(spread * (double)i / (double)n);
		g->key[i] = g->slot[i].next_gen;
		g->heap[i] = i;
	}
	g->scheduled = n;
}

/* ---------- truth output ---------- */

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

static double pct_ms(const struct truth *t, double p) /* nearest-rank */
{
	size_t k;

	if (!t->nbanner)
		return 0;
	k = (size_t)ceil(p * (double)t->nbanner);
	k = k ? k - 1 : 0;
	return t->banner[k < t->nbanner ? k : t->nbanner - 1] / 1000.0;
}

static void write_truth(struct gen *g)
{
	struct truth *t = &g->t;
	FILE *f = fopen(g->o.truth, "w");

	if (!f)
		die("cannot open truth file");
	qsort(t->banner, t->nbanner, sizeof(*t->banner), cmp_u32);
	fprintf(f, "{\"generator\":\"smtpscope-bench-gen\",\"seed\":%llu,\"sessions\":%ld,"
		"\"messages_attempted\":%ld,\"messages_accepted\":%ld,\"labels\":{",
		(unsigned long long)g->o.seed, t->sessions, t->attempted, t->accepted);
	for (int k = 0; k < K_COUNT; k++)
		fprintf(f, "%s\"%s\":%ld", k ? "," : "", kind_label[k], t->labels[k]);
	fprintf(f, "},\"pipelining_sessions\":%ld,\"packets\":%llu,\"bytes\":%llu,"
		"\"tcp_payload_bytes\":%llu,\"concurrency\":%ld,",
		t->pipelined, (unsigned long long)t->packets, (unsigned long long)t->bytes,
		(unsigned long long)t->payload, g->nslots);
	fprintf(f, "\"banner_latency_ms\":{\"p50\":%.3f,\"p90\":%.3f,\"p99\":%.3f,"
		"\"max\":%.3f}}\n", pct_ms(t, 0.50), pct_ms(t, 0.90), pct_ms(t, 0.99),
		pct_ms(t, 1.0));
	if (fclose(f))
		die("error writing truth file");
}

/* ---------- options and main ---------- */

static void usage(void)
{
	fprintf(stderr,
		"usage: gen --out FILE [--truth FILE] [--seed N] [--sessions N]\n"
		"           [--concurrency N] [--messages N] [--body-bytes N]\n"
		"           [--pipelining-share F] [--anomaly-share F] [--rtt-us N]\n"
		"           [--banner-ms N] [--mss N]\n");
	exit(2);
}

static void set_opt(struct opts *o, int c, const char *v)
{
	switch (c) {
	case 'o': o->out = v; break;
	case 't': o->truth = v; break;
	case 's': o->seed = strtoull(v, NULL, 0); break;
	case 'n': o->sessions = atol(v); break;
	case 'c': o->concurrency = atol(v); break;
	case 'm': o->messages = atol(v); break;
	case 'b': o->body_bytes = atol(v); break;
	case 'p': o->pipe_share = atof(v); break;
	case 'a': o->anom_share = atof(v); break;
	case 'r': o->rtt_us = atol(v); break;
	case 'B': o->banner_ms = atol(v); break;
	case 'M': o->mss = atol(v); break;
	default: usage();
	}
}

static void parse_opts(struct opts *o, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "out", 1, 0, 'o' }, { "truth", 1, 0, 't' }, { "seed", 1, 0, 's' },
		{ "sessions", 1, 0, 'n' }, { "concurrency", 1, 0, 'c' },
		{ "messages", 1, 0, 'm' }, { "body-bytes", 1, 0, 'b' },
		{ "pipelining-share", 1, 0, 'p' }, { "anomaly-share", 1, 0, 'a' },
		{ "rtt-us", 1, 0, 'r' }, { "banner-ms", 1, 0, 'B' }, { "mss", 1, 0, 'M' },
		{ 0, 0, 0, 0 }
	};
	int c;

	*o = (struct opts){ .seed = 1, .sessions = 100, .concurrency = 10, .messages = 2,
			    .body_bytes = 4000, .pipe_share = 0.5, .anom_share = 0.1,
			    .rtt_us = 20000, .banner_ms = 50, .mss = 1460 };
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1)
		set_opt(o, c, optarg);
	if (!o->out || optind != argc || o->sessions < 0 || o->concurrency < 1 ||
	    o->messages < 0 || o->body_bytes < 0 || o->rtt_us < 2 || o->banner_ms < 0 ||
	    o->mss < 536 || o->mss > 9000 || o->pipe_share < 0 || o->pipe_share > 1 ||
	    o->anom_share < 0 || o->anom_share > 1)
		usage();
}

static void open_output(struct gen *g)
{
	pcap_t *pd = pcap_open_dead(DLT_EN10MB, 262144);
	FILE *f = fopen(g->o.out, "wb");

	if (!pd || !f)
		die("cannot open output");
	setvbuf(f, NULL, _IOFBF, 1 << 20);
	g->dump = pcap_dump_fopen(pd, f);
	if (!g->dump)
		die(pcap_geterr(pd));
}

int main(int argc, char **argv)
{
	static struct gen g;

	parse_opts(&g.o, argc, argv);
	open_output(&g);
	if (g.o.sessions > 0) {
		init_slots(&g);
		run(&g);
	}
	if (pcap_dump_flush(g.dump))
		die("error writing capture");
	pcap_dump_close(g.dump);
	if (g.o.truth)
		write_truth(&g);
	fprintf(stderr, "gen: %ld sessions, %llu packets, %llu bytes\n", g.t.sessions,
		(unsigned long long)g.t.packets, (unsigned long long)g.t.bytes);
	return 0;
}
