/*
 * smtp_parse.c - pure incremental SMTP parser: bytes in, events out.
 *
 * Role: turns one direction of a reassembled SMTP stream into command,
 * reply and content events.  It never allocates, never does I/O and keeps
 * all its state in struct smtp_parser, so the fuzzers and unit tests drive
 * it directly.  Lines are found with one SSE2 pass that also notes NUL
 * bytes (content with a block scan, SSE2/AVX2 on x86-64, chosen at run
 * time; memchr and byte loops elsewhere) and the scan position is
 * remembered between calls (picohttpparser's last_len), so a line dripped
 * in one byte at a time still costs linear time.
 *
 * RFC 5321 2.3.8 (CRLF lines), 4.1.1.4 (DATA and the CRLF.CRLF end),
 * 4.2 (reply lines, multi-line replies), 4.5.2 (dot-stuffing),
 * 4.5.3.1 (line sizes); RFC 3030 2 (BDAT chunks); RFC 3463 / RFC 2034
 * (enhanced status codes).
 *
 * SPDX-License-Identifier: MIT
 */
#include "smtp_parse.h"

#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define SMTP_PARSE_SIMD 1
#endif

#include "smtp_limits.h"

/* End-of-data matcher: where we are relative to CRLF "." CRLF. */
enum eod_state {
    EOD_LINE_START = 0, /* just after CRLF (or at the start of content) */
    EOD_MID,            /* inside a line */
    EOD_CR,             /* inside a line, last byte was CR */
    EOD_DOT,            /* line began with "." */
    EOD_DOT_CR          /* line is "." CR so far */
};

static const char *const verb_names[] = {
#define XX(name, str) str,
    SMTP_VERB_MAP(XX)
#undef XX
};

static const char *const event_names[] = {
#define XX(name, str) str,
    SMTP_EVENT_MAP(XX)
#undef XX
};

static const char *const mode_names[] = {
#define XX(name, str) str,
    SMTP_MODE_MAP(XX)
#undef XX
};

const char *smtp_verb_name(enum smtp_verb verb)
{
    return (unsigned)verb < SMTP_VERB_COUNT ? verb_names[verb] : "";
}

const char *smtp_event_name(enum smtp_event_type type)
{
    unsigned n = sizeof(event_names) / sizeof(event_names[0]);
    return (unsigned)type < n ? event_names[type] : "?";
}

const char *smtp_mode_name(enum smtp_mode mode)
{
    unsigned n = sizeof(mode_names) / sizeof(mode_names[0]);
    return (unsigned)mode < n ? mode_names[mode] : "?";
}

static uint8_t ascii_upper(uint8_t c)
{
    return (c >= 'a' && c <= 'z') ? (uint8_t)(c - 'a' + 'A') : c;
}

/* The verbs of an ordinary session, most frequent first: looked at before
 * the full table, one four-byte compare each. */
static const uint8_t common_verbs[] = {SMTP_VERB_RCPT, SMTP_VERB_MAIL, SMTP_VERB_DATA,
                                       SMTP_VERB_EHLO, SMTP_VERB_QUIT, SMTP_VERB_RSET,
                                       SMTP_VERB_HELO, SMTP_VERB_BDAT};

enum smtp_verb smtp_verb_lookup(const uint8_t *s, size_t len)
{
    if (len == 0 || len > 8) {
        return SMTP_VERB_UNKNOWN;
    }
    uint8_t upper[8];
    for (size_t i = 0; i < len; i++) {
        upper[i] = ascii_upper(s[i]);
    }
    if (len == 4) {
        for (size_t k = 0; k < sizeof(common_verbs); k++) {
            if (memcmp(upper, verb_names[common_verbs[k]], 4) == 0) {
                return (enum smtp_verb)common_verbs[k];
            }
        }
    }
    for (unsigned v = 1; v < SMTP_VERB_COUNT; v++) {
        const char *name = verb_names[v];
        if (strlen(name) == len && memcmp(upper, name, len) == 0) {
            return (enum smtp_verb)v;
        }
    }
    return SMTP_VERB_UNKNOWN;
}

void smtp_parser_init(struct smtp_parser *p, enum smtp_dir dir)
{
    memset(p, 0, sizeof(*p));
    p->dir = dir;
    p->mode = SMTP_MODE_LINE;
}

void smtp_parser_set_mode(struct smtp_parser *p, enum smtp_mode mode)
{
    p->mode = mode;
    p->scanned = 0;
    p->nul_seen = false;
    p->skipping = false;
    p->eod_state = EOD_LINE_START;
    if (mode != SMTP_MODE_BDAT) {
        p->bdat_left = 0;
        p->bdat_last = false;
    }
}

void smtp_parser_gap(struct smtp_parser *p, uint64_t n_missing)
{
    p->scanned = 0;
    p->nul_seen = false;
    p->skipping = false;
    p->open_reply = 0;
    switch (p->mode) {
    case SMTP_MODE_DATA:
        /* The bytes after the hole are most likely inside a line: only a
         * line end seen after it starts the end-of-data line, and an LF
         * right after the hole is taken to end a CRLF whose CR was in it
         * (not flagged as a bare LF). */
        p->eod_state = EOD_CR;
        break;
    case SMTP_MODE_BDAT:
        if (n_missing < p->bdat_left) {
            p->bdat_left -= n_missing;
        } else {
            /* The chunk ended inside the hole: what follows is lines. */
            p->bdat_left = 0;
            p->bdat_last = false;
            p->mode = SMTP_MODE_LINE;
        }
        break;
    case SMTP_MODE_LINE:
    case SMTP_MODE_OPAQUE:
        break;
    default:
        break;
    }
}

static bool is_digit(uint8_t c)
{
    return c >= '0' && c <= '9';
}

/* Reads 1 to 3 digits at s[*i]; returns false if there are none. */
static bool read_small_number(const uint8_t *s, size_t len, size_t *i, uint16_t *out)
{
    size_t start = *i;
    uint16_t v = 0;
    while (*i < len && *i - start < 3 && is_digit(s[*i])) {
        v = (uint16_t)(v * 10 + (s[*i] - '0'));
        (*i)++;
    }
    *out = v;
    return *i > start;
}

/*
 * RFC 3463 status-code = class "." subject "." detail, class 2, 4 or 5,
 * subject and detail 1-3 digits, followed by a space or the line's end.
 * RFC 2034 3 requires the class to match the reply's first digit.
 */
static size_t parse_enhanced(const uint8_t *s, size_t len, uint16_t code,
                             struct smtp_enhanced *out)
{
    size_t i = 0;
    uint16_t klass;
    uint16_t subject;
    uint16_t detail;
    memset(out, 0, sizeof(*out));
    if (len < 5 || !(s[0] == '2' || s[0] == '4' || s[0] == '5') || s[1] != '.') {
        return 0;
    }
    klass = (uint16_t)(s[0] - '0');
    if (klass != code / 100) {
        return 0;
    }
    i = 2;
    if (!read_small_number(s, len, &i, &subject) || i >= len || s[i] != '.') {
        return 0;
    }
    i++;
    if (!read_small_number(s, len, &i, &detail)) {
        return 0;
    }
    if (i < len && s[i] != ' ') {
        return 0;
    }
    out->klass = (uint8_t)klass;
    out->subject = subject;
    out->detail = detail;
    return i < len ? i + 1 : i;
}

static void parse_reply_line(struct smtp_parser *p, const uint8_t *s, size_t n,
                             struct smtp_event *ev)
{
    ev->type = SMTP_EV_REPLY;
    if (n < 3 || !is_digit(s[0]) || !is_digit(s[1]) || !is_digit(s[2]) ||
        (n > 3 && s[3] != ' ' && s[3] != '-')) {
        ev->anomalies |= SMTP_ANOM_BAD_REPLY;
        ev->u.reply.code = 0;
        ev->u.reply.is_last = true;
        ev->u.reply.text = span_make(s, n);
        p->open_reply = 0;
        return;
    }
    uint16_t code = (uint16_t)((s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0'));
    bool is_last = (n == 3 || s[3] == ' ');
    if (p->open_reply != 0 && p->open_reply != code) {
        ev->anomalies |= SMTP_ANOM_CONT_MISMATCH;
    }
    p->open_reply = is_last ? 0 : code;
    ev->u.reply.code = code;
    ev->u.reply.is_last = is_last;
    const uint8_t *text = n > 4 ? s + 4 : s + n;
    size_t text_len = n > 4 ? n - 4 : 0;
    size_t skip = parse_enhanced(text, text_len, code, &ev->u.reply.enhanced);
    ev->u.reply.text = span_make(text + skip, text_len - skip);
}

/* "BDAT" SP chunk-size [SP "LAST"], RFC 3030 2. */
static bool parse_bdat_arg(const uint8_t *s, size_t n, uint64_t *size, bool *last)
{
    size_t i = 0;
    uint64_t v = 0;
    while (i < n && is_digit(s[i])) {
        uint64_t digit = (uint64_t)(s[i] - '0');
        if (v > (UINT64_MAX - digit) / 10) {
            return false;
        }
        v = v * 10 + digit;
        i++;
    }
    if (i == 0 || i > 20) {
        return false;
    }
    *size = v;
    *last = false;
    if (i == n) {
        return true;
    }
    if (n - i == 5 && s[i] == ' ' && ascii_upper(s[i + 1]) == 'L' &&
        ascii_upper(s[i + 2]) == 'A' && ascii_upper(s[i + 3]) == 'S' &&
        ascii_upper(s[i + 4]) == 'T') {
        *last = true;
        return true;
    }
    return false;
}

static void parse_command_line(struct smtp_parser *p, const uint8_t *s, size_t n,
                               struct smtp_event *ev)
{
    size_t verb_len = 0;
    while (verb_len < n && s[verb_len] != ' ') {
        verb_len++;
    }
    ev->type = SMTP_EV_COMMAND;
    ev->u.command.verb = smtp_verb_lookup(s, verb_len);
    ev->u.command.verb_text = span_make(s, verb_len);
    if (verb_len < n) {
        ev->u.command.arg = span_make(s + verb_len + 1, n - verb_len - 1);
    } else {
        ev->u.command.arg = span_make(s + n, 0);
    }
    if (ev->u.command.verb != SMTP_VERB_BDAT || (ev->anomalies & SMTP_ANOM_TRUNCATED)) {
        return;
    }
    if (!parse_bdat_arg(ev->u.command.arg.ptr, ev->u.command.arg.len,
                        &ev->u.command.bdat_size, &ev->u.command.bdat_last)) {
        ev->anomalies |= SMTP_ANOM_BDAT_BAD_SIZE;
        return;
    }
    /* The chunk follows the command at once, reply or not (RFC 3030 2). */
    smtp_parser_set_mode(p, SMTP_MODE_BDAT);
    p->bdat_left = ev->u.command.bdat_size;
    p->bdat_last = ev->u.command.bdat_last;
}

/*
 * Fills *ev for the line buf[0..content_len) whose wire size is wire_len;
 * content_len is at most SMTP_LINE_CAP and the caller has looked for NUL
 * bytes (anomalies says whether there was one).
 */
static void emit_checked_line(struct smtp_parser *p, const uint8_t *buf, size_t content_len,
                              size_t wire_len, uint32_t anomalies, struct smtp_event *ev)
{
    size_t limit = p->dir == SMTP_DIR_CLIENT ? SMTP_RFC_COMMAND_LINE_MAX
                                             : SMTP_RFC_REPLY_LINE_MAX;
    if (wire_len > limit) {
        anomalies |= SMTP_ANOM_LONG_LINE;
    }
    ev->anomalies = anomalies;
    ev->line_len = wire_len;
    if (p->dir == SMTP_DIR_CLIENT) {
        parse_command_line(p, buf, content_len, ev);
    } else {
        parse_reply_line(p, buf, content_len, ev);
    }
}

/* As emit_checked_line(), for a line not yet looked at: cuts it to
 * SMTP_LINE_CAP and looks for NUL bytes first. */
static void emit_line(struct smtp_parser *p, const uint8_t *buf, size_t content_len,
                      size_t wire_len, uint32_t anomalies, struct smtp_event *ev)
{
    if (content_len > SMTP_LINE_CAP) {
        content_len = SMTP_LINE_CAP;
        anomalies |= SMTP_ANOM_TRUNCATED;
    }
    if (content_len > 0 && memchr(buf, '\0', content_len) != NULL) {
        anomalies |= SMTP_ANOM_NUL_BYTE;
    }
    emit_checked_line(p, buf, content_len, wire_len, anomalies, ev);
}

#ifdef SMTP_PARSE_SIMD
/* Bits of the LF and NUL bytes among the 16 at p. */
static inline void lf_nul16(const uint8_t *p, unsigned *lf, unsigned *nul)
{
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
    *lf = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8('\n')));
    *nul = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_setzero_si128()));
}

/* The first LF of a block whose bit 0 is at base (lf != 0); notes a NUL
 * before it. */
static inline size_t first_lf(size_t base, unsigned lf, unsigned zero, bool *nul)
{
    *nul |= (zero & ((lf & (0u - lf)) - 1)) != 0;
    return base + (size_t)__builtin_ctz(lf);
}
#endif

/*
 * Position of the first LF in buf[from..end), or end if none; sets *nul
 * when a NUL byte comes before it.  One pass instead of two memchr calls
 * (LF, then NUL) per line: 16 bytes per compare, and the last block
 * overlaps bytes already seen, so no load leaves buf[0..end).
 */
static size_t find_line_end(const uint8_t *buf, size_t from, size_t end, bool *nul)
{
    size_t i = from;
#ifdef SMTP_PARSE_SIMD
    unsigned lf, zero;
    for (; end - i >= 16; i += 16) {
        lf_nul16(buf + i, &lf, &zero);
        if (lf != 0) {
            return first_lf(i, lf, zero, nul);
        }
        *nul |= zero != 0;
    }
    if (i < end && end >= 16) {
        size_t seen = i - (end - 16); /* leading bytes of the block scanned already */
        lf_nul16(buf + end - 16, &lf, &zero);
        lf >>= seen;
        zero >>= seen;
        if (lf != 0) {
            return first_lf(i, lf, zero, nul);
        }
        *nul |= zero != 0;
        return end;
    }
#endif
    for (; i < end && buf[i] != '\n'; i++) {
        *nul |= buf[i] == 0;
    }
    return i;
}

static size_t parse_skip(struct smtp_parser *p, const uint8_t *buf, size_t len,
                         struct smtp_event *ev)
{
    const uint8_t *nl = memchr(buf, '\n', len);
    size_t used = nl ? (size_t)(nl - buf) + 1 : len;
    ev->type = SMTP_EV_SKIPPED;
    ev->line_len = used;
    ev->u.data.n_bytes = used;
    if (nl != NULL) {
        bool cr = used >= 2 ? buf[used - 2] == '\r' : p->skip_last_cr;
        if (!cr) {
            ev->anomalies |= SMTP_ANOM_BARE_LF;
        }
        p->skipping = false;
    } else if (len > 0) {
        p->skip_last_cr = buf[len - 1] == '\r';
    }
    return used;
}

/*
 * A line is cut when SMTP_LINE_CAP bytes arrive with no LF among them,
 * whether they come in one piece or many, so the result never depends on
 * how the stream was split: the first SMTP_LINE_CAP bytes are reported,
 * the rest is skipped up to the LF.
 */
static size_t cut_line(struct smtp_parser *p, const uint8_t *buf, struct smtp_event *ev)
{
    size_t content = SMTP_LINE_CAP;
    p->scanned = 0;
    p->nul_seen = false;
    p->skipping = true;
    p->skip_last_cr = buf[SMTP_LINE_CAP - 1] == '\r';
    if (p->skip_last_cr) {
        content--;
    }
    emit_line(p, buf, content, SMTP_LINE_CAP, SMTP_ANOM_TRUNCATED | SMTP_ANOM_LONG_LINE, ev);
    return SMTP_LINE_CAP;
}

static size_t parse_line(struct smtp_parser *p, const uint8_t *buf, size_t len,
                         struct smtp_event *ev)
{
    memset(&ev->u, 0, sizeof(ev->u));
    if (p->skipping) {
        return parse_skip(p, buf, len, ev);
    }
    size_t from = p->scanned < len ? p->scanned : len;
    bool nul = p->nul_seen;
    size_t lf = find_line_end(buf, from, len, &nul);
    if (lf == len || lf >= SMTP_LINE_CAP) {
        if (len < SMTP_LINE_CAP) {
            p->scanned = len;
            p->nul_seen = nul;
            return 0;
        }
        return cut_line(p, buf, ev);
    }
    size_t content = lf;
    uint32_t anomalies = nul ? SMTP_ANOM_NUL_BYTE : 0;
    p->scanned = 0;
    p->nul_seen = false;
    if (content > 0 && buf[content - 1] == '\r') {
        content--;
    } else {
        anomalies |= SMTP_ANOM_BARE_LF;
    }
    emit_checked_line(p, buf, content, lf + 1, anomalies, ev);
    return lf + 1;
}

/* Emits the content event for buf[0..used). */
static size_t data_event(struct smtp_parser *p, struct smtp_event *ev, uint8_t st,
                         size_t used, uint32_t anomalies, uint32_t stuffed, bool is_end)
{
    p->eod_state = is_end ? EOD_LINE_START : st;
    if (is_end) {
        p->mode = SMTP_MODE_LINE;
    }
    ev->type = is_end ? SMTP_EV_DATA_END : SMTP_EV_DATA_BYTES;
    ev->anomalies = anomalies;
    ev->line_len = used;
    ev->u.data.n_bytes = used;
    ev->u.data.n_dot_stuffed = stuffed;
    ev->u.data.bdat_last = false;
    return used;
}

#ifdef SMTP_PARSE_SIMD
/*
 * Content lines need a look only where an LF is bare (no CR before it) or
 * is followed by "." (a stuffed line or the end of data).  These scans
 * compare whole blocks against LF, and the bytes one before and one after
 * against CR and ".", and return the position of the first LF that needs a
 * look, or the first position not scanned.  Every load stays inside
 * buf[from - 1 .. end + 1), so the caller passes from >= 1.
 */
/* The LFs in the 32 bytes at p that need a look, one byte of ones each. */
__attribute__((target("avx2"))) static inline __m256i avx2_look_bytes(const uint8_t *p,
                                                                       __m256i lf, __m256i cr,
                                                                       __m256i dot)
{
    __m256i here = _mm256_loadu_si256((const __m256i *)(const void *)p);
    __m256i before = _mm256_loadu_si256((const __m256i *)(const void *)(p - 1));
    __m256i after = _mm256_loadu_si256((const __m256i *)(const void *)(p + 1));
    /* an LF is plain when a CR precedes it and no dot follows it */
    __m256i plain = _mm256_andnot_si256(_mm256_cmpeq_epi8(after, dot),
                                        _mm256_cmpeq_epi8(before, cr));
    return _mm256_andnot_si256(plain, _mm256_cmpeq_epi8(here, lf));
}

/* The same as a bit mask, for finding where in the block the LF is. */
__attribute__((target("avx2"))) static inline unsigned avx2_needs_look(const uint8_t *p,
                                                                        __m256i lf, __m256i cr,
                                                                        __m256i dot)
{
    return (unsigned)_mm256_movemask_epi8(avx2_look_bytes(p, lf, cr, dot));
}

__attribute__((target("avx2"))) static size_t scan_content_avx2(const uint8_t *buf,
                                                                  size_t from, size_t end)
{
    const __m256i lf = _mm256_set1_epi8('\n');
    const __m256i cr = _mm256_set1_epi8('\r');
    const __m256i dot = _mm256_set1_epi8('.');
    size_t k = from;
    /* Four blocks per step, merged before the one test: plain text is the
     * usual case, and the steps below find the LF when one needs a look. */
    while (k + 128 <= end) {
        __m256i any = _mm256_or_si256(
            _mm256_or_si256(avx2_look_bytes(buf + k, lf, cr, dot),
                            avx2_look_bytes(buf + k + 32, lf, cr, dot)),
            _mm256_or_si256(avx2_look_bytes(buf + k + 64, lf, cr, dot),
                            avx2_look_bytes(buf + k + 96, lf, cr, dot)));
        if (!_mm256_testz_si256(any, any)) {
            break;
        }
        k += 128;
    }
    while (k + 64 <= end) {
        /* Two blocks per step, one branch. */
        unsigned lo = avx2_needs_look(buf + k, lf, cr, dot);
        unsigned hi = avx2_needs_look(buf + k + 32, lf, cr, dot);
        if ((lo | hi) != 0) {
            return lo != 0 ? k + (size_t)__builtin_ctz(lo) : k + 32 + (size_t)__builtin_ctz(hi);
        }
        k += 64;
    }
    while (k + 32 <= end) {
        unsigned mask = avx2_needs_look(buf + k, lf, cr, dot);
        if (mask != 0) {
            return k + (size_t)__builtin_ctz(mask);
        }
        k += 32;
    }
    return k;
}

static size_t scan_content_sse2(const uint8_t *buf, size_t from, size_t end)
{
    const __m128i lf = _mm_set1_epi8('\n');
    const __m128i cr = _mm_set1_epi8('\r');
    const __m128i dot = _mm_set1_epi8('.');
    size_t k = from;
    while (k + 16 <= end) {
        __m128i here = _mm_loadu_si128((const __m128i *)(const void *)(buf + k));
        __m128i before = _mm_loadu_si128((const __m128i *)(const void *)(buf + k - 1));
        __m128i after = _mm_loadu_si128((const __m128i *)(const void *)(buf + k + 1));
        __m128i is_lf = _mm_cmpeq_epi8(here, lf);
        __m128i plain = _mm_andnot_si128(_mm_cmpeq_epi8(after, dot), _mm_cmpeq_epi8(before, cr));
        unsigned mask = (unsigned)_mm_movemask_epi8(_mm_andnot_si128(plain, is_lf));
        if (mask != 0) {
            return k + (size_t)__builtin_ctz(mask);
        }
        k += 16;
    }
    return k;
}

/*
 * Skips plain content lines from buf[i] (state MID or CR) and returns
 * where the byte-wise path must go on, with *st the state at that point.
 * The last byte of the buffer is left to that path, since whether an LF
 * there is followed by "." is not known yet.
 */
static size_t skip_plain_content(const uint8_t *buf, size_t i, size_t len, uint8_t *st)
{
    if (i == 0 || len < 2 || i >= len - 1) {
        return i;
    }
    size_t end = len - 1;
    size_t k = __builtin_cpu_supports("avx2") ? scan_content_avx2(buf, i, end)
                                               : scan_content_sse2(buf, i, end);
    if (k == i) {
        return i;
    }
    /* Every LF before k was CR LF followed by a non-dot: k is mid-line. */
    *st = buf[k - 1] == '\r' ? EOD_CR : EOD_MID;
    return k;
}
#else
static size_t skip_plain_content(const uint8_t *buf, size_t i, size_t len, uint8_t *st)
{
    (void)buf, (void)len, (void)st;
    return i;
}
#endif

/*
 * Streams message content until CRLF "." CRLF.  Inside a line only its LF
 * matters: plain lines are skipped by the block scan (64 bytes per step
 * with AVX2, 16 with SSE2), then memchr finds the LF that needs a look; a
 * line that starts with "." goes through the state switch, which also
 * carries a partial match across calls.
 */
static size_t parse_data(struct smtp_parser *p, const uint8_t *buf, size_t len,
                         struct smtp_event *ev)
{
    size_t i = 0;
    uint8_t st = p->eod_state;
    uint32_t anomalies = 0;
    uint32_t stuffed = 0;
    if (len == 0) {
        return 0;
    }
    while (i < len) {
        if (st == EOD_MID || st == EOD_CR) {
            i = skip_plain_content(buf, i, len, &st);
            const uint8_t *nl = memchr(buf + i, '\n', len - i);
            if (nl == NULL) {
                st = buf[len - 1] == '\r' ? EOD_CR : EOD_MID;
                i = len;
                break;
            }
            size_t j = (size_t)(nl - buf);
            bool crlf = j > i ? buf[j - 1] == '\r' : st == EOD_CR;
            i = j + 1;
            if (!crlf) {
                anomalies |= SMTP_ANOM_BARE_LF_IN_DATA;
                st = EOD_MID;
            } else if (i < len && buf[i] != '.') {
                st = EOD_MID; /* the usual line: not a dot line */
            } else {
                st = EOD_LINE_START;
            }
            continue;
        }
        uint8_t c = buf[i++];
        switch (st) {
        case EOD_LINE_START:
            st = c == '.' ? EOD_DOT : c == '\r' ? EOD_CR : EOD_MID;
            if (c == '\n') {
                anomalies |= SMTP_ANOM_BARE_LF_IN_DATA;
            }
            break;
        case EOD_DOT:
            st = c == '\r' ? EOD_DOT_CR : EOD_MID;
            if (c != '\r') {
                stuffed++; /* a line that starts with "." and is not the end */
            }
            if (c == '\n') {
                anomalies |= SMTP_ANOM_BARE_LF_IN_DATA;
            }
            break;
        case EOD_DOT_CR:
            if (c == '\n') {
                return data_event(p, ev, st, i, anomalies, stuffed, true);
            }
            stuffed++;
            st = c == '\r' ? EOD_CR : EOD_MID;
            break;
        default:
            st = EOD_MID;
            break;
        }
    }
    return data_event(p, ev, st, i, anomalies, stuffed, false);
}

static size_t parse_bdat(struct smtp_parser *p, size_t len, struct smtp_event *ev)
{
    uint64_t n = p->bdat_left < len ? p->bdat_left : len;
    if (n == 0 && p->bdat_left > 0) {
        return 0;
    }
    p->bdat_left -= n;
    ev->u.data.n_bytes = n;
    ev->line_len = (size_t)n;
    if (p->bdat_left > 0) {
        ev->type = SMTP_EV_BDAT_BYTES;
        return (size_t)n;
    }
    ev->type = SMTP_EV_BDAT_END;
    ev->u.data.bdat_last = p->bdat_last;
    smtp_parser_set_mode(p, SMTP_MODE_LINE);
    return (size_t)n;
}

size_t smtp_parse(struct smtp_parser *p, const uint8_t *buf, size_t len,
                  struct smtp_event *ev)
{
    /* Only the fields of the event's type are filled: no full memset on
     * the content path, which runs once per segment. */
    ev->type = SMTP_EV_NONE;
    ev->anomalies = 0;
    ev->line_len = 0;
    switch (p->mode) {
    case SMTP_MODE_LINE:
        if (len == 0) {
            return 0;
        }
        return parse_line(p, buf, len, ev);
    case SMTP_MODE_DATA:
        return parse_data(p, buf, len, ev);
    case SMTP_MODE_BDAT:
        return parse_bdat(p, len, ev);
    case SMTP_MODE_OPAQUE:
        if (len == 0) {
            return 0;
        }
        ev->type = SMTP_EV_OPAQUE_BYTES;
        ev->line_len = len;
        ev->u.data.n_bytes = len;
        return len;
    }
    return 0;
}

size_t smtp_parse_finish(struct smtp_parser *p, const uint8_t *buf, size_t len,
                         struct smtp_event *ev)
{
    memset(ev, 0, sizeof(*ev));
    if (len == 0) {
        return 0;
    }
    if (p->mode != SMTP_MODE_LINE) {
        return smtp_parse(p, buf, len, ev);
    }
    if (p->skipping) {
        return parse_skip(p, buf, len, ev);
    }
    p->scanned = 0;
    p->nul_seen = false;
    emit_line(p, buf, len, len, SMTP_ANOM_UNTERMINATED, ev);
    return len;
}
