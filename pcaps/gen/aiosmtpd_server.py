#!/usr/bin/python3
"""Small aiosmtpd-based SMTP servers used to make smtpscope's test captures.

Run with Debian's /usr/bin/python3 (python3-aiosmtpd).  Every mode is the
stock aiosmtpd.smtp.SMTP protocol class; some modes override one command
handler to produce server-side behaviour that no stock server produces
(documented in pcaps/README.md).

usage: aiosmtpd_server.py MODE PORT [--ready-file FILE] [--host ADDR]

--host: listen address (default 127.0.0.1; "::1" for the IPv6 captures)

MODE:
  plain          stock aiosmtpd server (accepts and discards mail)
  auth           stock server + AUTH PLAIN/LOGIN, user alice (no TLS needed)
  idle-timeout   stock server with timeout=2 s (aiosmtpd closes silently)
  rcpt-221       RCPT answered "221 ..." and the connection is closed
  noop-221       NOOP answered "221 ..." and the connection is closed
  banner-delay   greeting delayed by 250 ms, RCPT replies delayed by 150 ms
"""
import asyncio
import sys

import aiosmtpd
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

HOSTNAME = "mx.smtpscope.test"
AUTH_USER = b"alice"
AUTH_PASS = b"Sup3r-S3cret-Pa55"

BANNER_DELAY_S = 0.250
RCPT_DELAY_S = 0.150


class Sink:
    """Handler: accept every message and throw it away."""

    async def handle_DATA(self, server, session, envelope):
        return "250 2.0.0 Ok: message accepted"


class SlowRcptSink(Sink):
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        await asyncio.sleep(RCPT_DELAY_S)
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 Ok"


def authenticator(server, session, envelope, mechanism, auth_data):
    if (isinstance(auth_data, LoginPassword)
            and auth_data.login == AUTH_USER
            and auth_data.password == AUTH_PASS):
        return AuthResult(success=True)
    return AuthResult(success=False, handled=False)


class Rcpt221SMTP(SMTP):
    """Misbehaving server: answers RCPT with 221 and hangs up (mid-transaction)."""

    async def smtp_RCPT(self, arg):
        await self.push("221 2.0.0 %s closing connection" % HOSTNAME)
        self._handler_coroutine.cancel()
        self.transport.close()


class Noop221SMTP(SMTP):
    """Misbehaving server: answers NOOP with 221 and hangs up (no transaction)."""

    async def smtp_NOOP(self, arg):
        await self.push("221 2.0.0 %s closing connection" % HOSTNAME)
        self._handler_coroutine.cancel()
        self.transport.close()


class BannerDelaySMTP(SMTP):
    """Server that waits BANNER_DELAY_S before sending its 220 greeting."""

    async def _handle_client(self):
        await asyncio.sleep(BANNER_DELAY_S)
        await super()._handle_client()


def factory(mode):
    common = dict(hostname=HOSTNAME)
    if mode == "plain":
        return lambda: SMTP(Sink(), **common)
    if mode == "auth":
        return lambda: SMTP(Sink(), authenticator=authenticator,
                            auth_require_tls=False, **common)
    if mode == "idle-timeout":
        return lambda: SMTP(Sink(), timeout=2, **common)
    if mode == "rcpt-221":
        return lambda: Rcpt221SMTP(Sink(), **common)
    if mode == "noop-221":
        return lambda: Noop221SMTP(Sink(), **common)
    if mode == "banner-delay":
        return lambda: BannerDelaySMTP(SlowRcptSink(), **common)
    raise SystemExit("unknown mode %r" % mode)


async def main(mode, port, ready_file, host="127.0.0.1"):
    loop = asyncio.get_running_loop()
    make = factory(mode)
    # Bind directly (no aiosmtpd Controller: its start() makes a self-test
    # connection, which we do not want anywhere near a capture).
    server = await loop.create_server(make, host=host, port=port,
                                      reuse_address=True)
    if ready_file:
        with open(ready_file, "w") as f:
            f.write("aiosmtpd %s\n" % aiosmtpd.__version__)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    args = sys.argv[1:]
    ready = None
    host = "127.0.0.1"
    if "--host" in args:
        i = args.index("--host")
        host = args[i + 1]
        del args[i:i + 2]
    if "--ready-file" in args:
        i = args.index("--ready-file")
        ready = args[i + 1]
        del args[i:i + 2]
    if len(args) != 2:
        raise SystemExit(__doc__)
    try:
        asyncio.run(main(args[0], int(args[1]), ready, host))
    except KeyboardInterrupt:
        pass
