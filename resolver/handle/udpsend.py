"""How many datagrams one UDP request may cause (amplification), and which addresses have shown
that they are really where their datagrams say they come from.

A UDP source address can be forged: a small request could aim a large answer at someone else. So an
answer split into several datagrams (protocol/datagrams.py) goes out only when its bytes stay within
``AMPLIFICATION`` times the request's, or the address has proved itself: it completed a TCP handshake
with this node, or used a session id this node sent it (both within ``PROOF_TTL``). Even then one
request causes at most ``MAX_DATAGRAMS``. An answer over the limit is replaced by a short error (RC 2)
that says to ask over TCP, which Handle.Net's client does at once on that code.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable

from protocol import datagrams, fastpath
from protocol.codes import RC
from protocol.message import MessageError, decode_message, encode, error_answer
from protocol.wire import WireError

AMPLIFICATION = 3
MAX_DATAGRAMS = 64  # 31 kB: the largest answer one UDP request may cause
PROOF_TTL = 600.0
MAX_PROVEN = 100_000


class ProvenAddresses:
    """A bounded set of addresses that proved themselves recently (oldest forgotten first)."""

    def __init__(self, *, ttl: float = PROOF_TTL, limit: int = MAX_PROVEN, clock: Callable[[], float] = time.monotonic):
        self.ttl, self.limit, self.clock = ttl, limit, clock
        self._until: OrderedDict[str, float] = OrderedDict()

    def add(self, address: str | None) -> None:
        if address is None:
            return
        self._until.pop(address, None)
        self._until[address] = self.clock() + self.ttl
        while len(self._until) > self.limit:
            self._until.popitem(last=False)

    def __contains__(self, address: object) -> bool:
        until = self._until.get(address)  # type: ignore[arg-type]
        return until is not None and until > self.clock()


def datagrams_for(answer: bytes, request: bytes, proven: bool, max_message: int) -> list[bytes]:
    """The datagrams to send for ``answer`` to ``request``: the answer's, or one short error."""
    parts = datagrams.split(answer)
    if len(parts) == 1:
        return parts
    size = sum(len(p) for p in parts)
    if len(parts) <= MAX_DATAGRAMS and (proven or size <= AMPLIFICATION * len(request)):
        return parts
    try:
        msg = decode_message(request, max_message)
    except MessageError:
        return []
    why = (f"the answer ({size} bytes in {len(parts)} datagrams) is more than this node sends over UDP "
           f"to an address that has not proved itself: ask over TCP")
    return [encode(error_answer(msg, RC.ERROR, why))]


MAX_SPLIT_REQUEST = 64 * 1024  # a request in several datagrams is at most this long
MAX_PENDING = 1024  # requests being put together, in all
MAX_PENDING_PER_ADDRESS = 4
PENDING_TTL = 5.0  # as Handle.Net's server: the slices of a request arrive within 5 seconds


class RequestSlices:
    """Requests that come in several datagrams (a client splits a request over 512 bytes as the node
    splits its answers), put together before they are dispatched. Bounded: a request of at most
    ``MAX_SPLIT_REQUEST`` bytes, ``MAX_PENDING_PER_ADDRESS`` incomplete per address and
    ``MAX_PENDING`` in all (the oldest dropped first), each forgotten after ``PENDING_TTL``."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self.clock = clock
        self._pending: OrderedDict[tuple[str, int, int], tuple[float, dict[int, bytes]]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._pending)

    def add(self, data: bytes, addr: tuple) -> bytes | None:
        """The whole request once ``data`` completes it; None while slices are missing (or the slice
        is refused)."""
        whole = fastpath.message_length(data)
        seq = fastpath.sequence(data)
        if whole > MAX_SPLIT_REQUEST or seq >= datagrams.count(whole + 20):
            return None
        now = self.clock()
        while self._pending and next(iter(self._pending.values()))[0] <= now:
            self._pending.popitem(last=False)
        key = (addr[0], addr[1], fastpath.request_id(data))
        entry = self._pending.get(key)
        if entry is None:
            if sum(1 for k in self._pending if k[0] == addr[0]) >= MAX_PENDING_PER_ADDRESS:
                return None
            while len(self._pending) >= MAX_PENDING:
                self._pending.popitem(last=False)
            entry = self._pending[key] = (now + PENDING_TTL, {})
        entry[1][seq] = data
        if sum(len(d) - 20 for d in entry[1].values()) < whole:
            return None
        del self._pending[key]
        try:
            return datagrams.reassemble(list(entry[1].values()))
        except WireError:
            return None
