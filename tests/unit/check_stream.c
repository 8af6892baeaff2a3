/*
 * check_stream.c - unit tests for the libnids glue's replacement of
 * libnids' stream hash (stream_nids.c): libnids must really look streams
 * up with it, and what it returns must keep libnids' contract (the same
 * tuple alike, below 2^31, spread over the table).
 *
 * The packets are built here: a handshake and a few lines, enough for
 * libnids to find a stream from both sides.  Whether libnids can call our
 * hash at all is read from its relocations (see libnids_looks_mkhash_up).  libnids is a singleton, so
 * every test starts it through start_stream(), once per process.
 *
 * SPDX-License-Identifier: MIT
 */
#define _GNU_SOURCE /* dl_iterate_phdr() */
#include <arpa/inet.h>
#include <elf.h>
#include <limits.h>
#include <link.h>
#include <stdlib.h>
#include <string.h>

#include "session.h"
#include "stream_nids.h"
#include "suites.h"
#include "test_util.h"

/* libnids' name and prototype, as stream_nids.c defines it. */
unsigned int mkhash(unsigned int src, unsigned short sport, unsigned int dest,
                    unsigned short dport);

#define CLIENT_ADDR 0xC0000201u /* 192.0.2.1 */
#define SERVER_ADDR 0xC6336402u /* 198.51.100.2 */
#define CLIENT_PORT 50000
#define T0_US 1700000000000000LL

static struct {
    struct session_table table;
    struct rec_copy *emitted;
    bool started;
} g_test;

static void keep_record(void *ctx, const struct session_record *r)
{
    (void)ctx;
    struct rec_copy *c = rec_copy_make(r);
    c->next = g_test.emitted;
    g_test.emitted = c;
}

static void start_stream(void)
{
    static struct port_set ports;
    port_set_clear(&ports);
    port_set_add(&ports, 25);
    if (g_test.started) {
        return;
    }
    struct session_config scfg = {
        .idle_timeout_us = SESSION_IDLE_TIMEOUT_US,
        .idle_timeout_data_us = SESSION_IDLE_TIMEOUT_DATA_US,
        .glue_size = STREAM_GLUE_SIZE,
    };
    ck_assert(session_table_init(&g_test.table, &scfg, (struct session_sink){keep_record, NULL}));
    struct stream_config cfg = {
        .max_streams = 1024,
        .free_buffers_above = 1u << 22,
        .prefetch_above = 1u << 22,
        .ports = &ports,
    };
    char err[256];
    ck_assert_int_eq(stream_init(&cfg, &g_test.table, err, sizeof(err)), 0);
    g_test.started = true;
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
    put16(p, (uint16_t)(v >> 16));
    put16(p + 2, (uint16_t)v);
}

/* One IPv4/TCP segment with a valid IP header checksum (TCP checksums are
 * not verified by default). */
static void feed_segment(bool from_client, uint32_t seq, uint32_t ack, uint8_t flags,
                         const char *payload, int64_t now_us)
{
    uint8_t pkt[20 + 20 + 256];
    size_t len = payload != NULL ? strlen(payload) : 0;
    ck_assert_uint_le(len, sizeof(pkt) - 40);
    memset(pkt, 0, 40);
    pkt[0] = 0x45;
    put16(pkt + 2, (uint16_t)(40 + len));
    pkt[8] = 64;
    pkt[9] = 6;
    put32(pkt + 12, from_client ? CLIENT_ADDR : SERVER_ADDR);
    put32(pkt + 16, from_client ? SERVER_ADDR : CLIENT_ADDR);
    uint32_t sum = 0;
    for (int i = 0; i < 20; i += 2) {
        sum += (uint32_t)pkt[i] << 8 | pkt[i + 1];
    }
    while (sum > 0xFFFF) {
        sum = (sum & 0xFFFF) + (sum >> 16);
    }
    put16(pkt + 10, (uint16_t)~sum);
    uint8_t *tcp = pkt + 20;
    put16(tcp, from_client ? CLIENT_PORT : 25);
    put16(tcp + 2, from_client ? 25 : CLIENT_PORT);
    put32(tcp + 4, seq);
    put32(tcp + 8, ack);
    tcp[12] = 5 << 4;
    tcp[13] = flags;
    put16(tcp + 14, 65535);
    if (len > 0) {
        memcpy(tcp + 20, payload, len);
    }
    stream_feed_ipv4(pkt, 40 + len, now_us);
}

/*
 * Does libnids reach mkhash through a symbol lookup (a PLT or GOT
 * relocation naming it)?  Only then can ours take its place.  A libnids
 * linked with -Bsymbolic-functions, as some distributions build shared
 * libraries, binds the call inside itself: it then runs its own hash, and
 * ours must not be called.
 */
struct reloc_search {
    bool found_lib;
    bool names_mkhash;
};

static const void *dyn_ptr(const struct dl_phdr_info *info, ElfW(Addr) p)
{
    /* glibc relocates these entries in place; other loaders may not. */
    return (const void *)(p < info->dlpi_addr ? info->dlpi_addr + p : p);
}

#if __ELF_NATIVE_CLASS == 64
#define R_SYM_OF(info) ELF64_R_SYM(info)
#else
#define R_SYM_OF(info) ELF32_R_SYM(info)
#endif

/* Relocations of stride bytes each (REL or RELA: r_info is second in both). */
static bool relocs_name(const uint8_t *rel, size_t bytes, size_t stride, const ElfW(Sym) *symtab,
                        const char *strtab, const char *name)
{
    for (size_t at = 0; rel != NULL && stride != 0 && at + stride <= bytes; at += stride) {
        const ElfW(Rel) *r = (const ElfW(Rel) *)(const void *)(rel + at);
        size_t sym = R_SYM_OF(r->r_info);
        if (sym != 0 && strcmp(strtab + symtab[sym].st_name, name) == 0) {
            return true;
        }
    }
    return false;
}

static int look_in_libnids(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)size;
    struct reloc_search *s = data;
    if (info->dlpi_name == NULL || strstr(info->dlpi_name, "libnids") == NULL) {
        return 0;
    }
    s->found_lib = true;
    const ElfW(Dyn) *dyn = NULL;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        if (info->dlpi_phdr[i].p_type == PT_DYNAMIC) {
            dyn = (const ElfW(Dyn) *)(info->dlpi_addr + info->dlpi_phdr[i].p_vaddr);
        }
    }
    const uint8_t *jmprel = NULL, *rela = NULL, *rel = NULL;
    size_t jmprel_bytes = 0, rela_bytes = 0, rel_bytes = 0;
    size_t jmprel_stride = sizeof(ElfW(Rela));
    const ElfW(Sym) *symtab = NULL;
    const char *strtab = NULL;
    for (; dyn != NULL && dyn->d_tag != DT_NULL; dyn++) {
        switch (dyn->d_tag) {
        case DT_JMPREL:
            jmprel = dyn_ptr(info, dyn->d_un.d_ptr);
            break;
        case DT_PLTRELSZ:
            jmprel_bytes = dyn->d_un.d_val;
            break;
        case DT_PLTREL:
            jmprel_stride = dyn->d_un.d_val == DT_REL ? sizeof(ElfW(Rel)) : sizeof(ElfW(Rela));
            break;
        case DT_RELA:
            rela = dyn_ptr(info, dyn->d_un.d_ptr);
            break;
        case DT_RELASZ:
            rela_bytes = dyn->d_un.d_val;
            break;
        case DT_REL:
            rel = dyn_ptr(info, dyn->d_un.d_ptr);
            break;
        case DT_RELSZ:
            rel_bytes = dyn->d_un.d_val;
            break;
        case DT_SYMTAB:
            symtab = dyn_ptr(info, dyn->d_un.d_ptr);
            break;
        case DT_STRTAB:
            strtab = dyn_ptr(info, dyn->d_un.d_ptr);
            break;
        default:
            break;
        }
    }
    if (symtab != NULL && strtab != NULL) {
        s->names_mkhash =
            relocs_name(jmprel, jmprel_bytes, jmprel_stride, symtab, strtab, "mkhash") ||
            relocs_name(rela, rela_bytes, sizeof(ElfW(Rela)), symtab, strtab, "mkhash") ||
            relocs_name(rel, rel_bytes, sizeof(ElfW(Rel)), symtab, strtab, "mkhash");
    }
    return 1;
}

static bool libnids_looks_mkhash_up(void)
{
    struct reloc_search s = {false, false};
    dl_iterate_phdr(look_in_libnids, &s);
    ck_assert_msg(s.found_lib, "libnids is not loaded");
    return s.names_mkhash;
}

#define SYN 0x02
#define ACK 0x10
#define PSH_ACK 0x18

START_TEST(test_libnids_finds_streams_with_our_hash)
{
    start_stream();
    uint64_t before = stream_hash_calls();
    feed_segment(true, 1000, 0, SYN, NULL, T0_US);
    if (libnids_looks_mkhash_up()) {
        /* A new stream: one failed lookup each way, then its insertion. */
        REQUIRE(stream_hash_calls() >= before + 3,
                "libnids did not call our mkhash (%llu calls): its own hash ran",
                (unsigned long long)(stream_hash_calls() - before));
    } else {
        REQUIRE(stream_hash_calls() == before,
                "libnids binds mkhash inside itself, yet ours was called");
    }
    feed_segment(false, 5000, 1001, SYN | ACK, NULL, T0_US + 1000);
    feed_segment(true, 1001, 5001, ACK, NULL, T0_US + 2000);
    ck_assert_uint_eq(g_test.table.stats.n_open, 1);
    feed_segment(false, 5001, 1001, PSH_ACK, "220 mx.example ESMTP\r\n", T0_US + 52000);
    feed_segment(true, 1001, 5023, PSH_ACK, "QUIT\r\n", T0_US + 60000);
    feed_segment(false, 5023, 1007, PSH_ACK, "221 bye\r\n", T0_US + 61000);
    stream_finish(RECORD_END_END_OF_INPUT, T0_US + 70000);
    session_table_flush(&g_test.table);

    /* Every segment reached the session: each was found by its tuple or
     * the reversed one, hashed by us. */
    struct rec_copy *c = g_test.emitted;
    ck_assert_ptr_nonnull(c);
    ck_assert_ptr_null(c->next);
    const struct session_record *r = &c->r;
    ck_assert(!r->is_midstream);
    ck_assert(r->has_greeting);
    ck_assert_uint_eq(r->greeting.code, 220);
    ck_assert_int_eq(r->greeting.reply_first_us - r->est_us, 50000);
    ck_assert_uint_eq(r->n_exchanges, 1);
    ck_assert_uint_eq(r->exchanges[0].code, 221);
    ck_assert_uint_eq(r->bytes[SMTP_DIR_CLIENT], 6);
    ck_assert_uint_eq(r->bytes[SMTP_DIR_SERVER], 22 + 9);
    rec_copy_free(c);
    g_test.emitted = NULL;
    session_table_free(&g_test.table);
}
END_TEST

/* libnids keeps the value in an int and takes it modulo the table size:
 * one at or past 2^31 would index before the table. */
START_TEST(test_tuple_hash_fits_an_int)
{
    start_stream();
    static const unsigned int addrs[] = {0, 1, 0x7FFFFFFFu, 0x80000000u, 0xFFFFFFFFu,
                                         CLIENT_ADDR, SERVER_ADDR};
    static const unsigned short ports[] = {0, 1, 25, 0x8000, 0xFFFF};
    unsigned int all_bits = 0;
    for (size_t a = 0; a < sizeof(addrs) / sizeof(addrs[0]); a++) {
        for (size_t b = 0; b < sizeof(addrs) / sizeof(addrs[0]); b++) {
            for (size_t p = 0; p < sizeof(ports) / sizeof(ports[0]); p++) {
                for (size_t q = 0; q < sizeof(ports) / sizeof(ports[0]); q++) {
                    unsigned int h = mkhash(addrs[a], ports[p], addrs[b], ports[q]);
                    CHECK(h <= (unsigned int)INT_MAX);
                    CHECK(h == mkhash(addrs[a], ports[p], addrs[b], ports[q]));
                    all_bits |= h;
                }
            }
        }
    }
    /* ...and uses all 31 bits it has. */
    ck_assert_uint_eq(all_bits, (unsigned int)INT_MAX);
}
END_TEST

/* Tuples that differ in one field only (a client's successive ports, a
 * subnet's hosts) spread over the table as randomly placed keys would. */
static unsigned int longest_chain(bool vary_port)
{
    enum { SLOTS = 1 << 16 };
    uint16_t *chain = calloc(SLOTS, sizeof(*chain));
    ck_assert_ptr_nonnull(chain);
    unsigned int longest = 0;
    for (unsigned int i = 0; i < SLOTS; i++) {
        unsigned int client = vary_port ? CLIENT_ADDR : 0x0A000000u + i;
        unsigned short port = vary_port ? (unsigned short)i : CLIENT_PORT;
        int h = (int)mkhash(client, port, SERVER_ADDR, 25);
        unsigned int n = ++chain[h % SLOTS];
        longest = n > longest ? n : longest;
    }
    free(chain);
    return longest;
}

START_TEST(test_tuple_hash_spreads_tuples)
{
    start_stream();
    /* 65,536 keys in 65,536 slots: the longest chain is 7 or 8 when they
     * fall at random; a weak mix gives hundreds. */
    ck_assert_uint_le(longest_chain(true), 12);
    ck_assert_uint_le(longest_chain(false), 12);
}
END_TEST

Suite *stream_suite(void)
{
    Suite *s = suite_create("stream");
    TCase *tc = tcase_create("tuple_hash");
    tcase_add_test(tc, test_libnids_finds_streams_with_our_hash);
    tcase_add_test(tc, test_tuple_hash_fits_an_int);
    tcase_add_test(tc, test_tuple_hash_spreads_tuples);
    suite_add_tcase(s, tc);
    return s;
}
