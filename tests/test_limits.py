"""Rate and connection limits over HTTP and the Handle protocol: per client address (requests a
second, connections), per identity, a write backlog that sheds load, and slow clients timed out.
Each node is configured low through its TOML file; other loopback addresses (127.0.0.2 …) stand in
for other client machines."""

from __future__ import annotations

import http.client
import socket
import threading
import time

import pytest
import requests

from protocol import bodies as b
from protocol.codes import RC
from protocol.envelope import Op
from protocol.message import encode
from tests import handle_nodes as hn
from tests.nodes import Node

pytestmark = pytest.mark.serial  # rate and time-out bounds, measured in wall time: run alone

H = {"Content-Type": "application/json"}
URL = [{"index": 1, "type": "URL", "data": "https://example.com/a"}]


def start(data, tmp_path, settings: str, *, handle: bool = False) -> Node:
    cfg = tmp_path / "node.toml"
    cfg.write_text(settings)
    return hn.start(data, "--config", str(cfg)) if handle else Node(data, "--config", str(cfg)).start()


def get_from(node, source: str, path: str) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", node.port, timeout=10, source_address=(source, 0))
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        r.read()
        return r.status
    finally:
        conn.close()


@pytest.fixture
def rated(fresh_data, tmp_path, auth):
    node = start(fresh_data, tmp_path, "rate_per_address = 20\n", handle=True)
    requests.put(node.api("88.101.5/R"), json=URL, headers={**H, **auth["owner"]}).raise_for_status()
    time.sleep(1.0)  # the set-up's requests spent tokens: start from a full bucket
    yield node
    node.stop()


def test_requests_over_the_address_rate_get_429_then_pass_again(rated, auth):
    s = requests.Session()
    answers = [s.get(rated.api("88.101.5/R")) for _ in range(60)]
    codes = [r.status_code for r in answers]
    assert codes.count(200) >= 20 and codes.count(429) >= 20, codes
    refused = next(r for r in answers if r.status_code == 429)
    assert refused.headers["Retry-After"] == "1"
    assert refused.json()["responseCode"] == RC.SERVER_TOO_BUSY
    assert "rate limit: more than 20 requests a second from 127.0.0.1" in refused.json()["message"]
    # Every route is limited, writes too (and a refused write writes nothing) ... The bucket refills a
    # token every 50 ms, so on a slow machine a write may find one: empty it again right before.
    for attempt in range(20):
        while s.get(rated.api("88.101.5/R")).status_code != 429:
            pass
        r = s.put(rated.api(f"88.101.5/R2-{attempt}"), json=URL, headers={**H, **auth["owner"]})
        if r.status_code == 429:
            break
    assert r.status_code == 429, r.text
    refused_write = f"88.101.5/R2-{attempt}"
    # ... but never the probes.
    assert all(s.get(rated.url + p).status_code == 200 for p in ["/healthz", "/readyz"] * 20)
    # Another address has its own bucket.
    assert get_from(rated, "127.0.0.2", "/api/handles/88.101.5/R") == 200
    time.sleep(1.1)
    assert s.get(rated.api("88.101.5/R")).status_code == 200
    assert s.get(rated.api(refused_write)).status_code == 404


def test_the_same_rate_over_the_handle_protocol(rated):
    """UDP and TCP requests spend the same address's tokens as HTTP, and get RC 3 over them."""
    c = hn.client(rated)
    rcs = [c.resolve("88.101.5/R", udp=True).rc for _ in range(30)]
    assert rcs.count(RC.SUCCESS) >= 10 and rcs.count(RC.SERVER_TOO_BUSY) >= 5, rcs
    busy = c.resolve("88.101.5/R", udp=False)  # TCP, same address, bucket still empty
    assert busy.rc == RC.SERVER_TOO_BUSY and "rate limit" in busy.body.message
    assert requests.get(rated.api("88.101.5/R")).status_code == 429  # HTTP shares it
    time.sleep(1.1)
    assert c.resolve("88.101.5/R", udp=True).rc == RC.SUCCESS


def test_an_identity_over_its_rate(fresh_data, tmp_path, auth):
    node = start(fresh_data, tmp_path, "rate_per_identity = 5\n", handle=True)
    try:
        time.sleep(1.0)
        s = requests.Session()
        codes = [s.get(node.api("0.NA/88.101.5"), headers=auth["owner"]).status_code for _ in range(12)]
        assert codes.count(200) >= 5 and codes.count(429) >= 5, codes
        r = s.get(node.api("0.NA/88.101.5"), headers=auth["owner"])
        assert r.status_code == 429 and "for 300:0.NA/88.101.5" in r.json()["message"]
        assert s.get(node.api("0.NA/88.101.5")).status_code == 200  # anonymous reads are not that identity
        assert s.get(node.api("0.NA/88.101.6"), headers=auth["other"]).status_code == 200
        # The Handle protocol's challenge-response spends the same identity's tokens.
        from resolver.handleclient import SecretKey
        from tests.nodes import ENTERPRISES

        me = SecretKey(300, "0.NA/88.101.5", ENTERPRISES["88.101.5"].encode())
        ans = hn.client(node).call(Op.CREATE_HANDLE, b.CreateHandleRequest("88.101.5/ID", ()), me)
        assert ans.rc == RC.SERVER_TOO_BUSY and "for 300:0.NA/88.101.5" in ans.body.message
        # Refusals for rate are not audit entries (they are counted in the metrics).
        entries = s.get(f"{node.url}/api/audit", params={"result": "denied", "client": "127.0.0.1"},
                        headers=auth["admin"]).json()
        assert entries["entries"] == []
    finally:
        node.stop()


def test_connections_per_address_over_http_and_handle_tcp(fresh_data, tmp_path):
    node = start(fresh_data, tmp_path, "connections_per_address = 4\n", handle=True)
    held: list[socket.socket] = []
    try:
        for _ in range(3):
            held.append(socket.create_connection(("127.0.0.1", node.port), timeout=5))
        held.append(socket.create_connection(("127.0.0.1", node.handle_port), timeout=5))  # the 4th: Handle TCP
        time.sleep(0.2)
        with socket.create_connection(("127.0.0.1", node.port), timeout=5) as extra:
            answer = extra.recv(4096)
        assert answer.startswith(b"HTTP/1.1 429 ") and b"Retry-After: 1" in answer
        assert b"too many connections" in answer
        with socket.create_connection(("127.0.0.1", node.handle_port), timeout=5) as extra:
            assert extra.recv(4096) == b""  # closed at once
        # Another address is not counted with these.
        assert get_from(node, "127.0.0.3", "/healthz") == 200
        # One closed, one more may open.
        held.pop(0).close()
        time.sleep(0.2)
        with socket.create_connection(("127.0.0.1", node.port), timeout=5) as again:
            again.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            assert again.recv(4096).startswith(b"HTTP/1.1 200 ")
    finally:
        for s in held:
            s.close()
        node.stop()


def test_slow_clients_are_timed_out(fresh_data, tmp_path, auth):
    node = start(fresh_data, tmp_path, "http_idle_timeout = 1\nbody_timeout = 1\nhandle_idle_timeout = 1\n",
                 handle=True)
    try:
        # Headers that never end: the connection is closed.
        with socket.create_connection(("127.0.0.1", node.port), timeout=5) as s:
            t0 = time.monotonic()
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            assert s.recv(4096) == b"" and time.monotonic() - t0 < 3
        # A body that does not arrive: 408, and nothing written.
        with socket.create_connection(("127.0.0.1", node.port), timeout=5) as s:
            head = ("PUT /api/handles/88.101.5/SLOW HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    f"Authorization: {auth['owner']['Authorization']}\r\nContent-Length: 100\r\n\r\n")
            s.sendall(head.encode() + b'{"values": [')
            answer = s.recv(4096)
        assert answer.startswith(b"HTTP/1.1 408 ") and b"did not arrive within 1 s" in answer
        assert requests.get(node.api("88.101.5/SLOW")).status_code == 404
        with socket.create_connection(("127.0.0.1", node.port), timeout=5) as s:  # the same for a scanner's bytes
            s.sendall(b"POST /scan HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n")
            assert s.recv(4096).startswith(b"HTTP/1.1 408 ")
        # A Handle message trickled a byte at a time, slower than a message a second: closed.
        c = hn.client(node)
        msg = encode(c.message(Op.RESOLUTION, b.ResolutionRequest("88.101.5/X")))
        with socket.create_connection(("127.0.0.1", node.handle_port), timeout=5) as s:
            t0 = time.monotonic()
            with pytest.raises((ConnectionError, BrokenPipeError, OSError)):
                for byte in msg:
                    s.sendall(bytes([byte]))
                    time.sleep(0.3)
                    if time.monotonic() - t0 > 3:
                        break
                s.sendall(b"x")
                assert s.recv(10) == b""
                raise ConnectionError("closed")
            assert time.monotonic() - t0 < 3
        # A client that sends whole messages in time is served.
        assert c.resolve("88.101.5/X", udp=False).rc == RC.HANDLE_NOT_FOUND
    finally:
        node.stop()


def test_a_write_backlog_sheds_new_writes_with_503(fresh_data, tmp_path, auth):
    node = start(fresh_data, tmp_path, "max_pending_writes = 1\n")

    def write(handle: str, results: list) -> None:
        results.append((handle, requests.put(node.api(handle), json=URL, headers={**H, **auth["owner"]})))

    try:
        for round_ in range(3):  # concurrent writes that find the committer busy: almost always some
            results: list = []
            threads = [threading.Thread(target=write, args=(f"88.101.5/W{round_}-{i}", results)) for i in range(48)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert {r.status_code for _, r in results} <= {201, 503}
            shed = [(h, r) for h, r in results if r.status_code == 503]
            if shed:
                break
        assert shed, "no write was shed"
        handle, refused = shed[0]
        body = refused.json()
        assert body["responseCode"] == RC.SERVER_TOO_BUSY and "writes are waiting" in body["message"]
        assert refused.headers["Retry-After"] == "1"
        assert all(requests.get(node.api(h)).status_code == 404 for h, _ in shed)  # nothing of them written
    finally:
        node.stop()
