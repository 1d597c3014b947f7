"""The data folder and replication as deployed (issue 14, items 14, 15 and 16): a folder others on the machine
cannot read, a primary whose user may write only its data folder, a change log handed out in whole writes."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import msgpack
import pytest
import requests

from tests.nodes import ADMIN_SECRET, NODE_PREFIX, REPO, Node, basic, free_port, idnode, init_data, wait_ready

ADMIN = {"Authorization": basic(f"300:0.NA/{NODE_PREFIX}", ADMIN_SECRET)}
OWNER = {"Authorization": basic("300:0.NA/88.101.5", "acme-secret-5")}
SERVICE_UID = 10001  # the image's user (deploy/Dockerfile)


def mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def test_init_leaves_the_data_folder_readable_by_its_owner_only(tmp_path):
    fresh = tmp_path / "fresh"
    idnode("init", "--data", str(fresh), "--prefix", NODE_PREFIX, "--admin-secret", ADMIN_SECRET, "--tls")
    made_before = tmp_path / "volume"  # a folder that exists already, as a mounted volume does
    made_before.mkdir(mode=0o755)
    os.chmod(made_before, 0o755)
    idnode("init", "--data", str(made_before), "--prefix", NODE_PREFIX, "--admin-secret", ADMIN_SECRET)
    for folder in (fresh, made_before):
        assert mode(folder) == 0o700, folder
        files = [p for p in folder.iterdir() if p.is_file()]
        assert {p.name for p in files} >= {"data.mdb", "lock.mdb"}
        assert {p.name: mode(p) for p in files} == {p.name: 0o600 for p in files}
    assert mode(fresh / "tls") == 0o700 and mode(fresh / "tls" / "key.pem") == 0o600


def test_serve_warns_when_others_may_read_the_data_folder(fresh_data):
    os.chmod(fresh_data, 0o755)
    os.chmod(fresh_data / "data.mdb", 0o644)
    node = Node(fresh_data).start()
    try:
        log = node.log.read_text()
    finally:
        node.stop()
    assert "readable or writable by others" in log and f"{fresh_data / 'data.mdb'} 0644" in log
    assert f"{fresh_data} 0755" in log


def test_the_change_log_is_handed_out_in_whole_writes(node):
    before = int(requests.get(f"{node.url}/api/replication/changes", params={"after": "0", "limit": "1"},
                              headers=ADMIN).headers["X-Idnode-Last-Sequence"])
    ops = [{"op": "put", "handle": f"88.101.5/BATCH-{i}", "values": [{"index": 1, "type": "URL",
                                                                      "data": f"https://example.com/{i}"}]}
           for i in range(150)]
    r = requests.post(f"{node.url}/api/batch", json={"operations": ops}, headers=OWNER)
    assert r.status_code == 200, r.text
    # A mirror that asks for 100 changes, or starts inside the batch, gets the batch to its end: it applies
    # each answer in one transaction, so it never shows half of the batch.
    for after, limit in ((before, 100), (before + 20, 1), (before, 150)):
        r = requests.get(f"{node.url}/api/replication/changes", params={"after": str(after), "limit": str(limit)},
                         headers=ADMIN)
        entries = msgpack.unpackb(r.content, raw=False)
        puts = [e for e in entries if e[1] == "put"]
        assert entries[-1][0] == int(r.headers["X-Idnode-Last-Sequence"]), (after, limit)
        assert len(puts) == 150 - max(0, after - before), (after, limit, len(entries))
    # A write after the batch is not pulled in past the limit.
    assert requests.put(node.api("88.101.5/AFTER"), json={"values": [{"index": 1, "type": "URL", "data": "x:y"}]},
                        headers=OWNER).status_code == 201
    r = requests.get(f"{node.url}/api/replication/changes", params={"after": str(before), "limit": "100"},
                     headers=ADMIN)
    assert len(msgpack.unpackb(r.content, raw=False)) == 150


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("setpriv"), reason="needs root to run as the image's user")
def test_a_mirror_bootstraps_from_a_primary_that_may_write_only_its_data_folder(tmp_path):
    # As in the image: /var/lib is root's, /var/lib/idnode the service user's, and the node runs as that user.
    top = Path(tempfile.mkdtemp(prefix="idnode-deploy-"))
    try:
        os.chmod(top, 0o755)
        var_lib = top / "var-lib"
        var_lib.mkdir(mode=0o755)
        data = var_lib / "idnode"
        init_data(data)
        for p in [data, *data.rglob("*")]:
            os.chown(p, SERVICE_UID, SERVICE_UID)
        port = free_port()
        log = tmp_path / "primary.log"
        proc = subprocess.Popen(
            ["setpriv", f"--reuid={SERVICE_UID}", f"--regid={SERVICE_UID}", "--clear-groups",
             sys.executable, "-m", "resolver.cli", "serve", "--data", str(data), "--http", f"127.0.0.1:{port}"],
            cwd=REPO, env=dict(os.environ, PYTHONUNBUFFERED="1", HOME=str(data)), stdout=open(log, "wb"),
            stderr=subprocess.STDOUT)
        mirror = None
        try:
            wait_ready(f"http://127.0.0.1:{port}/healthz", proc, 20, log)
            r = requests.put(f"http://127.0.0.1:{port}/api/handles/88.101.5/SHIPPED", headers=OWNER,
                             json={"values": [{"index": 1, "type": "URL", "data": "https://example.com/s"}]})
            assert r.status_code == 201, r.text
            mirror = Node(tmp_path / "mirror", "--role", "mirror", "--primary", f"http://127.0.0.1:{port}",
                          "--primary-identity", f"300:0.NA/{NODE_PREFIX}", "--primary-secret", ADMIN_SECRET)
            mirror.start(timeout=60)
            assert requests.get(mirror.api("88.101.5/SHIPPED")).status_code == 200
            assert list(var_lib.iterdir()) == [data]  # nothing left beside the data folder
            assert not [p for p in data.iterdir() if p.name.startswith(".snapshot-")]  # nor inside it
        finally:
            if mirror is not None:
                mirror.stop()
            proc.terminate()
            proc.wait(20)
    finally:
        shutil.rmtree(top, ignore_errors=True)
