"""What is due to the top-level nodes now, queued in the federation outbox in one transaction.

- statistics and masterdata (daily): every day not yet sent complete, and today so far (each send
  replaces the day's report upstream, so today's figures grow until the day is over and sent complete);
- operator, enterprises, configuration (on change, key ``current``): when their content changed
  since last sent;
- metadata (daily, key the day): when the templates changed since last sent, or a new day began;
- applications (monthly, key the month): when they changed or a new month began.

``REPORT_KINDS`` names every kind a secondary may send (the top-level node refuses others).
"""

from __future__ import annotations

import datetime as dt
import hashlib

import orjson

from storage import Tx
from storage.stats import day_of

from ..service.federation import FEDERATION_META
from . import tables
from .statistics import iso_day, statistics

SENT_META = "reports_sent"  # {kind: last key sent complete (a day number for daily kinds) or a digest}
REPORT_KINDS = ("statistics", "masterdata", "operator", "enterprises", "configuration", "metadata", "applications")


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
    for kind, build in (("statistics", statistics), ("masterdata", tables.masterdata)):
        start = sent.get(kind, (first if first is not None else today) - 1) + 1
        for day in range(max(start, today - 31), today + 1):  # at most a month back: older days are history
            _queue(tx, node, kind, iso_day(day), build(tx, node, day, now) if kind == "statistics"
                   else build(tx, node, day), int(now))
            queued.append(f"{kind}/{iso_day(day)}")
        sent[kind] = today - 1
    month = dt.datetime.fromtimestamp(now, dt.UTC).strftime("%Y-%m")
    for kind, key, report in (
            ("operator", "current", tables.operator(tx, node)),
            ("enterprises", "current", tables.enterprises(tx, node)),
            ("configuration", "current", tables.configuration(tx, node)),
            ("metadata", iso_day(today), tables.metadata(tx, node)),
            ("applications", month, tables.applications(tx, node, month))):
        digest = key + ":" + hashlib.sha256(orjson.dumps(report, option=orjson.OPT_SORT_KEYS)).hexdigest()
        if sent.get(kind) != digest:
            _queue(tx, node, kind, key, report, int(now))
            queued.append(f"{kind}/{key}")
            sent[kind] = digest
    tx.put_meta(SENT_META, sent)
    return queued
