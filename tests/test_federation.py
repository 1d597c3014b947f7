"""Federation on loopback: one top-level node and two secondary nodes, each its own process and data
folder. Prefixes allocated on a secondary become known upstream; handles resolve across nodes over
HTTP and UDP, and through the top-level node's referral."""

from __future__ import annotations

import json

import pytest
import requests

from protocol.codes import RC
from protocol.envelope import REC
from protocol.handles import na_handle
from protocol.site import Site
from resolver.handleclient import HandleClient
from tests.federation_nodes import (
    JSON,
    admin,
    eventually,
    owner,
    register,
    three_nodes,
    top_admin,
)
from tests.nodes import idnode


def udp(node, **kw) -> HandleClient:
    return HandleClient("127.0.0.1", node.handle_port, timeout=10.0, **kw)


def upstream_record(top, prefix: str) -> dict | None:
    r = requests.get(top.api(na_handle(prefix)))
    return r.json() if r.status_code == 200 else None


def site_port(record: dict) -> int:
    [site] = [v for v in record["values"] if v["type"] == "HS_SITE"]
    return site["data"]["value"]["servers"][0]["interfaces"][0]["port"]


@pytest.fixture(scope="module")
def fed(tmp_path_factory):
    with three_nodes(tmp_path_factory.mktemp("fed")) as nodes:
        yield nodes


def test_prefix_allocated_on_a_becomes_known_upstream(fed):
    top, a, b = fed
    r = requests.post(a.url + "/api/prefixes", json={"prefix": "88.101.7"}, headers={**JSON, **admin("88.101")})
    assert r.status_code == 201, r.text
    rec = eventually(lambda: upstream_record(top, "88.101.7"), what="0.NA/88.101.7 upstream")
    assert site_port(rec) == a.handle_port
    [adm] = [v for v in rec["values"] if v["type"] == "HS_ADMIN"]
    assert adm["data"]["value"]["handle"] == "0.NA/88.101" and int(adm["data"]["value"]["index"]) == 300
    # The enterprise prefix allocated before the node first served is known too (the full sync).
    assert site_port(eventually(lambda: upstream_record(top, "88.101.5"))) == a.handle_port
    # And the node's own delegation carries its site, for handles directly under 88.101.
    assert site_port(eventually(lambda: upstream_record(top, "88.101"))) == a.handle_port


def test_handle_on_a_resolves_through_b_over_http_and_udp(fed):
    top, a, b = fed
    register(a, "88.101.5/SN-2024-000042", "https://example.com/sn42", owner("88.101"))
    eventually(lambda: upstream_record(top, "88.101.5"))
    direct = requests.get(a.api("88.101.5/SN-2024-000042")).json()
    r = requests.get(b.api("88.101.5/SN-2024-000042"))
    assert r.status_code == 200, r.text
    assert r.json() == direct
    r = requests.get(b.api("88.101.5/SN-2024-000042"), params={"type": "URL"})
    assert [v["type"] for v in r.json()["values"]] == ["URL"]
    r = requests.get(f"{b.url}/88.101.5/SN-2024-000042", allow_redirects=False)
    assert r.status_code == 302 and r.headers["Location"] == "https://example.com/sn42"
    ans = udp(b).resolve("88.101.5/SN-2024-000042", opflags=REC)
    assert ans.rc == RC.SUCCESS
    assert [(v.index, v.type, v.data) for v in ans.body.values][0] == (1, "URL", b"https://example.com/sn42")


def test_remote_not_found_and_unregistered_prefix_are_clear_errors(fed):
    top, a, b = fed
    eventually(lambda: upstream_record(top, "88.101.5"))
    r = requests.get(b.api("88.101.5/NO-SUCH-ITEM"))
    assert r.status_code == 404 and r.json()["responseCode"] == RC.HANDLE_NOT_FOUND
    assert "88.101.5/NO-SUCH-ITEM" in r.json()["message"]
    r = requests.get(b.api("99.1/X"))
    assert r.status_code == 404 and "not registered" in r.json()["message"], r.text


def test_top_level_node_refers_without_recursion_and_resolves_with_it(fed):
    top, a, b = fed
    register(a, "88.101.5/REF-1", "https://example.com/ref1", owner("88.101"))
    eventually(lambda: upstream_record(top, "88.101.5"))
    ans = udp(top).resolve("88.101.5/REF-1")
    assert ans.rc == RC.SERVICE_REFERRAL
    assert ans.body.handle == "0.NA/88.101.5"
    [site] = [Site.from_wire(v.data) for v in ans.body.values if v.type == "HS_SITE"]
    server = site.server_for("88.101.5/REF-1")
    port = server.interfaces[0].port
    assert (server.address_text, port) == ("127.0.0.1", a.handle_port)
    # A client following the referral finds the handle at the site it names.
    followed = HandleClient(server.address_text, port).resolve("88.101.5/REF-1")
    assert followed.rc == RC.SUCCESS and followed.body.values[0].data == b"https://example.com/ref1"
    # Asked to recurse, the top-level node answers itself; so does its HTTP API.
    assert udp(top).resolve("88.101.5/REF-1", opflags=REC).rc == RC.SUCCESS
    assert requests.get(top.api("88.101.5/REF-1")).json()["values"][0]["data"]["value"] == "https://example.com/ref1"


def test_b_handles_resolve_through_a(fed):
    top, a, b = fed
    register(b, "88.102.3/BOLT-9", "https://example.com/bolt9", owner("88.102"))
    eventually(lambda: upstream_record(top, "88.102.3"))
    r = requests.get(a.api("88.102.3/BOLT-9"))
    assert r.status_code == 200 and r.json()["values"][0]["data"]["value"] == "https://example.com/bolt9"
    assert udp(a).resolve("88.102.3/BOLT-9", opflags=REC).rc == RC.SUCCESS


def test_disable_and_delete_reach_upstream(fed):
    top, a, b = fed
    hdr = {**JSON, **admin("88.101")}
    assert requests.post(a.url + "/api/prefixes", json={"prefix": "88.101.8"}, headers=hdr).status_code == 201
    eventually(lambda: upstream_record(top, "88.101.8"))
    assert requests.post(a.url + "/api/prefixes/88.101.8/disable", headers=hdr).status_code == 200
    eventually(lambda: (rec := upstream_record(top, "88.101.8")) and not any(
        v["type"] == "HS_SITE" for v in rec["values"]), what="the site removed upstream")
    assert requests.delete(a.url + "/api/prefixes/88.101.8", headers=hdr).status_code == 200
    eventually(lambda: upstream_record(top, "88.101.8") is None, what="0.NA/88.101.8 removed upstream")


def test_a_delegate_may_not_register_outside_its_prefix(fed):
    top, a, b = fed
    from protocol import bodies as bd
    from protocol.envelope import OVRW, Op
    from resolver.handleclient import SecretKey

    ident = SecretKey(300, "0.NA/88.101", b"a-upstream-secret")
    c = udp(top)
    ans = c.call(Op.CREATE_HANDLE, bd.CreateHandleRequest("0.NA/88.102.99", ()), ident, OVRW)
    assert ans.rc == RC.NOT_AUTHORIZED
    ans = c.call(Op.DELETE_HANDLE, bd.HandleRequest("0.NA/88.101"), ident)
    assert ans.rc == RC.NOT_AUTHORIZED
    assert upstream_record(top, "88.102.99") is None and upstream_record(top, "88.101") is not None


def test_statistics_and_status(fed):
    top, a, b = fed
    register(a, "88.101.5/STAT-1", "https://example.com/s1", owner("88.101"))
    for _ in range(3):
        requests.get(a.api("88.101.5/STAT-1"))

    def report():
        r = requests.get(top.api("0.NA/88.101"), params={"index": "2", "auth": "true"}, headers=top_admin())
        values = r.json().get("values", [])
        if not values:
            return None
        rep = json.loads(values[0]["data"]["value"])
        return rep if rep["prefixes"].get("88.101.5", {}).get("resolutions", 0) >= 1 else None

    rep = eventually(report, timeout=30, what="a statistics report with resolutions")
    assert rep["node"] == "88.101" and rep["prefixes"]["88.101.5"]["identifiers"] >= 1
    # Not public: statistics are business data.
    assert requests.get(top.api("0.NA/88.101"), params={"index": "2"}).json()["values"] == []
    st = requests.get(a.url + "/api/federation", headers=admin("88.101")).json()
    assert st["configured"] and st["identity"] == "300:0.NA/88.101"
    assert st["upstreams"][0]["lastError"] is None and st["upstreams"][0]["lastOk"]
    assert requests.get(a.url + "/api/federation").status_code == 401
    ready = requests.get(a.url + "/readyz").json()
    assert ready["status"] == "ready" and ready["upstreams"][0]["ok"] is True
    out = idnode("federation", "status", "--data", str(a.data)).stdout
    assert "300:0.NA/88.101" in out and f"127.0.0.1:{top.handle_port}" in out
