/*
 * pool.h - fixed-size object pools for per-session state.
 *
 * Role: sessions, and their exchange lists while small, come and go by the
 * tens of thousands.  Taking them from glibc's heap interleaved them with
 * libnids' 4 KiB stream buffers, and with 50k sessions open malloc's bin
 * walks took 11% of the cycles.  A pool hands out objects of one size cut
 * from 64 KiB slabs and keeps freed ones on a list for reuse; slabs go
 * back only when the pool is freed, so memory follows the peak number of
 * sessions open at once, as it did with malloc.  Under AddressSanitizer
 * every object is its own malloc, so use-after-free is still caught.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef POOL_H
#define POOL_H

#include <stddef.h>
#include <stdint.h>

#define POOL_SLAB_BYTES (64u * 1024u)

struct pool {
    size_t size;     /* object size, a multiple of 16 */
    void *free_list; /* freed objects, linked through their first word */
    void *slabs;     /* slabs, linked through their first word */
    uint8_t *next;   /* unused room in the newest slab */
    size_t left;     /* objects that still fit there */
};

/* Prepares p for objects of size bytes; allocates nothing yet. */
void pool_init(struct pool *p, size_t size);
/* An object of the pool's size (contents undefined), or NULL. */
void *pool_get(struct pool *p);
/* Returns an object to the pool; NULL is ignored. */
void pool_put(struct pool *p, void *obj);
/* Frees every slab: every object of the pool becomes invalid. */
void pool_free_all(struct pool *p);

#endif
