"""A Handle client that uses sessions as Handle.Net's HandleResolver does, for the session tests:
Diffie-Hellman set-up in the group a 9.3.1 client sent (tests/data/handle-sessions), the session key
derived as Java derives it, requests MACed with a session counter, encrypted on request."""

from __future__ import annotations

import hmac
import json
import os
import socket
import struct
import warnings
from dataclasses import replace
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import dh
from cryptography.utils import CryptographyDeprecationWarning

from protocol import bodies as b
from protocol import sessions as ps
from protocol.credential import MAC, Credential, signed_data
from protocol.envelope import CT, ENV_ENCRYPTED, RD, Op
from protocol.framing import TcpFramer
from protocol.message import Message, decode_message, encode
from protocol.pubkey import DH, PublicKey
from protocol.wire import Reader, Writer
from resolver.handle.sessions import decrypt, encrypt

VECTORS = json.loads((Path(__file__).parent / "data" / "handle-sessions" / "reference-exchanges.json").read_text())[
    "vectors"]
_ENV = struct.Struct(">BBBBIIII")


def reference_setup_request() -> bytes:
    """The DH session set-up a stock 9.3.1 tool sent (over TCP) to the reference server."""
    return bytes.fromhex(VECTORS[1]["exchanges"][0]["request_hex"])


def reference_group() -> tuple[int, int]:
    """(p, g) of the Diffie-Hellman group in that request (Java's 1024-bit default)."""
    msg = decode_message(reference_setup_request())
    req = ps.SessionSetupRequest.read(Reader(msg.body.data))
    _, p, g = PublicKey.from_wire(req.public_key).numbers()
    return p, g


def _int_bytes(n: int) -> bytes:
    return n.to_bytes(n.bit_length() // 8 + 1, "big")


class SessionClient:
    def __init__(self, host: str, port: int, *, source: str = "127.0.0.1", version: tuple[int, int] = (2, 10)):
        self.host, self.port, self.source, self.version = host, port, source, version
        self.session_id = 0
        self.key: bytes | None = None
        self.counter = 0

    def message(self, opcode: int, body, opflags: int = 0) -> Message:
        return Message(opcode, body, opflags=opflags, major=self.version[0], minor=self.version[1],
                       session_id=self.session_id, request_id=int.from_bytes(os.urandom(4), "big") & 0x7FFFFFFF)

    # -- transport ---------------------------------------------------------------------------------
    def send(self, data: bytes) -> Message:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.settimeout(10)
            s.bind((self.source, 0))
            s.connect((self.host, self.port))
            s.sendall(data)
            framer = TcpFramer()
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    raise ConnectionError("closed without an answer")
                for frame in framer.feed(chunk):
                    return self.open(frame)

    def open(self, frame: bytes) -> Message:
        if frame[2] & ENV_ENCRYPTED:
            plain = decrypt(self.key, frame[20:])
            major, minor, b2, b3, sid, rid, seq, _ = _ENV.unpack_from(frame)
            frame = _ENV.pack(major, minor, b2 & ~ENV_ENCRYPTED, b3, sid, rid, seq, len(plain)) + plain
        return decode_message(frame)

    # -- sessions ------------------------------------------------------------------------------
    def setup_request(self, identity: tuple[int, str] | None) -> tuple[bytes, dh.DHPrivateKey]:
        p, g = reference_group()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", CryptographyDeprecationWarning)
            mine = dh.DHParameterNumbers(p, g).parameters().generate_private_key()
        y = mine.public_key().public_numbers().y
        key = PublicKey(DH, (_int_bytes(y), _int_bytes(p), _int_bytes(g))).to_wire()
        index, handle = identity if identity else (ps.NO_INDEX, "")
        body = Writer()
        ps.SessionSetupRequest(ps.DIFFIE_HELLMAN, 3600, handle, index, key).write(body)
        msg = Message(Op.SESSION_SETUP, b.RawBody(body.getvalue()), opflags=CT | RD, major=self.version[0],
                      minor=self.version[1], request_id=int.from_bytes(os.urandom(4), "big") & 0x7FFFFFFF)
        return encode(msg), mine

    def finish_setup(self, answer: Message, mine: dh.DHPrivateKey) -> None:
        res = ps.SessionSetupResponse.read(Reader(answer.body.data))
        code, theirs = ps.split_cipher_key(res.data)
        y, p, g = PublicKey.from_wire(theirs).numbers()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", CryptographyDeprecationWarning)
            shared = mine.exchange(dh.DHPublicNumbers(y, dh.DHParameterNumbers(p, g)).public_key())
        shared = shared.rjust((p.bit_length() + 7) // 8, b"\0")
        i = 0
        while i + 32 < len(shared) and shared[i] == 0:
            i += 1
        self.key, self.session_id = shared[i:i + 32], answer.session_id

    def setup(self, identity: tuple[int, str] | None = (300, "0.NA/88.101.5")) -> Message:
        data, mine = self.setup_request(identity)
        ans = self.send(data)
        if ans.rc == 1:
            self.finish_setup(ans, mine)
        return ans

    def sealed(self, msg: Message, *, encrypted: bool = False, counter: int | None = None, key: bytes | None = None) -> bytes:
        """``msg`` in the session: MACed (HMAC-SHA256 with the next counter), encrypted if asked."""
        self.counter += 1
        counter = self.counter if counter is None else counter
        msg = replace(msg, session_id=self.session_id)
        plain = encode(msg)
        header_and_body = plain[20:-4]
        data = signed_data(msg.major, msg.minor, msg.suggest_major, msg.suggest_minor, self.session_id, msg.request_id,
                           counter, header_and_body)
        mac = hmac.new(key or self.key, data, "sha256").digest()
        out = encode(replace(msg, credential=Credential("", counter, MAC, ps.MAC_SHA256, mac)))
        if encrypted:
            cipher = encrypt(self.key, out[20:])
            major, minor, b2, b3, sid, rid, seq, _ = _ENV.unpack_from(out)
            out = _ENV.pack(major, minor, b2 | ENV_ENCRYPTED, b3, sid, rid, seq, len(cipher)) + cipher
        return out
