"""A small blocking Handle-protocol client: the CLI's `resolve --udp/--tcp`, and the tests'.

Over UDP, an answer split into several datagrams is put back together (protocol/datagrams.py);
resolution falls back to TCP when the answer comes back truncated, or refused over UDP (RC 2, as the
node answers a large answer to an address that has not proved itself); any request that is
challenged (RC 402) is answered with the given identity's proof, on the same TCP connection.
``certified_resolve`` asks with the CT op-flag and checks the server's signature against the public
key its site information lists (``verify``).
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from typing import Protocol

from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from protocol import bodies as b
from protocol import datagrams
from protocol.codes import RC, HandleError
from protocol.envelope import CT, PO, Op
from protocol.framing import TcpFramer
from protocol.gm import SM2PrivateKey
from protocol.message import Message, MessageError, decode_message, encode
from protocol.site import Site

from .keys.certify import verify_answer
from .keys.proofs import PBKDF2_HMAC_SHA1, pubkey_response, seckey_response


class Identity(Protocol):
    auth_type: str
    index: int
    handle: str

    def response(self, nonce: bytes, digest: bytes) -> bytes: ...


@dataclass
class SecretKey:
    index: int
    handle: str
    secret: bytes
    algorithm: int = PBKDF2_HMAC_SHA1  # what Handle.Net clients send at protocol 2.7 and later
    auth_type: str = b.SECKEY

    def response(self, nonce: bytes, digest: bytes) -> bytes:
        return seckey_response(self.secret, nonce, digest, algorithm=self.algorithm)


@dataclass
class PrivateKey:
    index: int
    handle: str
    key: PrivateKeyTypes | SM2PrivateKey
    auth_type: str = b.PUBKEY

    def response(self, nonce: bytes, digest: bytes) -> bytes:
        return pubkey_response(self.key, nonce, digest, self.handle)


class HandleClient:
    def __init__(self, host: str, port: int = 2641, *, timeout: float = 10.0, version: tuple[int, int] = (2, 10)):
        self.host, self.port, self.timeout = host, port, timeout
        self.version = version

    def message(self, opcode: int, body: b.Body, opflags: int = 0, session_id: int = 0) -> Message:
        return Message(opcode, body, opflags=opflags, major=self.version[0], minor=self.version[1],
                       session_id=session_id, request_id=int.from_bytes(os.urandom(4), "big") & 0x7FFFFFFF)

    # --- transports -----------------------------------------------------------------------------
    def udp(self, msg: Message) -> Message:
        with socket.socket(_family(self.host), socket.SOCK_DGRAM) as s:
            s.settimeout(self.timeout)
            s.sendto(encode(msg), (self.host, self.port))
            parts: list[bytes] = []
            while True:
                data, _ = s.recvfrom(65535)
                if len(data) < 20 or int.from_bytes(data[8:12], "big") != msg.request_id:
                    continue
                parts.append(data)
                whole = int.from_bytes(data[16:20], "big")
                if sum(len(p) - 20 for p in parts) < whole:
                    continue  # more slices of a split answer to come
                try:
                    return decode_message(datagrams.reassemble(parts) if len(parts) > 1 else data)
                except (MessageError, HandleError):
                    parts = []

    def tcp(self, msg: Message, identity: Identity | None = None) -> Message:
        with socket.create_connection((self.host, self.port), timeout=self.timeout) as s:
            ans = self._exchange(s, msg)
            if ans.rc == RC.AUTHENTICATION_NEEDED and identity is not None:
                ans = self._exchange(s, self.challenge_answer(msg, ans, identity))
            return ans

    def _exchange(self, s: socket.socket, msg: Message) -> Message:
        s.sendall(encode(msg))
        framer = TcpFramer()
        while True:
            data = s.recv(65536)
            if not data:
                raise ConnectionError("the server closed the connection without answering")
            for frame in framer.feed(data):
                ans = decode_message(frame)
                if ans.request_id == msg.request_id:
                    return ans

    def challenge_answer(self, request: Message, challenge: Message, identity: Identity) -> Message:
        return self.message(Op.CHALLENGE_RESPONSE, challenge_body(request, challenge, identity),
                            session_id=challenge.session_id)

    # --- operations -----------------------------------------------------------------------------
    def resolve(self, handle: str, indexes: tuple[int, ...] = (), types: tuple[str, ...] = (), *,
                udp: bool = True, public_only: bool = False, identity: Identity | None = None,
                opflags: int = 0) -> Message:
        msg = self.message(Op.RESOLUTION, b.ResolutionRequest(handle, tuple(indexes), tuple(types)),
                           opflags | (PO if public_only else 0))
        if udp:
            ans = self.udp(msg)
            retry = ans.truncated or ans.rc == RC.ERROR or (ans.rc == RC.AUTHENTICATION_NEEDED and identity is not None)
            if not retry:
                return ans
        return self.tcp(msg, identity)

    def call(self, opcode: int, body: b.Body, identity: Identity | None, opflags: int = 0) -> Message:
        """An administrative request over TCP, authenticated by challenge-response."""
        return self.tcp(self.message(opcode, body, opflags), identity)

    def site_info(self, *, udp: bool = True) -> Site:
        msg = self.message(Op.GET_SITE_INFO, b.Empty())
        ans = self.udp(msg) if udp else self.tcp(msg)
        if ans.truncated:
            ans = self.tcp(msg)
        if ans.rc != RC.SUCCESS or not isinstance(ans.body, b.SiteInfoResponse):
            raise HandleError(ans.rc or RC.ERROR, "get-site-info did not return a site")
        return Site.from_wire(ans.body.site)

    def server_key(self, site: Site) -> bytes:
        """The public key (HS_PUBKEY bytes) of the server of ``site`` we talk to: the one at our
        address, else the site's only server."""
        servers = [s for s in site.servers if s.public_key]
        here = [s for s in servers if s.address_text == self.host]
        if here or len(servers) == 1:
            return (here or servers)[0].public_key
        raise HandleError(RC.ERROR, f"the site lists no key for a server at {self.host}")

    def certified_resolve(self, handle: str, indexes: tuple[int, ...] = (), types: tuple[str, ...] = (), *,
                          key: bytes | None = None, udp: bool = True, public_only: bool = False) -> Message:
        """Resolve with the CT op-flag and check the answer's signature against ``key`` (HS_PUBKEY
        bytes; by default the key get-site-info lists for this server). An answer that is unsigned
        or does not verify raises HandleError (RC_INVALID_CREDENTIAL): it must not be trusted."""
        key = key if key is not None else self.server_key(self.site_info(udp=udp))
        ans = self.resolve(handle, indexes, types, udp=udp, public_only=public_only, opflags=CT)
        if not verify(ans, key):
            raise HandleError(RC.INVALID_CREDENTIAL, f"the answer for {handle} is not signed by the server's key")
        return ans


def verify(answer: Message, key: bytes) -> bool:
    """True when ``answer`` is signed (HS_SIGNED credential) by the server whose HS_PUBKEY is ``key``."""
    return verify_answer(answer, key)


def challenge_body(request: Message, challenge: Message, identity: Identity) -> b.ChallengeAnswer:
    """The answer to a 402, after checking that the challenge is about our request (a server must
    not make us sign something else)."""
    if challenge.digest is None or not challenge.digest.matches(request.header_and_body()):
        raise HandleError(RC.AUTHENTICATION_FAILED, "the challenge does not carry the digest of our request")
    proof = identity.response(challenge.body.nonce, challenge.digest.value)
    return b.ChallengeAnswer(identity.auth_type, identity.handle, identity.index, proof)


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET
