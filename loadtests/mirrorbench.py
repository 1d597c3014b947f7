"""Scenario: a mirror following its primary under batch write load.

The primary serves the loaded data folder; a mirror starts from its snapshot (both processes on the
server core). The batch load generator (load core) registers new identifiers on the primary while
the mirror's lag is sampled every 0.2 s from ``/api/replication/status``; after the load stops,
the time until the mirror has applied the primary's last change is its catch-up time.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from pathlib import Path

from . import data
from .batchload import basic_auth, launch
from .procs import Server, free_port, venv_bin
from .report import Row, median, rate, secs
from .scenarios import Settings, log

SAMPLE = 0.2


def _status(base: str) -> dict:
    auth = basic_auth(f"300:0.NA/{data.NODE_PREFIX}", data.NODE_SECRET)
    req = urllib.request.Request(base + "/api/replication/status", headers={"Authorization": auth})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def mirror_scenario(work: Path, folder: Path, s: Settings) -> list[Row]:
    pport, mport = free_port(), free_port()
    primary_cmd = [venv_bin("idnode"), "serve", "--data", str(folder), "--http", f"127.0.0.1:{pport}"]
    lags: list[tuple[int, float]] = []
    catchups: list[float] = []
    rates: list[float] = []
    with Server(primary_cmd, pport, work / "primary.log", cpu=s.server_cpu) as primary:
        for r in range(s.runs):
            mdir = (work / f"mirror-{r}").resolve()
            mirror_cmd = [venv_bin("idnode"), "serve", "--data", str(mdir), "--http", f"127.0.0.1:{mport}",
                          "--role", "mirror", "--primary", primary.base, "--primary-identity",
                          f"300:0.NA/{data.NODE_PREFIX}", "--primary-secret", data.NODE_SECRET]
            with Server(mirror_cmd, mport, work / f"mirror-{r}.log", cpu=s.server_cpu, ready_timeout=300) as m:
                samples: list[tuple[int, float]] = []
                done = threading.Event()

                def sample(base: str = m.base, out: list = samples, stop: threading.Event = done) -> None:
                    while not stop.wait(SAMPLE):
                        st = _status(base)
                        out.append((st["lagEntries"], st["lagSeconds"] or 0.0))

                t = threading.Thread(target=sample, daemon=True)
                t.start()
                res = launch(primary.base, f"M{r + 1}", s.batch_ids, batch=s.batch_size, concurrency=s.batch_conns,
                             cpu=s.client_cpu, time_limit=max(120.0, s.batch_ids / 2000))
                t0 = time.monotonic()
                done.set()
                t.join()
                head = _status(primary.base)["lastSequence"]
                while _status(m.base)["applied"] < head:
                    time.sleep(0.05)
                    if time.monotonic() - t0 > 300:
                        raise RuntimeError("the mirror did not catch up within 300 s")
                catchups.append(time.monotonic() - t0)
                lags += samples
                rates.append(res.rate)
                log(f"mirror run {r + 1}/{s.runs}: primary took {res.rate:,.0f} ids/s; mirror lag median "
                    f"{median([x[0] for x in samples]):,.0f} entries, max {max(x[0] for x in samples):,}, "
                    f"{max(x[1] for x in samples):.2f} s; caught up {catchups[-1]:.2f} s after the load")
    entries, seconds = [x[0] for x in lags], [x[1] for x in lags]
    note = (f"{s.batch_ids:,} ids a run in {s.batch_size:,}-op batches over {s.batch_conns} connections to the "
            f"primary; lag sampled every {SAMPLE:g} s: median {median(entries):,.0f} entries, max {max(entries):,} "
            f"entries; age of the newest applied change while behind: median {median(seconds):.2f} s, max "
            f"{max(seconds):.2f} s; caught up {secs(median(catchups))} after the load stopped (median)")
    return [Row("mirror following a primary under batch load", f"lag ≤ {max(seconds):.2f} s",
                rate(median(rates), " ids/s written"), "—", "—", "—", note,
                {"lag": lags, "catch_up_seconds": catchups, "write_rates": rates})]
