/*
 * flowtab.c - fixed-size 4-tuple table with bounded probing (see flowtab.h).
 *
 * SPDX-License-Identifier: MIT
 */
#include "flowtab.h"

#include <stdlib.h>
#include <string.h>

#define FLOWTAB_PROBE 8

bool flowtab_init(struct flowtab *t, size_t n_slots)
{
    size_t n = FLOWTAB_PROBE;
    while (n < n_slots) {
        n *= 2;
    }
    memset(t, 0, sizeof(*t));
    t->slots = calloc(n, sizeof(*t->slots));
    if (t->slots == NULL) {
        return false;
    }
    t->n_slots = n;
    return true;
}

void flowtab_free(struct flowtab *t)
{
    free(t->slots);
    t->slots = NULL;
    t->n_slots = 0;
}

static size_t key_hash(const struct flow_key *k)
{
    uint64_t h = (uint64_t)k->client_addr * 0x9E3779B97F4A7C15ULL;
    h ^= (uint64_t)k->server_addr + 0x632BE59BD9B4E019ULL + (h << 6) + (h >> 2);
    h ^= ((uint64_t)k->client_port << 16 | k->server_port) * 0xC2B2AE3D27D4EB4FULL;
    h ^= h >> 29;
    return (size_t)h;
}

static bool key_equal(const struct flow_key *a, const struct flow_key *b)
{
    return a->client_addr == b->client_addr && a->server_addr == b->server_addr &&
           a->client_port == b->client_port && a->server_port == b->server_port;
}

struct flow_entry *flowtab_find(struct flowtab *t, const struct flow_key *key)
{
    size_t base = key_hash(key);
    for (size_t i = 0; i < FLOWTAB_PROBE; i++) {
        struct flow_entry *e = &t->slots[(base + i) & (t->n_slots - 1)];
        if (e->in_use && key_equal(&e->key, key)) {
            e->touched = ++t->clock;
            return e;
        }
    }
    return NULL;
}

struct flow_entry *flowtab_upsert(struct flowtab *t, const struct flow_key *key, bool *created)
{
    struct flow_entry *e = flowtab_find(t, key);
    *created = false;
    if (e != NULL) {
        return e;
    }
    size_t base = key_hash(key);
    struct flow_entry *victim = NULL;
    for (size_t i = 0; i < FLOWTAB_PROBE; i++) {
        struct flow_entry *c = &t->slots[(base + i) & (t->n_slots - 1)];
        if (!c->in_use) {
            victim = c;
            break;
        }
        if (victim == NULL || c->touched < victim->touched) {
            victim = c;
        }
    }
    if (victim->in_use) {
        t->n_replaced++;
    }
    victim->key = *key;
    victim->in_use = true;
    victim->first_us = -1;
    victim->second_us = -1;
    victim->touched = ++t->clock;
    *created = true;
    return victim;
}

void flowtab_remove(struct flowtab *t, struct flow_entry *e)
{
    (void)t;
    e->in_use = false;
}
