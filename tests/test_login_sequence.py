"""One login sequence for every proof (ServiceBase.login): a Handle challenge answer, HTTP Basic and a
token request share the lock-out both ways, and each failed proof is audited exactly once, whatever
the transport. Settings are set low through the TOML file."""

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
from tests.nodes import ENTERPRISES, basic

H = {"Content-Type": "application/json"}
URL = [{"index": 1, "type": "URL", "data": "https://example.com/a"}]
WHO = "300:0.NA/88.101.5"
OWNER = {"Authorization": basic(WHO, ENTERPRISES["88.101.5"])}
WRONG = {"Authorization": basic(WHO, "not-the-secret")}
OWNER_KEY = SecretKey(300, "0.NA/88.101.5", ENTERPRISES["88.101.5"].encode())
WRONG_KEY = SecretKey(300, "0.NA/88.101.5", b"not-the-secret")


@pytest.fixture
def lnode(fresh_data, tmp_path):
    cfg = tmp_path / "node.toml"
    cfg.write_text("lockout_failures = 3\nlockout_address_failures = 50\nlockout_window = 60\n"
                   "lockout_seconds = 2\nlockout_max_seconds = 4\n")
    node = hn.start(fresh_data, "--config", str(cfg))
    yield node
    node.stop()


def create(node, handle: str, who: SecretKey):
    return hn.client(node).call(Op.CREATE_HANDLE, b.CreateHandleRequest(handle, (HandleValue(1, "URL", b"u"),)), who)


def refusals(node, admin: dict) -> list[dict]:
    r = requests.get(f"{node.url}/api/audit", params={"result": "denied", "identity": WHO}, headers=admin)
    assert r.status_code == 200, r.text
    return r.json()["entries"]


def test_a_lock_out_reached_over_the_handle_protocol_holds_over_http(lnode, auth):
    for _ in range(3):
        assert create(lnode, "88.101.5/S1", WRONG_KEY).rc == RC.AUTHENTICATION_FAILED
    # The right secret is refused unchecked over HTTP Basic and in a token request alike.
    r = requests.put(lnode.api("88.101.5/S1"), json=URL, headers={**H, **OWNER})
    assert r.status_code == 429 and "locked out" in r.json()["message"], r.text
    r = requests.post(f"{lnode.url}/api/token", headers=OWNER)
    assert r.status_code == 429 and "locked out" in r.json()["message"], r.text
    assert requests.get(lnode.api("88.101.5/S1")).status_code == 404  # nothing was written
    # Each failed challenge answer is in the trail once, named for the request it would have allowed.
    entries = refusals(lnode, auth["admin"])
    tcp = [e for e in entries if e["protocol"] == "tcp"]
    assert [(e["rc"], e["op"], e["target"]) for e in tcp] == [(RC.AUTHENTICATION_FAILED, "put_handle", "88.101.5/S1")] * 3
    assert all(not e["authenticated"] and "wrong secret" in e["message"] for e in tcp)
    assert [e["rc"] for e in entries if e["protocol"] == "http"] == [RC.UNABLE_TO_AUTHENTICATE] * 2


def test_a_lock_out_reached_over_http_holds_over_the_handle_protocol(lnode, auth):
    for _ in range(3):
        r = requests.put(lnode.api("88.101.5/S2"), json=URL, headers={**H, **WRONG})
        assert r.status_code == 401, r.text
    ans = create(lnode, "88.101.5/S2", OWNER_KEY)
    assert ans.rc == RC.UNABLE_TO_AUTHENTICATE and "locked out" in ans.body.message
    entries = refusals(lnode, auth["admin"])
    assert [(e["protocol"], e["rc"]) for e in entries] == \
        [("http", RC.AUTHENTICATION_NEEDED)] * 3 + [("tcp", RC.UNABLE_TO_AUTHENTICATE)]
    # Once the lock-out ends, the same answer is checked and lets the owner in (counted as a success).
    time.sleep(2.1)
    assert create(lnode, "88.101.5/S2", OWNER_KEY).rc == RC.SUCCESS
    assert len(refusals(lnode, auth["admin"])) == 4
