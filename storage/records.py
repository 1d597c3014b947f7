"""How a handle record is laid out in LMDB: msgpack of the registered spelling and its values."""

from __future__ import annotations

from dataclasses import dataclass

import msgpack

from protocol.values import HandleValue

_pack = msgpack.Packer(use_bin_type=True).pack


@dataclass(slots=True)
class Record:
    handle: str  # the spelling it was registered with
    values: list[HandleValue]


def pack_record(handle: str, values: list[HandleValue]) -> bytes:
    """A value is a tuple, which msgpack writes as an array: index, type, data, ttl, ttl type,
    timestamp, permissions, references, format hint."""
    return _pack((handle, values))


_new = tuple.__new__


def unpack_record(raw: bytes) -> Record:
    handle, vals = msgpack.unpackb(raw, raw=False, use_list=False)
    return Record(handle, [
        _new(HandleValue, (i, t, d, ttl, tt, ts, p, tuple(tuple(r) for r in refs) if refs else (), fmt))
        for i, t, d, ttl, tt, ts, p, refs, fmt in vals
    ])


def pack(obj: object) -> bytes:
    return _pack(obj)


def unpack(raw: bytes) -> object:
    return msgpack.unpackb(raw, raw=False)
