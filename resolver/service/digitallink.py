"""The records that answer a GS1 Digital Link: for each level of the key (item, lot, product…), the
handle whose record carries that key (a value of type GS1, storage/gs1index.py), and its links."""

from __future__ import annotations

from protocol.codes import HandleError
from protocol.digitallink import Link, Request, record_links
from storage.records import unpack_record


def digital_link_records(svc, req: Request) -> list[tuple[str, str, list[Link]]]:
    """``(key, handle, links)`` for each level a record carries, most specific first. Each handle is
    listed once, at its most specific level; only public values count (an anonymous resolution)."""
    found: list[tuple[str, str]] = []
    with svc.store.read() as tx:
        for k in req.levels:
            hk = tx.handle_for_gs1(k)
            raw = tx.get_raw(hk) if hk is not None else None
            if raw is not None:
                found.append((k, unpack_record(raw).handle))
    out, seen = [], set()
    for k, handle in found:
        if handle in seen:
            continue
        seen.add(handle)
        try:
            res = svc.resolve(handle)
        except HandleError:  # gone since the index was read
            continue
        values = [(v.type, v.data.decode("utf-8", "replace")) for v in res.values]
        out.append((k, handle, record_links(handle, values)))
    return out


def serves_prefix(svc, prefix: str) -> bool:
    """Does this node serve handles under ``prefix`` (so ``/<prefix>/…`` is a handle, not a Digital Link)?"""
    with svc.store.read() as tx:
        return svc.serves(tx, prefix, "")
