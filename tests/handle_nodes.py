"""Nodes that speak the Handle protocol, for tests/test_handle_*.py: a --handle port on loopback,
and the records of the Handle.Net 9.3.1 capture (tests/data/handle-wire/README.md) put through HTTP."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

from protocol.framing import TcpFramer
from resolver.handleclient import HandleClient
from tests.nodes import DATA, ENTERPRISES, Node, basic, free_port, init_data

VECTORS = json.loads((DATA / "handle-wire" / "handlenet-9.3.1-vectors.json").read_text())["vectors"]
JSON = {"Content-Type": "application/json"}
OWNER = {"Authorization": basic("300:0.NA/88.101.5", ENTERPRISES["88.101.5"])}


def start(data: Path, *extra: str) -> Node:
    """A node on ``data`` with a Handle port on loopback (``node.handle_port``); ``extra`` flags too."""
    port = free_port()
    node = Node(data, "--handle", f"127.0.0.1:{port}", *extra).start()
    node.handle_port = port  # type: ignore[attr-defined]
    return node


def client(node: Node, **kw) -> HandleClient:
    return HandleClient("127.0.0.1", node.handle_port, timeout=10.0, **kw)  # type: ignore[attr-defined]


def put(node: Node, handle: str, values: list[dict], headers: dict, **params) -> requests.Response:
    r = requests.put(node.api(handle), json={"values": values}, headers={**JSON, **headers}, params=params)
    assert r.status_code in (200, 201), r.text
    return r


def admin_value(handle: str, index: int, perms: str) -> dict:
    return {"index": 100, "type": "HS_ADMIN",
            "data": {"format": "admin", "value": {"handle": handle, "index": index, "permissions": perms}}}


def seed_capture_records(node: Node, owner: dict) -> None:
    """88.101.5/ABC123 (URL at 1, HS_ADMIN at 100 naming 300:88.101.5/ADMIN) and 88.101.5/ADMIN
    (HS_ADMIN at 100, a secret key at 300 that only admins may read)."""
    put(node, "88.101.5/ADMIN", [admin_value("88.101.5/ADMIN", 300, "111111111111"),
                                 {"index": 300, "type": "HS_SECKEY", "data": "admin-secret-300",
                                  "permissions": "1100"}], owner)
    put(node, "88.101.5/ABC123", [{"index": 1, "type": "URL", "data": "https://example.com/new"},
                                  admin_value("88.101.5/ADMIN", 300, "011111110011")], owner)


@contextmanager
def capture_node(tmp_path_factory, name: str) -> Iterator[Node]:
    """A node with a Handle port, holding the capture's records, for a module's tests."""
    data = tmp_path_factory.mktemp(name) / "data"
    init_data(data)
    node = start(data)
    try:
        seed_capture_records(node, OWNER)
        yield node
    finally:
        node.stop()


def exchange(sock: socket.socket, data: bytes) -> bytes:
    """Send one message over a TCP connection and return the first whole answer."""
    sock.sendall(data)
    framer = TcpFramer()
    while True:
        chunk = sock.recv(65536)
        assert chunk, "the connection closed without an answer"
        frames = framer.feed(chunk)
        if frames:
            return frames[0]
