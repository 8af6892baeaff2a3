/*
 * check_extract.c - --extract: the .eml bytes, the sidecar, the files made.
 *
 * Each test builds a session record by hand (arena plus exchanges), feeds
 * content through extract_begin/data/end into a fresh directory, and
 * checks the file bytes (dot-stuffing undone, final "." line dropped, for
 * every split of the input), the sidecar JSON as an exact string, the
 * MIME summary against hashes computed here with Nettle, and that nothing
 * is ever created outside DIR or written over an existing file.
 *
 * SPDX-License-Identifier: MIT
 */
#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nettle/base64.h>
#include <nettle/sha2.h>

#include "extract.h"
#include "suites.h"
#include "test_util.h"

/* ---- a fabricated session record ------------------------------------------ */

struct fake {
    uint8_t arena[4096];
    uint32_t arena_len;
    struct record_exchange ex[16];
    struct session_record r;
};

static struct record_text fake_text(struct fake *f, const char *s)
{
    struct record_text t = {f->arena_len, (uint32_t)strlen(s)};
    CHECK(f->arena_len + t.len <= sizeof(f->arena));
    memcpy(f->arena + f->arena_len, s, t.len);
    f->arena_len += t.len;
    f->r.arena = f->arena;
    f->r.arena_len = f->arena_len;
    return t;
}

static struct record_exchange *fake_add(struct fake *f, enum record_kind kind, enum smtp_verb verb,
                                        const char *arg, uint16_t code, const char *text)
{
    CHECK(f->r.n_exchanges < 16);
    struct record_exchange *e = &f->ex[f->r.n_exchanges++];
    memset(e, 0, sizeof(*e));
    e->kind = (uint8_t)kind;
    e->verb = (uint8_t)verb;
    e->code = code;
    e->arg = fake_text(f, arg);
    e->text = fake_text(f, text);
    f->r.exchanges = f->ex;
    return e;
}

/* EHLO, MAIL, two RCPTs (one refused), DATA: content is due. */
static void fake_envelope(struct fake *f, uint64_t id)
{
    memset(f, 0, sizeof(*f));
    f->r.id = id;
    fake_add(f, RECORD_KIND_COMMAND, SMTP_VERB_EHLO, "client.example", 250, "mx.example");
    fake_add(f, RECORD_KIND_COMMAND, SMTP_VERB_MAIL, "FROM:<a@example.org>", 250, "Ok");
    fake_add(f, RECORD_KIND_COMMAND, SMTP_VERB_RCPT, "TO:<b@example.org>", 250, "Ok");
    fake_add(f, RECORD_KIND_COMMAND, SMTP_VERB_RCPT, "TO:<\"q\\\"x\"@example.org>", 550, "no");
    fake_add(f, RECORD_KIND_COMMAND, SMTP_VERB_DATA, "", 354, "go ahead");
}

static struct record_exchange *fake_message(struct fake *f)
{
    struct record_exchange *e = fake_add(f, RECORD_KIND_MESSAGE, SMTP_VERB_UNKNOWN, "", 250,
                                         "Ok: queued as 4B2C");
    e->enhanced.klass = 2;
    return e;
}

/* ---- files ------------------------------------------------------------------ */

struct tdir {
    char parent[64]; /* only DIR may appear in here */
    char dir[96];
};

static void tdir_make(struct tdir *t)
{
    snprintf(t->parent, sizeof(t->parent), "/tmp/check_extract.XXXXXX");
    REQUIRE(mkdtemp(t->parent) != NULL, "mkdtemp");
    snprintf(t->dir, sizeof(t->dir), "%s/out", t->parent);
}

static void rm_dir_files(const char *path)
{
    DIR *d = opendir(path);
    if (d == NULL) {
        return;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            unlinkat(dirfd(d), e->d_name, 0);
        }
    }
    closedir(d);
    rmdir(path);
}

static void tdir_remove(struct tdir *t)
{
    rm_dir_files(t->dir);
    rm_dir_files(t->parent);
}

/* The whole file, NUL-ended (caller frees); NULL when missing. */
static char *slurp(const char *dir, const char *name, size_t *len)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return NULL;
    }
    struct tstr s = {0};
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
        tstr_printf(&s, "%.*s", (int)n, buf);
    }
    fclose(f);
    *len = s.len;
    return s.p != NULL ? s.p : calloc(1, 1);
}

static void sha256_hex(const void *p, size_t n, char hex[65])
{
    struct sha256_ctx ctx;
    uint8_t d[SHA256_DIGEST_SIZE];
    sha256_init(&ctx);
    sha256_update(&ctx, n, p);
    sha256_digest(&ctx, sizeof(d), d);
    for (size_t i = 0; i < sizeof(d); i++) {
        snprintf(hex + 2 * i, 3, "%02x", d[i]);
    }
}

static struct extractor *open_or_fail(const char *dir)
{
    char err[256] = "";
    struct extractor *x = extract_open(dir, err, sizeof(err));
    REQUIRE(x != NULL, "extract_open: %s", err);
    return x;
}

/* Only names the extractor makes, and nothing beside DIR in its parent. */
static void check_confined(const struct tdir *t)
{
    DIR *d = opendir(t->parent);
    ck_assert_ptr_nonnull(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        bool ok = strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0 ||
                  strcmp(e->d_name, "out") == 0;
        ck_assert_msg(ok, "created outside DIR: %s", e->d_name);
    }
    closedir(d);
    d = opendir(t->dir);
    ck_assert_ptr_nonnull(d);
    while ((e = readdir(d)) != NULL) {
        unsigned long long id;
        unsigned long no;
        char ext[8] = "";
        int got = sscanf(e->d_name, "session-%llu-msg-%lu.%7s", &id, &no, ext);
        bool ok = e->d_name[0] == '.' ||
                  (got == 3 && (strcmp(ext, "eml") == 0 || strcmp(ext, "json") == 0));
        ck_assert_msg(ok, "unexpected name in DIR: %s", e->d_name);
    }
    closedir(d);
}

/* ---- DATA: dot-stuffing undone at every split ------------------------------- */

static const char dot_wire[] = "From: a@example.org\r\n"
                               "Subject: hi\r\n"
                               "\r\n"
                               "..leading dot\r\n"
                               "..\r\n"
                               "mid.dot .\r\n"
                               ".\rodd\r\n"
                               "\r\n"
                               ".\r\n";
static const char dot_eml[] = "From: a@example.org\r\n"
                              "Subject: hi\r\n"
                              "\r\n"
                              ".leading dot\r\n"
                              ".\r\n"
                              "mid.dot .\r\n"
                              "\rodd\r\n"
                              "\r\n";

/* Runs one message; pieces[] are cut points in dot_wire. */
static void run_dot(struct extractor *x, uint32_t msg_no, const size_t *cuts, size_t n_cuts,
                    struct extract_summary *out)
{
    struct fake f;
    fake_envelope(&f, 7);
    struct extract_message *m = extract_begin(x, &f.r, msg_no, 1700000000123456LL);
    REQUIRE(m != NULL, "extract_begin failed for message %u", (unsigned)msg_no);
    size_t at = 0;
    for (size_t i = 0; i <= n_cuts; i++) {
        size_t to = i < n_cuts ? cuts[i] : sizeof(dot_wire) - 1;
        extract_data(m, (const uint8_t *)dot_wire + at, to - at, false);
        at = to;
    }
    struct record_exchange *reply = fake_message(&f);
    extract_end(x, m, &f.r, reply, 1700000001000001LL, out);
}

static void check_dot_file(const char *dir, uint32_t msg_no)
{
    char name[64];
    size_t len = 0;
    snprintf(name, sizeof(name), "session-7-msg-%u.eml", (unsigned)msg_no);
    char *got = slurp(dir, name, &len);
    REQUIRE(got != NULL, "%s missing", name);
    REQUIRE(len == sizeof(dot_eml) - 1 && memcmp(got, dot_eml, len) == 0,
            "message %u: .eml differs: %s", (unsigned)msg_no, got);
    free(got);
}

START_TEST(test_dot_every_split)
{
    struct tdir t;
    tdir_make(&t);
    struct extractor *x = open_or_fail(t.dir);
    uint32_t msg_no = 1;
    size_t n = sizeof(dot_wire) - 1;
    /* Whole, then one cut at each position, then byte by byte. */
    run_dot(x, msg_no++, NULL, 0, NULL);
    for (size_t at = 0; at <= n; at++) {
        run_dot(x, msg_no++, &at, 1, NULL);
    }
    size_t every[sizeof(dot_wire)];
    for (size_t i = 0; i < n; i++) {
        every[i] = i;
    }
    run_dot(x, msg_no++, every, n, NULL);
    for (uint32_t i = 1; i < msg_no; i++) {
        check_dot_file(t.dir, i);
    }
    uint64_t written, failed;
    extract_counts(x, &written, &failed);
    ck_assert_uint_eq(written, msg_no - 1);
    ck_assert_uint_eq(failed, 0);
    extract_close(x);
    check_confined(&t);
    tdir_remove(&t);
}
END_TEST

START_TEST(test_dot_sidecar)
{
    struct tdir t;
    tdir_make(&t);
    struct extractor *x = open_or_fail(t.dir);
    struct extract_summary sum;
    run_dot(x, 3, NULL, 0, &sum);
    char hex[65];
    sha256_hex(dot_eml, sizeof(dot_eml) - 1, hex);
    ck_assert_str_eq(sum.file, "session-7-msg-3.eml");
    ck_assert_str_eq(sum.sha256, hex);
    ck_assert_uint_eq(sum.size, sizeof(dot_eml) - 1);
    ck_assert_str_eq(sum.from, "a@example.org");
    ck_assert_str_eq(sum.subject, "hi");
    ck_assert_ptr_null(sum.to);
    ck_assert_ptr_null(sum.message_id);
    ck_assert_uint_eq(sum.n_attachments, 0);
    struct tstr want = {0};
    tstr_printf(&want,
                "{\"session\":7,\"message\":3,\"file\":\"session-7-msg-3.eml\",\"size\":%zu,"
                "\"sha256\":\"%s\",\"mail_from\":\"FROM:<a@example.org>\","
                "\"rcpt_to\":[{\"arg\":\"TO:<b@example.org>\",\"code\":250},"
                "{\"arg\":\"TO:<\\\"q\\\\\\\"x\\\"@example.org>\",\"code\":550}],"
                "\"content_start\":1700000000.123456,\"content_end\":1700000001.000001,"
                "\"final_reply\":{\"code\":250,\"enhanced\":\"2.0.0\",\"text\":\"Ok: queued as "
                "4B2C\"},\"parse\":\"ok\",\"headers\":{\"from\":\"a@example.org\",\"to\":null,"
                "\"cc\":null,\"subject\":\"hi\",\"date\":null,\"message_id\":null},"
                "\"attachments\":[],\"attachments_dropped\":0}\n",
                sizeof(dot_eml) - 1, hex);
    size_t len = 0;
    char *got = slurp(t.dir, "session-7-msg-3.json", &len);
    ck_assert_ptr_nonnull(got);
    ck_assert_str_eq(got, tstr_cstr(&want));
    free(got);
    tstr_free(&want);
    extract_close(x);
    tdir_remove(&t);
}
END_TEST

/* The session ended before the final reply: no final_reply, same envelope. */
START_TEST(test_no_reply)
{
    struct tdir t;
    tdir_make(&t);
    struct extractor *x = open_or_fail(t.dir);
    struct fake f;
    fake_envelope(&f, 12);
    struct extract_message *m = extract_begin(x, &f.r, 1, 5);
    ck_assert_ptr_nonnull(m);
    extract_data(m, (const uint8_t *)"Subject: cut\r\n\r\nbody\r\n.", 24, false);
    extract_end(x, m, &f.r, NULL, -1, NULL);
    size_t len = 0;
    char *eml = slurp(t.dir, "session-12-msg-1.eml", &len);
    ck_assert_ptr_nonnull(eml);
    ck_assert_str_eq(eml, "Subject: cut\r\n\r\nbody\r\n");
    char *json = slurp(t.dir, "session-12-msg-1.json", &len);
    ck_assert_ptr_nonnull(json);
    ck_assert_ptr_nonnull(strstr(json, "\"mail_from\":\"FROM:<a@example.org>\",\"rcpt_to\":[{"));
    ck_assert_ptr_nonnull(strstr(json, "\"content_start\":0.000005,\"content_end\":null,"
                                       "\"final_reply\":null,"));
    free(eml);
    free(json);
    extract_close(x);
    tdir_remove(&t);
}
END_TEST

/* ---- MIME: a base64 attachment, encoded headers ------------------------------ */

static void make_payload(uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        p[i] = (uint8_t)(i * 7 + (i >> 3));
    }
}

/* A multipart message whose attachment is payload[0..n) in base64 (76-column lines). */
static void make_mime(struct tstr *s, const uint8_t *payload, size_t n)
{
    char b64[BASE64_ENCODE_RAW_LENGTH(1024) + 1];
    CHECK(n <= 1024);
    base64_encode_raw(b64, n, payload);
    size_t b64_len = BASE64_ENCODE_RAW_LENGTH(n);
    tstr_printf(s, "From: =?UTF-8?B?R3LDvMOfZQ==?= <a@example.org>\r\n"
                   "To: b@example.org,\r\n c@example.org\r\n"
                   "Cc: d@example.org\r\n"
                   "Subject: =?UTF-8?Q?caf=C3=A9?= report\r\n"
                   "Date: Tue, 14 Nov 2023 22:13:20 +0000\r\n"
                   "Message-ID: <m1@example.org>\r\n"
                   "MIME-Version: 1.0\r\n"
                   "Content-Type: multipart/mixed; boundary=\"BND\"\r\n"
                   "\r\n"
                   "--BND\r\n"
                   "Content-Type: text/plain; charset=utf-8\r\n"
                   "\r\n"
                   ".body starts with a dot\r\n"
                   "--BND\r\n"
                   "Content-Type: application/pdf; name=\"../../evil.pdf\"\r\n"
                   "Content-Disposition: attachment; filename=\"../../evil.pdf\"\r\n"
                   "Content-Transfer-Encoding: base64\r\n"
                   "\r\n");
    for (size_t i = 0; i < b64_len; i += 76) {
        size_t k = b64_len - i < 76 ? b64_len - i : 76;
        tstr_printf(s, "%.*s\r\n", (int)k, b64 + i);
    }
    tstr_printf(s, "--BND--\r\n");
}

/* Dot-stuffs text for DATA and appends the final line. */
static void stuff(struct tstr *out, const char *text)
{
    bool at_start = true;
    for (const char *c = text; *c != '\0'; c++) {
        if (at_start && *c == '.') {
            tstr_printf(out, ".");
        }
        tstr_printf(out, "%c", *c);
        at_start = *c == '\n';
    }
    tstr_printf(out, ".\r\n");
}

START_TEST(test_mime_attachment)
{
    struct tdir t;
    tdir_make(&t);
    struct extractor *x = open_or_fail(t.dir);
    uint8_t payload[300];
    make_payload(payload, sizeof(payload));
    char want_hex[65];
    sha256_hex(payload, sizeof(payload), want_hex);
    struct tstr eml = {0}, wire = {0};
    make_mime(&eml, payload, sizeof(payload));
    stuff(&wire, tstr_cstr(&eml));

    struct fake f;
    fake_envelope(&f, 21);
    struct extract_message *m = extract_begin(x, &f.r, 1, 1000000);
    ck_assert_ptr_nonnull(m);
    extract_data(m, (const uint8_t *)wire.p, wire.len, false);
    struct extract_summary sum;
    extract_end(x, m, &f.r, fake_message(&f), 2000000, &sum);

    size_t len = 0;
    char *got = slurp(t.dir, "session-21-msg-1.eml", &len);
    ck_assert_ptr_nonnull(got);
    ck_assert_uint_eq(len, eml.len);
    ck_assert_int_eq(memcmp(got, eml.p, len), 0);
    free(got);
    ck_assert_str_eq(sum.from, "Grüße <a@example.org>");
    ck_assert_str_eq(sum.to, "b@example.org, c@example.org");
    ck_assert_str_eq(sum.cc, "d@example.org");
    ck_assert_str_eq(sum.subject, "café report");
    ck_assert_str_eq(sum.date, "Tue, 14 Nov 2023 22:13:20 +0000");
    ck_assert_str_eq(sum.message_id, "<m1@example.org>");
    ck_assert_uint_eq(sum.n_attachments, 1);
    ck_assert_str_eq(sum.attachments[0].filename, "../../evil.pdf");
    ck_assert_str_eq(sum.attachments[0].content_type, "application/pdf");
    ck_assert_uint_eq(sum.attachments[0].size, sizeof(payload));
    ck_assert_str_eq(sum.attachments[0].sha256, want_hex);

    char *json = slurp(t.dir, "session-21-msg-1.json", &len);
    ck_assert_ptr_nonnull(json);
    struct tstr want = {0};
    tstr_printf(&want,
                "\"headers\":{\"from\":\"Grüße <a@example.org>\",\"to\":\"b@example.org, "
                "c@example.org\",\"cc\":\"d@example.org\",\"subject\":\"café report\","
                "\"date\":\"Tue, 14 Nov 2023 22:13:20 +0000\",\"message_id\":\"<m1@example.org>\"},"
                "\"attachments\":[{\"filename\":\"../../evil.pdf\",\"content_type\":"
                "\"application/pdf\",\"size\":300,\"sha256\":\"%s\"}],\"attachments_dropped\":0}\n",
                want_hex);
    ck_assert_msg(strstr(json, tstr_cstr(&want)) != NULL, "sidecar: %s", json);
    free(json);
    tstr_free(&want);
    tstr_free(&eml);
    tstr_free(&wire);
    extract_close(x);
    check_confined(&t);
    tdir_remove(&t);
}
END_TEST

/* ---- BDAT: bytes as sent ------------------------------------------------------ */

START_TEST(test_bdat)
{
    static const char chunk1[] = "Subject: b\r\n\r\n.dot stays\r\n";
    static const char chunk2[] = "..two stay\r\n.\r\n";
    struct tdir t;
    tdir_make(&t);
    struct extractor *x = open_or_fail(t.dir);
    struct fake f;
    fake_envelope(&f, 3);
    f.r.n_exchanges--; /* no DATA: BDAT instead */
    fake_add(&f, RECORD_KIND_COMMAND, SMTP_VERB_BDAT, "27", 250, "Ok");
    struct extract_message *m = extract_begin(x, &f.r, 2, 10);
    ck_assert_ptr_nonnull(m);
    extract_data(m, (const uint8_t *)chunk1, sizeof(chunk1) - 1, true);
    extract_data(m, (const uint8_t *)chunk2, sizeof(chunk2) - 1, true);
    struct record_exchange *last = fake_add(&f, RECORD_KIND_COMMAND, SMTP_VERB_BDAT, "15 LAST",
                                            250, "queued");
    last->bdat_last = true;
    struct extract_summary sum;
    extract_end(x, m, &f.r, last, 20, &sum);
    size_t len = 0;
    char *got = slurp(t.dir, "session-3-msg-2.eml", &len);
    ck_assert_ptr_nonnull(got);
    ck_assert_str_eq(got, "Subject: b\r\n\r\n.dot stays\r\n..two stay\r\n.\r\n");
    ck_assert_str_eq(sum.subject, "b");
    free(got);
    char *json = slurp(t.dir, "session-3-msg-2.json", &len);
    ck_assert_ptr_nonnull(json);
    ck_assert_msg(strstr(json, "\"rcpt_to\":[{\"arg\":\"TO:<b@example.org>\",\"code\":250},"
                               "{\"arg\":\"TO:<\\\"q\\\\\\\"x\\\"@example.org>\",\"code\":550}],"
                               "\"content_start\":0.000010,\"content_end\":0.000020,"
                               "\"final_reply\":{\"code\":250,\"enhanced\":null,"
                               "\"text\":\"queued\"}") != NULL,
                  "sidecar: %s", json);
    free(json);
    extract_close(x);
    tdir_remove(&t);
}
END_TEST

/* ---- never overwrite, never follow, never leave DIR ---------------------------- */

static void put_file(const char *dir, const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

START_TEST(test_no_overwrite)
{
    struct tdir t;
    tdir_make(&t);
    ck_assert_int_eq(mkdir(t.dir, 0700), 0);
    put_file(t.dir, "session-7-msg-1.eml", "old eml");
    put_file(t.dir, "session-7-msg-2.json", "old json");
    struct extractor *x = open_or_fail(t.dir);
    struct fake f;
    fake_envelope(&f, 7);
    /* Existing .eml: the message fails at once. */
    ck_assert_ptr_null(extract_begin(x, &f.r, 1, 0));
    extract_data(NULL, (const uint8_t *)"x", 1, false);
    extract_end(x, NULL, &f.r, NULL, 0, NULL);
    /* Existing .json: the .eml is written, the sidecar is not replaced. */
    run_dot(x, 2, NULL, 0, NULL);
    uint64_t written, failed;
    extract_counts(x, &written, &failed);
    ck_assert_uint_eq(written, 0);
    ck_assert_uint_eq(failed, 2);
    size_t len = 0;
    char *a = slurp(t.dir, "session-7-msg-1.eml", &len);
    char *b = slurp(t.dir, "session-7-msg-2.json", &len);
    ck_assert_str_eq(a, "old eml");
    ck_assert_str_eq(b, "old json");
    free(a);
    free(b);
    extract_close(x);
    tdir_remove(&t);
}
END_TEST

START_TEST(test_no_symlink_escape)
{
    struct tdir t;
    tdir_make(&t);
    ck_assert_int_eq(mkdir(t.dir, 0700), 0);
    char target[128], link_path[160];
    snprintf(target, sizeof(target), "%s/victim", t.parent);
    snprintf(link_path, sizeof(link_path), "%s/session-7-msg-1.eml", t.dir);
    ck_assert_int_eq(symlink(target, link_path), 0);
    struct extractor *x = open_or_fail(t.dir);
    struct fake f;
    fake_envelope(&f, 7);
    ck_assert_ptr_null(extract_begin(x, &f.r, 1, 0));
    extract_close(x);
    ck_assert_int_ne(access(target, F_OK), 0); /* the link's target was not created */
    unlink(link_path);
    check_confined(&t);
    tdir_remove(&t);
}
END_TEST

START_TEST(test_open_errors)
{
    char err[256] = "";
    ck_assert_ptr_null(extract_open("/nonexistent-dir/for/sure", err, sizeof(err)));
    ck_assert_msg(err[0] != '\0', "no error text");
    ck_assert_ptr_null(extract_open("/etc/passwd", err, sizeof(err)));
    extract_close(NULL);
    uint64_t w = 1, fl = 1;
    extract_counts(NULL, &w, &fl);
    ck_assert_uint_eq(w + fl, 0);
}
END_TEST

/* Over the parse cap: the file is kept and hashed, the MIME summary skipped. */
START_TEST(test_too_large)
{
    struct tdir t;
    tdir_make(&t);
    struct extractor *x = open_or_fail(t.dir);
    struct fake f;
    fake_envelope(&f, 8);
    struct extract_message *m = extract_begin(x, &f.r, 1, 0);
    ck_assert_ptr_nonnull(m);
    static uint8_t block[1 << 20];
    memset(block, 'a', sizeof(block));
    extract_data(m, (const uint8_t *)"Subject: big\r\n\r\n", 16, true);
    for (int i = 0; i < 65; i++) {
        extract_data(m, block, sizeof(block), true);
    }
    struct extract_summary sum;
    extract_end(x, m, &f.r, NULL, 1, &sum);
    ck_assert_uint_eq(sum.size, 16 + 65 * sizeof(block));
    ck_assert_ptr_null(sum.subject);
    size_t len = 0;
    char *json = slurp(t.dir, "session-8-msg-1.json", &len);
    ck_assert_ptr_nonnull(json);
    ck_assert_ptr_nonnull(
        strstr(json, "\"parse\":\"skipped: too large\",\"headers\":null,\"attachments\":null}"));
    free(json);
    extract_close(x);
    tdir_remove(&t);
}
END_TEST

Suite *extract_suite(void)
{
    Suite *s = suite_create("extract");
    TCase *tc = tcase_create("extract");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_dot_every_split);
    tcase_add_test(tc, test_dot_sidecar);
    tcase_add_test(tc, test_no_reply);
    tcase_add_test(tc, test_mime_attachment);
    tcase_add_test(tc, test_bdat);
    tcase_add_test(tc, test_no_overwrite);
    tcase_add_test(tc, test_no_symlink_escape);
    tcase_add_test(tc, test_open_errors);
    tcase_add_test(tc, test_too_large);
    suite_add_tcase(s, tc);
    return s;
}
