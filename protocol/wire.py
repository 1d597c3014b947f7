"""Bounded big-endian reader and writer: the only code that slices wire bytes."""

from __future__ import annotations

import struct

from .codes import RC, HandleError

_U32 = struct.Struct(">I")
_U16 = struct.Struct(">H")


class WireError(HandleError):
    """The peer sent bytes that do not parse: answered with RC 4 (protocol error)."""

    def __init__(self, message: str):
        super().__init__(RC.PROTOCOL_ERROR, message)


class Reader:
    """Reads from a bytes-like object; every length is checked against what is left and a limit."""

    __slots__ = ("buf", "pos", "end")

    def __init__(self, buf: bytes | memoryview, pos: int = 0, end: int | None = None):
        self.buf = buf
        self.pos = pos
        self.end = len(buf) if end is None else end

    @property
    def remaining(self) -> int:
        return self.end - self.pos

    def _need(self, n: int, what: str) -> None:
        if n < 0 or self.pos + n > self.end:
            raise WireError(f"{what}: needs {n} bytes, {self.end - self.pos} left")

    def u8(self, what: str = "byte") -> int:
        self._need(1, what)
        v = self.buf[self.pos]
        self.pos += 1
        return v

    def u16(self, what: str = "u16") -> int:
        self._need(2, what)
        (v,) = _U16.unpack_from(self.buf, self.pos)
        self.pos += 2
        return v

    def u32(self, what: str = "u32") -> int:
        self._need(4, what)
        (v,) = _U32.unpack_from(self.buf, self.pos)
        self.pos += 4
        return v

    def raw(self, n: int, what: str = "bytes") -> bytes:
        self._need(n, what)
        v = bytes(self.buf[self.pos:self.pos + n])
        self.pos += n
        return v

    def blob(self, what: str = "byte string", limit: int = 1 << 24) -> bytes:
        """A 4-byte length then that many bytes."""
        n = self.u32(what + " length")
        if n > limit:
            raise WireError(f"{what}: length {n} over the limit {limit}")
        return self.raw(n, what)

    def text(self, what: str = "string", limit: int = 1 << 16) -> str:
        """A length-prefixed UTF-8 string."""
        b = self.blob(what, limit)
        try:
            return b.decode("utf-8")
        except UnicodeDecodeError:
            raise WireError(f"{what}: not valid UTF-8") from None

    def count(self, what: str, item_min_size: int) -> int:
        """A 4-byte item count that the remaining bytes could actually hold."""
        n = self.u32(what + " count")
        if item_min_size and n > self.remaining // item_min_size:
            raise WireError(f"{what}: count {n} cannot fit in {self.remaining} bytes")
        return n

    def done(self, what: str) -> None:
        if self.pos != self.end:
            raise WireError(f"{what}: {self.end - self.pos} unexpected trailing bytes")


class Writer:
    __slots__ = ("parts",)

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def u8(self, v: int) -> Writer:
        self.parts.append(bytes((v,)))
        return self

    def u16(self, v: int) -> Writer:
        self.parts.append(_U16.pack(v))
        return self

    def u32(self, v: int) -> Writer:
        self.parts.append(_U32.pack(v))
        return self

    def raw(self, b: bytes) -> Writer:
        self.parts.append(bytes(b))
        return self

    def blob(self, b: bytes) -> Writer:
        self.parts.append(_U32.pack(len(b)))
        self.parts.append(bytes(b))
        return self

    def text(self, s: str) -> Writer:
        return self.blob(s.encode("utf-8"))

    def getvalue(self) -> bytes:
        return b"".join(self.parts)
