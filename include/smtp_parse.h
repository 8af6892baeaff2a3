/*
 * smtp_parse.h - the pure, incremental SMTP parser for one direction.
 *
 * Bytes go in, events come out.  The parser does no I/O, allocates nothing,
 * reads no clock and keeps no globals, so it builds alone for fuzzing.  One
 * struct smtp_parser follows one direction of one TCP stream.  It gives the
 * same events for any split of the input: the caller keeps the bytes it was
 * told were not consumed and offers them again with what follows.
 *
 * The parser knows three framings (RFC 5321 2.3.8, 4.1.1.4; RFC 3030 2):
 * CRLF-terminated lines (commands or replies), message content ended by
 * CRLF.CRLF (entered when the session says a 354 arrived), and BDAT chunks
 * of a stated octet count (entered by the BDAT command itself, since the
 * client sends the chunk without waiting for a reply).  After STARTTLS or
 * on an implicit-TLS port the direction is opaque: bytes are only counted.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef SMTP_PARSE_H
#define SMTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "span.h"

enum smtp_dir {
    SMTP_DIR_CLIENT = 0, /* bytes the client sent: commands, content */
    SMTP_DIR_SERVER = 1  /* bytes the server sent: replies */
};

#define SMTP_MODE_MAP(XX)                                                      \
    XX(LINE, "line")                                                           \
    XX(DATA, "data")                                                           \
    XX(BDAT, "bdat")                                                           \
    XX(OPAQUE, "opaque")

enum smtp_mode {
#define XX(name, str) SMTP_MODE_##name,
    SMTP_MODE_MAP(XX)
#undef XX
};

/* Command verbs.  UNKNOWN keeps the wire verb in the event. */
#define SMTP_VERB_MAP(XX)                                                      \
    XX(UNKNOWN, "")                                                            \
    XX(HELO, "HELO")                                                           \
    XX(EHLO, "EHLO")                                                           \
    XX(LHLO, "LHLO")                                                           \
    XX(MAIL, "MAIL")                                                           \
    XX(RCPT, "RCPT")                                                           \
    XX(DATA, "DATA")                                                           \
    XX(BDAT, "BDAT")                                                           \
    XX(RSET, "RSET")                                                           \
    XX(VRFY, "VRFY")                                                           \
    XX(EXPN, "EXPN")                                                           \
    XX(HELP, "HELP")                                                           \
    XX(NOOP, "NOOP")                                                           \
    XX(QUIT, "QUIT")                                                           \
    XX(STARTTLS, "STARTTLS")                                                   \
    XX(AUTH, "AUTH")                                                           \
    XX(TURN, "TURN")                                                           \
    XX(ETRN, "ETRN")                                                           \
    XX(ATRN, "ATRN")                                                           \
    XX(SEND, "SEND")                                                           \
    XX(SOML, "SOML")                                                           \
    XX(SAML, "SAML")                                                           \
    XX(XCLIENT, "XCLIENT")                                                     \
    XX(XFORWARD, "XFORWARD")

enum smtp_verb {
#define XX(name, str) SMTP_VERB_##name,
    SMTP_VERB_MAP(XX)
#undef XX
    SMTP_VERB_COUNT
};

/* Line anomalies, as bits in smtp_event.anomalies. */
#define SMTP_LINE_ANOMALY_MAP(XX)                                              \
    XX(BARE_LF, 0, "bare_lf")                                                  \
    XX(LONG_LINE, 1, "long_line")                                              \
    XX(TRUNCATED, 2, "line_truncated")                                         \
    XX(CONT_MISMATCH, 3, "continuation_mismatch")                              \
    XX(BAD_REPLY, 4, "malformed_reply")                                        \
    XX(NUL_BYTE, 5, "nul_byte")                                                \
    XX(BDAT_BAD_SIZE, 6, "bdat_bad_size")                                      \
    XX(BARE_LF_IN_DATA, 7, "bare_lf_in_data")                                  \
    XX(UNTERMINATED, 8, "unterminated_line")

enum smtp_line_anomaly {
#define XX(name, bit, str) SMTP_ANOM_##name = 1u << (bit),
    SMTP_LINE_ANOMALY_MAP(XX)
#undef XX
};

#define SMTP_EVENT_MAP(XX)                                                     \
    XX(NONE, "none")                                                           \
    XX(COMMAND, "command")                                                     \
    XX(REPLY, "reply")                                                         \
    XX(DATA_BYTES, "data")                                                     \
    XX(DATA_END, "data_end")                                                   \
    XX(BDAT_BYTES, "bdat")                                                     \
    XX(BDAT_END, "bdat_end")                                                   \
    XX(OPAQUE_BYTES, "opaque")                                                 \
    XX(SKIPPED, "skipped")

enum smtp_event_type {
#define XX(name, str) SMTP_EV_##name,
    SMTP_EVENT_MAP(XX)
#undef XX
};

/* RFC 3463 enhanced status code; klass 0 means none was present. */
struct smtp_enhanced {
    uint8_t klass;
    uint16_t subject;
    uint16_t detail;
};

/*
 * One event.  Spans borrow from the buffer passed to smtp_parse() and are
 * valid only until the caller changes or frees that buffer.  Every event
 * starts at buf[0] of the call that produced it.
 */
struct smtp_event {
    enum smtp_event_type type;
    uint32_t anomalies;
    size_t line_len; /* whole line on the wire, terminator included */
    union {
        struct {
            enum smtp_verb verb;
            struct span verb_text; /* as sent, any case */
            struct span arg;       /* after the first space, no CRLF */
            uint64_t bdat_size;    /* BDAT only, when well-formed */
            bool bdat_last;
        } command;
        struct {
            uint16_t code;     /* 0 for a malformed reply line */
            bool is_last;      /* "250 " rather than "250-" */
            struct smtp_enhanced enhanced;
            struct span text; /* after the code (and enhanced code) */
        } reply;
        struct {
            uint64_t n_bytes;      /* content octets in this event */
            uint32_t n_dot_stuffed; /* lines starting with a stuffed dot */
            bool bdat_last;       /* BDAT_END of a LAST chunk */
        } data;
    } u;
};

/* Parser state.  Zeroed and then smtp_parser_init(): no allocation.
 * Kept small: two live in every open session. */
struct smtp_parser {
    uint64_t bdat_left;     /* octets of the current BDAT chunk still due */
    uint32_t scanned;       /* bytes of the pending line known to hold no LF (< SMTP_LINE_CAP) */
    uint16_t open_reply;    /* code of a multi-line reply in progress */
    uint8_t dir;            /* enum smtp_dir */
    uint8_t mode;           /* enum smtp_mode */
    uint8_t eod_state;      /* CRLF.CRLF matcher state, kept across calls */
    bool skipping;          /* discarding the tail of an over-cap line */
    bool skip_last_cr;      /* the last byte skipped was CR */
    bool bdat_last;         /* the current chunk ends the message */
    bool nul_seen;          /* a NUL byte in the pending line's first `scanned` bytes */
};

/* Resets p to line mode for direction dir. */
void smtp_parser_init(struct smtp_parser *p, enum smtp_dir dir);

/*
 * Switches framing.  The session calls this on a 354 (DATA), after a 220
 * to STARTTLS (OPAQUE), or to leave DATA mode when the server ended it.
 * Entering DATA starts the end-of-data matcher at the start of a line.
 */
void smtp_parser_set_mode(struct smtp_parser *p, enum smtp_mode mode);

/*
 * The stream lost n_missing bytes here (a hole in the capture).  Whatever
 * the parser had of a line is forgotten (the caller drops the bytes it
 * held); the mode stays: in DATA the end-of-data matcher resumes as if
 * inside a line whose CR was in the hole, in BDAT the chunk's count goes on (back to lines when the
 * chunk ended inside the hole).  Finding the next whole line is the
 * caller's business (a line after the hole may start mid-line).
 */
void smtp_parser_gap(struct smtp_parser *p, uint64_t n_missing);

/*
 * Parses from buf[0..len).  Fills *ev with one event and returns the bytes
 * it consumed.  ev->type SMTP_EV_NONE (with 0 returned) means buf holds
 * only part of a line: the caller keeps those bytes and calls again with
 * more appended.  An event may consume 0 bytes (the end of an empty BDAT
 * chunk), so the caller loops until the type is SMTP_EV_NONE, not until 0
 * is returned.  SMTP_EV_NONE never comes with len >= SMTP_LINE_CAP in line
 * mode, and the other modes consume everything they are given, so the
 * caller never holds more than SMTP_LINE_CAP - 1 bytes.
 */
size_t smtp_parse(struct smtp_parser *p, const uint8_t *buf, size_t len,
                  struct smtp_event *ev);

/*
 * Ends the stream: reports the bytes buf[0..len) the caller still holds
 * (a line that never got its LF) as one event flagged UNTERMINATED, or
 * SMTP_EV_NONE when len is 0.  Returns the bytes consumed (len).
 */
size_t smtp_parse_finish(struct smtp_parser *p, const uint8_t *buf,
                         size_t len, struct smtp_event *ev);

/* Names for traces and JSON. */
const char *smtp_verb_name(enum smtp_verb verb);
const char *smtp_event_name(enum smtp_event_type type);
const char *smtp_mode_name(enum smtp_mode mode);
/* Looks up a verb case-insensitively; SMTP_VERB_UNKNOWN when not found. */
enum smtp_verb smtp_verb_lookup(const uint8_t *s, size_t len);

#endif
