"""The credential section of a message (RFC 3651 §2.2.4): who signed it, and the signature.

On the wire: a 4-byte length (0 when the message is unsigned), then::

    version u8 | reserved u8 | options u16 | signer handle (len+bytes) | signer index u32 |
    type (len+bytes, "HS_SIGNED" or "HS_MAC") | signed-info length u32 |
    digest algorithm (len+bytes, e.g. "SHA-256") | signed data (len+bytes)

Handle.Net signs ``major minor suggested-major suggested-minor session-id request-id
session-counter`` followed by the header and body; checking that signature needs keys and belongs
in resolver/, this module only carries the fields.
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
