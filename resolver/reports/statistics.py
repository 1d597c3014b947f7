"""The statistics table (Annex 1, tables 3 and 8) and the daily monitoring figures (Annex 2, items 1–12)
of one UTC day, from the counts in the store (storage/stats.py)."""

from __future__ import annotations

import datetime as dt

from protocol.handles import fold
from storage import Tx
from storage.stats import day_of

TOP_SOURCES = 100  # source addresses listed per prefix; the others are summed in "otherSources"


def iso_day(day: int) -> str:
    return (dt.date(1970, 1, 1) + dt.timedelta(days=day)).isoformat()


def day_number(text: str) -> int:
    """``YYYY-MM-DD`` → days since 1970-01-01 (ValueError for anything else)."""
    d = dt.date.fromisoformat(text)
    if len(text) != 10:
        raise ValueError(text)
    return (d - dt.date(1970, 1, 1)).days


def _when(t: float) -> str | None:
    return dt.datetime.fromtimestamp(t, dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z") if t else None


def _figures(fig: list | None) -> dict:
    """``[n, sum, max, max_at, min, min_at]`` (seconds) as milliseconds with their times."""
    if not fig or not fig[0]:
        return {"count": 0, "avgMs": None, "maxMs": None, "maxAt": None, "minMs": None, "minAt": None}
    n, total, hi, hi_at, lo, lo_at = fig
    return {"count": n, "avgMs": round(total / n * 1000, 3), "maxMs": round(hi * 1000, 3), "maxAt": _when(hi_at),
            "minMs": round(lo * 1000, 3), "minAt": _when(lo_at)}


def statistics(tx: Tx, node_prefix: str, day: int, now: float) -> dict:
    """Every prefix this node holds, the node's own first: for the node's prefix, enterprise prefixes
    allocated that day and in all (table 3); for an enterprise prefix, identifiers registered that day
    and in all (table 8). Both carry the day's resolution requests, successful answers and sources."""
    recs = sorted(tx.list_prefixes(), key=lambda r: (r.get("kind") != "node", fold(r["prefix"])))
    enterprise = [r for r in recs if r.get("kind") == "enterprise"]
    start = day * 86400
    rows = []
    for rec in recs:
        p = rec["prefix"]
        st = tx.stats_of(day, p)
        ids_today, ids_total = tx.registrations_on(day, p), tx.count_handles(p)
        if rec.get("kind") == "node":
            under = [r for r in enterprise if fold(r["prefix"]).startswith(fold(p) + ".")]
            reg_today = sum(1 for r in under if start <= r.get("created", 0) < start + 86400)
            reg_total = len(under)
        else:
            reg_today, reg_total = ids_today, ids_total
        ranked = sorted(st["src"].items(), key=lambda kv: (-kv[1], kv[0]))
        other = st["rest"] + sum(n for _, n in ranked[TOP_SOURCES:])
        rows.append({"prefix": p, "kind": rec.get("kind", "enterprise"), "registeredToday": reg_today,
                     "registeredTotal": reg_total, "identifiersToday": ids_today, "identifiersTotal": ids_total,
                     "resolutionsToday": st["req"], "resolvedToday": st["ok"],
                     "sources": [{"ip": ip, "count": n} for ip, n in ranked[:TOP_SOURCES]], "otherSources": other})
    return {"node": node_prefix, "date": iso_day(day), "complete": day < day_of(now), "prefixes": rows,
            "monitoring": monitoring(tx, day, now)}


def monitoring(tx: Tx, day: int, now: float) -> dict:
    """Annex 2, items 1–12, of the node, and its availability that day (serving seconds over the
    seconds of the day passed, from the node's first day on)."""
    rec = tx.node_stats_of(day)
    start = day * 86400
    first = tx.get_meta("stats_first_day")
    if first is not None and first == day:
        start = max(start, tx.get_meta("stats_first_at") or start)
    elapsed = max(1.0, min(now, start + 86400) - start)
    peak, peak_at = rec["peak"]
    res = _figures(rec.get("lat"))
    res["sampled"] = res.pop("count")  # one resolution in 8 is timed (resolver/counters.py)
    return {"resolution": {**res, "peakPerSecond": peak, "peakAt": _when(peak_at)},
            "registration": _figures(rec.get("reg")),
            "servingSeconds": round(rec.get("up", 0.0)),
            "availability": round(min(1.0, rec.get("up", 0.0) / elapsed) * 100, 3)}
