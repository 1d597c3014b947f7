"""Admin groups: an HS_ADMIN naming an HS_VLIST makes everyone the list names (directly or through
nested lists) an administrator, over HTTP and over the Handle protocol alike."""

from __future__ import annotations

import time

import pytest
import requests

from protocol import bodies as b
from protocol.codes import RC
from protocol.envelope import Op
from protocol.values import HandleValue
from resolver.handleclient import SecretKey
from tests import handle_nodes as hn
from tests.nodes import basic

PERMS = "011111110011"
SECRETS = {"ALICE": "alice-secret-1", "BOB": "bob-secret-1"}


def http_id(name: str) -> dict:
    return {"Authorization": basic(f"300:88.101.5/{name}", SECRETS[name])}


def handle_id(name: str) -> SecretKey:
    return SecretKey(300, f"88.101.5/{name}", SECRETS[name].encode())


def vlist(*refs: str) -> dict:
    """An HS_VLIST at 200 naming ``index:handle`` references."""
    entries = [{"handle": r.partition(":")[2], "index": int(r.partition(":")[0])} for r in refs]
    return {"index": 200, "type": "HS_VLIST", "data": {"format": "vlist", "value": entries}}


@pytest.fixture(scope="module")
def gnode(tmp_path_factory):
    with hn.capture_node(tmp_path_factory, "groups") as node:
        for name, secret in SECRETS.items():
            hn.put(node, f"88.101.5/{name}", [hn.admin_value(f"88.101.5/{name}", 300, PERMS),
                                              {"index": 300, "type": "HS_SECKEY", "data": secret,
                                               "permissions": "1100"}], hn.OWNER)
        yield node


def record(node, handle: str, admin: str) -> None:
    """A record whose only HS_ADMIN names ``admin`` (index:handle), with a value only admins read."""
    index, _, ref = admin.partition(":")
    hn.put(node, handle, [{"index": 1, "type": "URL", "data": "https://example.com/start"},
                          {"index": 2, "type": "NOTE", "data": "admins only", "permissions": "1100"},
                          hn.admin_value(ref, int(index), PERMS)], hn.OWNER)


def modify_http(node, handle: str, who: str, text: str) -> requests.Response:
    return requests.put(node.api(handle), params={"index": 1}, headers={**hn.JSON, **http_id(who)},
                        json={"values": [{"index": 1, "type": "URL", "data": text}]}, timeout=10)


def modify_handle(node, handle: str, who: str, text: str) -> int:
    body = b.ModifyValueRequest(handle, (HandleValue(1, "URL", text.encode()),))
    return hn.client(node).call(Op.MODIFY_VALUE, body, handle_id(who)).rc


def url_of(node, handle: str) -> str:
    return [v for v in requests.get(node.api(handle)).json()["values"] if v["index"] == 1][0]["data"]["value"]


def test_a_member_of_the_group_administers_over_both_protocols_and_others_do_not(gnode):
    hn.put(gnode, "88.101.5/GROUP", [vlist("300:88.101.5/ALICE")], hn.OWNER)
    record(gnode, "88.101.5/GROUPED", "200:88.101.5/GROUP")

    r = modify_http(gnode, "88.101.5/GROUPED", "ALICE", "https://example.com/alice-http")
    assert r.status_code == 200, r.text
    assert modify_handle(gnode, "88.101.5/GROUPED", "ALICE", "https://example.com/alice-hdl") == RC.SUCCESS
    assert url_of(gnode, "88.101.5/GROUPED") == "https://example.com/alice-hdl"
    # A member reads what only admins may.
    seen = requests.get(gnode.api("88.101.5/GROUPED"), headers=http_id("ALICE")).json()["values"]
    assert [v["index"] for v in seen] == [1, 2, 100]

    r = modify_http(gnode, "88.101.5/GROUPED", "BOB", "https://example.com/bob")
    assert (r.status_code, r.json()["responseCode"]) == (403, RC.NOT_AUTHORIZED)
    assert "300:88.101.5/BOB may not change 88.101.5/GROUPED" in r.json()["message"]
    assert modify_handle(gnode, "88.101.5/GROUPED", "BOB", "https://example.com/bob") == RC.NOT_AUTHORIZED
    seen = requests.get(gnode.api("88.101.5/GROUPED"), headers=http_id("BOB")).json()["values"]
    assert [v["index"] for v in seen] == [1, 100]
    assert url_of(gnode, "88.101.5/GROUPED") == "https://example.com/alice-hdl"


def test_taking_a_member_off_the_list_revokes_at_once(gnode):
    hn.put(gnode, "88.101.5/GROUP-R", [vlist("300:88.101.5/BOB", "300:88.101.5/ALICE")], hn.OWNER)
    record(gnode, "88.101.5/REVOKED", "200:88.101.5/GROUP-R")
    assert modify_http(gnode, "88.101.5/REVOKED", "ALICE", "https://example.com/1").status_code == 200
    assert modify_handle(gnode, "88.101.5/REVOKED", "ALICE", "https://example.com/2") == RC.SUCCESS

    hn.put(gnode, "88.101.5/GROUP-R", [vlist("300:88.101.5/BOB")], hn.OWNER, index=200)
    assert modify_http(gnode, "88.101.5/REVOKED", "ALICE", "https://example.com/3").status_code == 403
    assert modify_handle(gnode, "88.101.5/REVOKED", "ALICE", "https://example.com/4") == RC.NOT_AUTHORIZED
    assert modify_handle(gnode, "88.101.5/REVOKED", "BOB", "https://example.com/5") == RC.SUCCESS
    assert url_of(gnode, "88.101.5/REVOKED") == "https://example.com/5"


def test_nested_groups_count_up_to_the_depth_bound(gnode):
    # OUTER names TEAM, TEAM names BOB: Bob administers what names OUTER.
    hn.put(gnode, "88.101.5/TEAM", [vlist("300:88.101.5/BOB")], hn.OWNER)
    hn.put(gnode, "88.101.5/OUTER", [vlist("200:88.101.5/TEAM")], hn.OWNER)
    record(gnode, "88.101.5/NESTED", "200:88.101.5/OUTER")
    assert modify_http(gnode, "88.101.5/NESTED", "BOB", "https://example.com/n1").status_code == 200
    assert modify_handle(gnode, "88.101.5/NESTED", "BOB", "https://example.com/n2") == RC.SUCCESS
    assert modify_handle(gnode, "88.101.5/NESTED", "ALICE", "https://example.com/n3") == RC.NOT_AUTHORIZED

    # A chain of lists L1 → L2 → … → Ln → ALICE: four lists deep counts, five do not.
    for n in range(5, 0, -1):
        inner = "300:88.101.5/ALICE" if n == 5 else f"200:88.101.5/L{n + 1}"
        hn.put(gnode, f"88.101.5/L{n}", [vlist(inner)], hn.OWNER)
    record(gnode, "88.101.5/DEPTH4", "200:88.101.5/L2")  # L2 L3 L4 L5
    record(gnode, "88.101.5/DEPTH5", "200:88.101.5/L1")  # L1 L2 L3 L4 L5
    assert modify_handle(gnode, "88.101.5/DEPTH4", "ALICE", "https://example.com/d4") == RC.SUCCESS
    assert modify_http(gnode, "88.101.5/DEPTH5", "ALICE", "https://example.com/d5").status_code == 403
    assert modify_handle(gnode, "88.101.5/DEPTH5", "ALICE", "https://example.com/d5") == RC.NOT_AUTHORIZED


@pytest.mark.serial  # a wall-time bound: run alone
def test_lists_that_name_each_other_end_and_grant_nothing(gnode):
    hn.put(gnode, "88.101.5/CYC-A", [vlist("200:88.101.5/CYC-B")], hn.OWNER)
    hn.put(gnode, "88.101.5/CYC-B", [vlist("200:88.101.5/CYC-A", "200:88.101.5/CYC-B", "300:88.101.5/NOBODY")],
           hn.OWNER)
    record(gnode, "88.101.5/CYCLIC", "200:88.101.5/CYC-A")
    started = time.monotonic()
    r = modify_http(gnode, "88.101.5/CYCLIC", "ALICE", "https://example.com/c")
    assert (r.status_code, r.json()["responseCode"]) == (403, RC.NOT_AUTHORIZED)
    assert modify_handle(gnode, "88.101.5/CYCLIC", "BOB", "https://example.com/c") == RC.NOT_AUTHORIZED
    assert time.monotonic() - started < 5
    assert url_of(gnode, "88.101.5/CYCLIC") == "https://example.com/start"
    # The node is still answering, and the owner still administers the records.
    record(gnode, "88.101.5/CYCLIC", "300:88.101.5/ALICE")
    assert modify_handle(gnode, "88.101.5/CYCLIC", "ALICE", "https://example.com/after") == RC.SUCCESS
