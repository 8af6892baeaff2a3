/*
 * record.c - printable names for record enums, the derived times every
 * writer formats, and a record packed flat to cross a process boundary
 * (see record.h).
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

int64_t record_exchange_at_us(const struct record_exchange *x)
{
    return x->cmd_us >= 0 ? x->cmd_us : x->reply_first_us;
}

int64_t record_offset_us(int64_t start_us, const struct record_exchange *x)
{
    return timing_delta_us(start_us, record_exchange_at_us(x));
}

int64_t record_end_us(const struct session_record *r)
{
    int64_t start = record_start_us(r);
    return r->last_us >= start ? r->last_us : start;
}

int64_t record_duration_us(const struct session_record *r)
{
    return timing_delta_us(record_start_us(r), r->last_us);
}

bool record_is_abnormal(const struct session_record *r)
{
    return verdict_is_abnormal(r->label, r->flags);
}

const struct verdict_info *record_reason(const struct session_record *r)
{
    return verdict_reason(r->label, r->flags);
}

const struct record_exchange *record_last_exchange(const struct session_record *r)
{
    return r->n_exchanges > 0 && r->exchanges != NULL ? &r->exchanges[r->n_exchanges - 1] : NULL;
}

/* ---- a record as one flat buffer ----------------------------------------- */

/* The parts after the fixed struct, each 8-byte aligned. */
static size_t round8(size_t n)
{
    return (n + 7) & ~(size_t)7;
}

size_t record_packed_size(const struct session_record *r)
{
    return round8(sizeof(*r)) + round8((size_t)r->n_exchanges * sizeof(*r->exchanges)) +
           round8((size_t)r->n_messages * sizeof(*r->messages)) +
           round8((size_t)r->n_attachments * sizeof(*r->attachments)) + round8(r->arena_len);
}

static uint8_t *put_part(uint8_t *out, const void *p, size_t n)
{
    if (n > 0) {
        memcpy(out, p, n);
    }
    memset(out + n, 0, round8(n) - n);
    return out + round8(n);
}

void record_pack(const struct session_record *r, uint8_t *out)
{
    struct session_record flat = *r;
    flat.exchanges = NULL;
    flat.messages = NULL;
    flat.attachments = NULL;
    flat.arena = NULL;
    out = put_part(out, &flat, sizeof(flat));
    out = put_part(out, r->exchanges, (size_t)r->n_exchanges * sizeof(*r->exchanges));
    out = put_part(out, r->messages, (size_t)r->n_messages * sizeof(*r->messages));
    out = put_part(out, r->attachments, (size_t)r->n_attachments * sizeof(*r->attachments));
    put_part(out, r->arena, r->arena_len);
}

bool record_unpack(uint8_t *buf, size_t len, struct session_record *out)
{
    if (len < round8(sizeof(*out)) || ((uintptr_t)buf & 7) != 0) {
        return false;
    }
    memcpy(out, buf, sizeof(*out));
    size_t parts[4] = {(size_t)out->n_exchanges * sizeof(*out->exchanges),
                       (size_t)out->n_messages * sizeof(*out->messages),
                       (size_t)out->n_attachments * sizeof(*out->attachments), out->arena_len};
    size_t off = round8(sizeof(*out));
    uint8_t *at[4];
    for (int i = 0; i < 4; i++) {
        if (parts[i] > len - off || round8(parts[i]) > len - off) {
            return false;
        }
        at[i] = parts[i] > 0 ? buf + off : NULL;
        off += round8(parts[i]);
    }
    if (off != len) {
        return false;
    }
    out->exchanges = (struct record_exchange *)(void *)at[0];
    out->messages = (struct record_message *)(void *)at[1];
    out->attachments = (struct record_attachment *)(void *)at[2];
    out->arena = at[3];
    return true;
}
