"""Scenario: batch registration through the SNMS-compatible API beside ``/api/batch``, on the same
node in the same run (alternating which goes first), the same records and template."""

from __future__ import annotations

import urllib.request
from pathlib import Path

import orjson

from . import data
from .batchload import BatchResult, basic_auth
from .procs import Server, free_port
from .report import Row, median, ms, rate, runs_note
from .scenarios import Settings, _node_cmd, log
from .snmsload import launch, template_body


def _publish_template(base: str) -> None:
    """The template both APIs' records name (the same template through either); publishing the same
    body again is accepted, so each run asks."""
    req = urllib.request.Request(base + "/snms/api/v5/template", method="POST", data=orjson.dumps(template_body()),
                                 headers={"Content-Type": "application/json",
                                          "Authorization": basic_auth(data.ADMIN_IDENTITY, data.ENTERPRISE_SECRET)})
    with urllib.request.urlopen(req, timeout=60) as r:
        doc = orjson.loads(r.read())
    if doc.get("status") != 1:
        raise RuntimeError(f"publishing the bench template: {doc}")


def snms_scenario(work: Path, folder: Path, s: Settings) -> list[Row]:
    results: dict[str, list[BatchResult]] = {"batch": [], "snms": []}
    per_cpu: dict[str, list[float]] = {"batch": [], "snms": []}  # ids per server CPU-second: fairer on a shared machine
    for r in range(s.runs):
        port = free_port()
        with Server(_node_cmd(folder, port), port, work / "idnode-snms.log", cpu=s.server_cpu) as srv:
            _publish_template(srv.base)
            order = ("snms", "batch") if r % 2 else ("batch", "snms")
            for api in order:
                c0 = srv.cpu()
                res = launch(srv.base, api, f"{api.upper()}{r + 1}", s.batch_ids, batch=s.batch_size,
                             concurrency=s.batch_conns, cpu=s.client_cpu, time_limit=max(120.0, s.batch_ids / 2000))
                if res.errors or res.ids != s.batch_ids:
                    raise RuntimeError(f"{api} run {r + 1}: {res.ids:,} of {s.batch_ids:,} created; {res.errors}")
                results[api].append(res)
                per_cpu[api].append(res.ids / (srv.cpu() - c0))
                log(f"{api} run {r + 1}/{s.runs}: {res.rate:,.0f} ids/s, per batch p50 {res.p50_ms:.0f} ms "
                    f"p99 {res.p99_ms:.0f} ms, {per_cpu[api][-1]:,.0f} ids per server CPU-second")
    rows = []
    for api, label in (("snms", "SNMS batchCreate"), ("batch", "/api/batch")):
        rates = [x.rate for x in results[api]]
        note = (f"{s.batch_ids:,} new ids a run through {label}, three values from index 2000 checked against a "
                f"template, {s.batch_conns} connections; {median(per_cpu[api]):,.0f} ids per server CPU-second; "
                f"same node and run as the other row")
        if len(rates) > 1:
            note += "; " + runs_note(rates)
        rows.append(Row(f"batch registration via {label} ({s.batch_size:,} ops/batch, durable)",
                        rate(median(rates), " ids/s"), "—", "= /api/batch" if api == "snms" else "—",
                        ms(median([x.p50_ms for x in results[api]])), ms(median([x.p99_ms for x in results[api]])),
                        note, {"runs": [vars(x) for x in results[api]], "ids_per_cpu_second": per_cpu[api]}))
    return rows
