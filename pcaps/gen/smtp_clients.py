#!/usr/bin/python3
"""Small SMTP clients (raw sockets / smtplib) for smtpscope's test captures.

They are used only where a scenario needs client behaviour that swaks or
smtp-source do not produce.  They always talk to a real server on loopback.

usage: smtp_clients.py SCENARIO HOST PORT
"""
import smtplib
import socket
import struct
import sys
import time

HELO = "client.smtpscope.test"
SENDER = "sender@smtpscope.test"
RCPT = "rcpt@smtpscope.test"


def log(*a):
    print(*a, file=sys.stderr, flush=True)


class Raw:
    """Line-oriented raw socket client that prints the dialogue to stderr."""

    def __init__(self, host, port, read_greeting=True):
        self.s = socket.create_connection((host, port), timeout=30)
        self.buf = b""
        if read_greeting:
            self.reply()

    def send(self, data):
        if isinstance(data, str):
            data = data.encode("ascii")
        log("C: %r" % data)
        self.s.sendall(data)

    def line(self):
        while b"\n" not in self.buf:
            chunk = self.s.recv(65536)
            if not chunk:
                raise EOFError("server closed")
            self.buf += chunk
        ln, self.buf = self.buf.split(b"\n", 1)
        return ln + b"\n"

    def reply(self):
        """Read one (possibly multi-line) reply; return its code."""
        while True:
            ln = self.line()
            log("S: %r" % ln)
            if len(ln) < 4 or ln[3:4] != b"-":
                return int(ln[:3])

    def cmd(self, text, eol="\r\n"):
        self.send(text + eol)
        return self.reply()

    def drain_until_eof(self):
        try:
            while True:
                chunk = self.s.recv(65536)
                if not chunk:
                    return
                log("S: %r" % chunk)
        except (ConnectionResetError, socket.timeout):
            return

    def close(self):
        self.s.close()


def envelope(c, rcpt=RCPT):
    c.cmd("EHLO " + HELO)
    c.cmd("MAIL FROM:<%s>" % SENDER)
    c.cmd("RCPT TO:<%s>" % rcpt)


MESSAGE = (
    "From: Sender <%s>\r\n"
    "To: Recipient <%s>\r\n"
    "Subject: smtpscope test message\r\n"
    "Message-ID: <test-1@client.smtpscope.test>\r\n"
    "\r\n"
    "This is a test message for smtpscope.\r\n" % (SENDER, RCPT))


# ---------------------------------------------------------------- scenarios

def sc_idle_wait(host, port):
    """EHLO, then stay silent until the server gives up (idle timeout)."""
    c = Raw(host, port)
    c.cmd("EHLO " + HELO)
    c.s.settimeout(30)
    # the server should send 421 (postfix) or just close (aiosmtpd)
    c.drain_until_eof()
    c.close()


def sc_rcpt_221(host, port):
    """smtplib: EHLO, MAIL, RCPT (server answers 221 and hangs up), close."""
    s = smtplib.SMTP(host, port, local_hostname=HELO)
    s.set_debuglevel(1)
    s.ehlo()
    s.mail(SENDER)
    code, msg = s.rcpt(RCPT)
    log("RCPT reply", code, msg)
    s.close()


def sc_noop_221(host, port):
    """smtplib: EHLO, NOOP (server answers 221 and hangs up), close."""
    s = smtplib.SMTP(host, port, local_hostname=HELO)
    s.set_debuglevel(1)
    s.ehlo()
    code, msg = s.noop()
    log("NOOP reply", code, msg)
    s.close()


def sc_data_after_221(host, port):
    """EHLO, QUIT, read 221, then still send NOOP and close."""
    c = Raw(host, port)
    c.cmd("EHLO " + HELO)
    c.cmd("QUIT")
    c.send("NOOP\r\n")
    time.sleep(0.2)
    c.close()


def sc_rst_mid_data(host, port):
    """Full envelope, DATA, part of the body, then abortive close (RST)."""
    c = Raw(host, port)
    envelope(c)
    c.cmd("DATA")
    half = MESSAGE[: len(MESSAGE) // 2]
    c.send(half)
    time.sleep(0.3)
    c.s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    c.close()


def sc_truncated(host, port):
    """EHLO, MAIL, then sleep 6 s (the capture is stopped meanwhile), QUIT."""
    c = Raw(host, port)
    c.cmd("EHLO " + HELO)
    c.cmd("MAIL FROM:<%s>" % SENDER)
    time.sleep(6)
    c.cmd("RSET")
    c.cmd("QUIT")
    c.close()


def sc_bdat(host, port):
    """Two messages with BDAT: one chunk per round trip, then pipelined."""
    s = smtplib.SMTP(host, port, local_hostname=HELO)
    s.set_debuglevel(1)
    s.ehlo()
    assert s.has_extn("chunking"), "server does not advertise CHUNKING"
    body = MESSAGE.encode("ascii")
    part1, part2 = body[:90], body[90:]

    # message 1: BDAT n / BDAT m LAST, waiting for each reply
    s.mail(SENDER)
    s.rcpt(RCPT)
    s.send(b"BDAT %d\r\n" % len(part1) + part1)
    log("BDAT 1 reply", s.getreply())
    s.send(b"BDAT %d LAST\r\n" % len(part2) + part2)
    log("BDAT 2 reply", s.getreply())

    # message 2: MAIL, RCPT and both BDAT chunks pipelined in one write
    body2 = body.replace(b"test-1@", b"test-2@")
    p1, p2 = body2[:120], body2[120:]
    s.send(b"MAIL FROM:<%s>\r\nRCPT TO:<%s>\r\n" % (SENDER.encode(), RCPT.encode())
           + b"BDAT %d\r\n" % len(p1) + p1
           + b"BDAT %d LAST\r\n" % len(p2) + p2)
    for what in ("MAIL", "RCPT", "BDAT", "BDAT LAST"):
        log(what, "reply", s.getreply())
    s.quit()


def sc_rejected_data(host, port):
    """DATA rejected; client carries on with RSET, a 2nd try, NOOP, QUIT."""
    c = Raw(host, port)
    envelope(c)
    code = c.cmd("DATA")
    if code == 354:  # should not happen: finish the message properly
        c.cmd(MESSAGE + ".")
    c.cmd("RSET")
    c.cmd("MAIL FROM:<%s>" % SENDER)
    c.cmd("RCPT TO:<%s>" % RCPT)
    c.cmd("DATA")
    c.cmd("NOOP")
    c.cmd("QUIT")
    c.drain_until_eof()
    c.close()


def sc_bare_lf(host, port):
    """Commands terminated by a bare LF instead of CRLF."""
    c = Raw(host, port)
    code = c.cmd("EHLO " + HELO, eol="\n")
    if code >= 500:          # server refuses bare LF and hangs up
        c.drain_until_eof()
        c.close()
        return
    c.cmd("NOOP", eol="\n")
    c.cmd("QUIT", eol="\n")
    c.drain_until_eof()
    c.close()


def sc_long_line(host, port):
    """A ~700-octet command line (NOOP with a long argument)."""
    c = Raw(host, port)
    c.cmd("EHLO " + HELO)
    arg = "long-argument-" + "x" * 680
    line = "NOOP " + arg
    log("line length with CRLF:", len(line) + 2)
    c.cmd(line)
    c.cmd("QUIT")
    c.drain_until_eof()
    c.close()


def sc_talks_first(host, port):
    """Send EHLO immediately after connect, before the greeting arrives."""
    c = Raw(host, port, read_greeting=False)
    c.send("EHLO " + HELO + "\r\n")
    c.reply()          # the (late) greeting
    c.reply()          # the EHLO reply
    c.cmd("QUIT")
    c.drain_until_eof()
    c.close()


SCENARIOS = {
    "idle-wait": sc_idle_wait,
    "rcpt-221": sc_rcpt_221,
    "noop-221": sc_noop_221,
    "data-after-221": sc_data_after_221,
    "rst-mid-data": sc_rst_mid_data,
    "truncated": sc_truncated,
    "bdat": sc_bdat,
    "rejected-data": sc_rejected_data,
    "bare-lf": sc_bare_lf,
    "long-line": sc_long_line,
    "talks-first": sc_talks_first,
}


# ------------------------------------------- scenarios for make-wild.sh

def wild_body(size, what="wild"):
    """A deterministic plain-text body of about SIZE octets (CRLF lines)."""
    lines = []
    n = 0
    i = 0
    while n < size:
        ln = ("Line %05d of the smtpscope %s test body: the quick brown fox "
              "jumps over the lazy dog.\r\n" % (i, what))
        lines.append(ln)
        n += len(ln)
        i += 1
    return "".join(lines)


def wild_message(size, msgid, what="wild"):
    return ("From: Sender <%s>\r\n"
            "To: Recipient <%s>\r\n"
            "Subject: smtpscope %s test message (%d octets of body)\r\n"
            "Message-ID: <%s@client.smtpscope.test>\r\n"
            "\r\n" % (SENDER, RCPT, what, size, msgid)) + wild_body(size, what)


def big_message(size, what):
    """smtplib: EHLO, MAIL, RCPT, DATA, then the whole message in ONE
    sendall() (smtplib's data() does that), so the kernel can build TSO/GSO
    segments as large as its congestion window and peer window allow; QUIT."""
    def run(host, port):
        s = smtplib.SMTP(host, port, local_hostname=HELO)
        s.set_debuglevel(0)
        msg = wild_message(size, "smtpscope-wild-%s" % what, what)
        log("message size", len(msg))
        s.sendmail(SENDER, [RCPT], msg)
        log("QUIT reply", s.quit())
    run.__doc__ = "smtplib, one %d-octet-body message sent with one write" % size
    return run


def sc_pipelined_content(host, port):
    """Non-conforming client: after the EHLO reply, MAIL, RCPT, DATA, the
    message and the final "." in ONE send(), before reading any reply (RFC
    2920 3.1 says a client must wait for the 354); then it reads the four
    replies, sends QUIT and reads the 221."""
    c = Raw(host, port)
    c.cmd("EHLO " + HELO)
    msg = MESSAGE.replace("test-1@", "pipelined-content@")
    c.send("MAIL FROM:<%s>\r\nRCPT TO:<%s>\r\nDATA\r\n%s.\r\n"
           % (SENDER, RCPT, msg))
    for what in ("MAIL", "RCPT", "DATA", "end of data"):
        log(what, "reply", c.reply())
    c.cmd("QUIT")
    c.drain_until_eof()
    c.close()


SCENARIOS.update({
    "msg-90k": big_message(90000, "tso"),
    "msg-200k": big_message(200000, "bigtcp"),
    "pipelined-content": sc_pipelined_content,
})

if __name__ == "__main__":
    if len(sys.argv) != 4 or sys.argv[1] not in SCENARIOS:
        raise SystemExit(__doc__ + "\nscenarios: " + " ".join(SCENARIOS))
    SCENARIOS[sys.argv[1]](sys.argv[2], int(sys.argv[3]))
