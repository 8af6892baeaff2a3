/*
 * knowledge.h - what each SMTP reply code means, in words a reader follows.
 *
 * Role: the reference data behind `smtpscope explain` and the HTML report.
 * One X-macro table holds every basic reply code of RFC 5321 and of the
 * extensions that add codes (RFC 3207 STARTTLS, RFC 4954 AUTH, RFC 7504
 * 521/556), each with its class, name, meaning, when it is seen and what to
 * check.  A second table holds the RFC 3463 enhanced status codes (class,
 * subject and every registered detail, RFC 2034 says how they ride in a
 * reply).  The wording is ours; the facts are the RFCs'.  Nothing here
 * reads wire bytes: callers pass numbers, never wire text.
 *
 * The tables hold English, marked N_() for the catalogues; whoever shows a
 * text to a reader passes it through _() (i18n.h).  The class and advice
 * getters and the explain functions below return or print translated text.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef KNOWLEDGE_H
#define KNOWLEDGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "i18n.h"
#include "span.h"

/*
 * XX(code, name, meaning, when you see it, what to check, defined in,
 *    enhanced codes usually carried with it).
 */
#define KNOWLEDGE_CODE_MAP(XX)                                                 \
    XX(211, N_("System status, or system help reply"),                         \
       N_("An informational reply to a status or help request; the text is "   \
       "meant for a person, not a program."),                                  \
       N_("Rarely, as an answer to HELP with an argument or to a site-specific " \
       "status command. Not part of mail delivery."),                          \
       N_("Nothing to fix. If a client depends on it, check that it asks for " \
       "status in a way the server supports."),                                \
       "RFC 5321 4.2.2, 4.2.3", "2.0.0")                                       \
    XX(214, N_("Help message"),                                                \
       N_("The server answers HELP with text describing how to use it; the "   \
       "content is free text meant for a human reader."),                      \
       N_("In answer to HELP, usually from someone testing by hand (telnet, "  \
       "swaks) rather than from a mail program."),                             \
       N_("Nothing to fix. Many HELP commands from unknown clients can be a "  \
       "sign of probing."),                                                    \
       "RFC 5321 4.1.1.8, 4.2.2", "2.0.0")                                     \
    XX(220, N_("Service ready"),                                               \
       N_("The server is ready: as the greeting it invites the client to send " \
       "EHLO; in answer to STARTTLS it means the TLS handshake may start "     \
       "now."),                                                                \
       N_("First, as the greeting right after the TCP connection opens, and "  \
       "again in answer to STARTTLS, after which the conversation is "         \
       "encrypted."),                                                          \
       N_("Nothing to fix. A slow 220 (banner latency) points to DNS lookups, " \
       "anti-spam greeting delays or a loaded server; after a 220 to "         \
       "STARTTLS, anything left in clear text is suspicious."),                \
       "RFC 5321 3.1, 4.2.2, 4.3.2; RFC 3207 4", "2.0.0")                      \
    XX(221, N_("Service closing transmission channel"),                        \
       N_("The server confirms it is ending the session and will close the "   \
       "connection. Its proper place is the answer to QUIT."),                 \
       N_("At the end of a normal session, in answer to QUIT. When it answers " \
       "anything else, or arrives unasked, the server hung up on its own "     \
       "and used the wrong code for it (421 is the one for that)."),           \
       N_("After QUIT and 221 nothing to fix. A 221 that does not answer QUIT " \
       "means the server closed on its own: check its logs, idle timeout "     \
       "and policies, and retry any message that was in progress."),           \
       "RFC 5321 3.8, 4.1.1.10, 4.2.2", "2.0.0")                               \
    XX(235, N_("Authentication successful"),                                   \
       N_("The AUTH exchange succeeded: the client is now logged in with the " \
       "identity it presented."),                                              \
       N_("At the end of an AUTH exchange on a submission port (587 or 465), " \
       "before MAIL."),                                                        \
       N_("Nothing to fix. Check that credentials only travel after STARTTLS " \
       "or on implicit TLS, never in clear text."),                            \
       "RFC 4954 4, 6", "2.7.0")                                               \
    XX(250, N_("Requested mail action okay, completed"),                       \
       N_("The command was accepted and done. After the end of message data it " \
       "means the server has taken responsibility for delivering the "         \
       "message."),                                                            \
       N_("In answer to EHLO/HELO, MAIL, each accepted RCPT, RSET, NOOP, VRFY, " \
       "and after the message data (end of DATA or BDAT LAST)."),              \
       N_("Nothing to fix. The 250 after the message data is the one that "    \
       "counts for delivery: keep its text (it often holds a queue id) to "    \
       "trace the message in the server's logs."),                             \
       "RFC 5321 4.1.1, 4.2.2, 4.3.2", "2.0.0, 2.1.0, 2.1.5, 2.6.0")           \
    XX(251, N_("User not local; will forward"),                                \
       N_("The recipient is accepted, but the server says it is not local and " \
       "it will forward the message to another address given in the text."),   \
       N_("In answer to RCPT TO, from servers that still announce forwarding. " \
       "Uncommon today."),                                                     \
       N_("Nothing to fix; update the address book if the text names a new "   \
       "address."),                                                            \
       "RFC 5321 3.4, 4.2.2", "2.1.5")                                         \
    XX(252, N_("Cannot verify user, but will accept and attempt delivery"),    \
       N_("The server will not confirm whether the mailbox exists (usually to " \
       "avoid address harvesting), but will accept mail for it."),             \
       N_("In answer to VRFY (and sometimes EXPN) on servers that disable "    \
       "address verification."),                                               \
       N_("Nothing to fix. Do not read 252 as proof that an address exists."), \
       "RFC 5321 3.5.3, 4.2.2, 7.3", "2.0.0")                                  \
    XX(334, N_("Server challenge (AUTH continuation)"),                        \
       N_("The server wants the next step of an AUTH exchange; the text after " \
       "334 is a base64 challenge, possibly empty."),                          \
       N_("During AUTH: after AUTH LOGIN (asking for user, then password), "   \
       "after AUTH PLAIN without initial response, or for challenge "          \
       "mechanisms."),                                                         \
       N_("Nothing to fix. The client's next line is a credential: treat the " \
       "capture as sensitive if this happened in clear text."),                \
       "RFC 4954 4", N_("none (3xx replies carry no enhanced code)"))          \
    XX(354, N_("Start mail input"),                                            \
       N_("The server accepted DATA and now waits for the message itself, "    \
       "ended by a line holding a single dot (CRLF.CRLF)."),                   \
       N_("In answer to DATA, once at least one recipient was accepted."),     \
       N_("Nothing to fix. If the client sends message content before the 354 " \
       "arrives it breaks RFC 2920; if 354 is slow, look at the server's "     \
       "pre-data checks."),                                                    \
       "RFC 5321 3.3, 4.1.1.4, 4.2.2", N_("none (3xx replies carry no enhanced " \
       "code)"))                                                               \
    XX(421, N_("Service not available, closing transmission channel"),         \
       N_("A temporary refusal of the whole session: the server is closing the " \
       "connection and the client should try again later."),                   \
       N_("As the greeting (overloaded, too many connections, rate limit), in " \
       "answer to any command, or unasked when the server shuts down or "      \
       "times out an idle client."),                                           \
       N_("Check the server's load, connection and rate limits, and its idle " \
       "timeout against the client's pauses. The client must queue the mail "  \
       "and retry; repeated 421s to one client often mean throttling."),       \
       "RFC 5321 3.8, 4.2.2, 4.2.3, 4.5.3.2", "4.3.2, 4.4.2, 4.7.0")           \
    XX(432, N_("A password transition is needed"),                             \
       N_("The user's credentials are valid but must be changed (for example " \
       "moved to a new scheme) before this mechanism can be used."),           \
       N_("In answer to AUTH, on servers that migrate password storage."),     \
       N_("Log in once by another route that updates the password (often a "   \
       "plain mechanism over TLS, or the provider's web interface)."),         \
       "RFC 4954 6", "4.7.12")                                                 \
    XX(450, N_("Requested mail action not taken: mailbox unavailable"),        \
       N_("A temporary failure for one mailbox or action: it is busy, locked, " \
       "or blocked for now by policy (greylisting is a common case)."),        \
       N_("In answer to RCPT (greylisting, recipient verification that timed " \
       "out), sometimes to MAIL."),                                            \
       N_("Retry later; a well-behaved client does this from its queue. If it " \
       "lasts, check greylisting, DNS of the sender domain and the server's "  \
       "recipient checks."),                                                   \
       "RFC 5321 4.2.2, 4.2.3", "4.2.0, 4.2.1, 4.7.1")                         \
    XX(451, N_("Requested action aborted: local error in processing"),         \
       N_("A temporary failure on the server's side: something went wrong "    \
       "while handling the command (a lookup failed, a filter crashed, a "     \
       "disk hiccup)."),                                                       \
       N_("In answer to MAIL, RCPT or the end of message data, often during "  \
       "DNS trouble, content-filter outages or greylisting."),                 \
       N_("Retry later. If it repeats, read the server's logs at that moment: " \
       "DNS, content filter, milter or database failures."),                   \
       "RFC 5321 4.2.2, 4.2.3", "4.3.0, 4.4.3, 4.7.1")                         \
    XX(452, N_("Requested action not taken: insufficient system storage"),     \
       N_("A temporary resource problem: the server lacks space for the "      \
       "message, or (per RFC 5321) the recipient limit of this transaction "   \
       "was reached."),                                                        \
       N_("In answer to MAIL (SIZE too large for free space), to RCPT (too "   \
       "many recipients: send the rest in a new transaction) or after data."), \
       N_("Retry later, or split recipients across transactions. On the "      \
       "server, check disk space and queue size."),                            \
       "RFC 5321 4.2.2, 4.5.3.1.10", "4.3.1, 4.5.3")                           \
    XX(454, N_("Temporary authentication failure / TLS not available"),        \
       N_("A temporary problem prevented authentication (the back-end "        \
       "directory was unreachable), or STARTTLS cannot start right now."),     \
       N_("In answer to AUTH or to STARTTLS."),                                \
       N_("Retry later. On the server, check the authentication back-end "     \
       "(LDAP, SQL, SASL daemon) or the TLS certificate and key setup."),      \
       "RFC 4954 6; RFC 3207 4", "4.7.0")                                      \
    XX(455, N_("Server unable to accommodate parameters"),                     \
       N_("The server understood the MAIL or RCPT parameters but cannot honour " \
       "them at the moment."),                                                 \
       N_("In answer to MAIL FROM or RCPT TO carrying extension parameters."), \
       N_("Retry later, or send without the optional parameters."),            \
       "RFC 5321 4.2.2, 4.2.3", "4.5.4")                                       \
    XX(500, N_("Syntax error, command unrecognized"),                          \
       N_("The server did not understand the line as a command at all: unknown " \
       "verb, a line that is too long, or garbage."),                          \
       N_("After a typo or an unsupported verb, a line over 512 octets, an AUTH " \
       "line over the limit (5.5.6), or non-SMTP traffic (HTTP, TLS) sent to " \
       "the port."),                                                           \
       N_("Look at the exact command in the transcript. Check the client's "   \
       "line length and encoding; a burst of 500s often means a scanner or a " \
       "protocol mismatch."),                                                  \
       "RFC 5321 4.2.2, 4.2.3, 4.5.3.1; RFC 4954 4", "5.5.1, 5.5.2, 5.5.6")    \
    XX(501, N_("Syntax error in parameters or arguments"),                     \
       N_("The command is known, but its argument is malformed: a bad address, " \
       "a missing domain, a bad BDAT size."),                                  \
       N_("In answer to HELO/EHLO without a name, MAIL/RCPT with a broken "    \
       "address, or an AUTH response that is not valid base64."),              \
       N_("Look at the argument in the transcript; fix the client's address "  \
       "syntax or encoding."),                                                 \
       "RFC 5321 4.2.2, 4.2.3", "5.5.2, 5.5.4, 5.1.3, 5.1.7")                  \
    XX(502, N_("Command not implemented"),                                     \
       N_("The server recognises the command but does not support it (or has " \
       "disabled it, as many do for VRFY, EXPN or TURN)."),                    \
       N_("In answer to optional commands the server turned off, or to "       \
       "extensions it never advertised in EHLO."),                             \
       N_("Use only the extensions listed in the server's EHLO reply; change " \
       "the client's configuration if it insists on the command."),            \
       "RFC 5321 4.2.2, 4.2.4", "5.5.1")                                       \
    XX(503, N_("Bad sequence of commands"),                                    \
       N_("The command is valid but not allowed at this point: RCPT before "   \
       "MAIL, DATA without a recipient, MAIL before EHLO, AUTH twice."),       \
       N_("Often right after an earlier command failed and the client carried " \
       "on as if it had worked (a rejected RCPT then DATA)."),                 \
       N_("Read the replies before the 503: usually an earlier rejection the " \
       "client ignored. Fix the client's state handling."),                    \
       "RFC 5321 4.1.4, 4.2.2, 4.3.2", "5.5.1")                                \
    XX(504, N_("Command parameter not implemented"),                           \
       N_("The command is supported, but the parameter or option given is not " \
       "(for example an AUTH mechanism the server does not offer)."),          \
       N_("In answer to AUTH with an unknown mechanism or to MAIL/RCPT with an " \
       "unsupported parameter."),                                              \
       N_("Pick a parameter or mechanism the server lists in its EHLO reply."), \
       "RFC 5321 4.2.2; RFC 4954 4", "5.5.4")                                  \
    XX(521, N_("Host does not accept mail"),                                   \
       N_("This host never accepts mail: it exists but has no mail service, "  \
       "and says so instead of leaving the port closed."),                     \
       N_("As the greeting of a host that deliberately refuses all SMTP (a "   \
       "dummy MX, a web server)."),                                            \
       N_("Check the MX records of the destination domain: mail is being sent " \
       "to a host that does not take it. Do not retry."),                      \
       "RFC 7504 3", "5.3.2")                                                  \
    XX(530, N_("Authentication required"),                                     \
       N_("The server requires the client to authenticate (or, in RFC 3207 "   \
       "use, to start TLS) before it will accept this command."),              \
       N_("In answer to MAIL on a submission port when the client has not used " \
       "AUTH, or to any command when STARTTLS is mandatory."),                 \
       N_("Configure the client to authenticate (and to use STARTTLS or "      \
       "implicit TLS first)."),                                                \
       "RFC 4954 6; RFC 3207 4", "5.7.0")                                      \
    XX(534, N_("Authentication mechanism is too weak"),                        \
       N_("The server refuses this AUTH mechanism as too weak for the user or " \
       "for the current connection."),                                         \
       N_("In answer to AUTH with a plain-text mechanism on a server that "    \
       "requires a stronger one."),                                            \
       N_("Use a stronger mechanism, or the same one under TLS."),             \
       "RFC 4954 6", "5.7.9")                                                  \
    XX(535, N_("Authentication credentials invalid"),                          \
       N_("The user name or password (or token) was rejected."),               \
       N_("At the end of an AUTH exchange. Many in a row from one client are a " \
       "password-guessing attack."),                                           \
       N_("Check the credentials configured in the client. On the server, "    \
       "watch for brute force from the same address."),                        \
       "RFC 4954 6", "5.7.8")                                                  \
    XX(538, N_("Encryption required for requested authentication mechanism"),  \
       N_("The chosen AUTH mechanism may only be used over an encrypted "      \
       "connection, and this one is not encrypted."),                          \
       N_("In answer to AUTH PLAIN or LOGIN sent in clear text to a server that " \
       "insists on TLS for them."),                                            \
       N_("Make the client run STARTTLS (or connect to 465) before AUTH."),    \
       "RFC 4954 6", "5.7.11")                                                 \
    XX(550, N_("Requested action not taken: mailbox unavailable"),             \
       N_("A permanent refusal: the mailbox does not exist, cannot be reached, " \
       "or the server's policy refuses this mail (relaying, reputation, "      \
       "spam)."),                                                              \
       N_("Most often in answer to RCPT (unknown user 5.1.1, relay denied "    \
       "5.7.1), also to MAIL or after the data (content rejected)."),          \
       N_("Read the enhanced code and text: 5.1.1 means fix the address; 5.7.x " \
       "means policy (SPF, DKIM, DMARC, blocklists, relay rules). Do not "     \
       "retry unchanged."),                                                    \
       "RFC 5321 3.6.2, 4.2.2, 4.2.3", "5.1.1, 5.7.1, 5.2.1")                  \
    XX(551, N_("User not local; please try another path"),                     \
       N_("A permanent refusal for this recipient: the user is not here, and " \
       "the text may name where the mail should go instead."),                 \
       N_("In answer to RCPT, on servers that will not relay but know a "      \
       "forwarding address."),                                                 \
       N_("Send to the address given in the text, or ask the recipient for "   \
       "their current address."),                                              \
       "RFC 5321 3.4, 4.2.2", "5.1.6")                                         \
    XX(552, N_("Requested mail action aborted: exceeded storage allocation"),  \
       N_("A permanent size or quota problem: the message is bigger than the " \
       "server or mailbox allows, or the mailbox is full."),                   \
       N_("After MAIL with SIZE=, after RCPT (mailbox full), or after the data " \
       "when the message turned out too large."),                              \
       N_("Compare the message size with the SIZE limit in the server's EHLO " \
       "reply; make attachments smaller or share them another way."),          \
       "RFC 5321 4.2.2, 4.5.3.1.10; RFC 1870", "5.2.2, 5.3.4, 5.2.3")          \
    XX(553, N_("Requested action not taken: mailbox name not allowed"),        \
       N_("A permanent refusal because the address itself is unacceptable: bad " \
       "syntax, or a sender the server will not let this client use."),        \
       N_("In answer to MAIL or RCPT with a malformed address, or to MAIL with " \
       "a sender the authenticated user does not own."),                       \
       N_("Check the address syntax and whether the client may send as that "  \
       "sender."),                                                             \
       "RFC 5321 4.2.2", "5.1.3, 5.1.7, 5.7.1")                                \
    XX(554, N_("Transaction failed / No SMTP service here"),                   \
       N_("A permanent failure: as the greeting, the server refuses to talk to " \
       "this client at all; after the data, the message was refused (often "   \
       "as spam or by policy)."),                                              \
       N_("As the greeting (client blocklisted, or banned for talking too "    \
       "early), in answer to RCPT when policy refuses, or after the message "  \
       "data."),                                                               \
       N_("As the greeting: check blocklists and the server's connection "     \
       "policy for the client's address. After data: read the text and "       \
       "enhanced code (content, spam, policy). Do not retry unchanged."),      \
       "RFC 5321 3.1, 4.2.2, 4.2.3", "5.7.1, 5.3.0, 5.6.0")                    \
    XX(555, N_("MAIL FROM/RCPT TO parameters not recognized or not implemented"), \
       N_("The server does not know one of the extension parameters given "    \
       "after the address in MAIL or RCPT."),                                  \
       N_("When a client sends SIZE=, BODY=, SMTPUTF8 or DSN parameters the "  \
       "server did not advertise."),                                           \
       N_("Send only parameters for extensions the server lists in its EHLO "  \
       "reply."),                                                              \
       "RFC 5321 4.1.1.11, 4.2.2", "5.5.4")                                    \
    XX(556, N_("Domain does not accept mail"),                                 \
       N_("The recipient's domain accepts no mail at all (for example it "     \
       "publishes a null MX), so the message can never be delivered."),        \
       N_("In answer to RCPT (or in a bounce) from a relay that found the "    \
       "destination domain refuses mail."),                                    \
       N_("Check the recipient's domain name for typos; the domain does not "  \
       "receive email. Do not retry."),                                        \
       "RFC 7504 3; RFC 7505", "5.1.10")

/* One basic reply code. */
struct knowledge_code {
    uint16_t code;
    const char *name;
    const char *meaning;
    const char *when;
    const char *check;
    const char *rfc;
    const char *enhanced; /* comma list of enhanced codes often sent with it */
};

/*
 * XX(subject, detail, name, meaning, defined in).  Detail -1 describes the
 * subject itself.  The table follows the IANA "SMTP Enhanced Status Codes"
 * registry (RFC 3463 with later additions); X.7.28 is left out (it is not
 * defined by an RFC).
 */
#define KNOWLEDGE_ENHANCED_MAP(XX)                                             \
    XX(0, -1, N_("Other or undefined status"),                                 \
       N_("No more specific subject applies."), "RFC 3463 3.1")                \
    XX(0, 0, N_("Other undefined status"),                                     \
       N_("Nothing more specific is known, or the server did not bother to say " \
       "(many servers send 2.0.0, 4.0.0 or 5.0.0 by default)."), "RFC 3463 3.1") \
    XX(1, -1, N_("Addressing status"),                                         \
       N_("Something about an address, the sender's or a recipient's."),       \
       "RFC 3463 3.2")                                                         \
    XX(1, 0, N_("Other address status"),                                       \
       N_("An address problem that none of the other codes describes."),       \
       "RFC 3463 3.2")                                                         \
    XX(1, 1, N_("Bad destination mailbox address"),                            \
       N_("The part before the @ does not exist at the destination: unknown "  \
       "user."), "RFC 3463 3.2")                                               \
    XX(1, 2, N_("Bad destination system address"),                             \
       N_("The destination host or domain (the part after the @) does not "    \
       "exist or cannot take mail."), "RFC 3463 3.2")                          \
    XX(1, 3, N_("Bad destination mailbox address syntax"),                     \
       N_("The recipient address is not well formed."), "RFC 3463 3.2")        \
    XX(1, 4, N_("Destination mailbox address ambiguous"),                      \
       N_("The recipient address matches more than one mailbox."),             \
       "RFC 3463 3.2")                                                         \
    XX(1, 5, N_("Destination address valid"),                                  \
       N_("The recipient address is fine (a success detail, as in 250 2.1.5)."), \
       "RFC 3463 3.2")                                                         \
    XX(1, 6, N_("Destination mailbox has moved, no forwarding address"),       \
       N_("The mailbox used to exist here but has moved and no new address is " \
       "known."), "RFC 3463 3.2")                                              \
    XX(1, 7, N_("Bad sender's mailbox address syntax"),                        \
       N_("The sender address (MAIL FROM) is not well formed."), "RFC 3463 3.2") \
    XX(1, 8, N_("Bad sender's system address"),                                \
       N_("The sender's domain does not exist or cannot receive replies, so the " \
       "server will not accept mail from it."), "RFC 3463 3.2")                \
    XX(1, 9, N_("Message relayed to non-compliant mailer"),                    \
       N_("The message was passed to a system that cannot return delivery "    \
       "status, so no further reports will come."), "RFC 3886")                \
    XX(1, 10, N_("Recipient address has null MX"),                             \
       N_("The recipient's domain publishes a null MX: it receives no mail."), \
       "RFC 7505")                                                             \
    XX(2, -1, N_("Mailbox status"),                                            \
       N_("Something about the recipient's mailbox itself (it exists)."),      \
       "RFC 3463 3.3")                                                         \
    XX(2, 0, N_("Other or undefined mailbox status"),                          \
       N_("The mailbox exists but something is wrong with it that no other "   \
       "code names."), "RFC 3463 3.3")                                         \
    XX(2, 1, N_("Mailbox disabled, not accepting messages"),                   \
       N_("The mailbox exists but is switched off (account suspended or "      \
       "closed)."), "RFC 3463 3.3")                                            \
    XX(2, 2, N_("Mailbox full"),                                               \
       N_("The recipient's quota is used up."), "RFC 3463 3.3")                \
    XX(2, 3, N_("Message length exceeds administrative limit"),                \
       N_("The message is larger than this mailbox allows."), "RFC 3463 3.3")  \
    XX(2, 4, N_("Mailing list expansion problem"),                             \
       N_("The address is a list, and expanding it to its members failed."),   \
       "RFC 3463 3.3")                                                         \
    XX(3, -1, N_("Mail system status"),                                        \
       N_("Something about the receiving mail system as a whole."),            \
       "RFC 3463 3.4")                                                         \
    XX(3, 0, N_("Other or undefined mail system status"),                      \
       N_("The receiving system has a problem that no other code names."),     \
       "RFC 3463 3.4")                                                         \
    XX(3, 1, N_("Mail system full"),                                           \
       N_("The receiving system is out of storage."), "RFC 3463 3.4")          \
    XX(3, 2, N_("System not accepting network messages"),                      \
       N_("The host is not taking mail right now (shutting down, or not a mail " \
       "host at all)."), "RFC 3463 3.4")                                       \
    XX(3, 3, N_("System not capable of selected features"),                    \
       N_("The message needs a feature the receiving system does not support."), \
       "RFC 3463 3.4")                                                         \
    XX(3, 4, N_("Message too big for system"),                                 \
       N_("The message is larger than the whole system accepts (not only this " \
       "mailbox)."), "RFC 3463 3.4")                                           \
    XX(3, 5, N_("System incorrectly configured"),                              \
       N_("The receiving system's own configuration is broken."), "RFC 3463 3.4") \
    XX(3, 6, N_("Requested priority was changed"),                             \
       N_("The message was accepted, but at a different priority than asked "  \
       "for (MT-PRIORITY)."), "RFC 6710")                                      \
    XX(4, -1, N_("Network and routing status"),                                \
       N_("Something about getting the message to the next hop: DNS, "         \
       "connections, routing."), "RFC 3463 3.5")                               \
    XX(4, 0, N_("Other or undefined network or routing status"),               \
       N_("A network or routing problem no other code names."), "RFC 3463 3.5") \
    XX(4, 1, N_("No answer from host"),                                        \
       N_("The next host could not be reached: the connection attempt got no " \
       "answer."), "RFC 3463 3.5")                                             \
    XX(4, 2, N_("Bad connection"),                                             \
       N_("A connection was made but it failed during the exchange."),         \
       "RFC 3463 3.5")                                                         \
    XX(4, 3, N_("Directory server failure"),                                   \
       N_("A lookup service (DNS, LDAP) the server needed did not answer "     \
       "properly."), "RFC 3463 3.5")                                           \
    XX(4, 4, N_("Unable to route"),                                            \
       N_("No route to the destination was found (no usable MX or address)."), \
       "RFC 3463 3.5")                                                         \
    XX(4, 5, N_("Mail system congestion"),                                     \
       N_("The system is overloaded and is deferring mail."), "RFC 3463 3.5")  \
    XX(4, 6, N_("Routing loop detected"),                                      \
       N_("The message went round in circles (too many Received lines)."),     \
       "RFC 3463 3.5")                                                         \
    XX(4, 7, N_("Delivery time expired"),                                      \
       N_("The message sat in a queue longer than allowed and was given up."), \
       "RFC 3463 3.5")                                                         \
    XX(5, -1, N_("Mail delivery protocol status"),                             \
       N_("Something about the SMTP exchange itself: commands, syntax, "       \
       "parameters."), "RFC 3463 3.6")                                         \
    XX(5, 0, N_("Other or undefined protocol status"),                         \
       N_("A protocol problem no other code names."), "RFC 3463 3.6")          \
    XX(5, 1, N_("Invalid command"),                                            \
       N_("The command is unknown, not allowed now, or not supported."),       \
       "RFC 3463 3.6")                                                         \
    XX(5, 2, N_("Syntax error"),                                               \
       N_("The command could not be parsed."), "RFC 3463 3.6")                 \
    XX(5, 3, N_("Too many recipients"),                                        \
       N_("More recipients than the server accepts in one transaction; send the " \
       "rest in another."), "RFC 3463 3.6")                                    \
    XX(5, 4, N_("Invalid command arguments"),                                  \
       N_("The command is fine but an argument or parameter is not valid."),   \
       "RFC 3463 3.6")                                                         \
    XX(5, 5, N_("Wrong protocol version"),                                     \
       N_("The two sides do not speak compatible protocol versions."),         \
       "RFC 3463 3.6")                                                         \
    XX(5, 6, N_("Authentication exchange line is too long"),                   \
       N_("A line of the AUTH exchange was longer than the server accepts."),  \
       "RFC 4954")                                                             \
    XX(6, -1, N_("Message content or media status"),                           \
       N_("Something about the message content: its format or encoding."),     \
       "RFC 3463 3.7")                                                         \
    XX(6, 0, N_("Other or undefined media error"),                             \
       N_("A content problem no other code names (often used for content "     \
       "filters)."), "RFC 3463 3.7")                                           \
    XX(6, 1, N_("Media not supported"),                                        \
       N_("The message uses a media type or encoding the destination cannot "  \
       "handle."), "RFC 3463 3.7")                                             \
    XX(6, 2, N_("Conversion required and prohibited"),                         \
       N_("The content would have to be converted, but the sender forbade "    \
       "conversion."), "RFC 3463 3.7")                                         \
    XX(6, 3, N_("Conversion required but not supported"),                      \
       N_("The content would have to be converted, and this system cannot do " \
       "it."), "RFC 3463 3.7")                                                 \
    XX(6, 4, N_("Conversion with loss performed"),                             \
       N_("The content was converted and something was lost on the way."),     \
       "RFC 3463 3.7")                                                         \
    XX(6, 5, N_("Conversion failed"),                                          \
       N_("An attempt to convert the content did not work."), "RFC 3463 3.7")  \
    XX(6, 6, N_("Message content not available"),                              \
       N_("Content referenced by the message (BURL) could not be fetched."),   \
       "RFC 4468")                                                             \
    XX(6, 7, N_("Non-ASCII addresses not permitted for that sender/recipient"), \
       N_("An internationalised (UTF-8) address was used where it is not "     \
       "allowed."), "RFC 6531")                                                \
    XX(6, 8, N_("UTF-8 string reply is required, but not permitted by the "    \
       "client"),                                                              \
       N_("The server would need to answer in UTF-8, but the client did not ask " \
       "for SMTPUTF8."), "RFC 6531")                                           \
    XX(6, 9, N_("UTF-8 header message cannot be transferred"),                 \
       N_("A message with UTF-8 headers cannot go to one or more recipients "  \
       "whose systems do not support it."), "RFC 6531")                        \
    XX(6, 10, N_("UTF-8 string reply is required (duplicate of X.6.8)"),       \
       N_("Same meaning as X.6.8; the registry keeps it as a deprecated "      \
       "duplicate."), "RFC 6531")                                              \
    XX(7, -1, N_("Security or policy status"),                                 \
       N_("Something about security or policy: authentication, authorisation, " \
       "encryption, anti-spam checks."), "RFC 3463 3.8")                       \
    XX(7, 0, N_("Other or undefined security status"),                         \
       N_("A security or policy problem no other code names; also used for "   \
       "'authentication required' and temporary authentication failures."),    \
       "RFC 3463 3.8")                                                         \
    XX(7, 1, N_("Delivery not authorized, message refused"),                   \
       N_("The sender is not allowed to send this message to this recipient: " \
       "relay denied, blocklist, or a policy rule."), "RFC 3463 3.8")          \
    XX(7, 2, N_("Mailing list expansion prohibited"),                          \
       N_("The sender may not post to this list."), "RFC 3463 3.8")            \
    XX(7, 3, N_("Security conversion required but not possible"),              \
       N_("The message would need a security conversion that cannot be done."), \
       "RFC 3463 3.8")                                                         \
    XX(7, 4, N_("Security features not supported"),                            \
       N_("The message uses security features the destination does not "       \
       "support."), "RFC 3463 3.8")                                            \
    XX(7, 5, N_("Cryptographic failure"),                                      \
       N_("A cryptographic check (signature or decryption) failed."),          \
       "RFC 3463 3.8")                                                         \
    XX(7, 6, N_("Cryptographic algorithm not supported"),                      \
       N_("The message uses an algorithm the destination cannot handle."),     \
       "RFC 3463 3.8")                                                         \
    XX(7, 7, N_("Message integrity failure"),                                  \
       N_("The message was changed on the way or fails its integrity check."), \
       "RFC 3463 3.8")                                                         \
    XX(7, 8, N_("Authentication credentials invalid"),                         \
       N_("User name, password or token were rejected."), "RFC 4954")          \
    XX(7, 9, N_("Authentication mechanism is too weak"),                       \
       N_("The AUTH mechanism is not strong enough for this user or "          \
       "connection."), "RFC 4954")                                             \
    XX(7, 10, N_("Encryption needed"),                                         \
       N_("The server requires an encrypted connection for this."), "RFC 5248") \
    XX(7, 11, N_("Encryption required for requested authentication mechanism"), \
       N_("This AUTH mechanism may only be used over TLS."), "RFC 4954")       \
    XX(7, 12, N_("A password transition is needed"),                           \
       N_("The password must be changed before this mechanism can be used."),  \
       "RFC 4954")                                                             \
    XX(7, 13, N_("User account disabled"),                                     \
       N_("The sending user's account is disabled."), "RFC 5248")              \
    XX(7, 14, N_("Trust relationship required"),                               \
       N_("The two systems need an agreed trust relationship for this."),      \
       "RFC 5248")                                                             \
    XX(7, 15, N_("Priority level is too low"),                                 \
       N_("The requested priority is below what this server accepts now."),    \
       "RFC 6710")                                                             \
    XX(7, 16, N_("Message is too big for the specified priority"),             \
       N_("Messages this large are not accepted at the requested priority."),  \
       "RFC 6710")                                                             \
    XX(7, 17, N_("Mailbox owner has changed"),                                 \
       N_("The mailbox changed hands since the date the sender gave "          \
       "(RRVS)."), "RFC 7293")                                                 \
    XX(7, 18, N_("Domain owner has changed"),                                  \
       N_("The recipient's domain changed hands since the date the sender "    \
       "gave (RRVS)."), "RFC 7293")                                            \
    XX(7, 19, N_("RRVS test cannot be completed"),                             \
       N_("The server cannot check whether the mailbox changed hands."),       \
       "RFC 7293")                                                             \
    XX(7, 20, N_("No passing DKIM signature found"),                           \
       N_("The message had no valid DKIM signature and policy requires one."), \
       "RFC 7372")                                                             \
    XX(7, 21, N_("No acceptable DKIM signature found"),                        \
       N_("DKIM signatures validated, but none was acceptable to the server's " \
       "policy."), "RFC 7372")                                                 \
    XX(7, 22, N_("No valid author-matched DKIM signature found"),              \
       N_("No valid DKIM signature matched the domain in the From header."),   \
       "RFC 7372")                                                             \
    XX(7, 23, N_("SPF validation failed"),                                     \
       N_("The sending host is not allowed to send for the sender's domain "   \
       "(SPF fail)."), "RFC 7372")                                             \
    XX(7, 24, N_("SPF validation error"),                                      \
       N_("The SPF check could not be completed (DNS error, broken record)."), \
       "RFC 7372")                                                             \
    XX(7, 25, N_("Reverse DNS validation failed"),                             \
       N_("The client's IP address has no matching reverse DNS name."),        \
       "RFC 7372")                                                             \
    XX(7, 26, N_("Multiple authentication checks failed"),                     \
       N_("Several sender authentication checks (SPF, DKIM, DMARC...) failed " \
       "together."), "RFC 7372")                                               \
    XX(7, 27, N_("Sender address has null MX"),                                \
       N_("The sender's domain publishes a null MX, so replies could never "   \
       "reach it."), "RFC 7505")                                               \
    XX(7, 29, N_("ARC validation failure"),                                    \
       N_("The message's ARC chain did not validate."), "RFC 8617")            \
    XX(7, 30, N_("REQUIRETLS support required"),                               \
       N_("The message demands TLS on every hop and the next hop does not "    \
       "offer REQUIRETLS."), "RFC 8689")

/* One enhanced-code subject or detail; detail is -1 for a subject row. */
struct knowledge_enhanced {
    int subject;
    int detail;
    const char *name;
    const char *meaning;
    const char *rfc;
};

/* Class of a basic code (its first digit), or NULL if not 2..5. */
const char *knowledge_class_name(unsigned code);
/* What that class tells a client to do next (one sentence), or NULL. */
const char *knowledge_class_advice(unsigned code);
/* Class of an enhanced code (2, 4 or 5), or NULL. */
const char *knowledge_enhanced_class_name(unsigned klass);

/* The entry for a basic code, or NULL when the code is not in the table. */
const struct knowledge_code *knowledge_code_lookup(unsigned code);
/* The subject row (detail -1) or detail row, or NULL when not registered. */
const struct knowledge_enhanced *knowledge_enhanced_lookup(int subject, int detail);

/* Table walks, for tests and listings: index 0 .. n-1. */
size_t knowledge_n_codes(void);
const struct knowledge_code *knowledge_code_at(size_t i);
size_t knowledge_n_enhanced(void);
const struct knowledge_enhanced *knowledge_enhanced_at(size_t i);

/* A note on how two basic codes differ, or NULL when none is written. */
const char *knowledge_pair_note(unsigned a, unsigned b);

/*
 * One item of a verdict code list ("221,250,5xx"): a three-digit code, or
 * a class ("5xx") with code set to the class digit times 100.
 */
struct knowledge_code_ref {
    uint16_t code;
    bool is_class;
};

/*
 * Parses a comma list as verdict_info.codes holds it into at most max
 * items.  Returns the number of items, or -1 when an item is neither a
 * three-digit code nor "Nxx".  An empty list gives 0.
 */
int knowledge_parse_code_list(const char *list, struct knowledge_code_ref *out, size_t max);

/*
 * Parses "5.7.1" (class.subject.detail, 1-3 digits each after the class)
 * into its parts.  Returns false when s is not of that form.
 */
bool knowledge_parse_enhanced(const char *s, unsigned *klass, unsigned *subject,
                              unsigned *detail);

/* The class argument of knowledge_explain_enhanced() for "X.7.1": the
 * subject and detail without a class digit. */
#define KNOWLEDGE_CLASS_ANY 10u

/*
 * Plain-text explanations, appended to out and wrapped at 78 columns.  The
 * code version describes an unknown code by its class where it can; the
 * enhanced version takes KNOWLEDGE_CLASS_ANY as klass for "X.s.d".  Each
 * returns false when the code is not in the table (it still appends what
 * it knows) or out is full.
 */
bool knowledge_explain_code(struct capbuf *out, unsigned code);
bool knowledge_explain_enhanced(struct capbuf *out, unsigned klass, unsigned subject,
                                unsigned detail);

/*
 * Appends text wrapped at width columns, each line starting with indent
 * spaces (the first line too); text is ours, never wire bytes.
 */
bool knowledge_wrap(struct capbuf *out, const char *text, unsigned indent, unsigned width);

#endif
