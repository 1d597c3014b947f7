"""EPCIS benchmark: capture throughput in batches, and trace latency for an item whose lineage has
1,000 events. Starts its own node on loopback with a fresh LMDB folder.

    python -m loadtests.epcisbench [--events 20000] [--batch 1000] [--clients 4] [--lineage 1000]

Targets (issue 5): capture ≥ 5,000 events/s; trace ≤ 50 ms for a 1,000-event lineage.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[1]
SECRET = "bench-secret-5"
CONTEXT = ["https://ref.gs1.org/standards/epcis/epcis-context.jsonld"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cli(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "resolver.cli", *args], cwd=REPO, check=True, capture_output=True)


def start_node(data: Path) -> tuple[subprocess.Popen, str]:
    _cli("init", "--data", str(data), "--prefix", "88.101", "--admin-secret", "bench-admin")
    _cli("prefix", "add", "88.101.5", "--secret", SECRET, "--data", str(data))
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "resolver.cli", "serve", "--data", str(data),
                             "--http", f"127.0.0.1:{port}"], cwd=REPO, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(400):
        try:
            if requests.get(url + "/healthz", timeout=1).status_code == 200:
                return proc, url
        except requests.ConnectionError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("the node did not come up")


def document(events: list[dict]) -> bytes:
    return json.dumps({"@context": CONTEXT, "type": "EPCISDocument", "schemaVersion": "2.0",
                       "creationDate": "2026-01-01T00:00:00Z", "epcisBody": {"eventList": events}}).encode()


def _time(i: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(1_767_225_600 + i)) + "Z"


def object_events(start: int, n: int) -> list[dict]:
    return [{"type": "ObjectEvent", "eventTime": _time(i), "eventTimeZoneOffset": "+08:00",
             "eventID": f"urn:uuid:bench-{i}", "epcList": [f"88.101.5/ITEM-{i}"], "action": "OBSERVE",
             "bizStep": "shipping", "disposition": "in_transit",
             "readPoint": {"id": "urn:epc:id:sgln:0614141.00001.0"}} for i in range(start, start + n)]


def lineage_events(n: int) -> list[dict]:
    """A machine assembled from n/2 parts, each part made from its own material lot: n events."""
    out = []
    for i in range(n // 2):
        out.append({"type": "TransformationEvent", "eventTime": _time(i), "eventTimeZoneOffset": "+08:00",
                    "inputQuantityList": [{"epcClass": f"urn:epc:class:lgtin:4012345.012345.LOT{i}",
                                           "quantity": 1, "uom": "KGM"}],
                    "outputEPCList": [f"88.101.5/PART-{i}"], "bizStep": "commissioning"})
        out.append({"type": "AssociationEvent", "eventTime": _time(100_000 + i), "eventTimeZoneOffset": "+08:00",
                    "parentID": "88.101.5/MACHINE", "childEPCs": [f"88.101.5/PART-{i}"], "action": "ADD",
                    "bizStep": "assembling"})
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=20_000)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--lineage", type=int, default=1000)
    ap.add_argument("--runs", type=int, default=50)
    args = ap.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="epcisbench-"))
    proc, url = start_node(tmp / "data")
    auth = "Basic " + base64.b64encode(f"300%3A0.NA/88.101.5:{SECRET}".encode()).decode()
    headers = {"Authorization": auth, "Content-Type": "application/ld+json"}
    try:
        bodies = [document(object_events(s, min(args.batch, args.events - s)))
                  for s in range(0, args.events, args.batch)]
        sessions = [requests.Session() for _ in range(args.clients)]

        def send(i: int) -> int:
            r = sessions[i % args.clients].post(url + "/api/events", data=bodies[i], headers=headers)
            r.raise_for_status()
            return r.json()["stored"]

        send(0)  # warm-up: loads the schema
        t0 = time.perf_counter()
        with ThreadPoolExecutor(args.clients) as pool:
            stored = sum(pool.map(send, range(1, len(bodies))))
        capture_s = time.perf_counter() - t0
        rate = stored / capture_s

        for chunk in range(0, args.lineage, args.batch):
            requests.post(url + "/api/events", data=document(lineage_events(args.lineage)[chunk:chunk + args.batch]),
                          headers=headers).raise_for_status()
        s = requests.Session()
        first = s.get(url + "/api/trace/88.101.5/MACHINE").json()
        assert len(first["upstream"]) == args.lineage and "cut" not in first, first.get("cut")
        lat = []
        for _ in range(args.runs):
            t = time.perf_counter()
            s.get(url + "/api/trace/88.101.5/MACHINE").raise_for_status()
            lat.append((time.perf_counter() - t) * 1000)
        lat.sort()
        p50, p95 = statistics.median(lat), lat[int(len(lat) * 0.95) - 1]
        print(f"capture: {stored} events in batches of {args.batch} from {args.clients} clients: "
              f"{rate:,.0f} events/s (target >= 5,000)")
        print(f"trace of an item with a {args.lineage}-event lineage ({len(first['upstream'])} items upstream): "
              f"p50 {p50:.1f} ms, p95 {p95:.1f} ms (target <= 50 ms)")
        print(f"cpus: {os.cpu_count()}")
        return 0
    finally:
        proc.terminate()
        proc.wait(20)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
