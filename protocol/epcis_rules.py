"""EPCIS 2.0 rules the standard's JSON Schema states but does not enforce by itself.

The schema marks vocabulary values, extension keys and times with ``"format"`` (``uri``,
``date-time``), which a validator checks only if asked to, and the node's (like most) is not; it
cannot say that a prefix must be declared in the document's ``@context`` at all. This module
checks what the standard requires of those fields, on the decoded document, each refusal an
``EventError`` naming the event (its position), the field (its path) and the rule:

- ``vocabulary``: ``bizStep``, ``disposition``, ``persistentDisposition``, a business transaction's,
  source's or destination's ``type``, a sensor report's ``type``, ``exception`` and ``component``,
  and an error declaration's ``reason`` are a bare word of their CBV vocabulary or a URI; a URI in
  the CBV's own namespace (``https://ref.gs1.org/cbv/BizStep-…``) names a term that exists.
- ``namespace``: a user extension field (in the event, ``ilmd``, ``readPoint``/``bizLocation``,
  ``errorDeclaration``, a sensor element, its metadata or reports) is named ``prefix:localName`` with
  a prefix the document's (or the event's) ``@context`` declares, or the standard context declares
  (``gs1``, ``cbvmda``…), or is a full ``http(s)://``/``urn:`` IRI. JSON-LD keywords (``@id``…) and
  the standard context's aliases of them (``id``, ``type``) are allowed anywhere.
- ``time``: every time is an xsd:dateTime with a time-zone offset (``Z`` or ``±hh:mm``, at most
  14:00) and a real date; ``eventTimeZoneOffset`` is ``±hh:mm`` within ±14:00.
"""

from __future__ import annotations

import re
from datetime import datetime

from . import cbv
from .epcis import EventError
from .epcis_hash import context_namespaces

_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:(?:[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=]|%[0-9A-Fa-f]{2})+")
_DATETIME = re.compile(r"-?\d{4,}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|([+-])(\d{2}):(\d{2}))")
_OFFSET = re.compile(r"([+-])(\d{2}):(\d{2})")

_EVENT_FIELDS = frozenset({
    "@context", "type", "eventTime", "recordTime", "eventTimeZoneOffset", "eventID", "certificationInfo",
    "errorDeclaration", "epcList", "quantityList", "action", "bizStep", "disposition", "persistentDisposition",
    "readPoint", "bizLocation", "bizTransactionList", "sourceList", "destinationList", "sensorElementList",
    "ilmd", "parentID", "childEPCs", "childQuantityList", "inputEPCList", "inputQuantityList", "outputEPCList",
    "outputQuantityList", "transformationID",
})
_METADATA = frozenset({"time", "deviceID", "deviceMetadata", "rawData", "startTime", "endTime",
                       "dataProcessingMethod", "bizRules"})
_REPORT = frozenset({
    "type", "exception", "deviceID", "deviceMetadata", "rawData", "dataProcessingMethod", "bizRules", "time",
    "microorganism", "chemicalSubstance", "value", "component", "stringValue", "booleanValue", "hexBinaryValue",
    "uriValue", "minValue", "maxValue", "meanValue", "sDev", "percRank", "percValue", "uom",
    "coordinateReferenceSystem",
})
_ID_ONLY = frozenset({"id"})
_DECLARATION = frozenset({"declarationTime", "reason", "correctiveEventIDs"})
_ELEMENT = frozenset({"sensorMetadata", "sensorReport"})
_NONE: frozenset[str] = frozenset()
_TYPED_LISTS = (("bizTransactionList", "bizTransactionType"), ("sourceList", "sourceDestinationType"),
                ("destinationList", "sourceDestinationType"))
# The CBV namespace URI of each vocabulary, for values given as URIs there.
_CBV_URI = {v: base for v, (_, base) in cbv.VOCABULARIES.items() if base.startswith(cbv.CBV)}
_WHAT = {"bizStep": "a CBV business step", "disposition": "a CBV disposition",
         "persistentDisposition": "a CBV disposition", "bizTransactionType": "a CBV business transaction type",
         "sourceDestinationType": "a CBV source/destination type", "measurementType": "a GS1 measurement type",
         "exception": "a GS1 sensor alert type", "component": "a CBV component", "reason": "a CBV error reason"}


def is_uri(text: str) -> bool:
    """An absolute URI (RFC 3986): a scheme, a colon, and only the characters a URI may hold."""
    return _URI.fullmatch(text) is not None


def time_problem(text: object) -> str | None:
    """Why ``text`` is not an xsd:dateTime with a time-zone offset, or None if it is one."""
    if not isinstance(text, str):
        return "is not a date-time string"
    m = _DATETIME.fullmatch(text)
    if m is None:
        if _DATETIME.fullmatch(text + "Z"):
            return f"{text!r} has no time-zone offset"
        return f"{text!r} is not an ISO 8601 date-time (YYYY-MM-DDThh:mm:ss±hh:mm)"
    if m.group(1) and not _offset_ok(m.group(2), m.group(3)):
        return f"{text!r} has a time-zone offset beyond ±14:00"
    try:
        datetime.fromisoformat(text)
    except ValueError as e:  # a day or hour that does not exist
        return f"{text!r} is not an ISO 8601 date-time: {e}"
    return None


def _offset_ok(hh: str, mm: str) -> bool:
    h, m = int(hh), int(mm)
    return m < 60 and (h < 14 or (h == 14 and m == 0))


class _Checker:
    def __init__(self, position: int, declared: set[str], out: list[EventError]):
        self.position = position
        self.declared = declared
        self.out = out

    def fail(self, path: str, message: str, rule: str) -> None:
        self.out.append(EventError(f"{path}: {message} (rule: {rule})", self.position, path))

    def vocabulary(self, path: str, vocab: str, value: object) -> None:
        if not isinstance(value, str):
            return  # the schema names wrong types
        words, _ = cbv.VOCABULARIES[vocab]
        if value in words:
            return
        if not is_uri(value):
            self.fail(path, f"{value!r} is not {_WHAT[vocab]} and not a URI", "vocabulary")
            return
        base = _CBV_URI.get(vocab)
        if base and value.startswith(base) and value[len(base):] not in words:
            self.fail(path, f"{value!r} is in the CBV namespace but names no CBV term", "vocabulary")

    def keys(self, path: str, obj: object, standard: frozenset[str]) -> None:
        if not isinstance(obj, dict):
            return
        for key in obj:
            # JSON-LD keywords and the standard context's aliases of them are not extensions.
            if key in standard or not isinstance(key, str) or key.startswith("@") or key in ("id", "type"):
                continue
            prefix, sep, _ = key.partition(":")
            if sep and (prefix in self.declared or key.startswith(("http://", "https://", "urn:"))):
                continue
            where = f"{path}/{key}" if path else key
            why = (f"the prefix {prefix!r} is not declared in the document's @context" if sep
                   else "a user extension field needs a namespace prefix declared in the document's @context")
            self.fail(where, why, "namespace")

    def time(self, path: str, value: object) -> None:
        problem = time_problem(value)
        if problem:
            self.fail(path, problem, "time")

    def event(self, ev: dict) -> None:
        self.keys("", ev, _EVENT_FIELDS)
        for name in ("eventTime", "recordTime"):
            if name in ev:
                self.time(name, ev[name])
        off = ev.get("eventTimeZoneOffset")
        if isinstance(off, str):
            m = _OFFSET.fullmatch(off)
            if m is None or not _offset_ok(m.group(2), m.group(3)):
                self.fail("eventTimeZoneOffset", f"{off!r} is not a time-zone offset ±hh:mm within ±14:00", "time")
        for name in ("bizStep", "disposition"):
            if name in ev:
                self.vocabulary(name, name, ev[name])
        pd = ev.get("persistentDisposition")
        if isinstance(pd, dict):
            for op in ("set", "unset"):
                for i, v in enumerate(pd.get(op) or [] if isinstance(pd.get(op), list) else []):
                    self.vocabulary(f"persistentDisposition/{op}/{i}", "persistentDisposition", v)
        for name, vocab in _TYPED_LISTS:
            items = ev.get(name)
            for i, item in enumerate(items if isinstance(items, list) else []):
                if isinstance(item, dict) and "type" in item:
                    self.vocabulary(f"{name}/{i}/type", vocab, item["type"])
        for name in ("readPoint", "bizLocation"):
            self.keys(name, ev.get(name), _ID_ONLY)
        decl = ev.get("errorDeclaration")
        if isinstance(decl, dict):
            self.keys("errorDeclaration", decl, _DECLARATION)
            if "declarationTime" in decl:
                self.time("errorDeclaration/declarationTime", decl["declarationTime"])
            if "reason" in decl:
                self.vocabulary("errorDeclaration/reason", "reason", decl["reason"])
        self.keys("ilmd", ev.get("ilmd"), _NONE)
        self.sensors(ev.get("sensorElementList"))

    def sensors(self, elements: object) -> None:
        for i, el in enumerate(elements if isinstance(elements, list) else []):
            path = f"sensorElementList/{i}"
            if not isinstance(el, dict):
                continue
            self.keys(path, el, _ELEMENT)
            meta = el.get("sensorMetadata")
            self.keys(f"{path}/sensorMetadata", meta, _METADATA)
            if isinstance(meta, dict):
                for name in ("time", "startTime", "endTime"):
                    if name in meta:
                        self.time(f"{path}/sensorMetadata/{name}", meta[name])
            reports = el.get("sensorReport")
            for j, rep in enumerate(reports if isinstance(reports, list) else []):
                rpath = f"{path}/sensorReport/{j}"
                self.keys(rpath, rep, _REPORT)
                if not isinstance(rep, dict):
                    continue
                if "time" in rep:
                    self.time(f"{rpath}/time", rep["time"])
                for name, vocab in (("type", "measurementType"), ("exception", "exception"),
                                    ("component", "component")):
                    if name in rep:
                        self.vocabulary(f"{rpath}/{name}", vocab, rep[name])


def errors(events: list, context: object = None, limit: int = 20) -> list[EventError]:
    """What the events of a document (its ``@context`` given) break, at most ``limit`` problems."""
    declared = set(cbv.STANDARD_PREFIXES) | set(context_namespaces(context))
    out: list[EventError] = []
    for i, ev in enumerate(events):
        if not isinstance(ev, dict):
            continue
        own = declared | set(context_namespaces(ev["@context"])) if "@context" in ev else declared
        _Checker(i, own, out).event(ev)
        if len(out) >= limit:
            return out[:limit]
    return out
