/*
 * order_heap.h - finished records waiting for their turn in id order.
 *
 * Role: records leave in session id order (session.h); a record that
 * finishes while an older session is still open waits here.  The session
 * table uses it in one process, and the merge of the worker processes'
 * records uses it the same way, so that both write the same order.  Ids
 * are kept beside the pointers: comparing them touches no record (with
 * thousands waiting, each compare was a cache miss).
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef ORDER_HEAP_H
#define ORDER_HEAP_H

#include <stddef.h>
#include <stdint.h>

struct order_item {
    uint64_t id;
    void *item;
};

/* A min-heap on id over h[0..*n); the caller owns room for one more. */
void order_heap_push(struct order_item *h, size_t *n, uint64_t id, void *item);
/* Removes and returns the item of the least id (*n > 0). */
void *order_heap_pop(struct order_item *h, size_t *n);

#endif
