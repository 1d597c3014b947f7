"""The operator's commands: init, prefix list, resolve against a running node."""

from __future__ import annotations

import json

import requests

from tests.nodes import NODE_PREFIX, idnode


def test_init_is_idempotent_and_refuses_another_prefix(tmp_path):
    data = tmp_path / "data"
    out = idnode("init", "--data", str(data), "--prefix", "88.200").stdout
    assert "300:0.NA/88.200" in out and "admin secret (shown once" in out
    assert "nothing changed" in idnode("init", "--data", str(data), "--prefix", "88.200").stdout
    p = idnode("init", "--data", str(data), "--prefix", "88.201", check=False)
    assert p.returncode == 2 and "already belongs to prefix 88.200" in p.stderr


def test_prefix_list_and_errors(seeded):
    listed = json.loads(idnode("prefix", "list", "--data", str(seeded)).stdout)
    assert {p["prefix"] for p in listed} == {NODE_PREFIX, "88.101.5", "88.101.6"}
    assert next(p for p in listed if p["prefix"] == "88.101.5")["owner"] == {"name": "owner of 88.101.5"}
    p = idnode("prefix", "add", "77.1", "--secret", "long-enough-secret", "--data", str(seeded), check=False)
    assert p.returncode == 2 and "not under this node's prefix 88.101" in p.stderr


def test_prefix_add_without_a_prefix_takes_the_next_number(fresh_data):
    out = json.loads(idnode("prefix", "add", "--data", str(fresh_data)).stdout)
    assert out["prefix"] == "88.101.7" and out["admin"] == "300:0.NA/88.101.7" and len(out["secret"]) >= 16


def test_resolve_talks_to_a_running_node(node, auth):
    requests.put(node.api("88.101.5/CLI-1"), json=[{"index": 1, "type": "URL", "data": "https://example.com/cli"}],
                 headers={"Content-Type": "application/json", **auth["owner"]}).raise_for_status()
    out = json.loads(idnode("resolve", "88.101.5/CLI-1", "--server", node.url, "--type", "URL").stdout)
    assert out["values"][0]["data"]["value"] == "https://example.com/cli"
    p = idnode("resolve", "88.101.5/CLI-NONE", "--server", node.url, check=False)
    assert p.returncode == 1 and json.loads(p.stdout)["responseCode"] == 100
