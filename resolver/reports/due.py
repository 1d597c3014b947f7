"""What is due to the top-level nodes now, queued in the federation outbox in one transaction.

- statistics (daily): every day not yet sent complete, and today so far (each send replaces the
  day's report upstream, so today's figures grow until the day is over and sent complete).

``REPORT_KINDS`` names every kind a secondary may send (the top-level node refuses others).
"""

from __future__ import annotations

from storage import Tx
from storage.stats import day_of

from ..service.federation import FEDERATION_META
from .statistics import iso_day, statistics

SENT_META = "reports_sent"  # {kind: last key sent complete (a day number for daily kinds) or a digest}
REPORT_KINDS = ("statistics",)


def _queue(tx: Tx, node: str, kind: str, key: str, report: dict, now: int) -> None:
    tx.outbox_put({"op": "report", "node": node, "kind": kind, "key": key, "report": report, "at": now})


def queue_due(tx: Tx, node: str, now: float) -> list[str]:
    """Queue what is due; the list of ``kind/key`` queued. Nothing when no upstream is configured."""
    if not tx.get_meta(FEDERATION_META):
        return []
    sent = tx.get_meta(SENT_META) or {}
    queued: list[str] = []
    today = day_of(now)
    first = tx.get_meta("stats_first_day")
    start = sent.get("statistics", (first if first is not None else today) - 1) + 1
    for day in range(max(start, today - 31), today + 1):  # at most a month back: older days are history
        report = statistics(tx, node, day, now)
        _queue(tx, node, "statistics", iso_day(day), report, int(now))
        queued.append(f"statistics/{iso_day(day)}")
    sent["statistics"] = today - 1
    tx.put_meta(SENT_META, sent)
    return queued
