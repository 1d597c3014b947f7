"""The audit trail: every attempt to change the node, allowed or denied, durably recorded.

A transport builds a ``Caller`` for each request (protocol and client address; the operation and
target where it knows them) and passes it to the service operations it calls (``caller=``). The
service makes an ``Attempt`` of it where it authenticates or mutates, the record of how far that
got (identity claimed or proved, op, target, details), and passes it along to what records it.
What happens is recorded once:

- an **allowed** mutation is recorded in the same LMDB transaction as the mutation itself
  (``Core.write`` wraps the operation), so there is no change without its audit entry and no
  entry for a change that did not commit;
- a **denied** one (authentication failed, not permitted, bad input, conflict, locked out) goes
  through the group committer as a separate write, batched with the other refusals of the moment.
  Refusals cost the caller nothing, so they are capped per client address and overall each second;
  what is over the cap is counted and recorded as one summary entry per address, so a flood of bad
  requests cannot turn into a flood of writes, and the trail still says it happened.

Entries are dicts (msgpack in LMDB, ``storage/audit.py``): ``t`` (ms since the epoch), ``protocol``
(``http``, ``https``, ``udp``, ``tcp``, ``cli``), ``client``, ``identity`` (as claimed: for a failed
authentication it is who the caller said it was), ``authenticated``, ``op``, ``target``,
``result`` (``allowed``, ``denied``, or ``partial`` for a batch with both), ``rc``, ``message``,
and per operation: ``outcome`` (created, replaced …), ``prefixes``, ``succeeded``/``failed`` and
``failures`` (a batch), ``dropped`` (a summary of refusals not recorded one by one).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from functools import wraps

from protocol.codes import RC, HandleError
from storage import GroupCommitter, Tx
from storage.commit import Prepare

from .credentials import Identity

log = logging.getLogger("idnode.audit")

MAX_MESSAGE = 300  # characters of a refusal's message kept in its entry
MAX_FAILURES = 10  # a batch's refused items listed in its entry (all are counted)
MAX_SUMMARIES = 100  # addresses given their own "dropped" summary per second; the rest share one
DEFAULT_PER_CLIENT = 20  # refusals recorded per client address per second
DEFAULT_PER_SECOND = 1000  # refusals recorded per second in all


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is asking, from where, to do what: built once per request by its transport and passed to
    every service operation that authenticates, authorizes or audits (``caller=``).

    ``op`` and ``target`` are what the request names, where the transport knows it (a route, a
    challenged request); ``mutating``: whether a refusal of it is recorded (a failed authentication
    always is)."""

    protocol: str  # http, https, udp, tcp, http-handle, https-handle, console, cli, internal
    client: str | None  # the address it comes from ("local" for the CLI)
    op: str | None = None
    target: str | None = None
    mutating: bool = False

    def doing(self, op: str | None, target: str | None, mutating: bool) -> Caller:
        """The same caller, once what it asks for is known (a challenge answered, a session's request)."""
        return replace(self, op=op, target=target, mutating=mutating)


INTERNAL = Caller("internal", None)  # the node's own work, and a service called without a transport
CLI = Caller("cli", "local")


@dataclass(slots=True)
class Attempt:
    """How far one operation of a caller got: made by the service from the ``Caller`` (``of``) where
    it authenticates or mutates, and passed along explicitly to what records it."""

    caller: Caller
    op: str | None = None
    target: str | None = None
    identity: str | None = None
    authenticated: bool = False
    mutating: bool = True  # refusals are recorded for mutations; failed authentication always
    recorded: bool = False
    extra: dict = field(default_factory=dict)
    # For a batch: how its result reads as a verdict ("allowed", "denied", "partial") and details.
    summarize: Callable[[object], tuple[str, dict]] | None = None

    @classmethod
    def of(cls, caller: Caller, *, op: str | None = None, identity: object = None,
           authenticated: bool = False, mutating: bool | None = None) -> Attempt:
        """An attempt of ``caller`` (``op`` or the one it names); ``identity`` as claimed, or proved
        (``authenticated``)."""
        return cls(caller, op or caller.op, caller.target, None if identity is None else str(identity), authenticated,
                   caller.mutating if mutating is None else mutating)

    @property
    def protocol(self) -> str:
        return self.caller.protocol

    @property
    def client(self) -> str | None:
        return self.caller.client

    def note(self, **fields: object) -> None:
        """Add what the service learns (the prefix allocated, a batch's prefixes) to this attempt."""
        for k, v in fields.items():
            if k in ("target", "identity"):
                setattr(self, k, v)
            else:
                self.extra[k] = v


def is_recorded(err: BaseException) -> bool:
    """Whether a refusal has had its verdict (recorded, or deliberately not) where it was raised: the
    adapter that answers it does not record it again."""
    return getattr(err, "_audited", False)


def _service(holder):
    """The service a mutation runs on: an operation group's, or the service itself (a module function
    of reports/ taking it first)."""
    return getattr(holder, "svc", holder)


def mutation(op: str, *, target: int | None = None):
    """Mark a service method as a mutation named ``op``: called with ``caller=`` (the node's own
    work if none), it runs under an ``Attempt`` of that caller, given to the method after ``self``;
    its success is recorded with its write and its refusal through ``denied``. ``target``: the
    position of the argument naming what it acts on."""

    def deco(fn):
        @wraps(fn)
        async def wrapped(self, *args, caller: Caller = INTERNAL, **kw):
            att = Attempt.of(caller, op=op, mutating=True)
            if target is not None and len(args) > target and isinstance(args[target], str):
                att.target = args[target]
            who = kw.get("identity") or next((a for a in args if isinstance(a, Identity)), None)
            if who is not None:
                att.identity, att.authenticated = str(who), True
            try:
                result = await fn(self, att, *args, **kw)
            except HandleError as e:
                await _service(self).audit.denied(att, e)
                raise
            if not att.recorded:  # nothing was written (a batch whose every item was refused before)
                await _service(self).audit.outside(att, result)
            return result

        return wrapped

    return deco


def _verdict(att: Attempt, result: object) -> tuple[str, dict]:
    if att.summarize is not None:
        return att.summarize(result)
    return "allowed", ({"outcome": result} if isinstance(result, str) else {})


class AuditLog:
    """Builds entries and writes them: allowed ones inside the mutation's transaction, refusals in
    batches through the group committer, within a cap per client address and per second."""

    def __init__(self, committer: GroupCommitter, clock: Callable[[], float] = time.time):
        self.committer = committer
        self.clock = clock
        self.per_client = DEFAULT_PER_CLIENT
        self.per_second = DEFAULT_PER_SECOND
        self.dropped_total = 0  # refusals not recorded one by one since start (metrics, tests)
        self._lock = threading.Lock()  # the buffer is filled on the event loop and drained by the writer
        self._buffer: list[dict] = []
        self._flush: Future | None = None
        self._second = -1
        self._counts: dict[str | None, int] = {}
        self._total = 0
        self._dropped: dict[str | None, int] = {}
        self._summary_due = False

    def configure(self, *, per_client: int, per_second: int) -> None:
        self.per_client = per_client
        self.per_second = per_second

    def entry(self, att: Attempt, result: str, rc: int, message: str | None = None, extra: dict | None = None) -> dict:
        """One entry; ``extra`` (an operation's details) may override ``rc`` and ``message``."""
        e = {"t": int(self.clock() * 1000), "protocol": att.protocol, "client": att.client,
             "identity": att.identity, "authenticated": att.authenticated, "op": att.op, "target": att.target,
             "result": result, "rc": int(rc)}
        if message:
            e["message"] = message
        if att.extra:
            e.update(att.extra)
        if extra:
            e.update(extra)
        if "message" in e:
            e["message"] = e["message"][:MAX_MESSAGE]
        return e

    # --- allowed: in the mutation's own transaction ------------------------------------------------
    def recording(self, att: Attempt, prepare: Prepare) -> Prepare:
        """``prepare``, whose operation (when it has one) is followed in its transaction by the entry
        that records it (rolled back with it)."""

        def prepared() -> Callable[[Tx], object] | None:
            op = prepare()
            if op is None:
                return None

            def audited(tx: Tx) -> object:
                result = op(tx)
                verdict, extra = _verdict(att, result)
                tx.put_audit(self.entry(att, verdict, RC.SUCCESS, extra=extra))
                return result

            return audited

        return prepared

    async def outside(self, att: Attempt, result: object) -> None:
        """Record a mutation that completed without writing through ``Core.write`` (a batch
        whose every item was refused before; an operation that commits by itself)."""
        verdict, extra = _verdict(att, result)
        att.recorded = True
        entry = self.entry(att, verdict, RC.SUCCESS, extra=extra)
        if verdict == "denied":
            await self._write(entry, att.client)  # refusals are capped
        else:
            await self._wait(self._queue([entry]))

    # --- denied: batched, capped -------------------------------------------------------------------
    async def denied(self, att: Attempt, err: HandleError, *, authentication: bool = False) -> None:
        """Record a refusal once: a mutation's, or a failed authentication (for reads too). The error
        is marked (``is_recorded``) either way: whoever answers it does not record it again."""
        if is_recorded(err):
            return
        try:
            err._audited = True  # type: ignore[attr-defined]
        except AttributeError:  # an error that takes no attribute: answered once anyway
            pass
        if (att.recorded or not (att.mutating or authentication) or err.rc in _NO_VERDICT
                or getattr(err, "redirect_to", None) or err.status in (503, 507)):
            # Load shed and rate limits are counted in the metrics, not audited; a referral or redirect (to
            # a mirror's primary, or to the server of this site that holds the handle) is no verdict, nor is
            # storage that cannot take a write (full or failing: the node's problem, not the caller's).
            return
        att.recorded = True
        await self._write(self.entry(att, "denied", err.rc, err.message), att.client)

    async def refused(self, caller: Caller, err: HandleError, identity: object = None) -> None:
        """``denied`` for a refusal an adapter answers (unless the service had its verdict already):
        ``identity``, when the caller had proved one."""
        if not is_recorded(err):
            await self.denied(Attempt.of(caller, identity=identity, authenticated=identity is not None), err)

    async def _write(self, entry: dict, client: str | None) -> None:
        if not self._admit(client):
            return
        await self._wait(self._queue([entry]))

    @staticmethod
    async def _wait(fut: Future) -> None:
        try:
            await asyncio.wrap_future(fut)
        except Exception as e:  # the store is closing, or full: the answer still goes out
            log.warning("audit entry not recorded: %s", e)

    def _admit(self, client: str | None) -> bool:
        second = int(time.monotonic())
        if second != self._second:
            self._second, self._total = second, 0
            self._counts.clear()
        n = self._counts.get(client, 0)
        if n >= self.per_client or self._total >= self.per_second:
            self._dropped[client] = self._dropped.get(client, 0) + 1
            self.dropped_total += 1
            if not self._summary_due:
                self._summary_due = True
                asyncio.get_running_loop().call_later(1.0, self._summarize_dropped)
            return False
        self._counts[client] = n + 1
        self._total += 1
        return True

    def _summarize_dropped(self) -> None:
        """One entry per address (the first MAX_SUMMARIES of them; the rest in one) for the refusals
        of the last second that were over the cap."""
        self._summary_due = False
        dropped, self._dropped = self._dropped, {}
        entries = []
        rest_clients = rest = 0
        for n, (client, count) in enumerate(sorted(dropped.items(), key=lambda kv: -kv[1])):
            if n >= MAX_SUMMARIES:
                rest_clients += 1
                rest += count
                continue
            entries.append(self._summary(client, count, f"{count} more refusals from {client} were not recorded "
                                         f"one by one (over {self.per_client} a second per address or "
                                         f"{self.per_second} a second in all)"))
        if rest:
            entries.append(self._summary(None, rest, f"{rest} more refusals from {rest_clients} other addresses "
                                         "were not recorded one by one"))
        if entries:
            self._queue(entries)  # nobody waits for these

    def _summary(self, client: str | None, count: int, message: str) -> dict:
        return {"t": int(self.clock() * 1000), "protocol": None, "client": client, "identity": None,
                "authenticated": False, "op": "dropped", "target": None, "result": "denied",
                "rc": int(RC.SERVER_TOO_BUSY), "message": message, "dropped": count}

    def _queue(self, entries: list[dict]) -> Future:
        """Add to the refusals waiting for the writer; one pending write takes all that arrive before
        it runs."""
        with self._lock:
            self._buffer.extend(entries)
            if self._flush is None:
                self._flush = self.committer.submit(_Drain(self))
            return self._flush

    def _take(self) -> list[dict]:
        with self._lock:
            items, self._buffer = self._buffer, []
            self._flush = None
            return items


_NO_VERDICT = frozenset({RC.SERVER_TOO_BUSY, RC.SERVER_BACKUP, RC.SERVICE_REFERRAL})


class _Drain:
    """The write that records the buffered refusals. It takes them once: the group committer re-runs
    a group after growing a full map, and the re-run must write the same entries."""

    __slots__ = ("audit", "items")

    def __init__(self, audit: AuditLog):
        self.audit = audit
        self.items: list[dict] | None = None

    def __call__(self, tx: Tx) -> int:
        if self.items is None:
            self.items = self.audit._take()
        for e in self.items:
            tx.put_audit(e)
        return len(self.items)

