"""Lock-out after repeated authentication failures: per identity and per client address, the same
counters for HTTP Basic and the Handle protocol's challenge-response, a right secret refused during a
lock-out, a back-off that doubles, and an end to it. Settings are set low through the TOML file."""

from __future__ import annotations

import base64
import http.client
import json
import time

import pytest
import requests

from protocol import bodies as b
from protocol.codes import RC
from protocol.envelope import Op
from protocol.values import HandleValue
from resolver.handleclient import SecretKey
from tests import handle_nodes as hn
from tests.nodes import ADMIN_SECRET, ENTERPRISES, basic

H = {"Content-Type": "application/json"}
URL = [{"index": 1, "type": "URL", "data": "https://example.com/a"}]
SETTINGS = ("lockout_failures = 3\nlockout_address_failures = 6\nlockout_window = 60\n"
            "lockout_seconds = 1\nlockout_max_seconds = 4\n")


@pytest.fixture
def lnode(fresh_data, tmp_path):
    cfg = tmp_path / "node.toml"
    cfg.write_text(SETTINGS)
    node = hn.start(fresh_data, "--config", str(cfg))
    yield node
    node.stop()


def put(node, handle, headers):
    return requests.put(node.api(handle), json=URL, headers={**H, **headers})


def hdl_create(node, handle, who: SecretKey):
    return hn.client(node).call(Op.CREATE_HANDLE, b.CreateHandleRequest(handle, (HandleValue(1, "URL", b"u"),)), who)


def put_from(node, source: str, handle: str, authorization: str) -> tuple[int, dict, dict]:
    """A PUT from another loopback address (127.0.0.2, …), as a second client machine would send it."""
    conn = http.client.HTTPConnection("127.0.0.1", node.port, timeout=10, source_address=(source, 0))
    try:
        conn.request("PUT", f"/api/handles/{handle}", body=json.dumps(URL),
                     headers={**H, "Authorization": authorization})
        r = conn.getresponse()
        return r.status, dict(r.getheaders()), json.loads(r.read())
    finally:
        conn.close()


OWNER = {"Authorization": basic("300:0.NA/88.101.5", ENTERPRISES["88.101.5"])}
WRONG = {"Authorization": basic("300:0.NA/88.101.5", "not-the-secret")}
OWNER_KEY = SecretKey(300, "0.NA/88.101.5", ENTERPRISES["88.101.5"].encode())
WRONG_KEY = SecretKey(300, "0.NA/88.101.5", b"not-the-secret")


def test_an_identity_is_locked_out_over_both_protocols_then_let_in_again(lnode, auth):
    # Three failures, over either protocol, count together.
    assert put(lnode, "88.101.5/L1", WRONG).status_code == 401
    assert hdl_create(lnode, "88.101.5/L1", WRONG_KEY).rc == RC.AUTHENTICATION_FAILED
    assert put(lnode, "88.101.5/L1", WRONG).status_code == 401
    # Now the right secret is refused too, without being checked, with a reason and when to come back.
    r = put(lnode, "88.101.5/L1", OWNER)
    assert r.status_code == 429 and r.headers["Retry-After"] == "1", r.text
    assert r.json()["responseCode"] == RC.UNABLE_TO_AUTHENTICATE and "locked out" in r.json()["message"]
    assert "identity 300:0.NA/88.101.5" in r.json()["message"]
    ans = hdl_create(lnode, "88.101.5/L1", OWNER_KEY)
    assert ans.rc == RC.UNABLE_TO_AUTHENTICATE and "locked out" in ans.body.message
    assert requests.get(lnode.api("88.101.5/L1")).status_code == 404  # nothing was written
    # Another identity from the same address is not affected (3 failures < 6 for the address).
    assert put(lnode, "88.101.6/L1", auth["other"]).status_code == 201
    # The lock-out ends.
    time.sleep(1.1)
    assert put(lnode, "88.101.5/L1", OWNER).status_code == 201
    # The next one lasts twice as long.
    for _ in range(3):
        assert put(lnode, "88.101.5/L2", WRONG).status_code == 401
    r = put(lnode, "88.101.5/L2", OWNER)
    assert r.status_code == 429 and r.headers["Retry-After"] == "2"
    time.sleep(1.1)
    assert put(lnode, "88.101.5/L2", OWNER).status_code == 429  # still locked after 1 s
    time.sleep(1.0)
    assert put(lnode, "88.101.5/L2", OWNER).status_code == 201
    # Each refusal is in the audit trail, with its reason.
    refusals = requests.get(f"{lnode.url}/api/audit", params={"result": "denied", "identity": "300:0.NA/88.101.5"},
                            headers=auth["admin"]).json()["entries"]
    assert [e["rc"] for e in refusals] == [402, 403, 402, 406, 406, 402, 402, 402, 406, 406]
    assert refusals[4]["protocol"] == "tcp" and "locked out" in refusals[4]["message"]


def test_an_address_guessing_many_identities_is_locked_out(lnode):
    guesses = [("300:0.NA/88.101.5", "guess-1"), ("300:0.NA/88.101.6", "guess-2"), ("300:0.NA/88.101", "guess-3")]
    for identity, secret in guesses * 2:  # two each: no identity reaches its 3
        assert put(lnode, "88.101.5/A1", {"Authorization": basic(identity, secret)}).status_code == 401
    admin = basic("300:0.NA/88.101", ADMIN_SECRET)
    r = put(lnode, "88.101.5/A1", {"Authorization": admin})
    assert r.status_code == 429 and "address 127.0.0.1" in r.json()["message"]
    assert hdl_create(lnode, "88.101.5/A1", SecretKey(300, "0.NA/88.101", ADMIN_SECRET.encode())).rc == \
        RC.UNABLE_TO_AUTHENTICATE
    # Another client address goes on working.
    status, _, body = put_from(lnode, "127.0.0.2", "88.101.5/A1", admin)
    assert status == 201, body
    time.sleep(1.1)
    assert put(lnode, "88.101.5/A2", {"Authorization": admin}).status_code == 201


def test_malformed_basic_credentials_are_refused_but_not_counted(lnode):
    bad = {"Authorization": "Basic " + base64.b64encode(b"no colon here").decode()}
    for _ in range(5):
        r = put(lnode, "88.101.5/M", bad)
        assert r.status_code == 401 and "no ':'" in r.json()["message"]
    assert put(lnode, "88.101.5/M", OWNER).status_code == 201
