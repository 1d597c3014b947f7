"""Batch request bodies (``POST /api/batch``) decoded into operations with their values.

A batch of 2,000 identifiers is about 800 KB of JSON, and decoding it into dicts and then into
values was half the cost of registering. The common shape (an op, a handle, and values with an
integer index, a type, string data and perhaps a ttl) is decoded straight into typed structs; any
body outside it (other data formats, permissions, or a mistake) takes the exact path, which names
the problem item by item.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import msgspec
import orjson

from .codes import RC, HandleError
from .jsonrepr import values_from_json
from .values import DEFAULT_PERMISSIONS, MAX_INDEX, MAX_TYPE_BYTES, TTL_RELATIVE, HandleValue, stamped


class Operation(NamedTuple):
    op: object  # as sent: the service checks it
    handle: str
    values: list[HandleValue] | None  # None: the item has no values
    indexes: object
    template: object


class Rejected(NamedTuple):
    handle: str | None
    error: HandleError


# gc=False: these structs hold only strings and numbers, so the collector need not track the tens
# of thousands a body makes.
class _StrData(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    value: str
    format: str = "string"


class _Value(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    index: int
    type: str
    data: str | _StrData
    ttl: int = 86400


class _Op(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    handle: str
    op: str = "create"
    values: list[_Value] | None = None
    indexes: list[int] | None = None
    template: str | None = None


class _Batch(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    operations: list[_Op]


_decoder = msgspec.json.Decoder(_Batch | list[_Op])
_new = tuple.__new__


class _NotCommon(Exception):
    """The body is valid JSON of another shape, or holds a mistake: decode it the exact way."""


def _fast(raw: bytes, timestamp: int) -> list[Operation]:
    try:
        doc = _decoder.decode(raw)
    except (msgspec.ValidationError, msgspec.DecodeError):
        raise _NotCommon from None
    ops = doc.operations if isinstance(doc, _Batch) else doc
    out = []
    for o in ops:
        values = None
        if o.values is not None:
            values = []
            for v in o.values:
                d = v.data
                if type(d) is not str:
                    if d.format != "string":
                        raise _NotCommon
                    d = d.value
                if not 0 < v.index <= MAX_INDEX or not 0 <= v.ttl <= 0xFFFFFFFF or (
                        len(v.type) > MAX_TYPE_BYTES // 4 and len(v.type.encode()) > MAX_TYPE_BYTES):
                    raise _NotCommon
                values.append(_new(HandleValue, (v.index, v.type, d.encode(), v.ttl, TTL_RELATIVE, timestamp,
                                                 DEFAULT_PERMISSIONS, (), "string")))
        out.append(Operation(o.op, o.handle, values, o.indexes, o.template))
    return out


def _exact(raw: bytes, timestamp: int) -> list[Operation | Rejected]:
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        raise HandleError(RC.PROTOCOL_ERROR, f"the body is not valid JSON: {e}", field="body") from None
    ops = body.get("operations") if isinstance(body, dict) else body
    if not isinstance(ops, list):
        raise HandleError(RC.INVALID_VALUE, 'body must be {"operations": [...]} or a list of operations',
                          field="operations")
    return decode_operations(ops, timestamp)


def decode_operations(ops: Sequence[object], timestamp: int) -> list[Operation | Rejected]:
    """Operations given as JSON objects (``{"op", "handle", "values", "indexes", "template"}``), each
    checked on its own: what cannot be an operation is a ``Rejected`` naming its problem."""
    out: list[Operation | Rejected] = []
    for item in ops:
        handle = item.get("handle") if isinstance(item, dict) else None
        try:
            if not isinstance(item, dict):
                raise HandleError(RC.INVALID_VALUE, "each operation must be an object with op and handle", field="op")
            if not isinstance(handle, str):
                raise HandleError(RC.INVALID_HANDLE, "handle must be a string", field="handle")
            values = stamped(values_from_json(item["values"]), timestamp) if "values" in item else None
            out.append(Operation(item.get("op", "create"), handle, values, item.get("indexes"), item.get("template")))
        except HandleError as e:
            out.append(Rejected(handle if isinstance(handle, str) else None, e))
    return out


def decode_batch(raw: bytes, timestamp: int) -> list[Operation | Rejected]:
    """Each operation of the body, or why it cannot be one. A body that is no batch at all raises.
    Every value carries ``timestamp``, the write's time (a timestamp sent in the body is not kept).
    """
    try:
        return _fast(raw, timestamp)
    except _NotCommon:
        return _exact(raw, timestamp)


# --- the typed request and results of a batch --------------------------------------------------------

BYTES_PER_ITEM = 200  # a small registration's JSON: the estimate errs towards more items, not fewer
OK_STATUS = {"created": 201, "replaced": 200, "updated": 200, "unchanged": 200, "deleted": 200, "absent": 200}


@dataclass(frozen=True, slots=True)
class Batch:
    """Operations to apply in one commit. They are decoded by ``operations(timestamp)``, which the
    service calls on the writer thread just before the transaction (storage/commit.py), with the
    write's time that every value carries; ``weight`` is about how many items the batch holds.

    Build one with ``Batch.json`` (a ``POST /api/batch`` body), ``Batch.encoded`` (another
    transport's body and its decoder), or ``Batch.of`` (operations already typed)."""

    decode: Callable[[int], Sequence[Operation | Rejected]]
    weight: int = 1

    def operations(self, timestamp: int) -> Sequence[Operation | Rejected]:
        return self.decode(timestamp)

    @classmethod
    def encoded(cls, raw: bytes, decode: Callable[[bytes, int], Sequence[Operation | Rejected]]) -> Batch:
        return cls(lambda timestamp: decode(raw, timestamp), max(1, len(raw) // BYTES_PER_ITEM))

    @classmethod
    def json(cls, raw: bytes) -> Batch:
        return cls.encoded(raw, decode_batch)

    @classmethod
    def of(cls, ops: Sequence[Operation | Rejected]) -> Batch:
        """Typed operations; their values are stamped with the write's time."""
        ops = tuple(ops)

        def decode(timestamp: int) -> list[Operation | Rejected]:
            return [o if isinstance(o, Rejected) or o.values is None
                    else o._replace(values=stamped(o.values, timestamp)) for o in ops]

        return cls(decode, max(1, len(ops)))


@dataclass(frozen=True, slots=True)
class ItemResult:
    """One item's outcome: what was done (``created``, ``replaced``, ``updated``, ``unchanged``,
    ``deleted``, ``absent``), or the refusal (its class is the kind, protocol/refusals.py)."""

    handle: str | None
    result: str | None = None
    refusal: HandleError | None = None

    @property
    def rc(self) -> int:
        return RC.SUCCESS if self.refusal is None else self.refusal.rc

    @property
    def ok(self) -> bool:
        return self.refusal is None


@dataclass(frozen=True, slots=True)
class BatchResult:
    """A result per item, in the order of the request."""

    results: tuple[ItemResult, ...]

    @property
    def failed(self) -> int:
        return sum(1 for r in self.results if r.refusal is not None)

    @property
    def succeeded(self) -> int:
        return len(self.results) - self.failed


def encode_item(r: ItemResult) -> dict:
    """An item's JSON in ``POST /api/batch``'s answer: its HTTP status as the single request would get."""
    err = r.refusal
    if err is not None:
        out = {"handle": r.handle, "responseCode": err.rc, "status": err.status, "message": err.message}
        if err.field:
            out["field"] = err.field
        return out
    return {"handle": r.handle, "responseCode": RC.SUCCESS, "status": OK_STATUS[r.result], "result": r.result}


def encode_batch_result(done: BatchResult) -> dict:
    """The JSON answer of ``POST /api/batch``."""
    failed = done.failed
    return {"responseCode": RC.SUCCESS, "total": len(done.results), "succeeded": len(done.results) - failed,
            "failed": failed, "results": [encode_item(r) for r in done.results]}
