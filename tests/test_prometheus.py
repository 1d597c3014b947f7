"""A real Prometheus server on loopback scrapes a running node and sees its request counter grow."""

from __future__ import annotations

import shutil
import subprocess
import time

import pytest
import requests

from tests.nodes import Node, free_port, wait_ready

RESOLVED = 'sum(idnode_requests_total{protocol="http",operation="resolve",code="200"})'


def query(base: str, expr: str) -> float | None:
    r = requests.get(base + "/api/v1/query", params={"query": expr}, timeout=5)
    r.raise_for_status()
    result = r.json()["data"]["result"]
    return float(result[0]["value"][1]) if result else None


def poll(base: str, expr: str, ok, timeout: float) -> float | None:
    deadline = time.monotonic() + timeout
    value = None
    while time.monotonic() < deadline:
        value = query(base, expr)
        if value is not None and ok(value):
            return value
        time.sleep(0.25)
    return value


@pytest.fixture
def prometheus(node: Node, tmp_path):
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.skip("prometheus not installed (Debian package prometheus; .ci/run installs it)")
    port = free_port()
    cfg = tmp_path / "prometheus.yml"
    cfg.write_text(
        "global: {scrape_interval: 1s, scrape_timeout: 1s, evaluation_interval: 1s}\n"
        "scrape_configs:\n"
        "  - job_name: idnode\n"
        f"    static_configs: [{{targets: ['127.0.0.1:{node.port}']}}]\n")
    log = open(tmp_path / "prometheus.log", "wb")
    proc = subprocess.Popen([binary, f"--config.file={cfg}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                             f"--web.listen-address=127.0.0.1:{port}"], stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(base + "/-/ready", proc, 30, tmp_path / "prometheus.log")
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def test_prometheus_sees_requests_counter_increase(node, prometheus, auth):
    r = requests.put(node.api("88.101.5/P-1"), headers={"Content-Type": "application/json", **auth["owner"]},
                     json={"values": [{"index": 1, "type": "URL", "data": "https://acme.example/p1"}]})
    assert r.status_code == 201
    assert requests.get(node.api("88.101.5/P-1")).status_code == 200
    assert poll(prometheus, 'up{job="idnode"}', lambda v: v == 1, 20) == 1
    first = poll(prometheus, RESOLVED, lambda v: v >= 1, 20)
    assert first is not None and first >= 1
    for _ in range(25):
        assert requests.get(node.api("88.101.5/P-1")).status_code == 200
    later = poll(prometheus, RESOLVED, lambda v: v >= first + 25, 20)
    assert later is not None and later >= first + 25
    # What the alert rules and the dashboard compute works on what was scraped.
    assert poll(prometheus, 'sum(rate(idnode_requests_total[1m]))', lambda v: v > 0, 20) > 0
