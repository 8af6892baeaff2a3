#!/usr/bin/python3
"""A real aiosmtpd server whose greeting waits DELAY_MS, for the live test.

usage: delayed_server.py PORT DELAY_MS READY_FILE
Stock aiosmtpd SMTP protocol; only the start of the client handler waits.
"""
import asyncio
import sys

from aiosmtpd.smtp import SMTP


class Sink:
    async def handle_DATA(self, server, session, envelope):
        return "250 2.0.0 Ok: accepted"


def main():
    port, delay_ms, ready = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]

    class Delayed(SMTP):
        async def _handle_client(self):
            await asyncio.sleep(delay_ms / 1000)
            await super()._handle_client()

    async def serve():
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: Delayed(Sink(), hostname="mx.live.test"),
                                          host="127.0.0.1", port=port, reuse_address=True)
        with open(ready, "w") as f:
            f.write("ready\n")
        async with server:
            await server.serve_forever()

    asyncio.run(serve())


if __name__ == "__main__":
    main()
