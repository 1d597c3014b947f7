"""The fast resolution route (resolver/http/fastget.py) answers byte for byte what the application's
routes answer, sees every write at once, and keeps every check of the regular path."""

from __future__ import annotations

import asyncio
import socket
import threading

import pytest
import requests
from aiohttp import web

from resolver.http import create_app, fastget
from resolver.service import Service
from resolver.service.cache import ETAG, TARGET
from storage import GroupCommitter, Store
from tests.nodes import Node

H = {"Content-Type": "application/json"}


def _s(index: int, vtype: str, value: str, **extra) -> dict:
    return {"index": index, "type": vtype, "data": {"format": "string", "value": value}, **extra}


RECORDS = {
    "88.101.5/FG-PUB": [_s(1, "URL", "https://trace.example.com/p/1"), _s(2000, "productName", "Motor")],
    "88.101.5/FG-PRIV": [_s(1, "URL", "https://trace.example.com/p/2"),
                         _s(2001, "costPrice", "1234.50", permissions="1100")],
    "88.101.5/FG-HIDDEN-URL": [_s(1, "URL", "https://secret.example.com/x", permissions="1100"),
                               _s(2, "EMAIL", "a@example.com")],
    "88.101.5/FG-NOURL": [_s(2, "EMAIL", "service@example.com")],
    "88.101.5/FG-FTP": [_s(1, "URL", "ftp://files.example.com/a"), _s(2, "URL", "http://example.com/b")],
    "88.101.5/FG-ODD-URL": [_s(1, "URL", "https://example.com/a b/é?q=1 2")],
    "88.101.5/FG.DOT": [_s(1, "URL", "https://example.com/dot")],
}

PUB = "88.101.5/FG-PUB"
SHAPES: list[tuple[str, str, tuple[tuple[str, str], ...]]] = [
    *[("GET", f"/api/handles/{h}", ()) for h in RECORDS],
    *[("GET", f"/{h}", ()) for h in RECORDS],
    *[("GET", f"/{h}", (("Accept", "application/json"),)) for h in RECORDS],
    *[("GET", f"/{h}", (("Accept", "text/html,application/xhtml+xml"),)) for h in RECORDS],
    ("GET", "/api/handles/88.101.5/fg-pub", ()),  # another spelling: answered as asked
    ("GET", "/api/handles/88.101.5/FG-PUB", ()),  # and back: the kept answer names the right one
    ("GET", "/api/handles/hdl:88.101.5/FG-PUB", ()),
    ("GET", "/api/handles/88.101.5/NOPE-1", ()),  # unknown
    ("GET", "/api/handles/99.7/NOPE", ()),  # a prefix this node does not serve
    ("GET", "/api/handles/88.101.5", ()),  # no suffix
    ("GET", "/api/handles/", ()),
    ("GET", "/api/handles/88.101.5/FG-PUB?type=URL", ()),
    ("GET", "/api/handles/88.101.5/FG-PUB?index=1", ()),
    ("GET", "/api/handles/88.101.5/FG-PUB?index=x", ()),
    ("GET", "/api/handles/88.101.5/FG-PUB?", ()),
    ("GET", "/api/handles/88.101.5/FG%2DPUB", ()),
    ("GET", "/api/handles/88.101.5/FG%FF", ()),
    ("GET", "/api/handles/88.101.5/./FG-PUB", ()),
    ("GET", "/api/handles/88.101.5//FG-PUB", ()),
    ("HEAD", "/api/handles/88.101.5/FG-PUB", ()),
    ("GET", "/api/handles/88.101.5/FG-PUB", (("If-None-Match", '"abc"'),)),
    ("GET", "/api/handles/88.101.5/FG-PUB", (("Authorization", "Basic bm9ib2R5Om5vdGhpbmc="),)),
    ("GET", "/88.101.5/FG-PUB?noredirect", ()),
    ("GET", "/88.101.5/fg-pub", ()),
    ("GET", "/88.101.5/NOPE-1", ()),
    ("GET", "/88.101.5/NOPE-1", (("Accept", "application/json"),)),
    ("GET", "/99.7/NOPE", ()),
    ("HEAD", "/88.101.5/FG-PUB", ()),
    ("GET", "/01/09506000134352", ()),  # a GS1 Digital Link, not a handle
    ("GET", "/scan?code=88.101.5/FG-PUB", ()),
    ("GET", "/api/prefixes/88.101.5", ()),
    ("GET", "/trace/88.101.5/FG-PUB", ()),
    ("GET", "/nothing", ()),
    ("POST", "/api/handles/88.101.5/FG-PUB", ()),
]


def raw(port: int, method: str, target: str, headers: tuple[tuple[str, str], ...] = ()) -> bytes:
    """The answer's bytes as sent, less its Date header (the only one that changes by itself)."""
    lines = [f"{method} {target} HTTP/1.1", "Host: 127.0.0.1", *(f"{k}: {v}" for k, v in headers),
             "Connection: close", "", ""]
    with socket.create_connection(("127.0.0.1", port), timeout=20) as s:
        s.sendall("\r\n".join(lines).encode())
        out = b""
        while chunk := s.recv(65536):
            out += chunk
    return b"\r\n".join(x for x in out.split(b"\r\n") if not x.lower().startswith(b"date:"))


@pytest.fixture
def records(node, auth):
    for h, values in RECORDS.items():
        r = requests.put(node.api(h), json={"values": values}, headers={**H, **auth["owner"]})
        assert r.status_code == 201, r.text
    return node


def test_fast_answers_equal_the_regular_routes(records, monkeypatch):
    """A second node on the same data folder with the fast route off gives every shape's reference."""
    monkeypatch.setenv("IDNODE_FAST_GET", "off")
    regular = Node(records.data).start()
    try:
        for _ in range(2):  # the second round answers from kept answers
            for method, target, headers in SHAPES:
                fast, ref = raw(records.port, method, target, headers), raw(regular.port, method, target, headers)
                assert fast == ref, f"{method} {target} {headers}"
    finally:
        regular.stop()


def test_redirect_and_answers_follow_every_write(records, auth):
    """A kept answer is dropped by the write that changes its record, through any route."""
    s = requests.Session()  # keep-alive: the fast route and the application's share connections
    first = s.get(records.api(PUB))
    assert first.status_code == 200 and first.json()["values"][0]["data"]["value"] == "https://trace.example.com/p/1"
    r = s.get(f"{records.url}/{PUB}", allow_redirects=False)
    assert r.status_code == 302 and r.headers["Location"] == "https://trace.example.com/p/1"
    new = [_s(1, "URL", "https://trace.example.com/p/1-new")]
    put = s.put(records.api(PUB), json={"values": new}, headers={**H, **auth["owner"]})
    assert put.status_code == 200, put.text
    after = s.get(records.api(PUB))
    assert after.json()["values"][0]["data"]["value"] == "https://trace.example.com/p/1-new"
    assert after.headers["ETag"] == put.headers["ETag"] != first.headers["ETag"]
    r = s.get(f"{records.url}/{PUB}", allow_redirects=False)
    assert r.headers["Location"] == "https://trace.example.com/p/1-new"
    assert s.delete(records.api(PUB), headers=auth["owner"]).status_code == 200
    assert s.get(records.api(PUB)).status_code == 404
    assert s.get(f"{records.url}/{PUB}", allow_redirects=False).status_code == 404


def test_non_public_values_stay_hidden(records, auth):
    """Anonymous: public values only, and no redirect to a URL only admins may read; with credentials
    (the regular route), all of them."""
    body = requests.get(records.api("88.101.5/FG-PRIV")).json()
    assert 1 in [v["index"] for v in body["values"]] and 2001 not in [v["index"] for v in body["values"]]
    r = requests.get(f"{records.url}/88.101.5/FG-HIDDEN-URL", allow_redirects=False)
    assert r.status_code == 200 and "secret.example.com" not in r.text
    full = requests.get(records.api("88.101.5/FG-PRIV"), headers=auth["owner"]).json()
    assert 2001 in [v["index"] for v in full["values"]]
    again = requests.get(records.api("88.101.5/FG-PRIV")).json()  # the owner's answer was not kept for all
    assert again == body


def test_address_rate_limit_applies_to_the_fast_route(fresh_data, monkeypatch):
    """An attacker hammering resolutions is refused (429) as on the regular route."""
    monkeypatch.setenv("IDNODE_RATE_PER_ADDRESS", "5")
    n = Node(fresh_data).start()
    try:
        s = requests.Session()
        codes = [s.get(n.api("88.101.5/NOPE-1")).status_code for _ in range(40)]
        scans = [s.get(f"{n.url}/88.101.5/NOPE-1").status_code for _ in range(10)]
    finally:
        n.stop()
    assert 404 in codes and codes.count(429) >= 20
    assert 429 in scans


class InProcess:
    """The node's application served in this process, so the test sees what the fast route keeps."""

    def __init__(self, data):
        self.store = Store(data)
        self.committer = GroupCommitter(self.store)
        self.app = create_app(Service(self.store, self.committer))
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.fast: fastget.FastGet | None = None
        self.port = 0

    async def _start(self) -> None:
        self.runner = web.AppRunner(self.app, access_log=None)
        await self.runner.setup()
        self.fast = fastget.install(self.runner.server, self.app)
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]

    def __enter__(self) -> InProcess:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(20)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(20)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.committer.close()
        self.store.close()


def test_answers_are_kept_and_replaced_after_another_process_writes(records, auth, monkeypatch):
    """The fast route answers from its kept answer, and a write by another process (the node beside
    it on the same folder) replaces it on the next read."""
    monkeypatch.delenv("IDNODE_FAST_GET", raising=False)
    with InProcess(records.data) as srv:
        url = f"http://127.0.0.1:{srv.port}/api/handles/{PUB}"
        first = requests.get(url)
        assert first.status_code == 200
        cache = srv.fast.svc.cache  # the fast route keeps its ETag and redirect on the record cache's entry
        kept = cache.peek(PUB.lower().encode())
        assert kept[ETAG] == first.headers["ETag"] and kept[TARGET] == "https://trace.example.com/p/1"
        assert requests.get(url).content == first.content and cache.peek(PUB.lower().encode()) is kept
        put = requests.put(records.api(PUB), json={"values": [_s(1, "URL", "https://example.com/v2")]},
                           headers={**H, **auth["owner"]})
        assert put.status_code == 200
        second = requests.get(url)
        assert b"https://example.com/v2" in second.content and second.headers["ETag"] == put.headers["ETag"]
        assert cache.peek(PUB.lower().encode()) is not kept
        requests.get(f"http://127.0.0.1:{srv.port}/api/handles/88.101.5/NOPE-9")
        assert cache.peek(b"88.101.5/nope-9") is None  # nothing is kept for what does not exist


def test_off_switch(monkeypatch, tmp_path):
    monkeypatch.setenv("IDNODE_FAST_GET", "off")
    store = Store(tmp_path / "data")
    committer = GroupCommitter(store)
    try:
        app = create_app(Service(store, committer))

        async def check() -> None:
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            try:
                assert fastget.install(runner.server, app) is None
                assert not isinstance(runner.server.request_handler, fastget.FastGet)
            finally:
                await runner.cleanup()

        asyncio.run(check())
    finally:
        committer.close()
        store.close()


def test_the_fast_route_is_counted_in_the_metrics(records):
    """Operators see the fast route's answers as the regular route's: by operation and status."""
    from tests.test_metrics import sample, wait_for

    s = requests.Session()
    for _ in range(5):
        assert s.get(records.api(PUB)).status_code == 200
    for _ in range(3):
        assert s.get(records.api("88.101.5/NOPE-2")).status_code == 404
    for _ in range(4):
        assert s.get(f"{records.url}/{PUB}", allow_redirects=False).status_code == 302
    text = wait_for(records, "idnode_requests_total", 4, protocol="http", operation="resolve_page", code="302")
    assert sample(text, "idnode_requests_total", protocol="http", operation="resolve", code="200") == 5
    assert sample(text, "idnode_requests_total", protocol="http", operation="resolve", code="404") == 3
    assert sample(text, "idnode_requests_total", protocol="http", operation="resolve_page", code="302") == 4
