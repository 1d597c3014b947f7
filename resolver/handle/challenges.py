"""Challenge-response (RFC 3651 §3.5): pending challenges and the check of a client's answer.

A request that needs an identity gets RC 402 with a fresh nonce and a session id; the client
answers (opcode 200) under that session id with a proof over nonce + request digest. A pending
challenge is kept at most ``ttl`` seconds, at most ``limit`` of them (the oldest go first), and is
consumed by the first answer, right or wrong: a replayed answer finds nothing.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from protocol.bodies import PUBKEY, SECKEY, ChallengeAnswer
from protocol.codes import RC, HandleError
from protocol.envelope import Op
from protocol.handles import fold, na_handle
from protocol.message import Message
from protocol.values import HS_PUBKEY
from protocol.wire import WireError

from .. import audit
from ..credentials import Identity, sealed_part
from ..service import Service
from ..service.base import NODE_ADMIN_INDEX
from .proofs import ProofError, check_pubkey, check_seckey
from .sealed import Sealer

NONCE_SIZE = 16
# The audit trail's names for what a challenged request would do: the service operations HTTP uses.
AUDIT_OPS = {Op.CREATE_HANDLE: "put_handle", Op.ADD_VALUE: "put_handle", Op.MODIFY_VALUE: "put_handle",
             Op.DELETE_HANDLE: "delete_handle", Op.REMOVE_VALUE: "delete_handle", Op.LIST_HANDLES: "list",
             Op.RESOLUTION: "resolve"}
MUTATING_OPS = frozenset({Op.CREATE_HANDLE, Op.ADD_VALUE, Op.MODIFY_VALUE, Op.DELETE_HANDLE, Op.REMOVE_VALUE})


@dataclass(frozen=True, slots=True)
class Pending:
    request: Message  # the request that was challenged, to be carried out once the answer checks
    nonce: bytes
    digest: bytes  # the digest bytes of the request, as the 402 answer carried them
    expires: float


class Challenges:
    def __init__(self, *, ttl: float = 60.0, limit: int = 10_000, clock: Callable[[], float] = time.monotonic):
        self.ttl = ttl
        self.limit = limit
        self.clock = clock
        self._pending: OrderedDict[int, Pending] = OrderedDict()
        self._next = int.from_bytes(os.urandom(3), "big") | 1

    def __len__(self) -> int:
        return len(self._pending)

    def open(self, request: Message, digest: bytes) -> tuple[int, bytes]:
        """A new challenge for ``request``: (session id, nonce)."""
        now = self.clock()
        p = self._pending
        while p and (len(p) >= self.limit or next(iter(p.values())).expires <= now):
            p.popitem(last=False)
        sid = self._next
        self._next = (self._next % 0x7FFFFFFF) + 1  # never 0: 0 means "no session"
        nonce = os.urandom(NONCE_SIZE)
        p[sid] = Pending(request, nonce, digest, now + self.ttl)
        return sid, nonce

    def take(self, session_id: int) -> Pending:
        """The challenge of this session, removed: each is answered at most once."""
        pending = self._pending.pop(session_id, None)
        if pending is None or pending.expires <= self.clock():
            raise HandleError(RC.AUTHENTICATION_TIMEOUT,
                              f"no open challenge for session {session_id}: expired or already answered")
        return pending


class Authenticator:
    """Checks a ChallengeAnswer against the identity's HS_SECKEY or HS_PUBKEY value."""

    def __init__(self, service: Service, sealer: Sealer | None):
        self.service = service
        self.sealer = sealer

    async def identity(self, answer: ChallengeAnswer, pending: Pending) -> Identity:
        """Who answered the challenge, or a HandleError; a failure is audited (resolver/audit.py)."""
        att = audit.current()
        who = f"{answer.index}:{answer.handle}"
        client = att.client if att is not None else None
        if att is not None:
            req = pending.request
            att.op = AUDIT_OPS.get(req.opcode, f"opcode {req.opcode}")
            att.target = getattr(req.body, "handle", None)
            att.mutating = req.opcode in MUTATING_OPS
            audit.claimed(who)
        guard = self.service.guard  # the same counters as HTTP Basic
        try:
            guard.check(who, client)
            try:
                identity = await self._identity(answer, pending)
            except HandleError as e:
                if e.rc == RC.AUTHENTICATION_FAILED:  # a wrong proof (not: a secret to set again)
                    guard.failed(who, client)
                raise
        except HandleError as e:
            if att is not None:
                await self.service.audit.denied(att, e, authentication=True)
            raise
        guard.succeeded(who, client)
        self.service.limits.check_identity(who, time.perf_counter())  # the same rate as over HTTP
        if att is not None:
            att.identity, att.authenticated = str(identity), True
        return identity

    async def _identity(self, answer: ChallengeAnswer, pending: Pending) -> Identity:
        try:
            if answer.auth_type == SECKEY:
                return await self._seckey(answer, pending)
            if answer.auth_type == PUBKEY:
                return self._pubkey(answer, pending)
        except (ProofError, WireError) as e:
            raise HandleError(RC.AUTHENTICATION_FAILED, f"authentication failed: {e}") from None
        raise HandleError(RC.UNABLE_TO_AUTHENTICATE, f"authentication type {answer.auth_type!r} is not supported")

    async def _seckey(self, answer: ChallengeAnswer, pending: Pending) -> Identity:
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
        # PBKDF2 at the client's iteration count takes milliseconds: off the event loop.
        ok = await asyncio.get_running_loop().run_in_executor(
            None, check_seckey, secret.encode("utf-8"), pending.nonce, pending.digest, algorithm, proof)
        if not ok:
            raise HandleError(RC.AUTHENTICATION_FAILED, f"authentication failed: wrong secret for {who}")
        # The service makes the identity (and re-checks the secret against the verifier, cached).
        return await self.service.authenticate(answer.index, answer.handle, secret)

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
