"""Permission matrix: every mutating HTTP operation × every kind of caller; only the allowed change anything.

Each caller gets its own node. Before each attempt the node admin sets up what the operation acts on,
and afterwards the test looks at the store through public reads and the admin's reads.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
import requests

from tests.nodes import Node, basic

H = {"Content-Type": "application/json"}
URL_VALUE = [{"index": 1, "type": "URL", "data": "https://example.com/a"}]


@dataclass
class Case:
    name: str
    allowed: set[str]  # callers that may do it
    setup: Callable[[Node, dict], None]
    attempt: Callable[[Node, dict], requests.Response]
    state: Callable[[Node, dict], object]  # what the operation would change, read back


def _put(node, handle, values, headers, **params):
    return requests.put(node.api(handle), json={"values": values}, headers={**H, **headers}, params=params)


def _record(node, handle, admin):
    r = requests.get(node.api(handle), headers=admin)
    return (r.status_code, [(v["index"], v["type"], v["data"]) for v in r.json().get("values", [])])


def _make(handle):
    return lambda node, admin: _put(node, handle, URL_VALUE, admin).raise_for_status()


def _nothing(node, admin):
    pass


def _prefix_state(prefix):
    def state(node, admin):
        r = requests.get(f"{node.url}/api/prefixes/{prefix}", headers=admin)
        body = r.json()
        return r.status_code, body.get("state")
    return state


def _templates(node, admin):
    return sorted((t["prefix"], t["version"]) for t in requests.get(f"{node.url}/api/templates").json()["templates"])


TEMPLATE = {"prefix": "88.101.5", "version": "9.0", "fields": [{"name": "model", "index": 2001}]}
EVERYONE_WITH_PREFIX = {"admin", "owner"}

CASES = [
    Case("create handle", EVERYONE_WITH_PREFIX, _nothing,
         lambda n, h: _put(n, "88.101.5/P-NEW", URL_VALUE, h),
         lambda n, a: _record(n, "88.101.5/P-NEW", a)),
    Case("replace handle", EVERYONE_WITH_PREFIX, _make("88.101.5/P-REPL"),
         lambda n, h: _put(n, "88.101.5/P-REPL", [{"index": 1, "type": "URL", "data": "https://x.example/"}], h),
         lambda n, a: _record(n, "88.101.5/P-REPL", a)),
    Case("add value", EVERYONE_WITH_PREFIX, _make("88.101.5/P-ADD"),
         lambda n, h: _put(n, "88.101.5/P-ADD", [{"index": 2001, "type": "model", "data": "X1"}], h, index="2001"),
         lambda n, a: _record(n, "88.101.5/P-ADD", a)),
    Case("remove value", EVERYONE_WITH_PREFIX, _make("88.101.5/P-RMV"),
         lambda n, h: requests.delete(n.api("88.101.5/P-RMV"), params={"index": "1"}, headers=h),
         lambda n, a: _record(n, "88.101.5/P-RMV", a)),
    Case("delete handle", EVERYONE_WITH_PREFIX, _make("88.101.5/P-DEL"),
         lambda n, h: requests.delete(n.api("88.101.5/P-DEL"), headers=h),
         lambda n, a: _record(n, "88.101.5/P-DEL", a)),
    Case("batch create", EVERYONE_WITH_PREFIX, _nothing,
         lambda n, h: requests.post(f"{n.url}/api/batch", headers={**H, **h},
                                    json={"operations": [{"op": "create", "handle": "88.101.5/P-BATCH",
                                                          "values": URL_VALUE}]}),
         lambda n, a: _record(n, "88.101.5/P-BATCH", a)),
    Case("change the prefix handle", {"admin"}, _nothing,
         lambda n, h: _put(n, "0.NA/88.101.5", [{"index": 1, "type": "URL", "data": "https://x.example/"}], h,
                           index="1"),
         lambda n, a: _record(n, "0.NA/88.101.5", a)),
    Case("allocate prefix", {"admin"}, _nothing,
         lambda n, h: requests.post(f"{n.url}/api/prefixes", json={"prefix": "88.101.77"}, headers={**H, **h}),
         _prefix_state("88.101.77")),
    Case("disable prefix", {"admin"}, _nothing,
         lambda n, h: requests.post(f"{n.url}/api/prefixes/88.101.5/disable", headers=h),
         _prefix_state("88.101.5")),
    Case("delete prefix", {"admin"},
         lambda n, a: requests.post(f"{n.url}/api/prefixes", json={"prefix": "88.101.78"},
                                    headers={**H, **a}).raise_for_status(),
         lambda n, h: requests.delete(f"{n.url}/api/prefixes/88.101.78", headers=h),
         _prefix_state("88.101.78")),
    Case("publish template", EVERYONE_WITH_PREFIX, _nothing,
         lambda n, h: requests.post(f"{n.url}/api/templates", json=TEMPLATE, headers={**H, **h}),
         _templates),
    Case("delete template", EVERYONE_WITH_PREFIX,
         lambda n, a: requests.post(f"{n.url}/api/templates", json={**TEMPLATE, "version": "9.1"},
                                    headers={**H, **a}).raise_for_status(),
         lambda n, h: requests.delete(f"{n.url}/api/templates/88.101.5/9.1", headers=h),
         _templates),
    # Last: it changes the owner's secret, which the admin then puts back.
    Case("rotate prefix secret", EVERYONE_WITH_PREFIX, _nothing,
         lambda n, h: requests.post(f"{n.url}/api/prefixes/88.101.5/secret", json={"secret": "rotated-secret-1"},
                                    headers={**H, **h}),
         lambda n, a: requests.get(n.api("88.101.5/nothing"), headers={
             "Authorization": basic("300:0.NA/88.101.5", "rotated-secret-1")}).status_code),
]

DENIED_STATUS = {"other": 403, "owner": 403, "wrong": 401, "none": 401}


@pytest.mark.parametrize("who", ["admin", "owner", "other", "wrong", "none"])
def test_permission_matrix(who, auth, fresh_data):
    node = Node(fresh_data).start()
    admin = auth["admin"]
    try:
        for case in CASES:
            case.setup(node, admin)
            before = case.state(node, admin)
            resp = case.attempt(node, auth[who])
            after = case.state(node, admin)
            body = resp.json()
            if case.name == "batch create" and resp.status_code == 200:
                # A batch is accepted as a whole; each item carries its own verdict.
                status = body["results"][0]["status"]
            else:
                status = resp.status_code
            label = f"{who} → {case.name}: HTTP {status} {body}"
            if who in case.allowed:
                assert 200 <= status < 300, label
                assert after != before, f"{label}: allowed but nothing changed"
            else:
                assert status == DENIED_STATUS[who], label
                assert "message" in body or "results" in body, label
                assert after == before, f"{label}: denied yet the store changed"
    finally:
        node.stop()


def test_denied_write_then_allowed_write_by_owner(node, auth):
    """A denied caller's attempt leaves the record exactly as the owner wrote it."""
    h = "88.101.5/MATRIX-KEEP"
    assert _put(node, h, URL_VALUE, auth["owner"]).status_code == 201
    before = requests.get(node.api(h)).json()
    for who in ("other", "wrong", "none"):
        assert _put(node, h, [{"index": 1, "type": "URL", "data": "https://evil.example/"}], auth[who]).status_code \
            in (401, 403)
        assert requests.delete(node.api(h), headers=auth[who]).status_code in (401, 403)
    assert requests.get(node.api(h)).json() == before
