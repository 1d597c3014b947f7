"""Quotas of an enterprise prefix with the national response codes (resolver/quotas.py): 603 daily
requests, 604 handles registered, 605 prefixes allocated under it; over HTTP and the Handle protocol."""

from __future__ import annotations

import pytest
import requests

from protocol import bodies as b
from protocol.codes import RC
from protocol.envelope import Op
from protocol.values import HandleValue
from resolver.handleclient import SecretKey
from tests import handle_nodes as hn
from tests.nodes import ENTERPRISES

JSON = {"Content-Type": "application/json"}
URL = [{"index": 1, "type": "URL", "data": "https://example.com/q"}]
OWNER_ID = SecretKey(300, "0.NA/88.101.5", ENTERPRISES["88.101.5"].encode())


@pytest.fixture
def qnode(fresh_data):
    node = hn.start(fresh_data)
    yield node
    node.stop()


def set_quota(node, auth, prefix: str, quota: dict, who: str = "admin") -> requests.Response:
    return requests.put(f"{node.url}/api/prefixes/{prefix}/quota", json=quota, headers={**JSON, **auth[who]})


def create(node, auth, handle: str, who: str = "owner") -> requests.Response:
    return requests.put(node.api(handle), json=URL, headers={**JSON, **auth[who]})


def test_daily_request_limit_answers_603_over_http_and_the_handle_protocol(qnode, auth):
    assert create(qnode, auth, "88.101.5/D1").status_code == 201
    assert create(qnode, auth, "88.101.6/OTHER", "other").status_code == 201
    r = set_quota(qnode, auth, "88.101.5", {"dailyRequests": 4})
    assert r.status_code == 200 and r.json()["quota"] == {"dailyRequests": 4}
    c = hn.client(qnode)
    assert requests.get(qnode.api("88.101.5/D1")).status_code == 200
    assert c.resolve("88.101.5/D1", udp=True).rc == RC.SUCCESS
    assert c.resolve("88.101.5/D1", udp=False).rc == RC.SUCCESS
    assert requests.get(qnode.api("88.101.5/D1")).status_code == 200  # the fourth request today
    over = requests.get(qnode.api("88.101.5/D1"))
    assert over.status_code == 429
    assert over.json()["responseCode"] == 603 and "88.101.5" in over.json()["message"]
    for udp in (True, False):
        ans = c.resolve("88.101.5/D1", udp=udp)
        assert ans.rc == RC.REQUEST_LIMIT_DAILY and "requests" in ans.body.message
    # Writes count too, and are refused alike; other prefixes are not affected.
    assert create(qnode, auth, "88.101.5/D2").json()["responseCode"] == 603
    assert c.call(Op.CREATE_HANDLE, b.CreateHandleRequest("88.101.5/D3", (HandleValue(1, "URL", b"x"),)),
                  OWNER_ID).rc == RC.REQUEST_LIMIT_DAILY
    assert requests.get(qnode.api("88.101.6/OTHER")).status_code == 200
    usage = requests.get(f"{qnode.url}/api/prefixes/88.101.5", headers=auth["owner"]).json()["usage"]
    assert usage["dailyRequests"] == 4 and usage["handles"] == 1
    # Lifting the quota lets requests through at once.
    assert set_quota(qnode, auth, "88.101.5", {}).json().get("quota") is None
    assert requests.get(qnode.api("88.101.5/D1")).status_code == 200


def test_registration_count_limit_answers_604_everywhere_and_counts_a_batch(qnode, auth):
    assert set_quota(qnode, auth, "88.101.5", {"handles": 2}).status_code == 200
    assert create(qnode, auth, "88.101.5/R1").status_code == 201
    c = hn.client(qnode)
    assert c.call(Op.CREATE_HANDLE, b.CreateHandleRequest("88.101.5/R2", (HandleValue(1, "URL", b"x"),)),
                  OWNER_ID).rc == RC.SUCCESS
    refused = create(qnode, auth, "88.101.5/R3")
    assert refused.status_code == 403 and refused.json()["responseCode"] == 604
    assert "2 handles" in refused.json()["message"]
    assert c.call(Op.CREATE_HANDLE, b.CreateHandleRequest("88.101.5/R3", (HandleValue(1, "URL", b"x"),)),
                  OWNER_ID).rc == RC.REGISTER_COUNT_LIMIT
    # Changing an existing handle is no registration.
    assert create(qnode, auth, "88.101.5/R1").status_code == 200
    # A batch that would pass the limit: the creations past it fail alone.
    assert requests.delete(qnode.api("88.101.5/R2"), headers=auth["owner"]).status_code == 200
    out = requests.post(f"{qnode.url}/api/batch", headers={**JSON, **auth["owner"]}, json=[
        {"op": "create", "handle": "88.101.5/B1", "values": URL},
        {"op": "create", "handle": "88.101.5/B2", "values": URL}]).json()
    assert (out["succeeded"], out["failed"]) == (1, 1) and out["results"][1]["responseCode"] == 604
    assert requests.get(qnode.api("88.101.5/B2")).status_code == 404
    rec = requests.get(f"{qnode.url}/api/prefixes/88.101.5", headers=auth["owner"]).json()
    assert rec["quota"] == {"handles": 2} and rec["usage"]["handles"] == 2


def test_prefix_allocation_limit_answers_605(qnode, auth):
    # Sub-prefixes of an enterprise's prefix are its own (the same organisation code), within its quota.
    same = {"organizationCode": "91110000MA01TEST5X"}
    alloc = lambda p, owner=same: requests.post(  # noqa: E731
        f"{qnode.url}/api/prefixes", json={"prefix": p, "owner": owner}, headers={**JSON, **auth["admin"]})
    assert alloc("88.101.9").status_code == 201
    assert set_quota(qnode, auth, "88.101.9", {"prefixes": 1}).status_code == 200
    assert alloc("88.101.9.1").status_code == 201
    refused = alloc("88.101.9.2")
    assert refused.status_code == 403 and refused.json()["responseCode"] == 605
    assert "88.101.9" in refused.json()["message"]
    assert requests.get(f"{qnode.url}/api/prefixes/88.101.9.2", headers=auth["admin"]).status_code == 404
    assert alloc("88.101.7").status_code == 201  # elsewhere under the node: no such quota
    assert requests.get(f"{qnode.url}/api/prefixes/88.101.9", headers=auth["admin"]).json()["usage"]["prefixes"] == 1
    # Another company's prefix inside it is refused before any quota is counted.
    assert alloc("88.101.9.3", {"organizationCode": "91310000MA02OTHER"}).status_code == 409
    # A quota given at allocation is kept in the record.
    r = requests.post(f"{qnode.url}/api/prefixes", json={"prefix": "88.101.8", "quota": {"handles": 10}},
                      headers={**JSON, **auth["admin"]})
    assert r.status_code == 201 and r.json()["quota"] == {"handles": 10}


def test_only_the_node_admin_sets_quotas_and_bad_ones_are_refused(qnode, auth):
    assert set_quota(qnode, auth, "88.101.5", {"handles": 1000000}, "owner").status_code == 403
    assert set_quota(qnode, auth, "88.101.5", {"handles": 1000000}, "none").status_code == 401
    for bad, field in (({"handles": -1}, "quota.handles"), ({"handles": "10"}, "quota.handles"),
                       ({"dailyRequests": True}, "quota.dailyRequests"), ({"bogus": 1}, "quota.bogus")):
        r = set_quota(qnode, auth, "88.101.5", bad)
        assert r.status_code == 400 and r.json()["responseCode"] == RC.INVALID_VALUE, r.text
        assert r.json().get("field") == field, r.text
    assert set_quota(qnode, auth, "88.101.99", {"handles": 1}).status_code == 404
    assert "quota" not in requests.get(f"{qnode.url}/api/prefixes/88.101.5", headers=auth["admin"]).json()
