/*
 * readbuf.c - a file read in large pieces into one buffer (see readbuf.h).
 *
 * Reading ahead uses two buffers of the same size: the reader parses one
 * while the thread fills the other.  A buffer the thread fills gets its
 * piece after `headroom` bytes (at least the longest record), so the
 * reader can put the unparsed end of the previous piece right in front
 * of it.  The two sides hand buffers over under one lock, once a piece.
 *
 * SPDX-License-Identifier: MIT
 */
#include "readbuf.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* Past a small file's size, so that reading it to the end sees the end. */
#define READBUF_SLACK 16
/* The thread only calls fread. */
#define READ_THREAD_STACK (256u << 10)

struct readbuf_thread {
    pthread_t id;
    pthread_mutex_t lock;
    pthread_cond_t filled;  /* `ready` was set */
    pthread_cond_t emptied; /* `to_fill` was set, or `stop` */
    FILE *f;
    size_t headroom;
    size_t piece;
    uint8_t *bufs[2];  /* the one the reader is in, and the other */
    uint8_t *to_fill;  /* handed to the thread */
    uint8_t *ready;    /* handed back, holding ready_len bytes */
    size_t ready_len;
    bool ready_last;   /* the file ended in this piece */
    bool stop;
};

/* ---- mapped files, and the pages a shrinking file takes away ------------- */

/*
 * SIGBUS comes from a touch of a mapped page past the file's new end.  The
 * handler (a process-wide disposition, hence these globals: the signal
 * carries no context) lays zeros over the rest of that mapping and notes
 * it; the faulting read then sees zeros, and the next fill sees the end.
 */
#define MAPS_MAX 64
static struct {
    struct readbuf *owner[MAPS_MAX];
    _Atomic(uintptr_t) start[MAPS_MAX];
    _Atomic(uintptr_t) len[MAPS_MAX];
    volatile int shrank[MAPS_MAX];
    bool handler_set;
} g_maps;

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    uintptr_t a = (uintptr_t)si->si_addr;
    for (int i = 0; i < MAPS_MAX; i++) {
        uintptr_t s = atomic_load(&g_maps.start[i]);
        uintptr_t n = atomic_load(&g_maps.len[i]);
        if (s != 0 && a >= s && a - s < n) {
            uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
            uintptr_t from = a & ~(page - 1);
            if (mmap((void *)from, s + n - from, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
                     -1, 0) != MAP_FAILED) {
                g_maps.shrank[i] = 1;
                /* The fault is the reading thread's own (synchronous):
                 * its next readbuf_take() sees the loss. */
                if (g_maps.owner[i] != NULL) {
                    g_maps.owner[i]->advise_at = 0;
                }
                return;
            }
        }
    }
    /* Not ours: the default action, as if no handler were set. */
    signal(sig, SIG_DFL);
    raise(sig);
}

static int map_slot(const struct readbuf *b)
{
    for (int i = 0; i < MAPS_MAX; i++) {
        if (atomic_load(&g_maps.start[i]) == (uintptr_t)b->buf) {
            return i;
        }
    }
    return -1;
}

bool readbuf_map(struct readbuf *b)
{
    struct stat st;
    off_t at = ftello(b->f);
    if (b->mapped || b->ahead != NULL || fstat(fileno(b->f), &st) != 0 || !S_ISREG(st.st_mode) ||
        st.st_size < (off_t)READBUF_MAP_MIN || at < 0 ||
        (uint64_t)st.st_size > SIZE_MAX / 2) {
        return b->mapped;
    }
    /* The bytes read and not taken are the file's from here: */
    off_t from = at - (off_t)(b->end - b->start);
    int slot = -1;
    for (int i = 0; i < MAPS_MAX && slot < 0; i++) {
        if (atomic_load(&g_maps.start[i]) == 0) {
            slot = i;
        }
    }
    if (slot < 0 || from < 0) {
        return false;
    }
    void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fileno(b->f), 0);
    if (m == MAP_FAILED) {
        return false;
    }
    (void)madvise(m, (size_t)st.st_size, MADV_SEQUENTIAL);
    if (!g_maps.handler_set) {
        struct sigaction sa;
        memset(&sa, 0, sizeof(sa));
        sa.sa_sigaction = on_sigbus;
        sa.sa_flags = SA_SIGINFO | SA_NODEFER;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGBUS, &sa, NULL);
        g_maps.handler_set = true;
    }
    atomic_store(&g_maps.len[slot], (uintptr_t)st.st_size);
    g_maps.shrank[slot] = 0;
    g_maps.owner[slot] = b;
    b->lost = &g_maps.shrank[slot];
    atomic_store(&g_maps.start[slot], (uintptr_t)m);
    free(b->buf);
    b->buf = m;
    b->cap = (size_t)st.st_size;
    b->start = (size_t)from;
    b->end = (size_t)st.st_size;
    b->at_eof = true;
    b->mapped = true;
    b->threads_free = NULL;
    readbuf_advise(b);
    return true;
}

/*
 * The pages ahead come in by faults: the kernel maps a run of the page
 * cache around each one, which cost less than asking for a window ahead
 * in one call (MADV_POPULATE_READ walks it a page at a time; measured in
 * docs/performance.md).  Unmapping the pages a window behind keeps the
 * resident size to a few windows, however large the file: the page
 * cache keeps them, the process does not.
 */
#define ADVISE_WINDOW (2u << 20)

static size_t mapped_have(struct readbuf *b);

void readbuf_advise(struct readbuf *b)
{
    if (!b->mapped) {
        b->advise_at = SIZE_MAX;
        return;
    }
    if (b->lost != NULL && *b->lost) {
        (void)mapped_have(b); /* the end moves to where the file stops */
    }
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t from = b->start & ~(page - 1);
    if (from >= 2 * ADVISE_WINDOW) {
        size_t behind = (from - 2 * ADVISE_WINDOW) & ~(page - 1);
        if (behind > b->dropped) {
            (void)madvise(b->buf + b->dropped, behind - b->dropped, MADV_DONTNEED);
            b->dropped = behind;
        }
    }
    b->advise_at = from + ADVISE_WINDOW;
}

/* A mapped file that lost pages ends where its bytes stopped being read:
 * its new size, or here if that is behind. */
static size_t mapped_have(struct readbuf *b)
{
    if (b->lost != NULL && *b->lost) {
        struct stat st;
        size_t size = fstat(fileno(b->f), &st) == 0 && st.st_size >= 0 ? (size_t)st.st_size : 0;
        if (size < b->end) {
            b->end = size > b->start ? size : b->start;
        }
        b->shrank = true;
        b->lost = NULL; /* seen: the end stays where it is now */
    }
    return b->end - b->start;
}

bool readbuf_open(struct readbuf *b, FILE *f, size_t record_max)
{
    memset(b, 0, sizeof(*b));
    b->f = f;
    b->piece = READBUF_PIECE;
    b->record_max = record_max;
    b->cap = READBUF_PIECE + record_max;
    b->advise_at = SIZE_MAX;
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) &&
        (uint64_t)st.st_size + READBUF_SLACK < b->cap) {
        b->cap = (size_t)st.st_size + READBUF_SLACK;
    }
    b->buf = malloc(b->cap);
    return b->buf != NULL;
}

void readbuf_read_ahead(struct readbuf *b, int *threads_free)
{
    if (b->mapped) {
        return; /* nothing to copy */
    }
    /* Only a regular file: closing must not wait on a read that blocks. */
    struct stat st;
    if (fstat(fileno(b->f), &st) == 0 && S_ISREG(st.st_mode)) {
        b->threads_free = threads_free;
    }
}

/* ---- the thread ----------------------------------------------------------- */

static void *read_pieces(void *arg)
{
    struct readbuf_thread *t = arg;
    bool last = false;
    while (!last) {
        pthread_mutex_lock(&t->lock);
        while (t->to_fill == NULL && !t->stop) {
            pthread_cond_wait(&t->emptied, &t->lock);
        }
        uint8_t *into = t->to_fill;
        t->to_fill = NULL;
        bool stop = t->stop;
        pthread_mutex_unlock(&t->lock);
        if (stop) {
            break;
        }
        /* A short count is the end of the file, or an error read as one,
         * as on the reader's own side. */
        size_t got = fread(into + t->headroom, 1, t->piece, t->f);
        last = got < t->piece;
        pthread_mutex_lock(&t->lock);
        t->ready = into;
        t->ready_len = got;
        t->ready_last = last;
        pthread_cond_signal(&t->filled);
        pthread_mutex_unlock(&t->lock);
    }
    return NULL;
}

/* ---- the reader's side ---------------------------------------------------- */

static void free_thread(struct readbuf_thread *t)
{
    pthread_mutex_destroy(&t->lock);
    pthread_cond_destroy(&t->filled);
    pthread_cond_destroy(&t->emptied);
    free(t);
}

/* Starts reading ahead from where the file stands into a second buffer;
 * on any failure reading stays here, for good. */
static void start_thread(struct readbuf *b)
{
    struct readbuf_thread *t = calloc(1, sizeof(*t));
    uint8_t *spare = malloc(b->cap);
    if (t == NULL || spare == NULL) {
        free(t);
        free(spare);
        b->threads_free = NULL;
        return;
    }
    pthread_mutex_init(&t->lock, NULL);
    pthread_cond_init(&t->filled, NULL);
    pthread_cond_init(&t->emptied, NULL);
    t->f = b->f;
    t->piece = b->piece;
    t->headroom = b->cap - b->piece;
    t->bufs[0] = b->buf;
    t->bufs[1] = spare;
    t->to_fill = spare;
    /* Signals stay with the main thread: SIGINT must reach its handler there. */
    sigset_t all;
    sigset_t old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, READ_THREAD_STACK);
    int rc = pthread_create(&t->id, &attr, read_pieces, t);
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        free_thread(t);
        free(spare);
        b->threads_free = NULL;
        return;
    }
    b->ahead = t;
    (*b->threads_free)--;
}

/* Joins the thread and frees the buffer the reader is not in. */
static void stop_thread(struct readbuf *b)
{
    struct readbuf_thread *t = b->ahead;
    pthread_mutex_lock(&t->lock);
    t->stop = true;
    pthread_cond_signal(&t->emptied);
    pthread_mutex_unlock(&t->lock);
    pthread_join(t->id, NULL);
    free(t->bufs[0] == b->buf ? t->bufs[1] : t->bufs[0]);
    free_thread(t);
    b->ahead = NULL;
    (*b->threads_free)++;
}

/* Moves to the piece read ahead, with the `keep` bytes not taken (fewer
 * than the headroom) copied in front of it; waits for it if need be. */
static void next_piece(struct readbuf *b, size_t keep)
{
    struct readbuf_thread *t = b->ahead;
    pthread_mutex_lock(&t->lock);
    while (t->ready == NULL) {
        pthread_cond_wait(&t->filled, &t->lock);
    }
    uint8_t *next = t->ready;
    size_t got = t->ready_len;
    bool last = t->ready_last;
    t->ready = NULL;
    pthread_mutex_unlock(&t->lock);

    memcpy(next + t->headroom - keep, b->buf + b->start, keep);
    uint8_t *done = b->buf;
    b->buf = next;
    b->start = t->headroom - keep;
    b->end = t->headroom + got;
    if (last) {
        b->at_eof = true;
        stop_thread(b);
        return;
    }
    pthread_mutex_lock(&t->lock);
    t->to_fill = done;
    pthread_cond_signal(&t->emptied);
    pthread_mutex_unlock(&t->lock);
}

/* Reads pieces here, after moving the bytes not taken to the front. */
static void fill_here(struct readbuf *b, size_t want)
{
    size_t have = b->end - b->start;
    if (b->start > 0) {
        memmove(b->buf, b->buf + b->start, have);
        b->start = 0;
        b->end = have;
    }
    while (b->end < want && !b->at_eof) {
        size_t room = b->cap - b->end;
        if (room == 0) {
            break; /* the file grew past its size at open: the record is not read */
        }
        size_t ask = room > b->piece ? b->piece : room;
        if (b->read_some != NULL) {
            ssize_t got = b->read_some(b->read_ctx, b->buf + b->end, ask);
            if (got <= 0) {
                b->at_eof = true; /* a failure, as a short fread: the caller asks why */
            } else {
                b->end += (size_t)got;
            }
            continue;
        }
        size_t got = fread(b->buf + b->end, 1, ask, b->f);
        b->end += got;
        if (got < ask) {
            b->at_eof = true;
        }
    }
}

void readbuf_read_by(struct readbuf *b, readbuf_read_fn read_some, void *ctx)
{
    b->read_some = read_some;
    b->read_ctx = ctx;
}

/* A thread pays only when there is a next piece and room before it for
 * a record cut at the end of this one (not so in a small file's buffer). */
static bool may_read_ahead(const struct readbuf *b)
{
    return b->threads_free != NULL && *b->threads_free > 0 && !b->at_eof &&
           b->cap >= b->piece + b->record_max;
}

size_t readbuf_fill_more(struct readbuf *b, size_t want)
{
    if (b->mapped) {
        return mapped_have(b);
    }
    size_t have = b->end - b->start;
    if (b->at_eof) { /* readbuf_fill() saw have < want */
        return have;
    }
    if (b->ahead != NULL) {
        if (want > b->record_max) {
            want = b->record_max; /* past the contract: never past the headroom */
        }
        while (have < want && !b->at_eof) {
            next_piece(b, have); /* have < want <= record_max <= headroom */
            have = b->end - b->start;
        }
        return have;
    }
    fill_here(b, want);
    if (may_read_ahead(b)) {
        start_thread(b);
    }
    return b->end - b->start;
}

bool readbuf_skip(struct readbuf *b, uint64_t n)
{
    size_t have = b->end - b->start;
    if (b->mapped) {
        b->start += n < have ? (size_t)n : have;
        return true;
    }
    if (n <= have) {
        b->start += (size_t)n;
        return true;
    }
    uint64_t beyond = n - have;
    b->start = b->end;
    if (b->ahead != NULL) {
        /* The thread owns the file position: read through. */
        while (beyond > 0 && !b->at_eof) {
            next_piece(b, 0);
            size_t got = b->end - b->start;
            size_t step = beyond < got ? (size_t)beyond : got;
            b->start += step;
            beyond -= step;
        }
        return true;
    }
    b->start = b->end = 0;
    if (b->at_eof) {
        return true; /* nothing is left to skip */
    }
    if (b->read_some != NULL) {
        /* A stream cannot seek: read through, into the buffer. */
        while (beyond > 0 && !b->at_eof) {
            size_t ask = beyond < b->cap ? (size_t)beyond : b->cap;
            ssize_t got = b->read_some(b->read_ctx, b->buf, ask);
            if (got <= 0) {
                b->at_eof = true;
            } else {
                beyond -= (uint64_t)got;
            }
        }
        return true;
    }
    if (beyond > (uint64_t)INT64_MAX || fseeko(b->f, (off_t)beyond, SEEK_CUR) != 0) {
        return false;
    }
    return true;
}

void readbuf_close(struct readbuf *b)
{
    if (b->ahead != NULL) {
        stop_thread(b);
    }
    if (b->mapped) {
        int slot = map_slot(b);
        if (slot >= 0) {
            g_maps.owner[slot] = NULL;
            atomic_store(&g_maps.start[slot], 0);
        }
        munmap(b->buf, b->cap);
        b->mapped = false;
    } else {
        free(b->buf);
    }
    b->buf = NULL;
}
