/*
 * check_smtp_parse.c - the pure SMTP parser, driven as a real caller does.
 *
 * Every case is an input and the event log it must give.  The helper keeps
 * the bytes the parser did not consume, appends the next piece, loops until
 * SMTP_EV_NONE and finally hands the remainder to smtp_parse_finish, as the
 * session does.  Byte-counting events (DATA, BDAT, opaque) and the SKIPPED
 * tail of an over-long line are folded into totals, so the log is the same
 * for any split of the input, which is the parser's promise.  Each case
 * runs whole, byte by byte, at every two-point split, and once in place
 * against a PROT_NONE page to prove nothing is read past the end.
 *
 * SPDX-License-Identifier: MIT
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "smtp_limits.h"
#include "smtp_parse.h"
#include "suites.h"
#include "test_util.h"

/* ---- the case table ------------------------------------------------------ */

struct parse_case {
    const char *name;
    enum smtp_dir dir;
    enum smtp_mode mode;       /* framing at the start */
    enum smtp_verb switch_verb; /* after this command ... */
    enum smtp_mode switch_to;  /* ... the caller sets this mode (as on 354) */
    const char *in;            /* input = in + fill * fill_char + tail */
    size_t in_len;
    size_t fill;
    char fill_char;
    const char *tail;
    size_t tail_len;
    bool count_stuffed;        /* log the dot-stuffed line count */
    const char *want;
    /* Non-NULL: fails because of a bug in src/, described here. */
    const char *known_bug;
};

#define IN(lit) .in = (lit), .in_len = sizeof(lit) - 1
#define TAIL(lit) .tail = (lit), .tail_len = sizeof(lit) - 1
#define CLI .dir = SMTP_DIR_CLIENT
#define SRV .dir = SMTP_DIR_SERVER
/* The session enters DATA when DATA is answered 354; these cases answer
 * every DATA with 354 at once. */
#define DATA_ON_354 .switch_verb = SMTP_VERB_DATA, .switch_to = SMTP_MODE_DATA

static const struct parse_case cases[] = {
    /* ---- commands ---- */
    {.name = "every verb", CLI,
     IN("HELO a\r\nEHLO b\r\nLHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n"
        "RSET\r\nVRFY x\r\nEXPN y\r\nHELP\r\nNOOP\r\nQUIT\r\nSTARTTLS\r\nAUTH PLAIN\r\n"
        "TURN\r\nETRN x\r\nATRN\r\nSEND FROM:<s>\r\nSOML FROM:<s>\r\nSAML FROM:<s>\r\n"
        "XCLIENT ADDR=192.0.2.1\r\nXFORWARD NAME=x\r\nBDAT 0 LAST\r\n"),
     .want = "C HELO arg=\"a\"\n"
             "C EHLO arg=\"b\"\n"
             "C LHLO arg=\"c\"\n"
             "C MAIL arg=\"FROM:<a@b>\"\n"
             "C RCPT arg=\"TO:<c@d>\"\n"
             "C DATA\n"
             "C RSET\n"
             "C VRFY arg=\"x\"\n"
             "C EXPN arg=\"y\"\n"
             "C HELP\n"
             "C NOOP\n"
             "C QUIT\n"
             "C STARTTLS\n"
             "C AUTH arg=\"PLAIN\"\n"
             "C TURN\n"
             "C ETRN arg=\"x\"\n"
             "C ATRN\n"
             "C SEND arg=\"FROM:<s>\"\n"
             "C SOML arg=\"FROM:<s>\"\n"
             "C SAML arg=\"FROM:<s>\"\n"
             "C XCLIENT arg=\"ADDR=192.0.2.1\"\n"
             "C XFORWARD arg=\"NAME=x\"\n"
             "C BDAT arg=\"0 LAST\" size=0 last\n"
             "B end bytes=0 last\n"},
    {.name = "verbs are case-insensitive", CLI,
     IN("ehlo x\r\nMaIl FROM:<a>\r\nsTaRtTlS\r\nxforward A=b\r\nbdat 1 last\r\nZ"),
     .want = "C EHLO as=\"ehlo\" arg=\"x\"\n"
             "C MAIL as=\"MaIl\" arg=\"FROM:<a>\"\n"
             "C STARTTLS as=\"sTaRtTlS\"\n"
             "C XFORWARD as=\"xforward\" arg=\"A=b\"\n"
             "C BDAT as=\"bdat\" arg=\"1 last\" size=1 last\n"
             "B end bytes=1 last\n"},
    {.name = "unknown verbs keep the wire verb", CLI,
     IN("XYZZY plugh\r\nEHLOX a\r\nMAILFROM:<a>\r\nAAAAAAAAAAAA\r\n\r\n EHLO lead\r\n"
        "NOOP\ttab\r\n"),
     .want = "C ?\"XYZZY\" arg=\"plugh\"\n"
             "C ?\"EHLOX\" arg=\"a\"\n"
             "C ?\"MAILFROM:<a>\"\n"
             "C ?\"AAAAAAAAAAAA\"\n"
             "C ?\"\"\n"
             "C ?\"\" arg=\"EHLO lead\"\n"
             "C ?\"NOOP\\ttab\"\n"},
    {.name = "arguments are everything after the first space", CLI,
     IN("MAIL FROM:<a@b> SIZE=100 BODY=8BITMIME\r\nMAIL  FROM:<x>\r\nHELO\r\nHELO \r\n"
        "RCPT TO:<\"odd user\"@x> \r\n"),
     .want = "C MAIL arg=\"FROM:<a@b> SIZE=100 BODY=8BITMIME\"\n"
             "C MAIL arg=\" FROM:<x>\"\n"
             "C HELO\n"
             "C HELO\n"
             "C RCPT arg=\"TO:<\\\"odd user\\\"@x> \"\n"},

    /* ---- replies ---- */
    {.name = "single-line reply", SRV, IN("220 mx.test ESMTP ready\r\n"),
     .want = "R 220 last text=\"mx.test ESMTP ready\"\n"},
    {.name = "multi-line reply", SRV,
     IN("250-mx.test\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250 CHUNKING\r\n"),
     .want = "R 250 more text=\"mx.test\"\n"
             "R 250 more text=\"PIPELINING\"\n"
             "R 250 more text=\"SIZE 10240000\"\n"
             "R 250 last text=\"CHUNKING\"\n"},
    {.name = "reply code without text", SRV, IN("250\r\n250-\r\n250 \r\n"),
     .want = "R 250 last text=\"\"\n"
             "R 250 more text=\"\"\n"
             "R 250 last text=\"\"\n"},
    {.name = "enhanced status codes", SRV,
     IN("250 2.0.0 OK\r\n550 5.7.1\r\n451 4.3.0 try later\r\n"
        "250-2.0.0 first\r\n250 2.0.0 second\r\n250 2.0.00 two-digit detail\r\n"
        "250 2.999.999 max\r\n250 2.0.0  two spaces\r\n"),
     .want = "R 250 last enh=2.0.0 text=\"OK\"\n"
             "R 550 last enh=5.7.1 text=\"\"\n"
             "R 451 last enh=4.3.0 text=\"try later\"\n"
             "R 250 more enh=2.0.0 text=\"first\"\n"
             "R 250 last enh=2.0.0 text=\"second\"\n"
             "R 250 last enh=2.0.0 text=\"two-digit detail\"\n"
             "R 250 last enh=2.999.999 text=\"max\"\n"
             "R 250 last enh=2.0.0 text=\" two spaces\"\n"},
    {.name = "enhanced codes that are not", SRV,
     IN("250 5.0.0 class mismatch\r\n550 2.0.0 mismatch\r\n250 2.1234.0 x\r\n"
        "250 2.0.1234 x\r\n354 3.0.0 class 3\r\n250 2.0 x\r\n250 2..0 x\r\n"
        "250 2.0.0x\r\n250 .0.0 x\r\n250 22.0.0 x\r\n"),
     .want = "R 250 last text=\"5.0.0 class mismatch\"\n"
             "R 550 last text=\"2.0.0 mismatch\"\n"
             "R 250 last text=\"2.1234.0 x\"\n"
             "R 250 last text=\"2.0.1234 x\"\n"
             "R 354 last text=\"3.0.0 class 3\"\n"
             "R 250 last text=\"2.0 x\"\n"
             "R 250 last text=\"2..0 x\"\n"
             "R 250 last text=\"2.0.0x\"\n"
             "R 250 last text=\".0.0 x\"\n"
             "R 250 last text=\"22.0.0 x\"\n"},
    {.name = "continuation code mismatch", SRV,
     IN("250-a\r\n251 b\r\n250-c\r\n250-d\r\n550 e\r\n220 f\r\n"),
     .want = "R 250 more text=\"a\"\n"
             "R 251 last text=\"b\" {continuation_mismatch}\n"
             "R 250 more text=\"c\"\n"
             "R 250 more text=\"d\"\n"
             "R 550 last text=\"e\" {continuation_mismatch}\n"
             "R 220 last text=\"f\"\n"},
    {.name = "malformed reply lines", SRV,
     IN("hello\r\n\r\n25\r\n250x\r\n2500 a\r\n25a b\r\n"),
     .want = "R 000 last text=\"hello\" {malformed_reply}\n"
             "R 000 last text=\"\" {malformed_reply}\n"
             "R 000 last text=\"25\" {malformed_reply}\n"
             "R 000 last text=\"250x\" {malformed_reply}\n"
             "R 000 last text=\"2500 a\" {malformed_reply}\n"
             "R 000 last text=\"25a b\" {malformed_reply}\n"},
    {.name = "a malformed line ends a multi-line reply", SRV,
     IN("250-a\r\nnoise\r\n251 b\r\n"),
     .want = "R 250 more text=\"a\"\n"
             "R 000 last text=\"noise\" {malformed_reply}\n"
             "R 251 last text=\"b\"\n"},

    /* ---- line endings, NUL ---- */
    {.name = "bare LF in commands", CLI, IN("EHLO a\nMAIL FROM:<b>\r\n\nQUIT\n"),
     .want = "C EHLO arg=\"a\" {bare_lf}\n"
             "C MAIL arg=\"FROM:<b>\"\n"
             "C ?\"\" {bare_lf}\n"
             "C QUIT {bare_lf}\n"},
    {.name = "bare LF in replies", SRV, IN("250-a\n250 b\r\n"),
     .want = "R 250 more text=\"a\" {bare_lf}\n"
             "R 250 last text=\"b\"\n"},
    {.name = "CR inside a line is text", SRV, IN("250 a\rb\r\n"),
     .want = "R 250 last text=\"a\\rb\"\n"},
    {.name = "NUL bytes in commands", CLI, IN("NOOP a\0b\r\n\0\r\nQU\0IT\r\nQUIT\r\n"),
     .want = "C NOOP arg=\"a\\0b\" {nul_byte}\n"
             "C ?\"\\0\" {nul_byte}\n"
             "C ?\"QU\\0IT\" {nul_byte}\n"
             "C QUIT\n"},
    /* Lines longer than one 16-byte block: a NUL in a later block, in the
     * overlapping last block, or before the block holding the LF; the
     * next line must not inherit the flag. */
    {.name = "NUL bytes in long commands", CLI,
     IN("NOOP 0123456789abcdefghijklmnopq\0rstuvwxyz0123456789\r\n"
        "NOOP 0123456789abcdefghijklmnopqrstuvwxyz0123456789\r\n"
        "NOOP 0123456789ab\0\r\n"
        "NOOP 0123456789abcdefghijklmnopqrstuvwxyz0\0\r\n"
        "NOOP 0123456789abc\r\n"),
     .want = "C NOOP arg=\"0123456789abcdefghijklmnopq\\0rstuvwxyz0123456789\" {nul_byte}\n"
             "C NOOP arg=\"0123456789abcdefghijklmnopqrstuvwxyz0123456789\"\n"
             "C NOOP arg=\"0123456789ab\\0\" {nul_byte}\n"
             "C NOOP arg=\"0123456789abcdefghijklmnopqrstuvwxyz0\\0\" {nul_byte}\n"
             "C NOOP arg=\"0123456789abc\"\n"},
    {.name = "NUL bytes in replies", SRV, IN("250 a\0b\r\n\0\r\n"),
     .want = "R 250 last text=\"a\\0b\" {nul_byte}\n"
             "R 000 last text=\"\\0\" {malformed_reply,nul_byte}\n"},

    /* ---- line length: RFC limit 512 (flag) and SMTP_LINE_CAP (cut) ---- */
    {.name = "command of 512 octets is not long", CLI, IN("NOOP "), .fill = 505,
     .fill_char = 'a', TAIL("\r\n"), .want = "C NOOP arg=[505 bytes]\n"},
    {.name = "command of 513 octets is long", CLI, IN("NOOP "), .fill = 506,
     .fill_char = 'a', TAIL("\r\n"), .want = "C NOOP arg=[506 bytes] {long_line} len=513\n"},
    {.name = "bare-LF command of 513 octets is long", CLI, IN("NOOP "), .fill = 507,
     .fill_char = 'a', TAIL("\n"),
     .want = "C NOOP arg=[507 bytes] {bare_lf,long_line} len=513\n"},
    {.name = "reply of 512 octets is not long", SRV, IN("250 "), .fill = 506,
     .fill_char = 'b', TAIL("\r\n"), .want = "R 250 last text=[506 bytes]\n"},
    {.name = "reply of 513 octets is long", SRV, IN("250 "), .fill = 507, .fill_char = 'b',
     TAIL("\r\n"), .want = "R 250 last text=[507 bytes] {long_line} len=513\n"},
    {.name = "line over the cap is cut, the next one parses", CLI, IN("NOOP "), .fill = 9000,
     .fill_char = 'a', TAIL("\r\nQUIT\r\n"),
     .want = "C NOOP arg=[8187 bytes] {long_line,line_truncated} len=9007\n"
             "C QUIT\n"},
    {.name = "reply over the cap is cut, the next one parses", SRV, IN("250-"), .fill = 9000,
     .fill_char = 'b', TAIL("\r\n250 ok\r\n"),
     .want = "R 250 more text=[8188 bytes] {long_line,line_truncated} len=9006\n"
             "R 250 last text=\"ok\"\n"},
    {.name = "line over the cap never terminated", CLI, IN("NOOP "), .fill = 9000,
     .fill_char = 'a', .want = "C NOOP arg=[8187 bytes] {long_line,line_truncated} len=9005\n"},
    {.name = "line of exactly SMTP_LINE_CAP octets fits", CLI, IN("NOOP "), .fill = 8185,
     .fill_char = 'a', TAIL("\r\nQUIT\r\n"),
     .want = "C NOOP arg=[8185 bytes] {long_line} len=8192\nC QUIT\n"},
    {.name = "bare-LF line of exactly SMTP_LINE_CAP octets fits", CLI, IN("NOOP "),
     .fill = 8186, .fill_char = 'a', TAIL("\nQUIT\r\n"),
     .want = "C NOOP arg=[8186 bytes] {bare_lf,long_line} len=8192\nC QUIT\n"},
    /*
     * One octet over the cap.  A caller may hold at most SMTP_LINE_CAP - 1
     * bytes, so fed in pieces the parser must cut this line before its LF
     * arrives; fed whole it must give the same (smtp_parse.h promise).
     */
    {.name = "line of SMTP_LINE_CAP + 1 octets is cut in any split", CLI, IN("NOOP "),
     .fill = 8186, .fill_char = 'a', TAIL("\r\nQUIT\r\n"),
     /* The cut falls right after the CR; a CR that ends the cut part is
      * left out of the argument (it is the line end's first half). */
     .want = "C NOOP arg=[8186 bytes] {long_line,line_truncated} len=8193\nC QUIT\n"},
    {.name = "over-cap line ending in bare LF still reports bare_lf", CLI, IN("NOOP "),
     .fill = 9000, .fill_char = 'a', TAIL("\nQUIT\r\n"),
     .want = "C NOOP arg=[8187 bytes] {bare_lf,long_line,line_truncated} len=9006\n"
             "C QUIT\n",},

    /* ---- DATA content (caller enters DATA as on 354) ---- */
    {.name = "message content to CRLF.CRLF", CLI, DATA_ON_354,
     IN("DATA\r\nSubject: hi\r\n\r\nbody\r\n.\r\nQUIT\r\n"),
     .count_stuffed = true, .want = "C DATA\nD end bytes=24 stuffed=0\nC QUIT\n"},
    {.name = "dot-stuffed lines are counted", CLI, DATA_ON_354,
     IN("DATA\r\n..one\r\nmid.dle\r\n...\r\n..\r\n.\r\n"),
     .count_stuffed = true, .want = "C DATA\nD end bytes=28 stuffed=3\n",},
    {.name = "empty message", CLI, DATA_ON_354, IN("DATA\r\n.\r\nQUIT\r\n"),
     .want = "C DATA\nD end bytes=3\nC QUIT\n"},
    {.name = "CRLF.CRLF at the very start of content", CLI, .mode = SMTP_MODE_DATA,
     IN("\r\n.\r\nQUIT\r\n"), .want = "D end bytes=5\nC QUIT\n"},
    {.name = "content starting with the end mark", CLI, .mode = SMTP_MODE_DATA,
     IN(".\r\nQUIT\r\n"), .want = "D end bytes=3\nC QUIT\n"},
    {.name = "bare LF in content is flagged, .LF does not end it", CLI, DATA_ON_354,
     IN("DATA\r\nline\nmore\r\n.\nstill\r\n.\r\nQUIT\r\n"),
     .want = "C DATA\nD end bytes=23 {bare_lf_in_data}\nC QUIT\n"},
    {.name = "LF.LF smuggling stays content", CLI, DATA_ON_354, IN("DATA\r\nx\n.\nQUIT\r\n"),
     .want = "C DATA\nD open bytes=10 {bare_lf_in_data}\n"},
    {.name = "lone CRs in content", CLI, DATA_ON_354, IN("DATA\r\na\rb\r\r\n.\r\nNOOP\r\n"),
     .want = "C DATA\nD end bytes=9\nC NOOP\n"},
    {.name = "two messages pipelined", CLI, DATA_ON_354,
     IN("DATA\r\nx\r\n.\r\nMAIL FROM:<a>\r\nRCPT TO:<b>\r\nDATA\r\ny\r\n.\r\nQUIT\r\n"),
     .want = "C DATA\nD end bytes=6\nC MAIL arg=\"FROM:<a>\"\n"
             "C RCPT arg=\"TO:<b>\"\nC DATA\nD end bytes=6\nC QUIT\n"},
    {.name = "content never ended", CLI, DATA_ON_354, IN("DATA\r\nabc\r\n"),
     .want = "C DATA\nD open bytes=5\n"},
    {.name = "long content lines are not line-capped", CLI, DATA_ON_354, IN("DATA\r\n"),
     .fill = 9000, .fill_char = 'm', TAIL("\r\n.\r\nQUIT\r\n"),
     .want = "C DATA\nD end bytes=9005\nC QUIT\n"},

    /* ---- BDAT chunks (RFC 3030) ---- */
    {.name = "BDAT sizes 0, small and LAST", CLI,
     IN("BDAT 0\r\nBDAT 3\r\nabcBDAT 2 LAST\r\nxyQUIT\r\n"),
     .want = "C BDAT arg=\"0\" size=0\nB end bytes=0\n"
             "C BDAT arg=\"3\" size=3\nB end bytes=3\n"
             "C BDAT arg=\"2 LAST\" size=2 last\nB end bytes=2 last\n"
             "C QUIT\n"},
    {.name = "BDAT chunks pipelined", CLI, IN("BDAT 5\r\nhelloBDAT 3 LAST\r\nabc"),
     .want = "C BDAT arg=\"5\" size=5\nB end bytes=5\n"
             "C BDAT arg=\"3 LAST\" size=3 last\nB end bytes=3 last\n"},
    {.name = "BDAT chunk bytes are never commands", CLI,
     IN("BDAT 12\r\nQUIT\r\nRSET\r\nNOOP\r\n"),
     .want = "C BDAT arg=\"12\" size=12\nB end bytes=12\nC NOOP\n"},
    {.name = "BDAT size at UINT64_MAX is valid", CLI,
     IN("BDAT 18446744073709551615\r\nabc"),
     .want = "C BDAT arg=\"18446744073709551615\" size=18446744073709551615\n"
             "B open bytes=3\n"},
    {.name = "BDAT leading zeros", CLI, IN("BDAT 05\r\nhello"),
     .want = "C BDAT arg=\"05\" size=5\nB end bytes=5\n"},
    {.name = "BDAT invalid sizes stay in line mode", CLI,
     IN("BDAT\r\nBDAT x\r\nBDAT -1\r\nBDAT 5 LAS\r\nBDAT 5  LAST\r\nBDAT 5 LAST x\r\n"
        "BDAT 18446744073709551616\r\nBDAT 99999999999999999999\r\nBDAT 1x\r\nQUIT\r\n"),
     .want = "C BDAT {bdat_bad_size}\n"
             "C BDAT arg=\"x\" {bdat_bad_size}\n"
             "C BDAT arg=\"-1\" {bdat_bad_size}\n"
             "C BDAT arg=\"5 LAS\" {bdat_bad_size}\n"
             "C BDAT arg=\"5  LAST\" {bdat_bad_size}\n"
             "C BDAT arg=\"5 LAST x\" {bdat_bad_size}\n"
             "C BDAT arg=\"18446744073709551616\" {bdat_bad_size}\n"
             "C BDAT arg=\"99999999999999999999\" {bdat_bad_size}\n"
             "C BDAT arg=\"1x\" {bdat_bad_size}\n"
             "C QUIT\n"},
    {.name = "BDAT chunk cut short by the end", CLI, IN("BDAT 10\r\nabc"),
     .want = "C BDAT arg=\"10\" size=10\nB open bytes=3\n"},

    /* ---- opaque (TLS) ---- */
    {.name = "opaque bytes are only counted", CLI, .mode = SMTP_MODE_OPAQUE,
     IN("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" "EHLO x\r\n"), .want = "O bytes=19\n"},
    {.name = "STARTTLS then opaque", CLI, .switch_verb = SMTP_VERB_STARTTLS,
     .switch_to = SMTP_MODE_OPAQUE, IN("STARTTLS\r\n\x16\x03\x01\x00\x05hello\r\n"),
     .want = "C STARTTLS\nO bytes=12\n"},

    /* ---- end of stream ---- */
    {.name = "finish reports a partial command", CLI, IN("EHLO a\r\nQUIT"),
     .want = "C EHLO arg=\"a\"\nC QUIT {unterminated_line}\n"},
    {.name = "finish reports a partial reply line", SRV, IN("250-a\r\n250 b"),
     .want = "R 250 more text=\"a\"\nR 250 last text=\"b\" {unterminated_line}\n"},
    {.name = "finish on a long partial line", CLI, IN("NOOP "), .fill = 600, .fill_char = 'z',
     .want = "C NOOP arg=[600 bytes] {long_line,unterminated_line} len=605\n"},
    {.name = "finish inside content", CLI, DATA_ON_354, IN("DATA\r\nabc"),
     .want = "C DATA\nD open bytes=3\n"},
};

#define N_CASES (sizeof(cases) / sizeof(cases[0]))

/* ---- event log -------------------------------------------------------------- */

static const char *const anomaly_names[] = {
#define XX(name, bit, str) [bit] = str,
    SMTP_LINE_ANOMALY_MAP(XX)
#undef XX
};

struct plog {
    struct tstr out;
    bool count_stuffed;
    /* A line event waits until the next event: SKIPPED folds into it. */
    bool line_pending;
    struct tstr line;
    uint32_t line_anom;
    uint64_t line_wire;
    bool data_open;
    uint64_t data_bytes;
    uint64_t data_stuffed;
    uint32_t data_anom;
    bool bdat_open;
    uint64_t bdat_bytes;
    uint64_t opaque_bytes;
};

static void put_anomalies(struct tstr *out, uint32_t a)
{
    const char *sep = " {";
    for (unsigned b = 0; b < sizeof(anomaly_names) / sizeof(anomaly_names[0]); b++) {
        if (a & (1u << b)) {
            tstr_printf(out, "%s%s", sep, anomaly_names[b]);
            sep = ",";
        }
    }
    if (a != 0) {
        tstr_printf(out, "}");
    }
}

static void plog_flush_line(struct plog *l)
{
    if (!l->line_pending) {
        return;
    }
    tstr_printf(&l->out, "%s", tstr_cstr(&l->line));
    put_anomalies(&l->out, l->line_anom);
    if (l->line_anom & (SMTP_ANOM_LONG_LINE | SMTP_ANOM_TRUNCATED)) {
        tstr_printf(&l->out, " len=%llu", (unsigned long long)l->line_wire);
    }
    tstr_printf(&l->out, "\n");
    l->line.len = 0;
    l->line_pending = false;
}

static void plog_event(struct plog *l, const struct smtp_event *ev)
{
    if (ev->type == SMTP_EV_SKIPPED) {
        REQUIRE(l->line_pending, "SKIPPED with no cut line before it");
        l->line_wire += ev->u.data.n_bytes;
        l->line_anom |= ev->anomalies;
        return;
    }
    plog_flush_line(l);
    switch (ev->type) {
    case SMTP_EV_COMMAND: {
        const struct span v = ev->u.command.verb_text;
        enum smtp_verb verb = ev->u.command.verb;
        if (verb == SMTP_VERB_UNKNOWN) {
            tstr_printf(&l->line, "C ?");
            tstr_quote(&l->line, v.ptr, v.len);
        } else {
            const char *name = smtp_verb_name(verb);
            tstr_printf(&l->line, "C %s", name);
            if (v.len != strlen(name) || memcmp(v.ptr, name, v.len) != 0) {
                tstr_printf(&l->line, " as=");
                tstr_quote(&l->line, v.ptr, v.len);
            }
        }
        if (ev->u.command.arg.len > 0) {
            tstr_printf(&l->line, " arg=");
            tstr_quote_short(&l->line, ev->u.command.arg.ptr, ev->u.command.arg.len);
        }
        if (verb == SMTP_VERB_BDAT &&
            !(ev->anomalies & (SMTP_ANOM_BDAT_BAD_SIZE | SMTP_ANOM_TRUNCATED))) {
            tstr_printf(&l->line, " size=%llu%s",
                        (unsigned long long)ev->u.command.bdat_size,
                        ev->u.command.bdat_last ? " last" : "");
        }
        l->line_pending = true;
        l->line_anom = ev->anomalies;
        l->line_wire = ev->line_len;
        break;
    }
    case SMTP_EV_REPLY:
        tstr_printf(&l->line, "R %03u %s", ev->u.reply.code,
                    ev->u.reply.is_last ? "last" : "more");
        if (ev->u.reply.enhanced.klass != 0) {
            tstr_printf(&l->line, " enh=%u.%u.%u", ev->u.reply.enhanced.klass,
                        ev->u.reply.enhanced.subject, ev->u.reply.enhanced.detail);
        }
        tstr_printf(&l->line, " text=");
        tstr_quote_short(&l->line, ev->u.reply.text.ptr, ev->u.reply.text.len);
        l->line_pending = true;
        l->line_anom = ev->anomalies;
        l->line_wire = ev->line_len;
        break;
    case SMTP_EV_DATA_BYTES:
    case SMTP_EV_DATA_END:
        l->data_open = true;
        l->data_bytes += ev->u.data.n_bytes;
        l->data_stuffed += ev->u.data.n_dot_stuffed;
        l->data_anom |= ev->anomalies;
        if (ev->type == SMTP_EV_DATA_END) {
            tstr_printf(&l->out, "D end bytes=%llu", (unsigned long long)l->data_bytes);
            if (l->count_stuffed) {
                tstr_printf(&l->out, " stuffed=%llu", (unsigned long long)l->data_stuffed);
            }
            put_anomalies(&l->out, l->data_anom);
            tstr_printf(&l->out, "\n");
            l->data_open = false;
            l->data_bytes = l->data_stuffed = 0;
            l->data_anom = 0;
        }
        break;
    case SMTP_EV_BDAT_BYTES:
    case SMTP_EV_BDAT_END:
        l->bdat_open = true;
        l->bdat_bytes += ev->u.data.n_bytes;
        if (ev->type == SMTP_EV_BDAT_END) {
            tstr_printf(&l->out, "B end bytes=%llu%s\n", (unsigned long long)l->bdat_bytes,
                        ev->u.data.bdat_last ? " last" : "");
            l->bdat_open = false;
            l->bdat_bytes = 0;
        }
        break;
    case SMTP_EV_OPAQUE_BYTES:
        l->opaque_bytes += ev->u.data.n_bytes;
        break;
    case SMTP_EV_NONE:
    case SMTP_EV_SKIPPED:
        break;
    }
}

static void plog_end(struct plog *l)
{
    plog_flush_line(l);
    if (l->data_open) {
        tstr_printf(&l->out, "D open bytes=%llu", (unsigned long long)l->data_bytes);
        if (l->count_stuffed) {
            tstr_printf(&l->out, " stuffed=%llu", (unsigned long long)l->data_stuffed);
        }
        put_anomalies(&l->out, l->data_anom);
        tstr_printf(&l->out, "\n");
    }
    if (l->bdat_open) {
        tstr_printf(&l->out, "B open bytes=%llu\n", (unsigned long long)l->bdat_bytes);
    }
    if (l->opaque_bytes > 0) {
        tstr_printf(&l->out, "O bytes=%llu\n", (unsigned long long)l->opaque_bytes);
    }
    tstr_cstr(&l->out);
}

static void plog_free(struct plog *l)
{
    tstr_free(&l->out);
    tstr_free(&l->line);
}

/* ---- the caller ------------------------------------------------------------- */

struct prun {
    const struct parse_case *c;
    struct smtp_parser p;
    struct plog log;
    uint8_t *hold; /* bytes not consumed yet, in an exact-size allocation */
    size_t held;
};

static void prun_init(struct prun *r, const struct parse_case *c)
{
    memset(r, 0, sizeof(*r));
    r->c = c;
    r->log.count_stuffed = c->count_stuffed;
    smtp_parser_init(&r->p, c->dir);
    if (c->mode != SMTP_MODE_LINE) {
        smtp_parser_set_mode(&r->p, c->mode);
    }
}

/* Checks the promises every event makes about the buffer it came from. */
static void check_event(const struct smtp_event *ev, const uint8_t *buf, size_t len,
                        size_t used)
{
    CHECK((used) <= (len));
    CHECK((ev->line_len) == (used));
    if (ev->type == SMTP_EV_COMMAND) {
        const struct span v = ev->u.command.verb_text;
        const struct span a = ev->u.command.arg;
        ck_assert_ptr_eq(v.ptr, buf);
        CHECK(a.ptr >= buf && a.ptr + a.len <= buf + used);
    } else if (ev->type == SMTP_EV_REPLY) {
        const struct span t = ev->u.reply.text;
        CHECK(t.ptr >= buf && t.ptr + t.len <= buf + used);
    }
}

/* The loop of a real caller over buf[0..len); returns the bytes consumed. */
static size_t prun_drain(struct prun *r, const uint8_t *buf, size_t len)
{
    size_t off = 0;
    unsigned stalled = 0;
    for (;;) {
        struct smtp_event ev;
        size_t used = smtp_parse(&r->p, buf + off, len - off, &ev);
        if (ev.type == SMTP_EV_NONE) {
            CHECK((used) == (0));
            break;
        }
        check_event(&ev, buf + off, len - off, used);
        /* Zero-byte events exist (end of an empty chunk) but never twice
         * in a row forever. */
        stalled = used == 0 ? stalled + 1 : 0;
        REQUIRE(stalled < 3, "%s: parser makes no progress", r->c->name);
        plog_event(&r->log, &ev);
        if (ev.type == SMTP_EV_COMMAND && r->c->switch_verb != SMTP_VERB_UNKNOWN &&
            ev.u.command.verb == r->c->switch_verb) {
            smtp_parser_set_mode(&r->p, r->c->switch_to);
        }
        off += used;
    }
    /* smtp_parse.h: the caller never holds SMTP_LINE_CAP bytes or more. */
    REQUIRE(len - off < SMTP_LINE_CAP, "%s: caller left holding %zu bytes", r->c->name,
                  len - off);
    return off;
}

static void prun_feed(struct prun *r, const uint8_t *piece, size_t n)
{
    size_t total = r->held + n;
    if (total == 0) {
        return;
    }
    uint8_t *buf = malloc(total);
    CHECK((buf) != NULL);
    if (r->held > 0) {
        memcpy(buf, r->hold, r->held);
    }
    if (n > 0) {
        memcpy(buf + r->held, piece, n);
    }
    size_t used = prun_drain(r, buf, total);
    free(r->hold);
    r->hold = NULL;
    r->held = total - used;
    if (r->held > 0) {
        r->hold = malloc(r->held);
        CHECK((r->hold) != NULL);
        memcpy(r->hold, buf + used, r->held);
    }
    free(buf);
}

static void prun_finish_at(struct prun *r, const uint8_t *rest, size_t n)
{
    struct smtp_event ev;
    size_t used = smtp_parse_finish(&r->p, rest, n, &ev);
    CHECK((used) == (n));
    if (ev.type != SMTP_EV_NONE) {
        check_event(&ev, rest, n, used);
        plog_event(&r->log, &ev);
    } else {
        CHECK((n) == (0));
    }
    plog_end(&r->log);
}

static void prun_finish(struct prun *r)
{
    prun_finish_at(r, r->hold, r->held);
    free(r->hold);
    r->hold = NULL;
    r->held = 0;
}

static void prun_free(struct prun *r)
{
    free(r->hold);
    plog_free(&r->log);
}

/* ---- inputs and comparison ---------------------------------------------- */

static uint8_t *case_input(const struct parse_case *c, size_t *len)
{
    size_t n = c->in_len + c->fill + c->tail_len;
    uint8_t *b = malloc(n ? n : 1);
    CHECK((b) != NULL);
    memcpy(b, c->in, c->in_len);
    memset(b + c->in_len, c->fill_char, c->fill);
    if (c->tail_len > 0) {
        memcpy(b + c->in_len + c->fill, c->tail, c->tail_len);
    }
    *len = n;
    return b;
}

static void expect_log(const struct parse_case *c, const char *how, struct prun *r)
{
    const char *got = tstr_cstr(&r->log.out);
    REQUIRE(strcmp(got, c->want) == 0, "%s [%s]%s%s\n--- want\n%s--- got\n%s", c->name,
                  how, c->known_bug ? " KNOWN BUG: " : "", c->known_bug ? c->known_bug : "",
                  c->want, got);
}

/* Feeds in[0..len) as the pieces cut at the given points (ascending). */
static void run_pieces(const struct parse_case *c, const uint8_t *in, size_t len,
                       const size_t *cuts, size_t n_cuts, const char *how)
{
    struct prun r;
    prun_init(&r, c);
    size_t from = 0;
    for (size_t k = 0; k <= n_cuts; k++) {
        size_t to = k < n_cuts ? cuts[k] : len;
        prun_feed(&r, in + from, to - from);
        from = to;
    }
    prun_finish(&r);
    expect_log(c, how, &r);
    prun_free(&r);
}

/* ---- the four runners --------------------------------------------------------- */

START_TEST(test_parse_whole)
{
    size_t len;
    uint8_t *in = case_input(&cases[_i], &len);
    run_pieces(&cases[_i], in, len, NULL, 0, "whole");
    free(in);
}
END_TEST

START_TEST(test_parse_bytewise)
{
    const struct parse_case *c = &cases[_i];
    size_t len;
    uint8_t *in = case_input(c, &len);
    struct prun r;
    prun_init(&r, c);
    for (size_t k = 0; k < len; k++) {
        prun_feed(&r, in + k, 1);
    }
    prun_finish(&r);
    expect_log(c, "byte by byte", &r);
    prun_free(&r);
    free(in);
}
END_TEST

/*
 * Points worth splitting at.  Short inputs: every point (so every pair is
 * a two-point split).  Long filler inputs: the edges, each LF's
 * neighbours, the RFC and cap boundaries and a stride between them.
 */
static size_t split_points(const uint8_t *in, size_t len, size_t *pts, size_t max)
{
    size_t n = 0;
    for (size_t at = 0; at <= len && n < max; at++) {
        bool want = len <= 160 || at < 4 || at + 4 > len || at % 509 == 0 ||
                    (at + 3 >= 512 && at <= 515) ||
                    (at + 3 >= SMTP_LINE_CAP && at <= SMTP_LINE_CAP + 3);
        for (size_t k = at >= 2 ? at - 2 : 0; !want && k < len && k <= at + 1; k++) {
            want = in[k] == '\n';
        }
        if (want) {
            pts[n++] = at;
        }
    }
    return n;
}

START_TEST(test_parse_splits)
{
    const struct parse_case *c = &cases[_i];
    size_t len;
    uint8_t *in = case_input(c, &len);
    static size_t pts[1024];
    size_t n = split_points(in, len, pts, sizeof(pts) / sizeof(pts[0]));
    /* Three pieces [0,a) [a,b) [b,len) for every a <= b among the points;
     * a == b or an end point gives the one-point splits and whole. */
    for (size_t i = 0; i < n; i++) {
        for (size_t j = i; j < n; j++) {
            size_t cuts[2] = {pts[i], pts[j]};
            char how[64];
            snprintf(how, sizeof(how), "pieces cut at %zu and %zu", cuts[0], cuts[1]);
            run_pieces(c, in, len, cuts, 2, how);
        }
    }
    free(in);
}
END_TEST

/* The input ends exactly where a PROT_NONE page begins and is parsed in
 * place, so reading one byte too far is a SIGSEGV, not a silent pass. */
START_TEST(test_parse_guard_page)
{
    const struct parse_case *c = &cases[_i];
    size_t len;
    uint8_t *in = case_input(c, &len);
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t data_pages = (len + page - 1) / page + 1;
    size_t map_len = (data_pages + 1) * page;
    uint8_t *map = mmap(NULL, map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(map != MAP_FAILED);
    ck_assert_int_eq(mprotect(map + data_pages * page, page, PROT_NONE), 0);
    uint8_t *at = map + data_pages * page - len;
    memcpy(at, in, len);
    struct prun r;
    prun_init(&r, c);
    size_t used = prun_drain(&r, at, len);
    prun_finish_at(&r, at + used, len - used);
    expect_log(c, "in place before a PROT_NONE page", &r);
    prun_free(&r);
    munmap(map, map_len);
    free(in);
}
END_TEST

/* ---- holding never reaches the cap -------------------------------------------- */

static const size_t hold_piece_sizes[] = {1, 7, 511, 4096, 8191, 8192, 8193, 20000};

/* 20000 octets with no LF, in pieces of each size, both directions: after
 * every SMTP_EV_NONE the caller holds fewer than SMTP_LINE_CAP bytes
 * (asserted in prun_drain), and the cut line is reported once. */
START_TEST(test_hold_below_cap)
{
    static const struct parse_case cli = {.name = "no LF client", CLI, .want = ""};
    static const struct parse_case srv = {.name = "no LF server", SRV, .want = ""};
    size_t piece = hold_piece_sizes[_i];
    uint8_t *in = malloc(20000);
    CHECK((in) != NULL);
    memset(in, 'x', 20000);
    memcpy(in, "250 ", 4);
    for (int d = 0; d < 2; d++) {
        struct prun r;
        prun_init(&r, d == 0 ? &cli : &srv);
        for (size_t off = 0; off < 20000; off += piece) {
            size_t n = 20000 - off < piece ? 20000 - off : piece;
            prun_feed(&r, in + off, n);
            CHECK((r.held) < (SMTP_LINE_CAP));
        }
        prun_finish(&r);
        const char *want = d == 0 ? "C ?\"250\" arg=[8188 bytes] {long_line,line_truncated} "
                                    "len=20000\n"
                                  : "R 250 last text=[8188 bytes] {long_line,line_truncated} "
                                    "len=20000\n";
        ck_assert_str_eq(tstr_cstr(&r.log.out), want);
        prun_free(&r);
    }
    free(in);
}
END_TEST

/* ---- content scanning against the byte-wise path ------------------------------ */

/* The whole-buffer content scan skips plain lines a block at a time; fed one
 * byte per call the parser never takes that path.  Random content made of
 * the bytes that matter (LF, CR, ".") and filler must give the same log
 * both ways, with the input placed just before a PROT_NONE page, so a
 * block load past the end would fault.  Deterministic (fixed seed). */
START_TEST(test_content_scan_matches_bytewise)
{
    static const char alphabet[] = "aaaaaaaaaaaaaaaaaaaa\r\n\r\n\r\n.\n";
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t map_len = 3 * page;
    uint8_t *map = mmap(NULL, map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(map != MAP_FAILED);
    ck_assert_int_eq(mprotect(map + 2 * page, page, PROT_NONE), 0);
    uint32_t seed = 12345u + (uint32_t)_i;
    for (int round = 0; round < 400; round++) {
        uint8_t in[700];
        seed = seed * 1103515245u + 12345u;
        size_t len = 1 + (seed >> 8) % sizeof(in);
        for (size_t k = 0; k < len; k++) {
            seed = seed * 1103515245u + 12345u;
            in[k] = (uint8_t)alphabet[(seed >> 16) % (sizeof(alphabet) - 1)];
        }
        struct parse_case c = {.name = "random content", CLI, .mode = SMTP_MODE_DATA,
                               .count_stuffed = true, .want = ""};
        uint8_t *at = map + 2 * page - len;
        memcpy(at, in, len);
        struct prun whole, bytewise;
        prun_init(&whole, &c);
        size_t used = prun_drain(&whole, at, len);
        prun_finish_at(&whole, at + used, len - used);
        prun_init(&bytewise, &c);
        for (size_t k = 0; k < len; k++) {
            prun_feed(&bytewise, in + k, 1);
        }
        prun_finish(&bytewise);
        ck_assert_msg(strcmp(tstr_cstr(&whole.log.out), tstr_cstr(&bytewise.log.out)) == 0,
                      "round %d (%zu bytes): whole\n%s\nbyte-wise\n%s", round, len,
                      tstr_cstr(&whole.log.out), tstr_cstr(&bytewise.log.out));
        prun_free(&whole);
        prun_free(&bytewise);
    }
    munmap(map, map_len);
}
END_TEST

/* ---- names ------------------------------------------------------------------ */

START_TEST(test_verb_lookup)
{
    for (unsigned v = 1; v < SMTP_VERB_COUNT; v++) {
        const char *name = smtp_verb_name((enum smtp_verb)v);
        ck_assert_uint_gt(strlen(name), 0);
        ck_assert_int_eq(smtp_verb_lookup((const uint8_t *)name, strlen(name)), v);
    }
    ck_assert_int_eq(smtp_verb_lookup((const uint8_t *)"quit", 4), SMTP_VERB_QUIT);
    ck_assert_int_eq(smtp_verb_lookup((const uint8_t *)"QUITS", 5), SMTP_VERB_UNKNOWN);
    ck_assert_int_eq(smtp_verb_lookup((const uint8_t *)"QUI", 3), SMTP_VERB_UNKNOWN);
    ck_assert_int_eq(smtp_verb_lookup((const uint8_t *)"", 0), SMTP_VERB_UNKNOWN);
    ck_assert_str_eq(smtp_verb_name(SMTP_VERB_COUNT), "");
    ck_assert_str_eq(smtp_event_name(SMTP_EV_REPLY), "reply");
    ck_assert_str_eq(smtp_mode_name(SMTP_MODE_OPAQUE), "opaque");
}
END_TEST

Suite *smtp_parse_suite(void)
{
    Suite *s = suite_create("smtp_parse");
    TCase *tc = tcase_create("table");
    /* The split runner over long inputs is slow under ASan. */
    tcase_set_timeout(tc, 120);
    tcase_add_loop_test(tc, test_parse_whole, 0, (int)N_CASES);
    tcase_add_loop_test(tc, test_parse_bytewise, 0, (int)N_CASES);
    tcase_add_loop_test(tc, test_parse_splits, 0, (int)N_CASES);
    tcase_add_loop_test(tc, test_parse_guard_page, 0, (int)N_CASES);
    suite_add_tcase(s, tc);
    TCase *hold = tcase_create("hold");
    tcase_set_timeout(hold, 60);
    tcase_add_loop_test(hold, test_hold_below_cap, 0,
                        (int)(sizeof(hold_piece_sizes) / sizeof(hold_piece_sizes[0])));
    tcase_add_test(hold, test_verb_lookup);
    tcase_add_loop_test(hold, test_content_scan_matches_bytewise, 0, 8);
    suite_add_tcase(s, hold);
    return s;
}
