"""Handle messages in, answer bytes out: the one place the Handle protocol meets the service.

No sockets here. UDP, TCP and HTTP POST all call ``quick`` with the bytes of one message; what can be
answered without waiting (resolution, site info, challenges, errors) comes back as bytes at once,
so the hot path is a parse, a B-tree look-up and a send. A challenge answer comes back as the
decoded Message, for the transport to ``await slow(msg)``: checking a proof and writing a record
take time (a KDF, a group commit).

Every operation goes through the service, as HTTP's do: the service validates, checks permissions
and counts; this module only maps opcodes and op-flags to its calls and response codes to answers.
"""

from __future__ import annotations

import logging
from collections.abc import Hashable
from dataclasses import replace

from protocol import bodies as b
from protocol import fastpath as fp
from protocol.codes import RC, HandleError
from protocol.digest import RequestDigest
from protocol.envelope import CT, MINT, OVRW, PO, RD, REC, Op
from protocol.handles import fold, split
from protocol.login import OC_LOGIN_ID_SYSTEM, LoginRequest
from protocol.message import (
    ANSWER_FLAGS,
    ECHOED_FLAGS,
    MAX_MESSAGE,
    Message,
    MessageError,
    answer,
    challenge_answer,
    decode_message,
    encode,
    error_for_undecodable,
)
from protocol.values import select
from protocol.wire import Writer

from ..audit_trail import INTERNAL, Caller
from ..credentials import Identity
from ..keys.certify import Certifier
from ..keys.sealed import Sealer
from ..service import Referral, Resolution, Service
from .challenges import ADMIN_OPS, Authenticator, Challenges, requested
from .fastpath import FastResolver
from .login import Login, attribute
from .sessionfront import SessionFront, SessionMessage

log = logging.getLogger("idnode.handle")

EAGER_BODY = 16 * 1024  # an administrative request up to this size is parsed before its challenge
_NOTHING: frozenset[int] = frozenset()
ANSWER_LIFETIME = 12 * 3600  # header expiration: how long a client may keep an answer's site info
KNOWN_OPS = ADMIN_OPS | {Op.RESOLUTION, Op.GET_SITE_INFO, Op.CHALLENGE_RESPONSE}
LIST_PAGE = 10_000
MAX_LISTED = 1_000_000
Origin = tuple[bytes, Hashable, "str | None"]  # a request's bytes, who may answer its challenge, its address
Answer = fp.Answer


class Dispatcher:
    def __init__(self, service: Service, site: bytes, *, sealer: Sealer | None, site_serial: int = 1,
                 serve_na: bool = False, challenges: Challenges | None = None, max_message: int = MAX_MESSAGE,
                 certifier: Certifier | None = None):
        self.service = service
        self.certifier = certifier  # signs the answers to requests with the CT op-flag
        self.site = site
        self.site_serial = site_serial
        # A secondary node keeps its prefix handles (0.NA/…) for the REST API, but over the Handle
        # protocol they belong to the global service: answer 301 as Handle.Net's homing server does.
        self.serve_na = serve_na
        self.challenges = challenges or Challenges()
        self.auth = Authenticator(service, sealer)
        self.max_message = max_message
        self.sessions = SessionFront(self)  # opcode 400 and requests in sessions (sessionfront.py)
        # Plain anonymous resolutions (fastpath.py), outside any session this front keeps.
        self.fast = FastResolver(service, site_serial, ANSWER_LIFETIME, self.sessions.table)
        self._now = 0.0  # the wall-clock time of the request being answered (given by the transport)

    # --- entry points -------------------------------------------------------------------------------
    def quick(self, data: bytes, *, udp: bool = False, owner: Hashable = None, peer: str | None = None,
              login: Login | None = None, t0: float = 0.0, now: float = 0.0) -> Answer | Message | None:
        """The answer to one message, or the Message when ``slow`` must answer it, or None to stay
        silent (an answer sent to us; over UDP, bytes without even an envelope: answering those
        would let a forged source address aim our answers at someone). ``owner`` (the TCP connection,
        or the client address) is who may answer a challenge this opens; ``peer`` the client's
        address: whose allowance of pending challenges it counts in, to which its sessions are bound,
        by which the reports count sources. ``login`` is the TCP connection's OC 2001 login
        (resolver/handle/login.py); ``t0`` the message's arrival (perf_counter), ``now`` the wall-clock
        time (for the answer's expiration: this module reads no clock)."""
        self._now = now
        if login is None or login.identity is None or fp.session_id(data) != login.session_id:
            # (a connection's login reads as its identity: the full path)
            out = self.fast.answer(data, peer, t0, now)
            if out is not None:
                return out
            if self.fast.missed is not None:  # made by the full path below, and kept for the next time
                return self.fast.learn(self._full(data, udp, owner, peer, login, t0))
        return self._full(data, udp, owner, peer, login, t0)

    def _full(self, data: bytes, udp: bool, owner: Hashable, peer: str | None, login: Login | None,
              t0: float) -> Answer | Message | None:
        """Everything but the fast path."""
        if self.sessions.concerns(data):
            try:
                return self.sessions.quick(data, peer, udp)
            except Exception:
                log.exception("session request failed")
                return None
        try:
            # A large administrative request's body is parsed once its sender is authenticated (``slow``):
            # an anonymous one costs a header read and a digest, whatever it carries. A small one is
            # parsed at once (bounded cost), so that a malformed one is told so as Handle.Net does.
            defer = ADMIN_OPS if len(data) > EAGER_BODY and not _logged_in(data, login) else _NOTHING
            msg = fp.resolution_message(data) or decode_message(data, self.max_message, defer)
        except MessageError as e:
            if e.envelope is None and udp:
                return None
            return self._undecodable(e)
        if not msg.is_request:
            return None
        if msg.truncated or (isinstance(msg.body, b.RawBody) and msg.opcode in KNOWN_OPS):
            # The codec keeps the body of a message flagged truncated unparsed: only answers are.
            return self._error(msg, RC.PROTOCOL_ERROR, "a request cannot be truncated")
        try:
            op = msg.opcode
            if op == Op.RESOLUTION:
                # A logged-in SDK connection reads as its identity, as the national servers answer it.
                return self._resolve(msg, login.admits(msg) if login is not None else None, (data, owner, peer),
                                     peer, t0)
            if op == Op.GET_SITE_INFO:
                return self._frame(msg, RC.SUCCESS, self.site)
            if op in ADMIN_OPS:
                if login is not None and login.admits(msg) is not None:
                    return msg  # logged in on this connection: carried out by ``slow``
                return self._challenge(msg, (data, owner, peer))
            if op == Op.CHALLENGE_RESPONSE:
                return msg
            if op == OC_LOGIN_ID_SYSTEM:
                LoginRequest.from_body(msg.body.data)  # a malformed login is refused before any work
                return self._challenge(msg, (data, owner, peer))
            return self._error(msg, RC.OPERATION_NOT_SUPPORTED, f"opcode {op} is not supported by this node")
        except HandleError as e:
            return self._error(msg, e.rc, e.message)
        except Exception:  # a bug: answer it, log it, keep serving
            log.exception("handle request failed (opcode %s)", msg.opcode)
            return self._error(msg, RC.ERROR, "internal error")

    async def slow(self, msg: Message, owner: Hashable = None, *, login: Login | None = None,
                   now: float = 0.0, caller: Caller | None = None) -> Answer:
        """Answer a challenge answer (check the proof, then carry out the challenged request), a
        request on a logged-in TCP connection, a request in a session, or a recursive resolution of
        a handle served elsewhere. ``owner``: as given to ``quick``; ``now``: the wall-clock time;
        ``caller``: who sends it (resolver/audit_trail.py), as its transport knows it (None: nothing is
        audited but the changes themselves, made as the node's own)."""
        self._now = now
        if isinstance(msg, SessionMessage):
            return await self.sessions.slow(msg, caller)
        if msg.opcode == Op.RESOLUTION:
            return await self._resolve_remote(msg)
        identity: Identity | None = None
        try:
            logged_in = login.admits(msg) if login is not None and msg.opcode in ADMIN_OPS else None
            if logged_in is not None:
                caller = attribute(msg, logged_in, self.service.limits, caller)
                identity = logged_in
                return await self._perform(msg, logged_in, caller)
            if not isinstance(msg.body, b.ChallengeAnswer):
                raise HandleError(RC.PROTOCOL_ERROR, "not a challenge answer")
            pending = self.challenges.find(msg.session_id, owner)  # only its owner's answer, left open
            caller = requested(caller, pending.opcode, pending.handle)
            identity = await self.auth.identity(msg.body, pending, msg.session_id, self.challenges, caller)
            # Answer the original request, under the ids of the message that completed it.
            try:
                original = decode_message(pending.data, self.max_message)
            except MessageError as e:
                raise HandleError(e.rc, e.message) from None
            if original.opcode == OC_LOGIN_ID_SYSTEM:
                self._login(original, msg.body, identity, login)
            if caller is not None and caller.target is None:
                caller = replace(caller, target=getattr(original.body, "handle", None))
            target = replace(original, request_id=msg.request_id, session_id=msg.session_id)
            return await self._perform(target, identity, caller)
        except HandleError as e:
            # A handle another server of this site holds is no verdict; the service, or the check of
            # the proof, may have recorded this refusal already (then it is not recorded again).
            if caller is not None and not isinstance(e, Referral):
                await self.service.audit.refused(caller, e, identity)
            return self._refusal(msg, e)
        except Exception:
            log.exception("handle challenge answer failed")
            return self._error(msg, RC.ERROR, "internal error")

    async def answer(self, data: bytes, *, udp: bool = False, owner: Hashable = None, peer: str | None = None,
                     login: Login | None = None, now: float = 0.0, caller: Caller | None = None) -> Answer | None:
        """Both steps, for transports that await anyway (HTTP, tests)."""
        out = self.quick(data, udp=udp, owner=owner, peer=peer, login=login, now=now)
        return await self.slow(out, owner, login=login, now=now, caller=caller) if isinstance(out, Message) else out

    # --- operations -----------------------------------------------------------------------------------
    @staticmethod
    def _login(request: Message, answer: b.ChallengeAnswer, identity: Identity, login: Login | None) -> None:
        """A login proves the identity it names; over TCP the connection keeps it (under the session
        id of the login request, which the SDK's later requests carry)."""
        named = LoginRequest.from_body(request.body.data)
        if fold(named.handle) != fold(answer.handle) or named.index != answer.index:
            raise HandleError(RC.AUTHENTICATION_FAILED,
                              f"the login names {named.index}:{named.handle}, the answer {answer.index}:{answer.handle}")
        if login is not None:
            login.grant(identity, request.session_id)

    async def _perform(self, msg: Message, identity: Identity, caller: Caller | None) -> Answer:
        """Carry out an administrative request of ``identity`` (authenticated), sent by ``caller``."""
        svc, body, op = self.service, msg.body, msg.opcode
        who = caller or INTERNAL
        if op == OC_LOGIN_ID_SYSTEM:
            return self._frame(msg, RC.SUCCESS, b"")
        if op == Op.RESOLUTION:
            out = self._resolve(msg, identity)
            return await self._resolve_remote(msg) if isinstance(out, Message) else out
        if op == Op.CREATE_HANDLE:
            handle, _ = await svc.put_handle(body.handle, list(body.values), identity, overwrite=msg.has(OVRW),
                                             mint=msg.has(MINT), caller=who)
            minted = b.CreateHandleResponse(handle if msg.has(MINT) else None)
            return self._encode(answer(msg, minted, **self._kw()))
        if op == Op.DELETE_HANDLE:
            await svc.delete_handle(body.handle, identity, caller=who)
        elif op in (Op.ADD_VALUE, Op.MODIFY_VALUE):
            modify = op == Op.MODIFY_VALUE
            await svc.put_handle(body.handle, list(body.values), identity, indexes=[v.index for v in body.values],
                                 overwrite=modify or msg.has(OVRW), must_exist=modify, caller=who)
        elif op == Op.REMOVE_VALUE:
            if not body.indexes:
                # The service reads "no indexes" as "the whole handle"; a remove names values.
                raise HandleError(RC.INVALID_VALUE, "remove value names no index")
            await svc.delete_handle(body.handle, identity, indexes=list(body.indexes), caller=who)
        elif op == Op.LIST_HANDLES:
            return self._encode(answer(msg, b.ListHandlesResponse(self._list(body.handle, identity)), **self._kw()))
        else:
            raise HandleError(RC.OPERATION_NOT_SUPPORTED, f"opcode {op} is not supported by this node")
        return self._frame(msg, RC.SUCCESS, b"")

    def _list(self, prefix_handle: str, identity: Identity) -> tuple[str, ...]:
        """LIST_HANDLES names the prefix handle (0.NA/88.101.5); the service lists and checks."""
        na, prefix = split(prefix_handle)
        if fold(na) != "0.na":
            raise HandleError(RC.INVALID_HANDLE, f"list handles takes a prefix handle 0.NA/<prefix>, not {prefix_handle}")
        out: list[str] = []
        page = 0
        while len(out) < MAX_LISTED:
            got, total = self.service.list_handles(prefix, page, LIST_PAGE, identity)
            out += got
            if len(got) < LIST_PAGE or len(out) >= total:
                break
            page += 1
        return tuple(out)

    def _resolve(self, msg: Message, identity: Identity | None, origin: Origin | None = None,
                 client: str | None = None, t0: float = 0.0) -> Answer | Message:
        req = msg.body
        recurse = msg.opflags & REC and self.service.remote is not None
        if not self.serve_na and req.handle[:5].lower() == "0.na/":
            if recurse:
                return msg
            return self._error(msg, RC.SERVER_NOT_RESPONSIBLE, "prefix handles are served by the global service")
        indexes = set(req.indexes) or None
        types = list(req.types) or None
        try:
            res = self.service.resolve(req.handle, indexes=indexes, types=types, identity=identity,
                                       client=client, t0=t0)
        except HandleError as e:
            if recurse and self.service.served_elsewhere(e):
                return msg  # the slow path asks the site that serves it
            return self._refusal(msg, e)
        if identity is None and not msg.has(PO) and self._wants_private(res, indexes, types) and origin is not None:
            return self._challenge(msg, origin)
        if res.unfiltered_public:
            body = res.rendered("hdl")  # kept only for an answer that has values
            if body is not None:
                return self._frame(msg, RC.SUCCESS, body)
        if not res.values:
            return self._error(msg, RC.VALUES_NOT_FOUND, "no values match")
        return self._frame(msg, RC.SUCCESS, self._resolution_body(res))

    async def _resolve_remote(self, msg: Message) -> Answer:
        req = msg.body
        try:
            res = await self.service.resolve_anywhere(req.handle, indexes=set(req.indexes) or None,
                                                      types=list(req.types) or None)
            if not res.values:
                return self._error(msg, RC.VALUES_NOT_FOUND, "no values match")
            return self._frame(msg, RC.SUCCESS, self._resolution_body(res))
        except HandleError as e:
            return self._refusal(msg, e)
        except Exception:
            log.exception("recursive resolution of %s failed", req.handle)
            return self._error(msg, RC.ERROR, "internal error")

    def _refusal(self, msg: Message, err: HandleError) -> Answer:
        """A referral carries where to ask instead; any other refusal, its message."""
        return self._referral(msg, err) if isinstance(err, Referral) else self._error(msg, err.rc, err.message)

    def _referral(self, msg: Message, ref: Referral) -> Answer:
        """RC 302: the prefix record naming the site that serves the handle, for the client to ask."""
        w = Writer()
        b.ReferralResponse(ref.na, tuple(ref.values)).write(w)
        return self._frame(msg, RC.SERVICE_REFERRAL, w.getvalue())

    @staticmethod
    def _wants_private(res: Resolution, indexes: set[int] | None, types: list[str] | None) -> bool:
        """Would the unfiltered-by-permission answer hold a value that is not public? (Then Handle.Net
        challenges a caller who did not say "public values only".)"""
        if res.all_public:
            return False
        return any(not v.public_read for v in select(res.record.values, indexes, types))

    @staticmethod
    def _resolution_body(res: Resolution) -> bytes:
        if res.unfiltered_public:
            # The service re-validates the cache entry against LMDB on every resolve, so a body
            # kept on it is dropped with it when the record changes.
            body = res.rendered("hdl")
            if body is None:
                body = _body(b.ResolutionResponse(res.handle, tuple(res.values)))
                res.remember("hdl", body)
            return body
        return _body(b.ResolutionResponse(res.handle, tuple(res.values)))

    # --- answers ------------------------------------------------------------------------------------
    def _kw(self) -> dict:
        return {"site_serial": self.site_serial, "expiration": int(self._now) + ANSWER_LIFETIME}

    def _frame(self, msg: Message, rc: int, body: bytes) -> Answer:
        """Envelope, header, [request digest], ``body`` (already encoded) and an empty credential:
        what ``encode(answer(msg, …))`` makes, without rebuilding the body objects each time."""
        flags = ANSWER_FLAGS | (msg.opflags & ECHOED_FLAGS)
        if msg.opflags & RD:
            flags |= RD
            w = Writer()
            RequestDigest.of(msg.header_and_body(), msg.major, msg.minor).write(w)
            body = w.getvalue() + body
        out = fp.answer_bytes(msg.major, msg.minor, msg.session_id, msg.request_id, msg.opcode, rc, flags,
                              self.site_serial, int(self._now) + ANSWER_LIFETIME, body)
        return Answer(msg.opcode, rc, out if not flags & CT or self.certifier is None else self.certifier.sign(out))

    def _encode(self, m: Message) -> Answer:
        out = encode(m)
        return Answer(m.opcode, m.rc, out if not m.opflags & CT or self.certifier is None else self.certifier.sign(out))

    def _error(self, msg: Message, rc: int, message: str) -> Answer:
        w = Writer()
        b.ErrorResponse(message).write(w)
        return self._frame(msg, rc, w.getvalue())

    def _challenge(self, msg: Message, origin: Origin) -> Answer:
        """RC 402: the request is kept as its bytes (Challenges bounds them) until its owner answers."""
        digest = RequestDigest.of(msg.header_and_body(), msg.major, msg.minor)
        data, owner, address = origin
        handle = getattr(msg.body, "handle", None)  # None for a deferred body: set once it is decoded
        sid, nonce = self.challenges.open(data, msg.opcode, handle, digest.value,
                                          owner=owner, address=address)
        return self._encode(challenge_answer(msg, nonce, session_id=sid, **self._kw()))

    def _undecodable(self, err: MessageError) -> Answer:
        ans = error_for_undecodable(err, site_serial=self.site_serial, expiration=int(self._now) + ANSWER_LIFETIME)
        if err.rc == RC.PROTOCOL_ERROR:
            ans = replace(ans, rc=RC.ERROR)  # what Handle.Net 9.3.1 answers to a message it cannot parse
        return self._encode(ans)


def _body(body: b.ResolutionResponse) -> bytes:
    w = Writer()
    body.write(w)
    return w.getvalue()


def _logged_in(data: bytes, login: Login | None) -> bool:
    """Is the message under this TCP connection's login (its sender already proved who it is)?"""
    return login is not None and login.identity is not None and fp.session_id(data) == login.session_id
