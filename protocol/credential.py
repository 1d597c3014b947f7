"""The credential section of a message (RFC 3651 §2.2.4): who signed it, and the signature.

On the wire: a 4-byte length (0 when the message is unsigned), then::

    version u8 | reserved u8 | options u16 | signer handle (len+bytes) | signer index u32 |
    type (len+bytes, "HS_SIGNED" or "HS_MAC") | signed-info length u32 |
    digest algorithm (len+bytes, e.g. "SHA-256") | signed data (len+bytes)

A server's signature on an answer (the CT op-flag) is laid out as Handle.Net's ``signMessage``
writes it: version 0, flags 0, an empty signer handle (a placeholder: the signer is the server whose
site information the client holds), the session counter in the signer-index slot (0 outside a
session), type HS_SIGNED, and digest algorithm "SHA-256" (protocol 2.7 and later) or "SHA1".
``signed_data`` is what that signature covers. Making and checking it needs keys and belongs in
resolver/ (resolver/keys/certify.py); this module only carries the fields.
"""

from __future__ import annotations

from dataclasses import dataclass

from .wire import Reader, WireError, Writer

SIGNED = "HS_SIGNED"
MAC = "HS_MAC"
MAX_CREDENTIAL = 64 * 1024


@dataclass(frozen=True, slots=True)
class Credential:
    signer_handle: str
    signer_index: int
    type: str
    digest_algorithm: str
    signature: bytes
    version: int = 0
    options: int = 0

    def to_wire(self) -> bytes:
        inner = Writer().text(self.digest_algorithm).blob(self.signature).getvalue()
        w = Writer().u8(self.version).u8(0).u16(self.options)
        w.text(self.signer_handle).u32(self.signer_index).text(self.type).blob(inner)
        return w.getvalue()

    @classmethod
    def from_wire(cls, data: bytes) -> Credential:
        r = Reader(data)
        version = r.u8("credential version")
        r.u8("credential reserved")
        options = r.u16("credential options")
        handle = r.text("credential signer handle", 1024)
        index = r.u32("credential signer index")
        ctype = r.text("credential type", 256)
        info_len = r.u32("credential signed-info length")
        if info_len != r.remaining:
            raise WireError(f"credential: signed-info length {info_len}, {r.remaining} bytes left")
        alg = r.text("credential digest algorithm", 256)
        sig = r.blob("credential signature", MAX_CREDENTIAL)
        r.done("credential")
        return cls(handle, index, ctype, alg, sig, version, options)


def signed_data(major: int, minor: int, suggest_major: int, suggest_minor: int, session_id: int, request_id: int,
                counter: int, header_and_body: bytes) -> bytes:
    """The bytes an HS_SIGNED credential signs (and an HS_MAC one MACs), by the message's version:

    - 2.8 and later: major minor suggested-major suggested-minor | session id | request id |
      session counter | header and body;
    - 2.7: the same without the suggested version;
    - 2.6: what Handle.Net's 2.6 code produced by mistake, kept so such peers still verify: the
      version, the first half of the session id, the counter, then six zero bytes;
    - before 2.6: the header and body alone.
    """
    version = (major, minor)
    if version < (2, 6):
        return header_and_body
    if version == (2, 6):
        w = Writer().u8(major).u8(minor).raw(session_id.to_bytes(4, "big")[:2]).u32(counter).raw(bytes(6))
        return w.raw(header_and_body).getvalue()
    w = Writer().u8(major).u8(minor)
    if version >= (2, 8):
        w.u8(suggest_major).u8(suggest_minor)
    return w.u32(session_id).u32(request_id).u32(counter).raw(header_and_body).getvalue()


def write_section(w: Writer, cred: Credential | None) -> None:
    """The credential section: its length, then the credential (or a length of 0)."""
    if cred is None:
        w.u32(0)
    else:
        w.blob(cred.to_wire())


def read_section(r: Reader) -> Credential | None:
    """Read the credential section; a message that ends right after its body has none."""
    if r.remaining == 0:
        return None
    data = r.blob("credential", MAX_CREDENTIAL)
    return Credential.from_wire(data) if data else None
