/*
 * extract.h - --extract DIR: every message carried in clear, as a file.
 *
 * Role: an output stage beside the writers.  The session hands it the raw
 * content of each message as it streams (DATA still dot-stuffed, with the
 * final "." line; BDAT chunks as sent) and, once the message's final reply
 * is known, the session record.  The extractor writes DIR/NAME.eml (the
 * message as the client sent it, dot-stuffing undone, without the final
 * "." line) and DIR/NAME.json (session id, envelope with each RCPT's reply,
 * content start and end times, final reply, size, SHA-256, header summary
 * and attachments from a MIME parse), and returns the summary so the
 * session record can carry it too.  NAME is built from the session id and
 * the message's number only: nothing from the wire becomes a path, and
 * files are created with O_EXCL|O_NOFOLLOW inside DIR.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef EXTRACT_H
#define EXTRACT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "record.h"
#include "session.h"

struct extractor;
struct extract_message;

/*
 * Opens DIR (created if missing, mode 0700; files in it are created 0640).
 * dir is borrowed and must outlive the extractor.  Returns NULL with err
 * filled when it cannot be used.  The extractor owns its memory; free it with
 * extract_close().
 */
struct extractor *extract_open(const char *dir, char *err, size_t errlen);
void extract_close(struct extractor *x);

/* Only the messages of sessions 1 to max_id (-c: the sessions whose
 * records are written, ids being given in output order); 0: all. */
void extract_limit(struct extractor *x, uint64_t max_id);

/*
 * A message of session r starts; msg_no counts messages in the session
 * from 1.  Returns NULL (and counts the failure) when the file cannot be
 * created; the other calls accept NULL.
 */
struct extract_message *extract_begin(struct extractor *x, const struct session_record *r,
                                      uint32_t msg_no, int64_t start_us);
/* Content bytes as on the wire; is_bdat tells the framing. */
void extract_data(struct extract_message *m, const uint8_t *p, size_t n, bool is_bdat);

/* What the MIME parse found, for the session record.  Pointers are valid
 * until the next extract_* call. */
#define EXTRACT_ATTACHMENTS_MAX 32
struct extract_attachment {
    const char *filename;     /* from the MIME headers: wire text, NUL-ended */
    const char *content_type;
    uint64_t size;            /* decoded octets */
    char sha256[65];
};
struct extract_summary {
    const char *from, *to, *cc, *subject, *date, *message_id; /* NULL if absent */
    const char *file;         /* NAME.eml, relative to DIR */
    char sha256[65];          /* of the .eml file */
    uint64_t size;
    uint32_t n_attachments;
    struct extract_attachment attachments[EXTRACT_ATTACHMENTS_MAX];
};

/*
 * Ends the message: closes and hashes the .eml, parses it, writes the
 * sidecar.  reply is the exchange holding the final reply to the content
 * (the <message> or BDAT LAST exchange), or NULL when the session ended
 * before one came.  Fills *out (may be NULL) and frees m.
 */
void extract_end(struct extractor *x, struct extract_message *m, const struct session_record *r,
                 const struct record_exchange *reply, int64_t end_us,
                 struct extract_summary *out);

/* Failures are warned about on standard error, this many; the rest are
 * only counted. */
#define EXTRACT_WARNINGS_SHOWN 10

/* Messages written (.eml and .json) and messages that failed, for the
 * summary. */
void extract_counts(const struct extractor *x, uint64_t *written, uint64_t *failed);

/* The session's content sink (session_config.content) feeding x. */
struct session_content_sink extract_content_sink(struct extractor *x);

#endif
