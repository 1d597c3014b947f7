"""Bearer tokens: issued for a secret (HTTP Basic or a JSON body), accepted wherever Basic is, revoked
by DELETE /api/token, refused with a clear 401 once expired or revoked, kept in LMDB as digests only."""

from __future__ import annotations

import time

import pytest
import requests

from tests.nodes import ADMIN_SECRET, ENTERPRISES, Node

H = {"Content-Type": "application/json"}
URL = [{"index": 1, "type": "URL", "data": "https://example.com/t"}]


@pytest.fixture
def tnode(fresh_data, tmp_path):
    cfg = tmp_path / "node.toml"
    cfg.write_text("token_lifetime = 2\n")
    node = Node(fresh_data, "--config", str(cfg)).start()
    yield node
    node.stop()


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def issue(node, **kw) -> requests.Response:
    return requests.post(f"{node.url}/api/token", **kw)


def test_a_token_stands_in_for_the_secret_until_revoked(tnode, auth):
    r = issue(tnode, headers=auth["owner"])
    assert r.status_code == 201, r.text
    t = r.json()
    assert (t["tokenType"], t["identity"], t["expiresIn"]) == ("Bearer", "300:0.NA/88.101.5", 2)
    assert t["token"].startswith("idn_") and t["expires"].endswith("Z")
    me = bearer(t["token"])
    # Wherever Basic works: a write, a private read, a listing.
    assert requests.put(tnode.api("88.101.5/TOK"), json=URL, headers={**H, **me}).status_code == 201
    secret = requests.get(tnode.api("0.NA/88.101.5"), headers=me).json()["values"]
    assert any(v["type"] == "HS_SECKEY" for v in secret)  # the owner's non-public value
    assert requests.get(f"{tnode.url}/api/handles", params={"prefix": "88.101.5"}, headers=me).status_code == 200
    # Still only what the identity may do.
    assert requests.put(tnode.api("88.101.6/TOK"), json=URL, headers={**H, **me}).status_code == 403
    # Revoked: refused at once, with a reason and a Bearer challenge.
    assert requests.delete(f"{tnode.url}/api/token", headers=me).json() == {"responseCode": 1, "revoked": True}
    r = requests.put(tnode.api("88.101.5/TOK2"), json=URL, headers={**H, **me})
    assert r.status_code == 401 and "revoked" in r.json()["message"]
    assert r.headers["WWW-Authenticate"] == 'Bearer realm="handle", error="invalid_token"'
    assert requests.get(tnode.api("88.101.5/TOK2")).status_code == 404


def test_a_token_expires(tnode, auth):
    token = issue(tnode, headers=auth["owner"]).json()["token"]
    assert requests.get(tnode.api("0.NA/88.101.5"), headers=bearer(token)).status_code == 200
    time.sleep(2.1)
    r = requests.put(tnode.api("88.101.5/LATE"), json=URL, headers={**H, **bearer(token)})
    assert r.status_code == 401 and "expired at" in r.json()["message"] and "POST /api/token" in r.json()["message"]
    assert requests.delete(f"{tnode.url}/api/token", headers=bearer(token)).status_code == 401


def test_issued_for_a_json_body_and_for_the_node_admin(tnode):
    r = issue(tnode, json={"identity": "300:0.NA/88.101", "secret": ADMIN_SECRET})
    assert r.status_code == 201 and r.json()["identity"] == "300:0.NA/88.101"
    admin = bearer(r.json()["token"])
    # The node admin's token does what the node admin does.
    assert requests.post(f"{tnode.url}/api/prefixes", json={"prefix": "88.101.40"}, headers={**H, **admin}).status_code \
        == 201
    assert requests.get(f"{tnode.url}/api/audit", params={"op": "issue_token"}, headers=admin).status_code == 200


@pytest.mark.parametrize("how,status,words", [
    ({"json": {"identity": "300:0.NA/88.101.5", "secret": "wrong"}}, 401, "wrong secret"),
    ({"json": {"identity": "300:0.NA/88.101.5"}}, 400, "secret"),
    ({"json": {"identity": "nobody", "secret": "x"}}, 401, "index:prefix/suffix"),
    ({}, 401, "needs the identity's secret"),
    ({"headers": {"Authorization": "Bearer idn_made-up"}}, 401, "not for another token"),
    ({"data": "identity=x", "headers": {"Content-Type": "application/x-www-form-urlencoded"}}, 400, "Content-Type"),
])
def test_refusals(tnode, how, status, words):
    r = issue(tnode, **how)
    assert r.status_code == status and words in r.json()["message"], r.text


def test_made_up_tokens_and_other_schemes(tnode):
    r = requests.get(tnode.api("0.NA/88.101.5"), headers=bearer("idn_" + "A" * 43))
    assert r.status_code == 401 and "never issued here" in r.json()["message"]
    r = requests.get(tnode.api("0.NA/88.101.5"), headers={"Authorization": "Digest x"})
    assert r.status_code == 401 and "Basic and Bearer" in r.json()["message"]
    r = requests.delete(f"{tnode.url}/api/token")
    assert r.status_code == 401 and "Authorization: Bearer" in r.json()["message"]


def test_tokens_are_audited_survive_a_restart_and_are_stored_as_digests(tnode, auth):
    cfg = tnode.extra[1]
    with open(cfg, "w") as fh:
        fh.write("token_lifetime = 60\n")
    tnode.restart()
    token = issue(tnode, headers=auth["owner"]).json()["token"]
    tnode.restart()
    assert requests.get(tnode.api("0.NA/88.101.5"), headers=bearer(token)).status_code == 200
    assert token.encode() not in (tnode.data / "data.mdb").read_bytes()
    assert issue(tnode, json={"identity": "300:0.NA/88.101.5", "secret": "wrong"}).status_code == 401
    requests.delete(f"{tnode.url}/api/token", headers=bearer(token)).raise_for_status()
    entries = requests.get(f"{tnode.url}/api/audit", params={"order": "desc", "limit": 3},
                           headers=auth["admin"]).json()["entries"]
    assert [(e["op"], e["result"], e["identity"]) for e in entries] == [
        ("revoke_token", "allowed", "300:0.NA/88.101.5"), ("issue_token", "denied", "300:0.NA/88.101.5"),
        ("issue_token", "allowed", "300:0.NA/88.101.5")]
    assert ENTERPRISES["88.101.5"].encode() not in (tnode.data / "data.mdb").read_bytes()
