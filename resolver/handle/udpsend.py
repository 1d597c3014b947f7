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

from protocol import datagrams
from protocol.codes import RC
from protocol.message import MessageError, decode_message, encode, error_answer

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
