/*
 * stream_nids.c - libnids glue (see stream.h); the only file with <nids.h>.
 *
 * libnids facts this file is built on (libnids 1.26):
 * - It is fed through a DLT_RAW pcap_open_dead handle we own, so it never
 *   opens devices, never filters and never sees a link layer.
 * - It reads only ts.tv_sec, so we keep our own microsecond clock, set
 *   before each packet, and never use a_tcp->ts or nids_last_pcap_header.
 * - Our IP hook runs before libnids' TCP processing of the same packet:
 *   there we record SYN and SYN/ACK times, FIN/RST senders, the highest
 *   sequence number sent (to find holes never filled), and handle a new
 *   SYN on a 4-tuple still in use (libnids would ignore it).
 * - tcp_flow_timeout 0 turns off libnids' silent free of old streams.
 * - Data sent by the client arrives in a_tcp->server and vice versa;
 *   nids_discard(n) keeps all but the first n bytes for the next call.
 * - nids_free_tcp_stream() is safe outside TCP callbacks only.
 * - It hashes stream tuples with mkhash(), called through its PLT: this
 *   file defines a faster one in its place (see "libnids' stream hash").
 *
 * SPDX-License-Identifier: MIT
 */
#include "stream.h"

#include <arpa/inet.h>
#include <nids.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "flowtab.h"
#include "smtp_limits.h"
#include "smtpscope.h"

#define TCP_FLAG_FIN 0x01
#define TCP_FLAG_SYN 0x02
#define TCP_FLAG_RST 0x04
#define TCP_FLAG_ACK 0x10

/* Per-session TCP bookkeeping, kept in the session's glue area. */
struct stream_glue {
    struct tcp_stream *tcp;
    uint32_t next_seq[2];   /* first byte's sequence number, per sender */
    uint32_t seq_high[2];   /* highest sequence number sent + length */
    uint32_t delivered[2];  /* bytes libnids handed over, per sender, modulo 2^32
                             * (only ever added to a sequence number) */
    uint32_t ahead[2];      /* held bytes the session already consumed (libnids
                             * counts its buffer in int, so this fits) */
};
_Static_assert(sizeof(struct stream_glue) <= STREAM_GLUE_SIZE, "STREAM_GLUE_SIZE too small");
_Static_assert(STREAM_GLUE_SIZE == SESSION_GLUE_ROOM, "the session slot is sized for this glue");

/*
 * Where a stream's state lies, found by its addresses alone, so a packet
 * read ahead can have that memory loading while the one before it is
 * processed.  One slot per hash value, overwritten on collision: a wrong
 * or stale slot costs only useless prefetches, since nothing here is ever
 * read through its pointers.
 */
struct flow_hint {
    uint64_t tag;
    const void *session;
    const void *tcp;
    const void *listener; /* libnids' node that calls back for the stream */
};
#define HINT_SLOTS ((size_t)1 << PREFETCH_HINT_BITS)

/* libnids is a singleton; this is its one context. */
static struct {
    struct stream_config cfg;
    struct session_table *table;
    pcap_t *raw_handle;
    int64_t now_us;
    enum record_end exit_reason;
    struct flowtab handshakes;
    struct flowtab unattached;
    struct stream_stats stats;
    bool hook_wanted;         /* the packet being fed was an IP fragment */
    bool delivered_now;       /* libnids handed over data for this packet */
    bool synthesizing;        /* feeding a made-up handshake (mid-stream) */
    const uint8_t *cur_v6[2]; /* addresses of the IPv6 packet being fed */
    uint32_t cur_token[2];
    uint64_t token_seed;
    struct flow_hint *hints;     /* look-ahead: HINT_SLOTS of them, or NULL */
    bool hints_tried;
    uint64_t pending_tag;        /* packet whose hint slot is on its way */
    struct flow_hint *listener_due; /* slot made during the last packet */
    uint8_t scratch[128];        /* made-up handshake packets */
    uint8_t translated[65536];   /* IPv6 segments as IPv4 for libnids */
} g_stream;

/* libnids checksum control: one entry matching every address. */
static struct nids_chksum_ctl g_no_checksums = {0, 0, NIDS_DONT_CHKSUM, 0};

/* ---- libnids' stream hash, replaced ---------------------------------------- */

/*
 * libnids finds a segment's stream by mkhash() of its 4-tuple, and a
 * segment from the server twice (its own tuple fails first).  Its mkhash()
 * runs twelve bytes through twelve divisions, some 200 instructions a call
 * and an eighth of ours per packet.  libnids calls it through its PLT, so a
 * function of that name here takes its place for the whole process (ELF
 * symbol interposition); libnids 1.20-1.26 have the same prototype, which
 * its hash.h (not installed) gives as below.  Other versions, or a build
 * with -DSMTPSCOPE_LIBNIDS_HASH, keep libnids' own.
 *
 * What must hold: the same tuple always hashes alike (the key is set once,
 * before libnids' first lookup, and never changed), and the value stays
 * below 2^31 (libnids keeps it in an int and takes it modulo the table
 * size).  Like libnids' hash it is keyed at random per process, so that
 * no one can choose tuples that pile into one hash chain; two rounds of a
 * 64x64->128-bit multiply, about 20 instructions.
 */
#if NIDS_MAJOR == 1 && NIDS_MINOR >= 20 && NIDS_MINOR <= 26 && !defined(SMTPSCOPE_LIBNIDS_HASH)
#define REPLACE_NIDS_HASH 1
#endif

static struct {
    uint64_t key[4];
    uint64_t calls;
    bool keyed;
} g_tuple_hash;

#ifdef REPLACE_NIDS_HASH
static uint64_t mix64(uint64_t seed)
{
    seed += 0x9E3779B97F4A7C15ULL;
    seed = (seed ^ (seed >> 30)) * 0xBF58476D1CE4E5B9ULL;
    seed = (seed ^ (seed >> 27)) * 0x94D049BB133111EBULL;
    return seed ^ (seed >> 31);
}

/* Once per process: a key changed under a live stream table would lose
 * every stream in it. */
static void key_tuple_hash(void)
{
    if (g_tuple_hash.keyed) {
        return;
    }
    g_tuple_hash.keyed = true;
    if (getentropy(g_tuple_hash.key, sizeof(g_tuple_hash.key)) == 0) {
        return;
    }
    /* No kernel randomness (very old kernels): still unknown to the wire. */
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t seed = (uint64_t)ts.tv_nsec ^ (uint64_t)ts.tv_sec << 30 ^ (uint64_t)getpid() << 20 ^
                    (uint64_t)(uintptr_t)&ts;
    for (int i = 0; i < 4; i++) {
        seed = mix64(seed);
        g_tuple_hash.key[i] = seed;
    }
}

static uint64_t fold_product(uint64_t a, uint64_t b)
{
    unsigned __int128 p = (unsigned __int128)a * b;
    return (uint64_t)p ^ (uint64_t)(p >> 64);
}

unsigned int mkhash(unsigned int src, unsigned short sport, unsigned int dest,
                    unsigned short dport);

__attribute__((visibility("default"), used)) unsigned int
mkhash(unsigned int src, unsigned short sport, unsigned int dest, unsigned short dport)
{
    g_tuple_hash.calls++;
    uint64_t addrs = ((uint64_t)src << 32 | dest) ^ g_tuple_hash.key[0];
    uint64_t ports = ((uint64_t)sport << 16 | dport) ^ g_tuple_hash.key[1];
    uint64_t h = fold_product(addrs, ports);
    h = fold_product(h ^ g_tuple_hash.key[2], g_tuple_hash.key[3] | 1);
    return (unsigned int)(h >> 33);
}
#else
static void key_tuple_hash(void)
{
}
#endif

uint64_t stream_hash_calls(void)
{
    return g_tuple_hash.calls;
}

static bool is_smtp_port(uint16_t port)
{
    for (size_t i = 0; i < g_stream.cfg.n_ports; i++) {
        if (g_stream.cfg.ports[i] == port) {
            return true;
        }
    }
    return false;
}

static bool seq_after(uint32_t a, uint32_t b)
{
    return (int32_t)(a - b) > 0;
}

/* A token in 240.0.0.0/4 (never valid on the wire) stands for an IPv6
 * address while libnids, which knows only IPv4, reassembles its stream. */
static bool is_token(uint32_t addr_be)
{
    return (ntohl(addr_be) & 0xF0000000u) == 0xF0000000u;
}

static void endpoint_from(struct record_endpoint *e, uint32_t addr, uint16_t port)
{
    memset(e, 0, sizeof(*e));
    e->family = 4;
    memcpy(e->addr, &addr, 4);
    e->port = port;
    if (!is_token(addr)) {
        return;
    }
    /* JUST_EST comes during an IPv6 packet of this very connection. */
    for (int i = 0; i < 2; i++) {
        if (g_stream.cur_v6[i] != NULL && g_stream.cur_token[i] == addr) {
            e->family = 6;
            memcpy(e->addr, g_stream.cur_v6[i], 16);
        }
    }
}

/* ---- look-ahead hints ------------------------------------------------------- */

/* The same value for both directions of a connection. */
static uint64_t flow_hash(uint32_t addr1, uint16_t port1, uint32_t addr2, uint16_t port2)
{
    uint64_t x = (uint64_t)addr1 << 16 | port1;
    uint64_t y = (uint64_t)addr2 << 16 | port2;
    if (x > y) {
        uint64_t t = x;
        x = y;
        y = t;
    }
    uint64_t h = (x * 0x9E3779B97F4A7C15ULL) ^ y;
    h *= 0xBF58476D1CE4E5B9ULL;
    return (h ^ (h >> 31)) | 1; /* 0 marks an empty slot */
}

static struct flow_hint *hint_slot(uint64_t tag)
{
    return &g_stream.hints[tag >> (64 - PREFETCH_HINT_BITS)];
}

static uint64_t stream_tag(const struct tcp_stream *a)
{
    return flow_hash(a->addr.saddr, a->addr.source, a->addr.daddr, a->addr.dest);
}

/*
 * libnids makes a stream's listener node once the JUST_EST callback has
 * returned: the slot made then learns it later, outside that packet (when
 * the next stream is made, or the next look-ahead step comes).
 */
static void hint_take_listener(void)
{
    struct flow_hint *h = g_stream.listener_due;
    if (h != NULL) {
        g_stream.listener_due = NULL;
        h->listener = ((const struct tcp_stream *)h->tcp)->listeners;
    }
}

/*
 * The table is made once half the look-ahead threshold is open, so that
 * most sessions open when looking ahead starts have a slot, and never
 * where it would not be used.  Without it (no memory) nothing is
 * prefetched; results are the same.
 */
static bool hints_ready(void)
{
    if (g_stream.hints == NULL && !g_stream.hints_tried &&
        g_stream.table->stats.n_open > g_stream.cfg.prefetch_above / 2) {
        g_stream.hints_tried = true;
        g_stream.hints = calloc(HINT_SLOTS, sizeof(struct flow_hint));
    }
    return g_stream.hints != NULL;
}

static void hint_set(const struct tcp_stream *a, const struct session *s)
{
    if (!hints_ready()) {
        return;
    }
    hint_take_listener();
    uint64_t tag = stream_tag(a);
    struct flow_hint *h = hint_slot(tag);
    h->tag = tag;
    h->session = s;
    h->tcp = a;
    h->listener = NULL;
    g_stream.listener_due = h;
}

static void hint_clear(const struct tcp_stream *a, const struct session *s)
{
    if (g_stream.hints == NULL) {
        return;
    }
    struct flow_hint *h = hint_slot(stream_tag(a));
    if (h->session == s) {
        memset(h, 0, sizeof(*h));
    }
    if (g_stream.listener_due == h) {
        g_stream.listener_due = NULL;
    }
}

/* The tag of an IPv4 TCP packet's connection, or 0. */
static uint64_t packet_tag(const uint8_t *ip, size_t len)
{
    if (len < 20 || ip[9] != 6) {
        return 0;
    }
    size_t hl = (size_t)(ip[0] & 0x0F) * 4;
    if (hl < 20 || len < hl + 4) {
        return 0;
    }
    uint32_t src;
    uint32_t dst;
    memcpy(&src, ip + 12, 4);
    memcpy(&dst, ip + 16, 4);
    return flow_hash(src, (uint16_t)(ip[hl] << 8 | ip[hl + 1]), dst,
                     (uint16_t)(ip[hl + 2] << 8 | ip[hl + 3]));
}

/*
 * Two steps, one packet apart: the slot of the packet given is asked for
 * now, and the slot asked for last time (the packet in between) is read,
 * by now in cache, to ask for that packet's session and stream.
 */
void stream_prefetch_ipv4(const uint8_t *ip, size_t len)
{
    if (g_stream.hints == NULL) {
        return;
    }
    hint_take_listener();
    uint64_t tag = g_stream.pending_tag;
    g_stream.pending_tag = ip != NULL ? packet_tag(ip, len) : 0;
    if (g_stream.pending_tag != 0) {
        __builtin_prefetch(hint_slot(g_stream.pending_tag), 0);
    }
    if (tag == 0) {
        return;
    }
    const struct flow_hint *h = hint_slot(tag);
    if (h->tag != tag) {
        return;
    }
    /* Every line of the session with its glue and of the libnids stream:
     * neither starts on a line boundary, hence the last byte's. */
    const char *s = h->session;
#pragma GCC unroll 8
    for (size_t off = 0; off < SESSION_SLOT_BYTES; off += 64) {
        __builtin_prefetch(s + off, 1);
    }
    __builtin_prefetch(s + SESSION_SLOT_BYTES - 1, 1);
    const char *t = h->tcp;
#pragma GCC unroll 5
    for (size_t off = 0; off < sizeof(struct tcp_stream); off += 64) {
        __builtin_prefetch(t + off, 1);
    }
    __builtin_prefetch(t + sizeof(struct tcp_stream) - 1, 1);
    if (h->listener != NULL) {
        __builtin_prefetch(h->listener, 0);
    }
}

/* ---- ending sessions ----------------------------------------------------- */

static void collect_tail(struct session_end *end, enum smtp_dir dir, struct half_stream *h,
                         size_t ahead)
{
    size_t avail = h->data != NULL ? (size_t)(h->count - h->offset) : 0;
    if (avail > ahead) {
        end->tail[dir] = (const uint8_t *)h->data + ahead;
        end->tail_len[dir] = avail - ahead;
    }
}

static void end_session(struct session *s, enum record_end reason)
{
    struct stream_glue *glue = session_glue(s);
    struct tcp_stream *a = glue->tcp;
    struct session_end end;
    memset(&end, 0, sizeof(end));
    end.reason = reason;
    end.now_us = g_stream.now_us;
    collect_tail(&end, SMTP_DIR_CLIENT, &a->server, glue->ahead[SMTP_DIR_CLIENT]);
    collect_tail(&end, SMTP_DIR_SERVER, &a->client, glue->ahead[SMTP_DIR_SERVER]);
    for (int d = 0; d < 2; d++) {
        uint32_t delivered_end = glue->next_seq[d] + glue->delivered[d];
        end.gap[d] = seq_after(glue->seq_high[d], delivered_end);
    }
    a->user = NULL;
    hint_clear(a, s);
    session_end(g_stream.table, s, &end);
}

/* Ends a session outside libnids callbacks and frees its stream. */
static void end_and_free(struct session *s, enum record_end reason)
{
    struct tcp_stream *a = ((struct stream_glue *)session_glue(s))->tcp;
    end_session(s, reason);
    nids_free_tcp_stream(a);
}

static void sweep_idle(void)
{
    struct session *s;
    while ((s = session_idle_candidate(g_stream.table, g_stream.now_us)) != NULL) {
        g_stream.stats.n_idle++;
        end_and_free(s, RECORD_END_IDLE);
    }
}

/* ---- TCP callback ----------------------------------------------------------- */

static void on_established(struct tcp_stream *a, void **param)
{
    *param = NULL;
    if (!is_smtp_port(a->addr.dest)) {
        g_stream.stats.n_not_smtp++;
        return; /* collecting nothing: libnids drops the stream */
    }
    struct flow_key key = {a->addr.saddr, a->addr.daddr, a->addr.source, a->addr.dest};
    struct flow_entry *hs = flowtab_find(&g_stream.handshakes, &key);
    int64_t syn_us = hs ? hs->first_us : -1;
    int64_t synack_us = hs ? hs->second_us : -1;
    if (hs != NULL) {
        flowtab_remove(&g_stream.handshakes, hs);
    }
    struct record_endpoint client;
    struct record_endpoint server;
    endpoint_from(&client, a->addr.saddr, a->addr.source);
    endpoint_from(&server, a->addr.daddr, a->addr.dest);
    struct session *s =
        session_open(g_stream.table, &client, &server, syn_us, synack_us, g_stream.now_us);
    if (s == NULL) {
        g_stream.stats.n_session_failed++;
        return;
    }
    if (g_stream.synthesizing) {
        session_set_midstream(s);
    }
    struct stream_glue *glue = session_glue(s);
    glue->tcp = a;
    glue->next_seq[SMTP_DIR_CLIENT] = a->client.first_data_seq;
    glue->next_seq[SMTP_DIR_SERVER] = a->server.first_data_seq;
    glue->seq_high[SMTP_DIR_CLIENT] = a->client.first_data_seq;
    glue->seq_high[SMTP_DIR_SERVER] = a->server.first_data_seq;
    g_stream.delivered_now = true;
    g_stream.stats.n_established++;
    a->client.collect++;
    a->server.collect++;
    a->user = s;
    *param = s;
    hint_set(a, s);
}

/* Client bytes held behind DATA/STARTTLS, parsed once the reply came. */
static void resume_client(struct tcp_stream *a, struct session *s, struct stream_glue *glue)
{
    struct half_stream *h = &a->server;
    while (session_client_resume(s) && h->data != NULL) {
        size_t avail = (size_t)(h->count - h->offset);
        size_t ahead = glue->ahead[SMTP_DIR_CLIENT];
        if (avail <= ahead) {
            return;
        }
        size_t left = avail - ahead;
        size_t used = session_feed(g_stream.table, s, SMTP_DIR_CLIENT,
                                   (const uint8_t *)h->data + ahead, left, left, g_stream.now_us);
        glue->ahead[SMTP_DIR_CLIENT] += (uint32_t)used;
    }
}

/* What libnids allocates for a stream's first segment under 2 KiB. */
#define NIDS_FIRST_BUFFER 4096

/* A segment this long is likely one of a burst (message content, a long
 * reply): its buffer is kept for the next one rather than freed. */
#define STREAM_BURST_SEGMENT 1024

/*
 * libnids keeps each direction's buffer (4 KiB or more) for the stream's
 * whole life, parsed or not: with tens of thousands of sessions open that
 * is most of the process's memory, and every new segment is copied into a
 * cold buffer.  Past cfg.free_buffers_above open sessions an emptied
 * buffer is freed; add2buf() allocates a new one when data comes (from
 * the allocator's warm free list).  Below it, the buffer stays: a malloc
 * and a free per segment cost more than the memory is worth.
 */
static void free_empty_buffer(struct tcp_stream *a, struct half_stream *h)
{
    h->offset = h->count; /* nothing left for notify() to move... */
    nids_discard(a, 0);   /* ...and nothing for it to discard */
    free(h->data);
    h->data = NULL;
    h->bufsize = 0;
}

/*
 * As libnids' own discard would leave it (the remainder at the front of
 * the buffer), but in a buffer cut down to fit it: the session consumed
 * done bytes of a buffer larger than STREAM_BUFFER_KEEP_MAX and keeps
 * left bytes (a partial line, at most SMTP_LINE_CAP, or client bytes held
 * behind DATA, no more).  libnids grows the buffer again if it must.
 */
static void shrink_buffer(struct tcp_stream *a, struct half_stream *h, size_t done, size_t left)
{
    memmove(h->data, h->data + done, left);
    h->offset = h->count - (int)left; /* what notify() would have done... */
    nids_discard(a, 0);               /* ...so it has nothing left to do */
    /* Exactly what it holds (libnids' first size at least): an idle
     * stream keeps no more than the bytes it was sent; libnids doubles the
     * buffer again when the next segment does not fit. */
    size_t size = left > NIDS_FIRST_BUFFER ? left : NIDS_FIRST_BUFFER;
    if ((size_t)h->bufsize > size) {
        char *smaller = realloc(h->data, size);
        if (smaller != NULL) { /* if not, the larger buffer simply stays */
            h->data = smaller;
            h->bufsize = (int)size;
        }
    }
}

static void on_data(struct tcp_stream *a, struct session *s)
{
    struct half_stream *h;
    enum smtp_dir dir;
    if (a->server.count_new > 0) {
        h = &a->server;
        dir = SMTP_DIR_CLIENT;
    } else if (a->client.count_new > 0) {
        h = &a->client;
        dir = SMTP_DIR_SERVER;
    } else {
        return; /* urgent data only */
    }
    struct stream_glue *glue = session_glue(s);
    size_t avail = (size_t)(h->count - h->offset);
    size_t fresh = (size_t)h->count_new;
    size_t ahead = glue->ahead[dir];
    size_t held = avail - fresh - ahead;
    glue->delivered[dir] += (uint32_t)fresh;
    g_stream.delivered_now = true;
    size_t used = session_feed(g_stream.table, s, dir, (const uint8_t *)h->data + ahead,
                               avail - ahead, held, g_stream.now_us);
    glue->ahead[dir] = 0;
    size_t done = ahead + used;
    bool oversized = h->bufsize > STREAM_BUFFER_KEEP_MAX;
    if (done < avail && oversized) {
        shrink_buffer(a, h, done, avail - done);
    } else if (done < avail) {
        nids_discard(a, (int)done);
    } else if (oversized || (fresh < STREAM_BURST_SEGMENT &&
                             g_stream.table->stats.n_open > g_stream.cfg.free_buffers_above)) {
        free_empty_buffer(a, h);
    }
    if (dir == SMTP_DIR_SERVER) {
        resume_client(a, s, glue);
    }
}

static void on_tcp(struct tcp_stream *a, void **param)
{
    struct session *s = a->user;
    switch (a->nids_state) {
    case NIDS_JUST_EST:
        on_established(a, param);
        return;
    case NIDS_DATA:
        if (s != NULL) {
            on_data(a, s);
        }
        return;
    case NIDS_CLOSE:
    case NIDS_RESET:
    case NIDS_TIMED_OUT:
    case NIDS_EXITING:
        break;
    default:
        return;
    }
    if (s == NULL) {
        return;
    }
    enum record_end reason = g_stream.exit_reason;
    if (a->nids_state == NIDS_CLOSE) {
        g_stream.stats.n_closed++;
        reason = RECORD_END_FIN;
    } else if (a->nids_state == NIDS_RESET) {
        g_stream.stats.n_reset++;
        reason = RECORD_END_RST;
    } else if (a->nids_state == NIDS_TIMED_OUT) {
        g_stream.stats.n_evicted++;
        reason = RECORD_END_EVICTED;
    } else {
        g_stream.stats.n_open_at_end++;
    }
    end_session(s, reason);
}

/* ---- IP hook: runs before libnids' own TCP processing ----------------- */

struct tcp_view {
    uint32_t src;
    uint32_t dst;
    uint16_t sport;
    uint16_t dport;
    uint32_t seq;
    uint32_t ack;
    uint8_t flags;
    size_t payload;
};

static uint32_t be32_at(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return ntohl(v);
}

/*
 * Validates the TCP/IPv4 header and reads what every segment needs (flags,
 * payload size); *th points at the TCP header for view_fill().  Inlined by
 * force: GCC split it and called the rest, 16 instructions per packet more.
 */
static inline __attribute__((always_inline)) bool
view_tcp_flags(const uint8_t *ip, size_t len, struct tcp_view *v, const uint8_t **th)
{
    if (len < 20 || ip[9] != 6) {
        return false;
    }
    size_t hl = (size_t)(ip[0] & 0x0F) * 4;
    size_t total = (size_t)(ip[2] << 8 | ip[3]);
    if (total > len || hl < 20 || total < hl + 20 || ((ip[6] & 0x3F) | ip[7]) != 0) {
        return false;
    }
    /* At this point: a whole, unfragmented TCP/IPv4 header is present. */
    size_t thl = (size_t)(ip[hl + 12] >> 4) * 4;
    if (thl < 20 || total - hl < thl) {
        return false;
    }
    *th = ip + hl;
    v->flags = ip[hl + 13];
    v->payload = total - hl - thl;
    return true;
}

/* The rest of the view: addresses, ports, sequence numbers. */
static void view_fill(const uint8_t *ip, const uint8_t *th, struct tcp_view *v)
{
    memcpy(&v->src, ip + 12, 4);
    memcpy(&v->dst, ip + 16, 4);
    v->sport = (uint16_t)(th[0] << 8 | th[1]);
    v->dport = (uint16_t)(th[2] << 8 | th[3]);
    v->seq = be32_at(th + 4);
    v->ack = be32_at(th + 8);
}

static bool view_tcp(const uint8_t *ip, size_t len, struct tcp_view *v)
{
    const uint8_t *th;
    if (!view_tcp_flags(ip, len, v, &th)) {
        return false;
    }
    view_fill(ip, th, v);
    return true;
}

static void on_syn(const struct tcp_view *v)
{
    struct tuple4 t = {v->sport, v->dport, v->src, v->dst};
    struct tcp_stream *a = nids_find_tcp_stream(&t);
    if (a != NULL && a->client.first_data_seq != v->seq + 1) {
        /* A new connection on a 4-tuple libnids still holds. */
        struct session *s = a->user;
        g_stream.stats.n_port_reused++;
        if (s != NULL) {
            end_session(s, RECORD_END_PORT_REUSED);
        }
        nids_free_tcp_stream(a);
    } else if (a != NULL) {
        g_stream.stats.n_syn_retransmits++;
        return;
    }
    struct flow_key key = {v->src, v->dst, v->sport, v->dport};
    bool created;
    struct flow_entry *e = flowtab_upsert(&g_stream.handshakes, &key, &created);
    if (created || a != NULL) {
        e->first_us = g_stream.now_us;
        e->second_us = -1;
    } else {
        g_stream.stats.n_syn_retransmits++;
    }
}

static void on_synack(const struct tcp_view *v)
{
    struct flow_key key = {v->dst, v->src, v->dport, v->sport};
    struct flow_entry *e = flowtab_find(&g_stream.handshakes, &key);
    if (e != NULL && e->second_us < 0) {
        e->second_us = g_stream.now_us;
    }
}

static void count_unattached(const struct tcp_view *v)
{
    bool server_is_dst = is_smtp_port(v->dport);
    if (!server_is_dst && !is_smtp_port(v->sport)) {
        return;
    }
    g_stream.stats.n_unattached_packets++;
    struct flow_key key = server_is_dst ? (struct flow_key){v->src, v->dst, v->sport, v->dport}
                                        : (struct flow_key){v->dst, v->src, v->dport, v->sport};
    bool created;
    struct flow_entry *e = flowtab_upsert(&g_stream.unattached, &key, &created);
    if (created) {
        e->first_us = g_stream.now_us;
        g_stream.stats.n_unattached_flows++;
    }
}

/* ---- packets we build: IPv6 translation and mid-stream handshakes ---- */

static uint16_t checksum_fold(uint32_t sum)
{
    while (sum >> 16) {
        sum = (sum & 0xFFFF) + (sum >> 16);
    }
    return (uint16_t)~sum;
}

static uint32_t checksum_add(uint32_t sum, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i + 1 < n; i += 2) {
        sum += (uint32_t)(p[i] << 8 | p[i + 1]);
    }
    if (n & 1) {
        sum += (uint32_t)p[n - 1] << 8;
    }
    return sum;
}

/* TCP checksum over a pseudo-header of the given addresses (RFC 793, 8200). */
static uint16_t tcp_checksum(const uint8_t *src, const uint8_t *dst, size_t addr_len,
                             const uint8_t *tcp, size_t tcp_len)
{
    uint32_t sum = checksum_add(0, src, addr_len);
    sum = checksum_add(sum, dst, addr_len);
    sum += 6 + (uint32_t)(tcp_len & 0xFFFF) + (uint32_t)(tcp_len >> 16);
    return checksum_fold(checksum_add(sum, tcp, tcp_len));
}

/* Writes an IPv4 header for tcp_len bytes of TCP into out; returns 20. */
static size_t put_ipv4_header(uint8_t *out, uint32_t src, uint32_t dst, size_t tcp_len)
{
    size_t total = 20 + tcp_len;
    memset(out, 0, 20);
    out[0] = 0x45;
    out[2] = (uint8_t)(total >> 8);
    out[3] = (uint8_t)total;
    out[8] = 64;
    out[9] = 6;
    memcpy(out + 12, &src, 4);
    memcpy(out + 16, &dst, 4);
    uint16_t sum = checksum_fold(checksum_add(0, out, 20));
    out[10] = (uint8_t)(sum >> 8);
    out[11] = (uint8_t)sum;
    return 20;
}

static void set_tcp_checksum(uint8_t *ip, size_t total)
{
    uint8_t *tcp = ip + 20;
    tcp[16] = tcp[17] = 0;
    uint16_t sum = tcp_checksum(ip + 12, ip + 16, 4, tcp, total - 20);
    tcp[16] = (uint8_t)(sum >> 8);
    tcp[17] = (uint8_t)sum;
}

static void feed_raw(const uint8_t *ip, size_t len)
{
    struct pcap_pkthdr hdr;
    hdr.ts.tv_sec = (time_t)(g_stream.now_us / 1000000);
    hdr.ts.tv_usec = (suseconds_t)(g_stream.now_us % 1000000);
    hdr.caplen = (bpf_u_int32)len;
    hdr.len = (bpf_u_int32)len;
    nids_pcap_handler(NULL, &hdr, (u_char *)ip);
}

/* Feeds a made-up bare TCP segment (with window scaling on SYNs). */
static void feed_made_up(uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport,
                         uint32_t seq, uint32_t ack, uint8_t flags)
{
    uint8_t *p = g_stream.scratch;
    size_t tcp_len = (flags & TCP_FLAG_SYN) ? 24 : 20;
    uint8_t *t = p + put_ipv4_header(p, src, dst, tcp_len);
    memset(t, 0, tcp_len);
    t[0] = (uint8_t)(sport >> 8);
    t[1] = (uint8_t)sport;
    t[2] = (uint8_t)(dport >> 8);
    t[3] = (uint8_t)dport;
    for (int i = 0; i < 4; i++) {
        t[4 + i] = (uint8_t)(seq >> (24 - 8 * i));
        t[8 + i] = (uint8_t)(ack >> (24 - 8 * i));
    }
    t[12] = (uint8_t)((tcp_len / 4) << 4);
    t[13] = flags;
    t[14] = t[15] = 0xFF;
    if (tcp_len == 24) {
        /* Window scale 14: the real segments' windows are unscaled guesses,
         * so the largest scale keeps libnids' window check from dropping
         * data of a connection whose real scale we never saw. */
        t[20] = 1;
        t[21] = 3;
        t[22] = 3;
        t[23] = 14;
    }
    set_tcp_checksum(p, 20 + tcp_len);
    feed_raw(p, 20 + tcp_len);
}

/*
 * A segment with data on an SMTP port and no session: the capture missed
 * the handshake (it started late, or lost the SYN or SYN/ACK).  Any
 * segment with ACK set carries both sides' sequence numbers, so a
 * handshake can be made up for libnids and the session picked up here.
 */
static bool pick_up_midstream(const struct tcp_view *v)
{
    bool from_client = is_smtp_port(v->dport);
    if ((!from_client && !is_smtp_port(v->sport)) || !(v->flags & TCP_FLAG_ACK) ||
        (v->flags & (TCP_FLAG_SYN | TCP_FLAG_RST))) {
        return false;
    }
    uint32_t caddr = from_client ? v->src : v->dst;
    uint32_t saddr = from_client ? v->dst : v->src;
    uint16_t cport = from_client ? v->sport : v->dport;
    uint16_t sport = from_client ? v->dport : v->sport;
    struct tuple4 t = {cport, sport, caddr, saddr};
    struct tcp_stream *a = nids_find_tcp_stream(&t);
    if (a != NULL && a->nids_state == NIDS_DATA) {
        return false; /* established but not ours */
    }
    if (a != NULL) {
        nids_free_tcp_stream(a); /* a handshake that never completed */
    }
    uint32_t client_isn = (from_client ? v->seq : v->ack) - 1;
    uint32_t server_isn = (from_client ? v->ack : v->seq) - 1;
    g_stream.synthesizing = true;
    feed_made_up(caddr, saddr, cport, sport, client_isn, 0, TCP_FLAG_SYN);
    feed_made_up(saddr, caddr, sport, cport, server_isn, client_isn + 1,
                 TCP_FLAG_SYN | TCP_FLAG_ACK);
    feed_made_up(caddr, saddr, cport, sport, client_isn + 1, server_isn + 1, TCP_FLAG_ACK);
    g_stream.synthesizing = false;
    g_stream.stats.n_midstream++;
    return true;
}

/*
 * The session of a packet, and which side sent it; NULL if none.  A
 * stream's user pointer holds its session from JUST_EST to end_session(),
 * so libnids' own table answers; the lookup also brings in the stream that
 * libnids is about to process for this packet.
 */
static struct session *session_of(const struct tcp_view *v, enum smtp_dir *dir)
{
    struct tuple4 as_client = {v->sport, v->dport, v->src, v->dst};
    struct tuple4 as_server = {v->dport, v->sport, v->dst, v->src};
    bool client_first = is_smtp_port(v->dport);
    struct tcp_stream *a = nids_find_tcp_stream(client_first ? &as_client : &as_server);
    if (a != NULL && a->user != NULL) {
        *dir = client_first ? SMTP_DIR_CLIENT : SMTP_DIR_SERVER;
        return a->user;
    }
    a = nids_find_tcp_stream(client_first ? &as_server : &as_client);
    *dir = client_first ? SMTP_DIR_SERVER : SMTP_DIR_CLIENT;
    return a != NULL ? a->user : NULL;
}

/* Highest sequence number sent, so a hole never filled shows at the end. */
static void note_sequence(struct session *s, enum smtp_dir dir, const struct tcp_view *v)
{
    struct stream_glue *glue = session_glue(s);
    uint32_t end_seq = v->seq + (uint32_t)v->payload;
    if (v->payload > 0 && seq_after(end_seq, glue->seq_high[dir])) {
        glue->seq_high[dir] = end_seq;
    }
}

/*
 * A FIN or RST (before libnids sees it), or a reassembled fragment.  A
 * data segment of a connection with no session may be picked up mid-stream
 * here, but only before libnids processes it (may_pick_up).
 */
static void on_segment(const struct tcp_view *v, bool may_pick_up)
{
    enum smtp_dir dir;
    struct session *s = session_of(v, &dir);
    if (s == NULL) {
        if (v->payload > 0 && !(may_pick_up && pick_up_midstream(v))) {
            count_unattached(v);
        }
        return;
    }
    note_sequence(s, dir, v);
    if (v->flags & TCP_FLAG_RST) {
        session_note_rst(s, dir, g_stream.now_us, v->payload > 0);
    } else if (v->flags & TCP_FLAG_FIN) {
        session_note_fin(s, dir, g_stream.now_us);
    }
}

/* Our look at a segment with SYN, FIN or RST, before libnids sees it. */
static void inspect_tcp(const struct tcp_view *v, bool may_pick_up)
{
    uint8_t f = v->flags & (TCP_FLAG_SYN | TCP_FLAG_ACK | TCP_FLAG_RST);
    if (f == TCP_FLAG_SYN) {
        on_syn(v);
    } else if (f == (TCP_FLAG_SYN | TCP_FLAG_ACK)) {
        on_synack(v);
    } else if (v->payload > 0 || (v->flags & (TCP_FLAG_FIN | TCP_FLAG_RST))) {
        on_segment(v, may_pick_up);
    }
}

/*
 * A data segment libnids delivered nothing for: out of order (queued
 * behind a hole), a retransmission, or a connection with no session.  Only
 * these need a lookup, which keeps the common in-order path free of one.
 */
static void after_undelivered(const struct tcp_view *v, const uint8_t *ip, size_t len)
{
    enum smtp_dir dir;
    struct session *s = session_of(v, &dir);
    if (s != NULL) {
        note_sequence(s, dir, v);
    } else if (pick_up_midstream(v)) {
        feed_raw(ip, len); /* again, now that libnids knows the connection */
    } else {
        count_unattached(v);
    }
}

/* libnids' IP hook: sees a fragmented datagram once it is reassembled. */
static void on_ip(struct ip *packet, int skblen)
{
    const uint8_t *ip = (const uint8_t *)packet;
    struct tcp_view v;
    (void)skblen; /* libnids passes an inflated size; the header is truth */
    if (g_stream.hook_wanted && view_tcp(ip, (size_t)(ip[2] << 8 | ip[3]), &v)) {
        inspect_tcp(&v, false); /* inside libnids: no feeding from here */
    }
}

/* ---- libnids plumbing ----------------------------------------------------- */

static void on_nids_warning(int type, int errnum, struct ip *iph, void *data)
{
    (void)type;
    (void)iph;
    (void)data;
    if (errnum >= 0 && errnum < STREAM_WARN_COUNT) {
        g_stream.stats.warnings[errnum]++;
    }
}

static void on_nids_no_mem(char *where)
{
    fprintf(stderr, "smtpscope: out of memory in libnids (%s)\n", where);
    abort();
}

const char *stream_warning_name(int errnum)
{
    static const char *const names[STREAM_WARN_COUNT] = {
        "undefined", "ip_oversized", "ip_invalid_fragment_list", "ip_overlap",
        "ip_or_tcp_header_invalid", "ip_source_route", "tcp_too_many_streams",
        "tcp_header_invalid", "tcp_queue_pruned", "tcp_bad_flags"};
    return errnum >= 0 && errnum < STREAM_WARN_COUNT ? names[errnum] : "?";
}

int stream_init(const struct stream_config *cfg, struct session_table *table, char *err,
                size_t errlen)
{
    memset(&g_stream, 0, sizeof(g_stream));
    g_stream.cfg = *cfg;
    g_stream.table = table;
    g_stream.exit_reason = RECORD_END_END_OF_INPUT;
    g_stream.token_seed = 0xCBF29CE484222325ULL;
    key_tuple_hash();
    if (!flowtab_init(&g_stream.handshakes, FLOWTAB_SLOTS_DEFAULT) ||
        !flowtab_init(&g_stream.unattached, FLOWTAB_SLOTS_DEFAULT)) {
        snprintf(err, errlen, "out of memory for flow tables");
        return SMTPSCOPE_ERR_INTERNAL;
    }
    g_stream.raw_handle = pcap_open_dead(DLT_RAW, 65535);
    if (g_stream.raw_handle == NULL) {
        snprintf(err, errlen, "cannot create a raw-IP handle for libnids");
        return SMTPSCOPE_ERR_INTERNAL;
    }
    nids_params.pcap_desc = g_stream.raw_handle;
    nids_params.device = NULL;
    nids_params.filename = NULL;
    nids_params.pcap_filter = NULL;
    nids_params.n_tcp_streams = cfg->max_streams;
    nids_params.scan_num_hosts = 0;
    nids_params.tcp_workarounds = 0;
    nids_params.tcp_flow_timeout = 0;
    nids_params.multiproc = 0;
    nids_params.one_loop_less = 0;
    nids_params.dev_addon = 0;
    nids_params.syslog = on_nids_warning;
    nids_params.no_mem = on_nids_no_mem;
    if (!nids_init()) {
        snprintf(err, errlen, "libnids: %s", nids_errbuf);
        return SMTPSCOPE_ERR_INTERNAL;
    }
    /* nids_init() clears callback lists: register after it. */
    if (!cfg->verify_checksums) {
        nids_register_chksum_ctl(&g_no_checksums, 1);
    }
    nids_register_ip(on_ip);
    nids_register_tcp(on_tcp);
    return SMTPSCOPE_OK;
}

void stream_feed_ipv4(const uint8_t *ip, size_t len, int64_t now_us)
{
    struct tcp_view v;
    const uint8_t *th = NULL;
    g_stream.now_us = now_us;
    sweep_idle();
    /* Most segments need only their flags and size here: the rest of the
     * view is read when a segment needs a look of its own. */
    bool is_tcp = view_tcp_flags(ip, len, &v, &th);
    bool flagged = is_tcp && (v.flags & (TCP_FLAG_SYN | TCP_FLAG_FIN | TCP_FLAG_RST));
    if (flagged) {
        view_fill(ip, th, &v);
        inspect_tcp(&v, true);
    }
    g_stream.hook_wanted = !is_tcp;
    g_stream.delivered_now = false;
    feed_raw(ip, len);
    g_stream.hook_wanted = false;
    if (is_tcp && !flagged && v.payload > 0 && !g_stream.delivered_now) {
        view_fill(ip, th, &v);
        after_undelivered(&v, ip, len);
    }
}

static uint32_t v6_token(const uint8_t *addr)
{
    uint64_t h = g_stream.token_seed;
    for (int i = 0; i < 16; i++) {
        h = (h ^ addr[i]) * 0x100000001B3ULL;
    }
    h ^= h >> 29;
    uint32_t token = 0xF0000000u | (uint32_t)(h & 0x0FFFFFFFu);
    if (token == 0xFFFFFFFFu) {
        token = 0xFFFFFFFEu; /* the broadcast address is special in libnids */
    }
    return htonl(token);
}

void stream_feed_ipv6(const uint8_t *ip6, const uint8_t *tcp, size_t tcp_len, int64_t now_us)
{
    const uint8_t *src = ip6 + 8;
    const uint8_t *dst = ip6 + 24;
    if (tcp_len > sizeof(g_stream.translated) - 20 || tcp_len > 65535 - 20) {
        g_stream.stats.n_ipv6_too_big++;
        return;
    }
    if (g_stream.cfg.verify_checksums && tcp_checksum(src, dst, 16, tcp, tcp_len) != 0) {
        g_stream.stats.warnings[NIDS_WARN_TCP_HDR]++;
        return;
    }
    g_stream.cur_v6[0] = src;
    g_stream.cur_v6[1] = dst;
    g_stream.cur_token[0] = v6_token(src);
    g_stream.cur_token[1] = v6_token(dst);
    uint8_t *p = g_stream.translated;
    size_t hl = put_ipv4_header(p, g_stream.cur_token[0], g_stream.cur_token[1], tcp_len);
    memcpy(p + hl, tcp, tcp_len);
    if (g_stream.cfg.verify_checksums) {
        set_tcp_checksum(p, hl + tcp_len);
    }
    stream_feed_ipv4(p, hl + tcp_len, now_us);
    g_stream.cur_v6[0] = g_stream.cur_v6[1] = NULL;
    g_stream.stats.n_ipv6_packets++;
}

void stream_tick(int64_t now_us)
{
    if (now_us > g_stream.now_us) {
        g_stream.now_us = now_us;
        sweep_idle();
    }
}

void stream_finish(enum record_end reason, int64_t now_us)
{
    struct session *s;
    g_stream.now_us = now_us;
    g_stream.exit_reason = reason;
    /* End sessions in id order ourselves: libnids' exit order is random. */
    while ((s = session_oldest_open(g_stream.table)) != NULL) {
        g_stream.stats.n_open_at_end++;
        end_and_free(s, reason);
    }
    nids_exit();
    pcap_close(g_stream.raw_handle);
    g_stream.raw_handle = NULL;
    nids_params.pcap_desc = NULL;
    free(g_stream.hints);
    g_stream.hints = NULL;
    flowtab_free(&g_stream.handshakes);
    flowtab_free(&g_stream.unattached);
}

void stream_get_stats(struct stream_stats *out)
{
    *out = g_stream.stats;
}
