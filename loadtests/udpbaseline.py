"""The UDP baseline: a bare uvloop DatagramProtocol answering resolutions from the same LMDB folder.

For each datagram it reads the handle at its fixed offset (a plain resolution request: handle length at
bytes 44-47, the handle from byte 48), does one LMDB get on the ``handles`` database by the lower-cased
handle, and sends a pre-encoded answer with the request id patched in: a constant resolution answer of
a typical loaded record (URL, HS_ADMIN and three user-data values, as ``loadtests.data`` writes them)
when the record exists, a constant "handle not found" otherwise. No parsing, checks, cache, rendering or
idnode code on the hot path: event loop + recvfrom + one B-tree read + sendto, the Python-UDP ceiling.

    python -m loadtests.udpbaseline --data DIR --handle 127.0.0.1:PORT
"""

from __future__ import annotations

import argparse
import asyncio
import signal

import lmdb
import uvloop

from protocol import bodies as b
from protocol.envelope import Op
from protocol.message import Message, error_answer, resolution_answer
from protocol.message import encode as encode_message
from protocol.values import HandleValue

from . import data
from .baseline import open_handles

_HS_ADMIN = bytes.fromhex("07f3") + len(f"0.NA/{data.PREFIX}").to_bytes(4, "big") + f"0.NA/{data.PREFIX}".encode() \
    + (300).to_bytes(4, "big")


def canned_answers() -> tuple[bytes, bytes]:
    """(found, not found): encoded once with the codec, request id 0, to be patched per answer."""
    h = data.handle("SN", 1)
    req = Message(Op.RESOLUTION, b.ResolutionRequest(h), major=2, minor=10)
    vals = [HandleValue(v["index"], v["type"], v["data"]["value"].encode(), permissions=0x0E) for v in data.values(1)]
    vals.insert(1, HandleValue(100, "HS_ADMIN", _HS_ADMIN, permissions=0x0E))
    found = encode_message(resolution_answer(req, h, vals, site_serial=1))
    missing = encode_message(error_answer(req, 100, f"handle {h} not found", site_serial=1))
    return found, missing


class Responder(asyncio.DatagramProtocol):
    def __init__(self, env: lmdb.Environment, db: object):
        self.env, self.db = env, db
        found, missing = canned_answers()
        self.found_head, self.found_tail = found[:8], found[12:]
        self.missing_head, self.missing_tail = missing[:8], missing[12:]
        self.sendto = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.sendto = transport.sendto  # type: ignore[attr-defined]

    def datagram_received(self, dgram: bytes, addr: tuple) -> None:
        if len(dgram) < 48:
            return
        n = int.from_bytes(dgram[44:48], "big")
        try:
            txn = self.env.begin(db=self.db)
        except lmdb.MapResizedError:
            self.env.set_mapsize(0)
            txn = self.env.begin(db=self.db)
        try:
            raw = txn.get(dgram[48:48 + n].lower())
        finally:
            txn.abort()
        if raw is None:
            self.sendto(self.missing_head + dgram[8:12] + self.missing_tail, addr)
        else:
            self.sendto(self.found_head + dgram[8:12] + self.found_tail, addr)

    def error_received(self, exc: Exception) -> None:
        pass


async def serve(path: str, host: str, port: int) -> None:
    env, db = open_handles(path)
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(lambda: Responder(env, db), local_addr=(host, port))
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        transport.close()
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
