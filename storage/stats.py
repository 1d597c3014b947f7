"""Daily statistics for the national top-level node's reports, and the reports a top-level node keeps.

- ``stats``: day (4 bytes, big-endian, days since 1970-01-01 UTC) + folded prefix → msgpack
  ``{"req", "ok", "src": {ip: count}, "rest", "ids": {folded handle: count}}``: resolution requests,
  successful answers, their sources, and the identifiers most resolved (the busiest ``KEEP_IDS``; one
  that falls out and comes back starts again from what it gains, so a kept count is a lower bound and
  exact for an identifier kept all day). The key of the day alone (no prefix) holds the node-wide figures: resolution and
  registration latency, the busiest second, the seconds the node was serving.
- ``meta`` ``r:<day>:<folded prefix>``: identifiers created that day (a counter in the format of the
  per-prefix handle counters, bumped in the transaction that creates the record).
- ``reports``: on a top-level node, what each secondary node sent: folded node prefix, kind and key
  (a date, or an event number), NUL separated → msgpack report.

Worker processes count in memory and merge their counts here through the group committer
(resolver/counters.py): a restart loses at most the last second of counting.
"""

from __future__ import annotations

import struct

from protocol.handles import fold

from .records import pack, unpack

STATS_DBS = ("stats", "reports")
KEEP_SOURCES = 1000  # source addresses kept per prefix and day; the others are summed in "rest"
KEEP_IDS = 100  # identifiers kept per prefix and day (the console shows the top ten); the others dropped
RECENT_SECONDS = 30  # seconds a worker's per-second counts may arrive late and still be added up
_DAY = struct.Struct(">I")
_COUNT = struct.Struct("<q")


def day_of(t: float) -> int:
    return int(t // 86400)


def registrations_key(day: int, prefix_key: bytes) -> bytes:
    return b"r:%d:" % day + prefix_key


def _extreme(kept: list | None, got: list) -> list:
    """Merge ``[n, sum, max, max_at, min, min_at]`` figures."""
    if not kept or not kept[0]:
        return list(got)
    if not got[0]:
        return kept
    out = [kept[0] + got[0], kept[1] + got[1], kept[2], kept[3], kept[4], kept[5]]
    if got[2] > kept[2]:
        out[2], out[3] = got[2], got[3]
    if got[4] < kept[4]:
        out[4], out[5] = got[4], got[5]
    return out


class StatsStore:
    """Statistics operations; mixed into ``Tx``."""

    __slots__ = ()

    # --- counting ----------------------------------------------------------------------------------
    def registrations_on(self, day: int, prefix: str) -> int:
        self._settle()
        raw = self.txn.get(registrations_key(day, fold(prefix).encode()), db=self.dbs["meta"])
        return (_COUNT.unpack(raw)[0] if raw else 0) + self._counts.get(registrations_key(day, fold(prefix).encode()), 0)

    def stats_merge(self, day: int, prefixes: dict[bytes, list], node: dict) -> None:
        """Add one worker's counts of ``day``: per folded prefix ``[requests, ok, {ip: n}, rest, {folded handle: n}]``, and
        node-wide ``{"lat", "reg": [n, sum, max, max_at, min, min_at], "secs": {second: n}, "up": s}``."""
        db = self.dbs["stats"]
        d = _DAY.pack(day)
        for p, (req, ok, src, rest, ids) in prefixes.items():
            k = d + p
            raw = self.txn.get(k, db=db)
            rec = unpack(raw) if raw else {"req": 0, "ok": 0, "src": {}, "rest": 0}
            rec["req"] += req
            rec["ok"] += ok
            rec["rest"] += rest
            kept = rec["src"]
            for ip, n in src.items():
                kept[ip] = kept.get(ip, 0) + n
            if len(kept) > KEEP_SOURCES:
                order = sorted(kept.items(), key=lambda kv: (-kv[1], kv[0]))
                rec["src"] = dict(order[:KEEP_SOURCES])
                rec["rest"] += sum(n for _, n in order[KEEP_SOURCES:])
            if ids:
                top = rec.setdefault("ids", {})
                for h, n in ids.items():
                    if not n:
                        continue  # a slot kept for an identifier that was not asked for this time
                    name = h.decode("utf-8", "replace")
                    top[name] = top.get(name, 0) + n
                if len(top) > KEEP_IDS:
                    rec["ids"] = dict(sorted(top.items(), key=lambda kv: (-kv[1], kv[0]))[:KEEP_IDS])
            self.txn.put(k, pack(rec), db=db)
        if not node:
            return
        raw = self.txn.get(d, db=db)
        rec = unpack(raw) if raw else {}
        for name in ("lat", "reg"):
            if name in node:
                rec[name] = _extreme(rec.get(name), node[name])
        rec["up"] = rec.get("up", 0.0) + node.get("up", 0.0)
        secs = {int(s): n for s, n in rec.get("secs", {}).items()}  # msgpack map keys are strings here
        for s, n in node.get("secs", {}).items():
            secs[s] = secs.get(s, 0) + n
        if secs:
            # Seconds older than the window are complete (every worker flushed them): keep only the peak.
            latest = max(secs)
            peak = rec.get("peak", [0, 0])
            for s in [s for s in secs if s < latest - RECENT_SECONDS]:
                if secs[s] > peak[0]:
                    peak = [secs[s], s]
                del secs[s]
            rec["peak"] = peak
        rec["secs"] = {str(s): n for s, n in secs.items()}
        self.txn.put(d, pack(rec), db=db)

    # --- reading -----------------------------------------------------------------------------------
    def stats_of(self, day: int, prefix: str) -> dict:
        db = self.dbs.get("stats")
        raw = None if db is None else self.txn.get(_DAY.pack(day) + fold(prefix).encode(), db=db)
        return unpack(raw) if raw else {"req": 0, "ok": 0, "src": {}, "rest": 0, "ids": {}}

    def node_stats_of(self, day: int) -> dict:
        """The node-wide figures of ``day``; ``peak`` counts the seconds still in the window too."""
        db = self.dbs.get("stats")
        raw = None if db is None else self.txn.get(_DAY.pack(day), db=db)
        rec = unpack(raw) if raw else {}
        peak = rec.get("peak", [0, 0])
        for s, n in rec.get("secs", {}).items():
            if n > peak[0]:
                peak = [n, int(s)]
        rec["peak"] = peak
        return rec

    # --- reports kept by a top-level node ------------------------------------------------------------
    def put_report(self, node: str, kind: str, key: str, report: dict) -> None:
        k = b"\0".join((fold(node).encode(), kind.encode(), key.encode()))
        self.txn.put(k, pack(report), db=self.dbs["reports"])

    def get_report(self, node: str, kind: str, key: str) -> dict | None:
        k = b"\0".join((fold(node).encode(), kind.encode(), key.encode()))
        raw = self.txn.get(k, db=self.dbs["reports"])
        return None if raw is None else unpack(raw)

    def list_reports(self, node: str, kind: str, limit: int = 1000) -> list[tuple[str, dict]]:
        start = b"\0".join((fold(node).encode(), kind.encode(), b""))
        cur = self.txn.cursor(db=self.dbs["reports"])
        out: list[tuple[str, dict]] = []
        if cur.set_range(start):
            for k, raw in cur:
                if not k.startswith(start) or len(out) >= limit:
                    break
                out.append((k[len(start):].decode(), unpack(raw)))
        return out
