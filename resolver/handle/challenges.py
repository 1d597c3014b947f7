"""Challenge-response (RFC 3651 §3.5): pending challenges and the check of a client's answer.

A request that needs an identity gets RC 402 with a fresh nonce and a session id; the client
answers (opcode 200) under that session id with a proof over nonce + request digest.

What a pending challenge costs is bounded, since anyone can open one:
- it keeps the request's bytes as received (decoded again once answered), its digest and nonce:
  about the size of the request, never the decoded objects;
- at most ``per_address`` challenges and ``address_bytes`` bytes per client address (past that, the
  address's own oldest go first), and ``limit`` challenges and ``max_bytes`` bytes in all (past that,
  the oldest go first);
- each is freed when its ``ttl`` ends (a timer, not the next challenge), when it is answered, or when
  the TCP connection it belongs to closes.

A challenge can be answered only by its owner: the TCP connection it was sent on, or the client
address for UDP and HTTP. Its session id is random (31 bits), and an answer from anyone else finds
nothing and changes nothing. The owner's answer is checked against the lock-out first; one that is
then checked consumes the challenge, right or wrong, so a replayed answer finds nothing.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass

from protocol.bodies import PUBKEY, SECKEY, ChallengeAnswer
from protocol.codes import RC, HandleError
from protocol.envelope import Op
from protocol.handles import fold, na_handle
from protocol.values import HS_PUBKEY
from protocol.wire import WireError

from ..audit_trail import Caller
from ..credentials import Identity, sealed_part
from ..keys.proofs import ProofError, check_pubkey, check_seckey
from ..keys.sealed import Sealer
from ..service import Service
from ..service.base import NODE_ADMIN_INDEX

NONCE_SIZE = 16
PENDING_OVERHEAD = 400  # bytes an entry costs besides the request: the objects and the table slots
# The audit trail's names for what a challenged request would do: the service operations HTTP uses.
AUDIT_OPS = {Op.CREATE_HANDLE: "put_handle", Op.ADD_VALUE: "put_handle", Op.MODIFY_VALUE: "put_handle",
             Op.DELETE_HANDLE: "delete_handle", Op.REMOVE_VALUE: "delete_handle", Op.LIST_HANDLES: "list",
             Op.RESOLUTION: "resolve"}
ADMIN_OPS = frozenset({Op.CREATE_HANDLE, Op.DELETE_HANDLE, Op.ADD_VALUE, Op.REMOVE_VALUE, Op.MODIFY_VALUE,
                       Op.LIST_HANDLES})
MUTATING_OPS = frozenset({Op.CREATE_HANDLE, Op.ADD_VALUE, Op.MODIFY_VALUE, Op.DELETE_HANDLE, Op.REMOVE_VALUE})


def requested(caller: Caller | None, opcode: int, handle: str | None) -> Caller | None:
    """``caller`` asking for what a request (or the challenged one) names: its audit name, its handle."""
    if caller is None:
        return None
    return caller.doing(AUDIT_OPS.get(opcode, f"opcode {opcode}"), handle, opcode in MUTATING_OPS)


_NOT_OPEN = "no open challenge for session {}: expired or already answered"


@dataclass(frozen=True, slots=True)
class Pending:
    data: bytes  # the challenged request as received, to be decoded and carried out once answered
    opcode: int
    handle: str | None  # what it names, for the audit entry of the answer
    nonce: bytes
    digest: bytes  # the digest bytes of the request, as the 402 answer carried them
    expires: float
    owner: Hashable  # who may answer: a TCP connection, or ("udp" | "http", address)
    address: str | None  # whose allowance it counts in

    @property
    def size(self) -> int:
        return len(self.data) + PENDING_OVERHEAD


class Challenges:
    def __init__(self, *, ttl: float = 60.0, limit: int = 10_000, max_bytes: int = 64 << 20,
                 per_address: int = 64, address_bytes: int = 9 << 20, clock: Callable[[], float] = time.monotonic):
        self.ttl = ttl
        self.limit = limit
        self.max_bytes = max_bytes
        self.per_address = per_address
        self.address_bytes = address_bytes
        self.clock = clock
        self._pending: OrderedDict[int, Pending] = OrderedDict()  # oldest first: the ttl is the same for all
        self._by_address: dict[str | None, OrderedDict[int, None]] = {}
        self._address_bytes: dict[str | None, int] = {}
        self._claimed: set[int] = set()
        self.bytes = 0
        self._timer: asyncio.TimerHandle | None = None

    def __len__(self) -> int:
        return len(self._pending)

    def open(self, data: bytes, opcode: int, handle: str | None, digest: bytes, *, owner: Hashable = None,
             address: str | None = None) -> tuple[int, bytes]:
        """A new challenge for the request ``data``: (session id, nonce)."""
        now = self.clock()
        self.expire(now)
        size = len(data) + PENDING_OVERHEAD
        if size > self.address_bytes or size > self.max_bytes:
            raise HandleError(RC.SERVER_TOO_BUSY, f"a request of {len(data)} bytes is more than this node keeps "
                              "while its challenge is answered")
        mine = self._by_address.get(address)
        while mine and (len(mine) >= self.per_address or self._address_bytes[address] + size > self.address_bytes):
            self._drop(next(iter(mine)))  # the address's own oldest
            mine = self._by_address.get(address)
        while self._pending and (len(self._pending) >= self.limit or self.bytes + size > self.max_bytes):
            self._drop(next(iter(self._pending)))
        sid = secrets.randbits(31)
        while sid == 0 or sid in self._pending:  # 0 means "no session"
            sid = secrets.randbits(31)
        nonce = os.urandom(NONCE_SIZE)
        self._pending[sid] = Pending(data, opcode, handle, nonce, digest, now + self.ttl, owner, address)
        self._by_address.setdefault(address, OrderedDict())[sid] = None
        self._address_bytes[address] = self._address_bytes.get(address, 0) + size
        self.bytes += size
        self._arm()
        return sid, nonce

    def find(self, session_id: int, owner: Hashable = None) -> Pending:
        """The open challenge of this session, if ``owner`` may answer it (left open)."""
        p = self._pending.get(session_id)
        if p is None or p.owner != owner or session_id in self._claimed or p.expires <= self.clock():
            # Someone else's session reads exactly as an expired one: nothing to learn, nothing changed.
            raise HandleError(RC.AUTHENTICATION_TIMEOUT, _NOT_OPEN.format(session_id))
        return p

    def claim(self, session_id: int) -> None:
        """From here, the answer is being checked: no second answer is taken while it is, and the
        challenge is closed once it has been, right or wrong."""
        if session_id not in self._pending or session_id in self._claimed:
            raise HandleError(RC.AUTHENTICATION_TIMEOUT, _NOT_OPEN.format(session_id))
        self._claimed.add(session_id)

    def close(self, session_id: int) -> None:
        self._drop(session_id)

    def take(self, session_id: int, owner: Hashable = None) -> Pending:
        """The challenge of this session, removed: each is answered at most once."""
        p = self.find(session_id, owner)
        self._drop(session_id)
        return p

    def drop_owner(self, owner: Hashable, address: str | None) -> None:
        """Free the challenges of a TCP connection that closed: nobody else can answer them."""
        for sid in [sid for sid in self._by_address.get(address, ()) if self._pending[sid].owner is owner]:
            self._drop(sid)

    def held_by(self, address: str | None) -> tuple[int, int]:
        """(challenges, bytes) the address holds."""
        return len(self._by_address.get(address, ())), self._address_bytes.get(address, 0)

    def expire(self, now: float | None = None) -> None:
        now = self.clock() if now is None else now
        p = self._pending
        while p and next(iter(p.values())).expires <= now:
            self._drop(next(iter(p)))

    def _drop(self, session_id: int) -> None:
        p = self._pending.pop(session_id, None)
        self._claimed.discard(session_id)
        if p is None:
            return
        size = p.size
        self.bytes -= size
        mine = self._by_address.get(p.address)
        if mine is not None:
            mine.pop(session_id, None)
            left = self._address_bytes.get(p.address, 0) - size
            if mine:
                self._address_bytes[p.address] = left
            else:
                del self._by_address[p.address]
                self._address_bytes.pop(p.address, None)

    def _arm(self) -> None:
        """Free expired challenges when they expire, whether or not another one is opened."""
        if self._timer is not None or not self._pending:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # used without an event loop (tests): expiry on the next open or answer
            return
        wait = max(0.0, next(iter(self._pending.values())).expires - self.clock())
        self._timer = loop.call_later(wait + 0.05, self._tick)

    def _tick(self) -> None:
        self._timer = None
        self.expire()
        self._arm()


class Authenticator:
    """Checks a ChallengeAnswer against the identity's HS_SECKEY or HS_PUBKEY value."""

    def __init__(self, service: Service, sealer: Sealer | None):
        self.service = service
        self.sealer = sealer

    async def identity(self, answer: ChallengeAnswer, pending: Pending, session_id: int,
                       challenges: Challenges, caller: Caller | None) -> Identity:
        """Who answered the challenge, or a HandleError, through the service's one login sequence
        (``ServiceBase.login``: lock-out, audit, per-identity rate, as for HTTP Basic). The lock-out
        is checked before the challenge is claimed: a locked-out identity's answer leaves it open; an
        answer that is checked closes it, right or wrong. ``caller``: as ``requested`` names it (the
        audit entry of a failure names what the challenged request would do)."""

        async def prove() -> Identity:
            challenges.claim(session_id)
            try:
                return await self._identity(answer, pending, caller)
            finally:
                challenges.close(session_id)

        return await self.service.login(answer.index, answer.handle, prove, caller=caller)

    async def _identity(self, answer: ChallengeAnswer, pending: Pending, caller: Caller | None) -> Identity:
        try:
            if answer.auth_type == SECKEY:
                return await self._seckey(answer, pending, caller)
            if answer.auth_type == PUBKEY:
                return self._pubkey(answer, pending)
        except (ProofError, WireError) as e:
            raise HandleError(RC.AUTHENTICATION_FAILED, f"authentication failed: {e}") from None
        raise HandleError(RC.UNABLE_TO_AUTHENTICATE, f"authentication type {answer.auth_type!r} is not supported")

    async def _seckey(self, answer: ChallengeAnswer, pending: Pending, caller: Caller | None) -> Identity:
        with self.service.store.read() as tx:
            verifier = tx.get_verifier(answer.index, answer.handle)
        who = f"{answer.index}:{answer.handle}"
        if verifier is None:
            raise HandleError(RC.AUTHENTICATION_FAILED, f"authentication failed: {who} has no secret key")
        token = sealed_part(verifier)
        secret = self.sealer.unseal(token) if token and self.sealer else None
        if secret is None:
            raise HandleError(RC.UNABLE_TO_AUTHENTICATE,
                              f"the secret of {who} was set before this node kept secrets for the Handle "
                              "protocol (or under another node's key): set it again to use it here")
        algorithm, proof = answer.seckey_proof()
        # PBKDF2 at the client's (bounded) iteration count takes milliseconds: in the verification pool.
        keys: tuple = (f"id:{answer.index}:{fold(answer.handle)}",)
        if pending.address is not None:
            keys += (f"ip:{pending.address}",)
        ok = await self.service.verify_pool.run(check_seckey, secret.encode("utf-8"), pending.nonce, pending.digest,
                                                algorithm, proof, keys=keys)
        if not ok:
            raise HandleError(RC.AUTHENTICATION_FAILED, f"authentication failed: wrong secret for {who}")
        # The service makes the identity (and re-checks the secret against the verifier, cached), inside
        # the login sequence this proof runs in.
        return await self.service._authenticate(answer.index, answer.handle, secret, caller)

    def _pubkey(self, answer: ChallengeAnswer, pending: Pending) -> Identity:
        who = f"{answer.index}:{answer.handle}"
        with self.service.store.read() as tx:
            rec = tx.get_handle(answer.handle)
        keys = [v for v in (rec.values if rec else []) if v.index == answer.index and v.type == HS_PUBKEY]
        if not keys:
            raise HandleError(RC.AUTHENTICATION_FAILED, f"authentication failed: {who} has no public key")
        hash_name, signature = answer.pubkey_proof()
        if not check_pubkey(keys[0].data, pending.nonce, pending.digest, hash_name, signature, answer.handle):
            raise HandleError(RC.AUTHENTICATION_FAILED, f"authentication failed: bad signature for {who}")
        # The node admin is 300:0.NA/<node prefix>, as ServiceBase.authenticate decides for secrets.
        node = self.service.node_prefix
        is_admin = (node is not None and answer.index == NODE_ADMIN_INDEX
                    and fold(answer.handle) == fold(na_handle(node)))
        return Identity(answer.index, answer.handle, is_admin)
