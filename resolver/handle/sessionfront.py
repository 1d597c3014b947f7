"""Requests in sessions, in front of the dispatcher: set-up, MAC checks, ciphers, session identities.

``Dispatcher.quick`` hands a message here when it concerns sessions (opcodes 400-402, a session id
that is not a pending challenge's, or an encrypted envelope); everything else never comes here. What
this module does, as Handle.Net's server does it:

- opcode 400: a new session (resolver/handle/sessions.py does the key exchange); the answer is signed
  with the node's key when the client asks (CT), as it always does for a set-up;
- opcode 402: the session key of a server-cipher set-up; opcode 401: the end of a session;
- any other request naming a session: decrypted if its envelope says so, its MAC and counter checked;
  an administrative request in a session that answered a challenge as its identity is carried out
  without a new challenge; otherwise it is challenged under the session's id, and a right answer
  by the identity named at set-up authenticates the session;
- a session id that names no live session of this address: RC 500 (session time-out), upon which
  Handle.Net's client sets up a new session and sends its request again;
- the answer keeps the session id, and is encrypted when the request was (or asked with ENC, or the
  session was set up to encrypt everything).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives.asymmetric import rsa

from protocol import bodies as b
from protocol import fastpath as fp
from protocol import sessions as ps
from protocol.codes import RC, HandleError
from protocol.digest import RequestDigest
from protocol.envelope import ENC, ENVELOPE_SIZE, Op
from protocol.handles import fold
from protocol.message import Message, MessageError, answer, challenge_answer, decode_message, encode
from protocol.values import HS_PUBKEY
from protocol.wire import Reader, WireError

from ..audit_trail import Caller
from ..credentials import Identity
from ..service import Referral
from .challenges import ADMIN_OPS, NONCE_SIZE, Pending, requested
from .sessions import (
    Duplicate,
    Session,
    SessionError,
    SessionTable,
    check_mac,
    decrypt,
    dh_exchange,
    encrypt,
    rsa_public,
    unwrap_key,
    wrap_new_key,
)

if TYPE_CHECKING:
    from .dispatch import Dispatcher

log = logging.getLogger("idnode.handle")

SESSION_OPS = frozenset({Op.SESSION_SETUP, Op.SESSION_TERMINATE, Op.SESSION_EXCHANGEKEY})
CHALLENGE_TTL = 60.0


@dataclass(frozen=True, slots=True)
class SessionMessage(Message):
    """A request in a session whose answer takes the slow path (a key exchange, a check of a proof, a
    write): the message and what the front decided about it."""

    session: Session | None = None
    encrypt_answer: bool = False
    address: str | None = None


def _promote(msg: Message, **extra) -> SessionMessage:
    return SessionMessage(**{f.name: getattr(msg, f.name) for f in fields(Message)}, **extra)


class _OwnChallenge:
    """A session holds its one challenge itself (sessions.py releases it as it is answered): there is
    nothing more to claim or close in the connection-level table."""

    def claim(self, session_id: int) -> None:
        pass

    def close(self, session_id: int) -> None:
        pass


class SessionFront:
    def __init__(self, dispatcher: Dispatcher, table: SessionTable | None = None):
        self.d = dispatcher
        self.table = table or SessionTable()

    # -- the quick step ------------------------------------------------------------------------
    def concerns(self, data: bytes) -> bool:
        """Does this message go through here? (Read from the envelope and header only.) A challenge
        answer with a session id names a pending challenge, unless that id is a session's."""
        if len(data) < ENVELOPE_SIZE + 4:
            return False
        if fp.encrypted(data):
            return True
        op = fp.opcode(data)
        if op in SESSION_OPS:
            return True
        sid = fp.session_id(data)
        if sid == 0:
            return False
        if self.table.has(sid):
            return True
        # An id no set-up made: a session request that outlived its session carries the session's MAC
        # and is told so; the national SDKs (protocol/login.py) pick a session id of their own for
        # plain requests, with no credential, and those are answered as sessionless.
        return op != Op.CHALLENGE_RESPONSE and fp.has_credential(data)

    def quick(self, data: bytes, address: str | None, udp: bool = False) -> fp.Answer | Message | None:
        sid = fp.session_id(data)
        session = self.table.get(sid, address) if sid else None
        encrypted = fp.encrypted(data)
        if encrypted:
            if session is None or session.key is None:
                return self._envelope_error(data, RC.SESSION_TIMEOUT,
                                            "no live session to decrypt this message with: set up a new session")
            try:
                data = self._decrypted(data, session)
            except HandleError as e:
                return self._envelope_error(data, e.rc, e.message)
        try:
            msg = decode_message(data, self.d.max_message)
        except MessageError as e:
            return self.d._undecodable(e)
        if not msg.is_request:
            return None
        op = msg.opcode
        if op == Op.SESSION_SETUP:
            return _promote(msg, address=address)
        if session is None:
            return self.d._error(msg, RC.SESSION_TIMEOUT,
                                 f"session {sid} is not open here (expired, ended or never set up): set up a new one")
        # As Handle.Net: the answer is encrypted when the request asks (ENC), not merely because the
        # request was (a client encrypts on its own a request that carries non-public values).
        seal = msg.has(ENC) or session.encrypt_all
        try:
            # A challenge answer is its own proof; a key exchange comes before there is a key.
            if op not in (Op.CHALLENGE_RESPONSE, Op.SESSION_EXCHANGEKEY):
                check_mac(session, msg.credential, msg.major, msg.minor, msg.suggest_major, msg.suggest_minor,
                          msg.request_id, msg.header_and_body())
            return self._in_session(msg, session, seal, address)
        except Duplicate:
            # The same request again: over UDP a client's retransmission, answered by the first copy's
            # answer; over TCP, where nothing is sent twice, a replay.
            if udp:
                return None
            return self._sealed(self.d._error(msg, RC.SESSION_MESSAGE_REJECTED, "this message was already received"),
                                session, seal)
        except HandleError as e:
            return self._sealed(self.d._error(msg, e.rc, e.message), session, seal)

    def _in_session(self, msg: Message, session: Session, seal: bool,
                    address: str | None) -> fp.Answer | Message | None:
        op = msg.opcode
        if op == Op.SESSION_TERMINATE:
            self.table.remove(session.id)
            return self.d._frame(msg, RC.SUCCESS, b"")
        if op in (Op.SESSION_EXCHANGEKEY, Op.CHALLENGE_RESPONSE):
            return _promote(msg, session=session, encrypt_answer=seal, address=address)
        if op in ADMIN_OPS:
            if session.authenticated is not None:
                return _promote(msg, session=session, encrypt_answer=seal, address=address)
            return self._sealed(self._challenge(msg, session), session, seal)
        if op == Op.RESOLUTION:
            out = self.d._resolve(msg, session.authenticated)
            if isinstance(out, Message):
                return out  # recursion: the dispatcher's slow path
            # Non-public values read in a session travel encrypted (Handle.Net's ResolutionResponse).
            return self._sealed(out, session, seal or (session.authenticated is not None and _has_private(out)))
        if op == Op.GET_SITE_INFO:
            return self._sealed(self.d._frame(msg, RC.SUCCESS, self.d.site), session, seal)
        return self._sealed(self.d._error(msg, RC.OPERATION_NOT_SUPPORTED, f"opcode {op} is not supported by this node"),
                            session, seal)

    def _challenge(self, msg: Message, session: Session) -> fp.Answer:
        """A challenge under the session's own id: a right answer authenticates the session."""
        digest = RequestDigest.of(msg.header_and_body(), msg.major, msg.minor)
        nonce = os.urandom(NONCE_SIZE)
        self.table.hold(session, Pending(encode(msg), msg.opcode, getattr(msg.body, "handle", None), nonce,
                                         digest.value, self.table.clock() + CHALLENGE_TTL, session, session.address))
        return self.d._encode(challenge_answer(msg, nonce, session_id=session.id, **self.d._kw()))

    # -- the slow step --------------------------------------------------------------------------
    async def slow(self, msg: SessionMessage, caller: Caller | None = None) -> fp.Answer:
        """A session's message that needs more than ``quick``; ``caller``: as ``Dispatcher.slow`` has it."""
        session = msg.session
        identity: Identity | None = None
        try:
            if msg.opcode == Op.SESSION_SETUP:
                return await self._setup(msg)
            if session is None:
                raise HandleError(RC.SESSION_TIMEOUT, "the session ended")
            if msg.opcode == Op.SESSION_EXCHANGEKEY:
                out = self._exchange_key(msg, session)
            elif msg.opcode == Op.CHALLENGE_RESPONSE:
                out = await self._answered(msg, session, caller)
            else:
                identity = session.authenticated
                caller = self._acting(msg, identity, caller)
                out = await self.d._perform(msg, identity, caller)
        except HandleError as e:
            if caller is not None and not isinstance(e, Referral | SessionError):
                await self.d.service.audit.refused(caller, e, identity)
            out = self.d._refusal(msg, e)
        except Exception:
            log.exception("session request failed (opcode %s)", msg.opcode)
            out = self.d._error(msg, RC.ERROR, "internal error")
        return self._sealed(out, session, msg.encrypt_answer) if session is not None else out

    def _acting(self, msg: Message, identity: Identity, caller: Caller | None) -> Caller | None:
        """``identity`` acts in its authenticated session: counted against the same per-identity rate
        as after a challenge; the caller as asking for what ``msg`` names (for the audit trail)."""
        self.d.service.limits.check_identity(str(identity), time.perf_counter())
        return requested(caller, msg.opcode, getattr(msg.body, "handle", None))

    async def _answered(self, msg: SessionMessage, session: Session, caller: Caller | None) -> fp.Answer:
        pending = self.table.release(session)
        if pending is None or pending.expires <= self.table.clock():
            raise HandleError(RC.AUTHENTICATION_TIMEOUT, "no open challenge in this session: expired or already answered")
        if not isinstance(msg.body, b.ChallengeAnswer):
            raise HandleError(RC.PROTOCOL_ERROR, "not a challenge answer")
        caller = requested(caller, pending.opcode, pending.handle)
        identity = await self.d.auth.identity(msg.body, pending, session.id, _OwnChallenge(), caller)
        # Only the identity named at set-up authenticates the session (as Handle.Net decides); another
        # identity's right answer is good for this one request.
        if session.identity is not None and session.identity[0] == identity.index \
                and fold(session.identity[1]) == identity.folded:
            session.authenticated = identity
        try:
            try:
                original = decode_message(pending.data, self.d.max_message)
            except MessageError as e:
                raise HandleError(e.rc, e.message) from None
            target = replace(original, request_id=msg.request_id, session_id=session.id)
            return await self.d._perform(target, identity, caller)
        except HandleError as e:  # recorded as the authenticated identity's (unless the service did)
            if caller is not None and not isinstance(e, Referral | SessionError):
                await self.d.service.audit.refused(caller, e, identity)
            raise

    async def _setup(self, msg: SessionMessage) -> fp.Answer:
        try:
            req = ps.SessionSetupRequest.read(Reader(msg.body.data if isinstance(msg.body, b.RawBody) else b""))
        except (WireError, HandleError) as e:
            raise HandleError(RC.PROTOCOL_ERROR, f"malformed session set-up: {getattr(e, 'message', e)}") from None
        if msg.version < (2, 7):
            raise SessionError(RC.SESSION_FAILED, "sessions need protocol 2.7 or later here")
        key: bytes | None
        if req.mode == ps.DIFFIE_HELLMAN:
            # A modular exponentiation in the client's group: milliseconds, off the event loop.
            data, key = await asyncio.get_running_loop().run_in_executor(None, dh_exchange, req.public_key)
        elif req.mode == ps.CIPHER_CLIENT:
            data, key = wrap_new_key(rsa_public(req.public_key))
        elif req.mode == ps.CIPHER_HDL:
            data, key = wrap_new_key(rsa_public(self._exchange_key_value(req)))
        elif req.mode == ps.CIPHER_SERVER:
            private = self.d.certifier.key if self.d.certifier is not None else None
            if not isinstance(private, rsa.RSAPrivateKey):
                raise SessionError(RC.SESSION_FAILED, "server-cipher sessions need an RSA node key")
            from ..keys.keyfiles import hs_pubkey
            data, key = hs_pubkey(private), None
        else:
            raise SessionError(RC.SESSION_FAILED, f"key exchange mode {req.mode} is not supported")
        identity = None if req.anonymous else (req.identity_index, req.identity_handle)
        session = self.table.open(msg.address, req.mode, req.timeout, identity, msg.version)
        session.key = key
        session.encrypt_all = False  # Handle.Net's client asks per message (ENC, or an encrypted envelope)
        body = ps.SessionSetupResponse(req.mode, data)
        return self.d._encode(answer(msg, _Raw(body), session_id=session.id, **self.d._kw()))

    def _exchange_key_value(self, req: ps.SessionSetupRequest) -> bytes:
        with self.d.service.store.read() as tx:
            rec = tx.get_handle(req.exchange_handle)
        for v in rec.values if rec else ():
            if v.index == req.exchange_index and v.type == HS_PUBKEY:
                return v.data
        raise SessionError(RC.SESSION_FAILED, f"no HS_PUBKEY at {req.exchange_index}:{req.exchange_handle}")

    def _exchange_key(self, msg: SessionMessage, session: Session) -> fp.Answer:
        if session.mode != ps.CIPHER_SERVER or session.key is not None:
            raise SessionError(RC.SESSION_FAILED, "this session takes no key exchange")
        private = self.d.certifier.key if self.d.certifier is not None else None
        if not isinstance(private, rsa.RSAPrivateKey):
            raise SessionError(RC.SESSION_FAILED, "server-cipher sessions need an RSA node key")
        try:
            req = ps.ExchangeKeyRequest.read(Reader(msg.body.data if isinstance(msg.body, b.RawBody) else b""))
        except (WireError, HandleError):
            raise HandleError(RC.PROTOCOL_ERROR, "malformed key exchange") from None
        session.cipher, session.key = unwrap_key(private, req.encrypted_key)
        return self.d._frame(msg, RC.SUCCESS, b"")

    # -- ciphers ---------------------------------------------------------------------------------
    @staticmethod
    def _decrypted(data: bytes, session: Session) -> bytes:
        return fp.with_payload(data, decrypt(session.key, fp.payload(data)), encrypted=False)

    @staticmethod
    def _sealed(out: fp.Answer | None, session: Session | None, seal: bool) -> fp.Answer | None:
        if out is None or not seal or session is None or session.key is None:
            return out
        cipher = encrypt(session.key, fp.payload(out.data))
        return out._replace(data=fp.with_payload(out.data, cipher, encrypted=True))

    def _envelope_error(self, data: bytes, rc: int, message: str) -> fp.Answer:
        from protocol.envelope import Envelope
        try:
            env = Envelope.read(Reader(data, 0, ENVELOPE_SIZE), 1 << 32)
        except HandleError:
            env = None
        env = Envelope(env.major, env.minor, env.session_id, env.request_id) if env else None
        return self.d._undecodable(MessageError(rc, message, env, fp.opcode(data)))


def _has_private(answer: fp.Answer) -> bool:
    try:
        msg = decode_message(answer.data)
    except MessageError:
        return False
    return isinstance(msg.body, b.ResolutionResponse) and any(not v.public_read for v in msg.body.values)


@dataclass(frozen=True, slots=True)
class _Raw:
    """A session set-up answer body, written as protocol/sessions.py lays it out."""

    body: ps.SessionSetupResponse

    def write(self, w) -> None:
        self.body.write(w)

