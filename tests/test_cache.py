"""The record cache: never serves stale renderings, and costs the garbage collector nothing."""

from __future__ import annotations

import gc

from protocol.values import ADMIN_READ, HandleValue
from resolver.service.cache import RecordCache
from storage.records import pack_record


def _raw(url: str, secret: bool = False) -> bytes:
    values = [HandleValue(1, "URL", url.encode(), timestamp=1)]
    if secret:
        values.append(HandleValue(2, "NOTE", b"internal", timestamp=1, permissions=ADMIN_READ))
    return pack_record("88.101.5/X", values)


def test_entries_are_untracked_by_the_garbage_collector():
    cache = RecordCache(1000)
    for i in range(500):
        cache.get(f"k{i}".encode(), _raw(f"https://example.com/{i}"))
    gc.collect()
    assert not any(gc.is_tracked(e) for e in cache._d.values())


def test_a_rendering_is_kept_until_the_stored_bytes_change():
    cache = RecordCache(10)
    old = _raw("https://example.com/old")
    entry, record = cache.get(b"k", old)
    assert record is not None and entry[1] is True  # decoded once, all public
    cache.remember(b"k", entry, "json", b"[old]", "88.101.5/X")
    again, record = cache.get(b"k", old)
    assert record is None and again[2] == b"[old]"
    changed, record = cache.get(b"k", _raw("https://example.com/new"))
    assert record is not None and changed[2] is None  # a new version starts with nothing rendered
    cache.remember(b"k", again, "json", b"[stale]", "88.101.5/X")  # a slow renderer of the old version
    assert cache.get(b"k", _raw("https://example.com/new"))[0][2] is None


def test_non_public_values_are_flagged():
    entry, _ = RecordCache(10).get(b"k", _raw("https://example.com/x", secret=True))
    assert entry[1] is False


def test_the_oldest_entries_make_room():
    cache = RecordCache(80)
    for i in range(200):
        cache.get(f"k{i}".encode(), _raw(f"https://example.com/{i}"))
    assert len(cache) <= 80 and b"k199" in cache._d and b"k0" not in cache._d
