"""Bearer tokens: a short-lived stand-in for an identity's secret, for HTTP clients that would rather
not send the secret on every request (and pay its slow hash on every cache miss).

A token is 32 random bytes (``idn_`` + base64url), stored in LMDB by its SHA-256 with its identity
and expiry (storage/tokens.py), so every worker sees it at once and revoking it takes effect
everywhere. It is checked on each request with one B-tree read.

A token is bound to the credential it was issued for: it records a digest of the identity's verifier
(HS_SECKEY) as it was then. On each use the verifier is read again (one more B-tree read, the
``accounts`` index): a rotated or removed secret, a prefix deleted (and perhaps given to someone else),
or a disabled prefix ends every token of that identity at once. The node admin can also revoke every
token of an identity (``revoke_tokens``).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from typing import TYPE_CHECKING

from protocol.codes import RC, HandleError
from protocol.handles import fold, na_handle
from protocol.values import HS_PUBKEY
from storage import Store, Tx

from ..audit_trail import Attempt, mutation
from ..credentials import NODE_ADMIN_INDEX, Identity, parse_identity
from .tenants import disabled_prefix_of, refuse_disabled

if TYPE_CHECKING:
    from . import Service

PREFIX = "idn_"
DEFAULT_LIFETIME = 900


class TokenError(HandleError):
    """A bearer token that is not (or no longer) good: 401, with a Bearer challenge."""

    www_authenticate = 'Bearer realm="handle", error="invalid_token"'

    def __init__(self, message: str):
        super().__init__(RC.AUTHENTICATION_NEEDED, message)


def digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).digest()


def credential_digest(verifier: bytes) -> bytes:
    """What a token keeps of the credential it was issued for: enough to tell it changed, nothing to log in with."""
    return hashlib.sha256(b"idnode token binding\0" + verifier).digest()[:16]


def credential_of(tx: Tx, index: int, handle: str) -> bytes | None:
    """What a token of ``index:handle`` is bound to: its verifier (HS_SECKEY); for an identity without a
    secret, its public key (HS_PUBKEY at that index: the console's key sign-in), so that replacing or
    removing the key ends its tokens as rotating a secret does."""
    verifier = tx.get_verifier(index, handle)
    if verifier is not None:
        return verifier
    rec = tx.get_handle(handle)
    keys = [v for v in (rec.values if rec else []) if v.index == index and v.type == HS_PUBKEY]
    return b"HS_PUBKEY\0" + keys[0].data if keys else None


def token_identity(store: Store, token: str, *, now: float, node_prefix: str | None,
                   mirror_of: str | None) -> Identity:
    """The identity a bearer token stands for, or the ``TokenError`` saying why it does not."""
    if mirror_of is not None:
        # Tokens are issued and revoked on the primary and not replicated: a mirror cannot tell.
        raise TokenError(f"this node is a mirror of {mirror_of}: it does not take bearer tokens; use "
                         "HTTP Basic here, or the primary")
    with store.read() as tx:
        rec = tx.get_token(digest(token))
        if rec is None:
            raise TokenError("the bearer token is not valid: it was revoked, or never issued here")
        if rec["expires"] <= now:
            raise TokenError(f"the bearer token expired at {_iso(rec['expires'])}; ask POST /api/token for a new one")
        verifier = credential_of(tx, rec["index"], rec["handle"])
        who = f"{rec['index']}:{rec['handle']}"
        if verifier is None or credential_digest(verifier) != rec.get("cred"):
            raise TokenError(f"the bearer token is no longer valid: the secret (or key) of {who} it was issued "
                             "for was changed or removed; ask POST /api/token for a new one")
        is_admin = (node_prefix is not None and rec["index"] == NODE_ADMIN_INDEX
                    and fold(rec["handle"]) == fold(na_handle(node_prefix)))
        identity = Identity(rec["index"], rec["handle"], is_admin)
        if disabled_prefix_of(tx, identity) is not None:
            raise TokenError(f"the bearer token is no longer valid: the prefix of {who} is disabled")
    return identity


class TokenOps:
    """Bearer tokens: issue, revoke, list."""

    def __init__(self, svc: Service):
        self.svc = svc

    @mutation("issue_token")
    async def issue_token(self, att: Attempt, identity: Identity, lifetime: int | None = None) -> tuple[str, int]:
        """A new token for an identity that has just proved itself: (token, expiry in epoch seconds).
        ``lifetime`` (seconds) overrides the node's, for an API that documents its own (SNMS: 24 h)."""
        token = PREFIX + base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()
        now = self.svc.now()
        expires = now + (self.svc.policy.token_lifetime if lifetime is None else lifetime)
        rec = {"index": identity.index, "handle": identity.handle, "issued": now, "expires": expires,
               "client": att.client}

        def op(tx: Tx) -> str:
            verifier = credential_of(tx, identity.index, identity.handle)
            if verifier is None:
                raise HandleError(RC.AUTHENTICATION_NEEDED, f"{identity} has no secret or public key here: a "
                                  "token is issued for one")
            refuse_disabled(tx, identity, "get a token")
            tx.purge_tokens(now)  # the expired ones, oldest first
            tx.put_token(digest(token), {**rec, "cred": credential_digest(verifier)})
            return "issued"

        await self.svc.write(op, attempt=att)
        return token, expires

    @mutation("revoke_token")
    async def revoke_token(self, att: Attempt, token: str, identity: Identity | None) -> None:
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

        await self.svc.write(op, attempt=att)

    @mutation("revoke_tokens", target=0)
    async def revoke_tokens(self, att: Attempt, who: str, identity: Identity | None) -> int:
        """Revoke every token of the identity ``who`` (``index:handle``): the node admin's remedy for a
        credential that leaked. How many were revoked."""
        self.svc.require_node_admin(identity, "revoke the tokens of an identity")
        try:
            index, handle = parse_identity(who)
        except HandleError:
            raise HandleError(RC.INVALID_VALUE, f"identity {who!r} is not of the form index:prefix/suffix",
                              field="identity") from None
        target = (index, fold(handle))

        def op(tx: Tx) -> int:
            gone = [d for d, rec in tx.list_tokens() if (rec["index"], fold(rec["handle"])) == target]
            for d in gone:
                tx.delete_token(d)
            return len(gone)

        return await self.svc.write(op, attempt=att)


    MAX_LISTED = 1000
    ID_HEX = 16  # a token's id: the first 8 bytes of its digest, in hex (never the token itself)

    def list_tokens(self, identity: Identity | None) -> list[dict]:
        """The tokens that still work (at most MAX_LISTED), by id: whose, issued, expiring, from where."""
        self.svc.require_node_admin(identity, "list bearer tokens")
        now = self.svc.clock()
        with self.svc.store.read() as tx:
            items = tx.list_tokens(self.MAX_LISTED)
        return [{"id": d.hex()[:self.ID_HEX], "identity": f"{r['index']}:{r['handle']}", "issued": _iso(r["issued"]),
                 "expires": _iso(r["expires"]), "client": r.get("client")} for d, r in items if r["expires"] > now]

    @mutation("revoke_token")
    async def revoke_token_by_id(self, att: Attempt, token_id: str, identity: Identity | None) -> None:
        """Revoke the token ``list_tokens`` shows as ``token_id`` (the node admin only)."""
        self.svc.require_node_admin(identity, "revoke another identity's token")
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

        await self.svc.write(op, attempt=att)

def _iso(epoch: int) -> str:
    import time

    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))
