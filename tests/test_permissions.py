"""Permission matrix: every mutating operation × every kind of caller, over HTTP and over the Handle
protocol; only the allowed change anything, and every attempt leaves its audit entry.

Each caller gets its own node. Before each attempt the node admin sets up what the operation acts on,
and afterwards the test looks at the store through public reads and the admin's reads, and at the
audit trail (``GET /api/audit``) for the entry the attempt left.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
import requests

from protocol import bodies as b
from protocol.codes import RC
from protocol.envelope import OVRW, Op
from protocol.values import HandleValue
from resolver.handleclient import SecretKey
from tests import handle_nodes as hn
from tests.nodes import ADMIN_SECRET, ENTERPRISES, NODE_PREFIX, Node, basic, init_data

H = {"Content-Type": "application/json"}
URL_VALUE = [{"index": 1, "type": "URL", "data": "https://example.com/a"}]


@dataclass
class Case:
    name: str
    allowed: set[str]  # callers that may do it
    setup: Callable[[Node, dict], None]
    attempt: Callable[[Node, dict], requests.Response]
    state: Callable[[Node, dict], object]  # what the operation would change, read back
    op: str  # how the audit trail names it


# Who the audit trail says each caller was, and whether that was proved.
AUDIT_IDENTITY = {"admin": ("300:0.NA/88.101", True), "owner": ("300:0.NA/88.101.5", True),
                  "other": ("300:0.NA/88.101.6", True), "wrong": ("300:0.NA/88.101.5", False),
                  "none": (None, False)}


def audit_mark(node, admin) -> int:
    """The sequence of the newest audit entry (0 when there is none)."""
    entries = requests.get(f"{node.url}/api/audit", params={"order": "desc", "limit": 1}, headers=admin).json()
    return entries["entries"][0]["seq"] if entries["entries"] else 0


def audit_after(node, admin, mark: int) -> list[dict]:
    r = requests.get(f"{node.url}/api/audit", params={"cursor": mark + 1}, headers=admin)
    assert r.status_code == 200, r.text
    return r.json()["entries"]


def assert_audited(entries: list[dict], who: str, op: str, allowed: bool, label: str) -> None:
    """Exactly one entry for the attempt, naming the caller, the operation and the verdict."""
    assert len(entries) == 1, f"{label}: audit entries {entries}"
    e = entries[0]
    identity, proved = AUDIT_IDENTITY[who]
    assert (e["op"], e["identity"], e["authenticated"], e["result"]) == \
        (op, identity, proved, "allowed" if allowed else "denied"), f"{label}: {e}"
    assert e["client"] == "127.0.0.1" and e["time"].endswith("Z"), e
    if not allowed:
        assert e["rc"] != 1 and e["message"], e


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
         lambda n, a: _record(n, "88.101.5/P-NEW", a), "put_handle"),
    Case("replace handle", EVERYONE_WITH_PREFIX, _make("88.101.5/P-REPL"),
         lambda n, h: _put(n, "88.101.5/P-REPL", [{"index": 1, "type": "URL", "data": "https://x.example/"}], h),
         lambda n, a: _record(n, "88.101.5/P-REPL", a), "put_handle"),
    Case("add value", EVERYONE_WITH_PREFIX, _make("88.101.5/P-ADD"),
         lambda n, h: _put(n, "88.101.5/P-ADD", [{"index": 2001, "type": "model", "data": "X1"}], h, index="2001"),
         lambda n, a: _record(n, "88.101.5/P-ADD", a), "put_handle"),
    Case("remove value", EVERYONE_WITH_PREFIX, _make("88.101.5/P-RMV"),
         lambda n, h: requests.delete(n.api("88.101.5/P-RMV"), params={"index": "1"}, headers=h),
         lambda n, a: _record(n, "88.101.5/P-RMV", a), "delete_handle"),
    Case("delete handle", EVERYONE_WITH_PREFIX, _make("88.101.5/P-DEL"),
         lambda n, h: requests.delete(n.api("88.101.5/P-DEL"), headers=h),
         lambda n, a: _record(n, "88.101.5/P-DEL", a), "delete_handle"),
    Case("batch create", EVERYONE_WITH_PREFIX, _nothing,
         lambda n, h: requests.post(f"{n.url}/api/batch", headers={**H, **h},
                                    json={"operations": [{"op": "create", "handle": "88.101.5/P-BATCH",
                                                          "values": URL_VALUE}]}),
         lambda n, a: _record(n, "88.101.5/P-BATCH", a), "batch"),
    Case("change the prefix handle", {"admin"}, _nothing,
         lambda n, h: _put(n, "0.NA/88.101.5", [{"index": 1, "type": "URL", "data": "https://x.example/"}], h,
                           index="1"),
         lambda n, a: _record(n, "0.NA/88.101.5", a), "put_handle"),
    Case("allocate prefix", {"admin"}, _nothing,
         lambda n, h: requests.post(f"{n.url}/api/prefixes", json={"prefix": "88.101.77"}, headers={**H, **h}),
         _prefix_state("88.101.77"), "allocate_prefix"),
    Case("disable prefix", {"admin"}, _nothing,
         lambda n, h: requests.post(f"{n.url}/api/prefixes/88.101.5/disable", headers=h),
         _prefix_state("88.101.5"), "set_prefix_state"),
    Case("delete prefix", {"admin"},
         lambda n, a: requests.post(f"{n.url}/api/prefixes", json={"prefix": "88.101.78"},
                                    headers={**H, **a}).raise_for_status(),
         lambda n, h: requests.delete(f"{n.url}/api/prefixes/88.101.78", headers=h),
         _prefix_state("88.101.78"), "delete_prefix"),
    Case("publish template", EVERYONE_WITH_PREFIX, _nothing,
         lambda n, h: requests.post(f"{n.url}/api/templates", json=TEMPLATE, headers={**H, **h}),
         _templates, "put_template"),
    Case("delete template", EVERYONE_WITH_PREFIX,
         lambda n, a: requests.post(f"{n.url}/api/templates", json={**TEMPLATE, "version": "9.1"},
                                    headers={**H, **a}).raise_for_status(),
         lambda n, h: requests.delete(f"{n.url}/api/templates/88.101.5/9.1", headers=h),
         _templates, "delete_template"),
    # Last: it changes the owner's secret, which the admin then puts back.
    Case("rotate prefix secret", EVERYONE_WITH_PREFIX, _nothing,
         lambda n, h: requests.post(f"{n.url}/api/prefixes/88.101.5/secret", json={"secret": "rotated-secret-1"},
                                    headers={**H, **h}),
         lambda n, a: requests.get(n.api("88.101.5/nothing"), headers={
             "Authorization": basic("300:0.NA/88.101.5", "rotated-secret-1")}).status_code, "rotate_secret"),
]

DENIED_STATUS = {"other": 403, "owner": 403, "wrong": 401, "none": 401}


@pytest.mark.parametrize("who", ["admin", "owner", "other", "wrong", "none"])
def test_permission_matrix(who, auth, fresh_data, tmp_path):
    # One wrong secret is tried once per case, more often than a lock-out allows (tests/test_lockout.py).
    cfg = tmp_path / "node.toml"
    cfg.write_text("lockout_failures = 1000\n")
    node = Node(fresh_data, "--config", str(cfg)).start()
    admin = auth["admin"]
    try:
        for case in CASES:
            case.setup(node, admin)
            before = case.state(node, admin)
            mark = audit_mark(node, admin)
            resp = case.attempt(node, auth[who])
            entries = audit_after(node, admin, mark)
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
            assert_audited(entries, who, case.op, who in case.allowed, label)
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


# --- the same over the Handle protocol ---------------------------------------------------------------
HANDLE_IDS = {
    "admin": SecretKey(300, f"0.NA/{NODE_PREFIX}", ADMIN_SECRET.encode()),
    "owner": SecretKey(300, "0.NA/88.101.5", ENTERPRISES["88.101.5"].encode()),
    "other": SecretKey(300, "0.NA/88.101.6", ENTERPRISES["88.101.6"].encode()),
    "wrong": SecretKey(300, "0.NA/88.101.5", b"not-the-secret"),
    "none": None,
}
# Over the Handle protocol an administrative request without credentials is challenged (402 with a
# nonce): nothing happens until an identity answers, so it is the answer that is audited.
HANDLE_DENIED_RC = {"other": RC.NOT_AUTHORIZED, "wrong": RC.AUTHENTICATION_FAILED, "none": RC.AUTHENTICATION_NEEDED}


def _url(text: str) -> HandleValue:
    return HandleValue(1, "URL", text.encode())


HANDLE_CASES = [  # name, opcode, flags, body for handle h, whether h exists first, audit op
    ("create handle", Op.CREATE_HANDLE, 0, lambda h: b.CreateHandleRequest(h, (_url("https://new"),)), False,
     "put_handle"),
    ("replace handle", Op.CREATE_HANDLE, OVRW, lambda h: b.CreateHandleRequest(h, (_url("https://x"),)), True,
     "put_handle"),
    ("add value", Op.ADD_VALUE, 0,
     lambda h: b.AddValueRequest(h, (HandleValue(2001, "model", b"X1"),)), True, "put_handle"),
    ("modify value", Op.MODIFY_VALUE, 0, lambda h: b.ModifyValueRequest(h, (_url("https://x"),)), True,
     "put_handle"),
    ("remove value", Op.REMOVE_VALUE, 0, lambda h: b.RemoveValueRequest(h, (1,)), True, "delete_handle"),
    ("delete handle", Op.DELETE_HANDLE, 0, lambda h: b.HandleRequest(h), True, "delete_handle"),
]


@pytest.fixture(scope="module")
def handle_node(tmp_path_factory):
    data = tmp_path_factory.mktemp("perm-handle") / "data"
    init_data(data)
    node = hn.start(data)
    yield node
    node.stop()


@pytest.mark.parametrize("who", ["admin", "owner", "other", "wrong", "none"])
def test_permission_matrix_over_the_handle_protocol(who, auth, handle_node):
    node, admin = handle_node, auth["admin"]
    client = hn.client(node)
    for name, opcode, flags, body, exists, op in HANDLE_CASES:
        h = f"88.101.5/H-{who}-{name.replace(' ', '-')}"
        if exists:
            _make(h)(node, admin)
        before = _record(node, h, admin)
        mark = audit_mark(node, admin)
        ans = client.call(opcode, body(h), HANDLE_IDS[who], flags)
        entries = audit_after(node, admin, mark)
        label = f"{who} → {name} over the Handle protocol: RC {ans.rc}"
        if who in EVERYONE_WITH_PREFIX:
            assert ans.rc == RC.SUCCESS, label
            assert _record(node, h, admin) != before, f"{label}: allowed but nothing changed"
        else:
            assert ans.rc == HANDLE_DENIED_RC[who], label
            assert _record(node, h, admin) == before, f"{label}: denied yet the store changed"
        if who == "none":
            assert ans.session_id and not entries, f"{label}: {entries}"  # a challenge, not yet an attempt
            continue
        assert_audited(entries, who, op, who in EVERYONE_WITH_PREFIX, label)
        assert entries[0]["protocol"] == "tcp" and entries[0]["target"] == h, entries
