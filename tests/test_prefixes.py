"""/api/prefixes: enterprise prefixes allocated, listed, disabled, deleted, re-keyed — over HTTP and the CLI."""

from __future__ import annotations

import json
import random

import pytest
import requests

from tests.nodes import NODE_PREFIX, basic, idnode

OWNER = {"name": "Acme Motors", "contact": "Li Wei", "email": "li.wei@acme.example", "organizationCode": "91310000X"}


def fresh_prefix() -> str:
    return f"{NODE_PREFIX}.{random.randrange(1000, 10**9)}"


def prefix_auth(prefix: str, secret: str) -> dict:
    return {"Authorization": basic(f"300:0.NA/{prefix}", secret)}


def allocate(node, body: dict | None, headers: dict) -> requests.Response:
    return requests.post(node.url + "/api/prefixes", json=body, headers=headers)


def put_url(node, handle: str, headers: dict, target: str = "https://example.com/") -> requests.Response:
    return requests.put(node.api(handle), json={"values": [{"index": 1, "type": "URL", "data": target}]},
                        headers=headers)


def listed(node, headers: dict) -> dict[str, dict]:
    r = requests.get(node.url + "/api/prefixes", headers=headers)
    assert r.status_code == 200, r.text
    return {p["prefix"]: p for p in r.json()["prefixes"]}


def test_allocate_explicit_prefix_with_generated_secret(shared_node, auth):
    prefix = fresh_prefix()
    r = allocate(shared_node, {"prefix": prefix, "owner": OWNER}, auth["admin"])
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["responseCode"] == 1 and body["prefix"] == prefix
    assert body["kind"] == "enterprise" and body["state"] == "enabled" and body["owner"] == OWNER
    assert body["admin"] == f"300:0.NA/{prefix}" and body["handles"] == 0
    secret = body["secret"]
    assert isinstance(secret, str) and len(secret) >= 16

    # The secret works for the new prefix's admin ...
    assert put_url(shared_node, f"{prefix}/FIRST", prefix_auth(prefix, secret)).status_code == 201
    assert requests.get(shared_node.api(f"{prefix}/FIRST")).status_code == 200
    # ... is shown once: never again in a read or a listing.
    for headers in (auth["admin"], prefix_auth(prefix, secret)):
        r = requests.get(f"{shared_node.url}/api/prefixes/{prefix}", headers=headers)
        assert r.status_code == 200 and "secret" not in r.json() and secret not in r.text
        assert r.json()["owner"] == OWNER and r.json()["handles"] == 1
    r = requests.get(shared_node.url + "/api/prefixes", headers=auth["admin"])
    assert secret not in r.text
    assert listed(shared_node, auth["admin"])[prefix]["owner"] == OWNER


def test_allocate_with_chosen_secret(shared_node, auth):
    prefix = fresh_prefix()
    r = allocate(shared_node, {"prefix": prefix, "secret": "chosen-secret-1"}, auth["admin"])
    assert r.status_code == 201 and "secret" not in r.json()
    assert put_url(shared_node, f"{prefix}/A", prefix_auth(prefix, "chosen-secret-1")).status_code == 201
    assert put_url(shared_node, f"{prefix}/B", prefix_auth(prefix, "chosen-secret-2")).status_code == 401


def test_auto_numbering_takes_the_next_free_number(node, auth):
    r = allocate(node, {}, auth["admin"])
    assert r.status_code == 201, r.text
    assert r.json()["prefix"] == "88.101.7"  # the seeded folder has 88.101.5 and 88.101.6
    r2 = requests.post(node.url + "/api/prefixes", headers=auth["admin"])  # no body at all
    assert r2.status_code == 201, r2.text
    assert r2.json()["prefix"] == "88.101.8"
    assert put_url(node, "88.101.8/X", prefix_auth("88.101.8", r2.json()["secret"])).status_code == 201
    assert {"88.101.5", "88.101.6", "88.101.7", "88.101.8"} <= set(listed(node, auth["admin"]))


def test_enterprise_admin_sees_only_its_own_prefix(shared_node, auth):
    mine = listed(shared_node, auth["owner"])
    assert set(mine) == {"88.101.5"}
    assert mine["88.101.5"]["owner"] == {"name": "owner of 88.101.5"}
    assert set(listed(shared_node, auth["other"])) == {"88.101.6"}
    assert {"88.101", "88.101.5", "88.101.6"} <= set(listed(shared_node, auth["admin"]))

    r = requests.get(f"{shared_node.url}/api/prefixes/88.101.6", headers=auth["owner"])
    assert r.status_code == 403 and r.json()["responseCode"] == 400
    assert requests.get(f"{shared_node.url}/api/prefixes/88.101.5", headers=auth["owner"]).status_code == 200


@pytest.mark.parametrize("who, status", [("owner", 403), ("other", 403), ("none", 401), ("wrong", 401)])
def test_only_the_node_admin_allocates(shared_node, auth, who, status):
    prefix = fresh_prefix()
    r = allocate(shared_node, {"prefix": prefix}, auth[who])
    assert r.status_code == status, r.text
    if status == 401:
        assert r.headers["WWW-Authenticate"] == 'Basic realm="handle"'
    assert r.json()["message"]
    assert prefix not in listed(shared_node, auth["admin"])
    assert requests.get(shared_node.api(f"0.NA/{prefix}")).status_code != 200


def test_listing_needs_authentication(shared_node, auth):
    r = requests.get(shared_node.url + "/api/prefixes")
    assert r.status_code == 401 and r.json()["responseCode"] == 402
    assert requests.get(shared_node.url + "/api/prefixes", headers=auth["wrong"]).status_code == 401
    assert requests.get(shared_node.url + "/api/prefixes/88.101.5").status_code == 401


@pytest.mark.parametrize("body, status, rc, words", [
    ({"prefix": "99.1"}, 400, 102, ["99.1", "88.101"]),
    ({"prefix": "88.1010"}, 400, 102, ["88.1010", "88.101"]),
    ({"prefix": "88.101"}, 400, 102, ["88.101"]),
    ({"prefix": "88.101..3"}, 400, 102, ["empty segment"]),
    ({"prefix": "88.101.5"}, 409, 101, ["88.101.5", "already allocated"]),
    ({"prefix": 7}, 400, 202, ["prefix", "string"]),
    ({"secret": "short"}, 400, 202, ["secret", "8"]),
    ({"owner": {"shoeSize": "42"}}, 400, 202, ["owner.shoeSize"]),
    ({"owner": "Acme"}, 400, 202, ["owner"]),
])
def test_bad_allocations_are_refused_clearly(shared_node, auth, body, status, rc, words):
    before = listed(shared_node, auth["admin"])
    r = allocate(shared_node, body, auth["admin"])
    assert r.status_code == status, r.text
    assert r.json()["responseCode"] == rc
    for w in words:
        assert w in r.json()["message"]
    assert listed(shared_node, auth["admin"]) == before


def test_prefix_handle_resolves_without_showing_the_secret(shared_node, auth):
    for who in ("none", "owner", "other", "admin"):
        r = requests.get(shared_node.api("0.NA/88.101.5"), headers=auth[who])
        assert r.status_code == 200, (who, r.text)
        body = r.json()
        assert body["responseCode"] == 1 and body["handle"] == "0.NA/88.101.5"
        assert "acme-secret-5" not in r.text
        types = {v["type"] for v in body["values"]}
        assert "HS_ADMIN" in types
        if who in ("none", "other"):
            assert "HS_SECKEY" not in types, who
    admin = next(v for v in requests.get(shared_node.api("0.NA/88.101.5")).json()["values"]
                 if v["type"] == "HS_ADMIN")
    assert admin["data"]["value"]["handle"] == "0.NA/88.101.5" and admin["data"]["value"]["index"] == 300
    # The spelling the client asked with comes back.
    assert requests.get(shared_node.api("0.na/88.101.5")).json()["handle"] == "0.na/88.101.5"
    assert requests.get(shared_node.api("0.NA/88.101.999999")).status_code == 404


def test_disable_refuses_writes_keeps_reads_enable_restores(shared_node, auth):
    prefix = fresh_prefix()
    secret = "disable-me-secret"
    assert allocate(shared_node, {"prefix": prefix, "secret": secret}, auth["admin"]).status_code == 201
    me = prefix_auth(prefix, secret)
    assert put_url(shared_node, f"{prefix}/KEPT", me).status_code == 201

    r = requests.post(f"{shared_node.url}/api/prefixes/{prefix}/disable", headers=me)
    assert r.status_code == 403  # the owner may not disable itself
    r = requests.post(f"{shared_node.url}/api/prefixes/{prefix}/disable", headers=auth["admin"])
    assert r.status_code == 200 and r.json()["state"] == "disabled"

    for headers in (me, auth["admin"]):
        r = put_url(shared_node, f"{prefix}/NEW", headers)
        assert r.status_code == 403, r.text
        assert "disabled" in r.json()["message"] and prefix in r.json()["message"]
    r = requests.delete(shared_node.api(f"{prefix}/KEPT"), headers=me)
    assert r.status_code == 403 and "disabled" in r.json()["message"]
    r = requests.post(shared_node.url + "/api/batch", headers=me, json=[
        {"handle": f"{prefix}/BATCHED", "values": [{"index": 1, "type": "URL", "data": "https://x"}]}])
    assert r.json()["results"][0]["status"] == 403 and "disabled" in r.json()["results"][0]["message"]
    assert requests.get(shared_node.api(f"{prefix}/NEW")).status_code == 404
    assert requests.get(shared_node.api(f"{prefix}/BATCHED")).status_code == 404
    # Reads go on.
    assert requests.get(shared_node.api(f"{prefix}/KEPT")).status_code == 200
    assert listed(shared_node, auth["admin"])[prefix]["state"] == "disabled"

    r = requests.post(f"{shared_node.url}/api/prefixes/{prefix}/enable", headers=auth["admin"])
    assert r.status_code == 200 and r.json()["state"] == "enabled"
    assert put_url(shared_node, f"{prefix}/NEW", me).status_code == 201


def test_state_changes_of_unknown_prefixes(shared_node, auth):
    for action in ("disable", "enable"):
        r = requests.post(f"{shared_node.url}/api/prefixes/88.101.424242/{action}", headers=auth["admin"])
        assert r.status_code == 404 and "88.101.424242" in r.json()["message"]
    # The node's own prefix is not an enterprise prefix to disable.
    r = requests.post(f"{shared_node.url}/api/prefixes/88.101/disable", headers=auth["admin"])
    assert r.status_code == 404


def test_delete_refused_while_it_holds_handles(shared_node, auth):
    prefix = fresh_prefix()
    me = prefix_auth(prefix, "delete-me-secret")
    assert allocate(shared_node, {"prefix": prefix, "secret": "delete-me-secret"}, auth["admin"]).status_code == 201
    assert put_url(shared_node, f"{prefix}/ONE", me).status_code == 201
    url = f"{shared_node.url}/api/prefixes/{prefix}"

    assert requests.delete(url, headers=me).status_code == 403
    r = requests.delete(url, headers=auth["admin"])
    assert r.status_code == 409, r.text
    assert "1 handles" in r.json()["message"] and prefix in r.json()["message"]
    assert requests.get(shared_node.api(f"{prefix}/ONE")).status_code == 200
    assert prefix in listed(shared_node, auth["admin"])

    assert requests.delete(shared_node.api(f"{prefix}/ONE"), headers=me).status_code == 200
    r = requests.delete(url, headers=auth["admin"])
    assert r.status_code == 200 and r.json()["prefix"] == prefix
    assert prefix not in listed(shared_node, auth["admin"])
    assert requests.get(url, headers=auth["admin"]).status_code == 404
    assert requests.get(shared_node.api(f"0.NA/{prefix}")).status_code == 404
    r = put_url(shared_node, f"{prefix}/TWO", auth["admin"])
    assert r.status_code == 400 and "not allocated" in r.json()["message"]
    assert requests.delete(url, headers=auth["admin"]).status_code == 404


def test_secret_rotation(shared_node, auth):
    prefix = fresh_prefix()
    assert allocate(shared_node, {"prefix": prefix, "secret": "first-secret"}, auth["admin"]).status_code == 201
    old, new = prefix_auth(prefix, "first-secret"), prefix_auth(prefix, "second-secret")
    assert put_url(shared_node, f"{prefix}/A", old).status_code == 201  # the old secret is verified (and cached)

    r = requests.post(f"{shared_node.url}/api/prefixes/{prefix}/secret", json={"secret": "second-secret"},
                      headers=old)
    assert r.status_code == 200, r.text
    assert "secret" not in r.json()
    assert put_url(shared_node, f"{prefix}/B", old).status_code == 401
    assert put_url(shared_node, f"{prefix}/B", new).status_code == 201

    # Another enterprise may not change it; the node admin may, and a made one is shown once.
    r = requests.post(f"{shared_node.url}/api/prefixes/{prefix}/secret", json={"secret": "stolen-secret"},
                      headers=auth["other"])
    assert r.status_code == 403
    assert put_url(shared_node, f"{prefix}/C", prefix_auth(prefix, "stolen-secret")).status_code == 401
    r = requests.post(f"{shared_node.url}/api/prefixes/{prefix}/secret", headers=auth["admin"])
    assert r.status_code == 200
    made = r.json()["secret"]
    assert put_url(shared_node, f"{prefix}/C", new).status_code == 401
    assert put_url(shared_node, f"{prefix}/C", prefix_auth(prefix, made)).status_code == 201
    r = requests.post(f"{shared_node.url}/api/prefixes/{prefix}/secret", json={"secret": "tiny"},
                      headers=auth["admin"])
    assert r.status_code == 400 and "secret" in r.json()["message"]


def _cli(node, *args: str) -> object:
    out = idnode("prefix", *args, "--data", str(node.data)).stdout
    return json.loads(out)


def test_cli_on_the_folder_of_a_running_node(node, auth):
    prefix = "88.101.40"
    rec = _cli(node, "add", prefix, "--secret", "cli-made-secret", "--owner-name", "CLI Co")
    assert rec["prefix"] == prefix and rec["owner"] == {"name": "CLI Co"}
    me = prefix_auth(prefix, "cli-made-secret")
    # The running node sees the prefix and its admin at once.
    assert put_url(node, f"{prefix}/VIA-NODE", me).status_code == 201
    assert listed(node, auth["admin"])[prefix]["owner"] == {"name": "CLI Co"}

    assert _cli(node, "disable", prefix)["state"] == "disabled"
    r = put_url(node, f"{prefix}/WHILE-DISABLED", me)
    assert r.status_code == 403 and "disabled" in r.json()["message"]
    assert requests.get(node.api(f"{prefix}/VIA-NODE")).status_code == 200

    assert _cli(node, "enable", prefix)["state"] == "enabled"
    assert put_url(node, f"{prefix}/WHILE-DISABLED", me).status_code == 201

    # A node write shows in the CLI's listing.
    listing = {p["prefix"]: p for p in _cli(node, "list")}
    assert listing[prefix]["handles"] == 2 and listing[prefix]["state"] == "enabled"
    assert {"88.101", "88.101.5", "88.101.6"} <= set(listing)

    made = _cli(node, "add", "88.101.41")  # no --secret: one is made and shown once
    assert made["prefix"] == "88.101.41" and made["secret"]
    assert put_url(node, "88.101.41/X", prefix_auth("88.101.41", made["secret"])).status_code == 201

    p = idnode("prefix", "add", "99.9", "--data", str(node.data), check=False)
    assert p.returncode == 2 and "99.9" in p.stderr and "88.101" in p.stderr
    p = idnode("prefix", "disable", "--data", str(node.data), check=False)
    assert p.returncode != 0 and "needs a prefix" in p.stderr
