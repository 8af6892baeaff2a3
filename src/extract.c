/*
 * extract.c - --extract DIR: each message in clear as NAME.eml plus NAME.json.
 *
 * Role: an output stage beside the writers (extract.h is its contract).
 * Content streams in from the session; DATA is un-dot-stuffed on the fly
 * (RFC 5321 4.5.2: a leading "." is removed, the "." CRLF line ends the
 * content) with a state kept across calls that mirrors the parser's
 * end-of-data matcher, so the split of the stream never changes the file.
 * BDAT chunks (RFC 3030) are written as they are.  The .eml is hashed
 * (Nettle SHA-256) as it is written.  When the message ends, GMime 3
 * parses the file (never hand-written MIME decoding) for a header summary
 * and the attachments, whose decoded content is hashed as GMime's decoding
 * filter streams it, so memory does not grow with attachment size.
 *
 * Never: a path from the wire (names are session id and message number),
 * a write outside DIR (openat on one directory descriptor, O_NOFOLLOW), an
 * overwrite (O_EXCL: an existing file fails that message, counted and
 * warned about on standard error, the first EXTRACT_WARNINGS_SHOWN of
 * them), a wire string into JSON unescaped (escape_json, capped).
 *
 * SPDX-License-Identifier: MIT
 */
#include "extract.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nettle/sha2.h>

#include <gmime/gmime.h>

#include "escape.h"

/* Files larger than this get no MIME summary: bounds the parse's work. */
#define EXTRACT_PARSE_MAX ((uint64_t)64 << 20)
/* Bytes kept (and escaped into JSON) of each header, filename, type. */
#define EXTRACT_TEXT_KEEP 512
/* The sidecar's buffer: envelope of up to SESSION_EXCHANGES_KEEP RCPTs. */
#define EXTRACT_JSON_MAX ((size_t)16 << 20)
#define EXTRACT_NAME_MAX 64

enum extract_header { EH_FROM, EH_TO, EH_CC, EH_SUBJECT, EH_DATE, EH_MESSAGE_ID, EH_COUNT };

static const char *const header_names[EH_COUNT] = {"From", "To", "Cc", "Subject", "Date",
                                                    "Message-ID"};
static const char *const header_keys[EH_COUNT] = {"from", "to", "cc", "subject", "date",
                                                   "message_id"};

/* Un-dot-stuffing state, the same states as the parser's EOD_* matcher. */
enum unstuff_state {
    UNSTUFF_LINE_START = 0, /* after CRLF (and at the start of content) */
    UNSTUFF_DOT,            /* "." at a line start, held back */
    UNSTUFF_DOT_CR,         /* "." CR at a line start, held back */
    UNSTUFF_MID,            /* inside a line */
    UNSTUFF_CR,             /* inside a line, after CR */
    UNSTUFF_DONE            /* "." CRLF seen: the rest is not content */
};

enum parse_result { PARSE_NONE = 0, PARSE_OK, PARSE_TOO_LARGE, PARSE_FAILED };

struct extractor {
    int dirfd;
    uint64_t n_written;
    uint64_t n_failed;
    uint64_t max_id;                  /* -c: sessions past this one are not written (0: all) */
    const char *dir;                  /* as given; for warnings only */
    bool gmime_ready;
    struct capbuf json;
    char name[EXTRACT_NAME_MAX]; /* the last message's .eml name */
    char headers[EH_COUNT][EXTRACT_TEXT_KEEP + 1];
    bool has_header[EH_COUNT];
    char att_filename[EXTRACT_ATTACHMENTS_MAX][EXTRACT_TEXT_KEEP + 1];
    char att_type[EXTRACT_ATTACHMENTS_MAX][EXTRACT_TEXT_KEEP + 1];
    bool att_has_filename[EXTRACT_ATTACHMENTS_MAX];
    uint64_t n_attachments_seen; /* beyond EXTRACT_ATTACHMENTS_MAX: counted only */
    struct extract_summary sum;
    /* What the session sink hands on: its spans point into this, so it
     * must outlive extract_sink_end() (a local did not: the session read
     * the SHA-256 texts from a dead stack frame). */
    struct extract_summary last;
};

struct extract_message {
    FILE *f;
    struct sha256_ctx sha;
    uint64_t size;
    bool write_failed;
    int write_errno;    /* of the first failed write */
    uint8_t state; /* enum unstuff_state */
    uint64_t session_id;
    uint32_t msg_no;
    uint32_t boundary; /* exchanges recorded when content began */
    int64_t start_us;
    char name[EXTRACT_NAME_MAX];
};

/* ---- open and close ----------------------------------------------------- */

struct extractor *extract_open(const char *dir, char *err, size_t errlen)
{
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "%s: cannot create: %s", dir, strerror(errno));
        return NULL;
    }
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "%s: not a usable directory: %s", dir, strerror(errno));
        return NULL;
    }
    struct extractor *x = calloc(1, sizeof(*x));
    if (x == NULL) {
        snprintf(err, errlen, "out of memory");
        close(fd);
        return NULL;
    }
    x->dirfd = fd;
    x->dir = dir;
    capbuf_init(&x->json, EXTRACT_JSON_MAX);
    g_mime_init();
    x->gmime_ready = true;
    return x;
}

void extract_close(struct extractor *x)
{
    if (x == NULL) {
        return;
    }
    if (x->gmime_ready) {
        g_mime_shutdown();
    }
    capbuf_free(&x->json);
    close(x->dirfd);
    free(x);
}

void extract_counts(const struct extractor *x, uint64_t *written, uint64_t *failed)
{
    *written = x != NULL ? x->n_written : 0;
    *failed = x != NULL ? x->n_failed : 0;
}

/*
 * A message that could not be written: counted, and said on standard
 * error for the first few (a rerun into a full directory fails every
 * message; the count in the summary says how many).  name is ours
 * (session-N-msg-M), never wire text.
 */
static void extract_failed(struct extractor *x, const char *name, int err)
{
    x->n_failed++;
    if (x->n_failed <= EXTRACT_WARNINGS_SHOWN) {
        fprintf(stderr, "smtpscope: --extract: %s/%s: %s; message not extracted%s\n", x->dir,
                name, strerror(err),
                x->n_failed == EXTRACT_WARNINGS_SHOWN ? " (further failures are only counted)"
                                                       : "");
    }
}

/* ---- streaming the content ---------------------------------------------- */

/* Creates DIR/name, refusing to follow a link or replace anything.  Mode
 * 0640 (before the umask): messages hold addresses and content; DIR
 * itself is 0700 when created here. */
static int create_in_dir(const struct extractor *x, const char *name)
{
    return openat(x->dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0640);
}

void extract_limit(struct extractor *x, uint64_t max_id)
{
    x->max_id = max_id;
}

struct extract_message *extract_begin(struct extractor *x, const struct session_record *r,
                                      uint32_t msg_no, int64_t start_us)
{
    if (x == NULL || (x->max_id > 0 && r->id > x->max_id)) {
        return NULL;
    }
    struct extract_message *m = calloc(1, sizeof(*m));
    if (m == NULL) {
        extract_failed(x, "(message)", ENOMEM);
        return NULL;
    }
    m->session_id = r->id;
    m->msg_no = msg_no;
    m->boundary = r->n_exchanges;
    m->start_us = start_us;
    snprintf(m->name, sizeof(m->name), "session-%llu-msg-%lu.eml", (unsigned long long)r->id,
             (unsigned long)msg_no);
    int fd = create_in_dir(x, m->name);
    int err = errno;
    if (fd >= 0) {
        m->f = fdopen(fd, "wb");
        if (m->f == NULL) {
            err = errno;
            close(fd);
            unlinkat(x->dirfd, m->name, 0);
        }
    }
    if (m->f == NULL) {
        extract_failed(x, m->name, err);
        free(m);
        return NULL;
    }
    sha256_init(&m->sha);
    return m;
}

static void put_bytes(struct extract_message *m, const uint8_t *p, size_t n)
{
    if (n == 0) {
        return;
    }
    if (fwrite(p, 1, n, m->f) != n && !m->write_failed) {
        m->write_failed = true;
        m->write_errno = errno;
    }
    sha256_update(&m->sha, n, p);
    m->size += n;
}

/*
 * Inside a line only its LF matters: memchr jumps to it, the run is
 * written in one piece, and the state says whether a line starts next.
 * Returns the bytes used.
 */
static size_t unstuff_mid(struct extract_message *m, const uint8_t *p, size_t n)
{
    const uint8_t *nl = memchr(p, '\n', n);
    if (nl == NULL) {
        put_bytes(m, p, n);
        m->state = p[n - 1] == '\r' ? UNSTUFF_CR : UNSTUFF_MID;
        return n;
    }
    size_t j = (size_t)(nl - p);
    bool crlf = j > 0 ? p[j - 1] == '\r' : m->state == UNSTUFF_CR;
    put_bytes(m, p, j + 1);
    m->state = crlf ? UNSTUFF_LINE_START : UNSTUFF_MID;
    return j + 1;
}

/* One byte in a held-back state (line start, ".", "." CR). */
static void unstuff_byte(struct extract_message *m, uint8_t c)
{
    static const uint8_t cr = '\r';
    switch (m->state) {
    case UNSTUFF_LINE_START:
        if (c == '.') {
            m->state = UNSTUFF_DOT; /* held back until the next byte says which */
            break;
        }
        put_bytes(m, &c, 1);
        m->state = c == '\r' ? UNSTUFF_CR : UNSTUFF_MID;
        break;
    case UNSTUFF_DOT:
        /* The leading dot is dropped either way (stuffing or the end). */
        if (c == '\r') {
            m->state = UNSTUFF_DOT_CR;
        } else {
            put_bytes(m, &c, 1);
            m->state = UNSTUFF_MID;
        }
        break;
    case UNSTUFF_DOT_CR:
        if (c == '\n') {
            m->state = UNSTUFF_DONE;
            break;
        }
        put_bytes(m, &cr, 1);
        put_bytes(m, &c, 1);
        m->state = c == '\r' ? UNSTUFF_CR : UNSTUFF_MID;
        break;
    default:
        break;
    }
}

void extract_data(struct extract_message *m, const uint8_t *p, size_t n, bool is_bdat)
{
    if (m == NULL || n == 0) {
        return;
    }
    if (is_bdat) {
        put_bytes(m, p, n);
        return;
    }
    size_t i = 0;
    while (i < n && m->state != UNSTUFF_DONE) {
        if (m->state == UNSTUFF_MID || m->state == UNSTUFF_CR) {
            i += unstuff_mid(m, p + i, n - i);
        } else {
            unstuff_byte(m, p[i++]);
        }
    }
}

/* ---- the MIME summary ---------------------------------------------------- */

/* Copies s into a kept field, cut at a UTF-8 boundary within the cap. */
static void keep_text(char dst[EXTRACT_TEXT_KEEP + 1], const char *s)
{
    size_t n = strlen(s);
    if (n > EXTRACT_TEXT_KEEP) {
        n = EXTRACT_TEXT_KEEP;
        while (n > 0 && ((uint8_t)s[n] & 0xC0) == 0x80) {
            n--; /* s[n] continues a sequence: cut before its lead byte */
        }
    }
    memcpy(dst, s, n);
    dst[n] = '\0';
}

static void hex_digest(struct sha256_ctx *ctx, char hex[65])
{
    static const char digits[] = "0123456789abcdef";
    uint8_t digest[SHA256_DIGEST_SIZE];
    sha256_digest(ctx, sizeof(digest), digest);
    for (size_t i = 0; i < sizeof(digest); i++) {
        hex[2 * i] = digits[digest[i] >> 4];
        hex[2 * i + 1] = digits[digest[i] & 15];
    }
    hex[64] = '\0';
}

/* Unfolded and RFC 2047-decoded; the raw text when decoding gives nothing. */
static void keep_header(struct extractor *x, GMimeHeaderList *list, enum extract_header h)
{
    GMimeHeader *hdr = g_mime_header_list_get_header(list, header_names[h]);
    const char *raw = hdr != NULL ? g_mime_header_get_raw_value(hdr) : NULL;
    if (raw == NULL) {
        return;
    }
    char *unfolded = g_mime_utils_header_unfold(raw);
    const char *text = unfolded != NULL ? unfolded : raw;
    char *decoded = g_mime_utils_header_decode_text(NULL, text);
    keep_text(x->headers[h], decoded != NULL ? decoded : text);
    x->has_header[h] = true;
    g_free(decoded);
    g_free(unfolded);
}

/* Streams the part's content through GMime's transfer decoder into SHA-256. */
static void hash_part(GMimePart *part, struct extract_attachment *a)
{
    struct sha256_ctx ctx;
    sha256_init(&ctx);
    a->size = 0;
    GMimeDataWrapper *content = g_mime_part_get_content(part);
    GMimeStream *src = content != NULL ? g_mime_data_wrapper_get_stream(content) : NULL;
    if (src != NULL) {
        GMimeContentEncoding enc = g_mime_data_wrapper_get_encoding(content);
        g_mime_stream_reset(src);
        GMimeStream *fs = g_mime_stream_filter_new(src);
        if (enc == GMIME_CONTENT_ENCODING_BASE64 || enc == GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE ||
            enc == GMIME_CONTENT_ENCODING_UUENCODE) {
            GMimeFilter *dec = g_mime_filter_basic_new(enc, FALSE);
            g_mime_stream_filter_add(GMIME_STREAM_FILTER(fs), dec);
            g_object_unref(dec);
        }
        char buf[16384];
        ssize_t n;
        while ((n = g_mime_stream_read(fs, buf, sizeof(buf))) > 0) {
            sha256_update(&ctx, (size_t)n, (const uint8_t *)buf);
            a->size += (uint64_t)n;
        }
        g_object_unref(fs);
    }
    hex_digest(&ctx, a->sha256);
}

/* g_mime_message_foreach callback: leaf parts with a filename or marked
 * as attachments (RFC 2183). */
static void on_part(GMimeObject *parent, GMimeObject *obj, gpointer data)
{
    (void)parent;
    struct extractor *x = data;
    if (!GMIME_IS_PART(obj)) {
        return;
    }
    GMimePart *part = GMIME_PART(obj);
    const char *filename = g_mime_part_get_filename(part);
    if (filename == NULL && !g_mime_part_is_attachment(part)) {
        return;
    }
    uint64_t i = x->n_attachments_seen++;
    if (i >= EXTRACT_ATTACHMENTS_MAX) {
        return;
    }
    struct extract_attachment *a = &x->sum.attachments[i];
    x->att_has_filename[i] = filename != NULL;
    keep_text(x->att_filename[i], filename != NULL ? filename : "");
    char *type = g_mime_content_type_get_mime_type(g_mime_object_get_content_type(obj));
    keep_text(x->att_type[i], type != NULL ? type : "");
    g_free(type);
    hash_part(part, a);
    a->filename = x->att_has_filename[i] ? x->att_filename[i] : NULL;
    a->content_type = x->att_type[i];
    x->sum.n_attachments = (uint32_t)i + 1;
}

static enum parse_result parse_eml(struct extractor *x, const char *name, uint64_t size)
{
    if (size > EXTRACT_PARSE_MAX) {
        return PARSE_TOO_LARGE;
    }
    int fd = openat(x->dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        return PARSE_FAILED;
    }
    GMimeStream *stream = g_mime_stream_fs_new(fd); /* owns fd from here */
    GMimeParser *parser = g_mime_parser_new_with_stream(stream);
    GMimeMessage *msg = g_mime_parser_construct_message(parser, NULL);
    g_object_unref(parser);
    g_object_unref(stream);
    if (msg == NULL) {
        return PARSE_FAILED;
    }
    GMimeHeaderList *list = g_mime_object_get_header_list(GMIME_OBJECT(msg));
    for (int h = 0; h < EH_COUNT; h++) {
        keep_header(x, list, (enum extract_header)h);
    }
    g_mime_message_foreach(msg, on_part, x);
    g_object_unref(msg);
    return PARSE_OK;
}

/* ---- the sidecar ---------------------------------------------------------- */

static void put_time(struct capbuf *o, int64_t us)
{
    if (us < 0) {
        OUT_LIT(o, "null");
        return;
    }
    out_fmt(o, "%lld.%06lld", (long long)(us / 1000000), (long long)(us % 1000000));
}

static void put_text_or_null(struct capbuf *o, const char *s)
{
    if (s == NULL) {
        OUT_LIT(o, "null");
    } else {
        escape_json(o, span_make(s, strlen(s)), EXTRACT_TEXT_KEEP);
    }
}

/* Index of the exchange holding the content's reply, or where content began. */
static uint32_t content_index(const struct extract_message *m, const struct session_record *r,
                              const struct record_exchange *reply)
{
    uintptr_t base = (uintptr_t)r->exchanges;
    uintptr_t at = (uintptr_t)reply;
    if (reply != NULL && r->exchanges != NULL && at >= base &&
        at < base + (uintptr_t)r->n_exchanges * sizeof(*reply)) {
        return (uint32_t)((at - base) / sizeof(*reply));
    }
    return m->boundary < r->n_exchanges ? m->boundary : r->n_exchanges;
}

/* The last MAIL before exchange `end` within this transaction, or UINT32_MAX. */
static uint32_t find_mail(const struct session_record *r, uint32_t end)
{
    for (uint32_t i = end; i > 0; i--) {
        const struct record_exchange *e = &r->exchanges[i - 1];
        if (e->kind == RECORD_KIND_MESSAGE || (e->verb == SMTP_VERB_BDAT && e->bdat_last)) {
            break; /* an earlier message: its MAIL is not ours */
        }
        if (e->kind == RECORD_KIND_COMMAND && e->verb == SMTP_VERB_MAIL) {
            return i - 1;
        }
    }
    return UINT32_MAX;
}

static void put_envelope(struct capbuf *o, const struct session_record *r, uint32_t end)
{
    uint32_t mail = find_mail(r, end);
    OUT_LIT(o, ",\"mail_from\":");
    if (mail == UINT32_MAX) {
        OUT_LIT(o, "null,\"rcpt_to\":[]");
        return;
    }
    escape_json(o, record_span(r, r->exchanges[mail].arg), SMTP_ARG_KEEP);
    OUT_LIT(o, ",\"rcpt_to\":[");
    bool first = true;
    for (uint32_t i = mail + 1; i < end; i++) {
        const struct record_exchange *e = &r->exchanges[i];
        if (e->kind != RECORD_KIND_COMMAND || e->verb != SMTP_VERB_RCPT) {
            continue;
        }
        out_str(o, first ? "{\"arg\":" : ",{\"arg\":");
        first = false;
        escape_json(o, record_span(r, e->arg), SMTP_ARG_KEEP);
        OUT_LIT(o, ",\"code\":");
        if (e->code == 0) {
            OUT_LIT(o, "null}");
        } else {
            out_fmt(o, "%u}", (unsigned)e->code);
        }
    }
    OUT_LIT(o, "]");
}

static void put_reply(struct capbuf *o, const struct session_record *r,
                      const struct record_exchange *reply)
{
    OUT_LIT(o, ",\"final_reply\":");
    if (reply == NULL || reply->code == 0) {
        OUT_LIT(o, "null");
        return;
    }
    out_fmt(o, "{\"code\":%u,\"enhanced\":", (unsigned)reply->code);
    const struct smtp_enhanced *e = &reply->enhanced;
    if (e->klass == 0) {
        OUT_LIT(o, "null");
    } else {
        out_fmt(o, "\"%u.%u.%u\"", (unsigned)e->klass, (unsigned)e->subject, (unsigned)e->detail);
    }
    OUT_LIT(o, ",\"text\":");
    escape_json(o, record_span(r, reply->text), SMTP_TEXT_KEEP);
    OUT_LIT(o, "}");
}

static void put_mime(struct capbuf *o, const struct extractor *x, enum parse_result pr)
{
    static const char *const parse_names[] = {"none", "ok", "skipped: too large", "failed"};
    out_fmt(o, ",\"parse\":\"%s\",\"headers\":", parse_names[pr]);
    if (pr != PARSE_OK) {
        OUT_LIT(o, "null,\"attachments\":null");
        return;
    }
    for (int h = 0; h < EH_COUNT; h++) {
        out_fmt(o, "%s\"%s\":", h == 0 ? "{" : ",", header_keys[h]);
        put_text_or_null(o, x->has_header[h] ? x->headers[h] : NULL);
    }
    OUT_LIT(o, "},\"attachments\":[");
    for (uint32_t i = 0; i < x->sum.n_attachments; i++) {
        const struct extract_attachment *a = &x->sum.attachments[i];
        out_str(o, i == 0 ? "{\"filename\":" : ",{\"filename\":");
        put_text_or_null(o, a->filename);
        OUT_LIT(o, ",\"content_type\":");
        put_text_or_null(o, a->content_type);
        out_fmt(o, ",\"size\":%llu,\"sha256\":\"%s\"}", (unsigned long long)a->size, a->sha256);
    }
    uint64_t dropped = x->n_attachments_seen - x->sum.n_attachments;
    out_fmt(o, "],\"attachments_dropped\":%llu", (unsigned long long)dropped);
}

static bool build_sidecar(struct extractor *x, const struct extract_message *m,
                          const struct session_record *r, const struct record_exchange *reply,
                          int64_t end_us, enum parse_result pr)
{
    struct capbuf *o = &x->json;
    o->len = 0;
    out_fmt(o, "{\"session\":%llu,\"message\":%lu,\"file\":\"%s\",\"size\":%llu,\"sha256\":\"%s\"",
            (unsigned long long)m->session_id, (unsigned long)m->msg_no, m->name,
            (unsigned long long)m->size, x->sum.sha256);
    put_envelope(o, r, content_index(m, r, reply));
    OUT_LIT(o, ",\"content_start\":");
    put_time(o, m->start_us);
    OUT_LIT(o, ",\"content_end\":");
    put_time(o, end_us);
    put_reply(o, r, reply);
    put_mime(o, x, pr);
    /* The last append fails, and so says the buffer is full, if any did. */
    return OUT_LIT(o, "}\n");
}

static bool write_sidecar(struct extractor *x, const char *eml_name)
{
    char name[EXTRACT_NAME_MAX];
    size_t stem = strlen(eml_name) - 4; /* without ".eml" */
    snprintf(name, sizeof(name), "%.*s.json", (int)stem, eml_name);
    int fd = create_in_dir(x, name);
    if (fd < 0) {
        return false;
    }
    const uint8_t *p = x->json.data;
    size_t left = x->json.len;
    while (left > 0) {
        ssize_t n = write(fd, p, left);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            close(fd);
            return false;
        }
        p += n;
        left -= (size_t)n;
    }
    return close(fd) == 0;
}

/* ---- ending a message ------------------------------------------------------ */

static void reset_summary(struct extractor *x)
{
    memset(&x->sum, 0, sizeof(x->sum));
    memset(x->has_header, 0, sizeof(x->has_header));
    x->n_attachments_seen = 0;
}

static void fill_out(struct extractor *x, enum parse_result pr, struct extract_summary *out)
{
    const char **fields[EH_COUNT] = {&x->sum.from,    &x->sum.to,   &x->sum.cc,
                                     &x->sum.subject, &x->sum.date, &x->sum.message_id};
    for (int h = 0; h < EH_COUNT; h++) {
        *fields[h] = pr == PARSE_OK && x->has_header[h] ? x->headers[h] : NULL;
    }
    x->sum.file = x->name;
    if (out != NULL) {
        *out = x->sum;
    }
}

/* Closes the .eml; false (file removed) when any write failed. */
static bool finish_eml(struct extractor *x, struct extract_message *m)
{
    bool ok = !m->write_failed;
    if (fclose(m->f) != 0 && ok) {
        ok = false;
        m->write_errno = errno;
    }
    m->f = NULL;
    if (!ok) {
        unlinkat(x->dirfd, m->name, 0);
    }
    return ok;
}

void extract_end(struct extractor *x, struct extract_message *m, const struct session_record *r,
                 const struct record_exchange *reply, int64_t end_us,
                 struct extract_summary *out)
{
    if (out != NULL) {
        memset(out, 0, sizeof(*out));
    }
    if (m == NULL) {
        return;
    }
    if (x == NULL) {
        fclose(m->f);
        free(m);
        return;
    }
    if (!finish_eml(x, m)) {
        extract_failed(x, m->name, m->write_errno != 0 ? m->write_errno : EIO);
        free(m);
        return;
    }
    reset_summary(x);
    memcpy(x->name, m->name, sizeof(x->name));
    hex_digest(&m->sha, x->sum.sha256);
    x->sum.size = m->size;
    enum parse_result pr = parse_eml(x, m->name, m->size);
    errno = 0;
    if (build_sidecar(x, m, r, reply, end_us, pr) && write_sidecar(x, m->name)) {
        x->n_written++;
    } else {
        char side[EXTRACT_NAME_MAX];
        snprintf(side, sizeof(side), "%.*s.json", (int)(strlen(m->name) - 4), m->name);
        extract_failed(x, side, errno != 0 ? errno : EFBIG);
    }
    fill_out(x, pr, out);
    free(m);
}

/* ---- the session's content sink ----------------------------------------- */

static void *extract_sink_begin(void *ctx, const struct session_record *r, uint32_t msg_no,
                                int64_t start_us)
{
    return extract_begin(ctx, r, msg_no, start_us);
}

static void extract_sink_data(void *msg, const uint8_t *p, size_t n, bool is_bdat)
{
    extract_data(msg, p, n, is_bdat);
}

static struct span text_span(const char *s)
{
    return s != NULL ? span_make(s, strlen(s)) : span_make("", 0);
}

static void extract_sink_end(void *ctx, void *msg, const struct session_record *r,
                             const struct record_exchange *reply, int64_t end_us,
                             struct session_message_info *info)
{
    struct extractor *x = ctx;
    struct extract_summary local;
    struct extract_summary *sum = x != NULL ? &x->last : &local;
    memset(sum, 0, sizeof(*sum));
    extract_end(x, msg, r, reply, end_us, sum);
    info->file = text_span(sum->file);
    info->sha256 = text_span(sum->sha256);
    info->size = sum->size;
    info->from = text_span(sum->from);
    info->to = text_span(sum->to);
    info->cc = text_span(sum->cc);
    info->subject = text_span(sum->subject);
    info->date = text_span(sum->date);
    info->message_id = text_span(sum->message_id);
    for (uint32_t i = 0; i < sum->n_attachments && i < SESSION_INFO_ATTACHMENTS; i++) {
        info->attachments[i].filename = text_span(sum->attachments[i].filename);
        info->attachments[i].content_type = text_span(sum->attachments[i].content_type);
        info->attachments[i].sha256 = text_span(sum->attachments[i].sha256);
        info->attachments[i].size = sum->attachments[i].size;
        info->n_attachments = i + 1;
    }
}

struct session_content_sink extract_content_sink(struct extractor *x)
{
    return (struct session_content_sink){x, extract_sink_begin, extract_sink_data,
                                         extract_sink_end};
}
