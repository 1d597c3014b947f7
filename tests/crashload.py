"""Writers that keep a node busy until it is killed, and a ledger of what it acknowledged.

Each handle is owned by one writer task, which sends one request at a time, so a handle has at most
one write whose outcome is unknown (the one in flight when the node died). The ledger keeps, per
handle, the last acknowledged state (the values' token, or None for absent) and that one uncertain
attempt; after a restart the stored state must be the acknowledged one or, for the uncertain
handle, the attempted one.
"""

from __future__ import annotations

import asyncio
import random
import threading
from dataclasses import dataclass, field

import aiohttp

PREFIX = "88.101.5"
H = {"Content-Type": "application/json"}
TIMEOUT = aiohttp.ClientTimeout(total=20)


def record_values(token: str) -> list[dict]:
    """Two values, both carrying ``token``: a write is checked whole, not just its first value."""
    return [{"index": 1, "type": "URL", "data": f"https://crash.example/{token}"},
            {"index": 2000, "type": "note", "data": token}]


def token_of(body: dict) -> str | None:
    """The token of a stored record, or a mark that its values are not a pair written here."""
    vals = {v["index"]: v["data"]["value"] for v in body["values"]}
    token = vals.get(2000)
    if token is None or vals.get(1) != f"https://crash.example/{token}":
        return f"<torn: {vals}>"
    return token


@dataclass
class Ledger:
    known: dict[str, str | None] = field(default_factory=dict)  # handle -> acknowledged token, None = absent
    uncertain: dict[str, str | None] = field(default_factory=dict)  # handle -> attempted token (None: delete)
    touched: set[str] = field(default_factory=set)  # handles written since the last check
    log: list[tuple[str, str | None]] = field(default_factory=list)  # every attempt, in order
    acks: int = 0
    refusals: list[str] = field(default_factory=list)  # answers other than success from a live node

    def ack(self, h: str, token: str | None) -> None:
        self.known[h] = token
        self.touched.add(h)
        self.acks += 1

    def attempt(self, h: str, token: str | None) -> None:
        self.log.append((h, token))
        self.uncertain[h] = token
        self.touched.add(h)

    def present(self) -> int:
        return sum(1 for t in self.known.values() if t is not None)


class Writer:
    """One task: single PUTs and DELETEs, or batches, on handles of its own."""

    def __init__(self, n: int, kind: str, ledger: Ledger, rng: random.Random, owner: dict, batch_size: int = 16):
        self.n, self.kind, self.ledger, self.rng = n, kind, ledger, rng
        self.owner = {**H, **owner}
        self.batch_size = batch_size
        self.mine: list[str] = []  # handles this writer created (present or not)
        self.next = 0
        self.round = 0

    def _new_handle(self) -> str:
        self.next += 1
        h = f"{PREFIX}/CR-{self.n}-{self.next}"
        self.mine.append(h)
        return h

    def _token(self, h: str) -> str:
        self.round += 1
        return f"{h.rsplit('/', 1)[1]}.{self.round}"

    async def run(self, session: aiohttp.ClientSession, url: str, stop: threading.Event | None = None) -> None:
        """Write until the node stops answering (or ``stop`` is set)."""
        try:
            while stop is None or not stop.is_set():
                if self.kind == "batch":
                    await self._batch(session, url)
                else:
                    await self._single(session, url)
        except (TimeoutError, aiohttp.ClientError, ConnectionError):
            return

    async def _single(self, session: aiohttp.ClientSession, url: str) -> None:
        r = self.rng.random()
        if r < 0.7 or not self.mine:
            h, op = self._new_handle(), "put"
        else:
            h, op = self.rng.choice(self.mine), "put" if r < 0.9 else "delete"
        token = self._token(h) if op == "put" else None
        self.ledger.attempt(h, token)
        if op == "put":
            resp = await session.put(f"{url}/api/handles/{h}", json=record_values(token), headers=self.owner)
        else:
            resp = await session.delete(f"{url}/api/handles/{h}", headers=self.owner)
        async with resp:
            body = await resp.json(content_type=None)
        ok = resp.status in (200, 201) and body.get("responseCode") == 1
        if op == "delete" and resp.status == 404 and self.ledger.known.get(h) is None:
            ok = True  # deleting what is absent leaves it absent; absent when it was acknowledged is a loss
        if ok:
            del self.ledger.uncertain[h]
            self.ledger.ack(h, token)
        else:
            self.ledger.refusals.append(f"{op} {h}: {resp.status} {body}")

    async def _batch(self, session: aiohttp.ClientSession, url: str) -> None:
        ops, seen = [], set()
        for _ in range(self.batch_size):
            r = self.rng.random()
            if r < 0.75 or not self.mine:
                h, op = self._new_handle(), "create"
            else:
                h, op = self.rng.choice(self.mine), "put" if r < 0.93 else "delete"
                if h in seen:
                    continue  # one operation per handle in a batch: its outcome is then clear
            seen.add(h)
            token = self._token(h) if op != "delete" else None
            item = {"op": op, "handle": h}
            if token is not None:
                item["values"] = record_values(token)
            ops.append((item, token))
        for item, token in ops:
            self.ledger.attempt(item["handle"], token)
        async with session.post(f"{url}/api/batch", json={"operations": [i for i, _ in ops]},
                                headers=self.owner) as resp:
            body = await resp.json(content_type=None)
        if resp.status != 200:
            self.ledger.refusals.append(f"batch: {resp.status} {body}")
            return
        for (item, token), res in zip(ops, body["results"], strict=True):
            h = item["handle"]
            if res.get("result") == "absent" and self.ledger.known.get(h) is not None:
                self.ledger.refusals.append(f"delete {h}: absent, but its write was acknowledged")
            elif res["responseCode"] == 1:
                del self.ledger.uncertain[h]
                self.ledger.ack(h, token)
            else:
                self.ledger.refusals.append(f"{item['op']} {h}: {res}")


async def write_until_killed(url: str, writers: list[Writer], kill, after: float) -> None:
    """Run every writer against ``url``; call ``kill()`` after ``after`` seconds; return once all stopped."""
    conn = aiohttp.TCPConnector(limit=len(writers) + 4)
    async with aiohttp.ClientSession(connector=conn, timeout=TIMEOUT) as session:
        tasks = [asyncio.create_task(w.run(session, url)) for w in writers]
        await asyncio.sleep(after)
        kill()
        await asyncio.gather(*tasks)


async def write_until_stopped(url: str, writers: list[Writer], stop: threading.Event) -> None:
    """Run every writer against ``url`` until ``stop`` is set (from another thread)."""
    conn = aiohttp.TCPConnector(limit=len(writers) + 4)
    async with aiohttp.ClientSession(connector=conn, timeout=TIMEOUT) as session:
        await asyncio.gather(*(w.run(session, url, stop) for w in writers))


async def stored_tokens(url: str, handles: set[str]) -> tuple[dict[str, str | None], list[str]]:
    """What the node answers for each handle: its token, or None when absent; and odd answers."""
    out: dict[str, str | None] = {}
    odd: list[str] = []
    sem = asyncio.Semaphore(16)

    async def one(session: aiohttp.ClientSession, h: str) -> None:
        async with sem, session.get(f"{url}/api/handles/{h}") as resp:
            body = await resp.json(content_type=None)
        if resp.status == 404:
            out[h] = None
        elif resp.status == 200:
            out[h] = token_of(body)
        else:
            odd.append(f"{h}: answered {resp.status} {body}")

    async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
        await asyncio.gather(*(one(session, h) for h in handles))
    return out, odd


async def prefix_total(url: str, owner: dict) -> int:
    """The prefix's handle counter, as the listing reports it."""
    async with aiohttp.ClientSession(timeout=TIMEOUT) as session, session.get(
            f"{url}/api/handles", params={"prefix": PREFIX, "pageSize": "1"}, headers=owner) as resp:
        return int((await resp.json())["totalCount"])


async def check(url: str, ledger: Ledger, handles: set[str], owner: dict) -> list[str]:
    """Compare the node's answers with the ledger for ``handles``; settle the uncertain ones to what is
    stored. Returns the discrepancies."""
    stored, problems = await stored_tokens(url, handles)
    for h, token in stored.items():
        allowed = {ledger.known.get(h)}
        if h in ledger.uncertain:
            allowed.add(ledger.uncertain[h])
        if token not in allowed:
            problems.append(f"{h}: stored {token!r}, acknowledged {ledger.known.get(h)!r}"
                            + (f" or attempted {ledger.uncertain[h]!r}" if h in ledger.uncertain else ""))
            continue
        ledger.known[h] = token
        ledger.uncertain.pop(h, None)
    total = await prefix_total(url, owner)
    if not problems and total != ledger.present():
        problems.append(f"the prefix counter says {total} handles; {ledger.present()} are stored")
    return problems


async def listed(url: str, owner: dict, page_size: int = 10_000) -> set[str]:
    """Every handle the node lists under the prefix."""
    out: set[str] = set()
    async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
        page = 0
        while True:
            async with session.get(f"{url}/api/handles", headers=owner,
                                   params={"prefix": PREFIX, "page": str(page), "pageSize": str(page_size)}) as resp:
                handles = (await resp.json())["handles"]
            out.update(handles)
            if len(handles) < page_size:
                return out
            page += 1
