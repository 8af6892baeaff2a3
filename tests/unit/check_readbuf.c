/*
 * check_readbuf.c - the read buffer, read here and read ahead on a thread.
 *
 * Files of length-prefixed records of many sizes are read with pieces of
 * 4 KiB, so records straddle pieces hundreds of times.  Read ahead, every
 * record must come back whole and in order, with the bytes after it (what
 * the readers peek at) right too; skipping must land where it says; the
 * thread must be given back when its file ends or is closed, so that a
 * second file sharing it gets it; a file cut in a record must read short.
 * Mapped instead of read, the records must come back the same, and a file
 * cut while mapped must end early, said to have shrunk, not kill the
 * process with SIGBUS.  Read as a stream (readbuf_read_by) that gives a
 * few bytes a call, as a pipe does while its writer is slow, the records
 * and the skips must come out the same, and a cut record read short.
 *
 * SPDX-License-Identifier: MIT
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "readbuf.h"
#include "suites.h"
#include "test_util.h"

#define PIECE 4096
#define RECORD_MAX 1024
#define N_RECORDS 3000

static uint32_t record_len(uint32_t i)
{
    return (i * 2654435761u >> 7) % (RECORD_MAX - 4) + 1;
}

static uint8_t record_byte(uint32_t i, uint32_t j)
{
    return (uint8_t)(i * 31 + j * 7);
}

/* N_RECORDS records: a 32-bit length, then that many bytes; `cut` bytes
 * short at the end. */
static FILE *record_file(size_t cut)
{
    FILE *f = tmpfile();
    CHECK(f != NULL);
    size_t total = 0;
    for (uint32_t i = 0; i < N_RECORDS; i++) {
        uint32_t len = record_len(i);
        CHECK(fwrite(&len, 4, 1, f) == 1);
        for (uint32_t j = 0; j < len; j++) {
            CHECK(fputc(record_byte(i, j), f) != EOF);
        }
        total += 4 + len;
    }
    CHECK(fflush(f) == 0);
    CHECK(ftruncate(fileno(f), (off_t)(total - cut)) == 0);
    rewind(f);
    setvbuf(f, NULL, _IONBF, 0);
    return f;
}

/* A stream over f giving 1 to 13 bytes a call (each call's own count). */
struct trickle {
    FILE *f;
    unsigned calls;
};

static ssize_t trickle_read(void *ctx, uint8_t *buf, size_t n)
{
    struct trickle *t = ctx;
    size_t k = 1 + t->calls++ % 13;
    size_t got = fread(buf, 1, n < k ? n : k, t->f);
    return (ssize_t)got;
}

static void open_small(struct readbuf *b, FILE *f, int *threads_free)
{
    ck_assert(readbuf_open(b, f, RECORD_MAX));
    b->piece = PIECE;
    if (threads_free != NULL) {
        readbuf_read_ahead(b, threads_free);
    }
}

/* How a loop test reads: _i == 0 here, 1 ahead on a thread, 2 as a
 * stream trickling in through t. */
static void open_as(struct readbuf *b, FILE *f, int how, int *threads_free, struct trickle *t)
{
    open_small(b, f, how == 1 ? threads_free : NULL);
    if (how == 2) {
        t->f = f;
        t->calls = 0;
        readbuf_read_by(b, trickle_read, t);
    }
}

static bool record_is_right(const uint8_t *p, uint32_t i)
{
    uint32_t len;
    memcpy(&len, p, 4);
    if (len != record_len(i)) {
        return false;
    }
    for (uint32_t j = 0; j < len; j++) {
        if (p[4 + j] != record_byte(i, j)) {
            return false;
        }
    }
    return true;
}

/* Reads one record; false at the end.  Also checks every record already
 * held whole after it, as a reader peeking ahead would see them. */
static bool take_record(struct readbuf *b, uint32_t i)
{
    if (readbuf_fill(b, 4) < 4) {
        return false;
    }
    uint32_t len;
    memcpy(&len, readbuf_at(b), 4);
    CHECK(readbuf_fill(b, 4 + len) >= 4 + len);
    REQUIRE(record_is_right(readbuf_at(b), i), "record %u is wrong", i);
    const uint8_t *p = readbuf_at(b) + 4 + len;
    size_t have = readbuf_have(b) - 4 - len;
    for (uint32_t k = i + 1; k < N_RECORDS && have >= 4; k++) {
        uint32_t next;
        memcpy(&next, p, 4);
        if (have < 4 + (size_t)next) {
            break;
        }
        REQUIRE(record_is_right(p, k), "record %u, seen ahead of %u, is wrong", k, i);
        p += 4 + next;
        have -= 4 + next;
    }
    readbuf_take(b, 4 + len);
    return true;
}

START_TEST(test_records_read_back)
{
    FILE *f = record_file(0);
    int threads_free = 1;
    struct readbuf b;
    struct trickle t;
    open_as(&b, f, _i, &threads_free, &t);
    bool had_thread = false;
    uint32_t n = 0;
    while (take_record(&b, n)) {
        n++;
        had_thread |= b.ahead != NULL;
    }
    ck_assert_uint_eq(n, N_RECORDS);
    ck_assert_int_eq(had_thread, _i == 1);
    ck_assert(_i != 2 || t.calls > 1000); /* it did trickle */
    ck_assert_ptr_null(b.ahead); /* the file ended: the thread was given back */
    ck_assert_int_eq(threads_free, 1);
    readbuf_close(&b);
    fclose(f);
}
END_TEST

START_TEST(test_cut_record_reads_short)
{
    FILE *f = record_file(3);
    int threads_free = 1;
    struct readbuf b;
    struct trickle t;
    open_as(&b, f, _i, &threads_free, &t);
    uint32_t n = 0;
    for (;;) {
        CHECK(readbuf_fill(&b, 4) >= 4);
        uint32_t len;
        memcpy(&len, readbuf_at(&b), 4);
        if (readbuf_fill(&b, 4 + len) < 4 + len) {
            break;
        }
        CHECK(record_is_right(readbuf_at(&b), n));
        readbuf_take(&b, 4 + len);
        n++;
    }
    ck_assert_uint_eq(n, N_RECORDS - 1);
    ck_assert_uint_eq(readbuf_have(&b), 4 + record_len(N_RECORDS - 1) - 3);
    readbuf_close(&b);
    fclose(f);
}
END_TEST

/* Skipping within what is held, across several pieces, and past the end. */
START_TEST(test_skips_land_right)
{
    enum { SIZE = 64 * PIECE };
    FILE *f = tmpfile();
    CHECK(f != NULL);
    for (uint32_t i = 0; i < SIZE / 4; i++) {
        CHECK(fwrite(&i, 4, 1, f) == 1);
    }
    CHECK(fflush(f) == 0);
    rewind(f);
    setvbuf(f, NULL, _IONBF, 0);
    int threads_free = 1;
    struct readbuf b;
    struct trickle t;
    open_as(&b, f, _i, &threads_free, &t); /* a stream cannot seek: it reads through */
    uint32_t v;
    uint32_t at = 0;
    uint64_t steps[] = {40, 2 * PIECE, 5 * PIECE + 12, 3, 17 * PIECE, PIECE - 1};
    for (size_t k = 0; k < sizeof(steps) / sizeof(steps[0]); k++) {
        ck_assert_uint_ge(readbuf_fill(&b, 8), 8);
        ck_assert(readbuf_skip(&b, steps[k] / 4 * 4));
        at += (uint32_t)(steps[k] / 4);
        ck_assert_uint_ge(readbuf_fill(&b, 4), 4);
        memcpy(&v, readbuf_at(&b), 4);
        ck_assert_uint_eq(v, at);
    }
    ck_assert_int_eq(b.ahead != NULL, _i == 1);
    ck_assert(readbuf_skip(&b, SIZE)); /* past the end */
    ck_assert_uint_eq(readbuf_fill(&b, 4), 0);
    ck_assert_ptr_null(b.ahead);
    ck_assert_int_eq(threads_free, 1);
    readbuf_close(&b);
    fclose(f);
}
END_TEST

/* Two files, one thread: the second reads here until the first ends. */
START_TEST(test_files_share_the_thread)
{
    FILE *fa = record_file(0);
    FILE *fb = record_file(0);
    int threads_free = 1;
    struct readbuf a;
    struct readbuf b;
    open_small(&a, fa, &threads_free);
    open_small(&b, fb, &threads_free);
    uint32_t na = 0;
    uint32_t nb = 0;
    while (na < 100) {
        CHECK(take_record(&a, na++));
    }
    ck_assert_ptr_nonnull(a.ahead);
    ck_assert_int_eq(threads_free, 0);
    while (nb < 100) {
        CHECK(take_record(&b, nb++));
    }
    ck_assert_ptr_null(b.ahead);
    while (take_record(&a, na)) {
        na++;
    }
    ck_assert_uint_eq(na, N_RECORDS);
    ck_assert_int_eq(threads_free, 1);
    bool b_had_thread = false;
    while (take_record(&b, nb)) {
        nb++;
        if (b.ahead != NULL) {
            b_had_thread = true;
            ck_assert_int_eq(threads_free, 0);
        }
    }
    ck_assert_uint_eq(nb, N_RECORDS);
    ck_assert(b_had_thread);
    ck_assert_int_eq(threads_free, 1);
    readbuf_close(&a);
    readbuf_close(&b);
    fclose(fa);
    fclose(fb);
}
END_TEST

/* Closed mid-file: the thread is stopped and both buffers freed (the
 * sanitizer build finds a leak or a late write). */
START_TEST(test_close_while_reading_ahead)
{
    FILE *f = record_file(0);
    int threads_free = 1;
    struct readbuf b;
    open_small(&b, f, &threads_free);
    for (uint32_t i = 0; i < 50; i++) {
        CHECK(take_record(&b, i));
    }
    ck_assert_ptr_nonnull(b.ahead);
    readbuf_close(&b);
    ck_assert_int_eq(threads_free, 1);
    fclose(f);
}
END_TEST

/* A pipe may block, and closing must not wait on it: no thread. */
START_TEST(test_pipe_is_read_here)
{
    int fds[2];
    CHECK(pipe(fds) == 0);
    FILE *f = fdopen(fds[0], "rb");
    CHECK(f != NULL);
    int threads_free = 1;
    struct readbuf b;
    ck_assert(readbuf_open(&b, f, RECORD_MAX));
    readbuf_read_ahead(&b, &threads_free);
    ck_assert_ptr_null(b.threads_free);
    readbuf_close(&b);
    fclose(f);
    close(fds[1]);
}
END_TEST

/* A mapped file: the records read back the same from where reading
 * stood when it was mapped, with a few taken by reading first. */
START_TEST(test_mapped_records_read_back)
{
    /* Enough records to pass the size under which files are not mapped. */
    FILE *f = tmpfile();
    CHECK(f != NULL);
    uint32_t n = 0;
    for (size_t total = 0; total < READBUF_MAP_MIN + 65536; n++) {
        uint32_t len = record_len(n);
        CHECK(fwrite(&len, 4, 1, f) == 1);
        for (uint32_t j = 0; j < len; j++) {
            CHECK(fputc(record_byte(n, j), f) != EOF);
        }
        total += 4 + len;
    }
    CHECK(fflush(f) == 0);
    rewind(f);
    setvbuf(f, NULL, _IONBF, 0);
    struct readbuf b;
    open_small(&b, f, NULL);
    uint32_t i = 0;
    for (; i < 5; i++) { /* read, not mapped */
        ck_assert_uint_ge(readbuf_fill(&b, 4), 4);
        uint32_t len;
        memcpy(&len, readbuf_at(&b), 4);
        ck_assert_uint_ge(readbuf_fill(&b, 4 + len), 4 + len);
        ck_assert(record_is_right(readbuf_at(&b), i));
        readbuf_take(&b, 4 + len);
    }
    ck_assert(readbuf_map(&b));
    ck_assert(b.mapped);
    for (; readbuf_fill(&b, 4) >= 4; i++) {
        uint32_t len;
        memcpy(&len, readbuf_at(&b), 4);
        ck_assert_uint_ge(readbuf_fill(&b, 4 + len), 4 + len);
        ck_assert_msg(record_is_right(readbuf_at(&b), i), "record %u", i);
        readbuf_take(&b, 4 + len);
    }
    ck_assert_uint_eq(i, n);
    ck_assert(!readbuf_shrank(&b));
    readbuf_close(&b);
    fclose(f);
}
END_TEST

/* A mapped file cut by another program while it is read: the pages it
 * lost read as zeros (no SIGBUS kills the process) and the file ends
 * there, said to have shrunk. */
START_TEST(test_mapped_file_shrinks)
{
    FILE *f = tmpfile();
    CHECK(f != NULL);
    size_t size = READBUF_MAP_MIN + (4u << 20);
    CHECK(ftruncate(fileno(f), (off_t)size) == 0);
    CHECK(pwrite(fileno(f), "abcd", 4, (off_t)(size - 4)) == 4);
    setvbuf(f, NULL, _IONBF, 0);
    struct readbuf b;
    open_small(&b, f, NULL);
    ck_assert(readbuf_map(&b));
    ck_assert_uint_eq(readbuf_fill(&b, 16), size);
    readbuf_take(&b, 1u << 20);
    CHECK(ftruncate(fileno(f), (off_t)(2u << 20)) == 0);
    /* Well past the new end: the page is gone from the file. */
    b.start = size - 8;
    ck_assert(!readbuf_shrank(&b));
    ck_assert_uint_eq(readbuf_at(&b)[4], 0); /* 'a' was cut away */
    readbuf_take(&b, 4); /* 4 bytes were left; now the file ends here */
    ck_assert_uint_eq(readbuf_fill(&b, 4), 0);
    ck_assert(readbuf_shrank(&b));
    readbuf_close(&b);
    fclose(f);
}
END_TEST

Suite *readbuf_suite(void)
{
    Suite *s = suite_create("readbuf");
    TCase *tc = tcase_create("pieces");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_records_read_back, 0, 3);
    tcase_add_loop_test(tc, test_cut_record_reads_short, 0, 3);
    tcase_add_loop_test(tc, test_skips_land_right, 0, 3);
    tcase_add_test(tc, test_files_share_the_thread);
    tcase_add_test(tc, test_close_while_reading_ahead);
    tcase_add_test(tc, test_pipe_is_read_here);
    tcase_add_test(tc, test_mapped_records_read_back);
    tcase_add_test(tc, test_mapped_file_shrinks);
    suite_add_tcase(s, tc);
    return s;
}
