"""Enterprise prefixes: allocate under the node's prefix, disable, enable, delete, list; node set-up."""

from __future__ import annotations

import asyncio
from functools import partial
from typing import TYPE_CHECKING

from protocol import admin as adm
from protocol.admin import AdminRef
from protocol.codes import RC, HandleError
from protocol.handles import ancestors, check_prefix, fold, is_within, na_handle
from protocol.prefixes import AllocatedPrefix, AllocatePrefix, check_new_secret, check_quota
from protocol.refusals import Conflict
from protocol.values import ADMIN_READ, ADMIN_WRITE, HS_ADMIN, HS_SECKEY, HandleValue
from storage import Tx

from ..audit_trail import CLI, Attempt, mutation
from ..credentials import Identity, hash_secret, new_secret
from ..quotas import check_allocate
from .base import NODE_ADMIN_INDEX
from .tenants import refuse_disabled

if TYPE_CHECKING:
    from . import Service

MAX_PUBLIC_STEPS = 100


def prefix_handle_values(prefix: str, verifier: str, now: int) -> list[HandleValue]:
    """``0.NA/<prefix>``: its HS_ADMIN (the admin identity) and that identity's secret (not public)."""
    na = na_handle(prefix)
    return [
        HandleValue(100, HS_ADMIN, AdminRef(na, NODE_ADMIN_INDEX, adm.ALL).to_wire(), timestamp=now, fmt="admin"),
        HandleValue(NODE_ADMIN_INDEX, HS_SECKEY, verifier.encode(), timestamp=now,
                    permissions=ADMIN_READ | ADMIN_WRITE, fmt="string"),
    ]


def check_public_steps(body: object) -> list[str] | None:
    """``{"bizSteps": [...]}``: CBV business steps (bare names or URIs), at most ``MAX_PUBLIC_STEPS``."""
    from .events import vocab

    if not isinstance(body, dict) or "bizSteps" not in body:
        raise HandleError(RC.INVALID_VALUE, 'body must be {"bizSteps": [<business step>, ...] or null}',
                          field="bizSteps")
    steps = body["bizSteps"]
    if steps is None:
        return None
    if (not isinstance(steps, list) or len(steps) > MAX_PUBLIC_STEPS
            or not all(isinstance(x, str) and 0 < len(x) <= 200 for x in steps)):
        raise HandleError(RC.INVALID_VALUE, f"bizSteps must be a list of at most {MAX_PUBLIC_STEPS} business "
                          "steps (strings of 1 to 200 characters), or null", field="bizSteps")
    return sorted({vocab(x) for x in steps})


def public_prefix(rec: dict, tx: Tx, requests_today: int | None = None) -> dict:
    out = {**rec, "handles": tx.count_handles(rec["prefix"])}
    if rec.get("quota"):
        # Beside each limit, what counts against it (requests: this worker's count, resolver/quotas.py).
        usage = {"handles": out["handles"],
                 "prefixes": sum(1 for r in tx.list_prefixes()
                                 if fold(r["prefix"]) != fold(rec["prefix"]) and is_within(r["prefix"], rec["prefix"]))}
        if requests_today is not None:
            usage["dailyRequests"] = requests_today
        out["usage"] = usage
    return out


class PrefixOps:
    """Enterprise prefixes and the node's own set-up."""

    def __init__(self, svc: Service):
        self.svc = svc

    def operator(self) -> Identity:
        """The identity of someone at the node's own console (the CLI on the data folder)."""
        return Identity(NODE_ADMIN_INDEX, na_handle(self.svc.require_initialised()), True)

    def _owner_or_admin(self, identity: Identity | None, prefix: str, what: str) -> None:
        if identity is None:
            raise HandleError(RC.AUTHENTICATION_NEEDED, f"authentication is needed to {what}")
        if identity.node_admin or (identity.index == NODE_ADMIN_INDEX
                                   and fold(identity.handle) == fold(na_handle(prefix))):
            return
        raise HandleError(RC.NOT_AUTHORIZED, f"{identity} may not {what}")

    @mutation("allocate_prefix")
    async def allocate_prefix(self, att: Attempt, req: AllocatePrefix, identity: Identity | None) -> AllocatedPrefix:
        """A new enterprise prefix and its admin identity ``300:0.NA/<prefix>``; a secret is made if none is given."""
        node = self.svc.require_initialised()
        self.svc.require_node_admin(identity, "allocate prefixes")
        req = req.checked()
        wanted = req.prefix
        if wanted is not None and (fold(wanted) == fold(node) or not is_within(wanted, node)):
            raise HandleError(RC.INVALID_HANDLE, f"prefix {wanted} is not under this node's prefix {node}",
                              field="prefix")
        owner = dict(req.owner)
        quota = dict(req.quota) if req.quota else None
        generated = req.secret is None
        secret = new_secret() if req.secret is None else req.secret
        verifier = await asyncio.get_running_loop().run_in_executor(None, partial(hash_secret, secret, seal=self.svc.seal))
        now = self.svc.now()
        if wanted:
            att.target = wanted

        def op(tx: Tx) -> dict:
            prefix = wanted or _next_free(tx, node)
            att.target = prefix  # the entry is made after this, in this transaction
            if tx.get_prefix(prefix) is not None:
                raise HandleError(RC.HANDLE_ALREADY_EXISTS, f"prefix {prefix} is already allocated", field="prefix")
            refuse_nested(tx, prefix, owner)
            check_allocate(tx, prefix)  # RC 605
            rec = {"prefix": prefix, "kind": "enterprise", "state": "enabled", "owner": owner,
                   "admin": f"{NODE_ADMIN_INDEX}:{na_handle(prefix)}", "created": now, "updated": now}
            if quota:
                rec["quota"] = quota
            tx.put_prefix(rec, who=str(identity), now=now)
            na = na_handle(prefix)
            tx.put_handle(na, prefix_handle_values(prefix, verifier, now), old=tx.get_handle(na),
                          who=str(identity), now=now)
            self.svc.federation.tell_upstream(tx, {"op": "put", "prefix": prefix, "state": "enabled"}, now)
            return public_prefix(rec, tx)

        rec = await self.svc.write(op, attempt=att)
        return AllocatedPrefix(rec, secret if generated else None)

    @mutation("set_prefix_state", target=0)
    async def set_prefix_state(self, att: Attempt, prefix: str, state: str, identity: Identity | None) -> dict:
        att.note(state=state)
        self.svc.require_node_admin(identity, f"{'disable' if state == 'disabled' else 'enable'} prefixes")
        now = self.svc.now()

        def op(tx: Tx) -> dict:
            rec = self._enterprise(tx, prefix)
            rec = {**rec, "state": state, "updated": now}
            tx.put_prefix(rec, who=str(identity), now=now)
            self.svc.federation.tell_upstream(tx, {"op": "put", "prefix": rec["prefix"], "state": state}, now)
            return public_prefix(rec, tx)

        return await self.svc.write(op, attempt=att)

    @mutation("set_quota", target=0)
    async def set_quota(self, att: Attempt, prefix: str, body: object, identity: Identity | None) -> dict:
        """Replace an enterprise prefix's quota (RC 603/604/605 limits; resolver/quotas.py): node admin only."""
        self.svc.require_node_admin(identity, "set quotas")
        quota = check_quota(body)
        att.note(quota=quota)
        now = self.svc.now()

        def op(tx: Tx) -> dict:
            rec = {k: v for k, v in self._enterprise(tx, prefix).items() if k != "quota"}
            rec = {**rec, **({"quota": quota} if quota else {}), "updated": now}
            tx.put_prefix(rec, who=str(identity), now=now)
            return public_prefix(rec, tx)

        rec = await self.svc.write(op, attempt=att)
        self.svc.quotas.loaded = float("-inf")  # this worker applies the new limits at once
        return rec

    @mutation("delete_prefix", target=0)
    async def delete_prefix(self, att: Attempt, prefix: str, identity: Identity | None) -> None:
        self.svc.require_node_admin(identity, "delete prefixes")
        now = self.svc.now()

        def op(tx: Tx) -> None:
            rec = self._enterprise(tx, prefix)
            n = tx.count_handles(rec["prefix"])
            if n:
                raise Conflict(RC.ERROR, f"prefix {rec['prefix']} still holds {n} handles; delete them first", field="prefix")
            for tpl in tx.list_templates(rec["prefix"]):
                tx.delete_template(tpl["prefix"], tpl["version"], who=str(identity), now=now)
            tx.delete_handle(na_handle(rec["prefix"]), who=str(identity), now=now)
            tx.delete_prefix(rec["prefix"], who=str(identity), now=now)
            self.svc.federation.tell_upstream(tx, {"op": "delete", "prefix": rec["prefix"]}, now)

        await self.svc.write(op, attempt=att)

    @mutation("rotate_secret", target=0)
    async def rotate_secret(self, att: Attempt, prefix: str, secret: str | None, identity: Identity | None) -> dict:
        """A new secret for the admin of ``prefix`` (made here, and answered once, when not given)."""
        self._owner_or_admin(identity, prefix, f"change the secret of {prefix}")
        given = secret
        secret = new_secret() if given is None else check_new_secret(given)
        verifier = await asyncio.get_running_loop().run_in_executor(None, partial(hash_secret, secret, seal=self.svc.seal))
        now = self.svc.now()

        def op(tx: Tx) -> None:
            rec = self._enterprise(tx, prefix)
            refuse_disabled(tx, identity, f"change the secret of {prefix}")  # the node admin still may
            na = na_handle(rec["prefix"])
            old = tx.get_handle(na)
            values = [v for v in (old.values if old else []) if v.index != NODE_ADMIN_INDEX]
            values = sorted(values + [prefix_handle_values(rec["prefix"], verifier, now)[1]], key=lambda v: v.index)
            tx.put_handle(na, values, old=old, who=str(identity), now=now)

        await self.svc.write(op, attempt=att)
        return {"prefix": prefix, "admin": f"{NODE_ADMIN_INDEX}:{na_handle(prefix)}",
                **({"secret": secret} if given is None else {})}

    @mutation("rotate_node_secret")
    async def rotate_node_secret(self, att: Attempt, secret: str | None, identity: Identity | None) -> dict:
        """A new secret for the node admin ``300:0.NA/<node prefix>`` (made here when not given)."""
        self.svc.require_node_admin(identity, "change the node admin's secret")
        node = self.svc.require_initialised()
        secret_given = secret is not None
        secret = new_secret() if secret is None else check_new_secret(secret)
        verifier = await asyncio.get_running_loop().run_in_executor(None, partial(hash_secret, secret, seal=self.svc.seal))
        now = self.svc.now()
        na = na_handle(node)

        def op(tx: Tx) -> None:
            old = tx.get_handle(na)
            values = [v for v in (old.values if old else []) if v.index != NODE_ADMIN_INDEX]
            values = sorted(values + [prefix_handle_values(node, verifier, now)[1]], key=lambda v: v.index)
            tx.put_handle(na, values, old=old, who=str(identity), now=now)

        await self.svc.write(op, attempt=att)
        return {"admin": f"{NODE_ADMIN_INDEX}:{na}", **({} if secret_given else {"secret": secret})}

    @mutation("set_public_trace", target=0)
    async def set_public_trace(self, att: Attempt, prefix: str, body: object, identity: Identity | None) -> dict:
        """Which of its own events an enterprise shows in anonymous traces: ``{"bizSteps": [...]}`` lists the
        business steps shown, ``{"bizSteps": null}`` shows them all again (the default)."""
        self._owner_or_admin(identity, prefix, f"set what traces of {prefix}'s items show")
        steps = check_public_steps(body)
        now = self.svc.now()

        def op(tx: Tx) -> dict:
            rec = self._enterprise(tx, prefix)
            refuse_disabled(tx, identity, f"set what traces of {prefix}'s items show")
            rec = {k: v for k, v in rec.items() if k != "publicTrace"}
            if steps is not None:
                rec["publicTrace"] = {"bizSteps": steps}
            rec["updated"] = now
            tx.put_prefix(rec, who=str(identity), now=now)
            return public_prefix(rec, tx)

        return await self.svc.write(op, attempt=att)

    def get_prefix(self, prefix: str, identity: Identity | None) -> dict:
        self._owner_or_admin(identity, prefix, f"read prefix {prefix}")
        with self.svc.store.read() as tx:
            return public_prefix(self._enterprise(tx, prefix), tx, self.svc.quotas.used_today(prefix))

    def list_prefixes(self, identity: Identity | None) -> list[dict]:
        if identity is None:
            raise HandleError(RC.AUTHENTICATION_NEEDED, "authentication is needed to list prefixes")
        with self.svc.store.read() as tx:
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
        check_prefix(prefix)
        check_new_secret(secret)
        verifier = hash_secret(secret, seal=self.svc.seal)
        now = self.svc.now()

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
            tx.put_audit(self.svc.audit.entry(Attempt(CLI, "init", prefix, f"{NODE_ADMIN_INDEX}:{na}"), "allowed", 1))
            return True

        result = self.svc.committer.apply(op)
        self.svc.node_prefix = prefix
        return result


def refuse_nested(tx: Tx, prefix: str, owner: dict | None) -> None:
    """An enterprise prefix never lies inside another enterprise's: the admin of ``88.101.5`` administers
    every handle under it, so ``88.101.5.1`` given to another company would be that admin's to replace
    and list, and ``88.101`` … ``88.101.5`` the other way round. Refused (409), naming the prefix in the
    way. A sub-prefix for the same enterprise (its owner names the same ``organizationCode``, the unified
    social credit code) is allowed, within the parent's prefix quota (RC 605)."""
    code = (owner or {}).get("organizationCode")
    for p in ancestors(prefix)[1:]:
        rec = tx.get_prefix(p)
        if rec is not None and rec.get("kind") == "enterprise":
            if code and (rec.get("owner") or {}).get("organizationCode") == code:
                continue
            raise Conflict(RC.ERROR, f"prefix {prefix} lies under the enterprise prefix {rec['prefix']}, whose "
                           "admin administers every handle beneath it; allocate it outside any enterprise's "
                           "prefix, or for that enterprise (owner.organizationCode as the parent's)", field="prefix")
    for rec in tx.list_prefixes():
        if rec.get("kind") == "enterprise" and fold(rec["prefix"]) != fold(prefix) and is_within(rec["prefix"], prefix):
            raise Conflict(RC.ERROR, f"prefix {prefix} would hold the enterprise prefix {rec['prefix']}, and its "
                              "admin would administer that enterprise's handles; allocate it elsewhere", field="prefix")


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
