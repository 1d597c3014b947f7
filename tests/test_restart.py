"""Everything acknowledged before a stop is there after a restart, with the acknowledged values."""

from __future__ import annotations

import signal
import threading

import requests

from tests.nodes import Node

H = {"Content-Type": "application/json"}


def _writers(node: Node, owner: dict, acked: dict, n_threads: int = 8, per_thread: int = 40) -> None:
    """Concurrent single PUTs and batches; record what the node acknowledged."""
    lock = threading.Lock()

    def single(t: int) -> None:
        s = requests.Session()
        for i in range(per_thread):
            h = f"88.101.5/RST-{t}-{i}"
            url = f"https://example.com/{t}/{i}"
            r = s.put(node.api(h), json=[{"index": 1, "type": "URL", "data": url}], headers={**H, **owner})
            if r.status_code == 201:
                with lock:
                    acked[h] = url

    def batch(t: int) -> None:
        s = requests.Session()
        for b in range(3):
            ops = [{"op": "create", "handle": f"88.101.5/RSB-{t}-{b}-{i}",
                    "values": [{"index": 1, "type": "URL", "data": f"https://example.com/b/{t}/{b}/{i}"}]}
                   for i in range(200)]
            r = s.post(f"{node.url}/api/batch", json={"operations": ops}, headers={**H, **owner})
            if r.status_code == 200:
                with lock:
                    for op, res in zip(ops, r.json()["results"], strict=True):
                        if res["responseCode"] == 1:
                            acked[op["handle"]] = op["values"][0]["data"]

    threads = [threading.Thread(target=single if t % 2 else batch, args=(t,)) for t in range(n_threads)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()


def _check(node: Node, acked: dict) -> None:
    s = requests.Session()
    missing = []
    for h, url in acked.items():
        r = s.get(node.api(h), params={"type": "URL"})
        if r.status_code != 200 or r.json()["values"][0]["data"]["value"] != url:
            missing.append((h, r.status_code))
    assert not missing, f"{len(missing)} acknowledged writes lost, e.g. {missing[:5]}"


def test_acknowledged_writes_survive_graceful_restart(node, auth):
    acked: dict[str, str] = {}
    _writers(node, auth["owner"], acked)
    assert len(acked) > 1000
    node.restart()
    _check(node, acked)
    listing = requests.get(f"{node.url}/api/handles", params={"prefix": "88.101.5", "pageSize": 1},
                           headers=auth["owner"]).json()
    assert int(listing["totalCount"]) == len(acked)


def test_acknowledged_writes_survive_kill_9(node, auth):
    acked: dict[str, str] = {}
    _writers(node, auth["owner"], acked, n_threads=4, per_thread=25)
    assert node.stop(signal.SIGKILL) == -signal.SIGKILL
    node.start()
    _check(node, acked)
    # Prefix configuration and credentials survive too.
    r = requests.put(node.api("88.101.5/AFTER-KILL"), json=[{"index": 1, "type": "URL", "data": "https://x.example/"}],
                     headers={**H, **auth["owner"]})
    assert r.status_code == 201
