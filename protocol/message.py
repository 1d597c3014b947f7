"""A whole Handle message (RFC 3651 §2.2): envelope, header, body, credential; bytes ⇄ Message.

``decode_message(data)`` turns one complete message (a UDP datagram, or a frame cut by
``framing.TcpFramer``) into a ``Message`` or raises ``MessageError`` (a ``HandleError`` with the
response code to answer and, when the envelope could be read, the envelope to answer to).
``encode(msg)`` is its inverse. The ``*_answer`` builders make answers that echo what Handle.Net
echoes: version, session id, request id; the request digest when RD was asked.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from .bodies import (
    Body,
    Challenge,
    Deferred,
    Empty,
    ErrorResponse,
    RawBody,
    ReferralResponse,
    ResolutionResponse,
    SiteInfoResponse,
    body_class,
)
from .codes import RC, HandleError
from .credential import Credential, read_section, write_section
from .digest import RequestDigest
from .envelope import (
    AT,
    CN,
    CT,
    ENV_COMPRESSED,
    ENV_ENCRYPTED,
    ENV_TRUNCATED,
    ENVELOPE_SIZE,
    HEADER_SIZE,
    KA,
    PO,
    RD,
    REC,
    Envelope,
    Header,
)
from .values import HandleValue
from .wire import Reader, WireError, Writer

MAX_MESSAGE = 4 * 1024 * 1024
# The version this node offers in the envelope of its answers.
OUR_VERSION = (2, 10)
# Op-flags an answer carries whatever was asked (as Handle.Net 9.3.1 answers), and those it echoes
# (an answer to a CT request says it is certified; the server signs it, resolver/keys/certify.py).
ANSWER_FLAGS = AT | REC
ECHOED_FLAGS = PO | KA | CT


class MessageError(HandleError):
    """A message that could not be decoded; ``envelope`` is set when its envelope was readable,
    so that the error answer can echo the request id, session id and version."""

    def __init__(self, rc: int, message: str, envelope: Envelope | None = None, opcode: int = 0):
        super().__init__(rc, message)
        self.envelope = envelope
        self.opcode = opcode


@dataclass(frozen=True, slots=True)
class Message:
    opcode: int
    body: Body
    rc: int = 0
    opflags: int = 0
    major: int = 2
    minor: int = 10
    session_id: int = 0
    request_id: int = 0
    sequence: int = 0
    site_serial: int = 0xFFFF
    recursion: int = 0
    expiration: int = 0
    digest: RequestDigest | None = None  # answers with RD only: the digest of the request
    credential: Credential | None = None
    env_flags: int = 0
    suggest_major: int = 0
    suggest_minor: int = 0
    # Header and body exactly as received (what a request digest or a signature covers). A copy
    # made with dataclasses.replace keeps it: pass raw=b"" when the copy changes header or body.
    raw: bytes = field(default=b"", compare=False, repr=False)

    @property
    def is_request(self) -> bool:
        return self.rc == 0

    @property
    def version(self) -> tuple[int, int]:
        return (self.major, self.minor)

    @property
    def truncated(self) -> bool:
        return bool(self.env_flags & ENV_TRUNCATED)

    def has(self, flag: int) -> bool:
        return bool(self.opflags & flag)

    def header_and_body(self) -> bytes:
        """What a request digest covers: the bytes received, or the encoding of a built message."""
        return self.raw or _encode_parts(self)[1]


def _wire_opflags(msg: Message) -> int:
    if msg.rc == 0:
        return msg.opflags
    # In an answer the RD flag says that a digest leads the body.
    return (msg.opflags | RD) if msg.digest is not None else (msg.opflags & ~RD)


def _encode_parts(msg: Message) -> tuple[Envelope, bytes, bytes]:
    """(envelope, header+body, credential section)."""
    bw = Writer()
    if msg.rc != 0 and msg.digest is not None:
        msg.digest.write(bw)
    msg.body.write(bw)
    body = bw.getvalue()
    hw = Writer()
    Header(msg.opcode, msg.rc, _wire_opflags(msg), msg.site_serial, msg.recursion, msg.expiration,
           len(body)).write(hw)
    hw.raw(body)
    cw = Writer()
    write_section(cw, msg.credential)
    header_and_body, cred = hw.getvalue(), cw.getvalue()
    env = Envelope(msg.major, msg.minor, msg.session_id, msg.request_id, msg.sequence,
                   len(header_and_body) + len(cred), msg.env_flags, msg.suggest_major, msg.suggest_minor)
    return env, header_and_body, cred


def encode(msg: Message) -> bytes:
    env, header_and_body, cred = _encode_parts(msg)
    return env.to_bytes() + header_and_body + cred


def decode_envelope(data: bytes | memoryview, max_length: int = MAX_MESSAGE) -> Envelope:
    """Just the envelope (the first 20 bytes): enough to answer an error or to frame TCP."""
    return Envelope.read(Reader(data, 0, min(len(data), ENVELOPE_SIZE)), max_length)


DEFERRED = Deferred()


def decode_message(data: bytes | memoryview, max_length: int = MAX_MESSAGE,
                   defer: frozenset[int] = frozenset()) -> Message:
    """One complete message. Raises MessageError, nothing else, whatever the bytes.

    A request whose opcode is in ``defer`` keeps its body unparsed (``Deferred``; the lengths are
    checked): a server parses an administrative request only once its sender is authenticated."""
    try:
        env = Envelope.read(Reader(data, 0, min(len(data), ENVELOPE_SIZE)), max_length)
    except HandleError as e:
        raise MessageError(e.rc, e.message) from None
    opcode = 0
    try:
        if len(data) - ENVELOPE_SIZE != env.length:
            raise WireError(f"envelope says {env.length} bytes follow, {len(data) - ENVELOPE_SIZE} do")
        if env.flags & (ENV_ENCRYPTED | ENV_COMPRESSED):
            raise HandleError(RC.OPERATION_NOT_SUPPORTED, "encrypted or compressed messages are not supported")
        r = Reader(data, ENVELOPE_SIZE)
        header = Header.read(r)
        opcode = header.opcode
        if env.flags & ENV_TRUNCATED:
            # A truncated answer: only the header is meaningful; the client retries over TCP.
            body_r = Reader(data, r.pos, r.pos + min(header.body_length, r.remaining))
            digest, body, cred = None, RawBody(body_r.raw(body_r.remaining)), None
        else:
            if header.body_length > r.remaining:
                raise WireError(f"body length {header.body_length}, {r.remaining} bytes left")
            body_r = Reader(data, r.pos, r.pos + header.body_length)
            digest = None
            if header.rc != 0 and header.opflags & RD:
                digest = RequestDigest.read(body_r)
            if header.rc == 0 and header.opcode in defer:
                body, body_r.pos = DEFERRED, body_r.end
            else:
                body = body_class(header.opcode, header.rc).read(body_r)
            body_r.done("body")
            r.pos = body_r.end
            cred = read_section(r)
            r.done("message")
        raw = bytes(data[ENVELOPE_SIZE:ENVELOPE_SIZE + HEADER_SIZE + header.body_length])
        return Message(header.opcode, body, header.rc, header.opflags, env.major, env.minor, env.session_id,
                       env.request_id, env.sequence, header.site_serial, header.recursion, header.expiration,
                       digest, cred, env.flags, env.suggest_major, env.suggest_minor, raw)
    except MessageError:
        raise
    except HandleError as e:
        raise MessageError(e.rc, e.message, env, opcode) from None


# -- answers ----------------------------------------------------------------------------------

def answer(request: Message, body: Body, rc: int = RC.SUCCESS, *, site_serial: int = 0xFFFF,
           expiration: int = 0, digest: bool | None = None, session_id: int | None = None,
           extra_flags: int = 0, suggest: tuple[int, int] = OUR_VERSION) -> Message:
    """An answer to ``request``: same version, session and request id; the request digest when the
    request set RD (or when ``digest`` is True, as for a challenge)."""
    want_digest = request.has(RD) if digest is None else digest
    return Message(
        opcode=request.opcode, body=body, rc=int(rc),
        opflags=ANSWER_FLAGS | (request.opflags & ECHOED_FLAGS) | extra_flags | (RD if want_digest else 0),
        major=request.major, minor=request.minor,
        session_id=request.session_id if session_id is None else session_id,
        request_id=request.request_id, sequence=0, site_serial=site_serial, expiration=expiration,
        digest=RequestDigest.of(request.header_and_body(), request.major, request.minor) if want_digest else None,
        suggest_major=suggest[0], suggest_minor=suggest[1],
    )


def resolution_answer(request: Message, handle: str, values: list[HandleValue] | tuple[HandleValue, ...],
                      **kw) -> Message:
    return answer(request, ResolutionResponse(handle, tuple(values)), **kw)


def site_info_answer(request: Message, site: bytes, **kw) -> Message:
    return answer(request, SiteInfoResponse(site), **kw)


def success_answer(request: Message, **kw) -> Message:
    return answer(request, Empty(), **kw)


def error_answer(request: Message, rc: int, message: str = "", **kw) -> Message:
    return answer(request, ErrorResponse(message), rc, **kw)


def referral_answer(request: Message, handle: str, values: list[HandleValue] | tuple[HandleValue, ...] | None,
                    rc: int = RC.SERVICE_REFERRAL, **kw) -> Message:
    """RC 302 (service referral) or 303 (prefix referral) naming ``handle`` and its site values."""
    return answer(request, ReferralResponse(handle, None if values is None else tuple(values)), rc, **kw)


def challenge_answer(request: Message, nonce: bytes, session_id: int | None = None, **kw) -> Message:
    """RC 402 with the nonce; always with the request digest (the client signs nonce + digest)."""
    return answer(request, Challenge(nonce), RC.AUTHENTICATION_NEEDED, digest=True, session_id=session_id, **kw)


def error_for_undecodable(err: MessageError, *, site_serial: int = 0xFFFF, expiration: int = 0) -> Message:
    """The answer to bytes that did not decode: echo what the envelope gave, if anything."""
    env = err.envelope or Envelope(2, 1, request_id=0xFFFFFFFF)
    return Message(opcode=err.opcode, body=ErrorResponse(err.message), rc=err.rc, opflags=ANSWER_FLAGS,
                   major=env.major, minor=env.minor, session_id=env.session_id, request_id=env.request_id,
                   site_serial=site_serial, expiration=expiration,
                   suggest_major=OUR_VERSION[0], suggest_minor=OUR_VERSION[1])


def with_sequence(msg: Message, sequence: int, more: bool) -> Message:
    """One part of a multi-message answer (TCP): sequence number, and CN while more follow."""
    return replace(msg, sequence=sequence, opflags=(msg.opflags | CN) if more else (msg.opflags & ~CN))
