"""Enterprise prefixes: allocate under the node's prefix, disable, enable, delete, list; node set-up."""

from __future__ import annotations

import asyncio

from protocol import admin as adm
from protocol.admin import AdminRef
from protocol.codes import RC, HandleError
from protocol.handles import check_prefix, fold, is_within, na_handle
from protocol.values import ADMIN_READ, ADMIN_WRITE, HS_ADMIN, HS_SECKEY, HandleValue
from storage import Tx

from .. import audit
from ..audit import mutation
from ..credentials import Identity, hash_secret, new_secret
from .base import NODE_ADMIN_INDEX
from .federation import FederationOps

OWNER_FIELDS = ("name", "contact", "email", "phone", "address", "organizationCode", "industry", "note",
                # what the top-level node's tables 1 and 6 ask of an operator (resolver/reports/tables.py)
                "nature", "creditCode", "legalRepresentative", "industries", "websiteName", "website", "domain",
                "ipv4", "ipv6")
MAX_OWNER_TEXT = 1024
MIN_SECRET = 8


def prefix_handle_values(prefix: str, verifier: str, now: int) -> list[HandleValue]:
    """``0.NA/<prefix>``: its HS_ADMIN (the admin identity) and that identity's secret (not public)."""
    na = na_handle(prefix)
    return [
        HandleValue(100, HS_ADMIN, AdminRef(na, NODE_ADMIN_INDEX, adm.ALL).to_wire(), timestamp=now, fmt="admin"),
        HandleValue(NODE_ADMIN_INDEX, HS_SECKEY, verifier.encode(), timestamp=now,
                    permissions=ADMIN_READ | ADMIN_WRITE, fmt="string"),
    ]


def check_owner(owner: object) -> dict:
    if owner is None:
        return {}
    if not isinstance(owner, dict):
        raise HandleError(RC.INVALID_VALUE, "owner must be an object", field="owner")
    out = {}
    for k, v in owner.items():
        if k not in OWNER_FIELDS:
            raise HandleError(RC.INVALID_VALUE, f"owner.{k} is not one of {', '.join(OWNER_FIELDS)}",
                              field=f"owner.{k}")
        if not isinstance(v, str) or len(v) > MAX_OWNER_TEXT:
            raise HandleError(RC.INVALID_VALUE, f"owner.{k} must be text of at most {MAX_OWNER_TEXT} characters",
                              field=f"owner.{k}")
        out[k] = v
    return out


def check_new_secret(secret: object) -> str:
    if not isinstance(secret, str) or len(secret) < MIN_SECRET:
        raise HandleError(RC.INVALID_VALUE, f"secret must be text of at least {MIN_SECRET} characters",
                          field="secret")
    return secret


def public_prefix(rec: dict, tx: Tx) -> dict:
    return {**rec, "handles": tx.count_handles(rec["prefix"])}


class PrefixOps(FederationOps):
    def operator(self) -> Identity:
        """The identity of someone at the node's own console (the CLI on the data folder)."""
        return Identity(NODE_ADMIN_INDEX, na_handle(self.require_initialised()), True)

    def _owner_or_admin(self, identity: Identity | None, prefix: str, what: str) -> None:
        if identity is None:
            raise HandleError(RC.AUTHENTICATION_NEEDED, f"authentication is needed to {what}")
        if identity.node_admin or (identity.index == NODE_ADMIN_INDEX
                                   and fold(identity.handle) == fold(na_handle(prefix))):
            return
        raise HandleError(RC.NOT_AUTHORIZED, f"{identity} may not {what}")

    @mutation("allocate_prefix")
    async def allocate_prefix(self, body: object, identity: Identity | None) -> dict:
        """A new enterprise prefix and its admin identity ``300:0.NA/<prefix>``; a secret is made if none is given."""
        node = self.require_initialised()
        self.require_node_admin(identity, "allocate prefixes")
        if body is None:
            body = {}
        if not isinstance(body, dict):
            raise HandleError(RC.INVALID_VALUE, "body must be an object", field="body")
        wanted = body.get("prefix")
        if wanted is not None:
            if not isinstance(wanted, str):
                raise HandleError(RC.INVALID_VALUE, "prefix must be a string", field="prefix")
            check_prefix(wanted)
            if fold(wanted) == fold(node) or not is_within(wanted, node):
                raise HandleError(RC.INVALID_HANDLE, f"prefix {wanted} is not under this node's prefix {node}",
                                  field="prefix")
        owner = check_owner(body.get("owner"))
        generated = body.get("secret") is None
        secret = new_secret() if generated else check_new_secret(body.get("secret"))
        verifier = await asyncio.get_running_loop().run_in_executor(None, hash_secret, secret)
        now = self.now()
        att = audit.current()
        if att is not None and wanted:
            att.target = wanted

        def op(tx: Tx) -> dict:
            prefix = wanted or _next_free(tx, node)
            if att is not None:
                att.target = prefix  # the entry is made after this, in this transaction
            if tx.get_prefix(prefix) is not None:
                raise HandleError(RC.HANDLE_ALREADY_EXISTS, f"prefix {prefix} is already allocated", field="prefix")
            rec = {"prefix": prefix, "kind": "enterprise", "state": "enabled", "owner": owner,
                   "admin": f"{NODE_ADMIN_INDEX}:{na_handle(prefix)}", "created": now, "updated": now}
            tx.put_prefix(rec, who=str(identity), now=now)
            na = na_handle(prefix)
            tx.put_handle(na, prefix_handle_values(prefix, verifier, now), old=tx.get_handle(na),
                          who=str(identity), now=now)
            self.tell_upstream(tx, {"op": "put", "prefix": prefix, "state": "enabled"}, now)
            return public_prefix(rec, tx)

        rec = await self.write(op)
        if generated:
            rec = {**rec, "secret": secret}
        return rec

    @mutation("set_prefix_state", target=0)
    async def set_prefix_state(self, prefix: str, state: str, identity: Identity | None) -> dict:
        audit.note(state=state)
        self.require_node_admin(identity, f"{'disable' if state == 'disabled' else 'enable'} prefixes")
        now = self.now()

        def op(tx: Tx) -> dict:
            rec = self._enterprise(tx, prefix)
            rec = {**rec, "state": state, "updated": now}
            tx.put_prefix(rec, who=str(identity), now=now)
            self.tell_upstream(tx, {"op": "put", "prefix": rec["prefix"], "state": state}, now)
            return public_prefix(rec, tx)

        return await self.write(op)

    @mutation("delete_prefix", target=0)
    async def delete_prefix(self, prefix: str, identity: Identity | None) -> None:
        self.require_node_admin(identity, "delete prefixes")
        now = self.now()

        def op(tx: Tx) -> None:
            rec = self._enterprise(tx, prefix)
            n = tx.count_handles(rec["prefix"])
            if n:
                raise HandleError(RC.ERROR, f"prefix {rec['prefix']} still holds {n} handles; delete them first",
                                  status=409, field="prefix")
            for tpl in tx.list_templates(rec["prefix"]):
                tx.delete_template(tpl["prefix"], tpl["version"], who=str(identity), now=now)
            tx.delete_handle(na_handle(rec["prefix"]), who=str(identity), now=now)
            tx.delete_prefix(rec["prefix"], who=str(identity), now=now)
            self.tell_upstream(tx, {"op": "delete", "prefix": rec["prefix"]}, now)

        await self.write(op)

    @mutation("rotate_secret", target=0)
    async def rotate_secret(self, prefix: str, body: object, identity: Identity | None) -> dict:
        self._owner_or_admin(identity, prefix, f"change the secret of {prefix}")
        given = body.get("secret") if isinstance(body, dict) else None
        secret = new_secret() if given is None else check_new_secret(given)
        verifier = await asyncio.get_running_loop().run_in_executor(None, hash_secret, secret)
        now = self.now()

        def op(tx: Tx) -> None:
            rec = self._enterprise(tx, prefix)
            na = na_handle(rec["prefix"])
            old = tx.get_handle(na)
            values = [v for v in (old.values if old else []) if v.index != NODE_ADMIN_INDEX]
            values = sorted(values + [prefix_handle_values(rec["prefix"], verifier, now)[1]], key=lambda v: v.index)
            tx.put_handle(na, values, old=old, who=str(identity), now=now)

        await self.write(op)
        return {"prefix": prefix, "admin": f"{NODE_ADMIN_INDEX}:{na_handle(prefix)}",
                **({"secret": secret} if given is None else {})}

    def get_prefix(self, prefix: str, identity: Identity | None) -> dict:
        self._owner_or_admin(identity, prefix, f"read prefix {prefix}")
        with self.store.read() as tx:
            return public_prefix(self._enterprise(tx, prefix), tx)

    def list_prefixes(self, identity: Identity | None) -> list[dict]:
        if identity is None:
            raise HandleError(RC.AUTHENTICATION_NEEDED, "authentication is needed to list prefixes")
        with self.store.read() as tx:
            recs = [public_prefix(r, tx) for r in tx.list_prefixes()]
        if identity.node_admin:
            return recs
        mine = fold(identity.handle)
        return [r for r in recs if identity.index == NODE_ADMIN_INDEX and fold(na_handle(r["prefix"])) == mine]

    def _enterprise(self, tx: Tx, prefix: str) -> dict:
        check_prefix(prefix)
        rec = tx.get_prefix(prefix)
        if rec is None or rec.get("kind") != "enterprise":
            raise HandleError(RC.HANDLE_NOT_FOUND, f"prefix {prefix} is not allocated on this node", field="prefix")
        return rec

    def init_node(self, prefix: str, secret: str) -> bool:
        """Give the node its prefix and admin identity ``300:0.NA/<prefix>``; False when already done alike."""
        from storage.commit import run_group

        check_prefix(prefix)
        check_new_secret(secret)
        verifier = hash_secret(secret)
        now = self.now()

        def op(tx: Tx) -> bool:
            current = tx.get_meta("node_prefix")
            if current is not None:
                if fold(current) != fold(prefix):
                    raise HandleError(RC.ERROR, f"this data folder already belongs to prefix {current}")
                return False
            tx.put_meta("node_prefix", prefix)
            tx.put_prefix({"prefix": prefix, "kind": "node", "state": "enabled", "owner": {},
                           "admin": f"{NODE_ADMIN_INDEX}:{na_handle(prefix)}", "created": now, "updated": now},
                          who="init", now=now)
            na = na_handle(prefix)
            tx.put_handle(na, prefix_handle_values(prefix, verifier, now), old=None, who="init", now=now)
            tx.put_audit(self.audit.entry(audit.Attempt("cli", "local", "init", prefix, f"{NODE_ADMIN_INDEX}:{na}"), "allowed", 1))
            return True

        [(ok, result)] = run_group(self.store, [op])
        if not ok:
            raise result
        self.node_prefix = prefix
        return result


def _next_free(tx: Tx, node: str) -> str:
    """The next numbered prefix directly under the node's (``88.101.1``, ``88.101.2`` …)."""
    depth = node.count(".") + 1
    highest = 0
    for rec in tx.list_prefixes():
        p = rec["prefix"]
        segs = p.split(".")
        if len(segs) == depth + 1 and is_within(p, node) and segs[-1].isdigit():
            highest = max(highest, int(segs[-1]))
    return f"{node}.{highest + 1}"
