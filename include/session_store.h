/*
 * session_store.h - where a session lives: the layout of struct session,
 * and its storage, shared by the protocol machine (session.c) and the
 * storage (session_store.c).  Not for other modules: they see session.h.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef SESSION_STORE_H
#define SESSION_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "msghdr.h"
#include "session.h"

/* A reply being assembled from its lines. */
struct reply_acc {
    int64_t first_us;
    struct record_text text;
    struct smtp_enhanced enhanced;
    uint16_t code;
    uint16_t n_lines;
    uint16_t anomalies;
    bool active;
};

/* Fields grouped by size (no padding holes): one per open session.  With
 * its glue a session fills a 512-byte pool slot (checked below). */
struct session {
    struct session_record rec; /* rec.arena/arena_len are the session's text */
    int64_t held_since_us[2];
    uint64_t content_bytes;       /* of the message being received */
    int64_t reply_done_us;        /* when the reply being handled completed */
    void *content_msg;            /* the content sink's handle for the open message */
    struct msghdr_capture *headers_capture; /* the open message's header block (no content sink) */
    struct session *age_prev, *age_next;
    struct session *idle_prev, *idle_next;
    struct session_table *table;  /* for its pools and its content sink */
    struct smtp_parser parser[2];
    struct reply_acc reply;
    uint32_t text_cap;            /* bytes the arena has room for */
    uint32_t n_pending_unstored;  /* commands beyond the kept exchanges */
    uint32_t idle_mark;           /* packet time (~1 s units) of the last move in the idle list */
    uint32_t n_content;           /* messages handed to the sink so far */
    /* Indexes into the exchange list, which never outgrows
     * SESSION_EXCHANGES_KEEP (asserted below). */
    uint16_t exchanges_cap;
    uint16_t next_unanswered;     /* index of the oldest exchange without reply */
    uint16_t bdat_index;          /* exchange of the chunk being received */
    uint16_t wait_index;          /* the exchange the client waits on */
    uint8_t state;                /* enum session_state */
    uint8_t auth_mech;
    uint8_t auth_lines;
    /* Tested or set on every line: plain bytes; the rest are bits. */
    bool collecting_ehlo;
    bool client_resume;           /* held client bytes may be parsed now */
    bool greeting_window_closed;  /* a complete reply has been seen */
    bool resync_client;           /* skipping lines until one makes sense */
    bool resync_server;
    bool client_waits;            /* DATA or STARTTLS awaits its reply */
    bool bdat_in_message : 1;     /* a BDAT chunk of this message was seen */
    bool bdat_index_valid : 1;
    bool in_txn : 1;
    bool auth_pending : 1;        /* last AUTH reply was 334 */
    bool saw_221 : 1;
    bool content_early : 1;       /* content began before the 354 came */
    bool midstream : 1;           /* no handshake seen: greeting unknown */
    /* Facts for the verdict (struct verdict_facts is filled from these and
     * the record when the session ends). */
    bool saw_fin : 1;
    bool saw_rst : 1;
    bool saw_421 : 1;
    bool saw_quit : 1;
    bool quit_answered_221 : 1;
    bool saw_221_not_quit_in_txn : 1;
    bool saw_221_not_quit_no_txn : 1;
    bool client_data_after_221 : 1;
    bool gap_in_content : 1;      /* the message lost bytes in a hole */
    uint8_t tls_undecided;        /* implicit-TLS port: bit per smtp_dir whose first byte is due */
    bool tls_spoken : 1;          /* a side began with a TLS record */
    bool plain_spoken : 1;        /* a side began in plaintext */
    bool ending : 1;              /* session_end() is parsing the tails */
    bool auth_password_prompt : 1; /* the last 334 asked for a password */
    bool starttls_accepted : 1;   /* STARTTLS got 220: the next bytes decide */
    uint16_t gap_candidates;      /* pending commands whose replies may be in a server hole */
    uint64_t glue[]; /* the stream layer's per-session state (pointers, integers) */
};

/* A new session of t, zeroed, with its id, on the table's lists and
 * counted; NULL (counted) without memory. */
struct session *store_session_new(struct session_table *t);

/* s has ended: off the lists, and its record out now or in its turn
 * (the output order, session.h). */
void store_session_done(struct session_table *t, struct session *s);

/* The session's text (its record's arena), writable here. */
static inline uint8_t *store_text(struct session *s)
{
    return (uint8_t *)s->rec.arena;
}

/* Appends to the session's text; false when capped or memory is lacking. */
bool store_text_append(struct session *s, const void *p, size_t n);

/* Room for more exchanges in s's list, full now: 4, then 8, then twice as
 * many up to SESSION_EXCHANGES_KEEP.  False (the list kept) without memory. */
bool store_exchange_room(struct session *s);

#endif
