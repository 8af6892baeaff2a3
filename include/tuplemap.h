/*
 * tuplemap.h - open-addressing map from a TCP 4-tuple to a pointer.
 *
 * Role: lets the libnids glue find the session of a packet with one cheap
 * probe instead of two libnids hash lookups.  Fixed capacity chosen at
 * creation (never grows: at most 80% full by contract), linear probing
 * with backward-shift deletion, and a per-process random seed so crafted
 * tuples cannot force long probe chains.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef TUPLEMAP_H
#define TUPLEMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flowtab.h"

struct tuplemap_slot {
    struct flow_key key;
    void *value; /* NULL: empty */
};

struct tuplemap {
    struct tuplemap_slot *slots;
    size_t mask;
    size_t n_used;
    size_t max_used;
    uint64_t seed;
};

/* Room for max_used entries; false when memory is lacking. */
bool tuplemap_init(struct tuplemap *m, size_t max_used);
void tuplemap_free(struct tuplemap *m);
/* Adds key -> value (value not NULL); false when full or present. */
bool tuplemap_put(struct tuplemap *m, const struct flow_key *key, void *value);
/* The value for key, or NULL. */
void *tuplemap_get(const struct tuplemap *m, const struct flow_key *key);
/* Removes key if present. */
void tuplemap_del(struct tuplemap *m, const struct flow_key *key);

#endif
