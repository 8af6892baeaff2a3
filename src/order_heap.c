/*
 * order_heap.c - a binary min-heap of (id, item) pairs (order_heap.h).
 *
 * SPDX-License-Identifier: MIT
 */
#include "order_heap.h"

static void swap_items(struct order_item *h, size_t a, size_t b)
{
    struct order_item tmp = h[a];
    h[a] = h[b];
    h[b] = tmp;
}

void order_heap_push(struct order_item *h, size_t *n, uint64_t id, void *item)
{
    size_t i = (*n)++;
    h[i].id = id;
    h[i].item = item;
    while (i > 0 && h[(i - 1) / 2].id > h[i].id) {
        swap_items(h, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
}

void *order_heap_pop(struct order_item *h, size_t *n)
{
    void *top = h[0].item;
    size_t last = --(*n);
    size_t i = 0;
    h[0] = h[last];
    for (;;) {
        size_t l = 2 * i + 1;
        size_t m = i;
        if (l < last && h[l].id < h[m].id) {
            m = l;
        }
        if (l + 1 < last && h[l + 1].id < h[m].id) {
            m = l + 1;
        }
        if (m == i) {
            break;
        }
        swap_items(h, i, m);
        i = m;
    }
    return top;
}
