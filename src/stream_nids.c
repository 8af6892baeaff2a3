/*
 * stream_nids.c - libnids glue (see stream_nids.h); the only file with <nids.h>.
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
 * - It drops, without a trace, a segment outside the receiver's last
 *   window or wholly below the receiver's last ACK (process_tcp), and one
 *   whose TCP timestamp is older than the last (PAWS); it throws a side's
 *   whole out-of-order queue away past 64 KiB; it waits for ever on a hole
 *   (libnids-notes.md 3).  What the sections "holes" and "each side's
 *   stream" do about that is described in stream_nids.h.
 * - A segment without ACK set changes no ACK state in libnids: the bytes
 *   made up to fill a hole are sent so.
 *
 * SPDX-License-Identifier: MIT
 */
#include "stream_nids.h"

#include <arpa/inet.h>
#include <nids.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "flow.h"
#include "packet_build.h"
#include "flowtab.h"
#include "smtp_limits.h"
#include "smtpscope.h"


/*
 * Per-session TCP bookkeeping, kept in the session's glue area.  A side is
 * "held back" when its peer's stream has a hole that this side's ACKs show
 * the peer's bytes filled: the capture recorded them out of order (or lost
 * them), and this side's bytes wait until the peer's stream reaches the
 * acknowledged point (or the hole is given up as lost).
 */
struct stream_glue {
    struct tcp_stream *tcp;
    uint32_t ahead[2];      /* held bytes the session already consumed (libnids
                             * counts its buffer in int, so this fits) */
    uint32_t filler[2];     /* made-up bytes of a filled hole libnids has yet
                             * to hand over, per sender */
    uint32_t unseen[2];     /* held-back bytes the session was never offered */
    uint32_t wait_seq[2];   /* a held-back side waits for the peer's stream to
                             * reach this sequence number */
    int64_t held_back_us[2]; /* when the side was held back; 0: it is not */
    int64_t hole_since_us[2]; /* the peer acknowledged bytes this side's stream
                              * lacks, since then; 0: no such hole */
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


/*
 * The window libnids takes a side to have advertised is scaled by this at
 * least (RFC 7323 2.3's largest shift, 14): see on_established().
 */
#define WINDOW_SCALE_OBSERVED (1u << 14)

/* libnids throws a side's whole out-of-order queue away past 65535 bytes
 * of it (tcp.c prune_queue): a hole the peer acknowledged is given up
 * before that. */
#define NIDS_QUEUE_SAFE 49152

/* The most a side's stream may run past a hole before the hole is given
 * up (bytes queued behind it, bounded). */
#define QUEUE_SPAN_MAX ((uint32_t)1 << 20)

/* Bytes of a held-back side kept before its wait is given up. */
#define HELD_BACK_MAX ((uint32_t)256 << 10)

/* Sessions that wait on a hole at once; past that, holes are given up at
 * once rather than waited on. */
#define STREAM_WAITING_MAX 256

/*
 * A held-back side's bytes, one mark per segment as it came: bytes up to
 * end (counted from the first byte held since the side was first held
 * back) came at us, and their sender had then seen the peer's stream up to
 * wait.  They are offered to the session once the session has been offered
 * the peer's bytes up to wait, so commands and replies reach it in the
 * order they were sent, whatever order the capture recorded.  Past
 * HELD_MARKS, the oldest two marks are merged.
 */
#define HELD_MARKS 32
struct held_mark {
    uint32_t end;
    uint32_t wait;
    int64_t us;
    bool fin; /* queued marks: the segment carried a FIN (at end) */
};

/*
 * A session waiting on a hole: the marks of a held-back side, and when
 * each segment queued behind a hole came (end: the sequence number after
 * it), so that bytes libnids hands over once the hole is filled carry
 * their own time, not the filling's.
 */
struct waiting {
    struct session *session;
    uint8_t n_marks[2];
    uint8_t next_mark[2];     /* the first mark not yet offered */
    uint8_t n_queued[2];
    uint32_t packets;         /* of the session since it began to wait */
    uint32_t total_held[2];   /* bytes held since the side was held back */
    uint32_t released[2];     /* of which offered */
    struct held_mark marks[2][HELD_MARKS];
    struct held_mark queued[2][HELD_MARKS];
};

/*
 * An RST the capture recorded before bytes it follows (its sender's own,
 * or the peer's that its ACK covers): libnids would end the stream on it
 * and lose them, so it waits, a copy, until they came or the reorder
 * window passed.
 */
#define DEFERRED_MAX 16
#define DEFERRED_BYTES 128
struct deferred {
    struct session *session;
    int64_t since_us;
    size_t len;
    uint8_t ip[DEFERRED_BYTES];
};

/* libnids is a singleton; this is its one context. */
static struct {
    struct stream_config cfg;
    struct port_set ports;    /* cfg.ports, copied: tested on every packet */
    struct session_table *table;
    pcap_t *raw_handle;
    int64_t now_us;
    enum record_end exit_reason;
    struct flowtab handshakes;
    struct flowtab unattached;
    struct flowtab resets;    /* RST times: first_us the client's, second_us the server's */
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
    struct waiting waiting[STREAM_WAITING_MAX]; /* sessions with a hole or a side held back */
    size_t n_waiting;
    int64_t next_due_us;         /* the earliest wait that may be due; INT64_MAX: none */
    struct session *filling;     /* the session whose hole is being filled */
    struct deferred deferred[DEFERRED_MAX];
    size_t n_deferred;
    int64_t idle_check_us;       /* no session can be idle before this packet time */
    bool feeding_deferred;       /* an RST kept aside goes in now, whatever */
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
    return port_set_has(&g_stream.ports, port);
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
    return flow_hash(src, be16_at(ip + hl), dst,
                     be16_at(ip + hl + 2));
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

/* ---- each side's stream as libnids holds it ----------------------------- */

/* The half libnids keeps dir's bytes in (client bytes in a->server). */
static struct half_stream *receiving_half(struct tcp_stream *a, enum smtp_dir dir)
{
    return dir == SMTP_DIR_CLIENT ? &a->server : &a->client;
}

/* The half describing dir's sender (its sequence numbers, FIN state). */
static struct half_stream *sending_half(struct tcp_stream *a, enum smtp_dir dir)
{
    return dir == SMTP_DIR_CLIENT ? &a->client : &a->server;
}

/* The sequence number of the next byte of dir that libnids expects
 * (its EXP_SEQ: urgent bytes it took out count too). */
static uint32_t expected_seq(struct tcp_stream *a, enum smtp_dir dir)
{
    const struct half_stream *rcv = receiving_half(a, dir);
    return sending_half(a, dir)->first_data_seq + (uint32_t)rcv->count + (uint32_t)rcv->urg_count;
}

/* libnids' half-stream states after a FIN was taken in order (tcp.c). */
#define NIDS_FIN_SENT 120
#define NIDS_FIN_CONFIRMED 121

/* A hole larger than this is no capture loss but nonsense (or a forged
 * ACK): it is never filled.  Filling costs a copy of its size (made-up
 * bytes through libnids), so the bound also keeps a hostile capture from
 * buying much work with one forged ACK. */
#define HOLE_MAX ((uint32_t)1 << 20)

/*
 * Bytes of dir that the peer acknowledged and libnids does not have: a
 * hole the capture recorded out of order or lost.  The peer's ACK counts
 * dir's FIN too once libnids took it.
 */
static uint32_t acked_hole(struct tcp_stream *a, enum smtp_dir dir)
{
    const struct half_stream *snd = sending_half(a, dir);
    uint32_t peer_ack = receiving_half(a, dir)->ack_seq;
    uint32_t next = expected_seq(a, dir);
    if (snd->state == NIDS_FIN_SENT || snd->state == NIDS_FIN_CONFIRMED) {
        next++;
    }
    uint32_t hole = peer_ack - next;
    return seq_after(peer_ack, next) && hole <= HOLE_MAX ? hole : 0;
}

/* ---- libnids' out-of-order queue ---------------------------------------- */

/*
 * libnids queues segments that arrive ahead of a hole in a list of its
 * struct skbuff, which its installed header does not define.  Its first
 * fields (1.2x, tcp.h) are read here, only to learn where the first
 * queued segment starts; other versions go without (a hole is then filled
 * only up to what the peer acknowledged, and only when nothing waits
 * behind it).
 */
#if NIDS_MAJOR == 1 && NIDS_MINOR >= 20 && NIDS_MINOR <= 26
#define HAVE_QUEUE_VIEW 1
struct nids_queued_view {
    struct nids_queued_view *next;
    struct nids_queued_view *prev;
    void *data;
    u_int len;
    u_int truesize;
    u_int urg_ptr;
    char fin;
    char urg;
    u_int seq;
    u_int ack;
};
#endif

/* Whether segments of dir wait behind a hole; if so *first_seq is where
 * the first of them starts. */
static bool queued_after_hole(struct tcp_stream *a, enum smtp_dir dir, uint32_t *first_seq)
{
    const struct half_stream *rcv = receiving_half(a, dir);
    if (rcv->list == NULL) {
        return false;
    }
#ifdef HAVE_QUEUE_VIEW
    *first_seq = ((const struct nids_queued_view *)(const void *)rcv->list)->seq;
    return true;
#else
    (void)first_seq;
    return false;
#endif
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

static struct waiting *waiting_of(const struct session *s)
{
    for (size_t i = 0; i < g_stream.n_waiting; i++) {
        if (g_stream.waiting[i].session == s) {
            return &g_stream.waiting[i];
        }
    }
    return NULL;
}

static void waiting_remove(struct session *s)
{
    struct waiting *w = waiting_of(s);
    if (w != NULL) {
        *w = g_stream.waiting[--g_stream.n_waiting];
    }
}

/* Notes in marks (n of them) that bytes up to end came now, their sender
 * having seen the peer up to wait. */
static void add_mark(struct held_mark *marks, uint8_t *n_marks, uint32_t end, uint32_t wait)
{
    uint8_t n = *n_marks;
    if (n == HELD_MARKS) {
        /* Full: the two oldest become one (their bytes take the later
         * time), so the newest segments, which end messages and carry
         * the last commands, keep theirs. */
        if (seq_after(marks[0].wait, marks[1].wait)) {
            marks[1].wait = marks[0].wait;
        }
        memmove(&marks[0], &marks[1], (HELD_MARKS - 1) * sizeof(marks[0]));
        n--;
    }
    marks[n].end = end;
    marks[n].wait = wait;
    marks[n].us = g_stream.now_us;
    marks[n].fin = false;
    *n_marks = (uint8_t)(n + 1);
}

/*
 * The mark of the segment queued behind a hole whose bytes end at end_seq
 * (libnids hands queued segments over one by one), or NULL.
 */
static const struct held_mark *queued_mark(const struct session *s, enum smtp_dir dir,
                                           uint32_t end_seq)
{
    const struct waiting *w = waiting_of(s);
    const struct held_mark *best = NULL;
    for (uint8_t i = 0; w != NULL && i < w->n_queued[dir]; i++) {
        const struct held_mark *m = &w->queued[dir][i];
        if (!seq_after(end_seq, m->end) && (best == NULL || seq_after(best->end, m->end))) {
            best = m;
        }
    }
    return best;
}

/*
 * Which side the capture lacks: no byte of dir ever reached libnids, none
 * waits in its queue, yet the peer acknowledged some (so they were sent).
 */
static enum record_side missing_side(struct tcp_stream *a)
{
    for (int d = 0; d < 2; d++) {
        enum smtp_dir dir = (enum smtp_dir)d;
        uint32_t first;
        if (receiving_half(a, dir)->count == 0 && !queued_after_hole(a, dir, &first) &&
            acked_hole(a, dir) > 0 && receiving_half(a, (enum smtp_dir)!d)->count > 0) {
            return dir == SMTP_DIR_CLIENT ? RECORD_SIDE_CLIENT : RECORD_SIDE_SERVER;
        }
    }
    return RECORD_SIDE_NONE;
}

static bool release_side(struct tcp_stream *a, struct session *s, enum smtp_dir dir, bool all);

static void end_session(struct session *s, enum record_end reason)
{
    struct stream_glue *glue = session_glue(s);
    struct tcp_stream *a = glue->tcp;
    struct session_end end;
    memset(&end, 0, sizeof(end));
    end.reason = reason;
    end.now_us = g_stream.now_us;
    end.missing_side = (uint8_t)missing_side(a);
    for (int d = 0; d < 2; d++) {
        if (glue->held_back_us[d] != 0) {
            release_side(a, s, (enum smtp_dir)d, true); /* the hole will not be filled now */
        }
    }
    waiting_remove(s);
    for (size_t i = 0; i < g_stream.n_deferred;) {
        if (g_stream.deferred[i].session == s) {
            g_stream.deferred[i] = g_stream.deferred[--g_stream.n_deferred];
        } else {
            i++;
        }
    }
    for (int d = 0; d < 2; d++) {
        enum smtp_dir dir = (enum smtp_dir)d;
        uint32_t first;
        uint32_t hole = acked_hole(a, dir);
        /* A hole still open at the end (only where libnids ends the stream
         * itself, inside a callback: elsewhere holes are filled first). */
        if (end.missing_side == RECORD_SIDE_NONE && hole > 0) {
            session_gap(s, dir, hole);
        }
        end.gap[d] = queued_after_hole(a, dir, &first);
    }
    collect_tail(&end, SMTP_DIR_CLIENT, &a->server, glue->ahead[SMTP_DIR_CLIENT]);
    collect_tail(&end, SMTP_DIR_SERVER, &a->client, glue->ahead[SMTP_DIR_SERVER]);
    a->user = NULL;
    hint_clear(a, s);
    session_end(g_stream.table, s, &end);
}

static void fill_holes(struct session *s, bool all);
static void feed_deferred(const struct session *only, bool all);

/* Ends a session outside libnids callbacks and frees its stream; holes
 * still open are filled first, so bytes queued behind them are read. */
static __attribute__((noinline, cold)) void end_and_free(struct session *s, enum record_end reason)
{
    struct tcp_stream *a = ((struct stream_glue *)session_glue(s))->tcp;
    fill_holes(s, true);
    feed_deferred(s, true);
    if (a->user == s) { /* filling, or its RST, may have ended it */
        end_session(s, reason);
        nids_free_tcp_stream(a);
    }
}

static void sweep_idle(void)
{
    if (g_stream.now_us < g_stream.idle_check_us) {
        return; /* nothing can be idle yet */
    }
    struct session *s;
    while ((s = session_idle_candidate(g_stream.table, g_stream.now_us)) != NULL) {
        g_stream.stats.n_idle++;
        end_and_free(s, RECORD_END_IDLE);
    }
    g_stream.idle_check_us = session_idle_check_us(g_stream.table, g_stream.now_us);
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
    int64_t check = session_idle_check_us(g_stream.table, g_stream.now_us);
    if (check < g_stream.idle_check_us) {
        g_stream.idle_check_us = check;
    }
    struct stream_glue *glue = session_glue(s);
    glue->tcp = a;
    /*
     * An observer is not the receiver: the window a side advertised, and
     * TCP timestamps (PAWS), decide nothing about what it was sent.  A
     * capture that missed window updates or the window-scale option would
     * otherwise lose bytes libnids judges out of window, and one that
     * recorded segments out of order bytes with older timestamps.  The
     * window is taken as scaled by 2^14 (the largest scale, RFC 7323 2.3)
     * and timestamps are not checked.
     */
    for (int i = 0; i < 2; i++) {
        struct half_stream *h = i == 0 ? &a->client : &a->server;
        h->ts_on = 0;
        if (h->wscale < WINDOW_SCALE_OBSERVED) {
            h->wscale = WINDOW_SCALE_OBSERVED;
        }
    }
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
        /* Bytes never offered (held back, or being fed in parts) wait for
         * their turn; those offered before and let wait are due now. */
        size_t avail = (size_t)(h->count - h->offset) - glue->unseen[SMTP_DIR_CLIENT];
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

/* The session asks for the client bytes it let wait (session.h). */
void stream_resume_client(void *ctx, struct session *s)
{
    (void)ctx;
    struct stream_glue *glue = session_glue(s);
    resume_client(glue->tcp, s, glue);
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
    nids_discard(a, 0);               /* ...and nothing for it to discard */
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

static bool hold_back(struct tcp_stream *a, struct session *s, enum smtp_dir dir, size_t fresh,
                      uint32_t seen, int64_t at_us);
static void settle(struct tcp_stream *a, struct session *s);

/*
 * Tells libnids to keep the bytes of h the session did not consume: done
 * of avail were, and the buffer is trimmed as in free_empty_buffer() and
 * shrink_buffer().
 */
static inline __attribute__((always_inline)) void
keep_rest(struct tcp_stream *a, struct half_stream *h, size_t done, size_t avail,
                      size_t fresh)
{
    bool oversized = h->bufsize > STREAM_BUFFER_KEEP_MAX;
    if (done < avail && oversized) {
        shrink_buffer(a, h, done, avail - done);
    } else if (done < avail) {
        nids_discard(a, (int)done);
    } else if (oversized || (fresh < STREAM_BURST_SEGMENT &&
                             g_stream.table->stats.n_open > g_stream.cfg.free_buffers_above)) {
        free_empty_buffer(a, h);
    }
}

/*
 * How far the session has been offered dir's bytes (libnids' expected
 * sequence number, less what is held back), counting dir's FIN once all
 * was offered: what a peer's ACK is compared with.
 */
static uint32_t offered_seq(struct tcp_stream *a, enum smtp_dir dir)
{
    const struct stream_glue *glue = session_glue(a->user);
    uint32_t seq = expected_seq(a, dir) - glue->unseen[dir];
    const struct half_stream *snd = sending_half(a, dir);
    if (glue->unseen[dir] == 0 && (snd->state == NIDS_FIN_SENT || snd->state == NIDS_FIN_CONFIRMED)) {
        seq++;
    }
    return seq;
}

/*
 * Bytes of dir from buffer offset ahead: offered to the session up to the
 * points where marks of a held-back peer come due (the peer's bytes are
 * offered there, in the order they were sent), then the rest.
 * glue->ahead[dir] ends past what the session consumed.
 */
static void feed_in_order(struct tcp_stream *a, struct session *s, enum smtp_dir dir,
                          struct half_stream *h, size_t avail, size_t held, uint32_t from_seq,
                          int64_t at_us)
{
    struct stream_glue *glue = session_glue(s);
    enum smtp_dir peer = (enum smtp_dir)!dir;
    size_t ahead = glue->ahead[dir];
    size_t offered = ahead + held; /* buffer offset up to which bytes were offered */
    for (int round = 0; round < 2 * HELD_MARKS + 2; round++) {
        size_t split = avail;
        if (glue->held_back_us[peer] != 0) {
            uint32_t due = glue->wait_seq[peer] - from_seq; /* into the new bytes */
            if (due < avail - offered) {
                split = offered + due;
            }
        }
        /* Until the split, the rest counts as not yet offered. */
        glue->unseen[dir] = (uint32_t)(avail - split);
        size_t used = session_feed(g_stream.table, s, dir, (const uint8_t *)h->data + ahead,
                                   split - ahead, offered - ahead, at_us);
        glue->ahead[dir] = (uint32_t)(ahead + used);
        from_seq += (uint32_t)(split - offered);
        offered = split;
        if (split == avail) {
            break;
        }
        settle(a, s); /* the peer's bytes now due */
        /* They may have let the session take more of ours (resume_client). */
        ahead = glue->ahead[dir] > offered ? offered : glue->ahead[dir];
        if (glue->ahead[dir] > offered) {
            offered = glue->ahead[dir];
        }
    }
    glue->unseen[dir] = 0;
}

static void on_data_slow(struct tcp_stream *a, struct session *s, enum smtp_dir dir,
                         struct half_stream *h, size_t avail, size_t fresh);

/* See on_data(): the peer's held bytes, if its ACKs cover them, end a line. */
static __attribute__((noinline)) void peer_line_done(struct tcp_stream *a, struct session *s,
                                                     enum smtp_dir peer)
{
    struct stream_glue *glue = session_glue(s);
    struct half_stream *h = receiving_half(a, peer);
    uint32_t seen = h->ack_seq; /* what the answer's sender acknowledged of the peer */
    if (h->data == NULL || glue->held_back_us[peer] != 0 || seq_after(expected_seq(a, peer), seen)) {
        return; /* the answer's sender had not seen all of it */
    }
    size_t avail = (size_t)(h->count - h->offset);
    size_t ahead = glue->ahead[peer];
    glue->ahead[peer] += (uint32_t)session_line_done(g_stream.table, s, peer,
                                                     (const uint8_t *)h->data + ahead,
                                                     avail - ahead, g_stream.now_us);
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
    g_stream.delivered_now = true;
    enum smtp_dir peer = (enum smtp_dir)!dir;
    /* The peer's partial line, which these bytes' sender acknowledged and
     * answered, was a whole line to it (sent without CRLF). */
    struct half_stream *peer_rcv = receiving_half(a, peer);
    if ((uint32_t)(peer_rcv->count - peer_rcv->offset) > glue->ahead[peer]) {
        peer_line_done(a, s, peer);
    }
    /* The usual segment: no hole being filled, no side held back, and its
     * sender had seen no more of the peer than libnids holds (one more: a
     * FIN).  The session reads it at once. */
    uint32_t peer_next = sending_half(a, peer)->first_data_seq + (uint32_t)peer_rcv->count + 1;
    if (((uint64_t)glue->held_back_us[0] | (uint64_t)glue->held_back_us[1] | glue->filler[dir] |
         (uintptr_t)g_stream.filling) == 0 &&
        !seq_after(peer_rcv->ack_seq, peer_next)) {
        size_t ahead = glue->ahead[dir];
        size_t used = session_feed(g_stream.table, s, dir, (const uint8_t *)h->data + ahead,
                                   avail - ahead, avail - fresh - ahead, g_stream.now_us);
        glue->ahead[dir] = 0;
        keep_rest(a, h, ahead + used, avail, fresh);
        if (dir == SMTP_DIR_SERVER) {
            resume_client(a, s, glue);
        }
        return;
    }
    on_data_slow(a, s, dir, h, avail, fresh);
}

/* on_data() for a segment that is not the usual one: a hole being filled,
 * a side held back, or bytes whose sender had seen more of the peer. */
static __attribute__((noinline)) void on_data_slow(struct tcp_stream *a, struct session *s,
                                                   enum smtp_dir dir, struct half_stream *h,
                                                   size_t avail, size_t fresh)
{
    struct stream_glue *glue = session_glue(s);
    enum smtp_dir peer = (enum smtp_dir)!dir;
    uint32_t end_seq = expected_seq(a, dir);
    if (glue->filler[dir] > 0) {
        /* Made-up bytes of a filled hole (the session has been told): they
         * and the partial line held before them are dropped (all of the
         * buffer counts as taken while the peer may be released). */
        glue->filler[dir] -= fresh < glue->filler[dir] ? (uint32_t)fresh : glue->filler[dir];
        glue->held_back_us[dir] = 0; /* released before the filling (give_up_hole) */
        glue->unseen[dir] = 0;
        glue->ahead[dir] = (uint32_t)avail;
        settle(a, s);
        glue->ahead[dir] = 0;
        return; /* libnids discards the whole buffer */
    }
    /* Bytes that waited behind a hole came with their own time and ACK. */
    const struct held_mark *queued = g_stream.filling == s ? queued_mark(s, dir, end_seq) : NULL;
    int64_t at = queued != NULL ? queued->us : g_stream.now_us;
    uint32_t seen = queued != NULL ? queued->wait : receiving_half(a, peer)->ack_seq;
    if (hold_back(a, s, dir, fresh, seen, at)) {
        /* Held back (hold_back() says why): kept unread for now. */
        nids_discard(a, (int)glue->ahead[dir]); /* what the session took is done with */
        glue->ahead[dir] = 0;
        return;
    }
    size_t ahead = glue->ahead[dir];
    size_t held = avail - fresh - ahead;
    feed_in_order(a, s, dir, h, avail, held, end_seq - (uint32_t)fresh, at);
    settle(a, s);
    size_t done = glue->ahead[dir]; /* releasing may have let the session take more */
    glue->ahead[dir] = 0;
    keep_rest(a, h, done, avail, fresh);
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
    v->sport = be16_at(th);
    v->dport = be16_at(th + 2);
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

/* v's connection as a flow table key, client first. */
static struct flow_key key_of(const struct tcp_view *v, bool from_client)
{
    return from_client ? (struct flow_key){v->src, v->dst, v->sport, v->dport}
                       : (struct flow_key){v->dst, v->src, v->dport, v->sport};
}

static void count_unattached(const struct tcp_view *v)
{
    bool server_is_dst = is_smtp_port(v->dport);
    if (!server_is_dst && !is_smtp_port(v->sport)) {
        return;
    }
    g_stream.stats.n_unattached_packets++;
    struct flow_key key = key_of(v, server_is_dst);
    bool created;
    struct flow_entry *e = flowtab_upsert(&g_stream.unattached, &key, &created);
    if (created) {
        e->first_us = g_stream.now_us;
        g_stream.stats.n_unattached_flows++;
    }
}

/* ---- packets we build (packet_build.h): IPv6 translation, mid-stream
 * handshakes, fillers for holes ---------------------------------------- */

static void feed_raw(const uint8_t *ip, size_t len)
{
    struct pcap_pkthdr hdr;
    hdr.ts.tv_sec = (time_t)(g_stream.now_us / 1000000);
    hdr.ts.tv_usec = (suseconds_t)(g_stream.now_us % 1000000);
    hdr.caplen = (bpf_u_int32)len;
    hdr.len = (bpf_u_int32)len;
    nids_pcap_handler(NULL, &hdr, (u_char *)ip);
}

/* A session's RST, by the side dir: see pick_up_midstream(). */
static void note_reset(const struct tcp_view *v, enum smtp_dir dir)
{
    bool from_client = dir == SMTP_DIR_CLIENT;
    struct flow_key key = key_of(v, from_client);
    bool created;
    struct flow_entry *e = flowtab_upsert(&g_stream.resets, &key, &created);
    if (from_client) {
        e->first_us = g_stream.now_us;
    } else {
        e->second_us = g_stream.now_us;
    }
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
    struct flow_key key = key_of(v, from_client);
    struct flow_entry *reset = flowtab_find(&g_stream.resets, &key);
    if (reset != NULL) {
        int64_t peer_rst_us = from_client ? reset->second_us : reset->first_us;
        if (peer_rst_us >= 0 && g_stream.now_us - peer_rst_us <= RESET_IN_FLIGHT_US) {
            return false; /* in flight when the peer reset: no new session */
        }
    }
    struct tuple4 t = {key.client_port, key.server_port, key.client_addr, key.server_addr};
    struct tcp_stream *a = nids_find_tcp_stream(&t);
    if (a != NULL && a->nids_state == NIDS_DATA) {
        return false; /* established but not ours */
    }
    if (a != NULL) {
        nids_free_tcp_stream(a); /* a handshake that never completed */
    }
    uint32_t client_isn = (from_client ? v->seq : v->ack) - 1;
    uint32_t server_isn = (from_client ? v->ack : v->seq) - 1;
    uint8_t made_up[3][PACKET_BARE_MAX];
    size_t len[3];
    packet_made_up_handshake(made_up, len, key.client_addr, key.server_addr, key.client_port,
                             key.server_port, client_isn, server_isn);
    g_stream.synthesizing = true;
    for (int i = 0; i < 3; i++) {
        feed_raw(made_up[i], len[i]);
    }
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
    if (v->flags & TCP_FLAG_RST) {
        session_note_rst(s, dir, g_stream.now_us, v->payload > 0);
        note_reset(v, dir);
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

/* ---- holes: reordered captures, capture loss, one-sided captures ------- */

/*
 * What libnids would throw away without a trace (tcp.c process_tcp): a
 * segment outside the receiver's window as last advertised, or one wholly
 * below what the receiver acknowledged.  rcv is the half that receives
 * the segment.  A passive observer must not judge by either: the window
 * may be stale or unscaled in the capture, and an ACK the capture
 * recorded before the data it acknowledges makes that data look old.
 */
static bool nids_would_drop(const struct half_stream *rcv, uint32_t seq, size_t payload)
{
    if (payload == 0 && seq == rcv->ack_seq) {
        return false;
    }
    uint32_t window_end = rcv->ack_seq + (uint32_t)rcv->window * rcv->wscale;
    return !seq_after(window_end, seq) || seq_after(rcv->ack_seq, seq + (uint32_t)payload);
}

/*
 * After a segment went in through open_window(): the receiver's ACK is
 * what the capture showed again (the holes and waits above read it), if
 * the stream is still there.
 */
static void restore_ack(struct tcp_stream *a, struct session *s, struct half_stream *rcv,
                        uint32_t acked)
{
    if (a->user == s && seq_after(acked, rcv->ack_seq)) {
        rcv->ack_seq = acked;
    }
}

/* Makes libnids take a segment at seq: the receiver is taken to have
 * acknowledged no more than libnids holds, with an open window. */
static void open_window(struct half_stream *rcv, uint32_t expected)
{
    if (seq_after(rcv->ack_seq, expected)) {
        rcv->ack_seq = expected;
    }
    if (rcv->window < 1024) {
        rcv->window = 65535;
    }
    if (rcv->wscale < WINDOW_SCALE_OBSERVED) {
        rcv->wscale = WINDOW_SCALE_OBSERVED;
    }
}

/*
 * A segment of s sent by dir that libnids just threw away although it
 * holds bytes (or the FIN) libnids has not got: fed again with the window
 * opened.  Returns true if it was.
 */
static bool feed_again_if_dropped(struct session *s, enum smtp_dir dir, const struct tcp_view *v,
                                  const uint8_t *ip, size_t len)
{
    struct tcp_stream *a = ((struct stream_glue *)session_glue(s))->tcp;
    struct half_stream *rcv = receiving_half(a, dir);
    uint32_t expected = expected_seq(a, dir);
    uint32_t seg_end = v->seq + (uint32_t)v->payload + ((v->flags & TCP_FLAG_FIN) ? 1 : 0);
    if (!seq_after(seg_end, expected) || (v->flags & TCP_FLAG_RST) ||
        !nids_would_drop(rcv, v->seq, v->payload)) {
        return false;
    }
    g_stream.stats.n_window_reopened++;
    uint32_t acked = rcv->ack_seq;
    open_window(rcv, expected);
    feed_raw(ip, len);
    restore_ack(a, s, rcv, acked);
    return true;
}

/* Whether s still waits on anything: a side held back, a hole the peer
 * acknowledged, or bytes queued behind a hole. */
static bool still_waiting(const struct session *s)
{
    const struct stream_glue *glue = session_glue((struct session *)s);
    return glue->held_back_us[0] != 0 || glue->held_back_us[1] != 0 ||
           glue->hole_since_us[0] != 0 || glue->hole_since_us[1] != 0 ||
           glue->tcp->client.list != NULL || glue->tcp->server.list != NULL;
}

/* Forgets the sessions that no longer wait on anything. */
static void drop_idle_waiters(void)
{
    for (size_t i = 0; i < g_stream.n_waiting;) {
        if (!still_waiting(g_stream.waiting[i].session)) {
            g_stream.waiting[i] = g_stream.waiting[--g_stream.n_waiting];
        } else {
            i++;
        }
    }
}

/* a + b for packet times, held at INT64_MAX rather than wrapping. */
static int64_t time_add(int64_t a, int64_t b)
{
    return a > INT64_MAX - b ? INT64_MAX : a + b;
}

/* A wait that starts now ends by the reorder window. */
static void note_deadline(void)
{
    int64_t due = time_add(g_stream.now_us, g_stream.cfg.reorder_window_us);
    if (due < g_stream.next_due_us) {
        g_stream.next_due_us = due;
    }
}

/* Registers s as waiting on a hole; false when no more may wait (the
 * caller then goes on in capture order). */
static bool waiting_add(struct session *s)
{
    if (waiting_of(s) != NULL) {
        return true;
    }
    if (g_stream.n_waiting == STREAM_WAITING_MAX) {
        drop_idle_waiters();
    }
    if (g_stream.n_waiting == STREAM_WAITING_MAX) {
        g_stream.stats.n_reorder_overflow++;
        return false;
    }
    struct waiting *w = &g_stream.waiting[g_stream.n_waiting++];
    w->session = s;
    w->n_marks[0] = w->n_marks[1] = 0;
    w->n_queued[0] = w->n_queued[1] = 0;
    w->packets = 0;
    if (g_stream.n_waiting > g_stream.stats.n_waiting_max) {
        g_stream.stats.n_waiting_max = g_stream.n_waiting;
    }
    return true;
}

/*
 * Whether dir's fresh bytes (just handed over by libnids, sent when their
 * sender had seen the peer's stream up to seen, and captured at at_us)
 * wait: when dir is held back already, behind the bytes held before them;
 * else when seen is past what the session has been offered of the peer
 * (the capture recorded the peer's bytes later, or lost them).  If they
 * wait, they are marked and true is returned.
 */
static bool hold_back(struct tcp_stream *a, struct session *s, enum smtp_dir dir, size_t fresh,
                      uint32_t seen, int64_t at_us)
{
    struct stream_glue *glue = session_glue(s);
    enum smtp_dir peer = (enum smtp_dir)!dir;
    if (glue->held_back_us[dir] == 0) {
        uint32_t gap = seen - offered_seq(a, peer);
        if (!seq_after(seen, offered_seq(a, peer)) || gap > HOLE_MAX ||
            session_record_view(s)->missing_side != RECORD_SIDE_NONE || !waiting_add(s)) {
            return false;
        }
        struct waiting *w = waiting_of(s);
        w->n_marks[dir] = w->next_mark[dir] = 0;
        w->total_held[dir] = w->released[dir] = 0;
        glue->held_back_us[dir] = g_stream.now_us | 1;
        glue->wait_seq[dir] = seen;
        glue->unseen[dir] = 0;
        g_stream.stats.n_held_back++;
        note_deadline();
    }
    struct waiting *w = waiting_of(s);
    glue->unseen[dir] += (uint32_t)fresh;
    w->total_held[dir] += (uint32_t)fresh;
    if (w->n_marks[dir] == HELD_MARKS && w->next_mark[dir] > 0) {
        /* Room first from marks already offered. */
        uint8_t gone = w->next_mark[dir];
        memmove(&w->marks[dir][0], &w->marks[dir][gone],
                (size_t)(HELD_MARKS - gone) * sizeof(w->marks[dir][0]));
        w->n_marks[dir] = (uint8_t)(w->n_marks[dir] - gone);
        w->next_mark[dir] = 0;
    }
    add_mark(w->marks[dir], &w->n_marks[dir], w->total_held[dir], seen);
    w->marks[dir][w->n_marks[dir] - 1].us = at_us;
    if (glue->unseen[dir] > HELD_BACK_MAX) {
        glue->held_back_us[dir] = 1; /* held enough: given up before the next packet */
        g_stream.next_due_us = INT64_MIN;
    }
    return true;
}

/*
 * Offers dir's held-back bytes to the session, segment by segment with the
 * time each came: those whose sender had seen no more of the peer than the
 * session has been offered, or all of them.  Returns whether any were.
 */
static bool release_side(struct tcp_stream *a, struct session *s, enum smtp_dir dir, bool all)
{
    struct stream_glue *glue = session_glue(s);
    struct half_stream *h = receiving_half(a, dir);
    struct waiting *w = waiting_of(s);
    enum smtp_dir peer = (enum smtp_dir)!dir;
    bool any = false;
    if (glue->held_back_us[dir] == 0) {
        return false;
    }
    if (w == NULL || h->data == NULL) {
        glue->held_back_us[dir] = 0; /* nothing to offer: no marks, or no bytes */
        glue->unseen[dir] = 0;
        return false;
    }
    while (w->next_mark[dir] < w->n_marks[dir]) {
        const struct held_mark *m = &w->marks[dir][w->next_mark[dir]];
        if (!all && seq_after(m->wait, offered_seq(a, peer))) {
            glue->wait_seq[dir] = m->wait;
            return any;
        }
        size_t avail = (size_t)(h->count - h->offset);
        size_t ahead = glue->ahead[dir];
        size_t unseen = glue->unseen[dir];
        size_t first_unseen = avail - unseen;
        size_t n = m->end - w->released[dir];
        if (n > unseen) {
            n = unseen;
        }
        w->next_mark[dir]++;
        w->released[dir] = m->end;
        w->packets = 0; /* progress: the packet bound counts from here */
        glue->unseen[dir] = (uint32_t)(unseen - n);
        if (first_unseen + n > ahead) {
            size_t held = first_unseen > ahead ? first_unseen - ahead : 0;
            size_t used = session_feed(g_stream.table, s, dir, (const uint8_t *)h->data + ahead,
                                       first_unseen + n - ahead, held, m->us);
            glue->ahead[dir] = (uint32_t)(ahead + used);
        }
        any = true;
    }
    glue->held_back_us[dir] = 0;
    glue->unseen[dir] = 0;
    return any;
}

/* Offers held-back bytes of either side as the other side's offered bytes
 * allow, until neither can go on. */
static void settle(struct tcp_stream *a, struct session *s)
{
    struct stream_glue *glue = session_glue(s);
    for (int round = 0; round < 4 * HELD_MARKS; round++) {
        bool moved = false;
        for (int d = 0; d < 2 && a->user == s; d++) {
            if (glue->held_back_us[d] != 0 && release_side(a, s, (enum smtp_dir)d, false)) {
                moved = true;
            }
        }
        if (!moved) {
            return;
        }
    }
}

/*
 * Feeds n made-up bytes of dir at libnids' expected sequence number, so it
 * moves past a hole and hands over what it queued behind it.  No ACK flag:
 * the segment changes nothing of what the peer acknowledged.
 */
static void feed_filler(struct tcp_stream *a, struct stream_glue *glue, enum smtp_dir dir,
                        uint32_t n)
{
    bool from_client = dir == SMTP_DIR_CLIENT;
    uint32_t src = from_client ? a->addr.saddr : a->addr.daddr;
    uint32_t dst = from_client ? a->addr.daddr : a->addr.saddr;
    uint16_t sport = from_client ? a->addr.source : a->addr.dest;
    uint16_t dport = from_client ? a->addr.dest : a->addr.source;
    uint8_t *p = g_stream.translated;
    struct session *owner = a->user;
    while (n > 0 && a->user == owner && owner != NULL) {
        uint32_t piece = n > PACKET_PIECE_PAYLOAD_MAX ? PACKET_PIECE_PAYLOAD_MAX : n;
        uint32_t seq = expected_seq(a, dir);
        struct half_stream *rcv = receiving_half(a, dir);
        uint32_t acked = rcv->ack_seq;
        open_window(rcv, seq);
        size_t len = packet_filler(p, src, dst, sport, dport, seq, piece);
        glue->filler[dir] += piece;
        struct session *was = g_stream.filling;
        g_stream.filling = a->user;
        feed_raw(p, len);
        g_stream.filling = was;
        restore_ack(a, owner, rcv, acked);
        glue->filler[dir] = 0; /* all of it was handed over, or none will be */
        n -= piece;
    }
}

/*
 * Gives up waiting on dir's hole: the bytes are lost to the capture (or,
 * when dir never showed a byte, were never captured: a one-sided capture).
 * The session is told, libnids moves past the hole, and a peer side held
 * back for it is offered its bytes where they belong.
 */
static void give_up_hole(struct session *s, enum smtp_dir dir)
{
    struct stream_glue *glue = session_glue(s);
    struct tcp_stream *a = glue->tcp;
    enum smtp_dir peer = (enum smtp_dir)!dir;
    glue->hole_since_us[dir] = 0;
    uint32_t first;
    bool queued = queued_after_hole(a, dir, &first);
    uint32_t expected = expected_seq(a, dir);
    uint32_t acked = acked_hole(a, dir);
    if (receiving_half(a, dir)->count == 0 && !queued && acked > 0) {
        session_set_one_sided(s, dir == SMTP_DIR_CLIENT ? RECORD_SIDE_CLIENT : RECORD_SIDE_SERVER);
        release_side(a, s, peer, true);
        return;
    }
    uint32_t hole = queued && seq_after(first, expected) ? first - expected : acked;
    if (hole == 0 || hole > HOLE_MAX) {
        release_side(a, s, peer, true);
        return;
    }
    g_stream.stats.n_holes++;
    g_stream.stats.n_hole_bytes += hole;
    /* dir's own held-back bytes came before its hole. */
    release_side(a, s, dir, true);
    session_gap(s, dir, hole);
    if (dir == SMTP_DIR_CLIENT) {
        resume_client(a, s, glue); /* bytes held behind DATA, now content */
    }
    feed_filler(a, glue, dir, hole);
    if (a->user == s) {
        settle(a, s);
    }
}

/*
 * Fills what s waits on: holes the peer acknowledged past (all: every hole
 * with bytes queued behind it too, as at the end of input, when nothing
 * more will come), then releases held-back sides.  Outside callbacks only.
 */
static void fill_holes(struct session *s, bool all)
{
    struct stream_glue *glue = session_glue(s);
    struct tcp_stream *a = glue->tcp;
    /* A side never captured is known first: the other side's bytes are
     * read without waiting on it, holes or not. */
    enum record_side missing = missing_side(a);
    if (missing != RECORD_SIDE_NONE) {
        session_set_one_sided(s, missing);
    }
    for (int round = 0; round < 64 && a->user == s; round++) {
        bool more = false;
        for (int d = 0; d < 2 && a->user == s; d++) {
            enum smtp_dir dir = (enum smtp_dir)d;
            uint32_t first;
            bool queued = queued_after_hole(a, dir, &first);
            if (acked_hole(a, dir) > 0 || (all && queued)) {
                give_up_hole(s, dir);
                more = true;
            }
        }
        if (!more) {
            break;
        }
    }
    for (int d = 0; d < 2 && a->user == s; d++) {
        release_side(a, s, (enum smtp_dir)d, true);
        glue->hole_since_us[d] = 0;
    }
    waiting_remove(s);
}


/*
 * Sessions that have waited on a hole past the reorder window (or past
 * what may be held for them) have it filled now.  Runs before each packet,
 * outside libnids callbacks.
 */
static __attribute__((noinline, cold)) void give_up_due(void)
{
    if (g_stream.now_us < g_stream.next_due_us) {
        return;
    }
    int64_t window = g_stream.cfg.reorder_window_us;
    int64_t next = INT64_MAX;
    for (size_t i = 0; i < g_stream.n_waiting;) {
        struct session *s = g_stream.waiting[i].session;
        struct stream_glue *glue = session_glue(s);
        int64_t first = INT64_MAX;
        for (int d = 0; d < 2; d++) {
            int64_t since = glue->held_back_us[d] != 0 ? glue->held_back_us[d] : glue->hole_since_us[d];
            if (since != 0 && since < first) {
                first = since;
            }
        }
        if (first != INT64_MAX && g_stream.now_us >= time_add(first, window)) {
            fill_holes(s, false); /* removes s from the list */
            continue;
        }
        if (!still_waiting(s)) {
            g_stream.waiting[i] = g_stream.waiting[--g_stream.n_waiting];
            continue;
        }
        if (first != INT64_MAX && time_add(first, window) < next) {
            next = time_add(first, window);
        }
        i++;
    }
    g_stream.next_due_us = next;
}

/*
 * After libnids took (or not) a data, FIN or RST segment of s sent by
 * dir: one it dropped although it was new is fed again; a hole the peer
 * acknowledged past, with bytes queued behind it, starts its wait (filled
 * at once when libnids' queue nears the size at which it throws all of it
 * away).
 */
static void after_segment(struct session *s, enum smtp_dir dir, const struct tcp_view *v,
                          const uint8_t *ip, size_t len)
{
    struct stream_glue *glue = session_glue(s);
    struct tcp_stream *a = glue->tcp;
    feed_again_if_dropped(s, dir, v, ip, len);
    if (a->user != s) {
        return; /* the segment ended the session */
    }
    struct half_stream *rcv = receiving_half(a, dir);
    uint32_t expected = expected_seq(a, dir);
    uint32_t first;
    if (!queued_after_hole(a, dir, &first)) {
        rcv->rmem_alloc = 0; /* see below */
        return;
    }
    bool fin = (v->flags & TCP_FLAG_FIN) != 0;
    if ((v->payload > 0 || fin) && seq_after(v->seq, expected) && waiting_add(s)) {
        struct waiting *w = waiting_of(s);
        add_mark(w->queued[dir], &w->n_queued[dir], v->seq + (uint32_t)v->payload, v->ack);
        w->queued[dir][w->n_queued[dir] - 1].fin = fin;
    }
    if (glue->hole_since_us[dir] == 0 && acked_hole(a, dir) > 0) {
        if (!waiting_add(s)) {
            fill_holes(s, false);
            return;
        }
        glue->hole_since_us[dir] = g_stream.now_us | 1;
        note_deadline();
    }
    /*
     * libnids throws the whole queue away past 64 KiB of it (a few TSO
     * segments, a window's worth on a fast link): its count is kept below
     * that, and the queue is bounded here instead, by the span from the
     * hole to the newest byte queued; past it the hole is given up.
     */
    uint32_t span = v->seq + (uint32_t)v->payload - expected;
    if (seq_after(v->seq + (uint32_t)v->payload, expected) && span > QUEUE_SPAN_MAX) {
        g_stream.stats.n_queue_span_exceeded++;
        fill_holes(s, true);
        return;
    }
    if (rcv->rmem_alloc > NIDS_QUEUE_SAFE) {
        rcv->rmem_alloc = 0;
    }
}

/* Whether an RST from dir of s follows bytes libnids has not given yet. */
static bool rst_early(struct session *s, enum smtp_dir dir, const struct tcp_view *v)
{
    struct tcp_stream *a = ((struct stream_glue *)session_glue(s))->tcp;
    enum smtp_dir peer = (enum smtp_dir)!dir;
    const struct half_stream *snd = sending_half(a, dir);
    uint32_t own_next = expected_seq(a, dir) +
                        (snd->state == NIDS_FIN_SENT || snd->state == NIDS_FIN_CONFIRMED ? 1 : 0);
    uint32_t own_gap = v->seq - own_next;
    uint32_t peer_gap = v->ack - offered_seq(a, peer);
    return (seq_after(v->seq, own_next) && own_gap <= HOLE_MAX) ||
           ((v->flags & TCP_FLAG_ACK) && seq_after(v->ack, offered_seq(a, peer)) &&
            peer_gap <= HOLE_MAX);
}

/* Keeps an early RST aside (see struct deferred); false if it is not
 * early or there is no room. */
static __attribute__((noinline, cold)) bool defer_rst(const struct tcp_view *v, const uint8_t *ip, size_t len)
{
    enum smtp_dir dir;
    struct session *s = session_of(v, &dir);
    if (s == NULL || g_stream.feeding_deferred || len > DEFERRED_BYTES ||
        g_stream.n_deferred == DEFERRED_MAX ||
        g_stream.cfg.reorder_window_us == 0 || !rst_early(s, dir, v)) {
        return false;
    }
    struct deferred *d = &g_stream.deferred[g_stream.n_deferred++];
    d->session = s;
    d->since_us = g_stream.now_us;
    d->len = len;
    memcpy(d->ip, ip, len);
    g_stream.stats.n_rst_deferred++;
    return true;
}

/*
 * Feeds the RSTs kept aside whose bytes have come, or whose wait is over
 * (all: every one of them; only: just those of that session).
 */
static __attribute__((noinline, cold)) void feed_deferred(const struct session *only, bool all)
{
    for (size_t i = 0; i < g_stream.n_deferred;) {
        struct deferred *d = &g_stream.deferred[i];
        struct tcp_view v;
        bool due = all || g_stream.now_us >= time_add(d->since_us, g_stream.cfg.reorder_window_us);
        enum smtp_dir dir;
        if ((only != NULL && d->session != only) || !view_tcp(d->ip, d->len, &v) ||
            session_of(&v, &dir) != d->session || (!due && rst_early(d->session, dir, &v))) {
            i++;
            continue;
        }
        uint8_t copy[DEFERRED_BYTES];
        size_t len = d->len;
        memcpy(copy, d->ip, len);
        *d = g_stream.deferred[--g_stream.n_deferred];
        int64_t now = g_stream.now_us;
        int64_t at = d->since_us;
        g_stream.feeding_deferred = true;
        stream_feed_ipv4(copy, len, at); /* at its own time, for the session's end */
        g_stream.feeding_deferred = false;
        g_stream.now_us = now;
        i = 0; /* the list may have changed */
    }
}

/*
 * A packet of a session that waits on a hole counts towards the packet
 * bound of its wait (cfg.reorder_packets): a segment a capture recorded
 * late comes within a few packets of its connection, so once that many
 * have passed with nothing released the hole is taken as lost, whatever
 * the time.  Only looked up while some session waits.
 */
static void count_waiting_packet(const uint8_t *ip, size_t len)
{
    struct tcp_view v;
    enum smtp_dir dir;
    if (!view_tcp(ip, len, &v)) {
        return;
    }
    struct session *s = session_of(&v, &dir);
    struct waiting *w = s != NULL ? waiting_of(s) : NULL;
    if (w == NULL) {
        return;
    }
    struct stream_glue *glue = session_glue(s);
    bool waits = (glue->held_back_us[0] | glue->held_back_us[1] | glue->hole_since_us[0] |
                  glue->hole_since_us[1]) != 0;
    /* The sender of this packet acknowledges the peer's FIN queued behind
     * the hole: the peer has sent all it will, and its receiver had it
     * all; the hole's bytes will not come any more. */
    enum smtp_dir peer = (enum smtp_dir)!dir;
    bool peer_done = false;
    for (uint8_t i = 0; (v.flags & TCP_FLAG_ACK) && i < w->n_queued[peer]; i++) {
        if (w->queued[peer][i].fin && seq_after(v.ack, w->queued[peer][i].end)) {
            peer_done = true;
        }
    }
    if (!waits) {
        w->packets = 0;
    } else if (peer_done || (g_stream.cfg.reorder_packets != 0 &&
                             ++w->packets > g_stream.cfg.reorder_packets)) {
        w->packets = 0;
        g_stream.next_due_us = INT64_MIN; /* give_up_due() looks at once */
        for (int d = 0; d < 2; d++) {
            if (glue->held_back_us[d] != 0) {
                glue->held_back_us[d] = 1;
            }
            if (glue->hole_since_us[d] != 0) {
                glue->hole_since_us[d] = 1;
            }
        }
    }
}

/* Before a packet: waits that are over end, RSTs kept aside go in. */
static __attribute__((noinline, cold)) void catch_up(const uint8_t *ip, size_t len)
{
    if (g_stream.feeding_deferred) {
        return;
    }
    if (g_stream.n_waiting > 0) {
        count_waiting_packet(ip, len);
        give_up_due();
    }
    if (g_stream.n_deferred > 0) {
        feed_deferred(NULL, false);
    }
}

/*
 * After libnids took a segment with FIN or RST, or a data segment it
 * delivered nothing for: out of order (queued behind a hole), dropped
 * (outside a stale window, or its ACK captured first), a retransmission,
 * or a connection with no session.  Only these need a lookup, which keeps
 * the common in-order path free of one.
 */
static __attribute__((noinline, cold)) void after_feed(const struct tcp_view *v, const uint8_t *ip, size_t len, bool flagged)
{
    enum smtp_dir dir;
    struct session *s = session_of(v, &dir);
    if (s != NULL) {
        after_segment(s, dir, v, ip, len);
    } else if (flagged) {
        return;
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
    g_stream.next_due_us = INT64_MAX;
    g_stream.cfg = *cfg;
    g_stream.ports = *cfg->ports;
    g_stream.table = table;
    g_stream.exit_reason = RECORD_END_END_OF_INPUT;
    g_stream.token_seed = 0xCBF29CE484222325ULL;
    key_tuple_hash();
    /* A burst of connections has as many handshakes in flight as streams
     * open at once: room for as many as the stream table holds, so that
     * none loses its SYN time to a full table below libnids' own bound. */
    size_t handshake_slots = (size_t)cfg->max_streams > FLOWTAB_SLOTS_DEFAULT
                                 ? (size_t)cfg->max_streams
                                 : FLOWTAB_SLOTS_DEFAULT;
    if (!flowtab_init(&g_stream.handshakes, handshake_slots) ||
        !flowtab_init(&g_stream.unattached, FLOWTAB_SLOTS_DEFAULT) ||
        !flowtab_init(&g_stream.resets, FLOWTAB_SLOTS_DEFAULT)) {
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
    if ((g_stream.n_waiting | g_stream.n_deferred) != 0) {
        catch_up(ip, len);
    }
    /* Most segments need only their flags and size here: the rest of the
     * view is read when a segment needs a look of its own. */
    bool is_tcp = view_tcp_flags(ip, len, &v, &th);
    bool flagged = is_tcp && (v.flags & (TCP_FLAG_SYN | TCP_FLAG_FIN | TCP_FLAG_RST));
    if (flagged) {
        view_fill(ip, th, &v);
        if ((v.flags & TCP_FLAG_RST) && defer_rst(&v, ip, len)) {
            return;
        }
        inspect_tcp(&v, true);
    }
    g_stream.hook_wanted = !is_tcp;
    g_stream.delivered_now = false;
    feed_raw(ip, len);
    g_stream.hook_wanted = false;
    if (flagged ? (v.flags & (TCP_FLAG_FIN | TCP_FLAG_RST)) != 0
                : is_tcp && v.payload > 0 && !g_stream.delivered_now) {
        if (!flagged) {
            view_fill(ip, th, &v);
        }
        after_feed(&v, ip, len, flagged);
    }
}

/* Feeds the TCP segment tcp[0..tcp_len) from src to dst (IPv4 addresses
 * or tokens) as IPv4 packets built here: one when it fits, else pieces
 * (packet_build.h).  False when the TCP header is not whole. */
static bool feed_segment(uint32_t src, uint32_t dst, const uint8_t *tcp, size_t tcp_len,
                         int64_t now_us)
{
    struct packet_cut cut;
    if (!packet_cut_start(&cut, src, dst, tcp, tcp_len, g_stream.cfg.verify_checksums)) {
        return false;
    }
    size_t len;
    while ((len = packet_cut_next(&cut, g_stream.translated)) > 0) {
        stream_feed_ipv4(g_stream.translated, len, now_us);
    }
    return true;
}

/* The session of a segment fed as pieces learns that its capture holds
 * offloaded segments. */
static void note_offload(uint32_t src, uint32_t dst, const uint8_t *tcp)
{
    struct tcp_view v = {.src = src, .dst = dst};
    v.sport = be16_at(tcp);
    v.dport = be16_at(tcp + 2);
    enum smtp_dir dir;
    struct session *s = session_of(&v, &dir);
    if (s != NULL) {
        session_note_offload(s);
    }
}

void stream_feed_ipv4_offload(const uint8_t *ip, size_t len, int64_t now_us)
{
    size_t hl = (size_t)(ip[0] & 0x0F) * 4;
    uint32_t src;
    uint32_t dst;
    g_stream.stats.n_offload_segments++;
    if (len < 20 || hl < 20 || len < hl + 20) {
        return;
    }
    memcpy(&src, ip + 12, 4);
    memcpy(&dst, ip + 16, 4);
    if (feed_segment(src, dst, ip + hl, len - hl, now_us)) {
        note_offload(src, dst, ip + hl);
    }
}

void stream_feed_ipv6(const uint8_t *ip6, const uint8_t *tcp, size_t tcp_len, int64_t now_us,
                      bool is_offload)
{
    const uint8_t *src = ip6 + 8;
    const uint8_t *dst = ip6 + 24;
    if (g_stream.cfg.verify_checksums && !is_offload &&
        tcp_checksum(src, dst, 16, tcp, tcp_len) != 0) {
        g_stream.stats.warnings[NIDS_WARN_TCP_HDR]++;
        return;
    }
    g_stream.cur_v6[0] = src;
    g_stream.cur_v6[1] = dst;
    g_stream.cur_token[0] = packet_v6_token(g_stream.token_seed, src);
    g_stream.cur_token[1] = packet_v6_token(g_stream.token_seed, dst);
    if (is_offload) {
        g_stream.stats.n_offload_segments++;
    }
    if (feed_segment(g_stream.cur_token[0], g_stream.cur_token[1], tcp, tcp_len, now_us)) {
        if (is_offload) {
            note_offload(g_stream.cur_token[0], g_stream.cur_token[1], tcp);
        }
    } else {
        g_stream.stats.warnings[NIDS_WARN_TCP_HDR]++;
    }
    g_stream.cur_v6[0] = g_stream.cur_v6[1] = NULL;
    g_stream.stats.n_ipv6_packets++;
}

void stream_tick(int64_t now_us)
{
    if (now_us <= g_stream.now_us) {
        return;
    }
    /* What feeding a packet at now_us would do before the packet itself. */
    g_stream.now_us = now_us;
    sweep_idle();
    if (g_stream.n_waiting > 0) {
        give_up_due();
    }
    if (g_stream.n_deferred > 0) {
        feed_deferred(NULL, false);
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
    flowtab_free(&g_stream.resets);
}

void stream_get_stats(struct stream_stats *out)
{
    *out = g_stream.stats;
}
