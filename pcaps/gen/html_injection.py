#!/usr/bin/python3
"""Server and client for pcaps/real-html-injection.pcap (HTML report tests).

The server is stock aiosmtpd (python3-aiosmtpd) whose hostname, which
aiosmtpd puts in its 220 greeting and EHLO reply, carries HTML; its
handler refuses one recipient with a reply text that carries HTML too.
The client is Python's smtplib: its EHLO name, a quoted recipient local
part and the message Subject carry the same payloads.  Session 1 sends a
message and hangs up without QUIT (so the report lists it with its
transcript); session 2 is a normal delivery ending with QUIT.

usage: html_injection.py server PORT [--ready-file FILE]
       html_injection.py client PORT
"""
import asyncio
import smtplib
import sys
from email import policy
from email.message import EmailMessage

import aiosmtpd
from aiosmtpd.smtp import SMTP

SCRIPT = "<script>alert(1)</script>"
ATTR = '"><img src=x onerror=alert(1)>'
HOSTNAME = "mx.smtpscope.test " + SCRIPT + " " + ATTR


class Handler:
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith('"'):
            return "550 5.1.1 unknown user " + SCRIPT + " " + ATTR
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 Ok"

    async def handle_DATA(self, server, session, envelope):
        return "250 2.0.0 Ok: queued as " + ATTR


async def serve(port, ready_file):
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(Handler(), hostname=HOSTNAME),
                                      host="127.0.0.1", port=port, reuse_address=True)
    if ready_file:
        with open(ready_file, "w") as f:
            f.write("aiosmtpd %s\n" % aiosmtpd.__version__)
    async with server:
        await server.serve_forever()


def message():
    m = EmailMessage()
    m["From"] = "sender@smtpscope.test"
    m["To"] = "rcpt@smtpscope.test"
    m["Subject"] = SCRIPT + " " + ATTR
    m.set_content("HTML injection test body: " + SCRIPT + "\n")
    return m.as_bytes(policy=policy.SMTP)  # CRLF line ends, as on the wire


def client(port):
    # Session 1: HTML in EHLO name and RCPT; hang up without QUIT.
    s = smtplib.SMTP("127.0.0.1", port, local_hostname="client.smtpscope.test" + ATTR)
    s.ehlo()
    s.mail("sender@smtpscope.test")
    s.docmd("RCPT", 'TO:<"' + SCRIPT + '"@smtpscope.test>')
    s.rcpt("rcpt@smtpscope.test")
    s.data(message())
    s.close()
    # Session 2: a normal delivery with the same Subject, ended by QUIT.
    s = smtplib.SMTP("127.0.0.1", port, local_hostname="client.smtpscope.test")
    s.sendmail("sender@smtpscope.test", ["rcpt@smtpscope.test"], message())
    s.quit()


if __name__ == "__main__":
    args = sys.argv[1:]
    ready = None
    if "--ready-file" in args:
        i = args.index("--ready-file")
        ready = args[i + 1]
        del args[i:i + 2]
    if len(args) != 2 or args[0] not in ("server", "client"):
        raise SystemExit(__doc__)
    if args[0] == "server":
        try:
            asyncio.run(serve(int(args[1]), ready))
        except KeyboardInterrupt:
            pass
    else:
        client(int(args[1]))
