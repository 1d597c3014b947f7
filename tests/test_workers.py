"""``--workers 2``: both workers answer on one port, metrics sum across them, a killed worker loses
no acknowledged write and is replaced; SIGHUP reloads; JSON logs are one object a line."""

from __future__ import annotations

import json
import os
import signal
import threading
import time

import pytest
import requests

from resolver.handleclient import HandleClient
from tests import handle_nodes as hn
from tests.nodes import Node, free_port
from tests.test_metrics import sample, wait_for

pytestmark = pytest.mark.serial  # several worker processes per node, and their deaths: run alone

JSON = {"Content-Type": "application/json"}


def worker_pids(node: Node, want: int = 2, timeout: float = 20.0) -> set[int]:
    """PIDs of the workers that answer: each request a new connection, which the kernel spreads."""
    seen: set[int] = set()
    deadline = time.monotonic() + timeout
    while len(seen) < want and time.monotonic() < deadline:
        try:
            seen.add(requests.get(node.url + "/healthz", timeout=2, headers={"Connection": "close"}).json()["pid"])
        except requests.ConnectionError:
            time.sleep(0.05)
    return seen


@pytest.fixture
def workers_node(fresh_data):
    n = hn.start(fresh_data, "--workers", "2", "--log-format", "json")
    yield n
    n.stop()


def test_two_workers_answer_and_metrics_sum(workers_node, auth):
    node = workers_node
    pids = worker_pids(node)
    assert len(pids) == 2 and node.proc.pid not in pids
    r = requests.put(node.api("88.101.5/W-1"), headers={**JSON, **auth["owner"]},
                     json={"values": [{"index": 1, "type": "URL", "data": "https://acme.example/w1"}]})
    assert r.status_code == 201
    answered_by: set[int] = set()
    for _ in range(60):
        r = requests.get(node.api("88.101.5/W-1"), headers={"Connection": "close"})
        assert r.status_code == 200
    for _ in range(40):
        answered_by.add(requests.get(node.url + "/healthz", headers={"Connection": "close"}).json()["pid"])
    assert answered_by == pids  # both served the load above too
    # The Handle protocol port is shared too (SO_REUSEPORT on UDP and TCP).
    for _ in range(10):
        assert HandleClient("127.0.0.1", node.handle_port, timeout=10.0).resolve("88.101.5/W-1").rc == 1
    assert HandleClient("127.0.0.1", node.handle_port, timeout=10.0).resolve("88.101.5/W-1", udp=False).rc == 1
    # Whichever worker answers the scrape, it reports the sum of both (published within a second).
    text = wait_for(node, "idnode_requests_total", 60, protocol="http", operation="resolve", code="200")
    assert sample(text, "idnode_requests_total", protocol="http", operation="resolve", code="200") == 60
    assert sample(text, "idnode_requests_total", protocol="http", operation="health", code="200") >= 40
    text = wait_for(node, "idnode_requests_total", 10, protocol="udp", operation="resolve", code="1")
    assert sample(text, "idnode_requests_total", protocol="udp", operation="resolve", code="1") == 10
    text = wait_for(node, "idnode_requests_total", 1, protocol="tcp", operation="resolve", code="1")
    assert sample(text, "idnode_requests_total", protocol="tcp", operation="resolve", code="1") == 1


def test_killed_worker_loses_no_acknowledged_write_and_comes_back(workers_node, auth):
    node = workers_node
    pids = worker_pids(node)
    assert len(pids) == 2
    acknowledged: list[str] = []
    stop = threading.Event()

    def write() -> None:
        i = 0
        with requests.Session() as s:
            while not stop.is_set():
                h = f"88.101.5/K-{i}"
                i += 1
                try:
                    r = s.put(node.api(h), headers={**JSON, **auth["owner"], "Connection": "close"}, timeout=10,
                              json={"values": [{"index": 1, "type": "URL", "data": f"https://acme.example/{i}"}]})
                except requests.RequestException:
                    continue  # not acknowledged: the worker died under it
                if r.status_code == 201:
                    acknowledged.append(h)

    writers = [threading.Thread(target=write) for _ in range(4)]
    for t in writers:
        t.start()
    time.sleep(1.0)
    victim = sorted(pids)[0]
    os.kill(victim, signal.SIGKILL)
    time.sleep(1.5)
    stop.set()
    for t in writers:
        t.join(30)
    assert len(acknowledged) > 20
    for h in acknowledged:
        assert requests.get(node.api(h)).status_code == 200, h
    # The supervisor started a replacement: two workers again, the killed one not among them.
    now = worker_pids(node, timeout=30)
    assert len(now) == 2 and victim not in now
    assert node.proc.poll() is None
    # What the killed worker had published stays in the sums (its last second of counts is lost).
    text = wait_for(node, "idnode_requests_total", 1, protocol="http", operation="register", code="201")
    assert 0 < sample(text, "idnode_requests_total", protocol="http", operation="register", code="201") \
        <= len(acknowledged)
    # The log is JSON, one object a line, and names the crash.
    lines = [json.loads(line) for line in node.log.read_text().splitlines() if line.startswith("{")]
    assert any(e["event"].startswith(f"worker {victim} exited") and e["level"] == "warning" for e in lines)


def test_sigterm_stops_every_worker(fresh_data):
    node = Node(fresh_data, "--workers", "2").start()
    pids = worker_pids(node)
    assert node.stop() == 0
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_sigterm_drains_requests_in_flight(fresh_data, auth):
    """Batches being worked on when SIGTERM arrives are finished and answered, then the node stops."""
    node = Node(fresh_data, "--workers", "2").start()
    worker_pids(node)
    results: list[int | str] = []

    def batch(n: int) -> None:
        ops = [{"op": "create", "handle": f"88.101.5/T{n}-{i}",
                "values": [{"index": 1, "type": "URL", "data": f"https://acme.example/{n}/{i}"}]} for i in range(2000)]
        try:
            r = requests.post(node.url + "/api/batch", json={"operations": ops}, timeout=30,
                              headers={**JSON, **auth["owner"], "Connection": "close"})
            results.append(r.status_code if r.json()["succeeded"] == 2000 else r.text)
        except requests.RequestException as e:
            results.append(repr(e))

    threads = [threading.Thread(target=batch, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    time.sleep(0.1)  # sent, and being decoded or committed: all four take about 0.25 s
    node.proc.send_signal(signal.SIGTERM)
    for t in threads:
        t.join(30)
    assert node.proc.wait(30) == 0
    node.proc = None
    assert results == [200] * 4
    node.start()
    try:
        for n in range(4):
            assert requests.get(node.api(f"88.101.5/T{n}-1999")).status_code == 200
    finally:
        node.stop()


def test_sighup_reloads_the_certificate_in_every_worker(fresh_data, tmp_path):
    import ssl

    from tests.test_https import _self_signed

    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    cert, key = _self_signed(first)
    new_cert, new_key = _self_signed(second)
    port = free_port()
    node = Node(fresh_data, "--workers", "2", "--https", f"127.0.0.1:{port}", "--tls-cert", str(cert),
                "--tls-key", str(key)).start()
    try:
        served = lambda: ssl.get_server_certificate(("127.0.0.1", port), timeout=5)  # noqa: E731
        assert served().strip() == cert.read_text().strip()
        before = worker_pids(node)
        cert.write_bytes(new_cert.read_bytes())
        key.write_bytes(new_key.read_bytes())
        node.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 15
        streak = 0
        while streak < 20 and time.monotonic() < deadline:  # 20 new connections in a row: every worker
            streak = streak + 1 if served().strip() == new_cert.read_text().strip() else 0
        assert streak >= 20, "a worker still serves the old certificate"
        assert worker_pids(node) == before  # reloaded in place, not restarted
    finally:
        node.stop()
