"""Escrow (Annex 4): a secondary deposits its data with the top-level node, encrypted for it, in signed
volumes; the top-level node verifies, decrypts and restores it (README "Escrow and takeover")."""

from __future__ import annotations

import json
import threading
import time

import pytest
import requests

from storage import Store
from tests.federation_nodes import (
    DELEGATE_SECRETS,
    init_secondary,
    init_top,
    owner,
    start_secondary,
    start_top,
    top_admin,
)
from tests.nodes import basic, idnode

SECONDARY = {"Authorization": basic("300:0.NA/88.101", DELEGATE_SECRETS["88.101"])}


@pytest.fixture()
def escrow(tmp_path):
    keys = tmp_path / "keys"
    idnode("escrow", "keygen", "--out", str(keys / "top"))
    idnode("escrow", "keygen", "--out", str(keys / "a"))
    init_top(tmp_path / "top")
    init_secondary(tmp_path / "a", "88.101")
    top = start_top(tmp_path / "top", "--escrow-key", str(keys / "top" / "escrow-private.pem"))
    a = start_secondary(tmp_path / "a", "88.101", [top], "--upstream-http", top.url, "--report-interval", "0")
    try:
        yield top, a, keys
    finally:
        a.stop()
        top.stop()


def send_args(a, top, keys, *extra: str) -> list[str]:
    return ["escrow", "send", "--data", str(a.data), "--to", top.url, "--identity", "300:0.NA/88.101",
            "--secret", DELEGATE_SECRETS["88.101"], "--key", str(keys / "a" / "escrow-private.pem"),
            "--top-key", str(keys / "top" / "escrow-public.pem"), *extra]


def restored_handles(top, deposit_id: str) -> dict[str, list]:
    store = Store(top.data / "escrow" / "88.101" / deposit_id / "store", readonly=True)
    try:
        with store.read() as tx:
            return {r.handle: [(v.index, v.type, v.data) for v in r.values] for r in tx.iter_records()}
    finally:
        store.close()


def test_a_deposit_made_under_write_load_restores_exactly_the_acknowledged_data(escrow):
    top, a, keys = escrow
    p = idnode("escrow", "send", "--data", str(a.data), *send_args(a, top, keys)[4:], check=False)
    assert p.returncode != 0 and "no escrow key of 88.101 is trusted" in p.stderr + p.stdout
    idnode("escrow", "trust", "88.101", "--key", str(keys / "a" / "escrow-public.pem"), "--data", str(top.data))

    acked: list[tuple[str, float]] = []  # (handle, when its 201 arrived)
    stop = threading.Event()
    session = requests.Session()

    def writer() -> None:
        n = 0
        while not stop.is_set():
            h = f"88.101.5/LOAD-{n:05d}"
            r = session.put(a.api(h), json={"values": [{"index": 1, "type": "URL", "data": f"https://e.x/{n}"}]},
                            headers={"Content-Type": "application/json", **owner("88.101")})
            assert r.status_code == 201, r.text
            acked.append((h, time.monotonic()))
            n += 1

    t = threading.Thread(target=writer)
    t.start()
    try:
        while len(acked) < 50:
            time.sleep(0.05)
        started = time.monotonic()
        out = idnode(*send_args(a, top, keys, "--volume-size", "1024")).stdout
        finished = time.monotonic()
        time.sleep(0.3)
    finally:
        stop.set()
        t.join()
    entry = json.loads(out)
    assert entry["result"] == "restored" and entry["volumes"] > 1

    log = requests.get(f"{top.url}/api/escrow/88.101", headers=top_admin()).json()
    assert log["latest"]["id"] == entry["id"] and log["deposits"][-1]["result"] == "restored"
    got = restored_handles(top, entry["id"])
    loaded = {h for h in got if h.startswith("88.101.5/LOAD-")}
    before = {h for h, at in acked if at < started}
    during = {h for h, at in acked if at <= finished}
    assert before <= loaded <= during  # every write acknowledged before it; none that never was
    assert len(loaded) == entry["identifiers"] - (len(got) - len(loaded))
    numbers = sorted(int(h.rsplit("-", 1)[1]) for h in loaded)
    assert numbers == list(range(len(numbers)))  # one committed state: a prefix of the writes, no gap
    live = requests.get(a.api(sorted(loaded)[-1])).json()["values"]
    assert [v["data"]["value"] for v in live if v["type"] == "URL"] == \
        [d.decode() for i, ty, d in got[sorted(loaded)[-1]] if ty == "URL"]
    assert "88.101.5" in {json.loads((top.data / "escrow" / "88.101" / entry["id"] / "routes.json").read_text())
                          ["prefixes"][1]["prefix"]}
    # The deposit log of the secondary has it too.
    lines = (a.data / "escrow" / "deposits.jsonl").read_text().splitlines()
    assert json.loads(lines[-1])["id"] == entry["id"]


def test_a_deposit_altered_or_signed_by_another_key_is_refused(escrow, tmp_path):
    top, a, keys = escrow
    idnode("escrow", "trust", "88.101", "--key", str(keys / "a" / "escrow-public.pem"), "--data", str(top.data))
    idnode("escrow", "keygen", "--out", str(keys / "mallory"))
    out = tmp_path / "sftp"
    out.mkdir()
    entry = json.loads(idnode("escrow", "send", "--data", str(a.data), "--folder", str(out), "--key",
                              str(keys / "a" / "escrow-private.pem"), "--top-key",
                              str(keys / "top" / "escrow-public.pem"), "--volume-size", "1024").stdout)
    [folder] = list(out.iterdir())
    assert entry["deliveredTo"] == str(folder) and (folder / "manifest.sig").exists()

    def upload(dep_id: str, files: dict[str, bytes]) -> requests.Response:
        for name, body in files.items():
            r = requests.put(f"{top.url}/api/escrow/88.101/{dep_id}/{name}", data=body, headers=SECONDARY)
            assert r.status_code == 201, r.text
        return requests.post(f"{top.url}/api/escrow/88.101/{dep_id}/complete", headers=SECONDARY)

    files = {p.name: p.read_bytes() for p in folder.iterdir()}
    flipped = dict(files)
    flipped["volume-0001.bin"] = bytes([files["volume-0001.bin"][0] ^ 1]) + files["volume-0001.bin"][1:]
    r = upload(entry["id"], flipped)
    assert r.status_code == 400 and "volume-0001.bin does not match its digest" in r.json()["message"]

    # Signed by someone else's key: refused before anything is decrypted.
    from protocol import gm
    from resolver.escrow.keys import load_private

    forged = dict(files)
    forged["manifest.sig"] = gm.sm2_sign(load_private(keys / "mallory" / "escrow-private.pem"), files["manifest.json"])
    r = upload(entry["id"], forged)
    assert r.status_code == 400 and "signature does not verify" in r.json()["message"]

    # Only the secondary itself deposits; names and sizes are checked before a byte is read.
    r = requests.put(f"{top.url}/api/escrow/88.101/x1/volume-0001.bin", data=b"x")
    assert r.status_code == 401
    r = requests.put(f"{top.url}/api/escrow/88.101/x1/volume-0001.bin", data=b"x", headers=top_admin())
    assert r.status_code == 403
    r = requests.put(f"{top.url}/api/escrow/88.101/x1/evil.sh", data=b"x", headers=SECONDARY)
    assert r.status_code == 400
    r = requests.put(f"{top.url}/api/escrow/88.101/..%2F..%2Fetc/manifest.json", data=b"x", headers=SECONDARY)
    assert r.status_code in (400, 404)
    r = requests.put(f"{top.url}/api/escrow/88.101/x1/volume-0001.bin", headers={**SECONDARY,
                                                                                 "Content-Length": str(2 << 30)})
    assert r.status_code == 413
    log = requests.get(f"{top.url}/api/escrow/88.101", headers=top_admin()).json()
    assert [d["result"] for d in log["deposits"]] == ["refused", "refused"] and log["latest"] is None


def test_takeover_serves_the_deposit_over_http_and_the_handle_protocol_and_hands_back(tmp_path):
    from protocol.codes import RC
    from resolver.handleclient import HandleClient
    from tests.federation_nodes import eventually, register

    keys = tmp_path / "keys"
    idnode("escrow", "keygen", "--out", str(keys / "top"))
    idnode("escrow", "keygen", "--out", str(keys / "a"))
    init_top(tmp_path / "top")
    init_secondary(tmp_path / "a", "88.101")
    top = start_top(tmp_path / "top", "--escrow-key", str(keys / "top" / "escrow-private.pem"),
                    "--takeover-probe-interval", "1", "--takeover-window", "4")
    a = start_secondary(tmp_path / "a", "88.101", [top], "--upstream-http", top.url, "--report-interval", "0")
    try:
        idnode("escrow", "trust", "88.101", "--key", str(keys / "a" / "escrow-public.pem"), "--data", str(top.data))
        for i in range(5):
            register(a, f"88.101.5/KEPT-{i}", f"https://e.x/kept/{i}", owner("88.101"))
        idnode(*send_args(a, top, keys))
        udp = HandleClient("127.0.0.1", top.handle_port, timeout=5.0)

        def served_by_top() -> bool:
            ans = udp.resolve("88.101.5/KEPT-3")
            return ans.rc == RC.SUCCESS and [v.data for v in ans.body.values if v.type == "URL"] == [b"https://e.x/kept/3"]

        assert not served_by_top()  # the top-level node refers to the secondary while it serves
        # The operator takes over: served from the deposit, over the Handle protocol and HTTP.
        assert "taken over from deposit" in idnode("takeover", "88.101", "--data", str(top.data)).stdout
        eventually(served_by_top, what="the top-level node answering from the deposit")
        r = requests.get(top.api("88.101.5/KEPT-1"))
        assert r.status_code == 200 and r.json()["values"][0]["data"]["value"] == "https://e.x/kept/1"
        assert requests.get(top.api("88.101.5/NEVER")).status_code != 200
        log = requests.get(f"{top.url}/api/escrow/88.101", headers=top_admin()).json()
        assert log["takenOver"]["reason"] == "operator"
        idnode("takeover", "88.101", "--release", "--data", str(top.data))
        eventually(lambda: not served_by_top(), what="handing back")

        # The secondary goes down: the probes fail, the top-level node takes over by itself...
        a.stop()
        eventually(served_by_top, timeout=30, what="the automatic takeover")
        log = requests.get(f"{top.url}/api/escrow/88.101", headers=top_admin()).json()
        assert log["takenOver"]["reason"] == "probes" and "probes" in log["takenOver"]["failed"]
        # ...and hands back once it answers again.
        a.start()
        eventually(lambda: not served_by_top(), timeout=30, what="the automatic hand-back")
        assert requests.get(f"{top.url}/api/escrow/88.101", headers=top_admin()).json()["takenOver"] is None
    finally:
        a.stop()
        top.stop()
