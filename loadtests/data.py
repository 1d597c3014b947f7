"""Generated identifiers: realistic records, JSON Lines for ``idnode import``, batch bodies, path lists."""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path

import orjson

PREFIX = "88.101.5"
ADMIN_IDENTITY = f"300:0.NA/{PREFIX}"
ENTERPRISE_SECRET = "bench-enterprise-secret"
NODE_PREFIX = "88.101"
NODE_SECRET = "bench-node-admin-secret"

PRODUCTS = ("Centrifugal pump CP-40", "Servo motor SM-750", "Hydraulic valve HV-12", "PLC controller X2",
            "Bearing 6204-2RS", "Pressure sensor PS-100", "Gearbox GB-3", "Conveyor belt CB-800")


def handle(kind: str, i: int) -> str:
    """``88.101.5/SN-00000042``: ``kind`` keeps the sets apart (SN loaded, NX unknown, IMP import, B<run> batch)."""
    return f"{PREFIX}/{kind}-{i:08d}"


def _string(index: int, vtype: str, value: str) -> dict:
    return {"index": index, "type": vtype, "data": {"format": "string", "value": value}}


def values(i: int) -> list[dict]:
    """A URL at index 1 and two or three user-data values from index 2000, as the REST API writes them."""
    out = [
        _string(1, "URL", f"https://trace.example.com/p/{i:08d}"),
        _string(2000, "productName", PRODUCTS[i % len(PRODUCTS)]),
        _string(2001, "batch", f"LOT-2024-{i % 997:04d}"),
    ]
    if i % 3:
        out.append(_string(2002, "manufactureDate", f"2024-{1 + i % 12:02d}-{1 + i % 28:02d}"))
    return out


def write_jsonl(path: Path, kind: str, count: int) -> int:
    """``count`` records, one JSON object a line, as ``idnode import`` reads them; returns the bytes written."""
    size = 0
    with open(path, "wb", buffering=1 << 20) as fh:
        for i in range(count):
            line = orjson.dumps({"handle": handle(kind, i), "values": values(i)}) + b"\n"
            fh.write(line)
            size += len(line)
    return size


def write_paths(path: Path, kind: str, count: int) -> None:
    """The request paths wrk picks from at random, one a line."""
    with open(path, "w") as fh:
        for i in range(count):
            fh.write(f"/api/handles/{handle(kind, i)}\n")


def batch_bodies(kind: str, total: int, size: int) -> list[bytes]:
    """Pre-encoded ``POST /api/batch`` bodies creating ``total`` new handles, ``size`` per batch."""
    bodies = []
    for start in range(0, total, size):
        ops = [{"op": "create", "handle": handle(kind, i), "values": values(i)}
               for i in range(start, min(start + size, total))]
        bodies.append(orjson.dumps({"operations": ops}))
    return bodies


# --- the stored layout, for the raw-LMDB ceiling (written here, not imported from storage/) -------------

_TTL = 86400
_PERMS = 0x0E  # admin read, admin write, public read
_ADMIN_PERMS = 0x07F3


def _admin_wire(admin_handle: str, index: int) -> bytes:
    h = admin_handle.encode()
    return struct.pack(">HI", _ADMIN_PERMS, len(h)) + h + struct.pack(">I", index)


def stored_records(kind: str, start: int, stop: int, now: int) -> Iterator[tuple[bytes, list]]:
    """(key, record) in the shape the node stores: [handle, [[index, type, data, ttl, ttl_type, ts, perms,
    refs, fmt], ...]] with the default HS_ADMIN at index 100 that an import adds."""
    admin = [100, "HS_ADMIN", _admin_wire(f"0.NA/{PREFIX}", 300), _TTL, 0, now, _PERMS, None, "admin"]
    for i in range(start, stop):
        h = handle(kind, i)
        vals = [[v["index"], v["type"], v["data"]["value"].encode(), _TTL, 0, now, _PERMS, None, "string"]
                for v in values(i)]
        vals.insert(1, admin)
        yield h.lower().encode(), [h, vals]
