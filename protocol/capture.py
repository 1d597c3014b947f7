"""EPCIS capture as typed values, and their JSON (``POST /capture``, ``POST /api/events``, ``GET /capture/{id}``).

The decoder takes whatever JSON the caller sent and never refuses: what it is (a document, a list of events,
one event, or none of those) is recorded, and the service judges it (count, event types, the standard's
schema and rules), so that a ``/capture`` job reports every problem the same way, after admission. The
service takes a ``CaptureRequest`` and answers a ``CaptureResult``; a capture job's state is a
``CaptureJob``, stored and served as the JSON these codecs give (the same bytes as before they existed).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from .codes import RC
from .epcis import EventError
from .refusals import Invalid, TooLarge

EPCIS_CONTEXT = "https://ref.gs1.org/standards/epcis/epcis-context.jsonld"
NOT_A_BODY = "the body must be an EPCIS document, a list of events or one event"


class CaptureRejected(Invalid):
    """A document refused as a whole: nothing of it is stored. ``errors`` name each event's problem."""

    def __init__(self, errors: list[EventError], message: str | None = None):
        first = errors[0]
        where = f" (event {first.position})" if first.position is not None else ""
        super().__init__(RC.INVALID_VALUE, message or f"{first.message}{where}", details=[e.to_json() for e in errors])
        self.errors = errors


class CaptureTooLarge(TooLarge, CaptureRejected):
    """More events in one document than the operation takes (the TooLarge kind)."""


@dataclass(frozen=True, slots=True)
class CaptureRequest:
    """What a capture body carries. ``shape``: ``document`` (an EPCISDocument: ``header`` is its own fields,
    with its ``epcisBody``'s fields other than the events, and ``single`` says the events were its
    ``epcisBody.event``), ``list`` (a list of events), ``event`` (one event) or ``other`` (no capture body).
    ``events`` are as sent (the service checks each); ``context`` is the body's ``@context``, stored with
    the events."""

    shape: str
    events: tuple[object, ...] = ()
    header: Mapping[str, object] = field(default_factory=dict)
    single: bool = False
    context: object = None

    def document(self, now_iso: str) -> dict:
        """The EPCIS document the schema judges: the one sent, or the events wrapped in one."""
        if self.shape != "document":
            return {"@context": [EPCIS_CONTEXT], "type": "EPCISDocument", "schemaVersion": "2.0",
                    "creationDate": now_iso, "epcisBody": {"eventList": list(self.events)}}
        doc = dict(self.header)
        body = doc.get("epcisBody")
        if isinstance(body, Mapping) and self.events:
            doc["epcisBody"] = {**body, **({"event": self.events[0]} if self.single
                                          else {"eventList": list(self.events)})}
        elif isinstance(body, Mapping):
            doc["epcisBody"] = dict(body)
        return doc


def decode_capture(body: object) -> CaptureRequest:
    """A capture body (parsed JSON) as a request; never refuses (see the module's docstring)."""
    if isinstance(body, list):
        return CaptureRequest("list", tuple(body))
    if not isinstance(body, dict):
        return CaptureRequest("other")
    ctx = body.get("@context")
    if body.get("type") != "EPCISDocument":
        return CaptureRequest("event", (body,), context=ctx)
    inner = body.get("epcisBody")
    events: tuple = ()
    single = False
    if isinstance(inner, dict):
        if isinstance(inner.get("eventList"), list):
            events = tuple(inner["eventList"])
            inner = {k: v for k, v in inner.items() if k != "eventList"}
        elif isinstance(inner.get("event"), dict):
            events, single = (inner["event"],), True
            inner = {k: v for k, v in inner.items() if k != "event"}
    header = {**body, "epcisBody": inner} if "epcisBody" in body else dict(body)
    return CaptureRequest("document", events, MappingProxyType(header), single, ctx)


@dataclass(frozen=True, slots=True)
class CaptureResult:
    """A capture done: how many events it carried, how many were new, already held, or error declarations
    honoured; the eventIDs in the document's order."""

    captured: int
    stored: int
    duplicate: int
    declared: int
    event_ids: tuple[str, ...]

    @property
    def changed(self) -> bool:
        """Did it store anything (HTTP answers 201 then, else 200)?"""
        return bool(self.stored or self.declared)


def capture_result_json(r: CaptureResult) -> dict:
    return {"captured": r.captured, "stored": r.stored, "duplicate": r.duplicate, "declared": r.declared,
            "eventIDs": list(r.event_ids)}


@dataclass(frozen=True, slots=True)
class CaptureJob:
    """A capture job's state (the standard's capture interface). ``success`` is None while it runs;
    ``errors``: each event's problem (``reason``, ``position``, ``path``) when it failed; ``result`` the
    counts when it succeeded."""

    capture_id: str
    created_at: str
    running: bool = True
    success: bool | None = None
    errors: tuple[Mapping[str, object], ...] = ()
    result: CaptureResult | None = None
    finished_at: str | None = None
    error_behaviour: str = "rollback"
    extra: Mapping[str, object] = field(default_factory=dict)  # stored fields this version does not know


_JOB_KNOWN = frozenset({"captureID", "createdAt", "running", "success", "captureErrorBehaviour", "errors", "captured",
                        "stored", "duplicate", "declared", "finishedAt"})


def capture_job_json(job: CaptureJob) -> dict:
    """The job as ``GET /capture/{id}`` answers it, and as it is stored."""
    out: dict = {"captureID": job.capture_id, "createdAt": job.created_at, "running": job.running,
                 "success": job.success, "captureErrorBehaviour": job.error_behaviour,
                 "errors": [dict(e) for e in job.errors]}
    if job.result is not None:
        r = job.result
        out.update(captured=r.captured, stored=r.stored, duplicate=r.duplicate, declared=r.declared)
    out.update(job.extra)
    if job.finished_at is not None:
        out["finishedAt"] = job.finished_at
    return out


def decode_capture_job(stored: Mapping) -> CaptureJob:
    """A job as ``capture_job_json`` gave it (a stored job)."""
    result = None
    if "captured" in stored:
        result = CaptureResult(stored["captured"], stored.get("stored", 0), stored.get("duplicate", 0),
                               stored.get("declared", 0), ())
    return CaptureJob(stored["captureID"], stored["createdAt"], bool(stored.get("running")), stored.get("success"),
                      tuple(MappingProxyType(dict(e)) for e in stored.get("errors") or ()), result,
                      stored.get("finishedAt"), stored.get("captureErrorBehaviour", "rollback"),
                      MappingProxyType({k: v for k, v in stored.items() if k not in _JOB_KNOWN}))
