/*
 * record.c - printable names for record enums, the derived times every
 * writer formats, and a record packed flat to cross a process boundary
 * (see record.h).
 *
 * SPDX-License-Identifier: MIT
 */
#include "record.h"

#include <arpa/inet.h>
#include <endian.h>
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

static const char *const txn_end_names[] = {
#define XX(id, str) str,
    RECORD_TXN_END_MAP(XX)
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

const char *record_txn_end_name(enum record_txn_end e)
{
    return NAME_OF(txn_end_names, e);
}

/* ---- mail transactions ----------------------------------------------------- */

static bool is_command(const struct record_exchange *x, enum smtp_verb verb)
{
    return x->kind == RECORD_KIND_COMMAND && x->verb == verb;
}

static bool is_hello(const struct record_exchange *x)
{
    return is_command(x, SMTP_VERB_HELO) || is_command(x, SMTP_VERB_EHLO) ||
           is_command(x, SMTP_VERB_LHLO);
}

/* What opens a transaction: MAIL, or a later step whose MAIL was not seen. */
static bool opens_txn(const struct record_exchange *x)
{
    return x->kind == RECORD_KIND_MESSAGE || is_command(x, SMTP_VERB_MAIL) ||
           is_command(x, SMTP_VERB_RCPT) || is_command(x, SMTP_VERB_DATA) ||
           is_command(x, SMTP_VERB_BDAT);
}

/* Reads the transaction's members from x on; returns how it ended. */
static enum record_txn_end txn_members(const struct session_record *r, uint32_t from,
                                       struct record_txn *t)
{
    for (uint32_t j = from; j < r->n_exchanges; j++) {
        const struct record_exchange *y = &r->exchanges[j];
        t->end = j; /* a command that ends it is not its own */
        if (y->kind == RECORD_KIND_MESSAGE) {
            t->size = y->size;
            t->has_size = true;
            t->final = j;
            t->end = j + 1;
            return RECORD_TXN_END_DATA;
        }
        if (y->kind != RECORD_KIND_COMMAND) {
            continue;
        }
        switch ((enum smtp_verb)y->verb) {
        case SMTP_VERB_MAIL:
            return RECORD_TXN_END_MAIL;
        case SMTP_VERB_HELO:
        case SMTP_VERB_EHLO:
        case SMTP_VERB_LHLO:
            return RECORD_TXN_END_HELO;
        case SMTP_VERB_QUIT:
            return RECORD_TXN_END_QUIT;
        case SMTP_VERB_STARTTLS:
            return RECORD_TXN_END_STARTTLS;
        case SMTP_VERB_RSET:
            t->end = j + 1;
            return RECORD_TXN_END_RSET;
        case SMTP_VERB_DATA:
            if (y->code != 0 && y->code != 354) {
                t->final = j; /* refused (or failed) before any content */
            }
            break;
        case SMTP_VERB_BDAT:
            t->size += y->size;
            t->has_size = true;
            if (y->bdat_last) {
                t->final = j;
                t->end = j + 1;
                return RECORD_TXN_END_BDAT;
            }
            break;
        default:
            break;
        }
    }
    t->end = r->n_exchanges;
    return RECORD_TXN_END_SESSION;
}

bool record_next_txn(const struct session_record *r, struct record_txn_cursor *c,
                     struct record_txn *t)
{
    for (uint32_t i = c->next; i < r->n_exchanges; i++) {
        const struct record_exchange *x = &r->exchanges[i];
        if (is_hello(x)) {
            c->helo = i;
            continue;
        }
        if (!opens_txn(x)) {
            continue;
        }
        memset(t, 0, sizeof(*t));
        t->helo = c->helo;
        t->first = i;
        t->final = RECORD_NONE;
        t->message = RECORD_NONE;
        bool is_mail = is_command(x, SMTP_VERB_MAIL);
        t->mail = is_mail ? i : RECORD_NONE;
        t->ended_by = (uint8_t)txn_members(r, is_mail ? i + 1 : i, t);
        c->next = t->end > i ? t->end : i + 1;
        for (uint32_t m = 0; t->final != RECORD_NONE && m < r->n_messages; m++) {
            if (r->messages[m].exchange == t->final) {
                t->message = m;
                break;
            }
        }
        return true;
    }
    c->next = r->n_exchanges;
    return false;
}

struct span record_path_of(struct span arg)
{
    const uint8_t *p = arg.ptr;
    size_t n = arg.len;
    /* "FROM:" or "TO:" ends at the first colon, unless a bracket or a
     * space comes first (an IPv6 literal's colons are the path's). */
    for (size_t i = 0; i < n && p[i] != '<' && p[i] != ' '; i++) {
        if (p[i] == ':') {
            p += i + 1;
            n -= i + 1;
            break;
        }
    }
    while (n > 0 && (*p == ' ' || *p == '\t')) {
        p++;
        n--;
    }
    if (n > 0 && *p == '<') {
        const uint8_t *close = memchr(p + 1, '>', n - 1);
        return span_make(p + 1, close != NULL ? (size_t)(close - p - 1) : n - 1);
    }
    size_t word = 0;
    while (word < n && p[word] != ' ' && p[word] != '\t') {
        word++;
    }
    return span_make(p, word);
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

/* ---- identity ------------------------------------------------------------ */

static size_t put_be(uint8_t *p, uint64_t v, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        p[n - 1 - i] = (uint8_t)(v >> (8 * i));
    }
    return (size_t)n;
}

static size_t put_endpoint_bytes(uint8_t *p, const struct record_endpoint *e)
{
    memset(p, 0, 16);
    memcpy(p, e->addr, e->family == 6 ? 16 : 4);
    return 16 + put_be(p + 16, e->port, 2);
}

/*
 * SipHash-2-4 with its 128-bit output (J.-P. Aumasson, D. J. Bernstein,
 * "SipHash: a fast short-input PRF", and the authors' note on the 128-bit
 * variant), written from the paper.  The uid used SHA-256 before: some
 * 3,200 instructions a record for a name, where this takes a few hundred.
 * The key is a fixed public constant: the uid names a session, it does not
 * prove anything, and a 100-bit output keeps accidental collisions out of
 * reach (about n^2 / 2^101 for n sessions).
 */
static uint64_t rotl64(uint64_t x, int b)
{
    return (x << b) | (x >> (64 - b));
}

#define SIP_ROUND(v0, v1, v2, v3)                                              \
    do {                                                                       \
        v0 += v1;                                                              \
        v1 = rotl64(v1, 13);                                                   \
        v1 ^= v0;                                                              \
        v0 = rotl64(v0, 32);                                                   \
        v2 += v3;                                                              \
        v3 = rotl64(v3, 16);                                                   \
        v3 ^= v2;                                                              \
        v0 += v3;                                                              \
        v3 = rotl64(v3, 21);                                                   \
        v3 ^= v0;                                                              \
        v2 += v1;                                                              \
        v1 = rotl64(v1, 17);                                                   \
        v1 ^= v2;                                                              \
        v2 = rotl64(v2, 32);                                                   \
    } while (0)

/* The n (at most 8) bytes at p as a little-endian number: one load. */
static uint64_t le64(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    memcpy(&v, p, n);
    return le64toh(v);
}

/* SipHash-2-4-128 fed in pieces: whole 8-byte words are taken as they
 * come, a word split between pieces waits in buf. */
struct sip {
    uint64_t v0, v1, v2, v3;
    uint8_t buf[8];
    size_t nbuf;
    uint64_t total;
};

static void sip_init(struct sip *s, uint64_t k0, uint64_t k1)
{
    s->v0 = k0 ^ 0x736f6d6570736575ULL;
    s->v1 = k1 ^ 0x646f72616e646f6dULL ^ 0xee;
    s->v2 = k0 ^ 0x6c7967656e657261ULL;
    s->v3 = k1 ^ 0x7465646279746573ULL;
    s->nbuf = 0;
    s->total = 0;
}

static void sip_word(struct sip *s, uint64_t w)
{
    s->v3 ^= w;
    SIP_ROUND(s->v0, s->v1, s->v2, s->v3);
    SIP_ROUND(s->v0, s->v1, s->v2, s->v3);
    s->v0 ^= w;
}

static void sip_update(struct sip *s, const uint8_t *p, size_t n)
{
    s->total += n;
    if (s->nbuf > 0) {
        size_t take = n < 8 - s->nbuf ? n : 8 - s->nbuf;
        memcpy(s->buf + s->nbuf, p, take);
        s->nbuf += take;
        p += take;
        n -= take;
        if (s->nbuf < 8) {
            return;
        }
        sip_word(s, le64(s->buf, 8));
        s->nbuf = 0;
    }
    for (; n >= 8; p += 8, n -= 8) {
        sip_word(s, le64(p, 8));
    }
    if (n > 0) {
        memcpy(s->buf, p, n);
        s->nbuf = n;
    }
}

/* The 16 bytes of the hash: the two 64-bit halves, each little-endian. */
static void sip_final128(struct sip *s, uint8_t out[16])
{
    sip_word(s, (s->total << 56) | le64(s->buf, s->nbuf));
    s->v2 ^= 0xee;
    for (int i = 0; i < 4; i++) {
        SIP_ROUND(s->v0, s->v1, s->v2, s->v3);
    }
    uint64_t h0 = s->v0 ^ s->v1 ^ s->v2 ^ s->v3;
    s->v1 ^= 0xdd;
    for (int i = 0; i < 4; i++) {
        SIP_ROUND(s->v0, s->v1, s->v2, s->v3);
    }
    uint64_t h1 = s->v0 ^ s->v1 ^ s->v2 ^ s->v3;
    for (int i = 0; i < 8; i++) {
        out[i] = (uint8_t)(h0 >> (8 * i));
        out[8 + i] = (uint8_t)(h1 >> (8 * i));
    }
}

/* Eight bytes at p as a big-endian number. */
static uint64_t be64_of(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return be64toh(v);
}

/* The key: the 16 ASCII bytes "smtpscope uid v2", read little-endian. */
#define UID_K0 0x706f637370746d73ULL /* "smtpscop" */
#define UID_K1 0x3276206469752065ULL /* "e uid v2" */

void record_uid(const struct session_record *r, const char *sensor, size_t sensor_len,
                char out[RECORD_UID_LEN])
{
    static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz234567";
    if (sensor_len > UINT16_MAX) {
        sensor_len = UINT16_MAX;
    }
    uint8_t head[3];
    head[0] = 2; /* the derivation's version */
    put_be(head + 1, sensor_len, 2);
    uint8_t tail[8 + 1 + 2 * 18 + 1];
    size_t n = put_be(tail, (uint64_t)record_start_us(r), 8);
    tail[n++] = r->client.family;
    n += put_endpoint_bytes(tail + n, &r->client);
    n += put_endpoint_bytes(tail + n, &r->server);
    tail[n++] = 6; /* TCP */
    struct sip h;
    sip_init(&h, UID_K0, UID_K1);
    sip_update(&h, head, sizeof(head));
    if (sensor_len > 0) {
        sip_update(&h, (const uint8_t *)sensor, sensor_len);
    }
    sip_update(&h, tail, n);
    uint8_t digest[16];
    sip_final128(&h, digest);
    /* 20 groups of 5 bits, most significant first: bits 0-59 are the top
     * of the first eight bytes read big-endian, then four bits of it and
     * one of the next eight, then 35 more of those. */
    uint64_t hi = be64_of(digest);
    uint64_t lo = be64_of(digest + 8);
    out[0] = 'S';
    for (int i = 0; i < 12; i++) {
        out[1 + i] = alphabet[(hi >> (59 - 5 * i)) & 31];
    }
    out[13] = alphabet[((hi & 15) << 1) | (lo >> 63)];
    for (int i = 0; i < 7; i++) {
        out[14 + i] = alphabet[(lo >> (58 - 5 * i)) & 31];
    }
    out[21] = '\0';
}

/* n digits of v at p, zero-padded. */
static void put_digits(char *p, unsigned v, int n)
{
    for (int i = n - 1; i >= 0; i--) {
        p[i] = (char)('0' + v % 10);
        v /= 10;
    }
}

/*
 * Formatted here rather than by gmtime_r() and snprintf(), which cost
 * some 4,000 instructions a record.  Days to a civil date in the
 * proleptic Gregorian calendar: the count is shifted to start on
 * 0000-03-01, so that each 400-year era has 146,097 days and the leap
 * day ends a year (the method of H. Hinnant's "chrono-Compatible
 * Low-Level Date Algorithms").
 */
bool record_ts_format(int64_t us, char out[RECORD_TS_LEN])
{
    /* 253402300800: 10000-01-01T00:00:00Z */
    out[0] = '\0';
    if (us < 0 || us / 1000000 >= 253402300800LL) {
        return false;
    }
    int64_t secs = us / 1000000;
    unsigned frac = (unsigned)(us % 1000000);
    unsigned day_secs = (unsigned)(secs % 86400);
    int64_t days = secs / 86400 + 719468; /* from 0000-03-01 */
    unsigned era = (unsigned)(days / 146097);
    unsigned doe = (unsigned)(days - (int64_t)era * 146097);          /* [0, 146096] */
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* [0, 399] */
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);           /* [0, 365] */
    unsigned mp = (5 * doy + 2) / 153;                                /* March = 0 */
    unsigned day = doy - (153 * mp + 2) / 5 + 1;
    unsigned month = mp < 10 ? mp + 3 : mp - 9;
    unsigned year = yoe + era * 400 + (month <= 2);
    memcpy(out, "0000-00-00T00:00:00.000000Z", RECORD_TS_LEN);
    put_digits(out, year, 4);
    put_digits(out + 5, month, 2);
    put_digits(out + 8, day, 2);
    put_digits(out + 11, day_secs / 3600, 2);
    put_digits(out + 14, day_secs / 60 % 60, 2);
    put_digits(out + 17, day_secs % 60, 2);
    put_digits(out + 20, frac, 6);
    return true;
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
