"""The top-level node's side: reports its secondary nodes send, kept per secondary, kind and key.

A secondary node ``N`` sends as its identity there, ``300:0.NA/N`` (the one that registers its
prefixes); the top-level node must hold ``N``'s delegation. Only that identity may send N's reports;
N itself and the top-level node's admin may read them.
"""

from __future__ import annotations

import re
import time

from protocol.codes import RC, HandleError
from protocol.handles import check_prefix, fold, na_handle

from ..credentials import Identity
from ..service import Service
from ..service.base import NODE_ADMIN_INDEX
from .statistics import day_number

# kind → the form of its key: a day (daily tables), a month, "current" (tables sent on change), a number
KINDS = {"statistics": "day", "masterdata": "day", "metadata": "day", "operator": "current", "enterprises": "current",
         "configuration": "current", "applications": "month", "event": "number"}
_KEY_FORMS = {"day": re.compile(r"\d{4}-\d{2}-\d{2}"), "month": re.compile(r"\d{4}-\d{2}"),
              "current": re.compile(r"current"), "number": re.compile(r"[0-9]{1,18}")}
MAX_REPORTS_LISTED = 1000


def check_kind_key(kind: str, key: str | None) -> None:
    form = KINDS.get(kind)
    if form is None:
        raise HandleError(RC.INVALID_VALUE, f"kind must be one of {', '.join(sorted(KINDS))}, not {kind!r}",
                          field="kind")
    if key is None:
        return
    if not _KEY_FORMS[form].fullmatch(key):
        raise HandleError(RC.INVALID_VALUE, f"a {kind} report is keyed by a {form}, not {key!r}", field="key")
    if form == "day":
        try:
            day_number(key)
        except ValueError:
            raise HandleError(RC.INVALID_VALUE, f"{key!r} is not a date (YYYY-MM-DD)", field="date") from None


def _node(svc: Service, node: str) -> str:
    if svc.role != "top":
        raise HandleError(RC.OPERATION_NOT_SUPPORTED, "reports are kept by top-level nodes (--role top) only",
                          status=404)
    return check_prefix(node)


def _is_secondary(identity: Identity, node: str) -> bool:
    return identity.index == NODE_ADMIN_INDEX and fold(identity.handle) == fold(na_handle(node))


def authorize_sender(svc: Service, node: str, kind: str, key: str, identity: Identity | None) -> str:
    """Refuse, before the body is read, anyone but secondary ``node`` itself; the prefix checked."""
    node = _node(svc, node)
    if identity is None:
        raise HandleError(RC.AUTHENTICATION_NEEDED, "authentication is needed to send a report")
    if not _is_secondary(identity, node):
        raise HandleError(RC.NOT_AUTHORIZED, f"{identity} may not send the reports of {node}: only "
                          f"{NODE_ADMIN_INDEX}:{na_handle(node)} may")
    check_kind_key(kind, key)
    return node


async def accept(svc: Service, node: str, kind: str, key: str, report: object, identity: Identity | None) -> bool:
    """Keep ``report`` from secondary ``node``; True when it replaced one with the same key."""
    node = authorize_sender(svc, node, kind, key, identity)
    if not isinstance(report, dict):
        raise HandleError(RC.INVALID_VALUE, "a report is a JSON object", field="body")
    with svc.store.read() as tx:
        if tx.get_prefix(node) is None:
            raise HandleError(RC.HANDLE_NOT_FOUND, f"{node} is not delegated by this node", status=404,
                              field="nodePrefix")
    kept = {**report, "receivedAt": int(time.time()), "from": str(identity)}

    def op(tx) -> bool:
        old = tx.get_report(node, kind, key)
        tx.put_report(node, kind, key, kept)
        return old is not None

    return await svc.write(op)


def read(svc: Service, node: str, kind: str, key: str | None, identity: Identity | None) -> dict:
    """One report, or (without ``key``) the keys held of that kind."""
    node = _node(svc, node)
    if identity is None:
        raise HandleError(RC.AUTHENTICATION_NEEDED, "authentication is needed to read reports")
    if not identity.node_admin and not _is_secondary(identity, node):
        raise HandleError(RC.NOT_AUTHORIZED, f"{identity} may not read the reports of {node}")
    check_kind_key(kind, key)
    with svc.store.read() as tx:
        if key is None:
            got = tx.list_reports(node, kind, MAX_REPORTS_LISTED)
            return {"node": node, "kind": kind,
                    "reports": [{"key": k, "receivedAt": r.get("receivedAt")} for k, r in got]}
        rep = tx.get_report(node, kind, key)
    if rep is None:
        raise HandleError(RC.HANDLE_NOT_FOUND, f"no {kind} report {key} from {node}", status=404, field="key")
    return rep
