/*
 * flowtab.h - a fixed-size table keyed by TCP 4-tuple.
 *
 * Role: remembers per-connection facts that exist before libnids has a
 * stream we can hang state on (SYN and SYN/ACK times), and flows libnids
 * never attached.  The table never grows: a key probes a small window of
 * slots and, when all are taken, replaces the least recently used one, so
 * a SYN flood costs lost handshake times, never memory.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef FLOWTAB_H
#define FLOWTAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct flow_key {
    uint32_t client_addr; /* network byte order, as on the wire */
    uint32_t server_addr;
    uint16_t client_port; /* host byte order */
    uint16_t server_port;
};

struct flow_entry {
    struct flow_key key;
    bool in_use;
    int64_t first_us; /* SYN time, or first packet of an unattached flow */
    int64_t second_us; /* SYN/ACK time; -1 until seen */
    uint64_t touched;  /* use order, for replacement */
};

struct flowtab {
    struct flow_entry *slots;
    size_t n_slots; /* a power of two */
    uint64_t clock;
    uint64_t n_replaced;
};

/* Allocates n_slots (rounded up to a power of two); false on no memory. */
bool flowtab_init(struct flowtab *t, size_t n_slots);
void flowtab_free(struct flowtab *t);
/* The entry for key, or NULL. */
struct flow_entry *flowtab_find(struct flowtab *t, const struct flow_key *key);
/*
 * The entry for key, created when absent (*created set true, first_us and
 * second_us -1).  Never fails once initialised: it may replace another.
 */
struct flow_entry *flowtab_upsert(struct flowtab *t, const struct flow_key *key, bool *created);
void flowtab_remove(struct flowtab *t, struct flow_entry *e);

#endif
