"""Batch registration load: pre-encoded ``POST /api/batch`` bodies sent over a few keep-alive connections.

Run it pinned to the load core; it prints one line of JSON:

    python -m loadtests.batchload --url http://127.0.0.1:PORT --kind B1 --ids 200000 [--concurrency 4]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import statistics
import sys
import time
import urllib.parse
from dataclasses import asdict, dataclass

import aiohttp
import orjson
import uvloop

from . import data
from .procs import run


@dataclass
class BatchResult:
    ids: int  # identifiers the node acknowledged as newly created (durable once answered)
    succeeded: int  # items answered with success (created, or unchanged on a re-send)
    failed: int  # items the node answered with an error, plus items of batches that failed whole
    seconds: float
    rate: float  # acknowledged identifiers per second
    batches: int
    p50_ms: float
    p99_ms: float
    errors: list[str]


def basic_auth(identity: str, secret: str) -> str:
    """HTTP Basic as Handle.Net clients send it: the user is the percent-encoded ``index:handle``."""
    user = urllib.parse.quote(identity, safe="/")
    return "Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode()


def percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(round(q / 100 * (len(sorted_values) - 1))))]


async def _post(session: aiohttp.ClientSession, url: str, body: bytes) -> tuple[int, int, int, str | None]:
    """(created, succeeded, failed, error) for one batch."""
    async with session.post(url, data=body) as r:
        raw = await r.read()
    if r.status != 200:
        return 0, 0, 0, f"HTTP {r.status}: {raw[:200]!r}"
    doc = orjson.loads(raw)
    created = sum(1 for x in doc["results"] if x.get("result") == "created")
    err = None
    if doc.get("failed"):
        first = next((x for x in doc["results"] if x.get("responseCode") != 1), {})
        err = f"{doc['failed']} items failed, e.g. {first}"
    elif created != doc["succeeded"]:
        err = f"{doc['succeeded'] - created} items were not new (unchanged or replaced)"
    return created, doc["succeeded"], doc["failed"], err


async def load(base: str, bodies: list[bytes], per_batch: list[int], *, concurrency: int, identity: str,
               secret: str, time_limit: float) -> BatchResult:
    headers = {"Authorization": basic_auth(identity, secret), "Content-Type": "application/json"}
    url = base + "/api/batch"
    timeout = aiohttp.ClientTimeout(total=120)
    connector = aiohttp.TCPConnector(limit=concurrency)
    latencies: list[float] = []
    errors: list[str] = []
    totals = [0, 0, 0]
    async with aiohttp.ClientSession(headers=headers, connector=connector, timeout=timeout) as session:
        # Warm-up outside the timing: the first request pays the slow secret hash and opens a connection.
        warm = orjson.dumps({"operations": [{"op": "create", "handle": data.handle("WARM", int(time.time() * 1e6)),
                                             "values": data.values(0)}]})
        await _post(session, url, warm)
        queue = list(range(len(bodies)))[::-1]
        t0 = time.perf_counter()
        deadline = t0 + time_limit

        async def worker() -> None:
            while queue and time.perf_counter() < deadline:
                n = queue.pop()
                s = time.perf_counter()
                try:
                    new, ok, bad, err = await _post(session, url, bodies[n])
                except (TimeoutError, aiohttp.ClientError) as e:
                    new, ok, bad, err = 0, 0, per_batch[n], f"{type(e).__name__}: {e}"
                latencies.append(time.perf_counter() - s)
                totals[0] += new
                totals[1] += ok
                totals[2] += bad
                if err and len(errors) < 5:
                    errors.append(err)

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - t0
    if queue:
        errors.append(f"time limit of {time_limit:.0f} s reached with {len(queue)} batches unsent")
    lat = sorted(x * 1000 for x in latencies)
    return BatchResult(ids=totals[0], succeeded=totals[1], failed=totals[2], seconds=elapsed, rate=totals[0] / elapsed,
                       batches=len(lat), p50_ms=statistics.median(lat) if lat else float("nan"),
                       p99_ms=percentile(lat, 99), errors=errors)


def launch(base: str, kind: str, ids: int, *, batch: int, concurrency: int, cpu: int | None,
           time_limit: float) -> BatchResult:
    """Run the load generator as its own process (pinned to ``cpu``) and read its result."""
    cmd = [sys.executable, "-m", "loadtests.batchload", "--url", base, "--kind", kind, "--ids", str(ids),
           "--batch", str(batch), "--concurrency", str(concurrency), "--time-limit", str(time_limit)]
    out = run(cmd, cpu=cpu, timeout=time_limit + 300).out
    line = next((x for x in out.splitlines() if x.startswith("BATCHJSON ")), None)
    if line is None:
        raise RuntimeError(f"the batch load generator printed no result:\n{out[-2000:]}")
    return BatchResult(**json.loads(line[len("BATCHJSON "):]))


def main() -> None:
    p = argparse.ArgumentParser(description="batch registration load generator")
    p.add_argument("--url", required=True)
    p.add_argument("--kind", required=True, help="suffix tag that keeps this run's handles new, e.g. B1")
    p.add_argument("--ids", type=int, default=200_000)
    p.add_argument("--batch", type=int, default=2000)
    p.add_argument("--concurrency", type=int, default=4)
    p.add_argument("--time-limit", type=float, default=120.0)
    p.add_argument("--identity", default=data.ADMIN_IDENTITY)
    p.add_argument("--secret", default=data.ENTERPRISE_SECRET)
    a = p.parse_args()
    bodies = data.batch_bodies(a.kind, a.ids, a.batch)  # every body encoded before the clock starts
    per_batch = [min(a.batch, a.ids - i) for i in range(0, a.ids, a.batch)]
    res = uvloop.run(load(a.url, bodies, per_batch, concurrency=a.concurrency, identity=a.identity,
                          secret=a.secret, time_limit=a.time_limit))
    print("BATCHJSON " + json.dumps(asdict(res)), flush=True)


if __name__ == "__main__":
    main()
