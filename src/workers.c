/*
 * workers.c - the pipeline on N processes, this one reading and writing.
 *
 * This process reads and classifies every packet (pipeline_classify) and
 * analyses the connections whose flow hash falls in its own share; the
 * others go to N - 1 forked workers, through a shared-memory byte ring
 * each (one writer, one reader, indices published with release stores
 * every few entries, a futex only when a side has to sleep): no system
 * call and no allocation per packet.  Reading, classifying, copying into
 * the rings and writing cost this process more than half of what a
 * worker's analysis costs, so its own share is 2/5 of a worker's: with
 * two processes on two cores, neither waits long for the other.  (A
 * reader of its own beside N workers ran three processes on two cores and
 * was slower, and handing workers pointers into the mapped file instead
 * of copies made each of them fault the file's pages in again: both
 * measured in docs/performance.md.)
 *
 * Live (workers_open_live), each process captures its own share from a
 * socket of one AF_PACKET fanout group: no ring, and records are merged
 * as they come.
 *
 * Each entry carries its sequence number among all packets analysed and
 * the stream clock before it (the time of the last packet analysed by
 * anyone), so that a worker first lets that time pass (idle sessions end,
 * waits are given up) as one process would have between its own packets.
 *
 * Workers send events back through a pipe each, gathered and written a
 * batch at a time: a session opened (its local id, at which entry), a
 * record finished (packed, at which entry), and at the end their
 * counters.  This process queues its own events the same way.  The merge
 * takes events in the order of the entries they came from, once no
 * process can still send one from an earlier entry (each one's lower
 * bound: the entry it is on, or the next the reader will write when it
 * has consumed all).  Ids are given in the order sessions opened; records
 * wait in the same order heap, with the same window, as in one process.
 * At the end of input every process ends its open sessions; those records
 * are taken in id order, as one process ends them.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* F_SETPIPE_SZ, sched_getaffinity */
#endif
#include "workers.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "order_heap.h"
#include "smtp_limits.h"
#include "smtpscope.h"
#include "stream_nids.h"

/* Small enough to stay in the caches between the reader writing a packet
 * and its worker reading it: a larger ring streams through memory, and
 * the copy into it became the reader's largest cost. */
#define RING_BYTES (1u << 20)
#define PUBLISH_EVERY 16      /* entries between the reader's publications */
#define DONE_EVERY 128        /* entries between a worker's (its events written first) */
#define MERGE_EVERY 4096      /* packets between looks at the workers' events */
#define PIPE_BYTES (1 << 20)
#define EVENTS_BATCH (256u << 10)
/* Fragments whose first piece (the one with ports) has not come yet. */
#define FRAG_ROUTES 256
#define FRAG_HELD_MAX 64
#define FRAG_HELD_BYTES (1u << 20)

/* ---- the ring ---------------------------------------------------------------- */

struct ring {
    _Atomic uint64_t head; /* bytes written and published by the reader */
    char pad1[56];
    _Atomic uint64_t tail; /* bytes the worker is done with */
    char pad2[56];
    _Atomic uint32_t worker_sleeping;
    _Atomic uint32_t worker_wake;
    _Atomic uint32_t reader_waiting;
    _Atomic uint32_t reader_wake;
    char pad3[48];
    uint8_t data[RING_BYTES];
};

enum entry_type { ENTRY_PACKET = 1, ENTRY_PAD, ENTRY_END };

struct entry {
    uint32_t size;       /* whole entry, a multiple of 8 */
    uint8_t type;        /* enum entry_type */
    uint8_t feed;        /* enum pipeline_feed */
    uint8_t is_offload;
    union {
        uint8_t end_reason; /* ENTRY_END: enum record_end */
        uint8_t input;      /* ENTRY_PACKET: the capture file it came from */
    };
    uint32_t len;        /* IP bytes that follow */
    uint32_t l4_off;     /* IPv6: where the TCP segment starts in them */
    uint64_t seq;        /* the packet's place among all packets analysed */
    int64_t now_us;
    int64_t before_us;   /* the stream clock before this packet */
};

/* reserve() may need a packet's size plus the padding before it; every
 * reader cuts packets to CAPTURE_SNAPLEN (pcapfile.h, pcapng.h, live). */
_Static_assert(RING_BYTES >= 2 * (sizeof(struct entry) + CAPTURE_SNAPLEN + 8),
               "the ring must hold the largest packet after the largest padding");

static long futex(_Atomic uint32_t *addr, int op, uint32_t val, const struct timespec *timeout)
{
    return syscall(SYS_futex, (uint32_t *)addr, op, val, timeout, NULL, 0);
}

/* ---- events, worker to writer -------------------------------------------- */

enum event_type { EVENT_OPEN = 1, EVENT_RECORD, EVENT_DONE, EVENT_FAIL, EVENT_PROGRESS };

/* Live: a worker's own count of what its socket saw, every second. */
struct progress {
    uint64_t packets;
    uint64_t dropped;
    uint64_t if_dropped;
    uint64_t bytes;
};

/* Live: how this process tells a worker to end (it ignores SIGINT). */
struct live_ctl {
    _Atomic int stop;
    _Atomic int reason; /* enum record_end */
};

struct event_head {
    uint32_t size;  /* whole event, a multiple of 8 */
    uint8_t type;
    uint8_t pad[3];
    uint64_t seq;   /* the entry during which it happened */
    uint64_t local_id;
};

/* An event waiting for its turn in the merge. */
struct pending {
    uint64_t seq;
    uint64_t local_id;
    uint8_t type;
    uint8_t *body; /* EVENT_RECORD: a record block (record_block) */
};

struct worker {
    pid_t pid;              /* 0 for this process (w[0]) */
    struct ring *ring;
    int events_fd;          /* read end of its pipe */
    uint64_t head;          /* bytes written, published or not */
    uint64_t published;
    unsigned unpublished;   /* entries since the last publication */
    /* Events read but not merged, a growable queue. */
    struct pending *queue;
    size_t q_first;
    size_t q_len;
    size_t q_cap;
    uint8_t *inbuf;         /* bytes read from the pipe, not yet whole events */
    size_t in_len;
    size_t in_cap;
    uint64_t *gid_of;       /* public id of each local id (1-based) */
    size_t gid_cap;
    uint64_t opened;        /* sessions it has reported open */
    uint64_t finished;
    bool done;              /* its counters came */
    bool dead;              /* ended without them */
    struct run_input input; /* its counters */
    struct progress progress; /* live: the last it sent */
    char why[200];
};

struct frag_route {
    uint8_t key[10];        /* source, destination, IP id */
    bool used;
    uint16_t worker;
};

struct frag_held {
    uint8_t key[10];
    uint32_t len;
    int64_t now_us;
    uint8_t *ip;
    uint8_t input;
};

struct workers {
    bool live;              /* each process captures its own fanout share */
    struct live_ctl *ctl;   /* live: one per process, shared */
    unsigned n;             /* analysing processes, this one included */
    struct worker *w;       /* w[0] is this process */
    struct pipeline pipe;   /* this process's: classifies all, analyses share 0 */
    struct pipeline_config cfg;
    uint64_t own_share;     /* of 2^32: flows analysed here */
    uint64_t seq;           /* the next entry's */
    uint64_t cur_seq;       /* the entry being analysed here */
    uint64_t announced;     /* local ids of this process reported open */
    int64_t clock_us;       /* time of the last packet analysed by anyone */
    uint64_t since_merge;
    /* The merge. */
    uint64_t next_gid;
    uint8_t *open;          /* by public id: still open */
    size_t open_cap;
    uint64_t min_open;      /* least public id that may be open */
    struct order_item *heap;
    size_t n_heap;
    struct run_input total;
    uint64_t n_out_of_order;
    uint64_t n_lost_packets;  /* for a worker that had died */
    struct frag_route routes[FRAG_ROUTES];
    struct frag_held held[FRAG_HELD_MAX];
    size_t n_held;
    size_t held_bytes;
    bool failed;
    char err[512];
};

unsigned workers_auto_count(void)
{
    cpu_set_t cpus;
    if (sched_getaffinity(0, sizeof(cpus), &cpus) != 0) {
        return 1;
    }
    int n = CPU_COUNT(&cpus);
    return n < 1 ? 1 : (unsigned)n;
}

/* ---- the worker process -------------------------------------------------- */

struct worker_side {
    struct ring *ring;
    int fd;
    struct pipeline pipe;
    uint64_t seq;          /* of the entry being processed */
    uint64_t announced;    /* local ids reported open */
    uint8_t *out;          /* events not yet written */
    size_t out_len;
    size_t out_cap;
    bool write_failed;
};

/* Writes the events gathered; before the entries they came from are
 * published as done (the merge counts on it). */
static void flush_events(struct worker_side *ws)
{
    const uint8_t *b = ws->out;
    size_t n = ws->out_len;
    while (n > 0 && !ws->write_failed) {
        ssize_t k = write(ws->fd, b, n);
        if (k < 0 && errno == EINTR) {
            continue;
        }
        if (k <= 0) {
            ws->write_failed = true; /* the writer is gone: nothing to tell */
            break;
        }
        b += k;
        n -= (size_t)k;
    }
    ws->out_len = 0;
}

static void send_event(struct worker_side *ws, uint8_t type, uint64_t local_id,
                       const void *body, size_t len)
{
    struct event_head h = {0};
    size_t padded = (len + 7) & ~(size_t)7;
    h.size = (uint32_t)(sizeof(h) + padded);
    h.type = type;
    h.seq = ws->seq;
    h.local_id = local_id;
    if (ws->out_len + h.size > ws->out_cap) {
        flush_events(ws);
        if (h.size > ws->out_cap) {
            size_t cap = ws->out_cap ? ws->out_cap : 1;
            while (cap < h.size) {
                cap *= 2;
            }
            uint8_t *b = realloc(ws->out, cap);
            if (b == NULL) {
                _exit(1); /* reported by the writer: the worker ended early */
            }
            ws->out = b;
            ws->out_cap = cap;
        }
    }
    uint8_t *d = ws->out + ws->out_len;
    memcpy(d, &h, sizeof(h));
    if (len > 0) {
        memcpy(d + sizeof(h), body, len);
    }
    memset(d + sizeof(h) + len, 0, padded - len);
    ws->out_len += h.size;
}

/* Sessions opened since the last announcement, in id order. */
static void announce_opened(struct worker_side *ws)
{
    uint64_t opened = pipeline_sessions_opened(&ws->pipe);
    while (ws->announced < opened) {
        ws->announced++;
        send_event(ws, EVENT_OPEN, ws->announced, NULL, 0);
    }
}

static void worker_sink(void *ctx, const struct session_record *r)
{
    struct worker_side *ws = ctx;
    announce_opened(ws); /* a session may open and end in one packet */
    static uint8_t *buf;
    static size_t cap;
    size_t need = record_packed_size(r);
    if (need > cap) {
        uint8_t *b = realloc(buf, need);
        if (b == NULL) {
            send_event(ws, EVENT_FAIL, r->id, "out of memory for a record", 26);
            flush_events(ws);
            _exit(1);
        }
        buf = b;
        cap = need;
    }
    record_pack(r, buf);
    send_event(ws, EVENT_RECORD, r->id, buf, need);
}

/* A worker's own pipeline, its records to fd; exits if it cannot start. */
static void worker_start(struct worker_side *ws, int fd, const struct pipeline_config *cfg)
{
    ws->fd = fd;
    struct pipeline_config wcfg = *cfg;
    wcfg.sink = (struct session_sink){worker_sink, ws};
    wcfg.order_window = 0; /* the writer keeps the order */
    wcfg.discover_ports = false;
    char err[256];
    ws->out_cap = EVENTS_BATCH;
    ws->out = malloc(ws->out_cap);
    if (ws->out == NULL) {
        _exit(1);
    }
    if (pipeline_open(&ws->pipe, &wcfg, err, sizeof(err)) != SMTPSCOPE_OK) {
        send_event(ws, EVENT_FAIL, 0, err, strlen(err));
        flush_events(ws);
        _exit(1);
    }
}

static void worker_wait_for_entries(struct ring *ring, uint64_t tail)
{
    for (int spin = 0; spin < 200; spin++) {
        if (atomic_load_explicit(&ring->head, memory_order_acquire) != tail) {
            return;
        }
        __builtin_ia32_pause();
    }
    uint32_t wake = atomic_load(&ring->worker_wake);
    atomic_store(&ring->worker_sleeping, 1);
    if (atomic_load(&ring->head) == tail) {
        futex(&ring->worker_wake, FUTEX_WAIT, wake, NULL);
    }
    atomic_store(&ring->worker_sleeping, 0);
}

static void worker_publish_tail(struct worker_side *ws, uint64_t tail)
{
    struct ring *ring = ws->ring;
    flush_events(ws);
    atomic_store(&ring->tail, tail);
    if (atomic_load(&ring->reader_waiting)) {
        atomic_store(&ring->reader_waiting, 0);
        atomic_fetch_add(&ring->reader_wake, 1);
        futex(&ring->reader_wake, FUTEX_WAKE, 1, NULL);
    }
}

/* The entry after the one at pos (PADs skipped), or NULL past head. */
static const struct entry *entry_after(const struct ring *ring, uint64_t *pos, uint64_t head)
{
    while (*pos != head) {
        const struct entry *e = (const struct entry *)(ring->data + *pos % RING_BYTES);
        *pos += e->size;
        if (e->type != ENTRY_PAD) {
            return e;
        }
    }
    return NULL;
}

/* As one process looks two packets ahead in its file (pipeline_hint): the
 * second entry after the one about to be fed, if the reader has written it. */
static void look_ahead(const struct ring *ring, uint64_t next, uint64_t head)
{
    const struct entry *e = entry_after(ring, &next, head);
    if (e != NULL) {
        e = entry_after(ring, &next, head);
    }
    if (e != NULL && e->type == ENTRY_PACKET && e->feed == PIPELINE_IPV4) {
        stream_prefetch_ipv4((const uint8_t *)(e + 1), e->len);
    } else {
        stream_prefetch_ipv4(NULL, 0);
    }
}

static __attribute__((noreturn)) void worker_main(struct ring *ring, int fd,
                                                  const struct pipeline_config *cfg)
{
    static struct worker_side ws;
    ws.ring = ring;
    worker_start(&ws, fd, cfg);
    uint64_t tail = atomic_load(&ring->tail);
    uint64_t head = tail;
    unsigned since_publish = 0;
    for (;;) {
        if (tail == head) {
            if (since_publish > 0) {
                worker_publish_tail(&ws, tail);
                since_publish = 0;
            }
            head = atomic_load_explicit(&ring->head, memory_order_acquire);
            if (tail == head) {
                worker_wait_for_entries(ring, tail);
                head = atomic_load_explicit(&ring->head, memory_order_acquire);
                continue;
            }
        }
        const struct entry *e = (const struct entry *)(ring->data + tail % RING_BYTES);
        if (e->type == ENTRY_PAD) {
            tail += e->size;
            continue;
        }
        ws.seq = e->seq;
        if (e->type == ENTRY_END) {
            ws.pipe.input.last_us = e->now_us;
            pipeline_finish(&ws.pipe, (enum record_end)e->end_reason);
            announce_opened(&ws);
            struct run_input in = ws.pipe.input;
            in.source = NULL;
            in.linktype_name = NULL;
            in.error = NULL;
            send_event(&ws, EVENT_DONE, 0, &in, sizeof(in));
            worker_publish_tail(&ws, tail + e->size);
            _exit(ws.write_failed ? 1 : 0);
        }
        if (e->before_us > ws.pipe.input.last_us) {
            pipeline_tick(&ws.pipe, e->before_us);
        }
        struct pipeline_item it;
        memset(&it, 0, sizeof(it));
        const uint8_t *ip = (const uint8_t *)(e + 1);
        it.feed = (enum pipeline_feed)e->feed;
        it.now_us = e->now_us;
        it.d.ip = ip;
        it.d.ip_len = e->len;
        it.d.l4 = ip + e->l4_off;
        it.d.l4_len = e->len - e->l4_off;
        it.d.is_offload = e->is_offload;
        it.input = e->input;
        if (ws.pipe.input.first_us < 0) {
            ws.pipe.input.first_us = e->now_us;
        }
        if (pipeline_wants_hints(&ws.pipe)) {
            look_ahead(ring, tail + e->size, head);
        }
        ws.pipe.input.last_us = e->now_us;
        pipeline_feed(&ws.pipe, &it);
        if (pipeline_sessions_opened(&ws.pipe) != ws.announced) {
            announce_opened(&ws);
        }
        tail += e->size;
        if (++since_publish == DONE_EVERY) {
            worker_publish_tail(&ws, tail);
            since_publish = 0;
        }
    }
}

/* ---- a live worker ------------------------------------------------------- */

/* SIGUSR2 only interrupts the worker's poll: the stop is in its live_ctl. */
static void on_nudge(int sig)
{
    (void)sig;
}

static int64_t wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* What a live worker does between packets: the clock, its records out,
 * and once a second its counts. */
static void live_housekeeping(struct worker_side *ws, struct capture *cap, int64_t *next_progress)
{
    int64_t now = wall_us();
    pipeline_tick(&ws->pipe, now);
    announce_opened(ws);
    if (now >= *next_progress) {
        *next_progress = now + 1000000;
        struct progress pr = {ws->pipe.input.n_packets, 0, 0, ws->pipe.input.n_bytes};
        capture_drops(cap, &pr.dropped, &pr.if_dropped);
        send_event(ws, EVENT_PROGRESS, 0, &pr, sizeof(pr));
    }
    flush_events(ws);
}

/* A worker of a live capture: its own socket of the fanout group, its
 * own pipeline, records sent as they end. */
static __attribute__((noreturn)) void worker_live_main(struct capture *cap, struct live_ctl *ctl,
                                                       int fd, const struct pipeline_config *cfg)
{
    static struct worker_side ws;
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_nudge; /* no SA_RESTART: poll returns at once */
    sigaction(SIGUSR2, &sa, NULL);
    char err[256];
    worker_start(&ws, fd, cfg);
    int64_t next_progress = 0;
    unsigned since = 0;
    while (!atomic_load(&ctl->stop)) {
        struct capture_packet pkt = {0};
        int rc = capture_next(cap, &pkt, err, sizeof(err));
        if (rc == 1) {
            pipeline_packet(&ws.pipe, &pkt);
            if (++since == 256) {
                since = 0;
                live_housekeeping(&ws, cap, &next_progress);
            }
            continue;
        }
        if (rc != 2) {
            send_event(&ws, EVENT_FAIL, 0, err, strlen(err));
            flush_events(&ws);
            _exit(1);
        }
        struct pollfd pfd = {capture_fd(cap), POLLIN, 0};
        poll(&pfd, 1, 200);
        live_housekeeping(&ws, cap, &next_progress);
    }
    pipeline_finish(&ws.pipe, (enum record_end)atomic_load(&ctl->reason));
    announce_opened(&ws);
    struct run_input in = ws.pipe.input;
    in.source = NULL;
    in.linktype_name = NULL;
    in.error = NULL;
    capture_drops(cap, &in.n_dropped, &in.n_if_dropped);
    send_event(&ws, EVENT_DONE, 0, &in, sizeof(in));
    flush_events(&ws);
    _exit(ws.write_failed ? 1 : 0);
}

/* ---- the merge ----------------------------------------------------------- */

static bool grow(void **p, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap) {
        return true;
    }
    size_t c = *cap ? *cap : 64;
    while (c < need) {
        c *= 2;
    }
    void *q = realloc(*p, c * size);
    if (q == NULL) {
        return false;
    }
    memset((uint8_t *)q + *cap * size, 0, (c - *cap) * size);
    *p = q;
    *cap = c;
    return true;
}

static void fail(struct workers *ws, const char *what)
{
    if (!ws->failed) {
        ws->failed = true;
        snprintf(ws->err, sizeof(ws->err), "%s", what);
    }
}

/* A record block: its length in the first 8 bytes, the packed record after. */
static void emit(struct workers *ws, uint8_t *block, uint64_t gid)
{
    size_t len;
    memcpy(&len, block, sizeof(len));
    struct session_record r;
    if (!record_unpack(block + 8, len, &r)) {
        fail(ws, "a worker sent a damaged record");
        free(block);
        return;
    }
    r.id = gid;
    ws->cfg.sink.emit(ws->cfg.sink.ctx, &r);
    free(block);
}

static void advance_min_open(struct workers *ws)
{
    while (ws->min_open < ws->next_gid && !ws->open[ws->min_open]) {
        ws->min_open++;
    }
}

/* The record of public id gid has finished: session_table's order. */
static void take_record(struct workers *ws, uint8_t *block, uint64_t gid)
{
    ws->open[gid] = 0;
    advance_min_open(ws);
    if (ws->cfg.order_window == 0) {
        emit(ws, block, gid);
        return;
    }
    order_heap_push(ws->heap, &ws->n_heap, gid, block);
    while (ws->n_heap > 0 && (ws->min_open >= ws->next_gid || ws->heap[0].id < ws->min_open)) {
        uint64_t id = ws->heap[0].id;
        emit(ws, order_heap_pop(ws->heap, &ws->n_heap), id);
    }
    if (ws->n_heap > ws->cfg.order_window) {
        /* Window full: the oldest waiting record goes out early. */
        uint64_t id = ws->heap[0].id;
        emit(ws, order_heap_pop(ws->heap, &ws->n_heap), id);
        ws->n_out_of_order++;
    }
}

static void take_event(struct workers *ws, struct worker *w, struct pending *p)
{
    if (p->type == EVENT_OPEN) {
        uint64_t gid = ++ws->next_gid - 1;
        if (!grow((void **)&w->gid_of, &w->gid_cap, p->local_id + 1, sizeof(uint64_t)) ||
            !grow((void **)&ws->open, &ws->open_cap, gid + 1, 1)) {
            fail(ws, "out of memory merging the workers' records");
            return;
        }
        w->gid_of[p->local_id] = gid;
        ws->open[gid] = 1;
        w->opened++;
        return;
    }
    if (p->type == EVENT_RECORD) {
        uint64_t gid = p->local_id < w->gid_cap ? w->gid_of[p->local_id] : 0;
        if (gid == 0) {
            fail(ws, "a worker sent a record of a session it never opened");
            free(p->body);
            return;
        }
        w->finished++;
        take_record(ws, p->body, gid);
    }
}

/* A place at the end of w's queue, or NULL without memory. */
static struct pending *queue_push(struct workers *ws, struct worker *w)
{
    if (!grow((void **)&w->queue, &w->q_cap, w->q_first + w->q_len + 1, sizeof(*w->queue))) {
        fail(ws, "out of memory merging the workers' records");
        return NULL;
    }
    struct pending *p = &w->queue[w->q_first + w->q_len++];
    memset(p, 0, sizeof(*p));
    return p;
}

/* A record block: the length, then the packed record (8-byte aligned). */
static uint8_t *record_block(const void *packed, size_t len)
{
    uint8_t *b = malloc(len + 8);
    if (b != NULL) {
        memcpy(b, &len, sizeof(len));
        memcpy(b + 8, packed, len);
    }
    return b;
}

/* Whole events out of w's input bytes into its queue. */
static void parse_events(struct workers *ws, struct worker *w)
{
    size_t off = 0;
    while (w->in_len - off >= sizeof(struct event_head)) {
        struct event_head h;
        memcpy(&h, w->inbuf + off, sizeof(h));
        if (h.size < sizeof(h) || (h.size & 7) != 0) {
            fail(ws, "a worker sent a damaged event");
            w->dead = true;
            break;
        }
        if (w->in_len - off < h.size) {
            break;
        }
        const uint8_t *body = w->inbuf + off + sizeof(h);
        size_t len = h.size - sizeof(h);
        if (h.type == EVENT_DONE) {
            memcpy(&w->input, body, len < sizeof(w->input) ? len : sizeof(w->input));
            w->done = true;
        } else if (h.type == EVENT_PROGRESS) {
            memcpy(&w->progress, body, len < sizeof(w->progress) ? len : sizeof(w->progress));
        } else if (h.type == EVENT_FAIL) {
            snprintf(w->why, sizeof(w->why), "%.*s", (int)strnlen((const char *)body, len),
                     (const char *)body);
        } else {
            struct pending *p = queue_push(ws, w);
            if (p != NULL) {
                p->seq = h.seq;
                p->local_id = h.local_id;
                p->type = h.type;
                if (h.type == EVENT_RECORD && (p->body = record_block(body, len)) == NULL) {
                    fail(ws, "out of memory merging the workers' records");
                    w->q_len--;
                }
            }
        }
        off += h.size;
    }
    memmove(w->inbuf, w->inbuf + off, w->in_len - off);
    w->in_len -= off;
}

/* Reads what w has sent; false once its pipe is closed. */
static bool read_events(struct workers *ws, struct worker *w)
{
    for (;;) {
        if (!grow((void **)&w->inbuf, &w->in_cap, w->in_len + 65536, 1)) {
            fail(ws, "out of memory merging the workers' records");
            return false;
        }
        ssize_t k = read(w->events_fd, w->inbuf + w->in_len, w->in_cap - w->in_len);
        if (k > 0) {
            w->in_len += (size_t)k;
            continue;
        }
        if (k < 0 && errno == EINTR) {
            continue;
        }
        parse_events(ws, w);
        return !(k == 0);
    }
}

/* The least entry w may still send events from. */
static uint64_t lower_bound(const struct workers *ws, const struct worker *w)
{
    if (ws->live) {
        return UINT64_MAX; /* events are taken as they come */
    }
    if (w == &ws->w[0]) {
        return ws->seq; /* this process's events are queued as they happen */
    }
    if (w->dead || w->done) {
        return UINT64_MAX;
    }
    uint64_t tail = atomic_load_explicit(&w->ring->tail, memory_order_acquire);
    if (tail == w->head) {
        return ws->seq;
    }
    const struct entry *e = (const struct entry *)(w->ring->data + tail % RING_BYTES);
    while (e->type == ENTRY_PAD && tail != w->head) {
        tail += e->size;
        e = (const struct entry *)(w->ring->data + tail % RING_BYTES);
    }
    return tail == w->head ? ws->seq : e->seq;
}

static void reap(struct workers *ws, struct worker *w);

/* Takes every event from before frontier, in entry order. */
static void merge_before(struct workers *ws, uint64_t frontier)
{
    for (;;) {
        struct worker *best = NULL;
        for (unsigned i = 0; i < ws->n; i++) {
            struct worker *w = &ws->w[i];
            if (w->q_len > 0 && w->queue[w->q_first].seq < frontier &&
                (best == NULL || w->queue[w->q_first].seq < best->queue[best->q_first].seq)) {
                best = w;
            }
        }
        if (best == NULL) {
            return;
        }
        struct pending p = best->queue[best->q_first++];
        if (--best->q_len == 0) {
            best->q_first = 0;
        }
        take_event(ws, best, &p);
    }
}

static void collect(struct workers *ws)
{
    uint64_t frontier = UINT64_MAX;
    for (unsigned i = 0; i < ws->n; i++) {
        uint64_t lb = lower_bound(ws, &ws->w[i]);
        if (lb < frontier) {
            frontier = lb;
        }
    }
    for (unsigned i = 1; i < ws->n; i++) {
        struct worker *w = &ws->w[i];
        if (!w->dead && !read_events(ws, w) && !w->done) {
            reap(ws, w);
        }
    }
    merge_before(ws, frontier);
}

/* ---- a worker's end ---------------------------------------------------- */

static void reap(struct workers *ws, struct worker *w)
{
    int status = 0;
    w->dead = true;
    if (w->pid > 0 && waitpid(w->pid, &status, 0) == w->pid) {
        w->pid = 0;
    }
    char why[320];
    if (w->why[0] != '\0') {
        snprintf(why, sizeof(why), "%s", w->why);
    } else if (WIFSIGNALED(status)) {
        snprintf(why, sizeof(why), "killed by signal %d (%s)", WTERMSIG(status),
                 strsignal(WTERMSIG(status)));
    } else {
        snprintf(why, sizeof(why), "exit status %d", WEXITSTATUS(status));
    }
    char text[480];
    snprintf(text, sizeof(text), "worker %u ended before the end of input (%.300s); ",
             (unsigned)(w - ws->w) + 1, why);
    size_t used = strlen(text);
    snprintf(text + used, sizeof(text) - used, "%llu of its sessions were open and are lost",
             (unsigned long long)(w->opened - w->finished));
    fail(ws, text);
}

/* ---- this process's own share ------------------------------------------- */

/* Sessions this process opened since the last announcement, in id order. */
static void local_announce(struct workers *ws)
{
    uint64_t opened = pipeline_sessions_opened(&ws->pipe);
    while (ws->announced < opened) {
        struct pending *p = queue_push(ws, &ws->w[0]);
        if (p == NULL) {
            return;
        }
        p->seq = ws->cur_seq;
        p->local_id = ++ws->announced;
        p->type = EVENT_OPEN;
    }
}

/* The sink of this process's pipeline: its records queue like a worker's. */
static void local_sink(void *ctx, const struct session_record *r)
{
    struct workers *ws = ctx;
    local_announce(ws); /* a session may open and end in one packet */
    size_t len = record_packed_size(r);
    uint8_t *b = malloc(len + 8);
    struct pending *p = b != NULL ? queue_push(ws, &ws->w[0]) : NULL;
    if (p == NULL) {
        free(b);
        fail(ws, "out of memory merging the workers' records");
        return;
    }
    memcpy(b, &len, sizeof(len));
    record_pack(r, b + 8);
    p->seq = ws->cur_seq;
    p->local_id = r->id;
    p->type = EVENT_RECORD;
    p->body = b;
}

/* Analyses a packet here, after letting the time before it pass. */
static void analyse_here(struct workers *ws, const struct pipeline_item *it)
{
    ws->cur_seq = ws->seq++;
    pipeline_tick(&ws->pipe, ws->clock_us);
    pipeline_feed(&ws->pipe, it);
    if (pipeline_sessions_opened(&ws->pipe) != ws->announced) {
        local_announce(ws);
    }
}

/* ---- the reader's side ---------------------------------------------------- */

static void publish(struct worker *w)
{
    if (w->published == w->head) {
        return;
    }
    atomic_store(&w->ring->head, w->head);
    w->published = w->head;
    w->unpublished = 0;
    if (atomic_load(&w->ring->worker_sleeping)) {
        atomic_store(&w->ring->worker_sleeping, 0);
        atomic_fetch_add(&w->ring->worker_wake, 1);
        futex(&w->ring->worker_wake, FUTEX_WAKE, 1, NULL);
    }
}

/* Room for size contiguous bytes in w's ring, waiting (and merging) while
 * the worker makes it; NULL if the worker has died. */
static struct entry *reserve(struct workers *ws, struct worker *w, size_t size)
{
    for (;;) {
        if (w->dead) {
            return NULL;
        }
        uint64_t tail = atomic_load_explicit(&w->ring->tail, memory_order_acquire);
        size_t at = (size_t)(w->head % RING_BYTES);
        size_t to_end = RING_BYTES - at;
        size_t need = size <= to_end ? size : to_end + size;
        if (RING_BYTES - (w->head - tail) >= need) {
            if (size > to_end) {
                struct entry *pad = (struct entry *)(w->ring->data + at);
                pad->type = ENTRY_PAD;
                pad->size = (uint32_t)to_end;
                w->head += to_end;
            }
            return (struct entry *)(w->ring->data + w->head % RING_BYTES);
        }
        publish(w);
        collect(ws);
        uint32_t wake = atomic_load(&w->ring->reader_wake);
        atomic_store(&w->ring->reader_waiting, 1);
        tail = atomic_load(&w->ring->tail);
        if (RING_BYTES - (w->head - tail) < need) {
            struct timespec ts = {0, 1000000}; /* and read the events again */
            futex(&w->ring->reader_wake, FUTEX_WAIT, wake, &ts);
        }
        atomic_store(&w->ring->reader_waiting, 0);
    }
}

static void commit(struct worker *w, struct entry *e)
{
    w->head += e->size;
    if (++w->unpublished == PUBLISH_EVERY) {
        publish(w);
    }
}

/* Analyses an IP packet in process k: here, or a copy into k's ring. */
static void dispatch(struct workers *ws, unsigned k, const struct pipeline_item *it)
{
    if (k == 0) {
        analyse_here(ws, it);
    } else {
        const uint8_t *ip = it->d.ip;
        size_t l4_off = it->feed == PIPELINE_IPV6 ? (size_t)(it->d.l4 - ip) : 0;
        size_t len = it->feed == PIPELINE_IPV6 ? l4_off + it->d.l4_len : it->d.ip_len;
        struct worker *w = &ws->w[k];
        size_t size = (sizeof(struct entry) + len + 7) & ~(size_t)7;
        struct entry *e = reserve(ws, w, size);
        if (e == NULL) {
            ws->n_lost_packets++;
        } else {
            e->size = (uint32_t)size;
            e->type = ENTRY_PACKET;
            e->feed = (uint8_t)it->feed;
            e->is_offload = it->d.is_offload;
            e->input = it->input;
            e->len = (uint32_t)len;
            e->l4_off = (uint32_t)l4_off;
            e->seq = ws->seq++;
            e->now_us = it->now_us;
            e->before_us = ws->clock_us;
            memcpy(e + 1, ip, len);
            commit(w, e);
        }
    }
    if (it->now_us > ws->clock_us) {
        ws->clock_us = it->now_us;
    }
}

/* The process a flow hash belongs to: this one for the first own_share of
 * the hash space, the others evenly after it. */
static unsigned process_of(const struct workers *ws, uint64_t hash)
{
    uint64_t x = hash >> 32;
    if (x < ws->own_share) {
        return 0;
    }
    return 1 + (unsigned)(((x - ws->own_share) * (uint64_t)(ws->n - 1)) /
                          ((1ULL << 32) - ws->own_share));
}

static struct frag_route *frag_route(struct workers *ws, const uint8_t key[10])
{
    uint32_t h = 2166136261u;
    for (int i = 0; i < 10; i++) {
        h = (h ^ key[i]) * 16777619u;
    }
    return &ws->routes[h % FRAG_ROUTES];
}

static void frag_key(const uint8_t *ip, uint8_t key[10])
{
    memcpy(key, ip + 12, 8);
    memcpy(key + 8, ip + 4, 2);
}

static unsigned process_of_addresses(const struct workers *ws, const uint8_t *ip)
{
    return process_of(ws, flow_hash(be32_at(ip + 12), 0, be32_at(ip + 16), 0));
}

/* Sends the held pieces of key's datagram (all of them when key is NULL)
 * to process k (or each to the process of its addresses). */
static void release_held(struct workers *ws, const uint8_t *key, int k)
{
    for (size_t i = 0; i < ws->n_held;) {
        struct frag_held *h = &ws->held[i];
        if (key != NULL && memcmp(h->key, key, 10) != 0) {
            i++;
            continue;
        }
        struct pipeline_item it;
        memset(&it, 0, sizeof(it));
        it.feed = PIPELINE_IPV4;
        it.d.ip = h->ip;
        it.d.ip_len = h->len;
        it.now_us = h->now_us > ws->clock_us ? h->now_us : ws->clock_us;
        it.input = h->input;
        dispatch(ws, k >= 0 ? (unsigned)k : process_of_addresses(ws, h->ip), &it);
        ws->held_bytes -= h->len;
        free(h->ip);
        ws->held[i] = ws->held[--ws->n_held];
    }
}

/*
 * An IPv4 fragment: the first piece carries the ports and goes by the
 * flow hash, and tells where the rest of its datagram goes; pieces seen
 * before it wait here (bounded), then go just before it.
 */
static void dispatch_fragment(struct workers *ws, const struct pipeline_item *it)
{
    const uint8_t *ip = it->d.ip;
    uint8_t key[10];
    frag_key(ip, key);
    struct frag_route *r = frag_route(ws, key);
    bool first = ((ip[6] & 0x1F) | ip[7]) == 0;
    if (first && it->d.has_ports) {
        unsigned k = process_of(ws, flow_hash(be32_at(ip + 12), it->d.sport, be32_at(ip + 16),
                                              it->d.dport));
        memcpy(r->key, key, 10);
        r->used = true;
        r->worker = (uint16_t)k;
        release_held(ws, key, (int)k);
        dispatch(ws, k, it);
        return;
    }
    if (r->used && memcmp(r->key, key, 10) == 0) {
        dispatch(ws, r->worker, it);
        return;
    }
    if (ws->n_held == FRAG_HELD_MAX || ws->held_bytes + it->d.ip_len > FRAG_HELD_BYTES) {
        release_held(ws, NULL, -1);
    }
    uint8_t *copy = malloc(it->d.ip_len);
    if (copy == NULL) {
        dispatch(ws, process_of_addresses(ws, ip), it);
        return;
    }
    memcpy(copy, ip, it->d.ip_len);
    struct frag_held *h = &ws->held[ws->n_held++];
    memcpy(h->key, key, 10);
    h->len = (uint32_t)it->d.ip_len;
    h->now_us = it->now_us;
    h->ip = copy;
    h->input = it->input;
    ws->held_bytes += it->d.ip_len;
}

void workers_packet(struct workers *ws, const struct capture_packet *pkt)
{
    struct pipeline_item it;
    pipeline_classify(&ws->pipe, pkt, &it);
    if (++ws->since_merge == MERGE_EVERY) {
        ws->since_merge = 0;
        for (unsigned i = 1; i < ws->n; i++) {
            publish(&ws->w[i]);
        }
        collect(ws);
    }
    const uint8_t *ip = it.d.ip;
    switch (it.feed) {
    case PIPELINE_SKIP:
        return;
    case PIPELINE_IPV6:
        dispatch(ws,
                 process_of(ws, flow_hash(flow_fold6(ip + 8), it.d.sport, flow_fold6(ip + 24),
                                          it.d.dport)),
                 &it);
        return;
    case PIPELINE_IPV4:
    case PIPELINE_IPV4_OFFLOAD:
        if (it.d.is_fragment) {
            dispatch_fragment(ws, &it);
            return;
        }
        dispatch(ws,
                 process_of(ws, flow_hash(be32_at(ip + 12), it.d.sport, be32_at(ip + 16),
                                          it.d.dport)),
                 &it);
        return;
    }
}

/* ---- start and end ------------------------------------------------------- */

/* Both kinds: caps NULL for capture files (rings), else n live captures. */
static int start(struct workers **out, unsigned n, const struct pipeline_config *cfg,
                 struct capture *caps, char *err, size_t errlen)
{
    *out = NULL;
    if (n == 0) {
        n = workers_auto_count();
    }
    if (n < 2) {
        snprintf(err, errlen, "workers: at least two processes");
        return SMTPSCOPE_ERR_INTERNAL;
    }
    struct workers *ws = calloc(1, sizeof(*ws));
    if (ws == NULL || (ws->w = calloc(n, sizeof(*ws->w))) == NULL) {
        free(ws);
        snprintf(err, errlen, "out of memory");
        return SMTPSCOPE_ERR_INTERNAL;
    }
    ws->n = n;
    ws->live = caps != NULL;
    ws->cfg = *cfg;
    ws->next_gid = 1;
    ws->min_open = 1;
    ws->clock_us = INT64_MIN;
    ws->total.first_us = -1;
    ws->total.last_us = -1;
    /* This process analyses 2/5 of what a worker does: with two, 2/7 of
     * the flows (docs/performance.md has the measurements behind it). */
    ws->own_share = (uint64_t)(((double)(1ULL << 32)) / (2.5 * n - 1.5));
    for (unsigned i = 0; i < n; i++) {
        ws->w[i].events_fd = -1;
    }
    if (cfg->order_window > 0 &&
        (ws->heap = calloc(cfg->order_window + 1, sizeof(*ws->heap))) == NULL) {
        workers_close(ws);
        snprintf(err, errlen, "out of memory");
        return SMTPSCOPE_ERR_INTERNAL;
    }
    if (ws->live) {
        ws->ctl = mmap(NULL, n * sizeof(*ws->ctl), PROT_READ | PROT_WRITE,
                       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (ws->ctl == MAP_FAILED) {
            ws->ctl = NULL;
            snprintf(err, errlen, "cannot map the workers' controls: %s", strerror(errno));
            workers_close(ws);
            return SMTPSCOPE_ERR_INTERNAL;
        }
    }
    for (unsigned i = 1; i < n && !ws->live; i++) {
        struct worker *w = &ws->w[i];
        w->ring = mmap(NULL, sizeof(struct ring), PROT_READ | PROT_WRITE,
                       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
        if (w->ring == MAP_FAILED) {
            w->ring = NULL;
            snprintf(err, errlen, "cannot map a worker's ring: %s", strerror(errno));
            workers_close(ws);
            return SMTPSCOPE_ERR_INTERNAL;
        }
    }
    fflush(NULL); /* nothing buffered is written twice */
    pid_t parent = getpid();
    for (unsigned i = 1; i < n; i++) {
        struct worker *w = &ws->w[i];
        int fds[2];
        if (pipe2(fds, O_CLOEXEC) != 0) {
            snprintf(err, errlen, "cannot make a worker's pipe: %s", strerror(errno));
            workers_close(ws);
            return SMTPSCOPE_ERR_INTERNAL;
        }
        (void)fcntl(fds[1], F_SETPIPE_SZ, PIPE_BYTES);
        w->events_fd = fds[0];
        w->pid = fork();
        if (w->pid < 0) {
            w->pid = 0;
            close(fds[1]);
            snprintf(err, errlen, "cannot start a worker: %s", strerror(errno));
            workers_close(ws);
            return SMTPSCOPE_ERR_INTERNAL;
        }
        if (w->pid == 0) {
            /* The worker: the writer's signals are not its own. */
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (getppid() != parent) {
                _exit(1);
            }
            signal(SIGINT, SIG_IGN);
            signal(SIGTERM, SIG_IGN);
            signal(SIGHUP, SIG_IGN);
            signal(SIGUSR1, SIG_IGN);
            signal(SIGPIPE, SIG_IGN);
            for (unsigned j = 1; j <= i; j++) {
                close(ws->w[j].events_fd);
            }
            for (unsigned j = 1; j < i && !ws->live; j++) {
                munmap(ws->w[j].ring, sizeof(struct ring));
            }
            struct ring *ring = w->ring;
            struct live_ctl *ctl = ws->live ? &ws->ctl[i] : NULL;
            if (ws->live) {
                for (unsigned j = 0; j < n; j++) {
                    if (j != i) {
                        capture_close(&caps[j]);
                    }
                }
            }
            /* The writer's side is not the worker's (nothing is queued
             * yet); the shared mappings stay. */
            free(ws->heap);
            free(ws->open);
            free(ws->w);
            free(ws);
            if (ctl != NULL) {
                worker_live_main(&caps[i], ctl, fds[1], cfg);
            }
            worker_main(ring, fds[1], cfg);
        }
        close(fds[1]);
        (void)fcntl(w->events_fd, F_SETFL, O_NONBLOCK);
    }
    /* This process's pipeline, once the workers have their own. */
    struct pipeline_config own = *cfg;
    own.sink = (struct session_sink){local_sink, ws};
    own.order_window = 0; /* the merge keeps the order */
    if (ws->live) {
        own.discover_ports = false;
        for (unsigned i = 1; i < n; i++) {
            capture_close(&caps[i]); /* the workers' now */
        }
    }
    int rc = pipeline_open(&ws->pipe, &own, err, errlen);
    if (rc != SMTPSCOPE_OK) {
        workers_close(ws);
        return rc;
    }
    *out = ws;
    return SMTPSCOPE_OK;
}

int workers_open(struct workers **out, unsigned n, const struct pipeline_config *cfg,
                 char *err, size_t errlen)
{
    return start(out, n, cfg, NULL, err, errlen);
}

int workers_open_live(struct workers **out, unsigned n, const struct pipeline_config *cfg,
                      struct capture *caps, char *err, size_t errlen)
{
    return start(out, n, cfg, caps, err, errlen);
}

void workers_live_packet(struct workers *ws, const struct capture_packet *pkt)
{
    pipeline_packet(&ws->pipe, pkt);
    if (pipeline_sessions_opened(&ws->pipe) != ws->announced) {
        local_announce(ws);
    }
}

void workers_settle(struct workers *ws)
{
    if (ws->live) {
        return;
    }
    for (unsigned i = 1; i < ws->n; i++) {
        publish(&ws->w[i]);
    }
    for (;;) {
        collect(ws);
        struct worker *busy = NULL;
        for (unsigned i = 1; i < ws->n && busy == NULL; i++) {
            struct worker *w = &ws->w[i];
            if (!w->dead && atomic_load_explicit(&w->ring->tail, memory_order_acquire) != w->head) {
                busy = w;
            }
        }
        if (busy == NULL) {
            collect(ws); /* their events up to the last entry, now merged */
            return;
        }
        uint32_t wake = atomic_load(&busy->ring->reader_wake);
        atomic_store(&busy->ring->reader_waiting, 1);
        if (atomic_load(&busy->ring->tail) != busy->head) {
            struct timespec ts = {0, 1000000}; /* and read the events again */
            futex(&busy->ring->reader_wake, FUTEX_WAIT, wake, &ts);
        }
        atomic_store(&busy->ring->reader_waiting, 0);
    }
}

void workers_tick(struct workers *ws, int64_t now_us)
{
    pipeline_tick(&ws->pipe, now_us);
    local_announce(ws);
    collect(ws);
}

void workers_counts(const struct workers *ws, uint64_t *packets, uint64_t *bytes,
                    uint64_t *dropped, uint64_t *if_dropped)
{
    *packets = ws->pipe.input.n_packets;
    *bytes = ws->pipe.input.n_bytes;
    *dropped = 0;
    *if_dropped = 0;
    for (unsigned i = 1; i < ws->n; i++) {
        *packets += ws->w[i].progress.packets;
        *bytes += ws->w[i].progress.bytes;
        *dropped += ws->w[i].progress.dropped;
        *if_dropped += ws->w[i].progress.if_dropped;
    }
}

static int cmp_gid(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a;
    uint64_t y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* The events of the end (at end_seq) of every process, in id order. */
static void take_ends(struct workers *ws)
{
    size_t n_end = 0;
    for (unsigned i = 0; i < ws->n; i++) {
        n_end += ws->w[i].q_len;
    }
    struct {
        uint64_t gid;
        struct pending p;
        struct worker *w;
    } *ends = calloc(n_end ? n_end : 1, sizeof(*ends));
    size_t k = 0;
    for (unsigned i = 0; i < ws->n; i++) {
        struct worker *w = &ws->w[i];
        while (w->q_len > 0) {
            struct pending p = w->queue[w->q_first++];
            w->q_len--;
            if (p.type == EVENT_OPEN || ends == NULL) {
                take_event(ws, w, &p);
                continue;
            }
            ends[k].gid = p.local_id < w->gid_cap ? w->gid_of[p.local_id] : 0;
            ends[k].p = p;
            ends[k].w = w;
            k++;
        }
        w->q_first = 0;
    }
    if (ends != NULL) {
        qsort(ends, k, sizeof(*ends), cmp_gid);
        for (size_t i = 0; i < k; i++) {
            take_event(ws, ends[i].w, &ends[i].p);
        }
        free(ends);
    }
}

int workers_finish(struct workers *ws, enum record_end reason, char *err, size_t errlen)
{
    release_held(ws, NULL, -1);
    uint64_t end_seq = ws->seq++;
    for (unsigned i = 1; i < ws->n && ws->live; i++) {
        atomic_store(&ws->ctl[i].reason, (int)reason);
        atomic_store(&ws->ctl[i].stop, 1);
        if (ws->w[i].pid > 0) {
            kill(ws->w[i].pid, SIGUSR2);
        }
    }
    for (unsigned i = 1; i < ws->n && !ws->live; i++) {
        struct worker *w = &ws->w[i];
        struct entry *e = reserve(ws, w, sizeof(struct entry));
        if (e == NULL) {
            continue;
        }
        memset(e, 0, sizeof(*e));
        e->size = sizeof(struct entry);
        e->type = ENTRY_END;
        e->end_reason = (uint8_t)reason;
        e->seq = end_seq;
        e->now_us = ws->pipe.input.last_us;
        commit(w, e);
        publish(w);
    }
    /* This process's share ends while the workers end theirs. */
    ws->cur_seq = ws->live ? 0 : end_seq;
    pipeline_finish(&ws->pipe, reason);
    local_announce(ws);
    /* Every event, until each worker has sent its counters or died. */
    for (;;) {
        struct pollfd pfd[WORKERS_MAX];
        nfds_t n = 0;
        for (unsigned i = 1; i < ws->n; i++) {
            struct worker *w = &ws->w[i];
            if (!w->dead && !w->done) {
                pfd[n++] = (struct pollfd){w->events_fd, POLLIN, 0};
            }
        }
        if (n == 0) {
            break;
        }
        if (poll(pfd, n, 1000) < 0 && errno != EINTR) {
            break;
        }
        collect(ws);
    }
    /* The events before the end, in entry order; then the sessions the end
     * closed, in id order. */
    merge_before(ws, end_seq);
    take_ends(ws);
    while (ws->n_heap > 0) {
        uint64_t id = ws->heap[0].id;
        emit(ws, order_heap_pop(ws->heap, &ws->n_heap), id);
    }
    /* The counters: this process's (all it read, and its share), each
     * worker's share, the merge's. */
    ws->total = ws->pipe.input;
    for (unsigned i = 1; i < ws->n; i++) {
        struct worker *w = &ws->w[i];
        if (w->done) {
            int status;
            if (w->pid > 0 && waitpid(w->pid, &status, 0) == w->pid) {
                w->pid = 0;
            }
            pipeline_input_merge(&ws->total, &w->input);
        } else if (!w->dead) {
            reap(ws, w);
        }
    }
    ws->total.n_out_of_order += ws->n_out_of_order;
    if (ws->failed) {
        if (ws->n_lost_packets > 0) {
            snprintf(err, errlen, "%.400s; %llu packets for it after that were not analysed",
                     ws->err, (unsigned long long)ws->n_lost_packets);
        } else {
            snprintf(err, errlen, "%s", ws->err);
        }
        return SMTPSCOPE_ERR_INTERNAL;
    }
    return SMTPSCOPE_OK;
}

const struct run_input *workers_input(const struct workers *ws)
{
    return &ws->total;
}

const struct pipeline *workers_reader(const struct workers *ws)
{
    return &ws->pipe;
}

uint32_t workers_pids(const struct workers *ws, int32_t *out, uint32_t cap)
{
    uint32_t n = 0;
    for (unsigned i = 1; i < ws->n && n < cap; i++) {
        if (ws->w[i].pid > 0) {
            out[n++] = (int32_t)ws->w[i].pid;
        }
    }
    return n;
}

uint64_t workers_sessions_open(const struct workers *ws)
{
    uint64_t open = 0;
    for (unsigned i = 0; i < ws->n; i++) {
        open += ws->w[i].opened - ws->w[i].finished;
    }
    return open;
}

void workers_close(struct workers *ws)
{
    if (ws == NULL) {
        return;
    }
    for (unsigned i = 0; i < ws->n; i++) {
        struct worker *w = &ws->w[i];
        if (w->pid > 0) {
            kill(w->pid, SIGKILL);
            waitpid(w->pid, NULL, 0);
        }
        if (w->events_fd >= 0) {
            close(w->events_fd);
        }
        if (w->ring != NULL) {
            munmap(w->ring, sizeof(struct ring));
        }
        for (size_t j = 0; j < w->q_len; j++) {
            free(w->queue[w->q_first + j].body);
        }
        free(w->queue);
        free(w->inbuf);
        free(w->gid_of);
    }
    while (ws->n_heap > 0) {
        free(order_heap_pop(ws->heap, &ws->n_heap));
    }
    for (size_t i = 0; i < ws->n_held; i++) {
        free(ws->held[i].ip);
    }
    pipeline_close(&ws->pipe);
    if (ws->ctl != NULL) {
        munmap(ws->ctl, ws->n * sizeof(*ws->ctl));
    }
    free(ws->heap);
    free(ws->open);
    free(ws->w);
    free(ws);
}
