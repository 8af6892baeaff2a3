/*
 * test_util.h - shared helpers for the unit tests: growable text, a
 * readable dump of a session record, and a driver that plays a scripted
 * conversation through the session module exactly as the TCP glue does.
 *
 * The dump is the comparison currency: two runs of the same conversation
 * (whole, byte by byte, split anywhere) must give byte-identical dumps,
 * and the .case files in tests/parser hold expected dumps.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef TEST_UTIL_H
#define TEST_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <check.h>

#include "record.h"
#include "session.h"
#include "smtp_parse.h"

/*
 * Check's ck_assert records a mark point even when it passes (in fork mode
 * a write to the runner's pipe), which in per-byte loops costs more than
 * the code under test.  Hot paths check with these: free until they fail.
 */
#define CHECK(expr)                                                            \
    do {                                                                       \
        if (!(expr)) {                                                         \
            ck_abort_msg("%s:%d: check failed: %s", __FILE__, __LINE__, #expr); \
        }                                                                      \
    } while (0)
#define REQUIRE(expr, ...)                                                     \
    do {                                                                       \
        if (!(expr)) {                                                         \
            ck_abort_msg(__VA_ARGS__);                                         \
        }                                                                      \
    } while (0)

/* ---- growable text ------------------------------------------------------ */

struct tstr {
    char *p;
    size_t len;
    size_t cap;
};

void tstr_printf(struct tstr *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends b[0..n) quoted, with \r \n \t \0 \\ \" and \xNN escapes. */
void tstr_quote(struct tstr *s, const uint8_t *b, size_t n);
/* Like tstr_quote, but texts over 64 bytes become [N bytes]. */
void tstr_quote_short(struct tstr *s, const uint8_t *b, size_t n);
/* The text so far ("" when empty), valid until the next append. */
const char *tstr_cstr(struct tstr *s);
void tstr_free(struct tstr *s);

/* ---- records --------------------------------------------------------------- */

/* Times in dumps are relative to this (the handshake's final ACK). */
#define TEST_EST_US 1700000000000000LL

/* A record deep-copied out of the sink call (which is its only lifetime). */
struct rec_copy {
    struct session_record r; /* exchanges and arena point into this copy */
    struct rec_copy *next;
};

struct rec_copy *rec_copy_make(const struct session_record *r);
void rec_copy_free(struct rec_copy *c);

/* Appends a line-per-fact text account of r (format: tests/parser/README.md). */
void record_dump(struct tstr *out, const struct session_record *r);

/* Does needle occur anywhere in r's arena? */
bool record_arena_contains(const struct session_record *r, const char *needle, size_t n);

/* ---- scripted conversations ------------------------------------------------ */

enum step_kind {
    STEP_CLIENT, /* bytes from the client */
    STEP_SERVER, /* bytes from the server */
    STEP_WAIT,   /* advance the clock by us */
    STEP_FIN,    /* side dir sent FIN */
    STEP_RST,    /* side dir sent RST */
    STEP_GAP,    /* us bytes of side dir are missing from the capture here */
    STEP_ONE_SIDED /* the capture holds nothing of side dir */
};

struct step {
    enum step_kind kind;
    const char *bytes;
    size_t len;
    int64_t us;   /* STEP_WAIT */
    int dir;      /* STEP_FIN, STEP_RST: enum smtp_dir of the sender */
};

/* Every step but WAIT happens this long after the one before. */
#define STEP_GAP_US 1000

#define STEP_C(lit) {STEP_CLIENT, (lit), sizeof(lit) - 1, 0, SMTP_DIR_CLIENT}
#define STEP_S(lit) {STEP_SERVER, (lit), sizeof(lit) - 1, 0, SMTP_DIR_SERVER}
#define STEP_WAIT_US(n) {STEP_WAIT, NULL, 0, (n), 0}
#define STEP_FIN_BY(d) {STEP_FIN, NULL, 0, 0, (d)}
#define STEP_RST_BY(d) {STEP_RST, NULL, 0, 0, (d)}
#define STEP_GAP_OF(d, n) {STEP_GAP, NULL, 0, (n), (d)}
#define STEP_ONE_SIDED_BY(d) {STEP_ONE_SIDED, NULL, 0, 0, (d)}

struct conv_opts {
    uint16_t server_port;   /* 0: 25; 465 is configured as implicit TLS */
    bool has_end_reason;    /* else FIN/RST seen -> FIN/RST, otherwise EOF */
    enum record_end end_reason;
    bool gap[2];
};

enum split_mode {
    SPLIT_NONE,  /* each step in one call */
    SPLIT_BYTES, /* every step byte by byte */
    SPLIT_AT     /* step `step` in two calls, the first of `at` bytes */
};

struct split {
    enum split_mode mode;
    size_t step;
    size_t at;
};

/*
 * Plays steps through a fresh session table (order window 0) the way the
 * glue does: per direction, unconsumed bytes are kept and offered first
 * next time with held set; pieces of one step share its time.  At the end
 * the held tails go to session_end.  Returns the emitted record (caller
 * frees), or NULL after a failed check.
 */
struct rec_copy *conv_run(const struct conv_opts *o, const struct step *steps, size_t n,
                          struct split sp);

/* Human-readable description of a split, for failure messages. */
void split_describe(struct tstr *out, struct split sp);

/* Runs every split of the conversation; NULL if all dumps equal `want`
 * (or, if want is NULL, the whole run's dump), else a failure message
 * (caller frees).  *dump_out (if non-NULL) gets the whole run's dump. */
char *conv_check_all_splits(const struct conv_opts *o, const struct step *steps, size_t n,
                            const char *want, char **dump_out);

#endif
