"""``idnode backup`` under write load, ``restore`` (and its refusals), ``verify`` (and what it finds)."""

from __future__ import annotations

import asyncio
import json
import random
import shutil
import struct
import threading
import time
from collections import defaultdict
from pathlib import Path

import lmdb
import pytest
import requests

from protocol import bodies as b
from protocol.codes import RC
from protocol.envelope import Op
from protocol.site import Site
from protocol.values import HandleValue
from resolver.handleclient import SecretKey
from storage import Store
from tests import handle_nodes as hn
from tests.crashload import Ledger, Writer, stored_tokens, write_until_stopped
from tests.nodes import ENTERPRISES, Node, idnode

pytestmark = pytest.mark.serial  # a backup taken under write load, within time bounds: run alone

OWNER_ID = SecretKey(300, "0.NA/88.101.5", ENTERPRISES["88.101.5"].encode())
H = {"Content-Type": "application/json"}


def _handles_at(data: Path, seq: int) -> dict[bytes, bytes]:
    """The handles database as it was at change-log sequence ``seq``, replayed from the change log."""
    state: dict[bytes, bytes] = {}
    store = Store(data, readonly=True)
    try:
        with store.read() as tx:
            for s, (op, k, payload, _who, _now, *_first) in tx.changes(0, seq):
                assert s <= seq
                if op == "put":
                    state[k] = payload
                elif op == "del":
                    state.pop(k, None)
    finally:
        store.close()
    return state


def _handles_in(data: Path) -> dict[bytes, bytes]:
    env = lmdb.open(str(data), readonly=True, max_dbs=32, lock=False)
    try:
        db = env.open_db(b"handles", create=False)
        with env.begin(db=db) as txn:
            return dict(txn.cursor())
    finally:
        env.close()


def _site_key(node: Node) -> bytes:
    ans = hn.client(node).tcp(hn.client(node).message(Op.GET_SITE_INFO, b.GenericRequest()))
    return Site.from_wire(ans.body.site).servers[0].public_key


def test_backup_under_write_load_restores_to_the_state_at_its_sequence(fresh_data, tmp_path, auth):
    node = hn.start(fresh_data)
    ledger = Ledger()
    rng = random.Random(7)
    writers = [Writer(n, "batch" if n % 3 == 2 else "single", ledger, random.Random(rng.random()), auth["owner"])
               for n in range(16)]
    stop = threading.Event()
    thread = threading.Thread(target=asyncio.run, args=(write_until_stopped(node.url, writers, stop),))
    thread.start()
    try:
        time.sleep(1.0)
        # What was acknowledged before the backup starts (taken in this order: see the ledger's note).
        n0 = len(ledger.log)
        before, in_flight = dict(ledger.known), dict(ledger.uncertain)
        idnode("backup", str(tmp_path / "bk"), "--data", str(fresh_data))
        time.sleep(0.5)  # writes go on after the copy too; the restored node must not have them
    finally:
        stop.set()
        thread.join(60)
    site_key = _site_key(node)
    node.stop()
    assert not ledger.refusals, ledger.refusals[:5]
    assert len(before) > 500, f"only {len(before)} handles written before the backup"
    later: dict[str, set] = defaultdict(set)
    for h, token in ledger.log[n0:]:
        later[h].add(token)

    manifest = json.loads((tmp_path / "bk" / "manifest.json").read_text())
    assert ledger.acks > manifest["handles"] > len([t for t in before.values() if t is not None])
    assert {"seckey-seal.key", "node-key.pem", "data.mdb"} <= manifest["files"].keys()
    restored = tmp_path / "restored"
    idnode("restore", str(tmp_path / "bk"), "--data", str(restored))

    # The restored store is the original exactly as it was at the manifest's sequence, no more, no less.
    at_seq = _handles_at(fresh_data, manifest["change_seq"])
    assert _handles_in(restored) == at_seq
    assert _handles_at(fresh_data, 10**12) != at_seq, "no write landed after the copy; the test proves less"

    rnode = hn.start(restored)
    try:
        # Every handle acknowledged before the backup started answers as acknowledged (or as a write
        # made after the start, which the copy may hold).
        answers, odd = asyncio.run(stored_tokens(rnode.url, set(before) | set(in_flight)))
        assert not odd, odd[:5]
        wrong = [(h, t) for h, t in answers.items()
                 if t not in {before.get(h), in_flight.get(h), *later.get(h, ())}]
        assert not wrong, f"{len(wrong)} handles differ from what was acknowledged before the backup: {wrong[:5]}"
        listing = requests.get(f"{rnode.url}/api/handles", params={"prefix": "88.101.5", "pageSize": 1},
                               headers=auth["owner"]).json()
        assert int(listing["totalCount"]) == manifest["prefix_counts"]["88.101.5"]
        # The seal key came along: secrets still answer challenges over the Handle protocol; and the
        # node key: the restored node is the same site.
        made = hn.client(rnode).call(Op.CREATE_HANDLE, b.CreateHandleRequest(
            "88.101.5/AFTER-RESTORE", (HandleValue(1, "URL", b"https://restored.example/"),)), OWNER_ID)
        assert made.rc == RC.SUCCESS
        assert _site_key(rnode) == site_key
    finally:
        rnode.stop()
    assert idnode("verify", "--data", str(restored)).stdout.strip().endswith("ok")


@pytest.fixture
def backup_dir(fresh_data, tmp_path):
    out = tmp_path / "bk"
    idnode("backup", str(out), "--data", str(fresh_data))
    return out


def test_restore_refuses_a_damaged_backup_and_makes_nothing(backup_dir, tmp_path):
    data = backup_dir / "data.mdb"
    raw = bytearray(data.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    data.write_bytes(bytes(raw))
    target = tmp_path / "new"
    p = idnode("restore", str(backup_dir), "--data", str(target), check=False)
    assert p.returncode == 1
    assert "backup damaged: the SHA-256 of data.mdb differs" in p.stderr
    assert not target.exists() and not list(tmp_path.glob(".new.restoring-*"))

    empty = tmp_path / "mounted"
    empty.mkdir()
    p = idnode("restore", str(backup_dir), "--data", str(empty), check=False)
    assert p.returncode == 1 and list(empty.iterdir()) == []


def test_restore_refuses_a_missing_key_file_an_unfinished_backup_and_an_existing_folder(backup_dir, fresh_data,
                                                                                         tmp_path):
    spare = tmp_path / "spare"
    shutil.copytree(backup_dir, spare)
    (spare / "seckey-seal.key").unlink()
    p = idnode("restore", str(spare), "--data", str(tmp_path / "a"), check=False)
    assert p.returncode == 1 and "backup damaged: seckey-seal.key is missing" in p.stderr

    (spare / "manifest.json").unlink()
    p = idnode("restore", str(spare), "--data", str(tmp_path / "b"), check=False)
    assert p.returncode == 1 and "has no manifest.json" in p.stderr

    before = sorted(f.name for f in fresh_data.iterdir())
    p = idnode("restore", str(backup_dir), "--data", str(fresh_data), check=False)
    assert p.returncode == 1 and "exists and is not empty" in p.stderr
    assert sorted(f.name for f in fresh_data.iterdir()) == before

    p = idnode("backup", str(backup_dir), "--data", str(fresh_data), check=False)
    assert p.returncode == 1 and "exists and is not empty" in p.stderr


def _capture(node: Node, owner: dict) -> None:
    events = [
        {"type": "ObjectEvent", "eventTime": "2026-03-01T10:00:00+08:00", "eventTimeZoneOffset": "+08:00",
         "epcList": ["urn:epc:id:sgtin:0614141.107346.2018"], "action": "OBSERVE"},
        {"type": "AggregationEvent", "eventTime": "2026-03-01T10:05:00+08:00", "eventTimeZoneOffset": "+08:00",
         "parentID": "urn:epc:id:sscc:0614141.1234567890", "action": "ADD",
         "childEPCs": ["urn:epc:id:sgtin:0614141.107346.2018", "urn:epc:id:sgtin:0614141.107346.2019"]},
    ]
    doc = {"@context": ["https://ref.gs1.org/standards/epcis/epcis-context.jsonld"], "type": "EPCISDocument",
           "schemaVersion": "2.0", "creationDate": "2026-03-01T00:00:00Z", "epcisBody": {"eventList": events}}
    r = requests.post(f"{node.url}/api/events", json=doc, headers=owner)
    assert r.status_code == 201, r.text


def test_verify_passes_a_sound_store_and_reports_each_kind_of_damage(fresh_data, tmp_path, auth):
    node = Node(fresh_data).start()
    try:
        for i in range(30):
            values = [{"index": 1, "type": "URL", "data": f"https://v.example/{i}"}]
            if i % 10 == 0:
                values.append({"index": 300, "type": "HS_SECKEY", "data": f"secret-number-{i}"})
            if i % 10 == 1:
                values.append({"index": 2010, "type": "GS1", "data": f"(01)09501101530003(21)V{i}"})
            r = requests.put(node.api(f"88.101.5/V-{i}"), json=values, headers={**H, **auth["owner"]})
            assert r.status_code == 201
        _capture(node, auth["owner"])
        live = idnode("verify", "--data", str(fresh_data))  # beside the serving node
        assert live.stdout.strip().endswith("ok") and "2 events" in live.stdout
    finally:
        node.stop()

    damaged = tmp_path / "damaged"
    shutil.copytree(fresh_data, damaged)
    env = lmdb.open(str(damaged), max_dbs=32)
    with env.begin(write=True) as txn:
        meta, accounts = env.open_db(b"meta", txn=txn), env.open_db(b"accounts", txn=txn)
        handles, ev_ident = env.open_db(b"handles", txn=txn), env.open_db(b"ev_ident", txn=txn)
        gs1 = env.open_db(b"gs1", txn=txn)
        k = next(k for k in txn.cursor(db=gs1).iternext(values=False) if k.startswith(b"k"))
        txn.put(k, b"88.101.5/v-99", db=gs1)  # the key now names another handle
        txn.put(b"n:88.101.5", struct.pack("<q", 29), db=meta)  # 30 stored
        txn.delete(b"300:88.101.5/v-10", db=accounts)
        txn.put(b"300:88.101.5/gone", b"scrypt:stale", db=accounts)
        txn.put(b"88.101.5/garbage", b"\xc1not msgpack", db=handles)
        cur = txn.cursor(db=ev_ident)
        assert cur.first()
        cur.delete()
    env.close()
    p = idnode("verify", "--data", str(damaged), check=False)
    assert p.returncode == 1, p.stdout
    out = p.stdout
    assert "prefix 88.101.5: its counter says 29 handles; 30 are stored" in out
    assert "HS_SECKEY value 300:88.101.5/v-10 is missing from the accounts index" in out
    assert "accounts entry 300:88.101.5/gone has no HS_SECKEY value behind it" in out
    assert "handle record b'88.101.5/garbage' does not decode" in out
    assert "an entry of index ev_ident is missing" in out
    assert "index ev_ident holds" in out
    assert f"gs1 entry {k.decode()} differs from its GS1 value" in out
