"""Admission of a write before its body is read (DESIGN.md, "one admission path").

A request that carries a body to write is admitted in this order: cheap refusals (the adapter's:
content type, declared size), then who is asking (from the headers), then whether they may do what
the request names before its body says more (the intent: the handle in the path, the prefix whose
secret is rotated, capturing events at all). Only then is the body read and parsed, so that an
anonymous request costs at most its headers and one from someone without rights a look-up.

The operation itself checks again, on the parsed body, in its own transaction: what is admitted
here is a necessary condition, never a sufficient one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from protocol import admin as adm
from protocol.codes import RC, HandleError
from protocol.handles import fold, na_handle, split, strip_scheme

from ..credentials import Identity
from .base import NODE_ADMIN_INDEX

if TYPE_CHECKING:
    from . import Service

# What a partial put may need, any one of which lets it through here (AdminRef.allows takes any bit):
# the operation then works out the exact bits from the values.
_ANY_CHANGE = adm.ADD_VALUE | adm.MODIFY_VALUE | adm.ADD_ADMIN | adm.MODIFY_ADMIN


@dataclass(frozen=True, slots=True)
class Intent:
    """What a request would do, as far as it is known without its body."""

    op: str  # put_handle, batch, capture, put_template, allocate_prefix, rotate_secret
    target: str | None = None  # the handle (put_handle) or prefix (rotate_secret) named in the path
    partial: bool = False  # put_handle with ?index=: add or change some values only
    mint: bool = False  # put_handle with mintNewSuffix: a new handle under the prefix the path names


WHAT = {"put_handle": "register or change a handle", "batch": "register handles", "capture": "capture events",
        "put_template": "publish templates", "allocate_prefix": "allocate prefixes",
        "rotate_secret": "change a prefix's secret"}


class AdmissionOps:
    """Admission of a write before its body is read."""

    def __init__(self, svc: Service):
        self.svc = svc

    def admit(self, intent: Intent, identity: Identity | None) -> Identity:
        """The identity, if it may go on to have its body read; else the refusal (401, 403, 404...)."""
        if identity is None:
            raise HandleError(RC.AUTHENTICATION_NEEDED, f"authentication is needed to {WHAT[intent.op]}")
        op = intent.op
        if op == "put_handle" and intent.target is not None:
            self._admit_put(intent, identity)
        elif op == "capture":
            self.svc.events.may_capture(identity)
        elif op == "allocate_prefix":
            self.svc.require_node_admin(identity, "allocate prefixes")
        elif op == "rotate_secret" and intent.target is not None:
            if not (identity.node_admin or (identity.index == NODE_ADMIN_INDEX
                                            and fold(identity.handle) == fold(na_handle(intent.target)))):
                raise HandleError(RC.NOT_AUTHORIZED, f"{identity} may not change the secret of {intent.target}")
        elif op == "put_template" and not identity.node_admin:
            # An enterprise admin (300:0.NA/<its prefix>, allocated here) publishes its own prefix's.
            na, _, prefix = identity.handle.partition("/")
            with self.svc.store.read() as tx:
                allowed = identity.index == NODE_ADMIN_INDEX and fold(na) == "0.na" and tx.get_prefix(prefix)
            if not allowed:
                raise HandleError(RC.NOT_AUTHORIZED, f"{identity} may not publish templates")
        return identity

    def _admit_put(self, intent: Intent, identity: Identity) -> None:
        handle = strip_scheme(intent.target or "")
        if intent.mint:
            prefix, suffix = handle.rstrip("/"), None
        else:
            prefix, suffix = split(handle)
        with self.svc.store.read() as tx:
            if suffix is None:  # a new handle under prefix: the prefix handle's HS_ADMIN decides
                self.svc.check_writable(tx, prefix, "")
                self.svc.authorize(tx, identity, prefix, "", None, adm.ADD_HANDLE, f"create handles under {prefix}")
                return
            self.svc.check_writable(tx, prefix, suffix)
            old = tx.get_handle(handle)
            if not intent.partial:
                self.svc.handles.authorize_put(tx, identity, handle, prefix, suffix, old, [], partial=False)
            elif old is None:
                raise HandleError(RC.HANDLE_NOT_FOUND, f"handle {handle} not found", field="handle")
            else:
                self.svc.authorize(tx, identity, prefix, suffix, old, _ANY_CHANGE, f"change {handle}")
