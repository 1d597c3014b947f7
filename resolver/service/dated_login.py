"""A login by a dated digest of the secret (the SNMS API's ``/identity/token/v1``).

The client sends ``sha256hex(sha256hex(secret) + "yyyy-MM-dd")`` instead of the secret. The node
keeps secrets as scrypt verifiers, which cannot be hashed that way, so, as the Handle protocol's
challenge-response does (resolver/handle/challenges.py), it unseals the secret kept for it under
the node's seal key, checks the digest, and then authenticates with the secret through the one
path every login takes (``Core.authenticate``: lock-out, limits, audit).

The day is China Standard Time's (UTC+8, the national system's; no daylight saving since 1991), and
within ``DAY_SLACK`` seconds of its midnight the adjacent day is accepted too, so that a client whose
clock is a little off, or a request that crosses midnight, is not refused.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

from protocol.codes import RC, HandleError
from protocol.snms import dated_password_matches

from ..audit_trail import Caller
from ..credentials import Identity, sealed_part

if TYPE_CHECKING:
    from . import Service

CST = timezone(timedelta(hours=8), "Asia/Shanghai")
DAY_SLACK = 300


def login_days(epoch: float, slack: float = DAY_SLACK) -> list[str]:
    """The days (``yyyy-MM-dd``, UTC+8) a dated digest made at ``epoch`` may name."""
    days = []
    for t in (epoch, epoch - slack, epoch + slack):
        day = datetime.fromtimestamp(t, CST).strftime("%Y-%m-%d")
        if day not in days:
            days.append(day)
    return days


class DatedLoginOps:
    """The SNMS API's login by a dated digest of the secret."""

    def __init__(self, svc: Service):
        self.svc = svc

    async def authenticate_dated(self, index: int, handle: str, digest: str,
                                 unseal: Callable[[str], str | None], *, caller: Caller | None = None) -> Identity:
        """The identity ``index:handle`` if ``digest`` is its secret's dated digest for today (UTC+8).
        ``unseal`` recovers a secret sealed under this node's key (resolver/keys/sealed.py)."""
        who = f"{index}:{handle}"

        async def prove() -> Identity:
            with self.svc.store.read() as tx:
                verifier = tx.get_verifier(index, handle)
            if verifier is None:
                raise HandleError(RC.AUTHENTICATION_FAILED, f"authentication failed: {who} has no secret key")
            sealed = sealed_part(verifier)
            secret = unseal(sealed) if sealed else None
            if secret is None:
                raise HandleError(RC.UNABLE_TO_AUTHENTICATE,
                                  f"the secret of {who} was set before this node kept secrets sealed (or under "
                                  "another node's key): set it again to log in with a dated digest")
            if not dated_password_matches(secret, digest, login_days(self.svc.clock())):
                raise HandleError(RC.AUTHENTICATION_FAILED, f"authentication failed: wrong dated digest for {who}")
            # The secret is checked against the verifier too (cached), as a plain login checks it.
            return await self.svc._authenticate(index, handle, secret, caller)

        return await self.svc.login(index, handle, prove, caller=caller)
