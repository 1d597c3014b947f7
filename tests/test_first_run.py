"""A new operator's first run: what `idnode serve` says when it cannot start (one line, non-zero,
nothing created), a node with no configuration capturing the standard's EPCIS examples, the node
admin's secret rotated, and the everyday commands (tokens, templates, handles, a mirror's promotion)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time

import pytest
import requests

from tests.nodes import ADMIN_SECRET, NODE_PREFIX, REPO, Node, basic, free_port, idnode, wait_ready

pytestmark = pytest.mark.serial  # worker processes dying and start-up times, bounded: run alone

EXAMPLES = sorted((REPO / "tests" / "data" / "epcis" / "examples").glob("*.jsonld"))
SCHEMA_REJECTS = 4  # tests/data/epcis/README.md: four examples fail the standard's own schema


def serve(*args: str, timeout: float = 60) -> tuple[subprocess.CompletedProcess, float]:
    t0 = time.monotonic()
    p = subprocess.run([sys.executable, "-m", "resolver.cli", "serve", *args], cwd=REPO, capture_output=True,
                       text=True, timeout=timeout)
    return p, time.monotonic() - t0


def one_line(p: subprocess.CompletedProcess) -> str:
    lines = [ln for ln in p.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in p.stderr, p.stderr
    return lines[0]


def test_serve_on_an_uninitialised_folder_creates_nothing(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    for folder in (tmp_path / "missing", empty):
        p, _ = serve("--data", str(folder), "--http", f"127.0.0.1:{free_port()}")
        assert p.returncode != 0 and "run `idnode init" in one_line(p), p.stderr
    assert not (tmp_path / "missing").exists() and list(empty.iterdir()) == []


def test_serve_on_a_busy_port_says_so_and_stops(seeded):
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        for workers in ("1", "4"):
            p, took = serve("--data", str(seeded), "--http", f"127.0.0.1:{port}", "--workers", workers)
            line = one_line(p)
            assert p.returncode != 0 and f"127.0.0.1:{port}" in line and "already in use" in line, (workers, line)
            assert took < 30, (workers, took)


def test_workers_that_keep_dying_at_start_are_not_restarted_forever(fresh_data, tmp_path):
    """What the port check cannot see (here a missing TLS certificate) kills each worker as it starts:
    the supervisor gives up after a few quick deaths, however many workers die meanwhile."""
    p, took = serve("--data", str(fresh_data), "--http", f"127.0.0.1:{free_port()}", "--workers", "4",
                    "--https", f"127.0.0.1:{free_port()}", "--tls-cert", str(tmp_path / "no-cert.pem"),
                    "--tls-key", str(tmp_path / "no-key.pem"), timeout=90)
    assert p.returncode != 0 and "workers keep failing at start; stopping" in p.stderr, p.stderr[-2000:]
    assert took < 45 and p.stderr.count("started") < 30, (took, p.stderr.count("started"))


def test_a_data_folder_that_cannot_be_made_is_one_line(tmp_path):
    (tmp_path / "a-file").write_text("not a folder")
    p = idnode("init", "--data", str(tmp_path / "a-file" / "data"), "--prefix", NODE_PREFIX, check=False)
    assert p.returncode != 0 and "cannot create the data folder" in one_line(p)
    p, _ = serve("--data", str(tmp_path / "a-file"), "--http", f"127.0.0.1:{free_port()}")
    assert p.returncode != 0 and "run `idnode init" in one_line(p)


def test_a_node_with_no_configuration_captures_the_standards_examples(tmp_path):
    """Started the way the README starts one (the installed command, no config file, no IDNODE_*
    variable, from a folder that is not the repository), capture validates with the shipped schema."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDNODE_")}
    exe = os.path.join(os.path.dirname(sys.executable), "idnode")
    subprocess.run([exe, "init", "--data", "data", "--prefix", NODE_PREFIX, "--admin-secret", ADMIN_SECRET],
                   cwd=tmp_path, env=env, check=True, capture_output=True, timeout=120)
    port = free_port()
    log = tmp_path / "node.log"
    proc = subprocess.Popen([exe, "serve", "--data", "data", "--http", f"127.0.0.1:{port}"], cwd=tmp_path, env=env,
                            stdout=open(log, "ab"), stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_ready(url + "/healthz", proc, 30, log)
        admin = {"Authorization": basic(f"300:0.NA/{NODE_PREFIX}", ADMIN_SECRET)}
        assert len(EXAMPLES) == 46
        outcomes = []
        for path in EXAMPLES:
            r = requests.post(url + "/api/events", data=path.read_bytes(),
                              headers={**admin, "Content-Type": "application/ld+json"}, timeout=30)
            outcomes.append(r.status_code)
            if r.status_code == 400:
                assert r.json()["errors"][0]["reason"].startswith("schema: "), (path.name, r.text)
        assert outcomes.count(400) == SCHEMA_REJECTS and all(s in (200, 201, 400) for s in outcomes), outcomes
    finally:
        proc.terminate()
        proc.wait(30)


def test_the_node_admins_secret_is_rotated_not_silently_kept(fresh_data):
    p = idnode("init", "--data", str(fresh_data), "--prefix", NODE_PREFIX, "--admin-secret", "a-new-secret-1",
               check=False)
    assert p.returncode != 0 and "idnode admin-secret" in one_line(p)
    # The secret it has already: nothing to change, as `make run ADMIN_SECRET=…` runs it each time.
    out = idnode("init", "--data", str(fresh_data), "--prefix", NODE_PREFIX, "--admin-secret", ADMIN_SECRET).stdout
    assert "nothing changed" in out
    out = idnode("admin-secret", "--data", str(fresh_data)).stdout
    new = out.split("keep it): ")[1].strip()
    assert len(new) >= 16
    p = idnode("admin-secret", "--data", str(fresh_data), "--secret", "short", check=False)
    assert p.returncode == 2 and "at least 8 characters" in p.stderr
    node = Node(fresh_data).start()
    try:
        me = f"300:0.NA/{NODE_PREFIX}"
        assert requests.get(node.url + "/api/prefixes", headers={"Authorization": basic(me, new)}).status_code == 200
        old = requests.get(node.url + "/api/prefixes", headers={"Authorization": basic(me, ADMIN_SECRET)})
        assert old.status_code == 401
        # While the node runs too.
        idnode("admin-secret", "--data", str(fresh_data), "--secret", "rotated-while-running")
        r = requests.get(node.url + "/api/prefixes", headers={"Authorization": basic(me, "rotated-while-running")})
        assert r.status_code == 200
    finally:
        node.stop()


def test_everyday_commands_without_curl(node, auth):
    data = str(node.data)
    h = {"Content-Type": "application/json", **auth["owner"]}
    r = requests.put(node.api("88.101.5/DAY-1"), headers=h,
                     json={"values": [{"index": 1, "type": "URL", "data": "https://acme.example/1"},
                                      {"index": 2, "type": "EMAIL", "data": "ops@acme.example"}]})
    assert r.status_code == 201, r.text
    # Delete one value, then the handle.
    idnode("handle", "delete", "88.101.5/DAY-1", "--index", "2", "--data", data)
    left = [v["index"] for v in requests.get(node.api("88.101.5/DAY-1")).json()["values"]]
    assert 1 in left and 2 not in left, left
    idnode("handle", "delete", "88.101.5/DAY-1", "--data", data)
    assert requests.get(node.api("88.101.5/DAY-1")).status_code == 404
    p = idnode("handle", "delete", "88.101.5/DAY-1", "--data", data, check=False)
    assert p.returncode == 2 and "not found" in p.stderr
    # A token revoked at the console stops working at once.
    token = requests.post(node.url + "/api/token", headers=auth["owner"]).json()["token"]
    bearer = {"Authorization": f"Bearer {token}"}
    assert requests.get(node.url + "/api/prefixes", headers=bearer).status_code == 200
    idnode("token", "revoke", token, "--data", data)
    assert requests.get(node.url + "/api/prefixes", headers=bearer).status_code == 401
    # Listed by id (never the token itself), and revoked by that id.
    token = requests.post(node.url + "/api/token", headers=auth["owner"]).json()["token"]
    listed = json.loads(idnode("token", "list", "--data", data).stdout)
    assert [t["identity"] for t in listed] == ["300:0.NA/88.101.5"] and token not in json.dumps(listed)
    idnode("token", "revoke", listed[0]["id"], "--data", data)
    assert requests.get(node.url + "/api/prefixes", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert json.loads(idnode("token", "list", "--data", data).stdout) == []
    p = idnode("token", "revoke", "0123456789abcdef", "--data", data, check=False)
    assert p.returncode == 2 and "no token has the id" in p.stderr
    p = idnode("token", "revoke", "zz", "--data", data, check=False)
    assert p.returncode == 2 and "16 hex digits" in p.stderr
    # Templates: add from a file, list, show, delete.
    tpl = node.data.parent / "tpl.json"
    tpl.write_text(json.dumps({"prefix": "88.101.5", "version": "1", "name": "pump",
                               "fields": [{"name": "model", "index": 2000, "required": True}]}))
    added = idnode("template", "add", "--file", str(tpl), "--data", data, check=False)
    assert added.returncode == 0, added.stderr
    assert [t["version"] for t in json.loads(idnode("template", "list", "88.101.5", "--data", data).stdout)] == ["1"]
    assert json.loads(idnode("template", "show", "88.101.5", "1", "--data", data).stdout)["prefix"] == "88.101.5"
    idnode("template", "delete", "88.101.5", "1", "--data", data)
    assert json.loads(idnode("template", "list", "88.101.5", "--data", data).stdout) == []
    # Promoting a folder that is no mirror is refused, naming why.
    p = idnode("mirror", "promote", "--data", data, check=False)
    assert p.returncode == 2 and "not a mirror" in p.stderr
