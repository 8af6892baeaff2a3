/*
 * pool.c - fixed-size object pools (see pool.h).
 *
 * SPDX-License-Identifier: MIT
 */
#include "pool.h"

#include <stdlib.h>
#include <string.h>

#if defined(__SANITIZE_ADDRESS__)
#define POOL_PASS_THROUGH 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define POOL_PASS_THROUGH 1
#endif
#endif

/* Slab header: the link to the previous slab, padded to keep objects
 * 16-byte aligned. */
#define SLAB_HEADER 16

void pool_init(struct pool *p, size_t size)
{
    memset(p, 0, sizeof(*p));
    p->size = (size + 15) & ~(size_t)15;
}

#ifdef POOL_PASS_THROUGH
void *pool_get(struct pool *p)
{
    return malloc(p->size);
}

void pool_put(struct pool *p, void *obj)
{
    (void)p;
    free(obj);
}

void pool_free_all(struct pool *p)
{
    (void)p;
}
#else
void *pool_get(struct pool *p)
{
    if (p->free_list != NULL) {
        void *obj = p->free_list;
        memcpy(&p->free_list, obj, sizeof(void *));
        return obj;
    }
    if (p->left == 0) {
        size_t n = (POOL_SLAB_BYTES - SLAB_HEADER) / p->size;
        uint8_t *slab = malloc(SLAB_HEADER + (n > 0 ? n : 1) * p->size);
        if (slab == NULL) {
            return NULL;
        }
        memcpy(slab, &p->slabs, sizeof(void *));
        p->slabs = slab;
        p->next = slab + SLAB_HEADER;
        p->left = n > 0 ? n : 1;
    }
    void *obj = p->next;
    p->next += p->size;
    p->left--;
    return obj;
}

void pool_put(struct pool *p, void *obj)
{
    if (obj == NULL) {
        return;
    }
    memcpy(obj, &p->free_list, sizeof(void *));
    p->free_list = obj;
}

void pool_free_all(struct pool *p)
{
    while (p->slabs != NULL) {
        void *slab = p->slabs;
        memcpy(&p->slabs, slab, sizeof(void *));
        free(slab);
    }
    p->free_list = NULL;
    p->next = NULL;
    p->left = 0;
}
#endif
