"""Clearing a lock-out while the node runs: ``idnode lockout clear`` (the CLI on the data folder) and
``DELETE /api/lockouts`` (node admin only) end it in every serving worker at once, and are audited."""

from __future__ import annotations

import pytest
import requests

from tests.nodes import ADMIN_SECRET, ENTERPRISES, Node, basic, idnode

WHO = "300:0.NA/88.101.5"
OWNER = {"Authorization": basic(WHO, ENTERPRISES["88.101.5"]), "Connection": "close"}
WRONG = {"Authorization": basic(WHO, "not-the-secret"), "Connection": "close"}
ADMIN = {"Authorization": basic("300:0.NA/88.101", ADMIN_SECRET)}
OTHER = {"Authorization": basic("300:0.NA/88.101.6", ENTERPRISES["88.101.6"])}


def login(node: Node, headers: dict) -> requests.Response:
    """An authenticated request (the caller's own prefixes), a new connection each time."""
    return requests.get(node.url + "/api/prefixes", headers=headers, timeout=10)


def lock_out(node: Node, guesses: int = 12) -> None:
    for _ in range(guesses):
        assert login(node, WRONG).status_code in (401, 429)
    r = login(node, OWNER)
    assert r.status_code == 429 and "locked out" in r.json()["message"], r.text


@pytest.fixture
def node(fresh_data):
    n = Node(fresh_data).start()
    yield n
    n.stop()


def test_the_cli_clears_an_identitys_lock_out_while_the_node_runs(node):
    lock_out(node)
    out = idnode("lockout", "clear", "--identity", WHO, "--data", str(node.data))
    assert '"cleared": true' in out.stdout
    assert login(node, OWNER).status_code == 200  # at once, no restart
    # Guessing again locks it out again: the clearance is of the lock-out that was, not a pass.
    lock_out(node)
    trail = requests.get(node.url + "/api/audit", params={"op": "clear_lockout"}, headers=ADMIN).json()
    entries = [e for e in trail["entries"] if e.get("op") == "clear_lockout"]
    assert entries and entries[0]["target"] == WHO and entries[0]["client"] == "local", trail


def test_the_node_admin_clears_a_lock_out_over_http(node):
    lock_out(node)
    r = requests.delete(node.url + "/api/lockouts", params={"identity": WHO}, headers=OTHER)
    assert r.status_code == 403, r.text  # an enterprise admin may not
    assert login(node, OWNER).status_code == 429
    r = requests.delete(node.url + "/api/lockouts", params={"identity": WHO})
    assert r.status_code == 401, r.text
    r = requests.delete(node.url + "/api/lockouts", params={"identity": WHO}, headers=ADMIN)
    assert r.status_code == 200 and r.json() == {"responseCode": 1, "identity": WHO, "cleared": True}, r.text
    assert login(node, OWNER).status_code == 200


@pytest.mark.parametrize("params", [{}, {"identity": WHO, "address": "127.0.0.1"}, {"identity": "nobody"},
                                    {"address": "not-an-address"}])
def test_a_clearance_must_name_one_identity_or_address(node, params):
    r = requests.delete(node.url + "/api/lockouts", params=params, headers=ADMIN)
    assert r.status_code == 400 and r.json()["responseCode"] != 1, r.text


def test_clearing_an_address_lets_it_in_again(fresh_data, tmp_path):
    cfg = tmp_path / "node.toml"
    cfg.write_text("lockout_failures = 100\nlockout_address_failures = 4\nlockout_seconds = 60\n")
    node = Node(fresh_data, "--config", str(cfg)).start()
    try:
        lock_out(node, 4)
        assert "address 127.0.0.1" in login(node, OWNER).json()["message"]
        idnode("lockout", "clear", "--address", "127.0.0.1", "--data", str(node.data))
        assert login(node, OWNER).status_code == 200
    finally:
        node.stop()


def test_a_clearance_reaches_every_worker(fresh_data, tmp_path):
    cfg = tmp_path / "node.toml"
    cfg.write_text("lockout_failures = 3\nlockout_seconds = 60\n")
    node = Node(fresh_data, "--workers", "2", "--config", str(cfg)).start()
    try:
        # Each new connection goes to either worker: 40 guesses lock the identity out in both.
        for _ in range(40):
            login(node, WRONG)
        assert {login(node, OWNER).status_code for _ in range(20)} == {429}
        idnode("lockout", "clear", "--identity", WHO, "--data", str(node.data))
        assert {login(node, OWNER).status_code for _ in range(20)} == {200}
    finally:
        node.stop()
