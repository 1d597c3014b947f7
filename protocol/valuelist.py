"""Values as messages carry them (RFC 3651 §3.1 on the wire), and the small lists around them.

A value: index(4) timestamp(4) ttlType(1) ttl(4) permissions(1) type(len+bytes) data(len+bytes)
references(count, then handle(len+bytes) and index(4) each). It decodes to
``protocol.values.HandleValue``; that class's ``fmt`` (how a JSON client wrote the data) is not on
the wire.
"""

from __future__ import annotations

from .values import HandleValue
from .wire import Reader, Writer

MAX_HANDLE = 4096  # bytes; registration limits are checked elsewhere, this only bounds parsing
MAX_TYPE = 4096
VALUE_MIN_SIZE = 26  # index, timestamp, ttl type, ttl, permissions, three empty length fields


def write_value(w: Writer, v: HandleValue) -> None:
    """index(4) timestamp(4) ttlType(1) ttl(4) permissions(1) type data references."""
    w.u32(v.index).u32(v.timestamp).u8(v.ttl_type).u32(v.ttl).u8(v.permissions)
    w.text(v.type).blob(v.data).u32(len(v.references))
    for handle, index in v.references:
        w.text(handle).u32(index)


def read_value(r: Reader) -> HandleValue:
    index = r.u32("value index")
    timestamp = r.u32("value timestamp")
    ttl_type = r.u8("value ttl type")
    ttl = r.u32("value ttl")
    perms = r.u8("value permissions")
    vtype = r.text("value type", MAX_TYPE)
    data = r.blob("value data")
    n = r.count("value references", 8)
    refs = tuple((r.text("reference handle", MAX_HANDLE), r.u32("reference index")) for _ in range(n))
    return HandleValue(index=index, type=vtype, data=data, ttl=ttl, ttl_type=ttl_type,
                       timestamp=timestamp, permissions=perms, references=refs)


def write_values(w: Writer, values: tuple[HandleValue, ...]) -> None:
    w.u32(len(values))
    for v in values:
        write_value(w, v)


def read_values(r: Reader) -> tuple[HandleValue, ...]:
    n = r.count("values", VALUE_MIN_SIZE)
    return tuple(read_value(r) for _ in range(n))


def encode_value(v: HandleValue) -> bytes:
    w = Writer()
    write_value(w, v)
    return w.getvalue()


def decode_value(data: bytes) -> HandleValue:
    r = Reader(data)
    v = read_value(r)
    r.done("value")
    return v


def read_indexes(r: Reader) -> tuple[int, ...]:
    n = r.count("index list", 4)
    return tuple(r.u32("index") for _ in range(n))


def write_indexes(w: Writer, indexes: tuple[int, ...]) -> None:
    w.u32(len(indexes))
    for i in indexes:
        w.u32(i)


def read_handle(r: Reader) -> str:
    return r.text("handle", MAX_HANDLE)
