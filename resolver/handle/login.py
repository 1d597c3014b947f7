"""What OC 2001 (protocol/login.py) grants: the identity that logged in on one TCP connection.

A national SDK client logs in once per connection and then sends its administrative requests there
with the session id of its login request and no credential. The node answers them as that identity
without a new challenge: the proof was made on this connection (a TCP peer cannot be spoofed), it is
kept only while the connection lives, and only for requests that carry the login's session id. Over
UDP and the HTTP tunnel a login is answered (402, then success) but grants nothing: each request there
is challenged as usual.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from protocol.message import Message

from ..audit_trail import Caller
from ..credentials import Identity
from .challenges import requested


@dataclass(slots=True)
class Login:
    """One TCP connection's login: none until a 2001 request's challenge is answered."""

    identity: Identity | None = None
    session_id: int = 0

    def grant(self, identity: Identity, session_id: int) -> None:
        self.identity, self.session_id = identity, session_id

    def admits(self, msg: Message) -> Identity | None:
        """The logged-in identity, for a request on this connection under the login's session id."""
        if self.identity is not None and msg.session_id == self.session_id:
            return self.identity
        return None


def attribute(msg: Message, identity: Identity, limits, caller: Caller | None) -> Caller | None:
    """Apply the per-identity rate to who acts, as over HTTP; the caller as asking for what ``msg``
    names (as after a challenge answer)."""
    limits.check_identity(f"{identity.index}:{identity.handle}", time.perf_counter())
    return requested(caller, msg.opcode, getattr(msg.body, "handle", None))
