/*
 * stats.c - the running tally over finished session records (stats.h).
 *
 * Latency definitions are in docs/timing.md: connect is SYN to SYN/ACK,
 * banner is the client's handshake ACK to the greeting's first byte, a
 * reply latency is the command's completing segment to the reply's first
 * byte.
 *
 * SPDX-License-Identifier: MIT
 */
#include "stats.h"

#include <string.h>

void stats_init(struct run_stats *st)
{
    /* All-zero is the empty state of every counter and histogram. */
    memset(st, 0, sizeof(*st));
}

static void count_code(struct run_stats *st, uint16_t code)
{
    if (code > 0 && code < 1000) {
        st->reply_codes[code]++;
    }
}

static void add_exchange(struct run_stats *st, const struct record_exchange *x)
{
    count_code(st, x->code);
    if (x->code == 0) {
        return;
    }
    int64_t lat = record_latency_us(x);
    if (x->kind == RECORD_KIND_COMMAND && x->verb < SMTP_VERB_COUNT) {
        latency_add(&st->by_verb[x->verb], lat);
    } else if (x->kind == RECORD_KIND_MESSAGE) {
        latency_add(&st->message, lat);
    }
}

static bool same_endpoint(const struct record_endpoint *a, const struct record_endpoint *b)
{
    return a->family == b->family && a->port == b->port &&
           memcmp(a->addr, b->addr, a->family == 6 ? 16 : 4) == 0;
}

/* The server's slot, a new one while there is room, else NULL. */
static struct stats_server *server_slot(struct run_stats *st, const struct record_endpoint *e)
{
    for (uint32_t i = 0; i < st->n_servers; i++) {
        if (same_endpoint(&st->servers[i].ep, e)) {
            return &st->servers[i];
        }
    }
    if (st->n_servers == STATS_SERVERS_MAX) {
        return NULL;
    }
    struct stats_server *s = &st->servers[st->n_servers++];
    s->ep = *e;
    return s;
}

void stats_add(struct run_stats *st, const struct session_record *r)
{
    st->n_sessions++;
    st->n_messages_attempted += r->messages_attempted;
    st->n_messages_accepted += r->messages_accepted;
    st->n_exchanges += r->n_exchanges;
    if (record_is_abnormal(r)) {
        st->n_abnormal++;
    }
    if (r->label < VERDICT_LABEL_COUNT) {
        st->labels[r->label]++;
    }
    for (int f = 0; f < VERDICT_FLAG_COUNT; f++) {
        if (r->flags & VERDICT_FLAG_BIT(f)) {
            st->flags[f]++;
        }
    }
    latency_add(&st->connect, record_connect_us(r));
    if (r->has_greeting) {
        count_code(st, r->greeting.code);
    }
    latency_add(&st->banner, record_banner_us(r));
    struct stats_server *server = server_slot(st, &r->server);
    if (server != NULL) {
        server->n_sessions++;
        latency_add(&server->banner, record_banner_us(r));
    } else {
        st->n_sessions_other_servers++;
    }
    for (uint32_t i = 0; i < r->n_exchanges; i++) {
        add_exchange(st, &r->exchanges[i]);
    }
}
