"""Everything acknowledged before a stop is there after a restart, with the acknowledged values."""

from __future__ import annotations

import asyncio
import random
import signal
import threading

import pytest
import requests

from tests.crashload import Ledger, Writer, check, listed, write_until_killed
from tests.nodes import LONG, Node, idnode

H = {"Content-Type": "application/json"}


def _writers(node: Node, owner: dict, acked: dict, n_threads: int = 8, per_thread: int = 40) -> None:
    """Concurrent single PUTs and batches; record what the node acknowledged."""
    lock = threading.Lock()

    def single(t: int) -> None:
        s = requests.Session()
        for i in range(per_thread):
            h = f"88.101.5/RST-{t}-{i}"
            url = f"https://example.com/{t}/{i}"
            r = s.put(node.api(h), json=[{"index": 1, "type": "URL", "data": url}], headers={**H, **owner})
            if r.status_code == 201:
                with lock:
                    acked[h] = url

    def batch(t: int) -> None:
        s = requests.Session()
        for b in range(3):
            ops = [{"op": "create", "handle": f"88.101.5/RSB-{t}-{b}-{i}",
                    "values": [{"index": 1, "type": "URL", "data": f"https://example.com/b/{t}/{b}/{i}"}]}
                   for i in range(200)]
            r = s.post(f"{node.url}/api/batch", json={"operations": ops}, headers={**H, **owner})
            if r.status_code == 200:
                with lock:
                    for op, res in zip(ops, r.json()["results"], strict=True):
                        if res["responseCode"] == 1:
                            acked[op["handle"]] = op["values"][0]["data"]

    threads = [threading.Thread(target=single if t % 2 else batch, args=(t,)) for t in range(n_threads)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()


def _check(node: Node, acked: dict) -> None:
    s = requests.Session()
    missing = []
    for h, url in acked.items():
        r = s.get(node.api(h), params={"type": "URL"})
        if r.status_code != 200 or r.json()["values"][0]["data"]["value"] != url:
            missing.append((h, r.status_code))
    assert not missing, f"{len(missing)} acknowledged writes lost, e.g. {missing[:5]}"


def test_acknowledged_writes_survive_graceful_restart(node, auth):
    acked: dict[str, str] = {}
    _writers(node, auth["owner"], acked)
    assert len(acked) > 1000
    node.restart()
    _check(node, acked)
    listing = requests.get(f"{node.url}/api/handles", params={"prefix": "88.101.5", "pageSize": 1},
                           headers=auth["owner"]).json()
    assert int(listing["totalCount"]) == len(acked)


def test_acknowledged_writes_survive_kill_9(node, auth):
    acked: dict[str, str] = {}
    _writers(node, auth["owner"], acked, n_threads=4, per_thread=25)
    assert node.stop(signal.SIGKILL) == -signal.SIGKILL
    node.start()
    _check(node, acked)
    # Prefix configuration and credentials survive too.
    r = requests.put(node.api("88.101.5/AFTER-KILL"), json=[{"index": 1, "type": "URL", "data": "https://x.example/"}],
                     headers={**H, **auth["owner"]})
    assert r.status_code == 201


def _kill_repeatedly(node: Node, owner: dict, kills: int, write_for: tuple[float, float], seed: int,
                     sample_size: int = 5000) -> Ledger:
    """``kills`` rounds: 16 single writers and 8 batch writers, SIGKILL after a random time, restart
    straight away (no repair step), check every handle written in the round and the prefix counter."""
    rng = random.Random(seed)
    ledger = Ledger()
    writers = [Writer(n, "batch" if n % 3 == 2 else "single", ledger, random.Random(rng.random()), owner)
               for n in range(24)]
    for round_ in range(kills):
        proc = node.proc

        def kill(proc=proc) -> None:
            proc.send_signal(signal.SIGKILL)

        asyncio.run(write_until_killed(node.url, writers, kill, rng.uniform(*write_for)))
        assert proc.wait(10) == -signal.SIGKILL
        node.proc = None
        assert not ledger.refusals, f"seed {seed}, round {round_}: a live node refused writes: {ledger.refusals[:5]}"
        node.start()
        touched, ledger.touched = ledger.touched, set()
        problems = asyncio.run(check(node.url, ledger, touched, owner))
        assert not problems, (f"seed {seed}, round {round_}: {len(problems)} acknowledged writes differ after "
                              f"kill -9, e.g. {problems[:5]}")
    # Last, what earlier rounds settled must still hold: the set of handles listed is exactly the set
    # stored, and a sample of them (all of them in the long form) still has its values.
    present = {h for h, t in ledger.known.items() if t is not None}
    stored = asyncio.run(listed(node.url, owner))
    assert stored == present, (f"seed {seed}: lost {sorted(present - stored)[:5]}, "
                               f"resurrected {sorted(stored - present)[:5]}")
    everything = sorted(ledger.known)
    sample = set(everything if len(everything) <= sample_size else rng.sample(everything, sample_size))
    problems = asyncio.run(check(node.url, ledger, sample, owner))
    assert not problems, f"seed {seed}: after {kills} kills: {problems[:5]}"
    # What a killed node leaves needs no repair: counters and indexes agree with the records.
    assert node.stop(signal.SIGKILL) == -signal.SIGKILL
    verified = idnode("verify", "--data", str(node.data), check=False)
    assert verified.returncode == 0, f"seed {seed}: {verified.stdout}"
    return ledger


def test_acknowledged_writes_survive_repeated_kills_under_load(node, auth):
    """8 kills (20 with IDNODE_SLOW=1; the 200-kill soak below is the long form's own)."""
    seed = random.randrange(1 << 30)
    kills = 20 if LONG else 8
    ledger = _kill_repeatedly(node, auth["owner"], kills=kills, write_for=(0.3, 1.0), seed=seed)
    assert ledger.acks > 100 * kills, f"seed {seed}: only {ledger.acks} acknowledged writes; the test proves little"


@pytest.mark.slow
def test_acknowledged_writes_survive_200_kills_under_load(node, auth):
    seed = random.randrange(1 << 30)
    ledger = _kill_repeatedly(node, auth["owner"], kills=200, write_for=(0.2, 4.0), seed=seed,
                              sample_size=10**9)
    assert ledger.acks > 100_000, f"seed {seed}: only {ledger.acks} acknowledged writes"
