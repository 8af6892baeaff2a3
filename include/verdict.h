/*
 * verdict.h - close labels and anomaly flags, with their explanations.
 *
 * Role: the one table of what smtpscope can conclude about a session.  Each
 * close label and flag has a stable JSON name, a severity, the reply codes
 * it involves, a plain-language explanation and what to check.  The rules
 * that pick a label are in docs/verdicts.md; verdict_classify() is their
 * code.  Nothing here reads wire bytes.  Explanations and checks are
 * English marked N_(): writers for people show them through _(), JSON
 * never does; names and severities are identifiers and never translated.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef VERDICT_H
#define VERDICT_H

#include <stdbool.h>
#include <stdint.h>

#include "i18n.h"

/*
 * XX(id, json name, severity, codes involved, meaning, what to check).
 * Order is rule order: the first label whose rule matches wins.
 */
#define VERDICT_LABEL_MAP(XX)                                                  \
    XX(TRUNCATED_CAPTURE, "truncated_capture", "info", "",                     \
       N_("The capture ended (or the session went idle, or was evicted) while " \
       "the connection was still open: neither a FIN nor an RST was seen, so " \
       "how the session ended is unknown."),                                   \
       N_("Capture longer, or start the capture earlier and stop it later; "   \
       "for idle sessions, check the client that left the connection open."))  \
    XX(ONE_SIDED_CAPTURE, "one_sided_capture", "info", "",                     \
       N_("Only one direction of the connection is in the capture (a tap or "  \
       "mirror port that sees one way, or asymmetric routing): what the "      \
       "other side said, and so how the session really ended, is unknown."),   \
       N_("Capture both directions (both halves of a tap, or the port that sees " \
       "both ways); nothing here blames either side."))                        \
    XX(TLS_OPAQUE, "tls_opaque", "info", "220",                                \
       N_("The session switched to TLS (STARTTLS answered 220, or implicit TLS " \
       "on port 465), so the rest of the conversation, including how it "      \
       "ended, is encrypted and cannot be read."),                             \
       N_("Nothing is wrong by itself. To see inside, capture on the server "  \
       "before encryption or use the server's own logs."))                     \
    XX(SERVER_421, "server_421", "error", "421",                               \
       N_("The server sent 421 (service not available, closing the channel) "  \
       "and the session ended. 421 is the server giving up: it is shutting "   \
       "down, overloaded, rate-limiting this client, or timing out an idle "   \
       "connection."),                                                         \
       N_("Check the server's load and connection limits, its idle timeout "   \
       "against the client's pauses, and whether it rate-limits or "           \
       "greylists this client. The client should retry later."))               \
    XX(SERVER_221_MID_TRANSACTION, "server_221_mid_transaction", "error",      \
       "221,250",                                                              \
       N_("The server sent 221 (closing the channel) that did not answer a "   \
       "QUIT, while a mail transaction was open (MAIL accepted, no final "     \
       "reply to the message yet). The message in progress was not "           \
       "delivered. 221 should only ever answer QUIT."),                        \
       N_("Check the server's logs at that time: a shutdown or restart, a "    \
       "policy that drops the connection, or a server that wrongly uses 221 "  \
       "where it means 421 or 554. The client must retry the message."))       \
    XX(SERVER_221_UNSOLICITED, "server_221_unsolicited", "warning", "221",     \
       N_("The server sent 221 (closing the channel) that did not answer a "   \
       "QUIT, with no mail transaction open. The server closed on its own, "   \
       "most often an idle timeout or a shutdown reported with the wrong "     \
       "code (421 is the right one)."),                                        \
       N_("Compare the time since the last command with the server's idle "    \
       "timeout; check for server restarts; check the client for long "        \
       "pauses between commands."))                                            \
    XX(CLIENT_DATA_AFTER_221, "client_data_after_221", "warning", "221",       \
       N_("QUIT was answered 221, yet the client kept sending. After 221 the " \
       "server closes the channel, so anything sent later is lost."),          \
       N_("Check the client's SMTP library: it should stop after QUIT. A "     \
       "pipelining client that sends after QUIT may lose commands."))          \
    XX(SERVER_221_AFTER_NO_250, "server_221_after_no_250", "warning",          \
       "221,250,5xx,4xx",                                                      \
       N_("The session ended normally with QUIT and 221, but no message was "  \
       "accepted: MAIL was tried, yet no message got its final 250. "          \
       "Delivery failed even though the close looks clean."),                  \
       N_("Read the replies to MAIL, RCPT and DATA in the transcript: a 4xx "  \
       "means try again later, a 5xx means the server refused (unknown "       \
       "recipient, policy, size, spam)."))                                     \
    XX(NORMAL_QUIT, "normal_quit", "ok", "221",                                \
       N_("The client sent QUIT and the server answered 221 (closing the "     \
       "channel): the normal end of an SMTP session."),                        \
       N_("Nothing to fix."))                                                  \
    XX(QUIT_NO_221, "quit_no_221", "warning", "221",                           \
       N_("The client sent QUIT but no 221 came back before the connection "   \
       "ended. Usually harmless for mail already accepted, but the server "    \
       "closed without the required reply, or the reply was lost."),           \
       N_("Check the server for crashes or aggressive connection closing after " \
       "QUIT, and the capture for lost packets."))                             \
    XX(RST, "rst", "error", "",                                                \
       N_("The connection was reset (TCP RST) without QUIT or a closing reply. " \
       "Whatever was in progress was abandoned."),                             \
       N_("See which side sent the RST (closer). Check firewalls and load "    \
       "balancers that reset idle connections, process crashes, and "          \
       "timeouts on either side."))                                            \
    XX(FIN_WITHOUT_QUIT, "fin_without_quit", "warning", "",                    \
       N_("The connection was closed (TCP FIN) without QUIT and without a "    \
       "closing reply. One side hung up mid-conversation."),                   \
       N_("See which side closed first (closer). A client that drops after an " \
       "error reply, or a server that closes without 421, are the usual "      \
       "causes."))

/* XX(id, json name, severity, codes, explanation, what to check) */
#define VERDICT_FLAG_MAP(XX)                                                   \
    XX(UNSOLICITED_REPLY, "unsolicited_reply", "warning", "421,221",           \
       N_("The server sent a reply no command was waiting for (often an idle " \
       "timeout 421 or a 221 before closing)."),                               \
       N_("Check the server's timeouts and the client's pauses."))             \
    XX(CLIENT_BEFORE_GREETING, "client_before_greeting", "warning", "220,554", \
       N_("The client spoke before the server's greeting. RFC 5321 3.1 makes " \
       "the client wait for 220; many servers (Postfix postscreen, Exim) "     \
       "treat early talkers as spam bots, unless both sides use "              \
       "PIPE_CONNECT."),                                                       \
       N_("Check the client software; a legitimate MTA waits for the banner.")) \
    XX(CLIENT_DID_NOT_WAIT, "client_did_not_wait", "warning", "354,220",       \
       N_("The client sent more before the server answered DATA or STARTTLS. " \
       "RFC 2920 3.1 makes a client wait for these replies; bytes sent "       \
       "ahead of a STARTTLS reply are the pattern of command injection "       \
       "(CVE-2011-0411)."),                                                    \
       N_("Check the client software; on a server, make sure input buffered "  \
       "before TLS starts is discarded."))                                     \
    XX(MIDSTREAM, "midstream", "info", "",                                     \
       N_("The capture holds no TCP handshake for this connection (it started " \
       "later, or lost the SYN or SYN/ACK), so the session was picked up "     \
       "mid-stream: connect and banner times are unknown and earlier "         \
       "exchanges are missing."),                                              \
       N_("Start the capture before the connections of interest, or capture "  \
       "longer."))                                                             \
    XX(NO_GREETING, "no_greeting", "warning", "220",                           \
       N_("The server never sent a greeting (220) on this connection."),       \
       N_("Check the server process and anything in front of it (proxy, "      \
       "firewall) that accepts TCP but does not speak SMTP."))                 \
    XX(GREETING_REFUSED, "greeting_refused", "warning", "554,421",             \
       N_("The greeting was not 220: the server refused the session from the " \
       "start (554 no SMTP service here, or 421 not available)."),             \
       N_("Check whether the client is blocklisted or rate-limited, and the "  \
       "server's connection policy."))                                         \
    XX(BARE_LF, "bare_lf", "warning", "",                                      \
       N_("A command or reply line ended with a bare LF instead of CRLF (RFC " \
       "5321 2.3.8)."),                                                        \
       N_("Fix the sending software's line endings."))                         \
    XX(BARE_LF_IN_DATA, "bare_lf_in_data", "warning", "",                      \
       N_("Message content contained a bare LF. Servers disagree on whether "  \
       "LF.LF ends a message, which is how SMTP smuggling works."),            \
       N_("Check the client; on servers, reject bare LF (Postfix "             \
       "smtpd_forbid_bare_newline)."))                                         \
    XX(LONG_LINE, "long_line", "warning", "500",                               \
       N_("A command or reply line was longer than RFC 5321 4.5.3.1 allows "   \
       "(512 octets with CRLF)."),                                             \
       N_("Check the sender; servers may answer 500 line too long."))          \
    XX(LINE_TRUNCATED, "line_truncated", "warning", "",                        \
       N_("A line was longer than smtpscope keeps (8192 octets); it was cut "  \
       "and the rest of it skipped."),                                         \
       N_("Look at the raw capture if the full line matters."))                \
    XX(CONTINUATION_MISMATCH, "continuation_mismatch", "warning", "",          \
       N_("The lines of a multi-line reply did not all carry the same code "   \
       "(RFC 5321 4.2.1)."),                                                   \
       N_("Check the server or the proxy in front of it."))                    \
    XX(MALFORMED_REPLY, "malformed_reply", "warning", "",                      \
       N_("The server sent a line that is not an SMTP reply (no 3-digit code)."), \
       N_("Check that the port really speaks SMTP."))                          \
    XX(NUL_BYTE, "nul_byte", "warning", "",                                    \
       N_("A command or reply line contained a NUL byte."),                    \
       N_("Suspicious: probe or exploit attempt, or binary data on the port.")) \
    XX(BDAT_BAD_SIZE, "bdat_bad_size", "warning", "501",                       \
       N_("A BDAT command had a missing or invalid chunk size (RFC 3030 2)."), \
       N_("Check the client's CHUNKING support."))                             \
    XX(REPLY_AFTER_221, "reply_after_221", "warning", "221",                   \
       N_("The server sent more replies after its 221."),                      \
       N_("Check the server or proxy; 221 must be its last word."))            \
    XX(DATA_AFTER_221, "data_after_221", "warning", "221",                     \
       N_("The client sent more after the server's 221."),                     \
       N_("Check the client: after 221 nothing more is read."))                \
    XX(RST_AFTER_221, "rst_after_221", "info", "221",                          \
       N_("The connection was reset after the 221. Common and harmless: the "  \
       "mail was already handled."),                                           \
       N_("Nothing, unless resets also happen earlier."))                      \
    XX(DATA_ENDED_BY_SERVER, "data_ended_by_server", "warning", "",            \
       N_("The server replied while message content was still being sent, "    \
       "before CRLF.CRLF: it aborted the message or saw an end the client "    \
       "did not send (bare LF smuggling)."),                                   \
       N_("Read the server's reply; check bare LF handling on both sides."))   \
    XX(STREAM_GAP, "stream_gap", "warning", "",                                \
       N_("Part of the TCP stream was missing from the capture (gap_bytes says " \
       "how many bytes, per direction): the peer acknowledged bytes the "      \
       "capture never held. Reading resumed after the hole; an exchange "      \
       "whose reply was in it shows no reply."),                               \
       N_("Capture loss: check drops, mirror port limits, snaplen."))          \
    XX(TOO_MANY_COMMANDS, "too_many_commands", "warning", "",                  \
       N_("The session had more exchanges than smtpscope keeps (2048); later " \
       "ones are counted only."),                                              \
       N_("A client flooding commands: probe, brute force or a broken loop.")) \
    XX(RECORD_TEXT_CAPPED, "record_text_capped", "info", "",                   \
       N_("The session carried more text than smtpscope keeps per record; "    \
       "later arguments and reply texts are left out."),                       \
       N_("Look at the raw capture for the full text."))                       \
    XX(INVALID_UTF8, "invalid_utf8", "info", "",                               \
       N_("Text from the wire was not valid UTF-8; invalid bytes are shown as " \
       "U+FFFD in JSON."),                                                     \
       N_("Usually 8-bit text in a reply or argument; harmless unless "        \
       "unexpected."))                                                         \
    XX(IDLE_TIMEOUT, "idle_timeout", "info", "",                               \
       N_("smtpscope ended the session after it saw no traffic for the idle "  \
       "timeout (RFC 5321 4.5.3.2: 5 minutes, 10 in DATA)."),                  \
       N_("Check the client or server that left the connection silent."))      \
    XX(EVICTED, "evicted", "warning", "",                                      \
       N_("The TCP stream table was full and this session was dropped to make " \
       "room."),                                                               \
       N_("Raise --max-streams, or narrow the filter."))                       \
    XX(PORT_REUSED, "port_reused", "info", "",                                 \
       N_("A new connection reused this session's addresses and ports before " \
       "its close was seen, so it was ended there."),                          \
       N_("Capture loss of the close, or a client reusing ports quickly."))    \
    XX(RST_PAYLOAD_LOST, "rst_payload_lost", "info", "",                       \
       N_("A TCP RST carried data (perhaps a last reply); TCP reassembly drops " \
       "such data, so it is not in the transcript."),                          \
       N_("Look at the RST packet in the raw capture."))                       \
    XX(CAPTURE_STOPPED, "capture_stopped", "info", "",                         \
       N_("The capture was stopped (signal or limit) while the session was "   \
       "open."),                                                               \
       N_("Nothing; the session was reported as far as it went."))             \
    XX(PLAINTEXT_ON_TLS_PORT, "plaintext_on_tls_port", "warning", "220",       \
       N_("Plaintext SMTP was spoken on an implicit-TLS port (the first bytes " \
       "were not a TLS record), so mail and any credentials crossed the "      \
       "network in clear; the session is read as plain SMTP."),                \
       N_("Check the server's port configuration (465 expects TLS first) and " \
       "the client's TLS settings."))                                          \
    XX(CLEARTEXT_AFTER_STARTTLS, "cleartext_after_starttls", "warning", "220", \
       N_("STARTTLS was accepted (220) but the session went on in plaintext: " \
       "the capture was decrypted by a TLS-inspecting proxy, or the client "   \
       "ignored the 220. It is read as SMTP."),                                \
       N_("If no proxy decrypted this capture, check the client: mail and "    \
       "credentials it sends after the 220 cross the network in clear."))      \
    XX(OFFLOAD_SEGMENTS, "offload_segments", "info", "",                       \
       N_("The capture holds segments larger than the link allows, with an IP " \
       "length of 0 or past 65535: it was taken on a host that hands whole "   \
       "segments to the NIC (TSO/GSO, BIG TCP). They were read by their "      \
       "captured length."),                                                    \
       N_("Nothing to fix; to capture what the wire carried, turn offloads off " \
       "on the capturing interface (ethtool -K IF tso off gso off gro off).")) \
    XX(ONE_SIDED, "one_sided", "info", "",                                     \
       N_("Only one direction of the connection is in the capture; the other " \
       "side's bytes (acknowledged, so really sent) are missing "              \
       "(missing_side names it). Nothing is concluded from their absence."),   \
       N_("Capture both directions (both halves of a tap, or the port that sees " \
       "both ways)."))

enum verdict_label {
#define XX(id, name, sev, codes, expl, check) VERDICT_##id,
    VERDICT_LABEL_MAP(XX)
#undef XX
    VERDICT_LABEL_COUNT
};

enum verdict_flag {
#define XX(id, name, sev, codes, expl, check) VERDICT_FLAG_##id,
    VERDICT_FLAG_MAP(XX)
#undef XX
    VERDICT_FLAG_COUNT
};

#define VERDICT_FLAG_BIT(f) ((uint64_t)1 << (f))

struct verdict_info {
    const char *name;
    const char *severity;
    const char *codes;
    const char *explanation;
    const char *check;
};

/* Tables indexed by label or flag; never NULL for a valid index. */
const struct verdict_info *verdict_label_info(enum verdict_label label);
const struct verdict_info *verdict_flag_info(enum verdict_flag flag);

/* The facts a session gathers, from which exactly one label follows. */
struct verdict_facts {
    bool saw_fin;
    bool saw_rst;
    bool is_tls;
    bool saw_421;
    bool saw_221_not_quit_in_txn;
    bool saw_221_not_quit_no_txn;
    bool quit_answered_221;
    bool client_data_after_221;
    bool saw_quit;
    uint32_t n_mail_tried;
    uint32_t n_messages_accepted;
    bool one_sided; /* one direction is missing from the capture */
};

/* Applies the rules of docs/verdicts.md in order; the first match wins. */
enum verdict_label verdict_classify(const struct verdict_facts *f);

/*
 * Severity, from the table's severity column: ok (nothing wrong), info (a
 * fact about the capture, not about the session: TLS, a capture that
 * ended or saw one side), warning, error.  The one definition of
 * "abnormal" (docs/verdicts.md): a session whose close label or any of
 * whose flags has severity warning or error.  Text, HTML and JSON all
 * take it from here (through record_is_abnormal()).
 */
enum verdict_severity {
    VERDICT_SEVERITY_OK = 0,
    VERDICT_SEVERITY_INFO,
    VERDICT_SEVERITY_WARNING,
    VERDICT_SEVERITY_ERROR
};

enum verdict_severity verdict_label_severity(unsigned label);
enum verdict_severity verdict_flag_severity(unsigned flag);

/* Whether a label alone makes a session abnormal (severity warning or
 * error). */
bool verdict_label_is_abnormal(unsigned label);

/* Whether a session with this label and these flags is abnormal. */
bool verdict_is_abnormal(unsigned label, uint64_t flags);

/*
 * The one reason to give for an abnormal session: the most severe of its
 * label and flags (the label on a tie, then the first flag in table
 * order).  NULL when the session is not abnormal.
 */
const struct verdict_info *verdict_reason(unsigned label, uint64_t flags);

#endif
