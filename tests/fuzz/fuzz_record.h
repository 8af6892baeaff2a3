/*
 * fuzz_record.h - walks a finished session record and checks it (header-only).
 *
 * Role: the fuzz sinks' invariants on struct session_record (record.h):
 * every text span inside the arena and within its keep cap, every enum in
 * range, every cap respected, and every kept byte read once so ASan checks
 * the arena really holds it.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef FUZZ_RECORD_H
#define FUZZ_RECORD_H

#include "fuzz_common.h"
#include "record.h"
#include "smtp_limits.h"
#include "verdict.h"

static inline void fuzz_check_text(const struct session_record *r, struct record_text t)
{
    FUZZ_CHECK((uint64_t)t.off + t.len <= r->arena_len);
    if (t.len == 0) {
        return;
    }
    FUZZ_CHECK(r->arena != NULL);
    struct span sp = record_span(r, t);
    volatile uint8_t x = 0;
    for (size_t i = 0; i < sp.len; i++) {
        x ^= sp.ptr[i];
    }
    (void)x;
}

static inline void fuzz_check_exchange(const struct session_record *r, const struct record_exchange *x)
{
    FUZZ_CHECK(x->kind <= RECORD_KIND_GREETING);
    FUZZ_CHECK(x->verb < SMTP_VERB_COUNT);
    FUZZ_CHECK(x->code <= 999);
    FUZZ_CHECK(x->enhanced.klass == 0 || x->enhanced.klass == 2 || x->enhanced.klass == 4 ||
               x->enhanced.klass == 5);
    FUZZ_CHECK(!(record_has_verb_text(x) && record_has_size(x)));
    if (record_has_verb_text(x)) {
        fuzz_check_text(r, x->verb_text);
        FUZZ_CHECK(x->verb_text.len <= SMTP_VERB_KEEP);
    } else if (!record_has_size(x)) {
        FUZZ_CHECK(x->size == 0); /* the shared room unused */
    }
    fuzz_check_text(r, x->arg);
    fuzz_check_text(r, x->text);
    FUZZ_CHECK(x->arg.len <= SMTP_ARG_KEEP);
    FUZZ_CHECK(x->text.len <= SMTP_TEXT_KEEP);
    if (x->reply_first_us >= 0 && x->reply_last_us >= 0) {
        FUZZ_CHECK(x->reply_last_us >= x->reply_first_us);
    }
}

static inline void fuzz_check_record(const struct session_record *r)
{
    FUZZ_CHECK(r->id > 0);
    FUZZ_CHECK(r->label < VERDICT_LABEL_COUNT);
    FUZZ_CHECK(r->end <= RECORD_END_STOPPED);
    FUZZ_CHECK(r->tls <= RECORD_TLS_IMPLICIT);
    FUZZ_CHECK(r->closer <= RECORD_SIDE_SERVER);
    for (unsigned b = VERDICT_FLAG_COUNT; b < 64; b++) {
        FUZZ_CHECK(!(r->flags & ((uint64_t)1 << b)));
    }
    FUZZ_CHECK(r->arena_len <= SESSION_TEXT_ARENA_MAX);
    FUZZ_CHECK(r->n_exchanges <= SESSION_EXCHANGES_KEEP);
    FUZZ_CHECK(r->n_exchanges == 0 || r->exchanges != NULL);
    FUZZ_CHECK(r->n_extensions <= SMTP_REPLY_LINES_KEEP);
    if (r->has_greeting) {
        fuzz_check_exchange(r, &r->greeting);
    }
    for (uint32_t i = 0; i < r->n_exchanges; i++) {
        fuzz_check_exchange(r, &r->exchanges[i]);
    }
    fuzz_check_text(r, r->extensions);
    {
        uint32_t cursor = 0;
        uint32_t seen = 0;
        struct span keyword;
        while (record_next_extension(r, &cursor, &keyword)) {
            seen++;
        }
        FUZZ_CHECK(seen == r->n_extensions);
    }
    fuzz_check_text(r, r->auth_mechanism);
    fuzz_check_text(r, r->auth_user);
    FUZZ_CHECK(r->n_messages <= SESSION_MESSAGES_KEEP);
    FUZZ_CHECK(r->n_messages == 0 || r->messages != NULL);
    for (uint32_t i = 0; i < r->n_messages; i++) {
        const struct record_message *m = &r->messages[i];
        FUZZ_CHECK(m->exchange == UINT32_MAX || m->exchange < r->n_exchanges);
        const struct record_text texts[] = {m->file, m->sha256, m->from, m->to,
                                            m->cc, m->subject, m->date, m->message_id};
        for (size_t k = 0; k < sizeof(texts) / sizeof(texts[0]); k++) {
            fuzz_check_text(r, texts[k]);
            FUZZ_CHECK(texts[k].len <= SMTP_TEXT_KEEP);
        }
    }
    /* Transactions, as writers walk them: every index in range, and the
     * walk moves forward. */
    struct record_txn_cursor c = record_txn_start();
    struct record_txn t;
    uint32_t last_end = 0;
    while (record_next_txn(r, &c, &t)) {
        FUZZ_CHECK(t.first >= last_end && t.first < t.end && t.end <= r->n_exchanges);
        FUZZ_CHECK(t.mail == RECORD_NONE || (t.mail >= t.first && t.mail < t.end));
        FUZZ_CHECK(t.final == RECORD_NONE || (t.final >= t.first && t.final < t.end));
        FUZZ_CHECK(t.helo == RECORD_NONE || t.helo < t.first);
        FUZZ_CHECK(t.message == RECORD_NONE || t.message < r->n_messages);
        FUZZ_CHECK(t.ended_by <= RECORD_TXN_END_SESSION);
        if (t.mail != RECORD_NONE) {
            struct span path = record_path_of(record_span(r, r->exchanges[t.mail].arg));
            FUZZ_CHECK(path.len <= SMTP_ARG_KEEP);
        }
        last_end = t.end;
    }
    (void)record_end_name((enum record_end)r->end);
    (void)record_tls_name((enum record_tls)r->tls);
    (void)record_kind_name(RECORD_KIND_COMMAND);
}

#endif
