"""Every call the public pages and the console make into the node's service, in one thin module.

The console is one more transport on the same admission path: it authenticates through
``Service.authenticate`` (the API's login sequence: lock-out, audit, limits) and acts through the
same operations as the REST API, passing the signed-in identity; it decides nothing about permissions.
Should the service's method names change, this file is the one place to adapt.
"""

from __future__ import annotations

import base64
from functools import partial
from urllib.parse import quote

from protocol.batchjson import Batch, decode_operations, encode_batch_result
from protocol.codes import HandleError
from protocol.handles import key, split, strip_scheme
from protocol.prefixes import decode_allocate, encode_allocated
from protocol.template_requests import ReviseTemplate, decode_publish
from protocol.values import TEMPLATE_INDEX, HandleValue
from storage.records import unpack_record

from ...audit_trail import Caller
from ...credentials import Identity
from ...reports import entered, logos
from ...reports.sending import send_now
from ...service import MAX_BATCH as _MAX_BATCH
from ...service import Intent, Service
from ...service.audit_query import AuditQuery
from ...service.templates import find_template
from ...service.tenants import allocated_prefix, scope_of

__all__ = ["scope_of"]  # which prefix an identity acts for: the console's home page

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
    with svc.store.read() as tx:
        logo = logos.logo_of(tx, rec["prefix"])
    return {"prefix": rec["prefix"], "name": owner.get("name"), "website": owner.get("website"),
            "logo": f"/console/logo/{quote(rec['prefix'])}?v={logo[1][:12]}" if logo else None}


def field_names(svc: Service, handle: str, values: list[HandleValue]) -> tuple[dict[int, str], str | None]:
    """The names a record's data template gives its value indexes, and the template's version."""
    ref = next((v.data for v in values if v.index == TEMPLATE_INDEX), None)
    if ref is None:
        return {}, None
    try:
        prefix, _ = split(strip_scheme(handle))
        with svc.store.read() as tx:
            tpl = find_template(tx, prefix, ref)
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
# A console session is one of the service's bearer tokens (service/tokens.py), kept in a cookie: stored
# in LMDB so that every worker knows it, expiring, revoked at sign-out, and ended by the service itself
# when the identity's secret is rotated or its prefix disabled.


async def sign_in(svc: Service, identity: str, secret: str, *, caller: Caller) -> Identity:
    """The API's own sign-in: the form's identity and secret as the HTTP Basic header the REST API
    takes, through the same path (lock-out, audit, per-identity limits)."""
    user = quote(identity.strip(), safe="/")
    header = "Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode()
    found = await svc.identity_from_basic(header, caller=caller)
    assert found is not None
    return found


async def open_session(svc: Service, identity: Identity, lifetime: int, *, caller: Caller) -> tuple[str, int]:
    return await svc.issue_token(identity, lifetime, caller=caller)


async def session_identity(svc: Service, token: str, *, caller: Caller) -> Identity:
    """Who a session cookie speaks for, as the API's ``Authorization: Bearer`` is checked."""
    found = await svc.identity_from_basic(f"Bearer {token}", caller=caller)
    assert found is not None
    return found


async def close_session(svc: Service, token: str, identity: Identity, *, caller: Caller) -> None:
    await svc.revoke_token(token, identity, caller=caller)


# --- the console: an enterprise's identifiers, templates, batches and traces ------------------------


def prefixes(svc: Service, identity: Identity) -> list[dict]:
    return svc.list_prefixes(identity)


def prefix_details(svc: Service, prefix: str, identity: Identity) -> dict:
    """The prefix record with its owner details and counts, as ``GET /api/prefixes/{prefix}`` shows it."""
    return svc.get_prefix(prefix, identity)


def list_handles(svc: Service, prefix: str, page: int, size: int, identity: Identity) -> tuple[list[str], int]:
    return svc.list_handles(prefix, page, size, identity)


def resolve(svc: Service, handle: str, identity: Identity, client: str | None):
    """A record as its administrator reads it (every value it may read): a resolution like the API's,
    counted in the prefix's statistics as coming from ``client`` (the browser's address)."""
    return svc.resolve(handle, identity=identity, client=client)


def admit(svc: Service, op: str, identity: Identity, target: str | None = None) -> None:
    """The API's admission of a write before its body is read (service/admission.py)."""
    svc.admit(Intent(op, target), identity)


async def register(svc: Service, handle: str, values: list[HandleValue], identity: Identity, *,
                   caller: Caller) -> tuple[str, str]:
    admit(svc, "put_handle", identity, handle)
    return await svc.put_handle(handle, values, identity, overwrite=False, caller=caller)


def version_of(svc: Service, handle: str) -> str | None:
    """A record's version, as the API's ETag."""
    return svc.version_of(handle)


async def edit(svc: Service, handle: str, given: list[HandleValue], emptied: list[int], version: str,
               identity: Identity, *, caller: Caller) -> None:
    """``PUT /api/handles/{handle}?index=…`` with ``If-Match: version`` for the values given, then
    ``DELETE …?index=…`` for the values emptied (each refused as the API refuses it)."""
    from ...service.handles import Precondition

    admit(svc, "put_handle", identity, handle)
    if given:
        await svc.put_handle(handle, given, identity, indexes=[v.index for v in given],
                             precondition=Precondition(match=frozenset({version})), caller=caller)
    if emptied:
        if not given:  # the service's own check of the version, as a DELETE with If-Match would need
            Precondition(match=frozenset({version})).check(handle, svc.store.get_raw(key(strip_scheme(handle))))
        await svc.delete_handle(handle, identity, indexes=emptied, caller=caller)


async def delete(svc: Service, handle: str, identity: Identity, *, caller: Caller) -> str:
    return await svc.delete_handle(handle, identity, caller=caller)


def templates_of(svc: Service, prefix: str) -> list[dict]:
    return svc.list_templates(prefix)


def template(svc: Service, prefix: str, version: str) -> dict:
    return svc.get_template(prefix, version)


async def create_template(svc: Service, body: dict, identity: Identity, *, caller: Caller) -> dict:
    admit(svc, "put_template", identity)
    return dict((await svc.put_template(decode_publish(body), identity, caller=caller)).template)


async def revise_template(svc: Service, prefix: str, version: str, body: dict, identity: Identity, *,
                          caller: Caller) -> dict:
    admit(svc, "put_template", identity)
    return await svc.revise_template(ReviseTemplate.replacing(prefix, version, body), identity, caller=caller)


async def delete_template(svc: Service, prefix: str, version: str, identity: Identity, *, caller: Caller) -> None:
    await svc.delete_template(prefix, version, identity, caller=caller)


async def batch(svc: Service, operations: list[dict], identity: Identity, *, caller: Caller) -> dict:
    """``POST /api/batch``'s operation on these operations (one durable commit, a result each), its
    answer as the API's JSON."""
    request = Batch(partial(decode_operations, operations), max(1, len(operations)))
    return encode_batch_result(await svc.batch(request, identity, caller=caller))


MAX_BATCH = _MAX_BATCH


async def trace(svc: Service, ident: str, identity: Identity, budget_ms: int) -> dict:
    return await svc.trace_anywhere(ident, budget_ms=budget_ms, identity=identity)


# --- an enterprise's owner details and logo (the node admin's, or its own admin's) -------------------


async def set_owner(svc: Service, prefix: str, owner: dict, identity: Identity, *, caller: Caller) -> dict:
    """``PUT /api/prefixes/{prefix}/owner``'s operation: the owner details replaced."""
    return await entered.set_owner(svc, prefix, owner, identity, caller=caller)


def may_set_logo(prefix: str, identity: Identity) -> None:
    """Who may upload a logo, asked before the upload is read (the owner details' own rule)."""
    entered.authorize_owner_change(prefix, identity)


async def set_logo(svc: Service, prefix: str, raw: bytes, identity: Identity, *, caller: Caller) -> dict:
    return await logos.set_logo(svc, prefix, raw, identity, caller=caller)


async def delete_logo(svc: Service, prefix: str, identity: Identity, *, caller: Caller) -> None:
    await logos.delete_logo(svc, prefix, identity, caller=caller)


def logo(svc: Service, prefix: str) -> tuple[bytes, str] | None:
    with svc.store.read() as tx:
        return logos.logo_of(tx, prefix)


# --- the operator's pages ---------------------------------------------------------------------------


async def send_reports(svc: Service, identity: Identity) -> list[str]:
    """``idnode report send``'s queueing, for the node admin: what is due for the top-level node."""
    return await send_now(svc, identity)


async def allocate_prefix(svc: Service, body: dict, identity: Identity, *, caller: Caller) -> dict:
    admit(svc, "allocate_prefix", identity)
    return encode_allocated(await svc.allocate_prefix(decode_allocate(body), identity, caller=caller))


async def rotate_secret(svc: Service, prefix: str, identity: Identity, *, caller: Caller) -> dict:
    """``POST /api/prefixes/{prefix}/secret`` without a body: a new secret made by the node, answered once."""
    admit(svc, "rotate_secret", identity, prefix)
    return await svc.rotate_secret(prefix, None, identity, caller=caller)


async def set_prefix_state(svc: Service, prefix: str, state: str, identity: Identity, *, caller: Caller) -> dict:
    return await svc.set_prefix_state(prefix, state, identity, caller=caller)


def audit_trail(svc: Service, filters: dict[str, str], identity: Identity) -> tuple[list[dict], str | None]:
    return svc.audit_trail(AuditQuery.parse(filters), identity)


async def clear_lockout(svc: Service, target: str, identity: Identity, *, address: bool, caller: Caller) -> dict:
    return await svc.clear_lockout(target, identity, address=address, caller=caller)


def tokens(svc: Service, identity: Identity) -> list[dict]:
    return svc.list_tokens(identity)


async def revoke_token(svc: Service, token_id: str, identity: Identity, *, caller: Caller) -> None:
    await svc.revoke_token_by_id(token_id, identity, caller=caller)


# --- an enterprise's statistics ---------------------------------------------------------------------

STATS_DAYS = 30  # days a chart spans, at most
TOP_SOURCES = 10
TOP_IDS = 10  # identifiers the top-identifiers chart shows


def prefix_statistics(svc: Service, prefix: str, days: int, identity: Identity) -> dict:
    """A prefix's daily counts (the ones the top-level reports carry, storage/stats.py): identifiers
    registered, resolution requests and successful answers per UTC day, the addresses that asked most
    and the identifiers resolved most over those days. Whoever may read the prefix record (``GET /api/prefixes/{prefix}``: its own
    administrators, the node admin) may read its counts; the service decides that."""
    import time

    from storage.stats import day_of

    from ...reports.statistics import iso_day

    details = svc.get_prefix(prefix, identity)
    today = day_of(time.time())
    days = max(1, min(days, STATS_DAYS))
    per_day, sources, rest, ids = [], {}, 0, {}
    with svc.store.read() as tx:
        for day in range(today - days + 1, today + 1):
            st = tx.stats_of(day, prefix)
            per_day.append({"date": iso_day(day), "registered": tx.registrations_on(day, prefix),
                            "requests": st["req"], "resolved": st["ok"]})
            for ip, n in st["src"].items():
                sources[ip] = sources.get(ip, 0) + n
            rest += st.get("rest", 0)  # requests from addresses past the ones a day keeps
            for h, n in st.get("ids", {}).items():
                ids[h] = ids.get(h, 0) + n
    top = sorted(sources.items(), key=lambda kv: (-kv[1], kv[0]))
    # the identifiers as registered (``88.101.5/CASE-9``), not as counted (folded): ten look-ups
    identifiers = [(registered(svc, h), n) for h, n in sorted(ids.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_IDS]]
    requests = sum(d["requests"] for d in per_day)
    other = rest + sum(n for _, n in top[TOP_SOURCES:])
    # the sources add up to the requests: what no address was counted for (a request whose caller's
    # address the transport does not know) is shown as such, not left out
    return {"prefix": details.get("prefix", prefix), "days": per_day, "sources": top[:TOP_SOURCES],
            "otherSources": other, "unknownSources": max(0, requests - sum(sources.values()) - rest),
            "identifiers": identifiers}


# --- the operator's status page ---------------------------------------------------------------------


def node_status(svc: Service, identity: Identity) -> dict:
    """What ``GET /api/federation``, ``GET /api/replication/status`` and ``/readyz`` tell the node admin,
    the mirrors' acknowledgements with their lag, and a preview of today's statistics report owed to the
    top-level node (resolver/reports/statistics.py). The service's two calls refuse anyone but the
    node admin before anything else is read."""
    import time

    from storage.stats import day_of

    from ...reports.statistics import statistics

    federation = svc.federation_status(identity)
    last = svc.last_sequence(identity)
    now = time.time()
    with svc.store.read() as tx:
        node = tx.get_meta("node_prefix")
        acks = tx.mirror_acks()
        report = statistics(tx, node, day_of(now), now)
    mirrors = [{"name": name, "applied": a.get("applied", 0), "lagEntries": max(0, last - a.get("applied", 0)),
                "seenAgo": round(max(0.0, now - a["seen"])) if a.get("seen") else None}
               for name, a in sorted(acks.items())]
    return {"node": node, "role": svc.role, "mirrorOf": svc.mirror_of, "lastSequence": last,
            "federation": federation, "mirrors": mirrors, "report": report}
