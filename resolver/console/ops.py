"""Every call the public pages and the console make into the node's service, in one thin module.

The console is one more transport on the same admission path: it authenticates through
``Service.authenticate`` (the API's login sequence: lock-out, audit, limits) and acts through the
same operations as the REST API, passing the signed-in identity; it decides nothing about permissions.
Should the service's method names change, this file is the one place to adapt.
"""

from __future__ import annotations

import hashlib

from protocol.codes import HandleError
from protocol.handles import fold, key, split, strip_scheme
from protocol.values import TEMPLATE_INDEX, HandleValue
from storage.records import unpack_record

from ..credentials import Identity
from ..service import Service
from ..service.tenants import allocated_prefix, disabled_prefix_of

# --- public pages: what an outsider may read ------------------------------------------------------


def enterprise(svc: Service, handle: str) -> dict:
    """The public face of the enterprise a handle belongs to: its prefix and owner name (the owner
    details the operator recorded at allocation; public on every national platform's record page)."""
    prefix = handle.partition("/")[0]
    with svc.store.read() as tx:
        rec = allocated_prefix(tx, prefix)
    if rec is None or rec.get("kind") != "enterprise":
        return {}
    owner = rec.get("owner") or {}
    return {"prefix": rec["prefix"], "name": owner.get("name"), "website": owner.get("website")}


def field_names(svc: Service, handle: str, values: list[HandleValue]) -> tuple[dict[int, str], str | None]:
    """The names a record's data template gives its value indexes, and the template's version."""
    ref = next((v.data for v in values if v.index == TEMPLATE_INDEX), None)
    if ref is None:
        return {}, None
    try:
        prefix, _ = split(strip_scheme(handle))
        with svc.store.read() as tx:
            tpl = svc.find_template(tx, prefix, ref)
    except HandleError:
        return {}, None
    return {f["index"]: f["name"] for f in tpl["fields"]}, str(tpl.get("version", ""))


def registered(svc: Service, handle: str) -> str:
    """A handle as it was registered (``88.101.5/CASE-9``), however it was spelled when asked
    (identifiers in a trace are case-folded); the spelling given when there is no such record."""
    try:
        raw = svc.store.get_raw(key(strip_scheme(handle)))
    except (UnicodeEncodeError, HandleError):
        return handle
    return unpack_record(raw).handle if raw is not None else handle


# --- the console: sign-in and sessions -------------------------------------------------------------


async def sign_in(svc: Service, index: int, handle: str, secret: str) -> Identity:
    """The API's login sequence (lock-out, audit, per-identity limits), for a form's secret."""
    return await svc.authenticate(index, handle, secret)


def credential_mark(svc: Service, identity: Identity) -> str | None:
    """A digest of the identity's stored verifier: it changes when the secret is rotated, which ends
    every console session opened with the old secret. None when the identity has no secret any more."""
    with svc.store.read() as tx:
        verifier = tx.get_verifier(identity.index, identity.handle)
    if verifier is None:
        return None
    raw = verifier if isinstance(verifier, bytes) else str(verifier).encode()
    return hashlib.sha256(raw).hexdigest()


def prefix_disabled(svc: Service, identity: Identity) -> bool:
    with svc.store.read() as tx:
        return disabled_prefix_of(tx, identity) is not None


def same_identity(a: Identity, b: Identity) -> bool:
    return a.index == b.index and fold(a.handle) == fold(b.handle)

