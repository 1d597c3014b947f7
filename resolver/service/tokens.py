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
    async def issue_token(self, identity: Identity) -> tuple[str, int]:
        """A new token for an identity that has just proved itself: (token, expiry in epoch seconds)."""
        token = PREFIX + base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()
        now = self.now()
        expires = now + self.token_lifetime
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


    MAX_LISTED = 1000
    ID_HEX = 16  # a token's id: the first 8 bytes of its digest, in hex (never the token itself)

    def list_tokens(self, identity: Identity | None) -> list[dict]:
        """The tokens that still work (at most MAX_LISTED), by id: whose, issued, expiring, from where."""
        self.require_node_admin(identity, "list bearer tokens")
        now = self.clock()
        with self.store.read() as tx:
            items = tx.list_tokens(self.MAX_LISTED)
        return [{"id": d.hex()[:self.ID_HEX], "identity": f"{r['index']}:{r['handle']}", "issued": _iso(r["issued"]),
                 "expires": _iso(r["expires"]), "client": r.get("client")} for d, r in items if r["expires"] > now]

    @mutation("revoke_token")
    async def revoke_token_by_id(self, token_id: str, identity: Identity | None) -> None:
        """Revoke the token ``list_tokens`` shows as ``token_id`` (the node admin only)."""
        self.require_node_admin(identity, "revoke another identity's token")
        try:
            prefix = bytes.fromhex(token_id)
        except ValueError:
            prefix = b""
        if len(token_id) != self.ID_HEX or len(prefix) * 2 != self.ID_HEX:
            raise HandleError(RC.INVALID_VALUE, f"a token id is {self.ID_HEX} hex digits, as `idnode token list` "
                              "shows it", field="id")

        def op(tx: Tx) -> str:
            d = tx.find_token(prefix)
            if d is None:
                raise HandleError(RC.HANDLE_NOT_FOUND, f"no token has the id {token_id}: it expired, was revoked, "
                                  "or never existed", field="id")
            tx.delete_token(d)
            return "revoked"

        await self.write(op)

def _iso(epoch: int) -> str:
    import time

    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))
