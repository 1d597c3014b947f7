"""A full disk, or a map at its configured ceiling: writes are refused with a clear 507, nothing of a
refused write is kept, reads go on, and the store is whole after a restart."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys

import pytest
import requests

from tests.nodes import REPO, Node, idnode

H = {"Content-Type": "application/json"}
BIG = "x" * 600  # a value large enough to fill a few MiB in a few hundred requests


def _batch(n: int) -> list[dict]:
    return [{"op": "create", "handle": f"88.101.5/FULL-{n}-{i}",
             "values": [{"index": 1, "type": "URL", "data": f"https://full.example/{n}/{i}"},
                        {"index": 2000, "type": "filler", "data": BIG}]}
            for i in range(50)]


def _fill(node: Node, owner: dict, acked: dict[str, str], limit: int = 2000) -> tuple[requests.Response, list]:
    """Write batches until one is refused; returns the refusal and the refused operations."""
    s = requests.Session()
    for n in range(limit):
        ops = _batch(n)
        r = s.post(f"{node.url}/api/batch", json={"operations": ops}, headers={**H, **owner})
        if r.status_code != 200:
            return r, ops
        for op, res in zip(ops, r.json()["results"], strict=True):
            assert res["responseCode"] == 1, res
            acked[op["handle"]] = op["values"][0]["data"]
    raise AssertionError(f"{limit} batches were all accepted; the store never filled")


def _assert_refused_for_space(r: requests.Response) -> None:
    body = r.json()
    assert r.status_code == 507, (r.status_code, body)
    assert body["responseCode"] == 2
    assert "storage is full" in body["message"] and "reads go on" in body["message"], body


def _assert_intact(node: Node, acked: dict[str, str], refused: list[dict]) -> None:
    s = requests.Session()
    lost = [h for h, url in acked.items()
            if (r := s.get(node.api(h), params={"type": "URL"})).status_code != 200
            or r.json()["values"][0]["data"]["value"] != url]
    assert not lost, f"{len(lost)} acknowledged handles unreadable or changed, e.g. {lost[:3]}"
    kept = [op["handle"] for op in refused if s.get(node.api(op["handle"])).status_code != 404]
    assert not kept, f"a refused batch was partly written: {kept[:3]}"


@pytest.fixture
def tmpfs(tmp_path):
    """A 6 MiB tmpfs: a small volume that really fills (needs the right to mount, as root has)."""
    mnt = tmp_path / "volume"
    mnt.mkdir()
    p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=6m,mode=0700", "tmpfs", str(mnt)],
                       capture_output=True, text=True)
    if p.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs to fill (needs root or CAP_SYS_ADMIN): {p.stderr.strip()}")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_full_volume_refuses_writes_and_keeps_serving_reads(seeded, tmpfs, tmp_path, auth):
    data = tmpfs / "data"
    shutil.copytree(seeded, data)
    ballast = tmpfs / "ballast"
    ballast.write_bytes(b"\0" * (1 << 20))  # freed later, to show writes come back without a restart
    node = Node(data)
    node.log = tmp_path / "node.log"  # not on the volume being filled
    node.start()
    acked: dict[str, str] = {}
    try:
        r, refused = _fill(node, auth["owner"], acked)
        _assert_refused_for_space(r)
        assert "data volume" in r.json()["message"]
        # A single PUT is refused the same way, or fits in pages LMDB freed; never a 500.
        put = requests.put(node.api("88.101.5/FULL-single"), headers={**H, **auth["owner"]},
                           json=[{"index": 1, "type": "URL", "data": "https://full.example/single"},
                                 {"index": 2000, "type": "filler", "data": BIG * 20}])
        if put.status_code == 201:
            acked["88.101.5/FULL-single"] = "https://full.example/single"
        else:
            _assert_refused_for_space(put)
        assert len(acked) > 1000
        _assert_intact(node, acked, refused)
        assert requests.get(f"{node.url}/readyz").status_code == 200
        assert requests.get(f"{node.url}/metrics").status_code == 200
        # Every memory-mapped file the node writes has real blocks, or a full volume could SIGBUS it.
        sparse = [f.name for f in [*(data / "prometheus").glob(f"*_{node.proc.pid}.db"), data / "lock.mdb"]
                  if f.stat().st_blocks * 512 < f.stat().st_size]
        assert not sparse, f"sparse memory-mapped files: {sparse}"

        ballast.unlink()
        r = requests.post(f"{node.url}/api/batch", json={"operations": refused}, headers={**H, **auth["owner"]})
        assert r.status_code == 200 and r.json()["failed"] == 0, r.text[:300]
        acked.update({op["handle"]: op["values"][0]["data"] for op in refused})

        assert node.stop(signal.SIGKILL) == -signal.SIGKILL
        node.start()
        _assert_intact(node, acked, [])
    finally:
        node.stop()
    verified = idnode("verify", "--data", str(data), check=False)
    assert verified.returncode == 0, verified.stdout


def test_map_ceiling_refuses_writes_and_a_higher_one_takes_them(fresh_data, auth):
    node = Node(fresh_data, "--max-map-size", str(4 << 20)).start()
    acked: dict[str, str] = {}
    try:
        r, refused = _fill(node, auth["owner"], acked)
        _assert_refused_for_space(r)
        assert "ceiling of 4,194,304 bytes (max_map_size)" in r.json()["message"]
        _assert_intact(node, acked, refused)
        assert requests.get(f"{node.url}/readyz").status_code == 200
    finally:
        node.stop()
    assert idnode("verify", "--data", str(fresh_data)).returncode == 0
    node = Node(fresh_data, "--max-map-size", str(64 << 20)).start()
    try:
        _assert_intact(node, acked, refused)
        r = requests.post(f"{node.url}/api/batch", json={"operations": refused}, headers={**H, **auth["owner"]})
        assert r.status_code == 200 and r.json()["failed"] == 0, r.text[:300]
    finally:
        node.stop()


def test_import_at_the_ceiling_stops_with_a_clear_message(fresh_data, tmp_path):
    src = tmp_path / "many.jsonl"
    src.write_text("".join(
        f'{{"handle": "88.101.5/IMP-{i}", "values": [{{"index": 2000, "type": "filler", "data": "{BIG}"}}]}}\n'
        for i in range(20_000)))
    p = subprocess.run([sys.executable, "-m", "resolver.cli", "import", str(src), "--data", str(fresh_data),
                        "--no-progress"], capture_output=True, text=True, cwd=REPO,
                       env={**os.environ, "IDNODE_MAX_MAP_SIZE": str(4 << 20)})
    assert p.returncode == 2, (p.returncode, p.stdout, p.stderr)
    assert "storage is full" in p.stderr and "Traceback" not in p.stderr, p.stderr

