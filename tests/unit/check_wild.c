/*
 * check_wild.c - unit tests of what stands between decoding and the
 * session for captures taken in the wild: offloaded segments, ACKs and
 * RSTs captured before the data they follow, stale windows, bytes lost to
 * the capture, one-sided captures (stream_nids.c and decode.c).
 *
 * Each test builds the packets of one SMTP connection as a sensor would
 * have recorded them and feeds them through the real glue and libnids;
 * the record that comes out must read as the conversation really went.
 * Each would fail with the fix it names undone.  libnids is a singleton:
 * every test starts it anew (start) and shuts it down (finish).
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdlib.h>
#include <string.h>

#include "decode.h"
#include "session.h"
#include "smtp_limits.h"
#include "stream_nids.h"
#include "suites.h"
#include "test_util.h"

#define C_ADDR 0xC0000201u /* 192.0.2.1 */
#define S_ADDR 0xC6336402u /* 198.51.100.2 */
#define C_PORT 50001
#define T0 1700000000000000LL
#define C_ISN 1000u
#define S_ISN 5000u

#define FIN 0x01
#define SYN 0x02
#define RST 0x04
#define PSH 0x08
#define ACK 0x10

static struct {
    struct session_table table;
    struct rec_copy *emitted;
    int64_t now;
} g;

static void keep(void *ctx, const struct session_record *r)
{
    (void)ctx;
    struct rec_copy *c = rec_copy_make(r);
    c->next = g.emitted;
    g.emitted = c;
}

static void start(void)
{
    static struct port_set ports;
    port_set_clear(&ports);
    port_set_add(&ports, 25);
    memset(&g, 0, sizeof(g));
    g.now = T0;
    struct session_config scfg = {
        .idle_timeout_us = SESSION_IDLE_TIMEOUT_US,
        .idle_timeout_data_us = SESSION_IDLE_TIMEOUT_DATA_US,
        .glue_size = STREAM_GLUE_SIZE,
        .resume_client = stream_resume_client,
    };
    ck_assert(session_table_init(&g.table, &scfg, (struct session_sink){keep, NULL}));
    struct stream_config cfg = {
        .max_streams = 1024,
        .free_buffers_above = 1u << 22,
        .prefetch_above = 1u << 22,
        .reorder_window_us = REORDER_WINDOW_MS_DEFAULT * 1000LL,
        .reorder_packets = REORDER_PACKETS_DEFAULT,
        .ports = &ports,
    };
    char err[256];
    ck_assert_int_eq(stream_init(&cfg, &g.table, err, sizeof(err)), 0);
}

/* Ends the input; returns the one record (the caller frees it). */
static struct rec_copy *finish(struct stream_stats *stats)
{
    stream_get_stats(stats);
    stream_finish(RECORD_END_END_OF_INPUT, g.now);
    session_table_flush(&g.table);
    session_table_free(&g.table);
    ck_assert_ptr_nonnull(g.emitted);
    ck_assert_ptr_null(g.emitted->next);
    return g.emitted;
}

static void put16(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
    put16(p, v >> 16);
    put16(p + 2, v & 0xFFFF);
}

/*
 * Builds one segment into pkt (room for 40 + n bytes): seq and ack
 * relative to the ISNs, window as given (unscaled), IP length as it
 * should be unless ip_len_zero (an offloaded segment).  Returns its size.
 */
static size_t build(uint8_t *pkt, bool from_client, uint32_t rel_seq, uint32_t rel_ack,
                    uint8_t flags, uint16_t window, const char *payload, size_t n,
                    bool ip_len_zero)
{
    memset(pkt, 0, 40);
    pkt[0] = 0x45;
    put16(pkt + 2, ip_len_zero ? 0 : (uint32_t)(40 + n));
    pkt[8] = 64;
    pkt[9] = 6;
    put32(pkt + 12, from_client ? C_ADDR : S_ADDR);
    put32(pkt + 16, from_client ? S_ADDR : C_ADDR);
    uint32_t sum = 0;
    for (int i = 0; i < 20; i += 2) {
        sum += (uint32_t)pkt[i] << 8 | pkt[i + 1];
    }
    while (sum > 0xFFFF) {
        sum = (sum & 0xFFFF) + (sum >> 16);
    }
    put16(pkt + 10, ~sum & 0xFFFF);
    uint8_t *t = pkt + 20;
    put16(t, from_client ? C_PORT : 25);
    put16(t + 2, from_client ? 25 : C_PORT);
    put32(t + 4, (from_client ? C_ISN : S_ISN) + rel_seq);
    put32(t + 8, (flags & ACK) ? (from_client ? S_ISN : C_ISN) + rel_ack : 0);
    t[12] = 5 << 4;
    t[13] = flags;
    put16(t + 14, window);
    if (n > 0) {
        memcpy(t + 20, payload, n);
    }
    return 40 + n;
}

/* One segment, 1 ms after the one before.  Sequence numbers are relative:
 * 0 is the SYN, data starts at 1. */
static void seg_win(bool from_client, uint32_t seq, uint32_t ack, uint8_t flags, uint16_t window,
                    const char *text)
{
    uint8_t pkt[40 + 2048];
    size_t n = text != NULL ? strlen(text) : 0;
    ck_assert_uint_le(n, 2048);
    size_t len = build(pkt, from_client, seq, ack, flags, window, text, n, false);
    g.now += 1000;
    stream_feed_ipv4(pkt, len, g.now);
}

static void seg(bool from_client, uint32_t seq, uint32_t ack, uint8_t flags, const char *text)
{
    seg_win(from_client, seq, ack, flags, 65535, text);
}

#define CL true
#define SV false

static void handshake(void)
{
    seg(CL, 0, 0, SYN, NULL);
    seg(SV, 0, 1, SYN | ACK, NULL);
    seg(CL, 1, 1, ACK, NULL);
}

static uint32_t len_of(const char *s)
{
    return (uint32_t)strlen(s);
}

static const struct record_exchange *exchange(const struct session_record *r, uint32_t i)
{
    ck_assert_uint_gt(r->n_exchanges, i);
    return &r->exchanges[i];
}

#define HAS_FLAG(r, f) (((r)->flags & VERDICT_FLAG_BIT(VERDICT_FLAG_##f)) != 0)

/* ---- ACKs captured before the data they acknowledge ------------------- */

/*
 * The client's ACK of both greeting lines is captured before either: to
 * libnids the first line then lies wholly below what the receiver
 * acknowledged, and it throws it away (stream_nids.c feed_again_if_dropped
 * takes it again).
 */
START_TEST(test_ack_before_data)
{
    start();
    handshake();
    const char *l1 = "220-mx.test first line\r\n";
    const char *l2 = "220 mx.test ESMTP\r\n";
    uint32_t all = len_of(l1) + len_of(l2);
    seg(CL, 1, 1 + all, ACK, NULL);
    seg(SV, 1, 1, PSH | ACK, l1);
    seg(SV, 1 + len_of(l1), 1, PSH | ACK, l2);
    seg(CL, 1, 1 + all, PSH | ACK, "QUIT\r\n");
    seg(SV, 1 + all, 7, PSH | ACK, "221 bye\r\n");
    seg(CL, 7, 1 + all + 9, FIN | ACK, NULL);
    seg(SV, 1 + all + 9, 8, FIN | ACK, NULL);
    seg(CL, 8, 1 + all + 10, ACK, NULL);
    struct stream_stats st;
    struct rec_copy *c = finish(&st);
    const struct session_record *r = &c->r;
    ck_assert(r->has_greeting);
    ck_assert_uint_eq(r->greeting.code, 220);
    ck_assert_uint_eq(r->greeting.n_lines, 2);
    ck_assert_uint_eq(r->label, VERDICT_NORMAL_QUIT);
    ck_assert_uint_ge(st.n_window_reopened, 1);
    ck_assert(!HAS_FLAG(r, STREAM_GAP));
    rec_copy_free(c);
}
END_TEST

/* The server's reply (and its ACK of the command) is captured before the
 * command it answers: the reply waits for it (hold_back). */
START_TEST(test_reply_captured_before_command)
{
    start();
    handshake();
    seg(SV, 1, 1, PSH | ACK, "220 mx\r\n");
    seg(CL, 1, 9, PSH | ACK, "EHLO c\r\n");
    seg(SV, 9, 9, PSH | ACK, "250 mx\r\n");
    /* QUIT was sent before the 221, but recorded after it. */
    seg(SV, 17, 15, PSH | ACK, "221 bye\r\n");
    seg(CL, 9, 17, PSH | ACK, "QUIT\r\n");
    seg(SV, 26, 15, FIN | ACK, NULL);
    seg(CL, 15, 27, FIN | ACK, NULL);
    seg(SV, 27, 16, ACK, NULL);
    struct stream_stats st;
    struct rec_copy *c = finish(&st);
    const struct session_record *r = &c->r;
    ck_assert_uint_eq(r->n_exchanges, 2);
    ck_assert_uint_eq(exchange(r, 1)->verb, SMTP_VERB_QUIT);
    ck_assert_uint_eq(exchange(r, 1)->code, 221);
    ck_assert(!HAS_FLAG(r, UNSOLICITED_REPLY));
    ck_assert_uint_eq(r->label, VERDICT_NORMAL_QUIT);
    ck_assert_uint_ge(st.n_held_back, 1);
    rec_copy_free(c);
}
END_TEST

/* The client's RST, acknowledging the 221, is captured before the 221 and
 * the server's FIN before its data: libnids would end the stream at the
 * RST and lose the reply (defer_rst). */
START_TEST(test_rst_and_fin_before_data)
{
    start();
    handshake();
    seg(SV, 1, 1, PSH | ACK, "220 mx\r\n");
    seg(CL, 1, 9, PSH | ACK, "QUIT\r\n");
    seg(SV, 18, 7, FIN | ACK, NULL);
    seg(CL, 7, 19, RST | ACK, NULL);
    seg(SV, 9, 7, PSH | ACK, "221 bye\r\n");
    struct stream_stats st;
    struct rec_copy *c = finish(&st);
    const struct session_record *r = &c->r;
    ck_assert_uint_eq(r->n_exchanges, 1);
    ck_assert_uint_eq(exchange(r, 0)->code, 221);
    ck_assert_uint_eq(r->label, VERDICT_NORMAL_QUIT);
    ck_assert(HAS_FLAG(r, RST_AFTER_221));
    ck_assert_uint_eq(st.n_rst_deferred, 1);
    rec_copy_free(c);
}
END_TEST

/* A greeting sent without CRLF, answered by the client's EHLO: to the
 * client it was a whole line (peer_line_done, session_line_done). */
START_TEST(test_greeting_without_crlf)
{
    start();
    handshake();
    seg(SV, 1, 1, PSH | ACK, "220 mx.test ESMTP");
    seg(CL, 1, 18, PSH | ACK, "EHLO c\r\n");
    seg(SV, 18, 9, PSH | ACK, "250 mx\r\n");
    seg(CL, 9, 26, PSH | ACK, "QUIT\r\n");
    seg(SV, 26, 15, PSH | ACK, "221 bye\r\n");
    struct stream_stats st;
    struct rec_copy *c = finish(&st);
    const struct session_record *r = &c->r;
    ck_assert(r->has_greeting);
    ck_assert_uint_eq(r->greeting.code, 220);
    ck_assert_uint_eq(r->n_exchanges, 2);
    ck_assert_uint_eq(exchange(r, 0)->code, 250);
    ck_assert_uint_eq(exchange(r, 1)->code, 221);
    ck_assert(!HAS_FLAG(r, CLIENT_BEFORE_GREETING));
    rec_copy_free(c);
}
END_TEST

/* ---- windows ----------------------------------------------------------- */

/* The server's last segment advertised a zero window (its update was not
 * captured); the client's command still reached it (open_window). */
START_TEST(test_data_past_a_stale_window)
{
    start();
    handshake();
    seg_win(SV, 1, 1, PSH | ACK, 0, "220 mx\r\n");
    seg(CL, 1, 9, PSH | ACK, "QUIT\r\n");
    seg(SV, 9, 7, PSH | ACK, "221 bye\r\n");
    struct stream_stats st;
    struct rec_copy *c = finish(&st);
    const struct session_record *r = &c->r;
    ck_assert_uint_eq(r->n_exchanges, 1);
    ck_assert_uint_eq(exchange(r, 0)->verb, SMTP_VERB_QUIT);
    ck_assert_uint_eq(exchange(r, 0)->code, 221);
    ck_assert_uint_ge(st.n_window_reopened, 1);
    rec_copy_free(c);
}
END_TEST

/* ---- bytes lost to the capture ----------------------------------------- */

/* One segment of the message body is missing, but the server acknowledged
 * it: the hole is given up, the message keeps its size, and the reply
 * ends it without blame (give_up_hole, session_gap). */
START_TEST(test_body_segment_lost)
{
    start();
    handshake();
    const char *p1 = "Subject: t\r\n\r\nfirst part of the body, ";
    const char *p2 = "the part the capture lost, ";
    const char *p3 = "and the end\r\n.\r\n";
    seg(SV, 1, 1, PSH | ACK, "220 mx\r\n");
    seg(CL, 1, 9, PSH | ACK, "MAIL FROM:<a@b>\r\n");
    seg(SV, 9, 18, PSH | ACK, "250 ok\r\n");
    seg(CL, 18, 17, PSH | ACK, "RCPT TO:<c@d>\r\n");
    seg(SV, 17, 33, PSH | ACK, "250 ok\r\n");
    seg(CL, 33, 25, PSH | ACK, "DATA\r\n");
    seg(SV, 25, 39, PSH | ACK, "354 go\r\n");
    uint32_t b = 39;
    seg(CL, b, 33, ACK, p1);
    uint32_t lost_at = b + len_of(p1);
    uint32_t end = lost_at + len_of(p2) + len_of(p3);
    seg(CL, lost_at + len_of(p2), 33, PSH | ACK, p3);
    seg(SV, 33, end, PSH | ACK, "250 queued\r\n");
    seg(CL, end, 45, PSH | ACK, "QUIT\r\n");
    seg(SV, 45, end + 6, PSH | ACK, "221 bye\r\n");
    /* Far past the reorder window: the hole is given up before input ends. */
    g.now += 10 * REORDER_WINDOW_MS_DEFAULT * 1000LL;
    seg(CL, end + 6, 54, FIN | ACK, NULL);
    seg(SV, 54, end + 7, FIN | ACK, NULL);
    seg(CL, end + 7, 55, ACK, NULL);
    struct stream_stats st;
    struct rec_copy *c = finish(&st);
    const struct session_record *r = &c->r;
    ck_assert(HAS_FLAG(r, STREAM_GAP));
    ck_assert(!HAS_FLAG(r, DATA_ENDED_BY_SERVER));
    ck_assert_uint_eq(r->gap_bytes[SMTP_DIR_CLIENT], len_of(p2));
    ck_assert_uint_eq(r->gap_bytes[SMTP_DIR_SERVER], 0);
    ck_assert_uint_eq(r->messages_accepted, 1);
    ck_assert_uint_eq(exchange(r, 3)->kind, RECORD_KIND_MESSAGE);
    /* The size the message had on the wire (the final "." line aside). */
    ck_assert_uint_eq(exchange(r, 3)->size, len_of(p1) + len_of(p2) + len_of(p3) - 3);
    ck_assert_uint_eq(exchange(r, 3)->code, 250);
    ck_assert_uint_eq(exchange(r, 4)->code, 221);
    ck_assert_uint_eq(r->label, VERDICT_NORMAL_QUIT);
    ck_assert_uint_eq(st.n_holes, 1);
    rec_copy_free(c);
}
END_TEST

/* A reply lost to the capture: the next command's reply is not paired
 * with the command before it (pick_after_gap). */
START_TEST(test_reply_lost)
{
    start();
    handshake();
    seg(SV, 1, 1, PSH | ACK, "220 mx\r\n");
    seg(CL, 1, 9, PSH | ACK, "MAIL FROM:<a@b>\r\n");
    seg(SV, 9, 18, PSH | ACK, "250 2.1.0 ok\r\n");
    seg(CL, 18, 23, PSH | ACK, "RCPT TO:<c@d>\r\n");
    /* "250 2.1.5 ok\r\n" (23..37) was not captured. */
    seg(CL, 33, 37, PSH | ACK, "DATA\r\n");
    seg(SV, 37, 39, PSH | ACK, "354 go\r\n");
    seg(CL, 39, 45, PSH | ACK, "hi\r\n.\r\n");
    seg(SV, 45, 46, PSH | ACK, "250 queued\r\n");
    struct stream_stats st;
    struct rec_copy *c = finish(&st);
    const struct session_record *r = &c->r;
    ck_assert_uint_eq(r->gap_bytes[SMTP_DIR_SERVER], 14);
    ck_assert_uint_eq(exchange(r, 1)->verb, SMTP_VERB_RCPT);
    ck_assert_uint_eq(exchange(r, 1)->code, 0); /* its reply is unknown */
    ck_assert_uint_eq(exchange(r, 2)->verb, SMTP_VERB_DATA);
    ck_assert_uint_eq(exchange(r, 2)->code, 354);
    ck_assert_uint_eq(exchange(r, 3)->code, 250);
    ck_assert_uint_eq(r->messages_accepted, 1);
    ck_assert(!HAS_FLAG(r, UNSOLICITED_REPLY));
    rec_copy_free(c);
}
END_TEST

/* ---- one-sided captures ------------------------------------------------ */

/* Only the client's packets were captured: its message is content, not
 * commands, and nothing is blamed on the server (session_set_one_sided). */
START_TEST(test_server_side_missing)
{
    start();
    /* No SYN/ACK either: the session is picked up from the client. */
    seg(CL, 0, 0, SYN, NULL);
    seg(CL, 1, 30, PSH | ACK, "EHLO c\r\n");
    seg(CL, 9, 60, PSH | ACK, "MAIL FROM:<a@b>\r\n");
    seg(CL, 26, 70, PSH | ACK, "RCPT TO:<c@d>\r\n");
    seg(CL, 41, 80, PSH | ACK, "DATA\r\n");
    seg(CL, 47, 110, PSH | ACK, "FROM: a@b\r\nSUBJECT: x\r\n\r\nTHIS\r\n.\r\n");
    seg(CL, 81, 130, PSH | ACK, "QUIT\r\n");
    seg(CL, 87, 150, FIN | ACK, NULL);
    struct stream_stats st;
    struct rec_copy *c = finish(&st);
    const struct session_record *r = &c->r;
    ck_assert_uint_eq(r->missing_side, RECORD_SIDE_SERVER);
    ck_assert(HAS_FLAG(r, ONE_SIDED));
    ck_assert_uint_eq(r->label, VERDICT_ONE_SIDED_CAPTURE);
    ck_assert_uint_eq(r->n_exchanges, 6);
    ck_assert_uint_eq(exchange(r, 4)->kind, RECORD_KIND_MESSAGE);
    ck_assert_uint_eq(exchange(r, 4)->size, 34 - 3);
    ck_assert_uint_eq(exchange(r, 5)->verb, SMTP_VERB_QUIT);
    ck_assert(!HAS_FLAG(r, STREAM_GAP));
    ck_assert(!HAS_FLAG(r, CLIENT_DID_NOT_WAIT));
    rec_copy_free(c);
}
END_TEST

/* ---- offloaded segments ------------------------------------------------ */

/* A message sent as one 70,000-byte segment with IP length 0, as captured
 * on the sending host: decoded by its captured length and fed in pieces
 * (decode.c check_ipv4, stream_feed_ipv4_offload). */
START_TEST(test_offloaded_segment)
{
    start();
    handshake();
    seg(SV, 1, 1, PSH | ACK, "220 mx\r\n");
    seg(CL, 1, 9, PSH | ACK, "DATA\r\n");
    seg(SV, 9, 7, PSH | ACK, "354 go\r\n");
    enum { BODY = 70000 };
    char *body = malloc(BODY + 1);
    ck_assert_ptr_nonnull(body);
    for (size_t i = 0; i < BODY; i++) {
        body[i] = (i % 70 == 68) ? '\r' : (i % 70 == 69) ? '\n' : 'x';
    }
    memcpy(body + BODY - 5, "\r\n.\r\n", 5);
    uint8_t *frame = malloc(14 + 40 + BODY);
    ck_assert_ptr_nonnull(frame);
    memset(frame, 0, 14);
    frame[12] = 0x08; /* IPv4 */
    size_t len = build(frame + 14, CL, 7, 17, PSH | ACK, 65535, body, BODY, true);
    struct decoded d;
    ck_assert_int_eq(decode_frame(1 /* DLT_EN10MB */, frame, 14 + len, &d), DECODE_IPV4);
    ck_assert(d.is_offload);
    ck_assert_uint_eq(d.ip_len, 40 + BODY);
    g.now += 1000;
    stream_feed_ipv4_offload(d.ip, d.ip_len, g.now);
    seg(SV, 17, 7 + BODY, PSH | ACK, "250 queued\r\n");
    free(frame);
    free(body);
    struct stream_stats st;
    struct rec_copy *c = finish(&st);
    const struct session_record *r = &c->r;
    ck_assert(HAS_FLAG(r, OFFLOAD_SEGMENTS));
    ck_assert_uint_eq(exchange(r, 1)->kind, RECORD_KIND_MESSAGE);
    ck_assert_uint_eq(exchange(r, 1)->size, BODY - 3);
    ck_assert_uint_eq(exchange(r, 1)->code, 250);
    ck_assert_uint_eq(r->messages_accepted, 1);
    ck_assert_uint_eq(st.n_offload_segments, 1);
    rec_copy_free(c);
}
END_TEST

/* An IPv6 segment whose payload length is 0 (BIG TCP, no jumbo option) is
 * read by its captured length; a truncated or lengthless one is not. */
START_TEST(test_ipv6_payload_length_zero)
{
    uint8_t frame[14 + 40 + 20 + 100];
    memset(frame, 0, sizeof(frame));
    frame[12] = 0x86;
    frame[13] = 0xDD;
    uint8_t *ip6 = frame + 14;
    ip6[0] = 0x60;
    ip6[6] = 6; /* TCP, no extension header */
    ip6[7] = 64;
    uint8_t *t = ip6 + 40;
    t[12] = 5 << 4;
    struct decoded d;
    ck_assert_int_eq(decode_frame(1, frame, sizeof(frame), &d), DECODE_IPV6);
    ck_assert(d.is_offload);
    ck_assert_uint_eq(d.l4_len, 120);
    /* A Hop-by-Hop header without a jumbo option: no length to trust. */
    ip6[6] = 0;
    t[0] = 6;
    ck_assert_int_eq(decode_frame(1, frame, sizeof(frame), &d), DECODE_MALFORMED);
}
END_TEST

Suite *wild_suite(void)
{
    Suite *s = suite_create("wild");
    TCase *tc = tcase_create("reorder");
    tcase_add_test(tc, test_ack_before_data);
    tcase_add_test(tc, test_reply_captured_before_command);
    tcase_add_test(tc, test_rst_and_fin_before_data);
    tcase_add_test(tc, test_greeting_without_crlf);
    suite_add_tcase(s, tc);
    tc = tcase_create("window");
    tcase_add_test(tc, test_data_past_a_stale_window);
    suite_add_tcase(s, tc);
    tc = tcase_create("gap");
    tcase_add_test(tc, test_body_segment_lost);
    tcase_add_test(tc, test_reply_lost);
    suite_add_tcase(s, tc);
    tc = tcase_create("one_sided");
    tcase_add_test(tc, test_server_side_missing);
    suite_add_tcase(s, tc);
    tc = tcase_create("offload");
    tcase_add_test(tc, test_offloaded_segment);
    tcase_add_test(tc, test_ipv6_payload_length_zero);
    suite_add_tcase(s, tc);
    return s;
}
