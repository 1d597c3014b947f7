"""Batch registration through the SNMS-compatible API beside ``/api/batch``: the same identifiers,
the same values and the same template, pre-encoded, over a few keep-alive connections.

    python -m loadtests.snmsload --url http://127.0.0.1:PORT --api snms|batch --kind S1 --ids 20000

prints one line ``SNMSJSON {...}`` (a ``loadtests.batchload.BatchResult``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from dataclasses import asdict

import aiohttp
import orjson
import uvloop

from . import data
from .batchload import BatchResult, basic_auth, percentile
from .procs import run

TEMPLATE = "bench-snms"
FIELDS = (("productName", 2000), ("batch", 2001), ("manufactureDate", 2002))


def template_body() -> dict:
    """The template every record of both APIs names (SNMS 新增数据模板)."""
    return {"prefix": data.PREFIX, "version": TEMPLATE, "industryCategory": "C", "industrySpecific": "34",
            "industryTrade": "344", "industrySubclass": "3441", "type": 1, "description": "bench",
            "items": [{"name": t, "idType": t, "idIndex": i, "required": i == 2000,
                       "metadata": {"type": "string", "minLength": 1, "maxLength": 64}} for t, i in FIELDS]}


def _values(i: int) -> list[dict]:
    """The user data of ``data.values`` (no URL at index 1: an SNMS record holds template fields only)."""
    return [v for v in data.values(i) if v["index"] >= 2000]


def bodies(api: str, kind: str, total: int, size: int) -> list[bytes]:
    out = []
    for start in range(0, total, size):
        rng = range(start, min(start + size, total))
        if api == "snms":
            body: object = [{"handle": data.handle(kind, i), "templateVersion": TEMPLATE,
                             "value": [{**v, "auth": ""} for v in _values(i)]} for i in rng]
        else:
            body = {"operations": [{"op": "create", "handle": data.handle(kind, i), "values": _values(i),
                                    "template": TEMPLATE} for i in rng]}
        out.append(orjson.dumps(body))
    return out


def _count(api: str, status: int, raw: bytes) -> tuple[int, int, str | None]:
    """(succeeded, failed, error) of one answer."""
    if status != 200:
        return 0, 0, f"HTTP {status}: {raw[:200]!r}"
    doc = orjson.loads(raw)
    if api == "snms":
        if doc.get("status") != 1:
            return 0, 0, f"status {doc.get('status')}: {doc.get('message')}"
        ok = sum(1 for x in doc["data"] if x["msg"] == "success")
        bad = len(doc["data"]) - ok
    else:
        ok, bad = doc["succeeded"], doc["failed"]
    return ok, bad, f"{bad} items failed" if bad else None


async def load(base: str, api: str, bodies: list[bytes], *, concurrency: int, secret: str,
               time_limit: float) -> BatchResult:
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency), timeout=timeout) as session:
        if api == "snms":
            async with session.post(base + "/identity/token",
                                    json={"username": data.PREFIX, "password": secret}) as r:
                auth = "Bearer " + (await r.json())["data"]["token"]
            url, method = base + "/identityv2/data/batchCreate", "POST"
        else:
            auth = basic_auth(data.ADMIN_IDENTITY, secret)
            url, method = base + "/api/batch", "POST"
        headers = {"Authorization": auth, "Content-Type": "application/json"}
        latencies: list[float] = []
        errors: list[str] = []
        totals = [0, 0]
        queue = list(range(len(bodies)))[::-1]
        t0 = time.perf_counter()
        deadline = t0 + time_limit

        async def worker() -> None:
            while queue and time.perf_counter() < deadline:
                n = queue.pop()
                s = time.perf_counter()
                async with session.request(method, url, data=bodies[n], headers=headers) as r:
                    ok, bad, err = _count(api, r.status, await r.read())
                latencies.append(time.perf_counter() - s)
                totals[0] += ok
                totals[1] += bad
                if err and len(errors) < 5:
                    errors.append(err)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - t0
    if queue:
        errors.append(f"time limit of {time_limit:.0f} s reached with {len(queue)} batches unsent")
    lat = sorted(x * 1000 for x in latencies)
    return BatchResult(ids=totals[0], succeeded=totals[0], failed=totals[1], seconds=elapsed,
                       rate=totals[0] / elapsed, batches=len(lat), p50_ms=statistics.median(lat) if lat else 0.0,
                       p99_ms=percentile(lat, 99), errors=errors)


def launch(base: str, api: str, kind: str, ids: int, *, batch: int, concurrency: int, cpu: int | None,
           time_limit: float) -> BatchResult:
    cmd = [sys.executable, "-m", "loadtests.snmsload", "--url", base, "--api", api, "--kind", kind, "--ids", str(ids),
           "--batch", str(batch), "--concurrency", str(concurrency), "--time-limit", str(time_limit)]
    out = run(cmd, cpu=cpu, timeout=time_limit + 300).out
    line = next((x for x in out.splitlines() if x.startswith("SNMSJSON ")), None)
    if line is None:
        raise RuntimeError(f"the SNMS load generator printed no result:\n{out[-2000:]}")
    return BatchResult(**json.loads(line[len("SNMSJSON "):]))


def main() -> None:
    p = argparse.ArgumentParser(description="batch registration, SNMS API beside /api/batch")
    p.add_argument("--url", required=True)
    p.add_argument("--api", choices=["snms", "batch"], required=True)
    p.add_argument("--kind", required=True, help="suffix tag that keeps this run's handles new")
    p.add_argument("--ids", type=int, default=20_000)
    p.add_argument("--batch", type=int, default=2000)
    p.add_argument("--concurrency", type=int, default=4)
    p.add_argument("--time-limit", type=float, default=120.0)
    p.add_argument("--secret", default=data.ENTERPRISE_SECRET)
    a = p.parse_args()
    encoded = bodies(a.api, a.kind, a.ids, a.batch)  # before the clock starts
    res = uvloop.run(load(a.url, a.api, encoded, concurrency=a.concurrency, secret=a.secret,
                          time_limit=a.time_limit))
    print("SNMSJSON " + json.dumps(asdict(res)), flush=True)


if __name__ == "__main__":
    main()
