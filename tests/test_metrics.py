"""/metrics, /healthz and /readyz on a real node: what an operator's Prometheus reads."""

from __future__ import annotations

import shutil
import subprocess
import time

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from resolver.handleclient import HandleClient
from tests import handle_nodes as hn
from tests.nodes import Node, idnode

JSON = {"Content-Type": "application/json"}


def scrape(node: Node) -> str:
    r = requests.get(node.url + "/metrics", timeout=10)
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    return r.text


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample (0 when absent): counters' samples by their _total name."""
    total = 0.0
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                total += s.value
    return total


def wait_for(node: Node, name: str, want: float, timeout: float = 10.0, **labels: str) -> str:
    """Scrape until the sample reaches ``want`` (other workers publish once a second)."""
    deadline = time.monotonic() + timeout
    while True:
        text = scrape(node)
        if sample(text, name, **labels) >= want or time.monotonic() > deadline:
            return text
        time.sleep(0.2)


@pytest.fixture
def handle_node(fresh_data):
    n = hn.start(fresh_data)
    yield n
    n.stop()


def test_requests_counted_by_protocol_operation_and_code(handle_node, auth):
    node = handle_node
    before = scrape(node)
    r = requests.put(node.api("88.101.5/M-1"), headers={**JSON, **auth["owner"]},
                     json={"values": [{"index": 1, "type": "URL", "data": "https://acme.example/m1"}]})
    assert r.status_code == 201
    for _ in range(7):
        assert requests.get(node.api("88.101.5/M-1")).status_code == 200
    for _ in range(3):
        assert requests.get(node.api("88.101.5/absent")).status_code == 404
    client = HandleClient("127.0.0.1", node.handle_port, timeout=10.0)
    for _ in range(4):
        assert client.resolve("88.101.5/M-1").rc == 1
    assert client.resolve("88.101.5/absent").rc == 100
    assert client.resolve("88.101.5/M-1", udp=False).rc == 1

    text = scrape(node)

    def grew(name: str, **labels: str) -> float:
        return sample(text, name, **labels) - sample(before, name, **labels)

    assert grew("idnode_requests_total", protocol="http", operation="resolve", code="200") == 7
    assert grew("idnode_requests_total", protocol="http", operation="resolve", code="404") == 3
    assert grew("idnode_requests_total", protocol="http", operation="register", code="201") == 1
    assert grew("idnode_requests_total", protocol="udp", operation="resolve", code="1") == 4
    assert grew("idnode_requests_total", protocol="udp", operation="resolve", code="100") == 1
    assert grew("idnode_requests_total", protocol="tcp", operation="resolve", code="1") == 1
    # Latency histograms: one observation per request, in seconds.
    assert grew("idnode_request_duration_seconds_count", protocol="http", operation="resolve") == 10
    assert grew("idnode_request_duration_seconds_bucket", protocol="http", operation="resolve", le="+Inf") == 10
    assert 0 < grew("idnode_request_duration_seconds_sum", protocol="http", operation="resolve") < 10
    # The write went through one group commit; the reads after it hit the cache.
    assert grew("idnode_group_commit_operations_count") >= 1
    assert sample(text, "idnode_last_commit_duration_seconds") > 0
    assert grew("idnode_cache_hits_total") >= 1
    # Storage, read at scrape time: 3 prefixes (node, two enterprises), their prefix handles and M-1.
    assert sample(text, "idnode_prefixes_stored") == 3
    assert sample(text, "idnode_identifiers_stored") == sample(before, "idnode_identifiers_stored") + 1
    assert sample(text, "idnode_lmdb_map_size_bytes") >= sample(text, "idnode_lmdb_map_used_bytes") > 0
    assert sample(text, "idnode_lmdb_file_size_bytes") > 0
    assert sample(text, "idnode_lmdb_readers") >= 1
    versions = [s.labels["version"] for f in text_string_to_metric_families(text) if f.name == "idnode_build_info"
                for s in f.samples]
    assert versions and versions[0]


def test_metrics_pass_promtool_check(handle_node):
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool not installed (Debian package prometheus; .ci/run installs it)")
    requests.get(handle_node.api("88.101.5/absent"))
    HandleClient("127.0.0.1", handle_node.handle_port, timeout=10.0).resolve("88.101.5/absent")
    text = scrape(handle_node)
    p = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr


def test_readyz_and_healthz(node):
    r = requests.get(node.url + "/readyz")
    assert r.status_code == 200 and r.json()["status"] == "ready"
    h = requests.get(node.url + "/healthz").json()
    assert h["status"] == "ok" and h["pid"] > 0


def test_a_failing_handler_answers_500_with_the_request_id_and_logs_it_as_json(caplog):
    import asyncio
    import json
    import logging

    from aiohttp import web
    from aiohttp.test_utils import TestClient, TestServer

    from resolver import metrics
    from resolver.http.monitoring import counted
    from resolver.logs import JsonFormatter

    async def broken(request: web.Request) -> web.Response:
        raise KeyError("a bug")

    async def run() -> tuple[int, dict, str]:
        app = web.Application()
        app.router.add_get("/broken", counted("broken", broken))
        async with TestClient(TestServer(app)) as client:
            r = await client.get("/broken", headers={"X-Request-Id": "req-42"})
            return r.status, await r.json(), r.headers["X-Request-Id"]

    before = metrics._requests.get(("http", "broken", 500), [0])[0]
    with caplog.at_level(logging.ERROR, logger="idnode.http"):
        status, body, rid = asyncio.run(run())
    assert (status, rid) == (500, "req-42")
    assert "req-42" in body["message"] and body["responseCode"] == 2
    assert metrics._requests[("http", "broken", 500)][0] == before + 1
    line = json.loads(JsonFormatter().format(caplog.records[-1]))
    assert line["event"] == "request failed" and line["request_id"] == "req-42" and line["path"] == "/broken"
    assert "KeyError" in line["exception"]


def test_events_stored_counts_captured_epcis_events(node, auth):
    def stored() -> float:
        return sample(scrape(node), "idnode_events_stored")

    before = stored()
    events = [{"type": "ObjectEvent", "eventTime": f"2026-03-01T10:00:0{n}+08:00", "eventTimeZoneOffset": "+08:00",
               "epcList": ["88.101.5/EV-1"], "action": "OBSERVE"} for n in range(3)]
    body = {"@context": ["https://ref.gs1.org/standards/epcis/epcis-context.jsonld"], "type": "EPCISDocument",
            "schemaVersion": "2.0", "creationDate": "2026-03-01T00:00:00Z", "epcisBody": {"eventList": events}}
    r = requests.post(node.url + "/api/events", json=body,
                      headers={**auth["owner"], "Content-Type": "application/ld+json"})
    assert r.status_code == 201, r.text
    assert stored() == before + 3


def test_counters_start_from_zero_after_a_restart_and_survive_a_second_start_that_fails(node):
    def resolved() -> float:
        return sample(scrape(node), "idnode_requests_total", protocol="http", operation="resolve", code="404")

    for _ in range(5):
        requests.get(node.api("88.101.5/absent"))
    assert resolved() == 5
    # A second node on the same folder and port fails to bind; the running node's counts stay.
    second = idnode("serve", "--data", str(node.data), "--http", f"127.0.0.1:{node.port}", check=False)
    assert second.returncode != 0 and "address already in use" in second.stderr.lower()
    assert resolved() == 5
    node.restart()
    assert resolved() == 0
