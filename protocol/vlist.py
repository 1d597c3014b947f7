"""HS_VLIST data (RFC 3651 §3.2.5): a list of handle:index references forming an admin group."""

from __future__ import annotations

from .codes import RC, HandleError
from .values import check_index
from .wire import Reader, Writer


def to_wire(refs: list[tuple[str, int]]) -> bytes:
    w = Writer().u32(len(refs))
    for handle, index in refs:
        w.text(handle).u32(index)
    return w.getvalue()


def from_wire(data: bytes) -> list[tuple[str, int]]:
    r = Reader(data)
    n = r.count("HS_VLIST", 8)
    out = [(r.text("HS_VLIST handle", 1024), r.u32("HS_VLIST index")) for _ in range(n)]
    r.done("HS_VLIST")
    return out


def to_json(refs: list[tuple[str, int]]) -> list[dict]:
    return [{"handle": h, "index": i} for h, i in refs]


def from_json(obj: object) -> list[tuple[str, int]]:
    if not isinstance(obj, list):
        raise HandleError(RC.INVALID_VALUE, "HS_VLIST data must be a list of {handle, index}", field="data")
    out = []
    for item in obj:
        if not isinstance(item, dict) or not isinstance(item.get("handle"), str):
            raise HandleError(RC.INVALID_VALUE, "each HS_VLIST entry needs a 'handle' and an 'index'", field="data")
        out.append((item["handle"], check_index(item.get("index"), where="HS_VLIST index")))
    return out
