"""Bounded pools for the slow hashes of secrets, off the event loop.

Two kinds of slow work are driven by callers: hashing the HS_SECKEY values a write carries (scrypt,
tens of milliseconds each) and verifying a presented secret (scrypt against the stored verifier, or
the PBKDF2 of a challenge answer). Each kind has a pool of its own, so that a tenant registering
member secrets in bulk never delays anyone's login, and neither ever runs on the event loop that
answers resolutions.

A pool runs at most ``threads`` jobs at once and keeps at most ``queue`` jobs waiting; past that, or
past ``per_key`` jobs for one key (an identity, a client address), a job is refused at once with a
retryable 503 / RC 3 rather than queued without bound. Identical verifications in flight (the same
secret against the same verifier: a client's connection pool logging in at once) share one job.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Hashable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from protocol.codes import RC

from .lockout import Refused


class KdfPool:
    def __init__(self, name: str, *, threads: int = 2, queue: int = 256, per_key: int = 4):
        self.name = name
        self.threads = threads
        self.queue = queue
        self.per_key = per_key
        self._executor = ThreadPoolExecutor(threads, thread_name_prefix=f"idnode-{name}")
        self._jobs = 0  # submitted and not finished (running or waiting)
        self._by_key: dict[Hashable, int] = {}
        self._shared: dict[Hashable, Future] = {}

    def __len__(self) -> int:
        return self._jobs

    async def run(self, fn: Callable[..., Any], *args: Any, keys: tuple[Hashable, ...] = (),
                  share: Hashable | None = None) -> Any:
        """``fn(*args)`` on a pool thread. ``keys`` each count towards ``per_key``; a ``share`` key
        lets identical calls in flight wait for the same job."""
        fut = self._shared.get(share) if share is not None else None
        if fut is None:
            fut = self._submit(fn, args, keys, share)
        # shield: a caller that goes away (a closed connection) does not cancel a job others share
        return await asyncio.shield(asyncio.wrap_future(fut))

    def _submit(self, fn: Callable[..., Any], args: tuple, keys: tuple[Hashable, ...],
                share: Hashable | None) -> Future:
        if self._jobs >= self.queue:
            raise Refused(RC.SERVER_TOO_BUSY, f"the node is busy: {self._jobs} {self.name} jobs are waiting; "
                          "retry shortly", 1, status=503)
        for k in keys:
            if self._by_key.get(k, 0) >= self.per_key:
                raise Refused(RC.SERVER_TOO_BUSY, f"{self.per_key} {self.name} jobs of {k} are already waiting; "
                              "retry shortly", 1, status=503)
        self._jobs += 1
        for k in keys:
            self._by_key[k] = self._by_key.get(k, 0) + 1
        fut = self._executor.submit(fn, *args)
        if share is not None:
            self._shared[share] = fut
        loop = asyncio.get_running_loop()
        # The counts follow the job itself (not its callers), so a cancelled caller cannot free a slot
        # while the thread still works.
        fut.add_done_callback(lambda _f: self._later(loop, keys, share, fut))
        return fut

    def _later(self, loop: asyncio.AbstractEventLoop, keys: tuple[Hashable, ...], share: Hashable | None,
               fut: Future) -> None:
        try:
            loop.call_soon_threadsafe(self._finished, keys, share, fut)
        except RuntimeError:  # the loop is closed: the node is stopping
            pass

    def _finished(self, keys: tuple[Hashable, ...], share: Hashable | None, fut: Future) -> None:
        self._jobs -= 1
        for k in keys:
            n = self._by_key.get(k, 0) - 1
            if n > 0:
                self._by_key[k] = n
            else:
                self._by_key.pop(k, None)
        if share is not None and self._shared.get(share) is fut:
            del self._shared[share]

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
