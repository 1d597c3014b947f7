"""The audit trail: what it records, how it is read (``GET /api/audit``, ``idnode audit``), who may
read it, that an allowed change and its entry commit together, and that refusals cannot flood it."""

from __future__ import annotations

import asyncio
import json
import time

import pytest
import requests

from protocol import bodies as b
from protocol.codes import HandleError
from protocol.envelope import Op
from protocol.values import HandleValue
from resolver import audit_trail as audit
from resolver.credentials import Identity
from resolver.handleclient import SecretKey
from resolver.service import Service
from storage import GroupCommitter, Store
from tests import handle_nodes as hn
from tests.nodes import ENTERPRISES, Node, idnode

H = {"Content-Type": "application/json"}
URL = [{"index": 1, "type": "URL", "data": "https://example.com/a"}]


def trail(node, admin, **params) -> dict:
    r = requests.get(f"{node.url}/api/audit", params=params, headers=admin)
    assert r.status_code == 200, r.text
    return r.json()


@pytest.fixture(scope="module")
def story(tmp_path_factory, auth):
    """A node with a short history: allowed and refused changes by several callers, over HTTP and the
    Handle protocol."""
    from tests.nodes import init_data

    data = tmp_path_factory.mktemp("audit") / "data"
    init_data(data)
    node = hn.start(data)
    owner, other, wrong = auth["owner"], auth["other"], auth["wrong"]
    put = lambda h, who: requests.put(node.api(h), json=URL, headers={**H, **who})  # noqa: E731
    assert put("88.101.5/A1", owner).status_code == 201
    t_middle = time.time()
    time.sleep(0.05)
    assert put("88.101.5/A2", other).status_code == 403
    assert put("88.101.5/A3", wrong).status_code == 401
    assert put("88.101.6/B1", other).status_code == 201
    assert requests.put(node.api("88.101.5/A4"), data="{nope", headers={**H, **owner}).status_code == 400
    assert requests.post(f"{node.url}/api/batch", headers={**H, **owner}, json=[
        {"op": "create", "handle": "88.101.5/BATCH-1", "values": URL},
        {"op": "create", "handle": "88.101.6/BATCH-2", "values": URL}]).json()["failed"] == 1
    me = SecretKey(300, "0.NA/88.101.5", ENTERPRISES["88.101.5"].encode())
    c = hn.client(node)
    assert c.call(Op.ADD_VALUE, b.AddValueRequest("88.101.5/A1", (HandleValue(7, "NOTE", b"n"),)), me).rc == 1
    yield node, t_middle
    node.stop()


def test_every_attempt_is_there_in_order(story, auth):
    node, _ = story
    entries = trail(node, auth["admin"])["entries"]
    seen = [(e["op"], e["target"], e["identity"], e["result"], e["protocol"]) for e in entries]
    assert seen[:3] == [("init", "88.101", "300:0.NA/88.101", "allowed", "cli"),
                        ("allocate_prefix", "88.101.5", "300:0.NA/88.101", "allowed", "cli"),
                        ("allocate_prefix", "88.101.6", "300:0.NA/88.101", "allowed", "cli")]
    assert seen[3:] == [
        ("put_handle", "88.101.5/A1", "300:0.NA/88.101.5", "allowed", "http"),
        ("put_handle", "88.101.5/A2", "300:0.NA/88.101.6", "denied", "http"),
        ("put_handle", "88.101.5/A3", "300:0.NA/88.101.5", "denied", "http"),
        ("put_handle", "88.101.6/B1", "300:0.NA/88.101.6", "allowed", "http"),
        ("put_handle", "88.101.5/A4", "300:0.NA/88.101.5", "denied", "http"),  # authenticated, then parsed
        ("batch", None, "300:0.NA/88.101.5", "partial", "http"),
        ("put_handle", "88.101.5/A1", "300:0.NA/88.101.5", "allowed", "tcp"),
    ]
    assert [e["seq"] for e in entries] == sorted(e["seq"] for e in entries)
    entries = entries[1:]
    refused_json = entries[6]
    assert refused_json["rc"] == 4 and "not valid JSON" in refused_json["message"]
    batch = entries[7]
    assert (batch["succeeded"], batch["failed"], batch["prefixes"]) == (1, 1, ["88.101.5", "88.101.6"])
    assert batch["failures"][0]["handle"] == "88.101.6/BATCH-2" and "may not" in batch["failures"][0]["message"]
    assert entries[2]["outcome"] == "created" and entries[-1]["outcome"] == "updated"
    assert entries[4]["authenticated"] is False and "wrong secret" in entries[4]["message"]


def test_filters(story, auth):
    node, t_middle = story
    admin = auth["admin"]
    ops = lambda **p: [(e["op"], e["target"]) for e in trail(node, admin, **p)["entries"]]  # noqa: E731
    assert ops(result="denied") == [("put_handle", "88.101.5/A2"), ("put_handle", "88.101.5/A3"),
                                    ("put_handle", "88.101.5/A4"), ("batch", None)]  # a partial batch is both
    assert ("batch", None) in ops(result="allowed") and ("put_handle", "88.101.5/A2") not in ops(result="allowed")
    assert ops(identity="300:0.na/88.101.6") == [("put_handle", "88.101.5/A2"), ("put_handle", "88.101.6/B1")]
    assert ops(handle="88.101.5/a1") == [("put_handle", "88.101.5/A1"), ("batch", None),
                                         ("put_handle", "88.101.5/A1")]
    assert ops(prefix="88.101.6") == [("allocate_prefix", "88.101.6"), ("put_handle", "88.101.6/B1"), ("batch", None)]
    assert ops(op="batch", client="127.0.0.1") == [("batch", None)]
    since = ops(since=f"{t_middle:.3f}")
    assert since[0] == ("put_handle", "88.101.5/A2") and len(since) == 6
    until = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t_middle)) + f".{int(t_middle * 1000) % 1000:03d}Z"
    assert ops(until=until)[-1] == ("put_handle", "88.101.5/A1")
    assert ops(since=f"{t_middle:.3f}", until=f"{t_middle:.3f}") == []


def test_paging_by_cursor_both_ways(story, auth):
    node, _ = story
    admin = auth["admin"]
    everything = trail(node, admin)["entries"]
    for order, expect in (("asc", everything), ("desc", everything[::-1])):
        pages, cursor = [], None
        while True:
            params = {"limit": 3, "order": order, **({"cursor": cursor} if cursor else {})}
            page = trail(node, admin, **params)
            pages += page["entries"]
            cursor = page.get("nextCursor")
            if cursor is None:
                break
        assert pages == expect


def test_only_the_node_admin_reads_it(story, auth):
    node, _ = story
    url = f"{node.url}/api/audit"
    assert requests.get(url).status_code == 401
    assert requests.get(url, headers=auth["owner"]).status_code == 403
    r = requests.get(url, params={"result": "maybe"}, headers=auth["admin"])
    assert (r.status_code, r.json()["field"]) == (400, "result")
    r = requests.get(url, params={"since": "yesterday"}, headers=auth["admin"])
    assert r.status_code == 400 and "ISO 8601" in r.json()["message"]
    r = requests.get(url, params={"who": "x"}, headers=auth["admin"])
    assert r.status_code == 400 and "unknown filter" in r.json()["message"]


def test_cli_reads_the_trail_while_the_node_runs(story):
    node, _ = story
    p = idnode("audit", "--data", str(node.data), "--result", "denied", "--limit", "2")
    lines = [json.loads(x) for x in p.stdout.splitlines()]
    assert [e["target"] for e in lines] == ["88.101.5/A2", "88.101.5/A3"]
    assert "more: --cursor" in p.stderr
    cursor = p.stderr.split("--cursor")[1].split()[0]
    rest = idnode("audit", "--data", str(node.data), "--result", "denied", "--cursor", cursor)
    assert [json.loads(x)["target"] for x in rest.stdout.splitlines()] == ["88.101.5/A4", None]


def test_refusals_over_the_cap_are_counted_not_written_one_by_one(fresh_data, tmp_path, auth):
    cfg = tmp_path / "node.toml"
    cfg.write_text("audit_denials_per_client = 3\n")
    node = Node(fresh_data, "--config", str(cfg)).start()
    try:
        mark = trail(node, auth["admin"], order="desc", limit=1)["entries"][0]["seq"]
        for i in range(25):
            r = requests.put(node.api(f"88.101.5/FLOOD-{i}"), json=URL, headers={**H, **auth["other"]})
            assert r.status_code == 403
        deadline = time.monotonic() + 5
        while True:
            entries = trail(node, auth["admin"], cursor=mark + 1)["entries"]
            dropped = sum(e.get("dropped", 0) for e in entries)
            one_by_one = [e for e in entries if e["op"] == "put_handle"]
            if len(one_by_one) + dropped == 25 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert len(one_by_one) + dropped == 25, entries
        assert 3 <= len(one_by_one) <= 9  # 3 a second; the 25 may straddle a second or two
        summary = [e for e in entries if e["op"] == "dropped"]
        assert summary and summary[0]["client"] == "127.0.0.1" and "not recorded one by one" in summary[0]["message"]
    finally:
        node.stop()


def test_an_allowed_change_and_its_entry_commit_together(seeded, tmp_path):
    """In-process, on a real store: a write that fails inside its transaction leaves no change and no
    'allowed' entry (its refusal is recorded instead); one that succeeds leaves both."""
    import shutil

    shutil.copytree(seeded, tmp_path / "data")
    store = Store(tmp_path / "data")
    svc = Service(store, GroupCommitter(store))
    owner = Identity(300, "0.NA/88.101.5")
    values = [HandleValue(1, "URL", b"https://x"), HandleValue(1001, "TEMPLATE", b"no-such-version")]

    async def attempts():
        caller = audit.Caller("test", "192.0.2.1")
        with pytest.raises(HandleError):  # the template check runs inside the transaction
            await svc.put_handle("88.101.5/TX", values, owner, caller=caller)
        await svc.put_handle("88.101.5/TX", values[:1], owner, caller=caller)

    try:
        with store.read() as tx:
            seq0, (_, audit0) = tx.last_seq(), tx.audit_bounds()
        asyncio.run(attempts())
        with store.read() as tx:
            changes = tx.changes(seq0, 10)
            entries = list(tx.audit_from(audit0 + 1))
    finally:
        svc.committer.close()
        store.close()
    assert [c[1][0] for c in changes] == ["put"]  # one change: the second attempt's
    assert [(e["result"], e["client"], e["protocol"]) for _, e in entries] == [
        ("denied", "192.0.2.1", "test"), ("allowed", "192.0.2.1", "test")]
    assert "template" in entries[0][1]["message"]


def test_console_work_is_audited_too(fresh_data, tmp_path):
    """`idnode import` leaves an entry per chunk (in the chunk's transaction); `idnode prefix` one each."""
    src = tmp_path / "records.jsonl"
    src.write_text("".join(json.dumps({"handle": f"88.101.5/IMP-{i}", "values": URL}) + "\n" for i in range(3))
                   + '{"handle": "88.101.5/IMP-bad", "values": "nope"}\n')
    assert idnode("import", str(src), "--data", str(fresh_data), "--no-progress", check=False).returncode == 3
    idnode("prefix", "disable", "88.101.6", "--data", str(fresh_data))
    lines = [json.loads(x) for x in idnode("audit", "--data", str(fresh_data), "--order", "desc", "--limit", "2")
             .stdout.splitlines()]
    assert [(e["op"], e["target"], e["protocol"], e["client"]) for e in lines] == [
        ("set_prefix_state", "88.101.6", "cli", "local"), ("import", str(src), "cli", "local")]
    assert (lines[1]["succeeded"], lines[1]["failed"], lines[1]["lines"]) == (3, 1, [1, 4])
    assert lines[0]["state"] == "disabled" and lines[0]["identity"] == "300:0.NA/88.101"


def test_events_import_is_audited(fresh_data, tmp_path):
    from tests.test_events_import import event, write_lines

    src = tmp_path / "events.jsonl"
    write_lines(src, [event(1), event(2), "{not json"])
    idnode("events", "import", str(src), "--data", str(fresh_data), "--no-progress", check=False)
    [e] = [json.loads(x) for x in idnode("audit", "--data", str(fresh_data), "--op", "events_import").stdout.splitlines()]
    assert (e["target"], e["result"], e["succeeded"], e["failed"], e["protocol"]) == (str(src), "allowed", 2, 1, "cli")


def test_on_a_mirror_a_referred_write_is_no_verdict_and_promotion_is_audited(tmp_path, auth):
    from tests.nodes import init_data
    from tests.test_mirror import start_mirror

    init_data(tmp_path / "primary")
    primary = Node(tmp_path / "primary").start()
    mirror = None
    try:
        mirror = start_mirror(tmp_path / "mirror", primary)
        mark = trail(mirror, auth["admin"], order="desc", limit=1)["entries"][0]["seq"]
        r = requests.put(mirror.api("88.101.5/M"), json=URL, headers={**H, **auth["owner"]}, allow_redirects=False)
        assert r.status_code == 307  # to the primary: not a refusal
        token = requests.post(primary.url + "/api/token", headers=auth["owner"]).json()["token"]
        r = requests.get(mirror.api("0.NA/88.101.5"), headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 401 and "does not take bearer tokens" in r.json()["message"]
        assert requests.post(mirror.url + "/api/replication/promote", headers=auth["other"]).status_code == 403
        assert requests.post(mirror.url + "/api/replication/promote", headers=auth["admin"]).status_code == 200
        entries = trail(mirror, auth["admin"], cursor=mark + 1)["entries"]
        assert [(e["op"], e["result"], e["identity"]) for e in entries] == [
            ("resolve", "denied", None), ("promote", "denied", "300:0.NA/88.101.6"),
            ("promote", "allowed", "300:0.NA/88.101")]
    finally:
        if mirror is not None:
            mirror.stop()
        primary.stop()
