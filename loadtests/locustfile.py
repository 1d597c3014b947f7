"""Locust scenarios: the users a node has, each a user class to run alone or together.

    locust -f loadtests/locustfile.py --headless -u 20 -r 10 -t 60s --host http://127.0.0.1:8000 \\
        EnterpriseIntegration Scanner HandleScanner

- ``EnterpriseIntegration``: an enterprise system registering identifiers in batches, then updating
  some of them (its ERP or MES pushing production records).
- ``Scanner``: phones and line readers resolving codes over HTTP — mostly known identifiers, some
  unknown ones (a misread, a competitor's code), through the REST API, the proxy redirect and /scan.
- ``HandleScanner``: the same over the Handle protocol (UDP, TCP after a truncated answer); needs
  ``IDNODE_LOCUST_HANDLE=HOST:PORT``.
- ``TraceLookup``: a consumer or an auditor following a product's history: the trace of an
  identifier (``/api/trace/…``) and its EPCIS events (``/events?MATCH_anyEPC=…``). When this class
  runs, the first ``IDNODE_LOCUST_TRACED`` known identifiers (default 20) get two events each first.

Settings (environment): ``IDNODE_LOCUST_PREFIX`` (default 88.101.5), ``IDNODE_LOCUST_SECRET`` (the
secret of ``300:0.NA/<prefix>``, default acme-secret-5, the test suite's), ``IDNODE_LOCUST_KNOWN``
(known identifiers registered at the start, default 200), ``IDNODE_LOCUST_BATCH`` (operations per
batch, default 100). Every answer is checked: a wrong status or body is a failure, so a run with 0
failures means every request was answered correctly.
"""

from __future__ import annotations

import base64
import itertools
import os
import random
import time
import uuid
from urllib.parse import quote

import requests
from locust import HttpUser, User, between, events, task

PREFIX = os.environ.get("IDNODE_LOCUST_PREFIX", "88.101.5")
SECRET = os.environ.get("IDNODE_LOCUST_SECRET", "acme-secret-5")
KNOWN = int(os.environ.get("IDNODE_LOCUST_KNOWN", "200"))
BATCH = int(os.environ.get("IDNODE_LOCUST_BATCH", "100"))
TRACED = int(os.environ.get("IDNODE_LOCUST_TRACED", "20"))
RUN = uuid.uuid4().hex[:8]  # identifiers of this run do not collide with an earlier run's
KNOWN_HANDLES = [f"{PREFIX}/LOCUST-{RUN}-K{i}" for i in range(KNOWN)]
AUTH = {"Authorization": "Basic " + base64.b64encode(f"{quote(f'300:0.NA/{PREFIX}', safe='/')}:{SECRET}".encode()).decode(),
        "Content-Type": "application/json"}


def record(handle: str, n: int) -> list[dict]:
    return [{"index": 1, "type": "URL", "data": f"https://example.com/p/{quote(handle, safe='')}"},
            {"index": 2001, "type": "productName", "data": f"Servo motor M{n % 9}"},
            {"index": 2002, "type": "batch", "data": f"B-{n // 1000}"}]


@events.test_start.add_listener
def register_known(environment, **kwargs) -> None:
    """The identifiers scanners look up, registered once before the users start."""
    host = environment.host or "http://127.0.0.1:8000"
    ops = [{"op": "put", "handle": h, "values": record(h, i)} for i, h in enumerate(KNOWN_HANDLES)]
    for start in range(0, len(ops), 1000):
        r = requests.post(f"{host}/api/batch", json={"operations": ops[start:start + 1000]}, headers=AUTH, timeout=60)
        r.raise_for_status()
        if r.json()["failed"]:
            raise RuntimeError(f"registering the known identifiers failed: {r.text[:500]}")
    if any(u.__name__ == "TraceLookup" for u in environment.user_classes):
        capture_history(host)


def capture_history(host: str) -> None:
    """Each traced identifier is commissioned, then shipped: two EPCIS events, captured synchronously."""
    events = []
    for i, h in enumerate(KNOWN_HANDLES[:TRACED]):
        for n, (step, disposition) in enumerate((("commissioning", "active"), ("shipping", "in_transit"))):
            events.append({"type": "ObjectEvent", "eventTime": f"2026-03-01T10:{i % 60:02d}:{n:02d}+08:00",
                           "eventTimeZoneOffset": "+08:00", "epcList": [h], "action": "ADD" if n == 0 else "OBSERVE",
                           "bizStep": step, "disposition": disposition})
    for start in range(0, len(events), 100):
        body = {"@context": ["https://ref.gs1.org/standards/epcis/epcis-context.jsonld"], "type": "EPCISDocument",
                "schemaVersion": "2.0", "creationDate": "2026-03-01T00:00:00Z",
                "epcisBody": {"eventList": events[start:start + 100]}}
        r = requests.post(f"{host}/api/events", json=body, timeout=60,
                          headers={**AUTH, "Content-Type": "application/ld+json"})
        if r.status_code not in (200, 201):
            raise RuntimeError(f"capturing the traced identifiers' events failed: {r.status_code} {r.text[:500]}")


class EnterpriseIntegration(HttpUser):
    """Batches of new identifiers, then updates of values of identifiers already registered."""

    wait_time = between(0.05, 0.2)

    def on_start(self) -> None:
        self.serial = itertools.count()
        self.mine: list[str] = []

    @task(3)
    def register_batch(self) -> None:
        handles = [f"{PREFIX}/LOCUST-{RUN}-{id(self):x}-{next(self.serial)}" for _ in range(BATCH)]
        ops = [{"op": "create", "handle": h, "values": record(h, i)} for i, h in enumerate(handles)]
        with self.client.post("/api/batch", json={"operations": ops}, headers=AUTH, name="batch create",
                              catch_response=True) as r:
            if r.status_code != 200:
                r.failure(f"status {r.status_code}: {r.text[:200]}")
            elif r.json()["succeeded"] != len(ops):
                r.failure(f"not every item was created: {r.text[:300]}")
            else:
                self.mine.extend(handles)

    @task(1)
    def update_batch(self) -> None:
        if not self.mine:
            return
        picked = random.sample(self.mine, min(BATCH, len(self.mine)))
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
        ops = [{"op": "update", "handle": h, "indexes": [2003],
                "values": [{"index": 2003, "type": "inspected", "data": stamp}]} for h in picked]
        with self.client.post("/api/batch", json={"operations": ops}, headers=AUTH, name="batch update",
                              catch_response=True) as r:
            if r.status_code != 200 or r.json()["succeeded"] != len(ops):
                r.failure(f"status {r.status_code}: {r.text[:300]}")


class Scanner(HttpUser):
    """Resolution of the codes a scanner reads: 90% known identifiers, 10% unknown ones."""

    wait_time = between(0.01, 0.05)

    @task(6)
    def resolve_known(self) -> None:
        h = random.choice(KNOWN_HANDLES)
        with self.client.get(f"/api/handles/{h}", name="/api/handles/[known]", catch_response=True) as r:
            if r.status_code != 200 or r.json()["handle"] != h:
                r.failure(f"status {r.status_code}: {r.text[:200]}")

    @task(1)
    def resolve_unknown(self) -> None:
        h = f"{PREFIX}/NOT-REGISTERED-{random.randrange(10**9)}"
        with self.client.get(f"/api/handles/{h}", name="/api/handles/[unknown]", catch_response=True) as r:
            if r.status_code == 404 and r.json()["responseCode"] == 100:
                r.success()
            else:
                r.failure(f"expected 404 with responseCode 100, got {r.status_code}: {r.text[:200]}")

    @task(2)
    def proxy_redirect(self) -> None:
        h = random.choice(KNOWN_HANDLES)
        with self.client.get(f"/{h}", name="/[known] redirect", allow_redirects=False, catch_response=True) as r:
            if r.status_code != 302 or not r.headers.get("Location", "").startswith("https://example.com/p/"):
                r.failure(f"expected a redirect, got {r.status_code}")

    @task(1)
    def scan(self) -> None:
        h = random.choice(KNOWN_HANDLES)
        with self.client.get("/scan", params={"code": f"hdl:{h}"}, name="/scan?code=hdl:[known]",
                             allow_redirects=False, catch_response=True) as r:
            if r.status_code not in (200, 302):
                r.failure(f"status {r.status_code}: {r.text[:200]}")


class HandleScanner(User):
    """Resolution over the Handle protocol (UDP; TCP when an answer comes back truncated)."""

    wait_time = between(0.01, 0.05)

    def on_start(self) -> None:
        from resolver.handleclient import HandleClient

        target = os.environ.get("IDNODE_LOCUST_HANDLE")
        if not target:
            raise RuntimeError("HandleScanner needs IDNODE_LOCUST_HANDLE=HOST:PORT")
        host, _, port = target.rpartition(":")
        self.hdl = HandleClient(host or "127.0.0.1", int(port), timeout=5.0)

    def _resolve(self, name: str, handle: str, want_rc: int) -> None:
        t0 = time.perf_counter()
        exc = None
        length = 0
        try:
            msg = self.hdl.resolve(handle)
            length = len(msg.body.values) if msg.rc == 1 else 0
            if msg.rc != want_rc:
                exc = AssertionError(f"response code {msg.rc}, expected {want_rc}")
        except Exception as e:  # a time-out, a refused connection: a failure, not a crash
            exc = e
        events.request.fire(request_type="HDL", name=name, response_time=(time.perf_counter() - t0) * 1000,
                            response_length=length, exception=exc, context={})

    @task(9)
    def resolve_known(self) -> None:
        self._resolve("resolve [known]", random.choice(KNOWN_HANDLES), 1)

    @task(1)
    def resolve_unknown(self) -> None:
        self._resolve("resolve [unknown]", f"{PREFIX}/NOT-REGISTERED-{random.randrange(10**9)}", 100)


class TraceLookup(HttpUser):
    """Traceability: an identifier's trace and its events, for identifiers that have a history."""

    wait_time = between(0.02, 0.1)

    @task(2)
    def trace(self) -> None:
        h = random.choice(KNOWN_HANDLES[:TRACED])
        with self.client.get(f"/api/trace/{h}", name="/api/trace/[traced]", catch_response=True) as r:
            if r.status_code != 200 or len(r.json().get("timeline", [])) < 2:
                r.failure(f"status {r.status_code}: {r.text[:200]}")

    @task(1)
    def events(self) -> None:
        h = random.choice(KNOWN_HANDLES[:TRACED])
        # Events are read by the enterprises they name (README, "Who reads events"), as an integration would.
        with self.client.get("/events", params={"MATCH_anyEPC": h, "perPage": 10}, name="/events?MATCH_anyEPC=[traced]",
                             headers=AUTH, catch_response=True) as r:
            try:
                found = r.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
            except (ValueError, KeyError, TypeError):
                found = []
            if r.status_code != 200 or len(found) < 2:
                r.failure(f"status {r.status_code}: {r.text[:200]}")
