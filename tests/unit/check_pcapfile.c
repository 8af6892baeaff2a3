/*
 * check_pcapfile.c - the in-place pcap record reader.
 *
 * A file of ~3 MiB of records of many sizes (so records straddle the 1 MiB
 * read pieces), in both byte orders and both time resolutions, must read
 * back record for record; a record cut short, a giant capture length and a
 * record longer than the snapshot length must behave as libpcap's reader.
 * Peeking ahead must show exactly the records that come next, never one
 * cut short, and never move the reader.
 *
 * SPDX-License-Identifier: MIT
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capture.h"
#include "pcapfile.h"
#include "smtpscope.h"
#include "suites.h"
#include "test_util.h"

#define N_RECORDS 4000

static void put32(FILE *f, uint32_t v, bool swapped)
{
    if (swapped) {
        v = __builtin_bswap32(v);
    }
    CHECK(fwrite(&v, 4, 1, f) == 1);
}

static size_t record_len(unsigned i)
{
    return (size_t)((i * 7919u) % 1600u);
}

/* Writes N_RECORDS records after where a file header would end; returns f
 * rewound to the first record. */
static FILE *write_records(bool swapped, bool nano, size_t cut_last)
{
    FILE *f = tmpfile();
    CHECK(f != NULL);
    uint8_t payload[1600];
    for (unsigned i = 0; i < N_RECORDS; i++) {
        size_t n = record_len(i);
        put32(f, 1700000000u + i, swapped);
        put32(f, nano ? i * 1000u + 7u : i, swapped);
        put32(f, (uint32_t)n, swapped);
        put32(f, (uint32_t)n + 4u, swapped);
        for (size_t k = 0; k < n; k++) {
            payload[k] = (uint8_t)(i + k);
        }
        size_t write_n = (i == N_RECORDS - 1 && cut_last > 0) ? n - cut_last : n;
        CHECK(fwrite(payload, 1, write_n, f) == write_n);
    }
    rewind(f);
    return f;
}

START_TEST(test_records_read_back)
{
    bool swapped = (_i & 1) != 0;
    bool nano = (_i & 2) != 0;
    FILE *f = write_records(swapped, nano, 0);
    struct pcapfile_reader r;
    char err[256] = "";
    ck_assert_int_eq(pcapfile_open(&r, f, swapped, nano, 262144, 262144, err, sizeof(err)),
                     SMTPSCOPE_OK);
    for (unsigned i = 0; i < N_RECORDS; i++) {
        const uint8_t *data;
        size_t caplen, wirelen;
        int64_t ts;
        ck_assert_int_eq(pcapfile_next(&r, &data, &caplen, &wirelen, &ts, err, sizeof(err)), 1);
        ck_assert_uint_eq(caplen, record_len(i));
        ck_assert_uint_eq(wirelen, record_len(i) + 4);
        ck_assert_int_eq(ts, (int64_t)(1700000000u + i) * 1000000 + i);
        for (size_t k = 0; k < caplen; k++) {
            ck_assert_uint_eq(data[k], (uint8_t)(i + k));
        }
    }
    const uint8_t *data;
    size_t caplen, wirelen;
    int64_t ts;
    ck_assert_int_eq(pcapfile_next(&r, &data, &caplen, &wirelen, &ts, err, sizeof(err)), 0);
    pcapfile_close(&r);
    fclose(f);
}
END_TEST

/* The bytes record i carries, as write_records() made them. */
static bool is_record(const uint8_t *data, size_t caplen, unsigned i)
{
    if (caplen != record_len(i)) {
        return false;
    }
    for (size_t k = 0; k < caplen; k++) {
        if (data[k] != (uint8_t)(i + k)) {
            return false;
        }
    }
    return true;
}

/* _i & 1: the last record cut; _i & 2: the file read ahead on a thread. */
START_TEST(test_peek_shows_what_comes_next)
{
    bool cut = (_i & 1) != 0;
    FILE *f = write_records(false, false, cut ? 3 : 0);
    struct pcapfile_reader r;
    char err[256] = "";
    ck_assert_int_eq(pcapfile_open(&r, f, false, false, 262144, 262144, err, sizeof(err)), 0);
    int threads_free = 1;
    bool had_thread = false;
    if (_i & 2) {
        readbuf_read_ahead(&r.in, &threads_free);
    }
    unsigned seen[3] = {0, 0, 0};
    for (unsigned i = 0; i < N_RECORDS - (cut ? 1 : 0); i++) {
        const uint8_t *data;
        size_t caplen, wirelen;
        int64_t ts;
        ck_assert_int_eq(pcapfile_next(&r, &data, &caplen, &wirelen, &ts, err, sizeof(err)), 1);
        ck_assert(is_record(data, caplen, i));
        for (unsigned ahead = 1; ahead <= 2; ahead++) {
            const uint8_t *next;
            size_t next_len;
            if (!pcapfile_peek(&r, ahead, &next, &next_len)) {
                continue; /* not read yet, or not there */
            }
            seen[ahead]++;
            ck_assert_uint_lt(i + ahead, N_RECORDS - (cut ? 1 : 0)); /* never the cut one */
            ck_assert(is_record(next, next_len, i + ahead));
        }
        ck_assert(is_record(data, caplen, i)); /* peeking moved nothing */
        had_thread |= r.in.ahead != NULL;
    }
    /* Most records were seen ahead: only those past a read piece were not. */
    ck_assert_uint_gt(seen[1], N_RECORDS * 9 / 10);
    ck_assert_uint_gt(seen[2], N_RECORDS * 9 / 10);
    ck_assert_int_eq(had_thread, (_i & 2) != 0);
    pcapfile_close(&r);
    ck_assert_int_eq(threads_free, 1);
    fclose(f);
}
END_TEST

/* Reads until something other than a packet comes back. */
static int read_to_end(struct pcapfile_reader *r, char *err, size_t errlen, unsigned *n)
{
    const uint8_t *data;
    size_t caplen, wirelen;
    int64_t ts;
    int rc;
    *n = 0;
    while ((rc = pcapfile_next(r, &data, &caplen, &wirelen, &ts, err, errlen)) == 1) {
        (*n)++;
    }
    return rc;
}

START_TEST(test_cut_record_is_damage)
{
    FILE *f = write_records(false, false, 3);
    struct pcapfile_reader r;
    char err[256] = "";
    unsigned n;
    ck_assert_int_eq(pcapfile_open(&r, f, false, false, 262144, 262144, err, sizeof(err)), 0);
    ck_assert_int_eq(read_to_end(&r, err, sizeof(err), &n), SMTPSCOPE_ERR_INPUT_DAMAGED);
    ck_assert_uint_eq(n, N_RECORDS - 1);
    ck_assert_ptr_nonnull(strstr(err, "truncated dump file"));
    pcapfile_close(&r);
    fclose(f);
}
END_TEST

START_TEST(test_giant_and_long_records)
{
    FILE *f = tmpfile();
    CHECK(f != NULL);
    uint8_t bytes[300] = {0};
    put32(f, 1, false);
    put32(f, 0, false);
    put32(f, 300, false); /* longer than the file's snapshot length of 100 */
    put32(f, 300, false);
    CHECK(fwrite(bytes, 1, 300, f) == 300);
    put32(f, 2, false);
    put32(f, 0, false);
    put32(f, 0xFFFFFFF0u, false);
    put32(f, 0xFFFFFFF0u, false);
    rewind(f);
    struct pcapfile_reader r;
    char err[256] = "";
    const uint8_t *data;
    size_t caplen, wirelen;
    int64_t ts;
    ck_assert_int_eq(pcapfile_open(&r, f, false, false, 100, 262144, err, sizeof(err)), 0);
    ck_assert_int_eq(pcapfile_next(&r, &data, &caplen, &wirelen, &ts, err, sizeof(err)), 1);
    ck_assert_uint_eq(caplen, 100); /* cut to the snapshot length, as libpcap does */
    ck_assert_uint_eq(wirelen, 300);
    ck_assert_int_eq(pcapfile_next(&r, &data, &caplen, &wirelen, &ts, err, sizeof(err)),
                     SMTPSCOPE_ERR_INPUT_DAMAGED);
    ck_assert_ptr_nonnull(strstr(err, "invalid packet capture length 4294967280"));
    pcapfile_close(&r);
    fclose(f);
}
END_TEST

/* A pcap file (raw IP, microseconds) of records first..first+n-1 as
 * write_records() makes them, at times that follow on from file to file. */
static void write_ring_file(const char *path, unsigned first, unsigned n)
{
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL);
    put32(f, 0xA1B2C3D4u, false);
    put32(f, 2u | 4u << 16, false); /* version 2.4 */
    put32(f, 0, false);
    put32(f, 0, false);
    put32(f, 262144, false);
    put32(f, 101, false); /* LINKTYPE_RAW */
    uint8_t payload[1600];
    for (unsigned i = first; i < first + n; i++) {
        size_t len = record_len(i);
        put32(f, 1700000000u + i, false);
        put32(f, 0, false);
        put32(f, (uint32_t)len, false);
        put32(f, (uint32_t)len, false);
        for (size_t k = 0; k < len; k++) {
            payload[k] = (uint8_t)(i + k);
        }
        CHECK(fwrite(payload, 1, len, f) == len);
    }
    CHECK(fclose(f) == 0);
}

/* Several files read as one (a ring): peeking looks in the file the last
 * packet came from, so it shows the set's next packets until that file
 * ends, in the second file as in the first. */
START_TEST(test_set_peek_follows_the_ring)
{
    char dir[] = "/tmp/smtpscope-ring-XXXXXX";
    ck_assert_ptr_nonnull(mkdtemp(dir));
    char path0[64], path1[64];
    snprintf(path0, sizeof(path0), "%s/ring0.pcap", dir);
    snprintf(path1, sizeof(path1), "%s/ring1.pcap", dir);
    write_ring_file(path0, 0, N_RECORDS / 2);
    write_ring_file(path1, N_RECORDS / 2, N_RECORDS / 2);
    const char *paths[] = {path0, path1};
    struct capture_set *set = calloc(1, sizeof(*set));
    ck_assert_ptr_nonnull(set);
    char err[256] = "";
    ck_assert_int_eq(capture_set_open(set, paths, 2, err, sizeof(err)), 0);
    unsigned seen_in[2] = {0, 0};
    struct capture_packet pkt;
    for (unsigned i = 0; i < N_RECORDS; i++) {
        REQUIRE(capture_set_next(set, &pkt, err, sizeof(err)) == 1, "packet %u: %s", i, err);
        CHECK(is_record(pkt.data, pkt.caplen, i));
        const uint8_t *next;
        size_t next_len;
        int linktype;
        if (capture_set_peek(set, 1, &next, &next_len, &linktype)) {
            CHECK(is_record(next, next_len, i + 1));
            CHECK(linktype == pkt.linktype);
            seen_in[i >= N_RECORDS / 2]++;
        }
    }
    ck_assert_int_eq(capture_set_next(set, &pkt, err, sizeof(err)), 0);
    ck_assert_uint_gt(seen_in[0], N_RECORDS / 2 * 9 / 10);
    ck_assert_uint_gt(seen_in[1], N_RECORDS / 2 * 9 / 10);
    capture_set_close(set);
    free(set);
    CHECK(unlink(path0) == 0 && unlink(path1) == 0 && rmdir(dir) == 0);
}
END_TEST

START_TEST(test_magic)
{
    static const uint8_t le_micro[4] = {0xD4, 0xC3, 0xB2, 0xA1};
    static const uint8_t be_nano[4] = {0xA1, 0xB2, 0x3C, 0x4D};
    static const uint8_t other[4] = {0x34, 0xCD, 0xB2, 0xA1}; /* a variant left to libpcap */
    bool swapped, nano;
    bool little_endian_host = __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__;
    ck_assert(pcapfile_magic(le_micro, &swapped, &nano));
    ck_assert(!nano);
    ck_assert(swapped != little_endian_host);
    ck_assert(pcapfile_magic(be_nano, &swapped, &nano));
    ck_assert(nano);
    ck_assert(swapped == little_endian_host);
    ck_assert(!pcapfile_magic(other, &swapped, &nano));
}
END_TEST

Suite *pcapfile_suite(void)
{
    Suite *s = suite_create("pcapfile");
    TCase *tc = tcase_create("records");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_records_read_back, 0, 4);
    tcase_add_test(tc, test_cut_record_is_damage);
    tcase_add_loop_test(tc, test_peek_shows_what_comes_next, 0, 4);
    tcase_add_test(tc, test_giant_and_long_records);
    tcase_add_test(tc, test_set_peek_follows_the_ring);
    tcase_add_test(tc, test_magic);
    suite_add_tcase(s, tc);
    return s;
}
