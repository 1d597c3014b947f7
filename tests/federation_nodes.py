"""Federations on loopback for tests: top-level nodes and secondary nodes as separate `idnode serve`
processes with their own data folders, wired together by --upstream."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import requests

from protocol.site import Interface, Server, Site, address_from_text
from tests.handle_nodes import start
from tests.nodes import Node, basic, idnode

TOP_SECRET = "top-admin-secret"
DELEGATE_SECRETS = {"88.101": "a-upstream-secret", "88.102": "b-upstream-secret", "88.103": "c-upstream-secret"}
ADMIN_SECRETS = {"88.101": "a-admin-secret", "88.102": "b-admin-secret", "88.103": "c-admin-secret"}
ENTERPRISE = {"88.101": ("88.101.5", "acme-secret-5"), "88.102": ("88.102.3", "bolt-secret-3"),
              "88.103": ("88.103.1", "cog-secret-1")}
JSON = {"Content-Type": "application/json"}


def init_top(data: Path, prefix: str = "88", delegates: tuple[str, ...] = ("88.101", "88.102")) -> None:
    idnode("init", "--data", str(data), "--prefix", prefix, "--admin-secret", TOP_SECRET)
    for p in delegates:
        idnode("prefix", "add", p, "--secret", DELEGATE_SECRETS[p], "--data", str(data))


def init_secondary(data: Path, prefix: str) -> None:
    idnode("init", "--data", str(data), "--prefix", prefix, "--admin-secret", ADMIN_SECRETS[prefix])
    ent, secret = ENTERPRISE[prefix]
    idnode("prefix", "add", ent, "--secret", secret, "--data", str(data))


def start_top(data: Path, *extra: str) -> Node:
    return start(data, "--role", "top", *extra)


def start_secondary(data: Path, prefix: str, tops: list[Node], *extra: str) -> Node:
    ups = [a for t in tops for a in ("--upstream", f"127.0.0.1:{t.handle_port}")]  # type: ignore[attr-defined]
    return start(data, *ups, "--upstream-identity", f"300:0.NA/{prefix}",
                 "--upstream-secret", DELEGATE_SECRETS[prefix], "--stats-interval", "1", *extra)


@contextmanager
def three_nodes(root: Path) -> Iterator[tuple[Node, Node, Node]]:
    """A top-level node (88, delegating 88.101 and 88.102) and secondaries A (88.101) and B (88.102)."""
    init_top(root / "top")
    init_secondary(root / "a", "88.101")
    init_secondary(root / "b", "88.102")
    top = start_top(root / "top")
    a = start_secondary(root / "a", "88.101", [top])
    b = start_secondary(root / "b", "88.102", [top])
    try:
        yield top, a, b
    finally:
        for n in (a, b, top):
            n.stop()


def admin(prefix: str) -> dict:
    return {"Authorization": basic(f"300:0.NA/{prefix}", ADMIN_SECRETS[prefix])}


def owner(prefix: str) -> dict:
    ent, secret = ENTERPRISE[prefix]
    return {"Authorization": basic(f"300:0.NA/{ent}", secret)}


def top_admin(prefix: str = "88") -> dict:
    return {"Authorization": basic(f"300:0.NA/{prefix}", TOP_SECRET)}


def register(node: Node, handle: str, url: str, headers: dict) -> None:
    r = requests.put(node.api(handle), json={"values": [{"index": 1, "type": "URL", "data": url}]},
                     headers={**JSON, **headers})
    assert r.status_code in (200, 201), r.text


def eventually(check: Callable[[], object], timeout: float = 20.0, what: str = "the condition") -> object:
    """Poll ``check`` until it returns something true; fail naming ``what`` with its last result."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.1)
    raise AssertionError(f"{what} did not happen within {timeout} s (last: {last!r})")


def site_value(index: int, handle_ports: list[int], hash_option: int = 2) -> dict:
    """An HS_SITE value (JSON, base64) for servers on loopback at these Handle ports."""
    servers = tuple(Server(n + 1, address_from_text("127.0.0.1"), b"",
                           (Interface(3, 1, port), Interface(2, 0, port)))
                    for n, port in enumerate(handle_ports))
    raw = Site(servers, primary=True, hash_option=hash_option).to_wire()
    return {"index": index, "type": "HS_SITE", "data": {"format": "base64", "value": base64.b64encode(raw).decode()}}
