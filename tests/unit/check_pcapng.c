/*
 * check_pcapng.c - the in-place pcapng reader.
 *
 * Files are written here block by block: ~3 MiB of Enhanced Packet Blocks
 * of many sizes (so blocks straddle the 1 MiB read pieces) with Simple
 * Packet Blocks and unknown blocks among them, a second section in the
 * other byte order, a block too large to hold, a block cut short and one
 * whose two lengths disagree.  Every packet must read back in order with
 * its link type and time; peeking must show exactly the packets that come
 * next and never move the reader.
 *
 * SPDX-License-Identifier: MIT
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pcapng.h"
#include "readbuf.h"
#include "smtpscope.h"
#include "suites.h"
#include "test_util.h"

#define N_PACKETS 4000
#define LINKTYPE_ETHERNET 1
#define LINKTYPE_RAW 101

struct writer {
    FILE *f;
    bool swapped; /* write in the other byte order */
};

static void put32(struct writer *w, uint32_t v)
{
    if (w->swapped) {
        v = __builtin_bswap32(v);
    }
    CHECK(fwrite(&v, 4, 1, w->f) == 1);
}

static void put16(struct writer *w, uint16_t v)
{
    if (w->swapped) {
        v = __builtin_bswap16(v);
    }
    CHECK(fwrite(&v, 2, 1, w->f) == 1);
}

static void put_bytes(struct writer *w, const uint8_t *p, size_t n)
{
    static const uint8_t pad[4] = {0, 0, 0, 0};
    CHECK(fwrite(p, 1, n, w->f) == n);
    CHECK(fwrite(pad, 1, (4 - n % 4) % 4, w->f) == (4 - n % 4) % 4);
}

static void put_section(struct writer *w)
{
    put32(w, 0x0A0D0D0Au);
    put32(w, 28);
    put32(w, 0x1A2B3C4Du);
    put16(w, 1);
    put16(w, 0);
    put32(w, 0xFFFFFFFFu); /* section length unknown */
    put32(w, 0xFFFFFFFFu);
    put32(w, 28);
}

static void put_interface(struct writer *w, uint16_t linktype)
{
    put32(w, 1);
    put32(w, 20);
    put16(w, linktype);
    put16(w, 0);
    put32(w, 262144);
    put32(w, 20);
}

static size_t packet_len(unsigned i)
{
    return (size_t)((i * 7919u) % 1600u);
}

static void fill_packet(uint8_t *p, size_t n, unsigned i)
{
    for (size_t k = 0; k < n; k++) {
        p[k] = (uint8_t)(i + k);
    }
}

static bool is_packet(const uint8_t *data, size_t caplen, unsigned i)
{
    if (caplen != packet_len(i)) {
        return false;
    }
    for (size_t k = 0; k < caplen; k++) {
        if (data[k] != (uint8_t)(i + k)) {
            return false;
        }
    }
    return true;
}

/* An Enhanced Packet Block for packet i on interface ifid, with the
 * time ts in the interface's units. */
static void put_packet_at(struct writer *w, uint32_t ifid, unsigned i, uint64_t ts)
{
    uint8_t payload[1600];
    size_t n = packet_len(i);
    fill_packet(payload, n, i);
    uint32_t len = (uint32_t)(32 + (n + 3) / 4 * 4);
    put32(w, 6);
    put32(w, len);
    put32(w, ifid);
    put32(w, (uint32_t)(ts >> 32));
    put32(w, (uint32_t)ts);
    put32(w, (uint32_t)n);
    put32(w, (uint32_t)n + 4u);
    put_bytes(w, payload, n);
    put32(w, len);
}

/* The same, microseconds since 1700000000 s. */
static void put_packet(struct writer *w, uint32_t ifid, unsigned i)
{
    put_packet_at(w, ifid, i, (1700000000ull + i) * 1000000ull + i);
}

/* An interface with an if_tsresol option, and an if_tsoffset one if
 * offset_s is not 0. */
static void put_interface_units(struct writer *w, uint8_t tsresol, uint64_t offset_s)
{
    uint32_t len = offset_s != 0 ? 44 : 32;
    put32(w, 1);
    put32(w, len);
    put16(w, LINKTYPE_ETHERNET);
    put16(w, 0);
    put32(w, 262144);
    put16(w, 9);
    put16(w, 1);
    put_bytes(w, &tsresol, 1);
    if (offset_s != 0) {
        put16(w, 14);
        put16(w, 8);
        put32(w, (uint32_t)offset_s); /* low half first, as libpcap reads it */
        put32(w, (uint32_t)(offset_s >> 32));
    }
    put16(w, 0); /* end of options */
    put16(w, 0);
    put32(w, len);
}

static void put_simple_packet(struct writer *w, unsigned i)
{
    uint8_t payload[1600];
    size_t n = packet_len(i);
    fill_packet(payload, n, i);
    uint32_t len = (uint32_t)(16 + (n + 3) / 4 * 4);
    put32(w, 3);
    put32(w, len);
    put32(w, (uint32_t)n);
    put_bytes(w, payload, n);
    put32(w, len);
}

/* A block of a type the reader skips (a Name Resolution Block). */
static void put_other_block(struct writer *w)
{
    put32(w, 4);
    put32(w, 16);
    put32(w, 0);
    put32(w, 16);
}

/* One section: every 97th packet a Simple Packet Block, every 89th
 * followed by a block to skip. */
static FILE *write_file(void)
{
    struct writer w = {tmpfile(), false};
    CHECK(w.f != NULL);
    put_section(&w);
    put_interface(&w, LINKTYPE_ETHERNET);
    for (unsigned i = 0; i < N_PACKETS; i++) {
        if (i % 97 == 0) {
            put_simple_packet(&w, i);
        } else {
            put_packet(&w, 0, i);
        }
        if (i % 89 == 0) {
            put_other_block(&w);
        }
    }
    rewind(w.f);
    return w.f;
}

static void open_reader(struct pcapng_reader *r, FILE *f)
{
    char err[256] = "";
    ck_assert_int_eq(pcapng_open(r, f, 262144, err, sizeof(err)), 0);
}

struct packet {
    const uint8_t *data;
    size_t caplen;
    size_t wirelen;
    int64_t ts_us;
    int linktype;
};

static int next_packet(struct pcapng_reader *r, struct packet *p, char *err, size_t errlen)
{
    return pcapng_next(r, &p->data, &p->caplen, &p->wirelen, &p->ts_us, &p->linktype, err,
                       errlen);
}

START_TEST(test_packets_read_back)
{
    FILE *f = write_file();
    struct pcapng_reader r;
    open_reader(&r, f);
    char err[256] = "";
    struct packet p;
    int64_t last_ts = 0;
    for (unsigned i = 0; i < N_PACKETS; i++) {
        REQUIRE(next_packet(&r, &p, err, sizeof(err)) == 1, "packet %u: %s", i, err);
        REQUIRE(is_packet(p.data, p.caplen, i), "packet %u differs", i);
        CHECK(p.wirelen == packet_len(i) + (i % 97 == 0 ? 0 : 4));
        CHECK(p.linktype == LINKTYPE_ETHERNET);
        /* A simple block carries no time: it has the one before it. */
        int64_t want = i % 97 == 0 ? last_ts : (int64_t)(1700000000 + i) * 1000000 + i;
        CHECK(p.ts_us == want);
        last_ts = p.ts_us;
    }
    ck_assert_int_eq(next_packet(&r, &p, err, sizeof(err)), 0);
    pcapng_close(&r);
    fclose(f);
}
END_TEST

/* _i == 1: the file read ahead on a thread. */
START_TEST(test_peek_shows_what_comes_next)
{
    FILE *f = write_file();
    struct pcapng_reader r;
    open_reader(&r, f);
    int threads_free = 1;
    bool had_thread = false;
    if (_i == 1) {
        readbuf_read_ahead(&r.in, &threads_free);
    }
    char err[256] = "";
    unsigned seen[3] = {0, 0, 0};
    const uint8_t *data;
    size_t caplen;
    int linktype;
    ck_assert(!pcapng_peek(&r, 1, &data, &caplen, &linktype)); /* nothing read yet */
    for (unsigned i = 0; i < N_PACKETS; i++) {
        struct packet p;
        ck_assert_int_eq(next_packet(&r, &p, err, sizeof(err)), 1);
        ck_assert(!pcapng_peek(&r, 0, &data, &caplen, &linktype));
        for (unsigned ahead = 1; ahead <= 2; ahead++) {
            if (!pcapng_peek(&r, ahead, &data, &caplen, &linktype)) {
                continue; /* not read yet, or not there */
            }
            seen[ahead]++;
            CHECK(i + ahead < N_PACKETS);
            CHECK(is_packet(data, caplen, i + ahead));
            CHECK(linktype == LINKTYPE_ETHERNET);
        }
        CHECK(is_packet(p.data, p.caplen, i)); /* peeking moved nothing */
        had_thread |= r.in.ahead != NULL;
    }
    /* Most packets were seen ahead: only those past a read piece were not. */
    ck_assert_uint_gt(seen[1], N_PACKETS * 9 / 10);
    ck_assert_uint_gt(seen[2], N_PACKETS * 9 / 10);
    ck_assert_int_eq(had_thread, _i == 1);
    pcapng_close(&r);
    ck_assert_int_eq(threads_free, 1);
    fclose(f);
}
END_TEST

/* Times in an interface's own units (if_tsresol) and offset
 * (if_tsoffset): 1700000000.123456 s written in each must read back as
 * that many microseconds (2^-10 s units: within one unit). */
START_TEST(test_time_units_read_back)
{
    struct writer w = {tmpfile(), false};
    CHECK(w.f != NULL);
    put_section(&w);
    put_interface_units(&w, 6, 0);
    put_interface_units(&w, 9, 0);
    put_interface_units(&w, 3, 0);
    put_interface_units(&w, 0x80 | 10, 0);
    put_interface_units(&w, 9, 100000000);
    put_interface_units(&w, 5, 0);
    put_packet_at(&w, 0, 0, 1700000000123456ull);
    put_packet_at(&w, 1, 1, 1700000000123456789ull);
    put_packet_at(&w, 2, 2, 1700000000123ull);
    put_packet_at(&w, 3, 3, 1700000000ull * 1024 + 126);
    put_packet_at(&w, 4, 4, 1600000000123456789ull);
    put_packet_at(&w, 5, 5, 170000000012345ull);
    rewind(w.f);
    struct pcapng_reader r;
    open_reader(&r, w.f);
    char err[256] = "";
    struct packet p;
    const int64_t want[] = {1700000000123456, 1700000000123456, 1700000000123000,
                            1700000000123047, 1700000000123456, 1700000000123450};
    for (unsigned i = 0; i < 6; i++) {
        REQUIRE(next_packet(&r, &p, err, sizeof(err)) == 1, "packet %u: %s", i, err);
        int64_t slack = i == 3 ? 977 : 0;
        REQUIRE(p.ts_us >= want[i] - slack && p.ts_us <= want[i] + slack,
                "packet %u: %lld us, want %lld", i, (long long)p.ts_us, (long long)want[i]);
    }
    pcapng_close(&r);
    fclose(w.f);
}
END_TEST

/* A second section in the other byte order, with a raw-IP interface:
 * its packets read with that link type, and peeking stops at it. */
START_TEST(test_second_section_in_other_byte_order)
{
    struct writer w = {tmpfile(), false};
    CHECK(w.f != NULL);
    put_section(&w);
    put_interface(&w, LINKTYPE_ETHERNET);
    put_packet(&w, 0, 1);
    put_packet(&w, 0, 2);
    w.swapped = true;
    put_section(&w);
    put_interface(&w, LINKTYPE_RAW);
    put_packet(&w, 0, 3);
    rewind(w.f);
    struct pcapng_reader r;
    open_reader(&r, w.f);
    char err[256] = "";
    struct packet p;
    const uint8_t *data;
    size_t caplen;
    int linktype;
    ck_assert_int_eq(next_packet(&r, &p, err, sizeof(err)), 1);
    ck_assert(is_packet(p.data, p.caplen, 1));
    ck_assert(pcapng_peek(&r, 1, &data, &caplen, &linktype));
    ck_assert(is_packet(data, caplen, 2));
    ck_assert(!pcapng_peek(&r, 2, &data, &caplen, &linktype)); /* a section first */
    ck_assert_int_eq(next_packet(&r, &p, err, sizeof(err)), 1);
    ck_assert(is_packet(p.data, p.caplen, 2));
    ck_assert_int_eq(next_packet(&r, &p, err, sizeof(err)), 1);
    ck_assert(is_packet(p.data, p.caplen, 3));
    ck_assert_int_eq(p.linktype, LINKTYPE_RAW);
    ck_assert_int_eq(p.ts_us, (int64_t)(1700000000 + 3) * 1000000 + 3);
    ck_assert_int_eq(next_packet(&r, &p, err, sizeof(err)), 0);
    pcapng_close(&r);
    fclose(w.f);
}
END_TEST

/* A block over PCAPNG_BLOCK_MAX is skipped and counted, found at several
 * places against the read pieces (partly read, or read whole after a
 * piece was added for the block before it); reading goes on after it. */
START_TEST(test_oversized_block_is_skipped)
{
    unsigned before = (unsigned)_i * 400;
    struct writer w = {tmpfile(), false};
    CHECK(w.f != NULL);
    put_section(&w);
    put_interface(&w, LINKTYPE_ETHERNET);
    for (unsigned i = 0; i < before; i++) {
        put_packet(&w, 0, i);
    }
    uint32_t big = PCAPNG_BLOCK_MAX + 4;
    put32(&w, 6);
    put32(&w, big);
    uint8_t *zeros = calloc(1, big - 12);
    ck_assert_ptr_nonnull(zeros);
    put_bytes(&w, zeros, big - 12);
    free(zeros);
    put32(&w, big);
    for (unsigned i = before; i < before + 400; i++) {
        put_packet(&w, 0, i);
    }
    rewind(w.f);
    struct pcapng_reader r;
    open_reader(&r, w.f);
    char err[256] = "";
    struct packet p;
    for (unsigned i = 0; i < before + 400; i++) {
        REQUIRE(next_packet(&r, &p, err, sizeof(err)) == 1, "packet %u: %s", i, err);
        REQUIRE(is_packet(p.data, p.caplen, i), "packet %u differs", i);
    }
    ck_assert_uint_eq(r.n_skipped_big, 1);
    ck_assert_int_eq(next_packet(&r, &p, err, sizeof(err)), 0);
    pcapng_close(&r);
    fclose(w.f);
}
END_TEST

/* Damage after good packets: they come back, then the error. */
static void expect_damage(FILE *f, unsigned good, const char *what)
{
    struct pcapng_reader r;
    open_reader(&r, f);
    char err[256] = "";
    struct packet p;
    for (unsigned i = 0; i < good; i++) {
        ck_assert_int_eq(next_packet(&r, &p, err, sizeof(err)), 1);
    }
    ck_assert_int_eq(next_packet(&r, &p, err, sizeof(err)), SMTPSCOPE_ERR_INPUT_DAMAGED);
    ck_assert_msg(strstr(err, what) != NULL, "error \"%s\", not \"%s\"", err, what);
    pcapng_close(&r);
    fclose(f);
}

START_TEST(test_cut_block_is_damage)
{
    FILE *f = write_file();
    CHECK(fseek(f, 0, SEEK_END) == 0);
    long size = ftell(f);
    /* Cut into the last block (packet 3999, not a simple one). */
    CHECK(ftruncate(fileno(f), size - 10) == 0);
    rewind(f);
    expect_damage(f, N_PACKETS - 1, "truncated pcapng block");
}
END_TEST

START_TEST(test_lengths_that_disagree_are_damage)
{
    struct writer w = {tmpfile(), false};
    CHECK(w.f != NULL);
    put_section(&w);
    put_interface(&w, LINKTYPE_ETHERNET);
    put_packet(&w, 0, 1);
    put32(&w, 6);
    put32(&w, 36);
    for (int k = 0; k < 6; k++) {
        put32(&w, 0);
    }
    put32(&w, 40); /* says 40, the header said 36 */
    rewind(w.f);
    expect_damage(w.f, 1, "lengths disagree");
}
END_TEST

/* The buffer itself: taking within what is read, seeking past it, and
 * past the end of the file. */
START_TEST(test_readbuf_skips)
{
    enum { SIZE = 3 << 20 };
    FILE *f = tmpfile();
    CHECK(f != NULL);
    for (uint32_t i = 0; i < SIZE / 4; i++) {
        CHECK(fwrite(&i, 4, 1, f) == 1);
    }
    rewind(f);
    struct readbuf b;
    ck_assert(readbuf_open(&b, f, 4096));
    uint32_t v;
    ck_assert_uint_ge(readbuf_fill(&b, 8), 8);
    ck_assert(readbuf_skip(&b, 40)); /* read already */
    memcpy(&v, readbuf_at(&b), 4);
    ck_assert_uint_eq(v, 10);
    ck_assert(readbuf_skip(&b, (2u << 20) + 8)); /* mostly not read yet */
    ck_assert_uint_ge(readbuf_fill(&b, 4), 4);
    memcpy(&v, readbuf_at(&b), 4);
    ck_assert_uint_eq(v, 10 + (2u << 18) + 2);
    ck_assert(readbuf_skip(&b, SIZE)); /* past the end */
    ck_assert_uint_eq(readbuf_fill(&b, 4), 0);
    readbuf_close(&b);
    fclose(f);
}
END_TEST

Suite *pcapng_suite(void)
{
    Suite *s = suite_create("pcapng");
    TCase *tc = tcase_create("blocks");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_packets_read_back);
    tcase_add_loop_test(tc, test_peek_shows_what_comes_next, 0, 2);
    tcase_add_test(tc, test_second_section_in_other_byte_order);
    tcase_add_test(tc, test_time_units_read_back);
    tcase_add_loop_test(tc, test_oversized_block_is_skipped, 0, 6);
    tcase_add_test(tc, test_cut_block_is_damage);
    tcase_add_test(tc, test_lengths_that_disagree_are_damage);
    tcase_add_test(tc, test_readbuf_skips);
    suite_add_tcase(s, tc);
    return s;
}
