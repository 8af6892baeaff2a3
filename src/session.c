/*
 * session.c - SMTP session state machine, exchange timing and close facts.
 *
 * Role: between the TCP glue and the output sink.  The glue feeds each
 * direction's bytes with the packet time; this file runs the parser loop,
 * pairs replies with the oldest unanswered command (the exchange list is
 * itself the FIFO of RFC 2920 pipelining), switches parser framing on 354,
 * BDAT and STARTTLS, and records facts for the verdict.  It never touches
 * pcap, libnids or writers, and copies only bounded text out of the wire
 * buffers it borrows.
 *
 * Its storage (the session's slot, text arena and exchange list, the
 * table's lists and output order) is session_store.c's.
 *
 * Timing rule (docs/timing.md): a line's time is the time of the packet
 * that brought its first byte; bytes held over from an earlier call carry
 * the time they first arrived (held_since_us).
 *
 * SPDX-License-Identifier: MIT
 */
#include "session.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "session_store.h"
#include "smtp_limits.h"
#include "utf8.h"


_Static_assert(SESSION_EXCHANGES_KEEP <= UINT16_MAX, "exchange indexes fit 16 bits");
/* With the stream layer's glue, a session fills a 512-byte pool slot. */
_Static_assert(sizeof(struct session) + SESSION_GLUE_ROOM <= SESSION_SLOT_BYTES,
               "a session and its glue fit one slot");

static const char *const state_names[] = {
#define XX(id, str) str,
    SESSION_STATE_MAP(XX)
#undef XX
};

const char *session_state_name(enum session_state state)
{
    unsigned n = sizeof(state_names) / sizeof(state_names[0]);
    return (unsigned)state < n ? state_names[state] : "?";
}

/* The one place the protocol phase changes. */
static void session_set_state(struct session *s, enum session_state to)
{
    assert(s->state != SESSION_ENDED);
    s->state = to;
}

static void set_flag(struct session *s, enum verdict_flag f)
{
    s->rec.flags |= VERDICT_FLAG_BIT(f);
}

/* Copies up to keep bytes of sp into the arena; ascii: sp is known to
 * hold no 8-bit byte, so it need not be checked for valid UTF-8. */
static struct record_text keep_text_as(struct session *s, struct span sp, size_t keep, bool ascii)
{
    struct record_text t = {0, 0};
    size_t n = sp.len < keep ? sp.len : keep;
    if (n == 0) {
        return t;
    }
    if (!ascii && !utf8_valid(sp.ptr, n)) {
        set_flag(s, VERDICT_FLAG_INVALID_UTF8);
    }
    t.off = s->rec.arena_len;
    if (!store_text_append(s, sp.ptr, n)) {
        set_flag(s, VERDICT_FLAG_RECORD_TEXT_CAPPED);
        t.off = 0;
        return t;
    }
    t.len = (uint32_t)n;
    return t;
}

static struct record_text keep_text(struct session *s, struct span sp, size_t keep)
{
    return keep_text_as(s, sp, keep, false);
}

/* ---- exchanges ---------------------------------------------------------- */

/* Appends an empty exchange; NULL when the kept list is full. */
static struct record_exchange *add_exchange(struct session *s, enum record_kind kind)
{
    if (s->rec.n_exchanges >= SESSION_EXCHANGES_KEEP) {
        s->rec.n_exchanges_dropped++;
        set_flag(s, VERDICT_FLAG_TOO_MANY_COMMANDS);
        return NULL;
    }
    if (s->rec.n_exchanges == s->exchanges_cap && !store_exchange_room(s)) {
        s->rec.n_exchanges_dropped++;
        return NULL;
    }
    struct record_exchange *x = &s->rec.exchanges[s->rec.n_exchanges++];
    memset(x, 0, sizeof(*x));
    x->kind = (uint8_t)kind;
    x->cmd_us = -1;
    x->reply_first_us = -1;
    x->reply_last_us = -1;
    return x;
}

/* Adds a command-like exchange that awaits a reply. */
static struct record_exchange *add_pending(struct session *s, enum record_kind kind)
{
    struct record_exchange *x = add_exchange(s, kind);
    if (x == NULL && s->n_pending_unstored < SESSION_PENDING_UNSTORED_MAX) {
        s->n_pending_unstored++;
    }
    return x;
}

static void note_line_anomalies(struct session *s, uint32_t a)
{
    static const struct {
        uint32_t bit;
        enum verdict_flag flag;
    } map[] = {
        {SMTP_ANOM_BARE_LF, VERDICT_FLAG_BARE_LF},
        {SMTP_ANOM_LONG_LINE, VERDICT_FLAG_LONG_LINE},
        {SMTP_ANOM_TRUNCATED, VERDICT_FLAG_LINE_TRUNCATED},
        {SMTP_ANOM_CONT_MISMATCH, VERDICT_FLAG_CONTINUATION_MISMATCH},
        {SMTP_ANOM_BAD_REPLY, VERDICT_FLAG_MALFORMED_REPLY},
        {SMTP_ANOM_NUL_BYTE, VERDICT_FLAG_NUL_BYTE},
        {SMTP_ANOM_BDAT_BAD_SIZE, VERDICT_FLAG_BDAT_BAD_SIZE},
        {SMTP_ANOM_BARE_LF_IN_DATA, VERDICT_FLAG_BARE_LF_IN_DATA},
    };
    if (a == 0) {
        return; /* nearly every line: skip the table walk */
    }
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        if (a & map[i].bit) {
            set_flag(s, map[i].flag);
        }
    }
}

/* ---- AUTH (RFC 4954): keep the mechanism and user, never secrets ------- */

/* Takes the user name out of one client AUTH response, once. */
static void auth_take_user(struct session *s, struct span b64)
{
    uint8_t buf[SMTP_ARG_KEEP];
    struct span user;
    if (s->rec.auth_user.len == 0 &&
        auth_user_of((enum auth_mech)s->auth_mech, b64, buf, sizeof(buf), &user)) {
        s->rec.auth_user = keep_text(s, user, SMTP_ARG_KEEP);
    }
    memset(buf, 0, sizeof(buf)); /* the password was decoded there too */
}

/* AUTH mechanism [initial-response]: only the mechanism is kept as arg. */
static void on_auth_command(struct session *s, struct record_exchange *x, struct span arg)
{
    size_t mlen = 0;
    while (mlen < arg.len && arg.ptr[mlen] != ' ') {
        mlen++;
    }
    struct span mech = span_make(arg.ptr, mlen);
    s->auth_mech = auth_mech_of(mech);
    s->auth_lines = 0;
    s->rec.auth_mechanism = keep_text(s, mech, SMTP_VERB_KEEP * 2);
    if (x != NULL) {
        x->arg = s->rec.auth_mechanism;
    }
    if (mlen + 1 < arg.len) {
        struct span initial = span_make(arg.ptr + mlen + 1, arg.len - mlen - 1);
        if (s->auth_mech == AUTH_MECH_PLAIN || s->auth_mech == AUTH_MECH_LOGIN) {
            auth_take_user(s, initial);
        }
        s->auth_lines = 1;
    }
}

static bool prompt_asks_password(const struct session *s, struct record_text text)
{
    return auth_prompt_asks_password(record_span(&s->rec, text));
}

static void on_auth_line(struct session *s, struct span line)
{
    bool user_line = (s->auth_mech == AUTH_MECH_LOGIN && s->auth_lines == 0) ||
                     (s->auth_mech == AUTH_MECH_PLAIN && s->auth_lines == 0) ||
                     (s->auth_mech == AUTH_MECH_CRAM && s->auth_lines == 0);
    if (user_line && !s->auth_password_prompt) {
        auth_take_user(s, line);
    }
    s->auth_lines++;
}

/* ---- client events ------------------------------------------------------- */

static void content_begin(struct session *s, int64_t start_us);

static void on_reply_complete(struct session *s, int64_t now_us);

/* Commands after which a client waits for the reply before sending more,
 * pipelining or not (RFC 2920 3.1; AUTH and STARTTLS change state). */
static bool waits_for_reply(const struct record_exchange *x)
{
    if (x->kind == RECORD_KIND_AUTH_LINE) {
        return true;
    }
    switch (x->kind == RECORD_KIND_COMMAND ? x->verb : SMTP_VERB_UNKNOWN) {
    case SMTP_VERB_EHLO:
    case SMTP_VERB_HELO:
    case SMTP_VERB_LHLO:
    case SMTP_VERB_DATA:
    case SMTP_VERB_VRFY:
    case SMTP_VERB_EXPN:
    case SMTP_VERB_NOOP:
    case SMTP_VERB_QUIT:
    case SMTP_VERB_STARTTLS:
    case SMTP_VERB_AUTH:
        return true;
    default:
        return false;
    }
}

static void on_command(struct session *s, const struct smtp_event *ev, int64_t now_us)
{
    if (s->reply.active && (uint32_t)s->next_unanswered + 1 == s->rec.n_exchanges &&
        waits_for_reply(&s->rec.exchanges[s->next_unanswered])) {
        /* The client went on while a multi-line reply to a command it must
         * wait on was still open: to it the reply had ended (a server that
         * never sent the last line).  It ends here. */
        set_flag(s, VERDICT_FLAG_CONTINUATION_MISMATCH);
        on_reply_complete(s, s->reply.first_us);
    }
    if (!s->rec.has_greeting && !s->midstream) {
        set_flag(s, VERDICT_FLAG_CLIENT_BEFORE_GREETING);
    }
    note_line_anomalies(s, ev->anomalies);
    if (s->auth_pending) {
        s->auth_pending = false;
        struct record_exchange *x = add_pending(s, RECORD_KIND_AUTH_LINE);
        if (x != NULL) {
            x->cmd_us = now_us;
            x->anomalies = (uint16_t)ev->anomalies;
        }
        on_auth_line(s, span_make(ev->u.command.verb_text.ptr,
                                  ev->u.command.verb_text.len));
        return;
    }
    enum smtp_verb verb = ev->u.command.verb;
    struct record_exchange *x = add_pending(s, RECORD_KIND_COMMAND);
    if (x != NULL) {
        x->verb = (uint8_t)verb;
        x->cmd_us = now_us;
        x->anomalies = (uint16_t)ev->anomalies;
        if (verb == SMTP_VERB_UNKNOWN) {
            x->verb_text = keep_text(s, ev->u.command.verb_text, SMTP_VERB_KEEP);
        }
        if (verb != SMTP_VERB_AUTH) {
            x->arg = keep_text(s, ev->u.command.arg, SMTP_ARG_KEEP);
        }
    }
    switch (verb) {
    case SMTP_VERB_MAIL:
        /* A transaction attempt, whatever the server then says. */
        s->rec.messages_attempted++;
        break;
    case SMTP_VERB_QUIT:
        s->saw_quit = true;
        break;
    case SMTP_VERB_DATA:
    case SMTP_VERB_STARTTLS:
        /* Their reply decides how the next client bytes are framed. */
        if (x != NULL && s->state != SESSION_TLS) {
            s->client_waits = true;
            s->wait_index = s->rec.n_exchanges - 1;
        }
        break;
    case SMTP_VERB_AUTH:
        on_auth_command(s, x, ev->u.command.arg);
        break;
    case SMTP_VERB_BDAT:
        s->bdat_index_valid = x != NULL;
        s->bdat_index = s->rec.n_exchanges - 1;
        if (x != NULL) {
            x->size = ev->u.command.bdat_size;
            x->bdat_last = ev->u.command.bdat_last;
        }
        if (!(ev->anomalies & SMTP_ANOM_BDAT_BAD_SIZE)) {
            if (!s->bdat_in_message) {
                content_begin(s, now_us);
            }
            s->bdat_in_message = true;
        }
        break;
    default:
        break;
    }
}

/* ---- message content for a sink (--extract) ------------------------------ */

/* The record as the sink sees it: texts readable through record_span(). */
static const struct session_record *record_now(struct session *s)
{
    return &s->rec;
}

static struct record_text keep_span(struct session *s, struct span sp)
{
    return keep_text(s, sp, SMTP_TEXT_KEEP);
}

static void keep_attachments(struct session *s, struct record_message *m,
                             const struct session_message_info *info)
{
    m->first_attachment = s->rec.n_attachments;
    for (uint32_t i = 0; i < info->n_attachments && i < SESSION_INFO_ATTACHMENTS; i++) {
        if (s->rec.attachments == NULL) {
            s->rec.attachments = calloc(SESSION_ATTACHMENTS_KEEP, sizeof(*s->rec.attachments));
        }
        if (s->rec.attachments == NULL || s->rec.n_attachments == SESSION_ATTACHMENTS_KEEP) {
            set_flag(s, VERDICT_FLAG_RECORD_TEXT_CAPPED);
            return;
        }
        struct record_attachment *a = &s->rec.attachments[s->rec.n_attachments++];
        a->filename = keep_span(s, info->attachments[i].filename);
        a->content_type = keep_span(s, info->attachments[i].content_type);
        a->sha256 = keep_span(s, info->attachments[i].sha256);
        a->size = info->attachments[i].size;
        m->n_attachments++;
    }
}

/* Room for one more message: the list grows 4, 8, ... SESSION_MESSAGES_KEEP. */
static bool message_room(struct session *s)
{
    uint32_t n = s->rec.n_messages;
    if (n == SESSION_MESSAGES_KEEP) {
        return false;
    }
    if (n != 0 && (n < 4 || (n & (n - 1)) != 0)) {
        return true;
    }
    size_t cap = n == 0 ? 4 : (size_t)n * 2;
    struct record_message *grown = realloc(s->rec.messages, cap * sizeof(*grown));
    if (grown == NULL) {
        return false; /* the list as it was stays */
    }
    s->rec.messages = grown;
    return true;
}

static void keep_message(struct session *s, uint32_t exchange,
                         const struct session_message_info *info)
{
    if (!message_room(s)) {
        set_flag(s, VERDICT_FLAG_RECORD_TEXT_CAPPED);
        return;
    }
    struct record_message *m = &s->rec.messages[s->rec.n_messages++];
    memset(m, 0, sizeof(*m));
    m->exchange = exchange;
    m->file = keep_span(s, info->file);
    m->sha256 = keep_span(s, info->sha256);
    m->size = info->size;
    m->from = keep_span(s, info->from);
    m->to = keep_span(s, info->to);
    m->cc = keep_span(s, info->cc);
    m->subject = keep_span(s, info->subject);
    m->date = keep_span(s, info->date);
    m->message_id = keep_span(s, info->message_id);
    keep_attachments(s, m, info);
}

/* The open message's final reply is known (exchange index, or none). */
static void content_end(struct session *s, uint32_t exchange, int64_t end_us)
{
    if (s->content_msg == NULL) {
        return;
    }
    struct session_message_info info;
    memset(&info, 0, sizeof(info));
    const struct record_exchange *reply =
        exchange < s->rec.n_exchanges ? &s->rec.exchanges[exchange] : NULL;
    void *msg = s->content_msg;
    const struct session_content_sink *sink = &s->table->cfg.content;
    s->content_msg = NULL;
    sink->end(sink->ctx, msg, record_now(s), reply, end_us, &info);
    s->rec.messages_extracted = true;
    keep_message(s, reply != NULL ? exchange : UINT32_MAX, &info);
}

/*
 * Without a content sink, each message's header block is copied as its
 * content passes and read once the content has ended, for the
 * transaction's From, To, Subject, Message-ID and Date (with one,
 * --extract reads the whole message and gives the same fields).
 * exchange: its <message> or BDAT ... LAST exchange; UINT32_MAX when
 * there is none (the capture is dropped unread).
 */
static void headers_finish(struct session *s, uint32_t exchange)
{
    struct msghdr_capture *c = s->headers_capture;
    if (c == NULL) {
        return;
    }
    s->headers_capture = NULL;
    if (exchange != UINT32_MAX) {
        struct msghdr_fields f;
        msghdr_parse(c, &f);
        /* keep_message() with only the header fields, in its order
         * (file, sha256 and cc are empty, there are no attachments),
         * without filling a whole session_message_info. */
        if (!message_room(s)) {
            set_flag(s, VERDICT_FLAG_RECORD_TEXT_CAPPED);
        } else {
            struct record_message *m = &s->rec.messages[s->rec.n_messages++];
            memset(m, 0, sizeof(*m));
            m->exchange = exchange;
#define KEEP_FIELD(i) keep_text_as(s, f.text[i], SMTP_TEXT_KEEP, f.ascii[i])
            m->from = KEEP_FIELD(MSGHDR_FROM);
            m->to = KEEP_FIELD(MSGHDR_TO);
            m->subject = KEEP_FIELD(MSGHDR_SUBJECT);
            m->date = KEEP_FIELD(MSGHDR_DATE);
            m->message_id = KEEP_FIELD(MSGHDR_MESSAGE_ID);
#undef KEEP_FIELD
            m->first_attachment = s->rec.n_attachments;
        }
        msghdr_fields_free(&f);
    }
    msghdr_capture_release(c);
    pool_put(&s->table->pools.captures, c);
}

static void content_begin(struct session *s, int64_t start_us)
{
    const struct session_content_sink *sink = &s->table->cfg.content;
    if (sink->begin == NULL) {
        headers_finish(s, UINT32_MAX); /* a previous one that never ended */
        s->headers_capture = pool_get(&s->table->pools.captures);
        if (s->headers_capture != NULL) {
            msghdr_capture_init(s->headers_capture);
        }
        return;
    }
    content_end(s, UINT32_MAX, start_us); /* a previous one never got its reply */
    s->content_msg = sink->begin(sink->ctx, record_now(s), ++s->n_content, start_us);
}

static void content_data(struct session *s, const uint8_t *p, uint64_t n, bool is_bdat)
{
    if (s->headers_capture != NULL && !msghdr_capture_done(s->headers_capture)) {
        msghdr_capture_feed(s->headers_capture, p, (size_t)n, !is_bdat);
    }
    if (s->content_msg != NULL && n > 0) {
        s->table->cfg.content.data(s->content_msg, p, (size_t)n, is_bdat);
    }
}

static void begin_content(struct session *s, int64_t at_us)
{
    content_begin(s, at_us);
    s->content_bytes = 0;
    smtp_parser_set_mode(&s->parser[SMTP_DIR_CLIENT], SMTP_MODE_DATA);
    session_set_state(s, SESSION_CONTENT);
}

/* CRLF.CRLF seen, or the server cut the content short. */
static void finish_content(struct session *s, int64_t now_us)
{
    struct record_exchange *x = add_pending(s, RECORD_KIND_MESSAGE);
    if (x != NULL) {
        x->cmd_us = now_us;
        x->size = s->content_bytes;
    }
    headers_finish(s, x != NULL ? s->rec.n_exchanges - 1 : UINT32_MAX);
    s->rec.message_bytes += s->content_bytes;
    s->content_bytes = 0;
    session_set_state(s, SESSION_TRANSACTION);
}

static void on_client_event(struct session *s, const struct smtp_event *ev, const uint8_t *bytes,
                            int64_t now_us)
{
    if (s->resync_client) {
        if (ev->type != SMTP_EV_COMMAND || ev->u.command.verb == SMTP_VERB_UNKNOWN) {
            return;
        }
        s->resync_client = false;
    }
    if (s->saw_221 && ev->type != SMTP_EV_SKIPPED) {
        set_flag(s, VERDICT_FLAG_DATA_AFTER_221);
        if (s->quit_answered_221) {
            s->client_data_after_221 = true;
        }
    }
    switch (ev->type) {
    case SMTP_EV_COMMAND:
        on_command(s, ev, now_us);
        break;
    case SMTP_EV_DATA_BYTES:
        s->content_bytes += ev->u.data.n_bytes;
        content_data(s, bytes, ev->u.data.n_bytes, false);
        note_line_anomalies(s, ev->anomalies);
        break;
    case SMTP_EV_DATA_END:
        content_data(s, bytes, ev->u.data.n_bytes, false);
        /* The final "." CRLF is framing, not content, however the stream
         * was split around it. */
        s->content_bytes += ev->u.data.n_bytes;
        s->content_bytes = s->content_bytes >= 3 ? s->content_bytes - 3 : 0;
        note_line_anomalies(s, ev->anomalies);
        finish_content(s, now_us);
        break;
    case SMTP_EV_BDAT_BYTES:
        s->rec.message_bytes += ev->u.data.n_bytes;
        content_data(s, bytes, ev->u.data.n_bytes, true);
        break;
    case SMTP_EV_BDAT_END:
        s->rec.message_bytes += ev->u.data.n_bytes;
        content_data(s, bytes, ev->u.data.n_bytes, true);
        if (s->bdat_index_valid && s->bdat_index < s->rec.n_exchanges) {
            s->rec.exchanges[s->bdat_index].cmd_us = now_us;
        }
        if (ev->u.data.bdat_last) {
            s->bdat_in_message = false;
            headers_finish(s, s->bdat_index_valid && s->bdat_index < s->rec.n_exchanges
                                  ? s->bdat_index : UINT32_MAX);
        }
        break;
    case SMTP_EV_NONE:
    case SMTP_EV_REPLY:
    case SMTP_EV_OPAQUE_BYTES:
    case SMTP_EV_SKIPPED:
        break;
    }
}

/* ---- server events ------------------------------------------------------- */

static void apply_reply(struct record_exchange *x, const struct reply_acc *r, int64_t now_us)
{
    x->code = r->code;
    x->n_lines = r->n_lines;
    x->anomalies |= r->anomalies;
    x->enhanced = r->enhanced;
    x->text = r->text;
    x->reply_first_us = r->first_us;
    x->reply_last_us = now_us;
}

static void on_221(struct session *s, enum smtp_verb verb, enum record_kind kind)
{
    if (s->saw_221) {
        return;
    }
    s->saw_221 = true;
    if (kind == RECORD_KIND_COMMAND && verb == SMTP_VERB_QUIT) {
        s->quit_answered_221 = true;
    } else if (s->in_txn) {
        s->saw_221_not_quit_in_txn = true;
    } else {
        s->saw_221_not_quit_no_txn = true;
    }
}

static void end_transaction(struct session *s)
{
    s->in_txn = false;
    s->bdat_in_message = false;
    if (s->state == SESSION_TRANSACTION || s->state == SESSION_CONTENT) {
        session_set_state(s, SESSION_COMMANDS);
    }
}

static void start_tls(struct session *s, enum record_tls how)
{
    s->rec.tls = (uint8_t)how;
    smtp_parser_set_mode(&s->parser[SMTP_DIR_CLIENT], SMTP_MODE_OPAQUE);
    smtp_parser_set_mode(&s->parser[SMTP_DIR_SERVER], SMTP_MODE_OPAQUE);
    session_set_state(s, SESSION_TLS);
}

/* What a complete reply means for the exchange it answers. */
static void on_answer(struct session *s, enum record_kind kind, enum smtp_verb verb,
                      uint16_t code)
{
    bool ok = code >= 200 && code < 300;
    if (kind == RECORD_KIND_MESSAGE) {
        if (ok) {
            s->rec.messages_accepted++;
        }
        if (s->rec.messages_attempted < s->rec.messages_accepted) {
            s->rec.messages_attempted = s->rec.messages_accepted; /* DATA with no MAIL */
        }
        end_transaction(s);
        return;
    }
    if (kind == RECORD_KIND_AUTH_LINE || (kind == RECORD_KIND_COMMAND && verb == SMTP_VERB_AUTH)) {
        s->auth_pending = code == 334;
        if (code != 334) {
            s->rec.auth_code = code;
        }
        return;
    }
    if (kind != RECORD_KIND_COMMAND) {
        return;
    }
    switch (verb) {
    case SMTP_VERB_MAIL:
        if (ok) {
            s->in_txn = true;
            session_set_state(s, SESSION_TRANSACTION);
        }
        break;
    case SMTP_VERB_DATA:
        if (code == 354 && !s->content_early) {
            begin_content(s, s->reply_done_us);
        }
        s->content_early = false;
        break;
    case SMTP_VERB_BDAT:
        break;
    case SMTP_VERB_RSET:
    case SMTP_VERB_HELO:
    case SMTP_VERB_EHLO:
    case SMTP_VERB_LHLO:
        if (ok) {
            end_transaction(s);
        }
        break;
    case SMTP_VERB_STARTTLS:
        if (code == 220) {
            /* TLS from here if the next bytes are TLS records; a capture
             * decrypted by a proxy shows SMTP going on in clear. */
            s->starttls_accepted = true;
            s->tls_undecided = 3;
        }
        break;
    default:
        break;
    }
}

/* The BDAT LAST reply closes the message (RFC 3030 2). */
static void on_bdat_answer(struct session *s, uint16_t code, bool is_last_chunk)
{
    if (!is_last_chunk) {
        return;
    }
    if (code >= 200 && code < 300) {
        s->rec.messages_accepted++;
    }
    if (s->rec.messages_attempted < s->rec.messages_accepted) {
        s->rec.messages_attempted = s->rec.messages_accepted; /* BDAT with no MAIL */
    }
    end_transaction(s);
}

static void on_greeting(struct session *s, const struct reply_acc *r, int64_t now_us)
{
    struct record_exchange *g = &s->rec.greeting;
    memset(g, 0, sizeof(*g));
    g->kind = RECORD_KIND_GREETING;
    g->cmd_us = -1;
    apply_reply(g, r, now_us);
    s->rec.has_greeting = true;
    if (r->code != 220) {
        set_flag(s, VERDICT_FLAG_GREETING_REFUSED);
    }
    if (r->code == 421) {
        s->saw_421 = true;
    }
    if (r->code == 221) {
        on_221(s, SMTP_VERB_UNKNOWN, RECORD_KIND_GREETING);
    }
    if (s->state == SESSION_GREETING_WAIT) {
        session_set_state(s, SESSION_COMMANDS);
    }
}

static void on_unsolicited(struct session *s, const struct reply_acc *r, int64_t now_us)
{
    struct record_exchange *x = add_exchange(s, RECORD_KIND_UNSOLICITED);
    if (x != NULL) {
        apply_reply(x, r, now_us);
    }
    s->next_unanswered = s->rec.n_exchanges;
    /* Not the server's fault: the client was not captured, or spoke TLS
     * to a plaintext server (these replies answer its TLS bytes). */
    if (s->rec.missing_side != RECORD_SIDE_CLIENT && !(s->tls_spoken && s->plain_spoken)) {
        set_flag(s, VERDICT_FLAG_UNSOLICITED_REPLY);
    }
    if (r->code == 221) {
        on_221(s, SMTP_VERB_UNKNOWN, RECORD_KIND_UNSOLICITED);
    }
}

/* Mid-stream, a 220 before any reply and with no command waiting on it
 * other than ones sent ahead of the banner is the greeting after all. */
static bool is_missed_greeting(const struct session *s, uint16_t code)
{
    if (code != 220) {
        return false;
    }
    for (uint32_t i = 0; i < s->rec.n_exchanges; i++) {
        if (s->rec.exchanges[i].verb == SMTP_VERB_STARTTLS || s->rec.exchanges[i].code != 0) {
            return false;
        }
    }
    return true;
}

/* Whether a reply with this code can answer exchange x. */
static bool reply_fits(const struct record_exchange *x, const struct reply_acc *r)
{
    uint16_t code = r->code;
    if (x->kind == RECORD_KIND_AUTH_LINE) {
        return code == 334 || code == 235 || code >= 500;
    }
    if (x->kind == RECORD_KIND_MESSAGE) {
        return code != 354 && code != 334 && code != 221;
    }
    switch (x->verb) {
    case SMTP_VERB_DATA:
        return code == 354 || code >= 400;
    case SMTP_VERB_QUIT:
        return code == 221;
    case SMTP_VERB_AUTH:
        return code == 334 || code == 235 || code >= 400;
    case SMTP_VERB_STARTTLS:
        return code == 220 || code >= 400;
    default:
        return code != 354 && code != 334 && code != 221 && code != 220;
    }
}

/* A reply whose text or enhanced code names what it answers (RFC 3463
 * X.1.0 sender, X.1.5 recipient; 354 only answers DATA). */
static bool reply_names(const struct record_exchange *x, const struct reply_acc *r)
{
    const struct smtp_enhanced *e = &r->enhanced;
    if (r->code == 354) {
        return x->kind == RECORD_KIND_COMMAND && x->verb == SMTP_VERB_DATA;
    }
    if (r->code == 221) {
        return x->kind == RECORD_KIND_COMMAND && x->verb == SMTP_VERB_QUIT;
    }
    if (e->klass == 0 || x->kind != RECORD_KIND_COMMAND) {
        return false;
    }
    if (e->subject == 1 && e->detail == 0) {
        return x->verb == SMTP_VERB_MAIL;
    }
    if (e->subject == 1 && (e->detail == 5 || e->detail == 1)) {
        return x->verb == SMTP_VERB_RCPT;
    }
    return false;
}

/*
 * After a hole in the server's bytes, which of the commands then pending
 * (or the next one) the reply r answers: the first one the reply names,
 * else the first one it can answer at all, else the oldest.
 */
static uint32_t pick_after_gap(const struct session *s, const struct reply_acc *r)
{
    /* It may answer any of them, or the first command after them. */
    uint32_t first = s->next_unanswered;
    uint32_t end = first + s->gap_candidates + 1;
    if (end > s->rec.n_exchanges) {
        end = s->rec.n_exchanges;
    }
    for (uint32_t i = first; i < end; i++) {
        if (reply_names(&s->rec.exchanges[i], r)) {
            return i;
        }
    }
    for (uint32_t i = first; i < end; i++) {
        if (reply_fits(&s->rec.exchanges[i], r)) {
            return i;
        }
    }
    return first;
}

static void on_reply_complete(struct session *s, int64_t now_us)
{
    struct reply_acc r = s->reply;
    memset(&s->reply, 0, sizeof(s->reply));
    if (s->saw_221) {
        set_flag(s, VERDICT_FLAG_REPLY_AFTER_221);
    }
    if (r.code == 421) {
        s->saw_421 = true;
    }
    if (r.code == 0) {
        return; /* a line that is no reply: flagged, never paired */
    }
    bool first_reply = !s->greeting_window_closed;
    s->greeting_window_closed = true;
    if (!s->rec.has_greeting && (!s->midstream || (first_reply && is_missed_greeting(s, r.code)))) {
        on_greeting(s, &r, now_us);
        return;
    }
    if (s->state == SESSION_CONTENT && s->next_unanswered >= s->rec.n_exchanges &&
        s->n_pending_unstored == 0) {
        /* The server spoke before CRLF.CRLF: it ended the content, unless
         * the end-of-data line fell into a hole of the capture. */
        if (!s->gap_in_content) {
            set_flag(s, VERDICT_FLAG_DATA_ENDED_BY_SERVER);
        }
        smtp_parser_set_mode(&s->parser[SMTP_DIR_CLIENT], SMTP_MODE_LINE);
        finish_content(s, now_us);
    }
    if (s->gap_candidates > 0 && s->next_unanswered < s->rec.n_exchanges) {
        /* Replies to the earliest of these fell into the hole: they stay
         * unanswered rather than take a reply that is not theirs. */
        uint32_t index = pick_after_gap(s, &r);
        uint32_t skipped = index - s->next_unanswered;
        s->gap_candidates = (uint16_t)(s->gap_candidates > skipped + 1
                                           ? s->gap_candidates - skipped - 1 : 0);
        s->next_unanswered = index;
    }
    if (s->next_unanswered < s->rec.n_exchanges) {
        uint32_t index = s->next_unanswered++;
        struct record_exchange *x = &s->rec.exchanges[index];
        apply_reply(x, &r, now_us);
        if (s->client_waits && index == s->wait_index) {
            s->client_waits = false;
            s->client_resume = true;
        }
        enum record_kind kind = (enum record_kind)x->kind;
        enum smtp_verb verb = (enum smtp_verb)x->verb;
        if (r.code == 221) {
            on_221(s, verb, kind);
        }
        s->reply_done_us = now_us;
        s->auth_password_prompt = r.code == 334 && prompt_asks_password(s, r.text);
        if (kind == RECORD_KIND_MESSAGE ||
            (kind == RECORD_KIND_COMMAND && verb == SMTP_VERB_BDAT && x->bdat_last)) {
            content_end(s, index, now_us);
        }
        if (kind == RECORD_KIND_COMMAND && verb == SMTP_VERB_BDAT) {
            on_bdat_answer(s, r.code, x->bdat_last);
        }
        on_answer(s, kind, verb, r.code);
        return;
    }
    if (s->n_pending_unstored > 0) {
        s->n_pending_unstored--;
        return;
    }
    on_unsolicited(s, &r, now_us);
}

/*
 * EHLO keywords go into the arena one after another with '\n' between
 * them: one text in the record instead of a slot per keyword.  The lines
 * of one reply arrive together, so nothing else is stored in between; if
 * something were, the rest of the list is left out.
 */
static void add_extension(struct session *s, struct span keyword)
{
    struct record_text *list = &s->rec.extensions;
    size_t n = keyword.len < SMTP_TEXT_KEEP ? keyword.len : SMTP_TEXT_KEEP;
    if (s->rec.n_extensions >= SMTP_REPLY_LINES_KEEP) {
        return;
    }
    if (s->rec.n_extensions == 0) {
        list->off = s->rec.arena_len;
        list->len = 0;
    } else if (list->off + list->len != s->rec.arena_len ||
               !store_text_append(s, "\n", 1)) {
        return;
    } else {
        list->len++;
    }
    if (n > 0 && !utf8_valid(keyword.ptr, n)) {
        set_flag(s, VERDICT_FLAG_INVALID_UTF8);
    }
    if (!store_text_append(s, keyword.ptr, n)) {
        set_flag(s, VERDICT_FLAG_RECORD_TEXT_CAPPED);
        if (s->rec.n_extensions > 0) {
            s->rec.arena_len--; /* take the separator back: the list stays whole */
            list->len--;
        }
        return;
    }
    list->len += (uint32_t)n;
    s->rec.n_extensions++;
}

static void on_reply_line(struct session *s, const struct smtp_event *ev, int64_t line_us,
                          int64_t now_us)
{
    struct reply_acc *r = &s->reply;
    note_line_anomalies(s, ev->anomalies);
    if (!r->active) {
        r->active = true;
        r->code = ev->u.reply.code;
        r->enhanced = ev->u.reply.enhanced;
        r->first_us = line_us;
        r->text = keep_text(s, ev->u.reply.text, SMTP_TEXT_KEEP);
        s->collecting_ehlo = false;
        if (s->next_unanswered < s->rec.n_exchanges) {
            const struct record_exchange *x = &s->rec.exchanges[s->next_unanswered];
            s->collecting_ehlo = x->kind == RECORD_KIND_COMMAND &&
                                 (x->verb == SMTP_VERB_EHLO || x->verb == SMTP_VERB_LHLO) &&
                                 ev->u.reply.code == 250;
        }
        if (s->collecting_ehlo) {
            s->rec.n_extensions = 0;
        }
    } else if (s->collecting_ehlo) {
        add_extension(s, ev->u.reply.text);
    }
    r->n_lines++;
    r->anomalies |= (uint16_t)ev->anomalies;
    if (ev->u.reply.is_last) {
        on_reply_complete(s, now_us);
    }
}

static void on_server_event(struct session *s, const struct smtp_event *ev, int64_t line_us,
                            int64_t now_us)
{
    if (s->resync_server) {
        /* Start at the first line that is a reply (if it is the tail of a
         * multi-line reply, that reply is only shorter). */
        if (ev->type != SMTP_EV_REPLY || ev->u.reply.code == 0) {
            return;
        }
        s->resync_server = false;
    }
    switch (ev->type) {
    case SMTP_EV_REPLY:
        on_reply_line(s, ev, line_us, now_us);
        break;
    default:
        break;
    }
}

/* ---- feeding --------------------------------------------------------------- */

/*
 * On an implicit-TLS port the first byte each side sends decides what that
 * side speaks: a TLS record (content types 20-23, RFC 8446 5.1) or an
 * SSLv2-style hello (high bit set) is TLS, read no further; anything else
 * is plaintext SMTP spoken on a port meant for TLS, read as SMTP.  When
 * every side that spoke spoke TLS the session is implicit TLS; a plaintext
 * greeting answered by a ClientHello (a client that expected TLS, a server
 * that does not do it) is read for what each side said.
 */
static void decide_tls(struct session *s, enum smtp_dir dir, uint8_t first)
{
    if (s->starttls_accepted) {
        /* After STARTTLS's 220 the first new bytes of either side decide
         * for both. */
        s->tls_undecided = 0;
        if ((first >= 20 && first <= 23) || first >= 0x80) {
            start_tls(s, RECORD_TLS_STARTTLS);
        } else {
            set_flag(s, VERDICT_FLAG_CLEARTEXT_AFTER_STARTTLS);
        }
        return;
    }
    s->tls_undecided &= (uint8_t)~(1u << dir);
    if ((first >= 20 && first <= 23) || first >= 0x80) {
        s->tls_spoken = true;
        smtp_parser_set_mode(&s->parser[dir], SMTP_MODE_OPAQUE);
    } else {
        s->plain_spoken = true;
        set_flag(s, VERDICT_FLAG_PLAINTEXT_ON_TLS_PORT);
    }
    if (s->tls_spoken && !s->plain_spoken && s->tls_undecided == 0) {
        start_tls(s, RECORD_TLS_IMPLICIT);
    }
}

/* At the end: a side that said nothing is taken to speak as the other
 * did, and a session where nobody spoke as the port says (TLS). */
static void decide_tls_at_end(struct session *s)
{
    if (s->starttls_accepted) {
        start_tls(s, RECORD_TLS_STARTTLS); /* nothing came after the 220 */
    } else if (s->tls_spoken && !s->plain_spoken) {
        start_tls(s, RECORD_TLS_IMPLICIT);
    } else if (!s->tls_spoken && !s->plain_spoken && s->tls_undecided != 0) {
        start_tls(s, RECORD_TLS_IMPLICIT);
    }
    s->tls_undecided = 0;
}

/*
 * Called with client bytes waiting behind a DATA or STARTTLS that has no
 * reply yet.  They stay held, unless holding them would pass the line cap:
 * then the client clearly did not wait, and the likely answer is assumed.
 */
static bool client_may_go_on(struct session *s, const uint8_t *next, size_t waiting)
{
    bool unseen = s->rec.missing_side == RECORD_SIDE_SERVER;
    if (!unseen) {
        set_flag(s, VERDICT_FLAG_CLIENT_DID_NOT_WAIT);
    }
    if (waiting < SMTP_LINE_CAP && !unseen) {
        return false;
    }
    s->client_waits = false;
    if (s->wait_index < s->rec.n_exchanges &&
        s->rec.exchanges[s->wait_index].verb == SMTP_VERB_DATA) {
        begin_content(s, s->held_since_us[SMTP_DIR_CLIENT]);
        s->content_early = true;
    } else if (unseen && (next[0] >= 20 && next[0] <= 23)) {
        /* The client went on in TLS: the unseen reply was 220. */
        start_tls(s, RECORD_TLS_STARTTLS);
    }
    return true;
}

bool session_client_resume(struct session *s)
{
    bool resume = s->client_resume;
    s->client_resume = false;
    return resume;
}

/*
 * Starts loading what feeding s in direction dir will touch besides the
 * session itself, so the cache misses of a session not seen for a while
 * overlap with parsing rather than queue behind it.
 */
static inline __attribute__((always_inline)) void prefetch_feed_targets(const struct session *s,
                                                                    enum smtp_dir dir)
{
    /* Where a command's exchange goes, or the exchange a reply answers,
     * and where the next text goes. */
    if (s->rec.exchanges != NULL) {
        uint32_t i = dir == SMTP_DIR_CLIENT ? s->rec.n_exchanges : s->next_unanswered;
        __builtin_prefetch(&s->rec.exchanges[i], 1);
    }
    if (s->rec.arena != NULL) {
        __builtin_prefetch(s->rec.arena + s->rec.arena_len, 1);
    }
}

size_t session_feed(struct session_table *t, struct session *s, enum smtp_dir dir,
                    const uint8_t *buf, size_t len, size_t held, int64_t now_us)
{
    size_t off = 0;
    struct smtp_event ev;
    if (held == 0) {
        s->held_since_us[dir] = now_us;
    }
    if (s->tls_undecided != 0 && (s->tls_undecided & (1u << dir)) && len > held) {
        decide_tls(s, dir, buf[held]);
    }
    s->rec.bytes[dir] += len - held;
    session_note_activity(t, s, now_us);
    if (t->stats.n_open > t->cfg.prefetch_above) {
        prefetch_feed_targets(s, dir);
    }
    for (;;) {
        if (dir == SMTP_DIR_CLIENT && s->client_waits && off < len &&
            !client_may_go_on(s, buf + off, len - off)) {
            break;
        }
        size_t used = smtp_parse(&s->parser[dir], buf + off, len - off, &ev);
        if (ev.type == SMTP_EV_NONE) {
            break;
        }
        int64_t line_us = off < held ? s->held_since_us[dir] : now_us;
        /* A line wholly inside bytes held from earlier packets was complete
         * before this packet: it gets the time those bytes arrived. */
        int64_t done_us = off + used <= held ? s->held_since_us[dir] : now_us;
        const uint8_t *bytes = buf + off;
        off += used;
        if (dir == SMTP_DIR_CLIENT) {
            on_client_event(s, &ev, bytes, done_us);
        } else {
            on_server_event(s, &ev, line_us, done_us);
            if (s->client_resume && t->cfg.resume_client != NULL && !s->ending) {
                /* Client bytes held behind DATA or STARTTLS are framed by
                 * the reply just parsed; they come before the server's
                 * next reply (which may answer the message they hold). */
                t->cfg.resume_client(t->cfg.resume_ctx, s);
            }
        }
    }
    if (off >= held && off < len) {
        s->held_since_us[dir] = now_us;
    }
    return off;
}

/* ---- TCP facts, idleness, end ------------------------------------------- */

static void note_closer(struct session *s, enum smtp_dir dir)
{
    if (s->rec.closer == RECORD_SIDE_NONE) {
        s->rec.closer = dir == SMTP_DIR_CLIENT ? RECORD_SIDE_CLIENT : RECORD_SIDE_SERVER;
    }
}

void session_note_fin(struct session *s, enum smtp_dir dir, int64_t now_us)
{
    s->saw_fin = true;
    note_closer(s, dir);
    if (now_us > s->rec.last_us) {
        s->rec.last_us = now_us;
    }
}

void session_note_rst(struct session *s, enum smtp_dir dir, int64_t now_us, bool had_payload)
{
    s->saw_rst = true;
    note_closer(s, dir);
    if (had_payload) {
        set_flag(s, VERDICT_FLAG_RST_PAYLOAD_LOST);
    }
    if (now_us > s->rec.last_us) {
        s->rec.last_us = now_us;
    }
}

/* Whether bytes held after DATA hold an end-of-data line (RFC 5321
 * 4.1.1.4; bare LF line ends count too: the client plainly ended a
 * message). */
static bool ends_a_message(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i + 2 <= n; i++) {
        bool line_start = i == 0 || p[i - 1] == '\n';
        if (line_start && p[i] == '.' &&
            (p[i + 1] == '\n' || (p[i + 1] == '\r' && i + 2 < n && p[i + 2] == '\n'))) {
            return true;
        }
    }
    return false;
}

size_t session_line_done(struct session_table *t, struct session *s, enum smtp_dir dir,
                         const uint8_t *buf, size_t len, int64_t now_us)
{
    struct smtp_parser *p = &s->parser[dir];
    bool reply_like = len >= 4 && buf[0] >= '2' && buf[0] <= '5' && buf[1] >= '0' &&
                      buf[1] <= '9' && buf[2] >= '0' && buf[2] <= '9' &&
                      (buf[3] == ' ' || buf[3] == '-');
    bool command_like = len >= 4 && ((buf[0] | 0x20) >= 'a' && (buf[0] | 0x20) <= 'z');
    if (p->mode != SMTP_MODE_LINE || s->state == SESSION_ENDED || len >= SMTP_LINE_CAP ||
        (dir == SMTP_DIR_SERVER ? !reply_like : (!command_like || s->client_waits))) {
        return 0;
    }
    (void)t;
    struct smtp_event ev;
    size_t used = smtp_parse_finish(p, buf, len, &ev);
    if (ev.type == SMTP_EV_NONE) {
        return 0;
    }
    int64_t at = s->held_since_us[dir];
    if (dir == SMTP_DIR_CLIENT) {
        on_client_event(s, &ev, buf, at);
    } else {
        on_server_event(s, &ev, at, at);
        if (s->reply.active) {
            on_reply_complete(s, at);
        }
    }
    s->held_since_us[dir] = now_us;
    return used;
}

static void finish_tail(struct session_table *t, struct session *s, enum smtp_dir dir,
                        const struct session_end *end)
{
    struct smtp_event ev;
    size_t len = end->tail[dir] ? end->tail_len[dir] : 0;
    size_t off = 0;
    if (len > 0) {
        /* Whole lines held back (client waiting on a reply) parse as usual,
         * but a client that streamed a message after DATA and ended it
         * with "." sent content, whether or not a 354 was seen. */
        if (dir == SMTP_DIR_CLIENT && s->client_waits && ends_a_message(end->tail[dir], len) &&
            s->wait_index < s->rec.n_exchanges &&
            s->rec.exchanges[s->wait_index].verb == SMTP_VERB_DATA) {
            begin_content(s, s->held_since_us[SMTP_DIR_CLIENT]);
            s->content_early = true;
        }
        s->client_waits = false;
        off = session_feed(t, s, dir, end->tail[dir], len, len, s->held_since_us[dir]);
    }
    if (len == 0) {
        return; /* nothing held (and no buffer to point into) */
    }
    smtp_parse_finish(&s->parser[dir], end->tail[dir] + off, len - off, &ev);
    if (ev.type == SMTP_EV_NONE) {
        return;
    }
    if (dir == SMTP_DIR_CLIENT) {
        on_client_event(s, &ev, end->tail[dir] + off, s->held_since_us[dir]);
    } else {
        on_server_event(s, &ev, s->held_since_us[dir], s->held_since_us[dir]);
        if (s->reply.active) {
            on_reply_complete(s, s->held_since_us[dir]);
        }
    }
}

static void end_flags(struct session *s, const struct session_end *end)
{
    static const enum verdict_flag by_reason[] = {
        [RECORD_END_IDLE] = VERDICT_FLAG_IDLE_TIMEOUT,
        [RECORD_END_EVICTED] = VERDICT_FLAG_EVICTED,
        [RECORD_END_PORT_REUSED] = VERDICT_FLAG_PORT_REUSED,
        [RECORD_END_STOPPED] = VERDICT_FLAG_CAPTURE_STOPPED,
    };
    if (end->reason == RECORD_END_IDLE || end->reason == RECORD_END_EVICTED ||
        end->reason == RECORD_END_PORT_REUSED || end->reason == RECORD_END_STOPPED) {
        set_flag(s, by_reason[end->reason]);
    }
    if (end->gap[0] || end->gap[1]) {
        set_flag(s, VERDICT_FLAG_STREAM_GAP);
    }
    if (end->missing_side != RECORD_SIDE_NONE) {
        session_set_one_sided(s, end->missing_side);
    }
    if (s->rec.missing_side == RECORD_SIDE_SERVER) {
        /* Without the server's bytes, greeting and waiting are unknown. */
        s->rec.flags &= ~(VERDICT_FLAG_BIT(VERDICT_FLAG_CLIENT_BEFORE_GREETING) |
                          VERDICT_FLAG_BIT(VERDICT_FLAG_NO_GREETING));
    }
    if (s->saw_rst && s->saw_221) {
        set_flag(s, VERDICT_FLAG_RST_AFTER_221);
    }
    if (s->rec.bytes[SMTP_DIR_SERVER] == 0) {
        /* Nothing from the server at all (a one-sided capture): whether
         * the client waited for replies cannot be told. */
        s->rec.flags &= ~VERDICT_FLAG_BIT(VERDICT_FLAG_CLIENT_DID_NOT_WAIT);
    }
    if (!s->rec.has_greeting && s->rec.tls != RECORD_TLS_IMPLICIT && !s->midstream &&
        s->rec.missing_side != RECORD_SIDE_SERVER) {
        set_flag(s, VERDICT_FLAG_NO_GREETING);
    }
}

/* The verdict from the facts the session gathered and its record. */
static enum verdict_label verdict_classify_session(const struct session *s)
{
    const struct verdict_facts facts = {
        .saw_fin = s->saw_fin,
        .saw_rst = s->saw_rst,
        .is_tls = s->rec.tls != RECORD_TLS_NONE,
        .saw_421 = s->saw_421,
        .saw_221_not_quit_in_txn = s->saw_221_not_quit_in_txn,
        .saw_221_not_quit_no_txn = s->saw_221_not_quit_no_txn,
        .quit_answered_221 = s->quit_answered_221,
        .client_data_after_221 = s->client_data_after_221,
        .saw_quit = s->saw_quit,
        .n_mail_tried = s->rec.messages_attempted,
        .n_messages_accepted = s->rec.messages_accepted,
        .one_sided = s->rec.missing_side != RECORD_SIDE_NONE,
    };
    return verdict_classify(&facts);
}

void session_end(struct session_table *t, struct session *s, const struct session_end *end)
{
    s->ending = true; /* the tails are all there is: the glue holds nothing more */
    if (s->tls_undecided != 0) {
        decide_tls_at_end(s);
    }
    finish_tail(t, s, SMTP_DIR_SERVER, end);
    finish_tail(t, s, SMTP_DIR_CLIENT, end);
    content_end(s, UINT32_MAX, s->rec.last_us);
    headers_finish(s, UINT32_MAX);
    if (end->now_us > s->rec.last_us && end->reason != RECORD_END_END_OF_INPUT &&
        end->reason != RECORD_END_STOPPED && end->reason != RECORD_END_IDLE) {
        s->rec.last_us = end->now_us;
    }
    s->rec.end = (uint8_t)end->reason;
    end_flags(s, end);
    s->rec.label = (uint8_t)verdict_classify_session(s);
    session_set_state(s, SESSION_ENDED);
    store_session_done(t, s);
}

/* ---- opening ------------------------------------------------------------- */

static bool is_implicit_tls_port(const struct session_config *cfg, uint16_t port)
{
    return cfg->implicit_tls != NULL && port_set_has(cfg->implicit_tls, port);
}

struct session *session_open(struct session_table *t, const struct record_endpoint *client,
                             const struct record_endpoint *server, int64_t syn_us,
                             int64_t synack_us, int64_t est_us)
{
    struct session *s = store_session_new(t);
    if (s == NULL) {
        return NULL;
    }
    s->rec.client = *client;
    s->rec.server = *server;
    s->rec.input = t->input;
    s->rec.syn_us = syn_us;
    s->rec.synack_us = synack_us;
    s->rec.est_us = est_us;
    s->rec.last_us = est_us;
    s->held_since_us[0] = s->held_since_us[1] = est_us;
    smtp_parser_init(&s->parser[SMTP_DIR_CLIENT], SMTP_DIR_CLIENT);
    smtp_parser_init(&s->parser[SMTP_DIR_SERVER], SMTP_DIR_SERVER);
    s->state = SESSION_GREETING_WAIT;
    s->tls_undecided = is_implicit_tls_port(&t->cfg, server->port) ? 3 : 0;
    return s;
}

void session_set_midstream(struct session *s)
{
    s->midstream = true;
    s->rec.is_midstream = true;
    set_flag(s, VERDICT_FLAG_MIDSTREAM);
    if (s->rec.tls == RECORD_TLS_NONE) {
        s->resync_client = true;
        s->resync_server = true;
        session_set_state(s, SESSION_COMMANDS);
    }
}

void session_note_offload(struct session *s)
{
    set_flag(s, VERDICT_FLAG_OFFLOAD_SEGMENTS);
}

void session_set_one_sided(struct session *s, enum record_side missing)
{
    if (s->rec.missing_side != RECORD_SIDE_NONE || missing == RECORD_SIDE_NONE) {
        return;
    }
    s->rec.missing_side = (uint8_t)missing;
    set_flag(s, VERDICT_FLAG_ONE_SIDED);
    if (missing == RECORD_SIDE_CLIENT) {
        /* Replies with no command seen are not the server's fault. */
        s->rec.flags &= ~VERDICT_FLAG_BIT(VERDICT_FLAG_UNSOLICITED_REPLY);
        return;
    }
    /* No reply will be seen: a command waiting on one goes on now. */
    s->rec.flags &= ~VERDICT_FLAG_BIT(VERDICT_FLAG_CLIENT_DID_NOT_WAIT);
    if (s->client_waits) {
        s->client_waits = false;
        s->client_resume = true;
        if (s->wait_index < s->rec.n_exchanges &&
            s->rec.exchanges[s->wait_index].verb == SMTP_VERB_DATA) {
            begin_content(s, s->held_since_us[SMTP_DIR_CLIENT]);
            s->content_early = true;
        }
    }
}

void session_gap(struct session *s, enum smtp_dir dir, uint64_t n_missing)
{
    if (n_missing == 0) {
        return;
    }
    s->rec.gap_bytes[dir] += n_missing;
    set_flag(s, VERDICT_FLAG_STREAM_GAP);
    struct smtp_parser *p = &s->parser[dir];
    if (dir == SMTP_DIR_CLIENT && s->client_waits && s->wait_index < s->rec.n_exchanges &&
        s->rec.exchanges[s->wait_index].verb == SMTP_VERB_DATA) {
        /* The client sent on after DATA without its reply, and past bytes
         * lost: what it sent is the message (its held bytes come now). */
        s->client_waits = false;
        s->client_resume = true;
        begin_content(s, s->held_since_us[SMTP_DIR_CLIENT]);
        s->content_early = true;
    }
    if (dir == SMTP_DIR_CLIENT) {
        if (p->mode == SMTP_MODE_DATA) {
            /* The message goes on; its size counts what the hole held, and
             * if the end-of-data line was in it, the server's reply ends
             * the message without blame. */
            s->content_bytes += n_missing;
            s->gap_in_content = true;
        } else if (p->mode == SMTP_MODE_BDAT) {
            uint64_t in_chunk = n_missing < p->bdat_left ? n_missing : p->bdat_left;
            s->rec.message_bytes += in_chunk;
        } else if (p->mode == SMTP_MODE_LINE) {
            /* Zeek's rule: the next line that starts with a known verb. */
            s->resync_client = true;
        }
        smtp_parser_gap(p, n_missing);
        return;
    }
    smtp_parser_gap(p, n_missing);
    if (p->mode != SMTP_MODE_LINE) {
        return;
    }
    memset(&s->reply, 0, sizeof(s->reply));
    s->resync_server = true;
    if (!s->rec.has_greeting) {
        s->midstream = true; /* the greeting may have been in the hole */
    }
    uint32_t pending = s->rec.n_exchanges > s->next_unanswered
                           ? s->rec.n_exchanges - s->next_unanswered : 0;
    s->gap_candidates = (uint16_t)(pending > UINT16_MAX ? UINT16_MAX : pending);
}

void *session_glue(struct session *s)
{
    return s->glue;
}

const struct session_record *session_record_view(const struct session *s)
{
    return &s->rec;
}
