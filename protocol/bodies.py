"""Message bodies (RFC 3651 §3): one small immutable class per kind, each with read/write.

A body never includes the request digest: that is part of the message (see message.py), read
before the body when an answer has the RD flag.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from .digest import RequestDigest
from .valuelist import (
    MAX_TYPE,
    read_handle,
    read_indexes,
    read_values,
    write_indexes,
    write_values,
)
from .values import HandleValue
from .wire import Reader, WireError, Writer

# -- requests ---------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class ResolutionRequest:
    handle: str
    indexes: tuple[int, ...] = ()
    types: tuple[str, ...] = ()

    def write(self, w: Writer) -> None:
        w.text(self.handle)
        write_indexes(w, self.indexes)
        w.u32(len(self.types))
        for t in self.types:
            w.text(t)

    @classmethod
    def read(cls, r: Reader) -> ResolutionRequest:
        handle = read_handle(r)
        indexes = read_indexes(r)
        n = r.count("type list", 4)
        return cls(handle, indexes, tuple(r.text("type", MAX_TYPE) for _ in range(n)))


@dataclass(frozen=True, slots=True)
class GenericRequest:
    """A request whose body is at most a handle and usually empty: get site info, end a session…"""

    handle: str | None = None

    def write(self, w: Writer) -> None:
        if self.handle is not None:
            w.text(self.handle)

    @classmethod
    def read(cls, r: Reader) -> GenericRequest:
        return cls(None if r.remaining == 0 else read_handle(r))


@dataclass(frozen=True, slots=True)
class ValuesRequest:
    """A handle and values: create handle, add value and modify value share this layout."""

    handle: str
    values: tuple[HandleValue, ...] = ()

    def write(self, w: Writer) -> None:
        w.text(self.handle)
        write_values(w, self.values)

    @classmethod
    def read(cls, r: Reader) -> ValuesRequest:
        return cls(read_handle(r), read_values(r))


@dataclass(frozen=True, slots=True)
class CreateHandleRequest(ValuesRequest):
    """Opcode 100; with the MINT op-flag the server picks the suffix."""


@dataclass(frozen=True, slots=True)
class AddValueRequest(ValuesRequest):
    """Opcode 102."""


@dataclass(frozen=True, slots=True)
class ModifyValueRequest(ValuesRequest):
    """Opcode 104: replace the values at these indexes."""


@dataclass(frozen=True, slots=True)
class HandleRequest:
    """A request naming one handle: delete handle, list handles (of a prefix handle such as
    ``0.NA/88.101.5``), list prefixes, home or unhome a prefix."""

    handle: str

    def write(self, w: Writer) -> None:
        w.text(self.handle)

    @classmethod
    def read(cls, r: Reader) -> HandleRequest:
        return cls(read_handle(r))


@dataclass(frozen=True, slots=True)
class RemoveValueRequest:
    handle: str
    indexes: tuple[int, ...] = ()

    def write(self, w: Writer) -> None:
        w.text(self.handle)
        write_indexes(w, self.indexes)

    @classmethod
    def read(cls, r: Reader) -> RemoveValueRequest:
        return cls(read_handle(r), read_indexes(r))


SECKEY = "HS_SECKEY"
PUBKEY = "HS_PUBKEY"


@dataclass(frozen=True, slots=True)
class ChallengeAnswer:
    """The client's answer to a 402 challenge (opcode 200): who it is and the proof.

    ``response`` is, for HS_SECKEY, one algorithm byte (1 MD5, 2 SHA-1, 3 SHA-256, 0x12 HMAC-SHA1,
    0x13 HMAC-SHA256, 0x22 PBKDF2-HMAC-SHA1) then the MAC over nonce+request digest; for HS_PUBKEY,
    the signature algorithm name and the signature, both length-prefixed.
    """

    auth_type: str
    handle: str
    index: int
    response: bytes

    def write(self, w: Writer) -> None:
        w.text(self.auth_type).text(self.handle).u32(self.index).blob(self.response)

    @classmethod
    def read(cls, r: Reader) -> ChallengeAnswer:
        return cls(r.text("auth type", 256), read_handle(r), r.u32("identity index"), r.blob("challenge answer", 1 << 16))

    def seckey_proof(self) -> tuple[int, bytes]:
        """(algorithm code, MAC) of an HS_SECKEY answer."""
        if not self.response:
            raise WireError("HS_SECKEY answer is empty")
        return self.response[0], self.response[1:]

    def pubkey_proof(self) -> tuple[str, bytes]:
        """(signature algorithm, signature) of an HS_PUBKEY answer."""
        r = Reader(self.response)
        alg = r.text("signature algorithm", 256)
        sig = r.blob("signature", 1 << 16)
        r.done("HS_PUBKEY answer")
        return alg, sig


@dataclass(frozen=True, slots=True)
class VerifyRequest:
    """Opcode 201: a server asks the server holding a secret key whether an answer is right."""

    handle: str
    index: int
    nonce: bytes
    digest: RequestDigest
    response: bytes

    def write(self, w: Writer) -> None:
        w.text(self.handle).u32(self.index).blob(self.nonce)
        self.digest.write(w)
        w.blob(self.response)

    @classmethod
    def read(cls, r: Reader) -> VerifyRequest:
        return cls(read_handle(r), r.u32("key index"), r.blob("nonce", 1024), RequestDigest.read(r),
                   r.blob("challenge answer", 1 << 16))


@dataclass(frozen=True, slots=True)
class Deferred:
    """A request body not parsed yet (``decode_message(defer=…)``): its bytes are in ``Message.raw``,
    to be decoded once the sender has been authenticated."""

    def write(self, w: Writer) -> None:
        raise TypeError("a deferred body is decoded before it is written again")


@dataclass(frozen=True, slots=True)
class RawBody:
    """A body this codec does not parse (session set-up, replication…): kept as bytes."""

    data: bytes = b""

    def write(self, w: Writer) -> None:
        w.raw(self.data)

    @classmethod
    def read(cls, r: Reader) -> RawBody:
        return cls(r.raw(r.remaining, "body"))


# -- answers ----------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Empty:
    """A success answer with nothing to say (delete, add, modify, remove…)."""

    def write(self, w: Writer) -> None:
        pass

    @classmethod
    def read(cls, r: Reader) -> Empty:
        return cls()


@dataclass(frozen=True, slots=True)
class ResolutionResponse:
    handle: str
    values: tuple[HandleValue, ...] = ()

    def write(self, w: Writer) -> None:
        w.text(self.handle)
        write_values(w, self.values)

    @classmethod
    def read(cls, r: Reader) -> ResolutionResponse:
        return cls(read_handle(r), read_values(r))


@dataclass(frozen=True, slots=True)
class SiteInfoResponse:
    """The HS_SITE bytes of the answering site, unprefixed (protocol.site parses them)."""

    site: bytes

    def write(self, w: Writer) -> None:
        w.raw(self.site)

    @classmethod
    def read(cls, r: Reader) -> SiteInfoResponse:
        return cls(r.raw(r.remaining, "site info"))


@dataclass(frozen=True, slots=True)
class ListHandlesResponse:
    handles: tuple[str, ...] = ()

    def write(self, w: Writer) -> None:
        w.u32(len(self.handles))
        for h in self.handles:
            w.text(h)

    @classmethod
    def read(cls, r: Reader) -> ListHandlesResponse:
        n = r.count("handle list", 4)
        return cls(tuple(read_handle(r) for _ in range(n)))


@dataclass(frozen=True, slots=True)
class CreateHandleResponse:
    """Success of a create; carries the handle when the server minted its suffix (MINT flag)."""

    handle: str | None = None

    def write(self, w: Writer) -> None:
        if self.handle is not None:
            w.text(self.handle)

    @classmethod
    def read(cls, r: Reader) -> CreateHandleResponse:
        return cls(None if r.remaining == 0 else read_handle(r))


@dataclass(frozen=True, slots=True)
class VerifyResponse:
    valid: bool

    def write(self, w: Writer) -> None:
        w.u8(1 if self.valid else 0)

    @classmethod
    def read(cls, r: Reader) -> VerifyResponse:
        return cls(bool(r.u8("verification result") & 1))


@dataclass(frozen=True, slots=True)
class ReferralResponse:
    """RC 302 (service referral) or 303 (prefix referral): where to ask instead.

    ``handle`` names the service handle (may be empty); ``values`` are its HS_SITE / HS_SERV
    values, or None when the referral names only the handle.
    """

    handle: str
    values: tuple[HandleValue, ...] | None = None

    def write(self, w: Writer) -> None:
        w.text(self.handle)
        if self.values is not None:
            write_values(w, self.values)

    @classmethod
    def read(cls, r: Reader) -> ReferralResponse:
        handle = read_handle(r)
        return cls(handle, read_values(r) if r.remaining else None)


@dataclass(frozen=True, slots=True)
class Challenge:
    """RC 402: the nonce the client must sign or MAC, together with the request digest."""

    nonce: bytes

    def write(self, w: Writer) -> None:
        w.blob(self.nonce)

    @classmethod
    def read(cls, r: Reader) -> Challenge:
        return cls(r.blob("nonce", 1024))


@dataclass(frozen=True, slots=True)
class ErrorResponse:
    """Any other response code: a message (UTF-8; bytes that are not come back unchanged)."""

    message: str = ""

    def write(self, w: Writer) -> None:
        try:
            w.blob(self.message.encode("utf-8", "surrogateescape"))
        except UnicodeEncodeError:
            w.blob(self.message.encode("utf-8", "replace"))

    @classmethod
    def read(cls, r: Reader) -> ErrorResponse:
        return cls(r.blob("error message", 1 << 16).decode("utf-8", "surrogateescape"))


Body = (ResolutionRequest | GenericRequest | HandleRequest | ValuesRequest | RemoveValueRequest | ChallengeAnswer
        | VerifyRequest | RawBody | Empty | ResolutionResponse | SiteInfoResponse | ListHandlesResponse
        | CreateHandleResponse | VerifyResponse | ReferralResponse | Challenge | ErrorResponse)


class _Registry:
    """Which body class an opcode (request) or response code + opcode (answer) carries."""

    REQUESTS: ClassVar[dict[int, type]] = {
        1: ResolutionRequest,
        2: GenericRequest,
        100: CreateHandleRequest, 102: AddValueRequest, 104: ModifyValueRequest,
        101: HandleRequest, 105: HandleRequest, 106: HandleRequest,
        103: RemoveValueRequest,
        200: ChallengeAnswer,
        201: VerifyRequest,
        300: HandleRequest, 301: HandleRequest, 302: HandleRequest,
        401: GenericRequest, 1000: GenericRequest, 1003: GenericRequest,
    }
    SUCCESS: ClassVar[dict[int, type]] = {
        1: ResolutionResponse,
        2: SiteInfoResponse,
        100: CreateHandleResponse,
        105: ListHandlesResponse, 106: ListHandlesResponse, 302: ListHandlesResponse,
        201: VerifyResponse,
        101: Empty, 102: Empty, 103: Empty, 104: Empty, 300: Empty, 301: Empty, 401: Empty,
        402: Empty, 1003: Empty,
    }


def body_class(opcode: int, rc: int) -> type:
    if rc == 0:
        return _Registry.REQUESTS.get(opcode, RawBody)
    if rc == 1:
        return _Registry.SUCCESS.get(opcode, RawBody)
    if rc in (302, 303):
        return ReferralResponse
    if rc == 402:
        return Challenge
    return ErrorResponse
