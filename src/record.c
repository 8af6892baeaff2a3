/*
 * record.c - printable names for record enums (see record.h).
 *
 * SPDX-License-Identifier: MIT
 */
#include "record.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "timing.h"

static const char *const kind_names[] = {
#define XX(id, str) str,
    RECORD_KIND_MAP(XX)
#undef XX
};

static const char *const end_names[] = {
#define XX(id, str) str,
    RECORD_END_MAP(XX)
#undef XX
};

static const char *const tls_names[] = {
#define XX(id, str) str,
    RECORD_TLS_MAP(XX)
#undef XX
};

#define NAME_OF(table, i)                                                      \
    ((unsigned)(i) < sizeof(table) / sizeof(table[0]) ? table[i] : "?")

const char *record_kind_name(enum record_kind kind)
{
    return NAME_OF(kind_names, kind);
}

const char *record_end_name(enum record_end end)
{
    return NAME_OF(end_names, end);
}

const char *record_tls_name(enum record_tls tls)
{
    return NAME_OF(tls_names, tls);
}

bool record_next_extension(const struct session_record *r, uint32_t *cursor, struct span *out)
{
    struct span all = record_span(r, r->extensions);
    if (r->n_extensions == 0 || *cursor > all.len) {
        return false;
    }
    const uint8_t *start = all.ptr + *cursor;
    size_t left = all.len - *cursor;
    const uint8_t *nl = left > 0 ? memchr(start, '\n', left) : NULL;
    size_t n = nl != NULL ? (size_t)(nl - start) : left;
    *out = span_make(start, n);
    *cursor += (uint32_t)n + 1;
    return true;
}

void record_endpoint_format(char *out, size_t cap, const struct record_endpoint *e)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    inet_ntop(e->family == 6 ? AF_INET6 : AF_INET, e->addr, ip, sizeof(ip));
    snprintf(out, cap, e->family == 6 ? "[%s]:%u" : "%s:%u", ip, e->port);
}

int64_t record_start_us(const struct session_record *r)
{
    return r->syn_us >= 0 ? r->syn_us : r->est_us;
}

int64_t record_connect_us(const struct session_record *r)
{
    return timing_delta_us(r->syn_us, r->synack_us);
}

int64_t record_banner_us(const struct session_record *r)
{
    if (!r->has_greeting || r->is_midstream) {
        return -1;
    }
    return timing_delta_us(r->est_us, r->greeting.reply_first_us);
}

int64_t record_latency_us(const struct record_exchange *x)
{
    return timing_delta_us(x->cmd_us, x->reply_first_us);
}

int64_t record_complete_us(const struct record_exchange *x)
{
    return timing_delta_us(x->cmd_us, x->reply_last_us);
}
