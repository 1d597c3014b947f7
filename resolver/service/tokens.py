"""Bearer tokens: a short-lived stand-in for an identity's secret, for HTTP clients that would rather
not send the secret on every request (and pay its slow hash on every cache miss).

A token is 32 random bytes (``idn_`` + base64url), stored in LMDB by its SHA-256 with its identity
and expiry (storage/tokens.py), so every worker sees it at once and revoking it takes effect
everywhere. It is checked on each request with one B-tree read.
"""

from __future__ import annotations

import base64
import hashlib
import secrets

from protocol.codes import RC, HandleError
from protocol.handles import fold, na_handle
from storage import Tx

from .. import audit
from ..audit import mutation
from ..credentials import Identity
from .base import NODE_ADMIN_INDEX, ServiceBase

PREFIX = "idn_"
DEFAULT_LIFETIME = 900


class TokenError(HandleError):
    """A bearer token that is not (or no longer) good: 401, with a Bearer challenge."""

    www_authenticate = 'Bearer realm="handle", error="invalid_token"'

    def __init__(self, message: str):
        super().__init__(RC.AUTHENTICATION_NEEDED, message)


def digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).digest()


class TokenOps(ServiceBase):
    token_lifetime = DEFAULT_LIFETIME

    @mutation("issue_token")
    async def issue_token(self, identity: Identity, lifetime: int | None = None) -> tuple[str, int]:
        """A new token for an identity that has just proved itself: (token, expiry in epoch seconds).
        ``lifetime`` (seconds) overrides the node's, for an API that documents its own (SNMS: 24 h)."""
        token = PREFIX + base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()
        now = self.now()
        expires = now + (self.token_lifetime if lifetime is None else lifetime)
        att = audit.current()
        rec = {"index": identity.index, "handle": identity.handle, "issued": now, "expires": expires,
               "client": att.client if att is not None else None}

        def op(tx: Tx) -> str:
            tx.purge_tokens(now)  # the expired ones, oldest first
            tx.put_token(digest(token), rec)
            return "issued"

        await self.write(op)
        return token, expires

    def identity_from_token(self, token: str) -> Identity:
        if self.mirror_of is not None:
            # Tokens are issued and revoked on the primary and not replicated: a mirror cannot tell.
            raise TokenError(f"this node is a mirror of {self.mirror_of}: it does not take bearer tokens; use "
                             "HTTP Basic here, or the primary")
        with self.store.read() as tx:
            rec = tx.get_token(digest(token))
        if rec is None:
            raise TokenError("the bearer token is not valid: it was revoked, or never issued here")
        if rec["expires"] <= self.clock():
            raise TokenError(f"the bearer token expired at {_iso(rec['expires'])}; ask POST /api/token for a new one")
        node = self.node_prefix
        is_admin = (node is not None and rec["index"] == NODE_ADMIN_INDEX
                    and fold(rec["handle"]) == fold(na_handle(node)))
        return Identity(rec["index"], rec["handle"], is_admin)

    @mutation("revoke_token")
    async def revoke_token(self, token: str, identity: Identity | None) -> None:
        """Revoke a token; its holder (who presents it) or the node admin may."""
        if identity is None:
            raise HandleError(RC.AUTHENTICATION_NEEDED, "authentication is needed to revoke a token")
        d = digest(token)

        def op(tx: Tx) -> str:
            rec = tx.get_token(d)
            if rec is None:
                raise TokenError("the bearer token is not valid: it was revoked, or never issued here")
            if not identity.node_admin and (rec["index"], fold(rec["handle"])) != (identity.index, identity.folded):
                raise HandleError(RC.NOT_AUTHORIZED, f"{identity} may not revoke a token of another identity")
            tx.delete_token(d)
            return "revoked"

        await self.write(op)


def _iso(epoch: int) -> str:
    import time

    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))
