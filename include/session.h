/*
 * session.h - the SMTP session state machine and the table of sessions.
 *
 * Role: owns one parser per direction for every open session, pairs replies
 * with commands (FIFO, so PIPELINING works), follows the protocol phase
 * (greeting, commands, transaction, content, TLS), times every exchange
 * from the packet timestamps it is given, and when the session ends decides
 * its close label and hands the finished record to the sink.  It knows
 * nothing of pcap, libnids or output formats: the TCP glue calls in with
 * bytes, a direction and a time; the sink receives records.
 *
 * Output order: records leave in session id order (ids follow the order in
 * which connections were established).  A finished record waits while an
 * older session is still open, up to order_window records; past that the
 * oldest waiting record is written early and counted as out of order.
 *
 * RFC 5321 3 (procedures), 4.2 and 4.3 (replies and sequencing), RFC 2920
 * (pipelining), RFC 3030 (BDAT), RFC 3207 (STARTTLS), RFC 4954 (AUTH).
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef SESSION_H
#define SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flow.h"
#include "order_heap.h"
#include "pool.h"
#include "record.h"
#include "smtp_parse.h"

#define SESSION_STATE_MAP(XX)                                                  \
    XX(GREETING_WAIT, "greeting_wait")                                         \
    XX(COMMANDS, "commands")                                                   \
    XX(TRANSACTION, "transaction")                                             \
    XX(CONTENT, "content")                                                     \
    XX(TLS, "tls")                                                             \
    XX(ENDED, "ended")

enum session_state {
#define XX(id, str) SESSION_##id,
    SESSION_STATE_MAP(XX)
#undef XX
};

struct session;

/* Receives each finished record once; r is valid only during the call. */
struct session_sink {
    void (*emit)(void *ctx, const struct session_record *r);
    void *ctx;
};

/* What a content sink reports back about a finished message; spans are
 * valid during the end call only (the session copies them). */
#define SESSION_INFO_ATTACHMENTS 32
struct session_message_info {
    struct span file, sha256, from, to, cc, subject, date, message_id;
    uint64_t size;
    uint32_t n_attachments;
    struct {
        struct span filename, content_type, sha256;
        uint64_t size;
    } attachments[SESSION_INFO_ATTACHMENTS];
};

/*
 * Optional receiver of message content (--extract).  begin() is called
 * when content starts (after 354, or with the first BDAT chunk); data()
 * with the bytes as sent (DATA still dot-stuffed with its final "." line,
 * BDAT as is); end() once the final reply is known (reply is its exchange,
 * or NULL when the session ended first), with *info to fill.  r is the
 * record so far, read-only, valid during the call.
 */
struct session_content_sink {
    void *ctx;
    void *(*begin)(void *ctx, const struct session_record *r, uint32_t msg_no, int64_t start_us);
    void (*data)(void *msg, const uint8_t *p, size_t n, bool is_bdat);
    void (*end)(void *ctx, void *msg, const struct session_record *r,
                const struct record_exchange *reply, int64_t end_us,
                struct session_message_info *info);
};

struct session_config {
    const struct port_set *implicit_tls; /* server ports opaque from the start (NULL: none) */
    int64_t idle_timeout_us;      /* 0: sessions never go idle */
    int64_t idle_timeout_data_us; /* while message content is due */
    size_t order_window;          /* 0: write records as they finish */
    size_t glue_size;             /* bytes reserved per session for the caller */
    uint64_t prefetch_above;      /* open sessions past which feeding prefetches */
    struct session_content_sink content; /* begin NULL: no content kept */
    /* Called while server bytes are parsed, as soon as a reply has made
     * session_client_resume() true: the caller offers the client bytes it
     * holds (as after session_feed() returns), so that they come before
     * the server's next reply.  NULL: the caller does so after the call. */
    void (*resume_client)(void *ctx, struct session *s);
    void *resume_ctx;
};

struct session_table_stats {
    uint64_t n_opened;
    uint64_t n_emitted;
    uint64_t n_open;
    uint64_t n_out_of_order;
    uint64_t n_alloc_failed;
};

/* Where sessions and their small exchange lists and texts come from. */
struct session_pools {
    struct pool sessions;
    struct pool exchanges_small;
    struct pool exchanges_mid;
    struct pool text_small;
    struct pool text_mid;
    struct pool captures; /* msghdr captures, one per session in message content */
};

struct session_table {
    struct session_config cfg;
    struct session_sink sink;
    uint64_t next_id;
    struct session *by_age_head;  /* open sessions, oldest id first */
    struct session *by_age_tail;
    struct session *idle_head;    /* open sessions, least recently active first */
    struct session *idle_tail;
    struct order_item *finished;  /* min-heap on id (order_heap.h), capacity order_window + 1 */
    struct session_pools pools;
    size_t n_finished;
    struct session_table_stats stats;
    uint8_t input;                /* capture file of the packet being fed: a session opened now came from it */
};

/* Prepares t; returns false when memory for the order window is lacking. */
bool session_table_init(struct session_table *t, const struct session_config *cfg,
                        struct session_sink sink);
/* Emits every finished record still waiting, in id order. */
void session_table_flush(struct session_table *t);
/* Frees t.  Open sessions must have been ended first. */
void session_table_free(struct session_table *t);

/*
 * Opens a session for an established connection.  Times may be -1 when
 * not seen.  Returns NULL when memory runs out (counted in stats).  The
 * session belongs to the table; the caller keeps the pointer until it
 * calls session_end().
 */
struct session *session_open(struct session_table *t, const struct record_endpoint *client,
                             const struct record_endpoint *server, int64_t syn_us,
                             int64_t synack_us, int64_t est_us);

/*
 * Marks s as picked up mid-stream: no greeting is expected, and until each
 * direction shows a line that is clearly a command (client) or a reply
 * (server), its lines are skipped, since they may be the middle of a
 * message or of a multi-line reply.
 */
void session_set_midstream(struct session *s);

/* A session and the caller's glue (SESSION_GLUE_ROOM bytes) fill one pool
 * slot of SESSION_SLOT_BYTES (16-byte aligned). */
#define SESSION_SLOT_BYTES 576
#define SESSION_GLUE_ROOM 72

/* The cfg.glue_size bytes reserved for the caller in s (zeroed at open;
 * aligned for pointers and 64-bit integers). */
void *session_glue(struct session *s);

/* The record so far (read-only view for the caller). */
const struct session_record *session_record_view(const struct session *s);

/*
 * Feeds bytes that arrived in direction dir.  buf[0..held) are bytes this
 * function declined last time (the caller kept them), buf[held..len) are
 * new, all from the packet stamped now_us.  Returns how many bytes of buf
 * were consumed; the caller must keep the rest and offer them first next
 * time.  The rest is always shorter than SMTP_LINE_CAP.  buf is borrowed
 * for the call only.
 */
size_t session_feed(struct session_table *t, struct session *s, enum smtp_dir dir,
                    const uint8_t *buf, size_t len, size_t held, int64_t now_us);

/*
 * After a client DATA or STARTTLS, session_feed() stops consuming client
 * bytes until that command's reply decides their framing (354: content,
 * 220: TLS, anything else: commands).  Once such a reply has been fed,
 * this returns true, once: the caller then offers the client bytes it
 * holds again (all of them counted as held), at the current time.
 */
bool session_client_resume(struct session *s);

/*
 * n_missing bytes of direction dir are missing from the capture here (the
 * peer acknowledged them, or they never came).  The caller drops what it
 * held of that direction, unless session_client_resume() then says to
 * offer it (client bytes held behind DATA: the message, sent on before
 * its 354).  The session counts them (gap_bytes, flag
 * stream_gap) and resynchronises: client lines at the next known verb,
 * message content at its end-of-data line or the server's next reply,
 * server lines at the next line shaped like a reply; commands whose
 * replies may have been in the hole are paired by what the next replies
 * say, never with a reply that cannot be theirs.
 */
void session_gap(struct session *s, enum smtp_dir dir, uint64_t n_missing);

/*
 * The peer answered while buf[0..len) of direction dir, a line without its
 * LF that the caller holds, was all dir had sent, and had acknowledged it:
 * to the peer that line was complete (a greeting or command sent without
 * CRLF).  The session reads it as a line flagged unterminated, if it looks
 * like a reply (server) or a command (client) in line mode, and returns
 * the bytes it took (the caller drops them), else 0.
 */
size_t session_line_done(struct session_table *t, struct session *s, enum smtp_dir dir,
                         const uint8_t *buf, size_t len, int64_t now_us);

/* The capture holds no packets of side missing (RECORD_SIDE_CLIENT or
 * _SERVER): the session is flagged one_sided and reads the other side
 * alone (a DATA command goes on as if 354 came). */
void session_set_one_sided(struct session *s, enum record_side missing);

/* A segment of the session was captured before segmentation offload. */
void session_note_offload(struct session *s);

/* TCP facts seen by the glue: FIN or RST sent by side dir. */
void session_note_fin(struct session *s, enum smtp_dir dir, int64_t now_us);
void session_note_rst(struct session *s, enum smtp_dir dir, int64_t now_us, bool had_payload);
/* Any packet of the session, for the idle clock. */
void session_note_activity(struct session_table *t, struct session *s, int64_t now_us);

/* Why and how a session ended, as the glue knows it. */
struct session_end {
    enum record_end reason;
    const uint8_t *tail[2]; /* bytes still held per direction, or NULL */
    size_t tail_len[2];
    bool gap[2];            /* bytes of this direction never delivered */
    uint8_t missing_side;   /* enum record_side the capture lacks, or NONE */
    int64_t now_us;
};

/*
 * Ends s: parses the held tails as unterminated lines, classifies the
 * close and queues the record for output.  s must not be used afterwards.
 */
void session_end(struct session_table *t, struct session *s, const struct session_end *end);

/*
 * The least recently active session if it has been idle past its timeout
 * at now_us, else NULL.  The caller ends it (reason RECORD_END_IDLE).
 */
struct session *session_idle_candidate(struct session_table *t, int64_t now_us);

/*
 * A packet time before which session_idle_candidate() finds nothing, even
 * for a session opened now (so a caller may skip asking until then); at
 * least now_us.  INT64_MAX when sessions never go idle.
 */
int64_t session_idle_check_us(const struct session_table *t, int64_t now_us);

/* The oldest open session, or NULL: for ending everything at exit. */
struct session *session_oldest_open(struct session_table *t);

const char *session_state_name(enum session_state state);

#endif
