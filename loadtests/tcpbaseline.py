"""The TCP baseline: a bare uvloop Protocol answering resolutions from the same LMDB folder.

The TCP twin of ``loadtests.udpbaseline``: it cuts the stream into messages by the envelope's length,
and for each does one LMDB get by the lower-cased handle and writes the canned answer (found or not
found) with the request id patched in. No checks, cache or idnode code on the hot path.

    python -m loadtests.tcpbaseline --data DIR --handle 127.0.0.1:PORT
"""

from __future__ import annotations

import argparse
import asyncio
import signal

import lmdb
import uvloop

from .baseline import open_handles
from .udpbaseline import canned_answers


class Responder(asyncio.Protocol):
    def __init__(self, env: lmdb.Environment, db: object):
        self.env, self.db = env, db
        found, missing = canned_answers()
        self.found_head, self.found_tail = found[:8], found[12:]
        self.missing_head, self.missing_tail = missing[:8], missing[12:]
        self.buf = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        buf = self.buf + data if self.buf else data
        out = []
        pos = 0
        while len(buf) - pos >= 20:
            end = pos + 20 + int.from_bytes(buf[pos + 16:pos + 20], "big")
            if end > len(buf):
                break
            n = int.from_bytes(buf[pos + 44:pos + 48], "big")
            txn = self.env.begin(db=self.db)
            try:
                raw = txn.get(buf[pos + 48:pos + 48 + n].lower())
            finally:
                txn.abort()
            rid = buf[pos + 8:pos + 12]
            out.append(self.missing_head + rid + self.missing_tail if raw is None else
                       self.found_head + rid + self.found_tail)
            pos = end
        self.buf = buf[pos:]
        if out:
            self.transport.write(b"".join(out))


async def serve(path: str, host: str, port: int) -> None:
    env, db = open_handles(path)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: Responder(env, db), host, port)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        server.close()
        env.close()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True)
    p.add_argument("--handle", default="127.0.0.1:2641")
    a = p.parse_args()
    host, _, port = a.handle.rpartition(":")
    uvloop.run(serve(a.data, host or "127.0.0.1", int(port)))


if __name__ == "__main__":
    main()
