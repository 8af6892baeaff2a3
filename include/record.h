/*
 * record.h - the finished account of one SMTP session, as writers see it.
 *
 * Role: the session module fills a struct session_record while the session
 * runs and hands it, read-only, to the output sink once the session ends.
 * Writers see only this header and escape.h.  Every string here is a copy
 * of wire bytes into the record's own arena, bounded in length but NOT
 * escaped: writers must pass it through escape.h before printing it.
 * Times are integer microseconds since the Unix epoch, from packet
 * timestamps; -1 means "not seen".
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef RECORD_H
#define RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "smtp_limits.h"
#include "smtp_parse.h"
#include "span.h"
#include "verdict.h"

#define RECORD_KIND_MAP(XX)                                                    \
    XX(COMMAND, "command")                                                     \
    XX(MESSAGE, "<message>")                                                   \
    XX(AUTH_LINE, "<auth>")                                                    \
    XX(UNSOLICITED, "unsolicited")                                             \
    XX(GREETING, "greeting")

enum record_kind {
#define XX(id, str) RECORD_KIND_##id,
    RECORD_KIND_MAP(XX)
#undef XX
};

/* A piece of text held in the record's arena. */
struct record_text {
    uint32_t off;
    uint32_t len;
};

/* One command (or message, or AUTH line) and the reply it got. */
struct record_exchange {
    uint8_t kind;    /* enum record_kind */
    uint8_t verb;    /* enum smtp_verb */
    uint16_t code;   /* reply code; 0 when no reply came */
    uint16_t n_lines; /* lines of the reply */
    uint16_t anomalies; /* smtp_line_anomaly bits of command and reply */
    bool bdat_last;     /* a BDAT ... LAST chunk */
    struct smtp_enhanced enhanced;
    /* An exchange has a verb as sent (kind COMMAND, verb UNKNOWN) or a
     * size (kind MESSAGE, or a BDAT command), never both: they share room,
     * so an exchange is one 64-byte cache line. */
    union {
        struct record_text verb_text; /* the verb as sent, for unknown verbs */
        uint64_t size;                /* message octets, or BDAT chunk size */
    };
    struct record_text arg;
    struct record_text text; /* first reply line's text */
    int64_t cmd_us;          /* segment that completed the command */
    int64_t reply_first_us;  /* first byte of the reply */
    int64_t reply_last_us;   /* segment that completed the last line */
};
_Static_assert(sizeof(struct record_exchange) == 64, "an exchange is one cache line");

/* Which member of the shared room an exchange uses (neither: both zero). */
static inline bool record_has_verb_text(const struct record_exchange *x)
{
    return x->kind == RECORD_KIND_COMMAND && x->verb == SMTP_VERB_UNKNOWN;
}

static inline bool record_has_size(const struct record_exchange *x)
{
    return x->kind == RECORD_KIND_MESSAGE ||
           (x->kind == RECORD_KIND_COMMAND && x->verb == SMTP_VERB_BDAT);
}

#define RECORD_END_MAP(XX)                                                     \
    XX(OPEN, "open")                                                           \
    XX(FIN, "fin")                                                             \
    XX(RST, "rst")                                                             \
    XX(END_OF_INPUT, "end_of_input")                                           \
    XX(IDLE, "idle_timeout")                                                   \
    XX(EVICTED, "evicted")                                                     \
    XX(PORT_REUSED, "port_reused")                                             \
    XX(STOPPED, "capture_stopped")

enum record_end {
#define XX(id, str) RECORD_END_##id,
    RECORD_END_MAP(XX)
#undef XX
};

#define RECORD_TLS_MAP(XX)                                                     \
    XX(NONE, "")                                                               \
    XX(STARTTLS, "starttls")                                                   \
    XX(IMPLICIT, "implicit")

enum record_tls {
#define XX(id, str) RECORD_TLS_##id,
    RECORD_TLS_MAP(XX)
#undef XX
};

enum record_side { RECORD_SIDE_NONE = 0, RECORD_SIDE_CLIENT, RECORD_SIDE_SERVER };

struct record_endpoint {
    uint8_t family; /* 4 or 6 */
    uint8_t addr[16];
    uint16_t port;
};

/* A message seen in clear: its headers, and with --extract its files and
 * MIME summary (without, file and sha256 are empty, no attachments). */
struct record_message {
    uint32_t exchange;               /* its <message> or BDAT exchange; UINT32_MAX if none */
    struct record_text file;         /* NAME.eml inside the extract directory */
    struct record_text sha256;
    uint64_t size;
    struct record_text from, to, cc, subject, date, message_id;
    uint32_t first_attachment;       /* index into attachments */
    uint32_t n_attachments;
};

struct record_attachment {
    struct record_text filename;
    struct record_text content_type;
    struct record_text sha256;
    uint64_t size;
};

/* Fields grouped by size: one of these lives in every open session. */
struct session_record {
    uint64_t id;
    int64_t syn_us;      /* first SYN; -1 if not captured */
    int64_t synack_us;   /* first SYN/ACK */
    int64_t est_us;      /* client's handshake ACK */
    int64_t last_us;     /* last packet of the session seen */
    uint64_t message_bytes;
    uint64_t bytes[2];     /* payload octets per smtp_dir */
    uint64_t gap_bytes[2]; /* octets per smtp_dir missing from the capture */
    uint64_t flags;        /* VERDICT_FLAG_BIT()s */
    struct record_exchange greeting;
    struct record_exchange *exchanges;
    struct record_message *messages;       /* only with --extract */
    struct record_attachment *attachments;
    const uint8_t *arena;  /* text storage; spans above index into it */
    struct record_endpoint client;
    struct record_endpoint server;
    uint32_t n_exchanges;
    uint32_t n_exchanges_dropped;
    struct record_text extensions; /* EHLO keywords, '\n' between them */
    uint32_t n_extensions;
    uint32_t messages_attempted;
    uint32_t messages_accepted;
    struct record_text auth_mechanism;
    struct record_text auth_user;
    uint32_t n_messages;
    uint32_t n_attachments;
    uint32_t arena_len;
    uint16_t auth_code;    /* final reply to AUTH, 0 if none */
    bool has_greeting;
    bool is_midstream;   /* no handshake captured: est_us is the first packet */
    uint8_t tls;           /* enum record_tls */
    uint8_t end;           /* enum record_end */
    uint8_t closer;        /* enum record_side: first FIN or RST */
    uint8_t label;         /* enum verdict_label */
    uint8_t missing_side;  /* enum record_side whose packets the capture lacks */
    uint8_t input;         /* index of the capture file (-r, in order) of its first packet */
    bool messages_extracted; /* messages[] are --extract's (files written), not headers only */
};

/*
 * Derived times (docs/timing.md), each computed here once for every writer
 * and for the statistics, so that no two of them can disagree; -1 when
 * unknown.  start: the first SYN, else the handshake ACK.  connect: SYN to
 * SYN/ACK.  banner: handshake ACK to the greeting's first byte, unknown
 * for a session picked up mid-stream (no handshake to measure from).
 */
int64_t record_start_us(const struct session_record *r);
int64_t record_connect_us(const struct session_record *r);
int64_t record_banner_us(const struct session_record *r);
/* An exchange's reply latency (command complete to the reply's first
 * byte) and completion (to the reply's last line). */
int64_t record_latency_us(const struct record_exchange *x);
int64_t record_complete_us(const struct record_exchange *x);
/* When an exchange happened: its command, or the reply's first byte when
 * no command was seen (greeting, unsolicited reply); -1 when unknown. */
int64_t record_exchange_at_us(const struct record_exchange *x);
/* The same from the session's start_us (record_start_us): the JSON's t_ms
 * and the report's offset column.  -1 when unknown. */
int64_t record_offset_us(int64_t start_us, const struct record_exchange *x);
/* The session's last packet, never before its start, and how long it lasted. */
int64_t record_end_us(const struct session_record *r);
int64_t record_duration_us(const struct session_record *r);

/*
 * The session's uid: "S" and 20 characters of base32 (RFC 4648 alphabet,
 * lower case), the first 100 bits of SipHash-2-4 with 128-bit output
 * (the two 64-bit halves, each little-endian; the key the 16 ASCII bytes
 * "smtpscope uid v2") over, in this order: a version byte (2); the sensor
 * name's length (2 bytes, big-endian) and bytes; record_start_us() (8
 * bytes, big-endian two's complement); the address family (4 or 6); the
 * client's address (16 bytes, an IPv4 address in the first 4, zeros
 * after) and port (2 bytes, big-endian); the server's the same; the
 * protocol (6).  The same session seen by the same sensor always gets the
 * same uid (a capture read twice, or by the workers); another sensor, or
 * another connection, another one.  A name, not a proof: the key is
 * public, and 100 bits keep accidental collisions out of reach.  (Version
 * 1 used SHA-256, ten times the cost.)  sensor need not be
 * NUL-terminated; out gets RECORD_UID_LEN bytes, NUL included.
 */
#define RECORD_UID_LEN 22
void record_uid(const struct session_record *r, const char *sensor, size_t sensor_len,
                char out[RECORD_UID_LEN]);

/*
 * A packet time as ISO 8601 in UTC with microseconds,
 * "2026-11-21T10:11:47.933016Z", into out (RECORD_TS_LEN bytes, NUL
 * included).  false (out empty) for a time before the epoch (-1: not
 * seen) or after year 9999, which ISO 8601's basic form cannot write.
 */
#define RECORD_TS_LEN 28
bool record_ts_format(int64_t us, char out[RECORD_TS_LEN]);

/* ---- mail transactions, derived from the exchanges ---------------------- */

#define RECORD_NONE UINT32_MAX

/* How a transaction ended: its message's end (DATA content, or BDAT ...
 * LAST), RSET, a new MAIL, a new HELO/EHLO/LHLO, QUIT or STARTTLS (RFC
 * 5321 4.1.4, RFC 3207 4.2), or the session's end. */
#define RECORD_TXN_END_MAP(XX)                                                 \
    XX(DATA, "data")                                                           \
    XX(BDAT, "bdat")                                                           \
    XX(RSET, "rset")                                                           \
    XX(MAIL, "mail")                                                           \
    XX(HELO, "helo")                                                           \
    XX(QUIT, "quit")                                                           \
    XX(STARTTLS, "starttls")                                                   \
    XX(SESSION, "session_end")

enum record_txn_end {
#define XX(id, str) RECORD_TXN_END_##id,
    RECORD_TXN_END_MAP(XX)
#undef XX
};

/*
 * One mail transaction (RFC 5321 3.3): from a MAIL command (or, when the
 * capture lacks it, the first RCPT, DATA, BDAT or message content) to
 * how it ended.  Every member is an index into r->exchanges, or
 * RECORD_NONE.  The recipients are the RCPT exchanges in [first, end).
 * final is the exchange whose reply settled the message: its <message>
 * or BDAT ... LAST exchange, else a DATA refused outright; message the
 * index into r->messages of its headers (content seen in clear).
 */
struct record_txn {
    uint32_t helo;    /* the last HELO, EHLO or LHLO before it */
    uint32_t mail;
    uint32_t first;
    uint32_t end;     /* one past its last exchange */
    uint32_t final;
    uint32_t message;
    uint64_t size;    /* message octets: the <message>'s, or the BDAT chunks' sum */
    bool has_size;
    uint8_t ended_by; /* enum record_txn_end */
};

struct record_txn_cursor {
    uint32_t next;
    uint32_t helo;
};

/* Starts a walk over r's transactions. */
static inline struct record_txn_cursor record_txn_start(void)
{
    return (struct record_txn_cursor){0, RECORD_NONE};
}

/* The next transaction into *t; false when there are no more.  Derived
 * from the exchanges kept (exchanges_dropped are not seen). */
bool record_next_txn(const struct session_record *r, struct record_txn_cursor *c,
                     struct record_txn *t);

/* The path in a MAIL FROM:<...> or RCPT TO:<...> argument: the text
 * between "<" and ">" (empty for the null path "<>"), or without brackets
 * the first word after the colon.  A span into arg (borrowed). */
struct span record_path_of(struct span arg);

const char *record_txn_end_name(enum record_txn_end e);

/* The text t as a span into r's arena. */
static inline struct span record_span(const struct session_record *r, struct record_text t)
{
    /* A record that kept no text has no arena: no pointer arithmetic on NULL. */
    return r->arena != NULL ? span_make(r->arena + t.off, t.len) : span_make("", 0);
}

/* The EHLO keywords one at a time: *cursor starts at 0; false at the end. */
bool record_next_extension(const struct session_record *r, uint32_t *cursor, struct span *out);

/* Room for any endpoint as text: "[" IPv6 (45) "]:" port (5) and NUL. */
/*
 * A record as one flat buffer, to cross a process boundary (the workers
 * and the writer are different processes of one program, so the layout
 * is the same on both sides): record_pack() writes record_packed_size()
 * bytes; record_unpack() points out's arrays into buf (8-byte aligned),
 * false if the sizes inside disagree with len.
 */
size_t record_packed_size(const struct session_record *r);
void record_pack(const struct session_record *r, uint8_t *out);
bool record_unpack(uint8_t *buf, size_t len, struct session_record *out);

#define RECORD_ENDPOINT_TEXT_MAX 56
/* "192.0.2.1:25" or "[2001:db8::1]:25" into out (cap bytes). */
void record_endpoint_format(char *out, size_t cap, const struct record_endpoint *e);

const char *record_kind_name(enum record_kind kind);
const char *record_end_name(enum record_end end);
const char *record_tls_name(enum record_tls tls);

#endif
