/*
 * tuplemap.c - 4-tuple map with linear probing (see tuplemap.h).
 *
 * SPDX-License-Identifier: MIT
 */
#include "tuplemap.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint64_t random_seed(void)
{
    uint64_t seed = 0;
    FILE *f = fopen("/dev/urandom", "rb");
    if (f != NULL) {
        if (fread(&seed, sizeof(seed), 1, f) != 1) {
            seed = 0;
        }
        fclose(f);
    }
    return seed ^ (uint64_t)time(NULL) ^ 0x9E3779B97F4A7C15ULL;
}

static size_t slot_of(const struct tuplemap *m, const struct flow_key *k)
{
    uint64_t h = ((uint64_t)k->client_addr << 32 | k->server_addr) ^ m->seed;
    h *= 0xFF51AFD7ED558CCDULL;
    h ^= ((uint64_t)k->client_port << 16 | k->server_port) + (h >> 29);
    h *= 0xC4CEB9FE1A85EC53ULL;
    h ^= h >> 32;
    return (size_t)h & m->mask;
}

static bool same_key(const struct flow_key *a, const struct flow_key *b)
{
    return a->client_addr == b->client_addr && a->server_addr == b->server_addr &&
           a->client_port == b->client_port && a->server_port == b->server_port;
}

bool tuplemap_init(struct tuplemap *m, size_t max_used)
{
    /* At most 80% full: with lookups only for segments libnids did not
     * deliver and for FIN/RST, a few more probes cost less than memory
     * in every slot (this table is sized for the stream limit). */
    size_t n = 16;
    while (n < max_used + max_used / 4) {
        n *= 2;
    }
    memset(m, 0, sizeof(*m));
    m->slots = calloc(n, sizeof(*m->slots));
    if (m->slots == NULL) {
        return false;
    }
    m->mask = n - 1;
    m->max_used = max_used;
    m->seed = random_seed();
    return true;
}

void tuplemap_free(struct tuplemap *m)
{
    free(m->slots);
    memset(m, 0, sizeof(*m));
}

bool tuplemap_put(struct tuplemap *m, const struct flow_key *key, void *value)
{
    if (m->n_used >= m->max_used || value == NULL) {
        return false;
    }
    for (size_t i = slot_of(m, key);; i = (i + 1) & m->mask) {
        struct tuplemap_slot *s = &m->slots[i];
        if (s->value == NULL) {
            s->key = *key;
            s->value = value;
            m->n_used++;
            return true;
        }
        if (same_key(&s->key, key)) {
            return false;
        }
    }
}

void *tuplemap_get(const struct tuplemap *m, const struct flow_key *key)
{
    for (size_t i = slot_of(m, key);; i = (i + 1) & m->mask) {
        const struct tuplemap_slot *s = &m->slots[i];
        if (s->value == NULL) {
            return NULL;
        }
        if (same_key(&s->key, key)) {
            return s->value;
        }
    }
}

void tuplemap_del(struct tuplemap *m, const struct flow_key *key)
{
    size_t i = slot_of(m, key);
    for (;; i = (i + 1) & m->mask) {
        if (m->slots[i].value == NULL) {
            return;
        }
        if (same_key(&m->slots[i].key, key)) {
            break;
        }
    }
    /* Backward shift: pull later entries of the run into the hole. */
    size_t hole = i;
    for (size_t j = (i + 1) & m->mask; m->slots[j].value != NULL; j = (j + 1) & m->mask) {
        size_t home = slot_of(m, &m->slots[j].key);
        bool movable = hole <= j ? (home <= hole || home > j) : (home <= hole && home > j);
        if (movable) {
            m->slots[hole] = m->slots[j];
            hole = j;
        }
    }
    m->slots[hole].value = NULL;
    m->n_used--;
}
