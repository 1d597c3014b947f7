"""EPCIS capture and query: validation, permissions, idempotent storage, the standard's filters."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import replace
from typing import TYPE_CHECKING

from protocol.capture import (
    NOT_A_BODY,
    CaptureJob,
    CaptureRejected,
    CaptureRequest,
    CaptureResult,
    CaptureTooLarge,
    capture_job_json,
    decode_capture_job,
)
from protocol.codes import RC, HandleError
from protocol.epcis import EventError, EventFacts, facts, iso_ms
from protocol.epcis_hash import context_namespaces
from protocol.epcis_ids import GS1_HOST, canonical, display_handle
from protocol.epcis_rules import errors as rule_errors
from protocol.eventquery import MAX_PAGE, EventQuery, encode_token, vocab
from protocol.gs1 import identity as gs1_identity
from protocol.handles import fold, is_within
from protocol.refusals import Unavailable
from storage import Tx
from storage.events import part

from ..audit_trail import Attempt, mutation
from ..credentials import Identity
from .epcis_schema import CONTEXT, SchemaUnavailable
from .tenants import refuse_disabled, scope_of

if TYPE_CHECKING:
    from . import Service

MAX_CAPTURE_EVENTS = 50_000  # one document through POST /capture
MAX_SYNC_EVENTS = 10_000  # one batch through POST /api/events
MAX_ERRORS = 20
MAX_SCAN = 20_000  # events one query page reads at most, however few of them the caller may see


def _place(event: dict, name: str) -> str | None:
    v = event.get(name)
    if isinstance(v, dict) and isinstance(v.get("id"), str):
        return canonical(v["id"])
    return None


class EventOps:
    """EPCIS events: capture (and capture jobs), read, query."""

    def __init__(self, svc: Service):
        self.svc = svc
        self._jobs: set[asyncio.Task] = set()  # capture jobs running (kept so they are not collected)

    # --- capture ---------------------------------------------------------------------------------
    def may_capture(self, identity: Identity | None) -> None:
        if identity is None:
            raise HandleError(RC.AUTHENTICATION_NEEDED, "authentication is needed to capture events")
        if identity.node_admin:
            return
        ip, _, isuffix = identity.handle.partition("/")
        if identity.index == 300 and fold(ip) == "0.na":
            with self.svc.store.read() as tx:
                if tx.get_prefix(isuffix) is not None:
                    refuse_disabled(tx, identity, "capture events")
                    return
        raise HandleError(RC.NOT_AUTHORIZED, f"{identity} may not capture events: an enterprise admin "
                          "(300:0.NA/<prefix>) or the node admin may")

    def may_declare(self, tx: Tx, identity: Identity | None, event_id: str) -> None:
        """Only the enterprise that captured an event (or the node admin) may declare it erroneous: an error
        declaration takes the event out of every timeline, so another tenant's would rewrite its history."""
        stored, capturer = tx.event_capturer(event_id)
        if not stored or identity is None or identity.node_admin:
            return
        if capturer is not None and fold(scope_of(capturer)) == fold(scope_of(identity)):
            return
        raise HandleError(RC.NOT_AUTHORIZED, f"{identity} may not declare event {event_id} erroneous: only the "
                          "enterprise that captured it, or the node admin, may")

    def prepare(self, request: CaptureRequest, limit: int) -> list[tuple[EventFacts, dict]]:
        """Validate a whole capture request; every event with its facts, or CaptureRejected. CPU only."""
        if request.shape == "other":
            raise CaptureRejected([EventError(NOT_A_BODY)])
        events = request.events
        if not events:
            raise CaptureRejected([EventError("the document carries no events")])
        if len(events) > limit:
            raise CaptureTooLarge([EventError(f"the document has {len(events)} events; at most {limit} "
                                              "are taken in one capture")])
        now_iso = iso_ms(int(self.svc.clock() * 1000))
        doc = request.document(now_iso)
        errors: list[EventError] = []
        for i, ev in enumerate(events):
            if not isinstance(ev, dict):
                errors.append(EventError("an event must be a JSON object", i))
            elif ev.get("type") not in ("ObjectEvent", "AggregationEvent", "TransactionEvent",
                                        "TransformationEvent", "AssociationEvent"):
                errors.append(EventError(f"unknown event type {ev.get('type')!r}", i, "type"))
            if len(errors) >= MAX_ERRORS:
                break
        if errors:
            raise CaptureRejected(errors)
        try:
            errors = self.svc.epcis.errors(doc, MAX_ERRORS)
        except SchemaUnavailable as e:
            raise Unavailable(RC.ERROR, str(e)) from None
        # What the schema states but cannot check (vocabularies, namespaces, times), event by event.
        errors = sorted(errors + rule_errors(list(events), doc.get("@context"), MAX_ERRORS),
                        key=lambda e: -1 if e.position is None else e.position)[:MAX_ERRORS]
        if errors:
            raise CaptureRejected(errors)
        out = []
        namespaces = context_namespaces(doc.get("@context"))
        for i, ev in enumerate(events):
            try:
                f = facts(ev, i, {**namespaces, **context_namespaces(ev.get("@context"))})
            except EventError as e:
                errors.append(e)
                if len(errors) >= MAX_ERRORS:
                    break
                continue
            stored = dict(ev)
            stored.setdefault("eventID", f.event_id)
            stored["recordTime"] = now_iso
            stored.pop("@context", None)
            out.append((f, stored))
        if errors:
            raise CaptureRejected(errors)
        return out

    @mutation("capture")
    async def capture(self, att: Attempt, request: CaptureRequest, identity: Identity | None, *,
                      limit: int = MAX_SYNC_EVENTS) -> CaptureResult:
        """Validate and store a document at once: all its events or none."""
        self.may_capture(identity)
        loop = asyncio.get_running_loop()
        prepared = await loop.run_in_executor(None, self.prepare, request, limit)
        return await self._store(att, prepared, request.context, identity)

    async def _store(self, att: Attempt, prepared: list[tuple[EventFacts, dict]], ctx: object,
                     identity: Identity | None) -> CaptureResult:
        who = str(identity) if identity is not None else None

        def op(tx: Tx) -> dict:
            counts = {"stored": 0, "duplicate": 0, "declared": 0}
            for f, ev in prepared:
                if f.declared:
                    self.may_declare(tx, identity, f.event_id)
                counts[tx.put_event(f, ev, ctx, who)] += 1
            return counts

        counts = await self.svc.write(op, attempt=att)
        return CaptureResult(len(prepared), counts["stored"], counts["duplicate"], counts["declared"],
                             tuple(f.event_id for f, _ in prepared))

    @mutation("capture_job")
    async def start_capture_job(self, att: Attempt, request: CaptureRequest, identity: Identity | None) -> CaptureJob:
        """The standard's capture interface: a job that validates and stores the document; its state is
        read with ``capture_job``. Answers the job as it starts (running)."""
        self.may_capture(identity)
        job = CaptureJob(uuid.uuid4().hex, iso_ms(int(self.svc.clock() * 1000)))
        await self.svc.write(lambda tx: tx.put_job(job.capture_id, capture_job_json(job)), attempt=att)

        async def run() -> None:
            try:
                res = await self.capture(request, identity, limit=MAX_CAPTURE_EVENTS, caller=att.caller)
                done = replace(job, running=False, success=True, result=res)
            except CaptureRejected as e:
                done = replace(job, running=False, success=False, errors=tuple(x.to_json() for x in e.errors))
            except HandleError as e:
                done = replace(job, running=False, success=False, errors=({"reason": e.message},))
            done = replace(done, finished_at=iso_ms(int(self.svc.clock() * 1000)))
            await self.svc.write(lambda tx: tx.put_job(job.capture_id, capture_job_json(done)))

        task = asyncio.get_running_loop().create_task(run())
        self._jobs.add(task)
        task.add_done_callback(self._jobs.discard)
        return job

    def capture_job(self, job: str) -> CaptureJob:
        with self.svc.store.read() as tx:
            status = tx.get_job(job)
        if status is None:
            raise HandleError(RC.HANDLE_NOT_FOUND, f"no capture job {job}")
        return decode_capture_job(status)

    # --- query -------------------------------------------------------------------------------------
    # --- who may read an event (README, "Who reads events") --------------------------------------------
    def require_event_reader(self, identity: Identity | None) -> None:
        if identity is None:
            raise HandleError(RC.AUTHENTICATION_NEEDED, "authentication is needed to read events: an event is "
                              "readable by the enterprises it names, the one that captured it, and the node admin")

    def may_read_event(self, tx: Tx, identity: Identity, ev: dict, capturer: str | None) -> bool:
        """The node admin reads every event; an enterprise (any identity under its prefix) reads the events it
        captured and those that name one of its identifiers: a handle under its prefix, or a GS1 key one of
        its records carries."""
        if identity.node_admin:
            return True
        scope = scope_of(identity)
        if capturer is not None and fold(scope_of(capturer)) == fold(scope):
            return True
        for ident in facts(ev).identifiers:
            handle = display_handle(ident)
            if handle is None and ident.startswith(GS1_HOST + "/"):
                hk = tx.handle_for_gs1(gs1_identity(ident))
                handle = hk.decode("utf-8", "replace") if hk is not None else None
            if handle is not None and is_within(handle.partition("/")[0], scope):
                return True
        return False

    def get_event(self, event_id: str, identity: Identity | None = None) -> tuple[dict, object]:
        self.require_event_reader(identity)
        with self.svc.store.read() as tx:
            k = part(event_id)
            got = tx.get_event(event_id)
            readable = got is not None and self.may_read_event(tx, identity, got[0], tx.load_event_row(k)[3])
        if not readable:  # the same answer as for no such event: an event's existence is not told either
            raise HandleError(RC.HANDLE_NOT_FOUND, f"no event {event_id} that {identity} may read")
        return got[0], got[2]

    def query_events(self, query: EventQuery,
                     identity: Identity | None = None) -> tuple[list[tuple[dict, object]], str | None]:
        """Events matching the standard's simple filters that ``identity`` may read, in time order, one page
        at a time. A page reads at most ``MAX_SCAN`` events: past that it ends early, with a token to go on."""
        self.require_event_reader(identity)
        q = query
        ids, steps, disps, locs, rps = q.ids, q.steps, q.dispositions, q.locations, q.read_points
        types, actions, lo, hi, start = q.types, q.actions, q.since, q.before, q.start
        per_page = max(1, min(q.per_page, MAX_PAGE))  # whoever built the query
        # The candidate set: one identifier's index when a filter names a single identifier, else time order.
        source = next((next(iter(v)) for v in ids.values() if len(v) == 1), None)

        def keep(ev: dict) -> bool:
            if types and ev.get("type") not in types:
                return False
            if steps is not None and vocab(ev.get("bizStep")) not in steps:
                return False
            if disps is not None and vocab(ev.get("disposition")) not in disps:
                return False
            if locs is not None and _place(ev, "bizLocation") not in locs:
                return False
            if rps is not None and _place(ev, "readPoint") not in rps:
                return False
            if actions and ev.get("action") not in actions:
                return False
            if ids:
                f = facts(ev)
                roles = {"MATCH_epc": set(f.epcs), "MATCH_anyEPC": set(f.identifiers),
                         "MATCH_parentID": {f.parent} if f.parent else set(), "MATCH_inputEPC": set(f.inputs),
                         "MATCH_outputEPC": set(f.outputs)}
                if any(not (want & roles[name]) for name, want in ids.items()):
                    return False
            return True

        out: list[tuple[dict, object]] = []
        last = None
        with self.svc.store.read() as tx:
            it = (tx.event_keys_for(source, start, lo, hi) if source is not None
                  else tx.event_keys_by_time(start, lo, hi))
            for n, (ik, ek) in enumerate(it):
                if n >= MAX_SCAN and last is not None:
                    return out, encode_token(last)
                ev, _, ctx, capturer = tx.load_event_row(ek)
                if keep(ev) and self.may_read_event(tx, identity, ev, capturer):
                    if len(out) == per_page:
                        return out, encode_token(last)
                    out.append((ev, ctx))
                last = ik
        return out, None

    def query_document(self, found: list[tuple[dict, object]]) -> dict:
        """An EPCIS query document for events, with the contexts their documents declared."""
        ctx: list = [CONTEXT]
        for _, c in found:
            for item in c if isinstance(c, list) else [c] if c else []:
                if isinstance(item, dict) and item not in ctx:
                    ctx.append(item)
        return {"@context": ctx, "type": "EPCISQueryDocument", "schemaVersion": "2.0",
                "creationDate": iso_ms(int(self.svc.clock() * 1000)),
                "epcisBody": {"queryResults": {"queryName": "SimpleEventQuery",
                                               "resultsBody": {"eventList": [e for e, _ in found]}}}}
