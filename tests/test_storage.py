"""storage/: a real LMDB environment in a temp folder — map growth, group commit, processes, change log, counts."""

from __future__ import annotations

import multiprocessing
import threading

import pytest

from protocol.values import HS_SECKEY, HandleValue
from storage import NOTHING_WRITTEN, GroupCommitter, Store
from storage.commit import run_group

ENT = "88.101.5"


def url(target: str, index: int = 1) -> HandleValue:
    return HandleValue(index, "URL", target.encode(), timestamp=1)


def put_op(handle: str, values: list[HandleValue]):
    def op(tx):
        tx.put_handle(handle, values, old=tx.get_handle(handle), who="test", now=1)
        return handle
    return op


def delete_op(handle: str):
    def op(tx):
        return tx.delete_handle(handle, who="test", now=1)
    return op


@pytest.fixture
def store(tmp_path):
    s = Store(tmp_path / "data")
    yield s
    s.close()


def all_changes(store: Store) -> list[tuple[int, list]]:
    with store.read() as tx:
        return tx.changes(0, 10**9)


# --- map growth --------------------------------------------------------------------------------------------

def test_map_grows_from_a_tiny_size_instead_of_failing(tmp_path):
    tiny = 64 * 1024
    store = Store(tmp_path / "data", map_size=tiny)
    committer = GroupCommitter(store)
    try:
        payload = "x" * 900
        futures = [committer.submit(put_op(f"{ENT}/GROW-{n:05d}", [url(f"https://e.x/{n}/{payload}")]))
                   for n in range(3000)]  # ~3 MB of records into a 64 KiB map
        assert [f.result(60) for f in futures] == [f"{ENT}/GROW-{n:05d}" for n in range(3000)]
        used, size = store.map_use()
        assert size > tiny and used > tiny
        with store.read() as tx:
            assert tx.count_handles(ENT) == 3000 and tx.total_handles() == 3000
            assert tx.get_handle(f"{ENT}/GROW-02999").values[0].data.startswith(b"https://e.x/2999/")
    finally:
        committer.close()
        store.close()


def test_one_group_larger_than_the_map_is_rerun_after_growing(tmp_path):
    store = Store(tmp_path / "data", map_size=64 * 1024)
    try:
        ops = [put_op(f"{ENT}/BIG-{n}", [url("https://e.x/" + "y" * 4000)]) for n in range(200)]
        results = run_group(store, ops)  # ~800 KB in one transaction
        assert all(ok for ok, _ in results)
        with store.read() as tx:
            assert tx.count_handles(ENT) == 200  # a re-run group is counted once
            assert len(tx.changes(0, 10_000)) == 200
    finally:
        store.close()


# --- group commit ------------------------------------------------------------------------------------------

def test_group_commit_answers_each_op_after_its_commit(store):
    commits: list[int] = []
    committer = GroupCommitter(store, on_commit=lambda n, secs: commits.append(n))
    started, release = threading.Event(), threading.Event()

    def blocker(tx):
        started.set()
        assert release.wait(10)
        tx.put_handle(f"{ENT}/FIRST", [url("https://e.x/first")], old=None, who="t", now=1)
        return "first"

    seen_at_answer: dict[str, tuple[int, bool]] = {}

    def note(handle: str):
        def done(fut):
            with store.read() as tx:  # what a reader sees the moment the op is answered
                seen_at_answer[handle] = (len(commits), tx.get_handle(handle) is not None)
        return done

    try:
        first = committer.submit(blocker)
        first.add_done_callback(note(f"{ENT}/FIRST"))
        assert started.wait(10)
        futures = []
        for n in range(100):  # queued while the writer is busy: they share the next commit
            f = committer.submit(put_op(f"{ENT}/G-{n}", [url(f"https://e.x/{n}")]))
            f.add_done_callback(note(f"{ENT}/G-{n}"))
            futures.append(f)
        assert not any(f.done() for f in futures)
        release.set()
        assert first.result(10) == "first"
        assert [f.result(10) for f in futures] == [f"{ENT}/G-{n}" for n in range(100)]
    finally:
        committer.close()
    assert commits == [1, 100]
    assert seen_at_answer[f"{ENT}/FIRST"] == (1, True)
    for n in range(100):
        assert seen_at_answer[f"{ENT}/G-{n}"] == (2, True)  # answered only once its commit was durable


def test_prepared_writes_are_built_on_the_writer_and_grouped_by_weight(store):
    """A prepared write's operation is built on the writer thread; a preparation that fails or finds
    nothing to write answers that write alone; a heavy write does not share its group with the next."""
    commits: list[int] = []
    committer = GroupCommitter(store, max_weight=100, on_commit=lambda n, secs: commits.append(n))
    started, release = threading.Event(), threading.Event()
    threads: list[str] = []

    def blocker(tx):
        started.set()
        assert release.wait(10)

    def prepared(handle: str):
        def prepare():
            threads.append(threading.current_thread().name)
            return put_op(handle, [url("https://e.x/p")])
        return prepare

    def refuses():
        raise ValueError("the body is not a batch")

    try:
        committer.submit(blocker)
        assert started.wait(10)
        heavy = committer.submit_prepared(prepared(f"{ENT}/HEAVY"), weight=100)  # fills a group by itself
        bad = committer.submit_prepared(refuses, weight=1)
        empty = committer.submit_prepared(lambda: None, weight=1)
        light = [committer.submit_prepared(prepared(f"{ENT}/L-{n}"), weight=1) for n in range(3)]
        plain = committer.submit(put_op(f"{ENT}/PLAIN", [url("https://e.x/plain")]))
        release.set()
        assert heavy.result(10) == f"{ENT}/HEAVY"
        with pytest.raises(ValueError, match="not a batch"):
            bad.result(10)
        assert empty.result(10) is NOTHING_WRITTEN
        assert [f.result(10) for f in light] == [f"{ENT}/L-{n}" for n in range(3)]
        assert plain.result(10) == f"{ENT}/PLAIN"
    finally:
        committer.close()
    assert commits == [1, 1, 4]  # the blocker; the heavy write alone; the three light ones and the plain one
    assert set(threads) == {"idnode-group-commit"}
    with store.read() as tx:
        assert tx.count_handles(ENT) == 5
        assert [op for _, (op, *_rest) in all_changes(store)] == ["put"] * 5


def test_a_failing_op_is_rolled_back_alone(store):
    def failing(tx):
        tx.put_handle(f"{ENT}/HALF", [url("https://e.x/half")], old=None, who="t", now=1)
        raise ValueError("refused half-way")

    results = run_group(store, [put_op(f"{ENT}/A", [url("https://e.x/a")]), failing,
                                put_op(f"{ENT}/B", [url("https://e.x/b")])])
    assert [ok for ok, _ in results] == [True, False, True]
    assert isinstance(results[1][1], ValueError) and str(results[1][1]) == "refused half-way"
    with store.read() as tx:
        assert tx.get_handle(f"{ENT}/A") is not None and tx.get_handle(f"{ENT}/B") is not None
        assert tx.get_handle(f"{ENT}/HALF") is None
        assert tx.count_handles(ENT) == 2  # the failed op's count bump went with it
    seqs = [s for s, _ in all_changes(store)]
    assert seqs == [1, 2]  # and its change-log entry: no gap, no ghost


def test_a_failing_op_through_the_committer_fails_only_its_own_future(store):
    committer = GroupCommitter(store)
    started, release = threading.Event(), threading.Event()

    def gate(tx):
        started.set()
        release.wait(10)

    def failing(tx):
        tx.put_handle(f"{ENT}/BAD", [url("https://e.x/bad")], old=None, who="t", now=1)
        raise KeyError("nope")

    try:
        committer.submit(gate)
        assert started.wait(10)
        good1 = committer.submit(put_op(f"{ENT}/OK-1", [url("https://e.x/1")]))
        bad = committer.submit(failing)
        good2 = committer.submit(put_op(f"{ENT}/OK-2", [url("https://e.x/2")]))
        release.set()
        assert good1.result(10) == f"{ENT}/OK-1" and good2.result(10) == f"{ENT}/OK-2"
        with pytest.raises(KeyError):
            bad.result(10)
    finally:
        committer.close()
    with store.read() as tx:
        assert tx.get_handle(f"{ENT}/BAD") is None and tx.count_handles(ENT) == 2


def test_close_finishes_what_was_submitted(store):
    committer = GroupCommitter(store)
    futures = [committer.submit(put_op(f"{ENT}/C-{n}", [url("https://e.x/c")])) for n in range(500)]
    committer.close()
    assert all(f.done() and f.exception() is None for f in futures)
    late = committer.submit(put_op(f"{ENT}/LATE", [url("https://e.x/late")]))
    with pytest.raises(RuntimeError):
        late.result(1)
    with store.read() as tx:
        assert tx.count_handles(ENT) == 500 and tx.get_handle(f"{ENT}/LATE") is None


# --- several processes on one environment ----------------------------------------------------------------

def _writer(path: str, tag: str, groups: int, per_group: int) -> None:
    store = Store(path, map_size=64 * 1024)
    try:
        for g in range(groups):
            ops = [put_op(f"{ENT}/{tag}-{g:03d}-{n:03d}", [url(f"https://e.x/{tag}/{g}/{n}")])
                   for n in range(per_group)]
            assert all(ok for ok, _ in run_group(store, ops))
    finally:
        store.close()


def _read_only_summary(path: str, queue) -> None:
    store = Store(path, readonly=True)
    try:
        with store.read() as tx:
            queue.put((tx.count_handles(ENT), tx.total_handles(), tx.last_seq()))
    finally:
        store.close()


def test_two_processes_writing_one_environment_lose_nothing(tmp_path):
    path = str(tmp_path / "data")
    Store(path, map_size=64 * 1024).close()  # the environment itself starts tiny, so they must grow it
    ctx = multiprocessing.get_context("spawn")
    groups, per_group = 40, 50
    procs = [ctx.Process(target=_writer, args=(path, tag, groups, per_group)) for tag in ("P1", "P2")]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
    assert [p.exitcode for p in procs] == [0, 0]

    expected = {f"{ENT}/{tag}-{g:03d}-{n:03d}" for tag in ("P1", "P2") for g in range(groups) for n in range(per_group)}
    store = Store(path)
    try:
        with store.read() as tx:
            assert {r.handle for r in tx.iter_records(ENT)} == expected
            assert tx.count_handles(ENT) == len(expected) == 4000
            changes = tx.changes(0, 10**6)
        assert store.map_use()[1] > 64 * 1024
        assert [s for s, _ in changes] == list(range(1, 4001))  # one sequence, no entry lost or doubled
        assert {c[1].decode() for _, c in changes} == {h.lower() for h in expected}
    finally:
        store.close()

    # Another process can read it all through a read-only environment.
    queue = ctx.Queue()
    reader = ctx.Process(target=_read_only_summary, args=(path, queue))
    reader.start()
    summary = queue.get(timeout=60)
    reader.join(60)
    assert summary == (4000, 4000, 4000)


# --- change log and counts -----------------------------------------------------------------------------------

def test_change_log_has_one_entry_per_mutation_in_order(store):
    h = f"{ENT}/LOG"
    steps = [
        put_op(h, [url("https://e.x/1")]),                        # create
        put_op(h, [url("https://e.x/2")]),                        # replace
        put_op(f"{ENT}/OTHER", [url("https://e.x/o")]),           # create
        delete_op(h),                                             # delete
        delete_op(f"{ENT}/NEVER"),                                # nothing to delete: no entry
        lambda tx: tx.put_prefix({"prefix": "88.101.9", "state": "enabled"}, who="t", now=2),
        lambda tx: tx.put_template({"prefix": ENT, "version": "1", "fields": []}, who="t", now=3),
        lambda tx: tx.delete_template(ENT, "1", who="t", now=4),
        lambda tx: tx.delete_template(ENT, "1", who="t", now=5),  # already gone: no entry
        lambda tx: tx.delete_prefix("88.101.9", who="t", now=6),
    ]
    for op in steps:  # each in its own commit
        assert run_group(store, [op])[0][0]
    # And several mutations inside one commit.
    assert all(ok for ok, _ in run_group(store, [put_op(f"{ENT}/G{n}", [url("https://e.x/g")]) for n in range(3)]))

    changes = all_changes(store)
    assert [s for s, _ in changes] == list(range(1, len(changes) + 1))
    assert [(c[0], c[1]) for _, c in changes] == [
        ("put", b"88.101.5/log"), ("put", b"88.101.5/log"), ("put", b"88.101.5/other"), ("del", b"88.101.5/log"),
        ("prefix", b"88.101.9"), ("template", b"88.101.5\x001"), ("template-del", b"88.101.5\x001"),
        ("prefix-del", b"88.101.9"), ("put", b"88.101.5/g0"), ("put", b"88.101.5/g1"), ("put", b"88.101.5/g2")]
    assert changes[0][1][3] == "test" and changes[5][1][4] == 3  # who and when
    with store.read() as tx:
        assert tx.last_seq() == len(changes)
        assert [s for s, _ in tx.changes(9, 2)] == [10, 11]  # paging from a sequence


def test_counts_per_prefix_through_create_replace_delete(store):
    def count(prefix: str) -> int:
        with store.read() as tx:
            return tx.count_handles(prefix)

    def do(*ops):
        results = run_group(store, list(ops))
        assert all(ok for ok, _ in results), results

    do(put_op(f"{ENT}/abc", [url("https://e.x/1")]))
    assert count(ENT) == 1
    do(put_op(f"{ENT}/abc", [url("https://e.x/2")]))         # replace
    do(put_op(f"{ENT}/ABC", [url("https://e.x/3")]))         # same handle, other case
    assert count(ENT) == 1
    with store.read() as tx:
        assert tx.get_handle(f"{ENT}/Abc").handle == f"{ENT}/abc"  # the first spelling is kept
    do(put_op(f"{ENT}/def", [url("https://e.x/d")]), put_op(f"{ENT}.1/sub", [url("https://e.x/s")]))
    assert (count(ENT), count(f"{ENT}.1"), count("88.101.6")) == (2, 1, 0)
    assert count("88.101.5".upper()) == 2  # prefixes compare without case
    do(delete_op(f"{ENT}/ABC"))
    do(delete_op(f"{ENT}/abc"))                               # already gone
    assert count(ENT) == 1
    do(delete_op(f"{ENT}/def"), delete_op(f"{ENT}.1/sub"))
    assert (count(ENT), count(f"{ENT}.1")) == (0, 0)
    with store.read() as tx:
        assert tx.total_handles() == 0


def test_secret_key_index_follows_hs_seckey_values(store):
    na = "0.NA/88.101.5"
    sec = HandleValue(300, HS_SECKEY, b"scrypt:verifier-1", timestamp=1)
    assert run_group(store, [put_op(na, [sec])])[0][0]
    with store.read() as tx:
        assert tx.get_verifier(300, "0.na/88.101.5") == b"scrypt:verifier-1"
    assert run_group(store, [put_op(na, [HandleValue(300, HS_SECKEY, b"scrypt:verifier-2", timestamp=1)])])[0][0]
    with store.read() as tx:
        assert tx.get_verifier(300, na) == b"scrypt:verifier-2"
    assert run_group(store, [put_op(na, [url("https://e.x/")])])[0][0]  # the secret value removed
    with store.read() as tx:
        assert tx.get_verifier(300, na) is None
    assert run_group(store, [put_op(na, [sec]), delete_op(na)])[0][0]
    with store.read() as tx:
        assert tx.get_verifier(300, na) is None


def test_records_round_trip_every_field(store):
    v = HandleValue(7, "BLOB", b"\x00\xff", ttl=60, ttl_type=1, timestamp=1_700_000_000, permissions=0x0C,
                    references=(("88.101.5/REF", 3),), fmt="hex")
    assert run_group(store, [put_op(f"{ENT}/RT", [v])])[0][0]
    with store.read() as tx:
        assert tx.get_handle(f"{ENT}/RT").values == [v]
