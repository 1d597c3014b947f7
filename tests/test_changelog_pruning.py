"""The change log is pruned once the mirrors have it and past its age; a mirror that was away longer than
the primary waits for it is told that its changes are gone, and re-seeds from a snapshot at its start."""

from __future__ import annotations

import asyncio
import time

import msgpack
import requests

from tests.federation_nodes import eventually
from tests.nodes import ADMIN_SECRET, NODE_PREFIX, Node, basic, init_data

JSON = {"Content-Type": "application/json"}
ADMIN = {"Authorization": basic(f"300:0.NA/{NODE_PREFIX}", ADMIN_SECRET)}
OWNER = {"Authorization": basic("300:0.NA/88.101.5", "acme-secret-5")}
HOLD = 15  # seconds a mirror not heard from still holds the log back, in this test


def register(node: Node, tag: str, n: int) -> None:
    ops = [{"op": "put", "handle": f"88.101.5/{tag}-{i}", "values": [{"index": 1, "type": "URL",
                                                                      "data": f"https://example.com/{tag}/{i}"}]}
           for i in range(n)]
    requests.post(node.url + "/api/batch", json={"operations": ops}, headers={**JSON, **OWNER}).raise_for_status()


def changes_after(node: Node, after: int) -> requests.Response:
    return requests.get(node.url + "/api/replication/changes", params={"after": str(after), "limit": "10000"},
                        headers=ADMIN)


def entries(r: requests.Response) -> list:
    assert r.status_code == 200, r.text
    return msgpack.unpackb(r.content, raw=False)


def status(node: Node) -> dict:
    return requests.get(node.url + "/api/replication/status", headers=ADMIN).json()


def start_mirror(data, primary: Node) -> Node:
    return Node(data, "--role", "mirror", "--primary", primary.url, "--primary-identity",
                f"300:0.NA/{NODE_PREFIX}", "--primary-secret", ADMIN_SECRET).start(timeout=60)


def follow_once(data, primary: Node) -> dict:
    """Run a mirror's follower in process on ``data`` until it stops; its state then."""
    from resolver.assembly.service_setup import close_service, open_service
    from resolver.config import Config
    from resolver.mirror import Follower

    cfg = Config.load(flags={"data": str(data), "role": "mirror", "primary": primary.url,
                             "primary_identity": f"300:0.NA/{NODE_PREFIX}", "primary_secret": ADMIN_SECRET})
    svc = open_service(cfg)
    try:
        async def run() -> dict:
            follower = Follower(svc, cfg)
            follower.start()
            await asyncio.wait_for(follower.task, 30)
            return follower.state()
        return asyncio.run(run())
    finally:
        close_service(svc)


def test_a_mirror_holds_the_log_back_and_one_gone_too_long_re_seeds(tmp_path):
    init_data(tmp_path / "primary")
    conf = tmp_path / "primary.toml"
    conf.write_text(f"changelog_keep = 0\nchangelog_prune_interval = 1\nmirror_hold = {HOLD}\n")
    primary = Node(tmp_path / "primary", "--config", str(conf)).start()
    mirror = None
    try:
        register(primary, "A", 20)
        # Nothing reads the log yet: it is pruned whole, and its numbering goes on.
        eventually(lambda: changes_after(primary, 0).status_code == 410, what="the log pruned")
        head = status(primary)["lastSequence"]
        assert head > 20 and entries(changes_after(primary, head)) == []
        register(primary, "B", 5)
        assert status(primary)["lastSequence"] == head + 5

        mirror = start_mirror(tmp_path / "mirror", primary)
        eventually(lambda: status(mirror)["applied"] == status(primary)["lastSequence"], what="the mirror caught up")
        applied = status(mirror)["applied"]
        mirror.stop()
        gone_at = time.monotonic()
        register(primary, "C", 10)
        time.sleep(2.5)  # two pruning passes
        # What the stopped mirror has not applied is kept for it.
        assert len(entries(changes_after(primary, applied))) == 10
        assert time.monotonic() - gone_at < HOLD, "the machine was too slow for this test's timing"

        # Away longer than mirror_hold: no longer waited for. It asks, hears 410 naming what to do...
        def pruned() -> bool:
            return changes_after(primary, applied).status_code == 410
        eventually(pruned, timeout=HOLD + 20, what="the forgotten mirror's changes pruned")
        r = changes_after(primary, applied)
        assert "re-seed" in r.json()["message"] and "snapshot" in r.json()["message"]
        # A mirror following when that happens stops, and says what to do.
        follower_state = follow_once(tmp_path / "mirror", primary)
        assert follower_state["reseedNeeded"] and not follower_state["following"]
        assert "pruned" in follower_state["error"]
        # ... and at its start re-seeds from a snapshot: it has what was written while it was away.
        mirror.start(timeout=60)
        assert requests.get(mirror.api("88.101.5/C-9")).status_code == 200
        st = status(mirror)
        assert st["role"] == "mirror" and st["error"] is None and not st["reseedNeeded"]
        register(primary, "D", 3)
        eventually(lambda: requests.get(mirror.api("88.101.5/D-2")).status_code == 200, what="following again")
    finally:
        if mirror is not None:
            mirror.stop()
        primary.stop()


def test_the_log_is_kept_for_its_configured_age(tmp_path):
    init_data(tmp_path / "primary")
    conf = tmp_path / "primary.toml"
    conf.write_text("changelog_keep = 3600\nchangelog_prune_interval = 1\n")
    primary = Node(tmp_path / "primary", "--config", str(conf)).start()
    try:
        register(primary, "A", 5)
        time.sleep(2.5)
        assert len(entries(changes_after(primary, 0))) > 5
    finally:
        primary.stop()


def test_a_mirror_name_that_is_not_a_name_is_refused(tmp_path):
    init_data(tmp_path / "primary")
    primary = Node(tmp_path / "primary").start()
    try:
        r = requests.get(primary.url + "/api/replication/changes", params={"after": "0", "mirror": "x" * 65},
                         headers=ADMIN)
        assert r.status_code == 400 and "mirror" in r.json()["message"]
        r = requests.get(primary.url + "/api/replication/changes", params={"after": "0", "mirror": "a/b"})
        assert r.status_code == 401  # the node admin's alone, before the name is looked at
    finally:
        primary.stop()


def test_pruning_keeps_what_is_young_or_unapplied_and_the_numbering_goes_on(tmp_path):
    from storage import GroupCommitter, Store
    from storage.verify import verify

    store = Store(tmp_path / "data")
    try:
        with GroupCommitter(store) as writer:
            for i in range(6):  # changes 1…6, written at times 100…105
                writer.apply(lambda tx, i=i: tx.put_prefix({"prefix": f"88.{i}"}, who="t", now=100 + i))
            assert writer.apply(lambda tx: tx.prune_changes(4, 103, 10)) == 3  # 4 is too young
            assert writer.apply(lambda tx: tx.prune_changes(2, 1000, 10)) == 0  # 1…3 are gone already
            assert writer.apply(lambda tx: tx.prune_changes(6, 1000, 2)) == 2  # at most ``limit``
            with store.read() as tx:
                assert tx.changelog_floor() == 5 and tx.first_change() == (6, 105) and tx.last_seq() == 6
            writer.apply(lambda tx: tx.prune_changes(6, 1000, 10))
            with store.read() as tx:
                assert tx.first_change() is None and tx.last_seq() == 6  # empty, and still at 6
            writer.apply(lambda tx: tx.put_prefix({"prefix": "88.9"}, who="t", now=200))
            with store.read() as tx:
                assert [seq for seq, _ in tx.changes(0, 10)] == [7]
        report = verify(store)
        assert report.problems == [] and report.last_seq == 7
    finally:
        store.close()


def test_a_node_reporting_upstream_keeps_the_days_not_yet_reported(tmp_path):
    """masterdata reports are built from the change log: a day not reported yet keeps its changes."""
    from resolver.changelog_pruning import DAY, prunable
    from resolver.config import Config
    from resolver.federation.state import FEDERATION_META
    from resolver.reports.due import SENT_META
    from storage import GroupCommitter, Store

    today = 20_000
    now = today * DAY + 3600
    cfg = Config.load(flags={"changelog_keep": 0})
    store = Store(tmp_path / "data")
    try:
        with GroupCommitter(store) as writer:
            for i, day in enumerate((today - 3, today - 2, today - 1, today)):  # changes 1…4, one a day
                writer.apply(lambda tx, i=i, day=day: tx.put_prefix({"prefix": f"88.{i}"}, who="t", now=day * DAY + 60))
            with store.read() as tx:
                assert prunable(tx, cfg, now) == (4, now)  # no upstream: only the age counts
            writer.apply(lambda tx: tx.put_meta(FEDERATION_META, {"upstreams": ["top"]}))
            writer.apply(lambda tx: tx.put_meta(SENT_META, {"masterdata": today - 2}))  # reported up to the day before yesterday
            with store.read() as tx:
                through, before = prunable(tx, cfg, now)
            assert before == (today - 1) * DAY
            assert writer.apply(lambda tx: tx.prune_changes(through, before, 100)) == 2
            with store.read() as tx:
                assert tx.first_change() == (3, (today - 1) * DAY + 60)
    finally:
        store.close()
