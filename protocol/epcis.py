"""EPCIS 2.0 events as data: the event types, their times, and the identifiers they name by role.

Pure functions over decoded JSON; schema validation (which needs the standard's schema file) and
storage live elsewhere. ``EventError`` names what is wrong with one event.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from .epcis_hash import event_hash
from .epcis_ids import canonical

EVENT_TYPES = ("ObjectEvent", "AggregationEvent", "TransactionEvent", "TransformationEvent", "AssociationEvent")
# Parent/child relations: the parent contains (aggregation) or is made up of (association) the children.
PARENT_CHILD = ("AggregationEvent", "AssociationEvent")


class EventError(ValueError):
    """One event cannot be taken: ``position`` is its index in the document's event list."""

    def __init__(self, message: str, position: int | None = None, path: str | None = None):
        super().__init__(message)
        self.message = message
        self.position = position
        self.path = path

    def to_json(self) -> dict:
        out: dict = {"reason": self.message}
        if self.position is not None:
            out["position"] = self.position
        if self.path:
            out["path"] = self.path
        return out


def parse_time(text: object, name: str = "eventTime") -> int:
    """An xsd:dateTime with a time zone as milliseconds since the epoch (UTC)."""
    if not isinstance(text, str):
        raise EventError(f"{name} must be a date-time string", path=name)
    try:
        dt = datetime.fromisoformat(text.strip())
    except ValueError:
        raise EventError(f"{name} {text!r} is not an ISO 8601 date-time", path=name) from None
    if dt.tzinfo is None:
        raise EventError(f"{name} {text!r} has no time zone offset", path=name)
    return int(dt.timestamp() * 1000)


def iso_ms(ms: int) -> str:
    """Milliseconds since the epoch as ``2026-11-22T10:59:21.123Z``."""
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _ids(event: dict, name: str) -> list[str]:
    v = event.get(name)
    return [x for x in v if isinstance(x, str)] if isinstance(v, list) else []


def _classes(event: dict, name: str) -> list[str]:
    v = event.get(name)
    if not isinstance(v, list):
        return []
    return [q["epcClass"] for q in v if isinstance(q, dict) and isinstance(q.get("epcClass"), str)]


@dataclass(slots=True)
class EventFacts:
    """What the indexes need from one event, identifiers in canonical form."""

    event_id: str
    type: str
    time: int  # ms since the epoch
    epcs: list[str] = field(default_factory=list)  # epcList / childEPCs and quantity classes
    parent: str | None = None
    children: list[str] = field(default_factory=list)
    inputs: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    declared: bool = False  # carries an errorDeclaration
    action: str | None = None

    @property
    def identifiers(self) -> list[str]:
        seen = dict.fromkeys(self.epcs)
        for group in ([self.parent] if self.parent else [], self.children, self.inputs, self.outputs):
            seen.update(dict.fromkeys(group))
        return list(seen)

    def links(self) -> list[tuple[str, str]]:
        """(upstream, downstream) pairs: a child goes into its parent, an input into an output."""
        out = []
        if self.parent and self.type in PARENT_CHILD:
            out += [(c, self.parent) for c in self.children]
        out += [(i, o) for i in self.inputs for o in self.outputs]
        return out


def facts(event: dict, position: int | None = None, namespaces: dict[str, str] | None = None) -> EventFacts:
    """Check what the schema cannot (a known type, real times) and pull out the identifiers.

    ``namespaces`` are the prefixes the document's ``@context`` declares, for the event hash."""
    etype = event.get("type")
    if etype not in EVENT_TYPES:
        raise EventError(f"unknown event type {etype!r}; expected one of {', '.join(EVENT_TYPES)}", position, "type")
    try:
        t = parse_time(event.get("eventTime"))
        if "recordTime" in event:
            parse_time(event["recordTime"], "recordTime")
        decl = event.get("errorDeclaration")
        if isinstance(decl, dict) and "declarationTime" in decl:
            parse_time(decl["declarationTime"], "errorDeclaration.declarationTime")
    except EventError as e:
        raise EventError(e.message, position, e.path) from None
    eid = event.get("eventID")
    if not isinstance(eid, str) or not eid.strip():
        eid = event_hash(event, namespaces)
    f = EventFacts(eid, etype, t, declared=isinstance(event.get("errorDeclaration"), dict),
                   action=event.get("action") if isinstance(event.get("action"), str) else None)
    c = canonical
    if etype in ("ObjectEvent", "TransactionEvent"):
        f.epcs = [c(x) for x in _ids(event, "epcList") + _classes(event, "quantityList")]
    if etype in ("AggregationEvent", "AssociationEvent", "TransactionEvent"):
        p = event.get("parentID")
        f.parent = c(p) if isinstance(p, str) else None
    if etype in PARENT_CHILD:
        f.children = [c(x) for x in _ids(event, "childEPCs") + _classes(event, "childQuantityList")]
        f.epcs = list(f.children)
    if etype == "TransformationEvent":
        f.inputs = [c(x) for x in _ids(event, "inputEPCList") + _classes(event, "inputQuantityList")]
        f.outputs = [c(x) for x in _ids(event, "outputEPCList") + _classes(event, "outputQuantityList")]
    return f


def events_of(doc: object) -> list[dict]:
    """The events a capture body carries: an EPCIS document, a list of events, or one event."""
    if isinstance(doc, list):
        return doc
    if isinstance(doc, dict):
        if doc.get("type") == "EPCISDocument":
            body = doc.get("epcisBody")
            if isinstance(body, dict):
                if isinstance(body.get("eventList"), list):
                    return body["eventList"]
                if isinstance(body.get("event"), dict):
                    return [body["event"]]
            return []
        return [doc]
    raise EventError("the body must be an EPCIS document, a list of events or one event")
