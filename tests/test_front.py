"""The HTTP front (resolver/http/front.py): plain keep-alive resolutions answered before aiohttp equal,
byte for byte but the Date, what the regular routes answer; everything else reaches aiohttp unchanged;
admission, counting, metrics and the idle timeout still apply; what it keeps stays bounded."""

from __future__ import annotations

import socket
import time

import pytest
import requests

from resolver.service.cache import HTTP
from tests.nodes import Node
from tests.test_fastget import PUB, RECORDS, SHAPES, InProcess, records  # noqa: F401  (the fixture)

KEEP_ALIVE_HEADERS = (("User-Agent", "scanner/1.0"), ("Accept", "*/*"), ("Accept-Encoding", "gzip, deflate"),
                      ("Connection", "keep-alive"))


def request(method: str, target: str, headers: tuple[tuple[str, str], ...] = ()) -> bytes:
    lines = [f"{method} {target} HTTP/1.1", "Host: 127.0.0.1", *(f"{k}: {v}" for k, v in headers), "", ""]
    return "\r\n".join(lines).encode()


LAST = request("GET", "/openapi.json", (("Connection", "close"),))  # ends the exchange: aiohttp closes after it


def exchange(port: int, *requests_: bytes, chunk: int = 0, apart: bool = False) -> bytes:
    """Send the requests on one keep-alive connection (all at once, ``chunk`` bytes at a time, or ``apart``:
    each alone, a moment after the last), then one that closes it; every answer as sent, less the Date lines."""
    data = b"".join(requests_) + LAST
    with socket.create_connection(("127.0.0.1", port), timeout=20) as s:
        if apart:
            for r in (*requests_, LAST):
                try:
                    s.sendall(r)
                except OSError:  # closed after a 400: read what was answered
                    break
                time.sleep(0.1)
        elif chunk:
            for i in range(0, len(data), chunk):
                s.sendall(data[i:i + chunk])
                time.sleep(0.002)
        else:
            s.sendall(data)
        out = b""
        while piece := s.recv(65536):
            out += piece
    return b"\r\n".join(x for x in out.split(b"\r\n") if not x.lower().startswith(b"date:"))


@pytest.fixture
def regular(records, monkeypatch):  # noqa: F811
    monkeypatch.setenv("IDNODE_FAST_GET", "off")  # no fast route and no front: the application's routes
    n = Node(records.data).start()
    yield n
    n.stop()


GETS = [(m, t, h) for m, t, h in SHAPES if m == "GET" and not any(k in ("Authorization", "If-None-Match")
                                                                      for k, _ in h)]
GETS += [("GET", "/api/handles/hdl:88.101.5/NOPE-3", ()), ("GET", "/api/handles/88.101.5/nope-" + "x" * 250, ()),
         ("GET", "/api/handles/88.101.5/", ()), ("GET", "/api/handles/88.101.5/NOPE-\"q\"", ()),
         ("GET", "/api/handles/0.NA/88.101.5", ()), ("GET", "/api/handles/0.NA/88.101.77", ())]


def test_keep_alive_answers_equal_the_regular_routes(records, regular):  # noqa: F811
    """Every shape twice on one keep-alive connection (the second from kept answers), alone and with
    a browser's or scanner's usual headers, sent whole and in pieces: the same bytes as the regular node."""
    for method, target, headers in GETS:
        for extra in ((), KEEP_ALIVE_HEADERS):
            reqs = [request(method, target, headers + extra)] * 2
            fast, ref = exchange(records.port, *reqs), exchange(regular.port, *reqs)
            assert fast == ref, f"{target} {headers + extra}"
    everything = [request(m, t, h) for m, t, h in GETS] * 2
    assert exchange(records.port, *everything, chunk=97) == exchange(regular.port, *everything, chunk=97)


ODD = [
    request("POST", "/api/handles/88.101.5/X", (("Content-Length", "2"),)) + b"{}",  # a write in between
    request("GET", f"/api/handles/{PUB}", (("Expect", "100-continue"),)),
    request("GET", f"/api/handles/{PUB}", (("Cookie", "a=b"),)),
    request("GET", f"/api/handles/{PUB}", (("Host", "again"),)),  # a second Host: aiohttp's 400
    request("GET", f"/api/handles/{PUB}", (("Origin", "https://example.com"),)),
    b"GET /api/handles/" + PUB.encode() + b" HTTP/1.0\r\n\r\n",
    b"GET /api/handles/" + PUB.encode() + b" HTTP/1.1\r\n\r\n",  # no Host: aiohttp's 400
    b"GET http://127.0.0.1/api/handles/" + PUB.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
    b"GET /api/handles/" + PUB.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n folded\r\n\r\n",
    b"GET /api/handles/" + PUB.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Bad\r\n\r\n",
    request("DELETE", f"/api/handles/{PUB}"),
    b"GET /api/handles/" + PUB.encode() + b" HTTP/1.1\nHost: 127.0.0.1\n\n",  # bare line feeds: not waited for
]


def test_what_the_front_does_not_take_goes_to_aiohttp_unchanged(records, regular):  # noqa: F811
    """A request the front does not answer, after one it does: aiohttp gets it and all after it. (Sent
    apart: aiohttp answers a malformed request in the same segment as good ones with its 400 alone.)"""
    plain = request("GET", f"/api/handles/{PUB}")
    for odd in ODD:
        fast = exchange(records.port, plain, odd, plain, request("GET", f"/{PUB}"), apart=True)
        assert fast == exchange(regular.port, plain, odd, plain, request("GET", f"/{PUB}"), apart=True), odd
        assert fast.startswith(b"HTTP/1.1 200 OK")


def put_one(node: Node, auth: dict, handle: str) -> None:
    r = requests.put(node.api(handle), json={"values": [{"index": 1, "type": "URL", "data": {
        "format": "string", "value": "https://trace.example.com/p/front"}}]},
        headers={"Content-Type": "application/json", **auth["owner"]})
    assert r.status_code == 201, r.text


def test_rate_limit_counting_and_metrics_on_the_front(fresh_data, auth, monkeypatch):
    """Past the per-address rate the front answers 429 with Retry-After; every answer is counted in
    the metrics, known and unknown handles alike."""
    from tests.test_metrics import sample, wait_for

    monkeypatch.setenv("IDNODE_RATE_PER_ADDRESS", "5")
    n = Node(fresh_data).start()
    try:
        known = "88.101.5/FRONT-1"
        put_one(n, auth, known)
        time.sleep(1.5)
        assert requests.get(n.api(known)).status_code == 200
        time.sleep(1.5)
        out = exchange(n.port, *[request("GET", f"/api/handles/{known}")] * 30,
                       *[request("GET", "/api/handles/88.101.5/NOPE-1")] * 10, *[request("GET", f"/{known}")] * 5)
        answers = out.split(b"HTTP/1.1 ")[1:]
        assert sum(a.startswith(b"200 ") for a in answers) >= 1
        refused = [a for a in answers if a.startswith(b"429 ")]
        assert len(refused) >= 30 and all(b"\r\nRetry-After: " in a for a in refused)
        assert b'"responseCode":3' in refused[0] and b"rate limit" in refused[0]
        text = wait_for(n, "idnode_requests_total", 1, protocol="http", operation="resolve", code="429")
        by_code = {c: sample(text, "idnode_requests_total", protocol="http", operation="resolve", code=c) or 0
                   for c in ("200", "404", "429")}
        pages = {c: sample(text, "idnode_requests_total", protocol="http", operation="resolve_page", code=c) or 0
                 for c in ("302", "429")}
    finally:
        n.stop()
    assert by_code["200"] + by_code["404"] + by_code["429"] == 41  # the first GET and the 40 resolutions
    assert pages["302"] + pages["429"] == 5


def test_front_answers_count_for_the_reports_and_follow_writes(records, auth, monkeypatch):  # noqa: F811
    """Answers from kept bytes count per prefix as ``resolve`` does; a write elsewhere replaces them."""
    monkeypatch.delenv("IDNODE_FAST_GET", raising=False)
    with InProcess(records.data) as srv:
        svc = srv.fast.svc
        before = svc.resolutions.get(b"88.101.5", 0)
        out = exchange(srv.port, *[request("GET", f"/api/handles/{PUB}")] * 20, *[request("GET", f"/{PUB}")] * 5)
        assert out.count(b"HTTP/1.1 200 OK") == 21 and out.count(b"HTTP/1.1 302 Found") == 5
        assert svc.resolutions.get(b"88.101.5", 0) - before == 25
        kept = svc.cache.peek(PUB.lower().encode())[HTTP]
        assert kept is not None and kept[0] == PUB
        put = requests.put(records.api(PUB), json={"values": [{"index": 1, "type": "URL", "data": {
            "format": "string", "value": "https://example.com/v3"}}]},
            headers={"Content-Type": "application/json", **auth["owner"]})
        assert put.status_code == 200
        out = exchange(srv.port, request("GET", f"/api/handles/{PUB}"), request("GET", f"/{PUB}"))
        assert b"https://example.com/v3" in out and f'ETag: {put.headers["ETag"]}'.encode() in out
        assert b"Location: https://example.com/v3\r\n" in out


def test_a_flood_of_unknown_handles_keeps_memory_bounded(records, monkeypatch):  # noqa: F811
    """An attacker asking for ever new handles that do not exist: the kept 404s stay under their bound,
    and each is still the regular 404."""
    monkeypatch.delenv("IDNODE_FAST_GET", raising=False)
    with InProcess(records.data) as srv:
        missing = srv.fast.front.missing
        missing.bound = 200  # the real bound is MAX_MISSING; a small one shows the same behaviour sooner
        sizes = []
        for start in range(0, 1000, 250):
            out = exchange(srv.port, *[request("GET", f"/api/handles/88.101.5/FLOOD-{i}") for i in range(start, start + 250)])
            assert out.count(b"HTTP/1.1 404 Not Found") == 250
            sizes.append(len(missing))
        assert max(sizes) <= 200
        assert len(srv.fast.svc.cache) <= len(RECORDS) + 5  # nothing else is kept for them
        again = exchange(srv.port, request("GET", "/api/handles/88.101.5/FLOOD-999"))
        assert b'"message":"handle 88.101.5/FLOOD-999 not found"' in again


def test_an_idle_connection_is_still_closed(fresh_data, auth, monkeypatch):
    """After answers from the front, the node's HTTP idle timeout closes a quiet connection, and not
    one that keeps asking."""
    monkeypatch.setenv("IDNODE_HTTP_IDLE_TIMEOUT", "2")
    n = Node(fresh_data).start()
    try:
        put_one(n, auth, "88.101.5/FRONT-1")
        get = request("GET", "/api/handles/88.101.5/FRONT-1")
        busy = socket.create_connection(("127.0.0.1", n.port), timeout=10)
        quiet = socket.create_connection(("127.0.0.1", n.port), timeout=10)
        t0 = time.monotonic()
        quiet.sendall(get)
        assert quiet.recv(65536).startswith(b"HTTP/1.1 200 OK")
        while time.monotonic() - t0 < 3.5:
            busy.sendall(get)
            assert busy.recv(65536).startswith(b"HTTP/1.1 200 OK")
            time.sleep(0.4)
        assert quiet.recv(65536) == b""  # closed by the node
        busy.sendall(get)
        assert busy.recv(65536).startswith(b"HTTP/1.1 200 OK")
        busy.close()
        quiet.close()
    finally:
        n.stop()


def _rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as fh:
        return next(int(line.split()[1]) for line in fh if line.startswith("VmRSS:"))


def test_a_client_that_sends_without_reading_cannot_pile_up_answers(records):  # noqa: F811
    """Tens of thousands of pipelined GETs from a client that never reads: the front stops reading
    while its answers wait, so the node holds a few buffers' worth, not every answer (50 MB here)."""
    get = request("GET", f"/api/handles/{PUB}")
    assert requests.get(records.api(PUB)).status_code == 200  # its answer is kept
    pid = records.proc.pid
    before = _rss_kib(pid)
    flood = get * 60_000  # 3.5 MB of requests; their answers would be about 50 MB
    with socket.create_connection(("127.0.0.1", records.port), timeout=5) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        try:
            s.sendall(flood)
        except TimeoutError:
            pass  # the node stopped reading: what the test wants
        grown = 0
        for _ in range(16):  # while the node would go on reading and answering
            time.sleep(0.5)
            grown = max(grown, _rss_kib(pid) - before)
        assert requests.get(records.api(PUB), timeout=10).status_code == 200  # others are still answered
    assert grown < 10_000, f"the node grew by {grown} KiB"
