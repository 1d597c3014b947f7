"""What the operator enters for the reports: owner details of a prefix (tables 1 and 6) and the
identifier applications (tables 5 and 10)."""

from __future__ import annotations

from protocol.codes import RC, HandleError
from protocol.handles import check_prefix, fold, na_handle
from protocol.prefixes import check_owner
from storage import Tx

from ..audit_trail import Attempt, mutation
from ..credentials import Identity
from ..service import Service
from ..service.base import NODE_ADMIN_INDEX
from .tables import APPLICATIONS_META

APP_TYPES = ("app", "mini-program", "web", "pc", "other")
APP_TEXT = ("name", "description", "recursiveResolver", "developer", "prefix")
MAX_APPLICATIONS = 1000
MAX_TEXT = 1024


def authorize_owner_change(prefix: str, identity: Identity | None) -> None:
    """Who may change a prefix's owner details (and its logo, logos.py): the node admin for
    any, an enterprise's admin (300:0.NA/<prefix>) for its own."""
    check_prefix(prefix)
    if identity is None:
        raise HandleError(RC.AUTHENTICATION_NEEDED, "authentication is needed to change a prefix's owner details")
    if not identity.node_admin and not (identity.index == NODE_ADMIN_INDEX
                                        and fold(identity.handle) == fold(na_handle(prefix))):
        raise HandleError(RC.NOT_AUTHORIZED, f"{identity} may not change the owner details of {prefix}")


@mutation("set_owner", target=0)
async def set_owner(svc: Service, att: Attempt, prefix: str, owner: object, identity: Identity | None) -> dict:
    """Replace the owner details of a prefix held here: the node admin for any, an enterprise's
    admin (300:0.NA/<prefix>) for its own."""
    authorize_owner_change(prefix, identity)
    clean = check_owner(owner)
    now = svc.now()

    def op(tx: Tx) -> dict:
        rec = tx.get_prefix(prefix)
        if rec is None:
            raise HandleError(RC.HANDLE_NOT_FOUND, f"prefix {prefix} is not held here", status=404, field="prefix")
        rec = {**rec, "owner": clean, "updated": now}
        tx.put_prefix(rec, who=str(identity), now=now)
        return rec

    return await svc.write(op, attempt=att)


def check_applications(doc: object) -> list[dict]:
    if not isinstance(doc, list):
        raise HandleError(RC.INVALID_VALUE, "applications must be a JSON list of objects", field="applications")
    if len(doc) > MAX_APPLICATIONS:
        raise HandleError(RC.INVALID_VALUE, f"at most {MAX_APPLICATIONS} applications", field="applications")
    out = []
    for n, app in enumerate(doc):
        where = f"applications[{n}]"
        if not isinstance(app, dict):
            raise HandleError(RC.INVALID_VALUE, f"{where} must be an object", field=where)
        unknown = set(app) - {*APP_TEXT, "type", "users"}
        if unknown:
            raise HandleError(RC.INVALID_VALUE, f"{where}.{sorted(unknown)[0]} is not a field of an application "
                              f"({', '.join((*APP_TEXT, 'type', 'users'))})", field=where)
        if not isinstance(app.get("name"), str) or not app["name"].strip():
            raise HandleError(RC.INVALID_VALUE, f"{where}.name is required", field=f"{where}.name")
        for k in APP_TEXT:
            if k in app and (not isinstance(app[k], str) or len(app[k]) > MAX_TEXT):
                raise HandleError(RC.INVALID_VALUE, f"{where}.{k} must be text of at most {MAX_TEXT} characters",
                                  field=f"{where}.{k}")
        if app.get("type", "other") not in APP_TYPES:
            raise HandleError(RC.INVALID_VALUE, f"{where}.type must be one of {', '.join(APP_TYPES)}",
                              field=f"{where}.type")
        users = app.get("users", 0)
        if not isinstance(users, int) or isinstance(users, bool) or users < 0:
            raise HandleError(RC.INVALID_VALUE, f"{where}.users must be a whole number ≥ 0", field=f"{where}.users")
        if "prefix" in app:
            check_prefix(app["prefix"])
        out.append({**app, "type": app.get("type", "other"), "users": users})
    return out


async def set_applications(svc: Service, doc: object) -> int:
    apps = check_applications(doc)
    await svc.write(lambda tx: tx.put_meta(APPLICATIONS_META, apps))
    return len(apps)
