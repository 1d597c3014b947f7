"""A bearer token lives no longer than the credential it was issued for (issue 14, item 9): each test is the
attack of someone holding a token whose credential the node admin or the owner has since ended."""

from __future__ import annotations

import requests

from tests.nodes import basic

H = {"Content-Type": "application/json"}
A = "88.101.5"


def values(url: str) -> dict:
    return {"values": [{"index": 1, "type": "URL", "data": url}]}


def token_for(node, headers: dict) -> dict:
    r = requests.post(f"{node.url}/api/token", headers=headers)
    assert r.status_code == 201, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


def put(node, handle: str, headers: dict) -> requests.Response:
    return requests.put(node.api(handle), json=values("https://example.com/"), headers={**H, **headers})


def test_rotating_the_secret_ends_the_tokens_issued_for_it(node, auth):
    stolen = token_for(node, auth["owner"])
    assert put(node, f"{A}/BEFORE", stolen).status_code == 201
    r = requests.post(f"{node.url}/api/prefixes/{A}/secret", json={"secret": "rotated-after-a-leak"},
                      headers=auth["admin"])
    assert r.status_code == 200, r.text
    r = put(node, f"{A}/AFTER", stolen)
    assert r.status_code == 401, r.text
    assert "changed or removed" in r.json()["message"]
    assert r.headers["WWW-Authenticate"].startswith("Bearer")
    assert requests.get(node.api(f"{A}/AFTER")).status_code == 404
    # The new secret gets a token that works.
    fresh = token_for(node, {"Authorization": basic(f"300:0.NA/{A}", "rotated-after-a-leak")})
    assert put(node, f"{A}/AFTER", fresh).status_code == 201


def test_removing_a_members_secret_ends_its_tokens(node, auth):
    member = {"values": [{"index": 300, "type": "HS_SECKEY", "data": "member-secret-1"},
                         {"index": 100, "type": "HS_ADMIN", "data": {"format": "admin", "value": {
                             "handle": f"0.NA/{A}", "index": 300, "permissions": "011111110011"}}}]}
    assert requests.put(node.api(f"{A}/ALICE"), json=member, headers={**H, **auth["owner"]}).status_code == 201
    rec = {"values": [{"index": 1, "type": "URL", "data": "https://x/"},
                      {"index": 100, "type": "HS_ADMIN", "data": {"format": "admin", "value": {
                          "handle": f"{A}/ALICE", "index": 300, "permissions": "011111110011"}}}]}
    assert requests.put(node.api(f"{A}/DOC"), json=rec, headers={**H, **auth["owner"]}).status_code == 201
    alice = token_for(node, {"Authorization": basic(f"300:{A}/ALICE", "member-secret-1")})
    assert requests.put(node.api(f"{A}/DOC"), json=rec, headers={**H, **alice}).status_code in (200, 204)
    # Alice leaves: her HS_SECKEY is removed from her record.
    del member["values"][0]
    r = requests.put(node.api(f"{A}/ALICE"), json=member, headers={**H, **auth["owner"]})
    assert r.status_code in (200, 204), r.text
    r = requests.put(node.api(f"{A}/DOC"), json=rec, headers={**H, **alice})
    assert r.status_code == 401 and "changed or removed" in r.json()["message"], r.text


def test_a_deleted_and_reallocated_prefix_does_not_honour_the_old_owners_token(node, auth):
    admin = auth["admin"]
    p = "88.101.40"
    old_owner = {"Authorization": basic(f"300:0.NA/{p}", "first-owner-secret")}
    assert requests.post(f"{node.url}/api/prefixes", json={"prefix": p, "secret": "first-owner-secret"},
                         headers=admin).status_code == 201
    kept = token_for(node, old_owner)
    assert requests.delete(f"{node.url}/api/prefixes/{p}", headers=admin).status_code in (200, 204)
    assert requests.post(f"{node.url}/api/prefixes", json={"prefix": p, "secret": "second-owner-secret"},
                         headers=admin).status_code == 201
    new_owner = {"Authorization": basic(f"300:0.NA/{p}", "second-owner-secret")}
    assert put(node, f"{p}/NEWS", new_owner).status_code == 201
    # The old owner's token neither deletes nor writes the new owner's records.
    r = requests.delete(node.api(f"{p}/NEWS"), headers=kept)
    assert r.status_code == 401, r.text
    assert put(node, f"{p}/OLD", kept).status_code == 401
    assert requests.get(node.api(f"{p}/NEWS")).status_code == 200


def test_the_node_admin_revokes_every_token_of_an_identity(node, auth):
    tokens = [token_for(node, auth["owner"]) for _ in range(3)]
    other = token_for(node, auth["other"])
    r = requests.delete(f"{node.url}/api/tokens", params={"identity": f"300:0.NA/{A}"}, headers=auth["owner"])
    assert r.status_code == 403, r.text  # not the owner's call: only the node admin's
    r = requests.delete(f"{node.url}/api/tokens", params={"identity": f"300:0.NA/{A}"}, headers=auth["admin"])
    assert r.status_code == 200 and r.json()["revoked"] == 3, r.text
    for t in tokens:
        assert put(node, f"{A}/GONE", t).status_code == 401
    assert put(node, "88.101.6/STILL", other).status_code == 201  # another identity's tokens stand
    r = requests.delete(f"{node.url}/api/tokens", params={"identity": "not an identity"}, headers=auth["admin"])
    assert r.status_code == 400 and r.json()["field"] == "identity"
    entries = requests.get(f"{node.url}/api/audit", params={"op": "revoke_tokens"}, headers=auth["admin"]).json()
    assert [e["result"] for e in entries["entries"]] == ["denied", "allowed", "denied"]
