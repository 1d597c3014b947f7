"""The CBV 2.0 event hash ID (``ni:///sha-256;…?ver=CBV2.0``) for events captured without an eventID.

The pre-hash string of CBV 2.0 section 8.9, as the reference implementation
(github.com/RalphTro/epcis-event-hash-generator) computes it; tests/data/epcis-hash/ holds its
published examples and their hashes, and every one matches (see tests/test_epcis_hash.py).

- ``eventType=<type>``, then the standard's fields in the canonical order, each ``name=value``;
  a field with parts is its name followed by its parts in their own canonical order (``readPointid=…``,
  ``quantityElementepcClass=…quantity=…uom=…``); repeated elements are sorted as strings.
- The fields outside the canonical order follow, sorted as strings: the business transaction,
  source and destination lists (each element ``type=…`` then its value), ``ilmd`` and the user
  extensions of the event. User extension keys are written ``{namespace IRI}localName`` with the
  namespace the document's ``@context`` declares for their prefix; extensions inside a part
  (``readPoint``, ``sensorMetadata``, ``sensorReport``…) follow that part's standard fields.
- Values: times in UTC with milliseconds (rounded); CBV 1.x URNs and bare CBV words as CBV 2.0 web
  URIs; numbers without leading ``+``, leading or trailing zeros; GS1 keys as constrained canonical
  Digital Link URIs (``protocol.epc_uris``); a declared prefix in a value expanded.
- ``eventID``, ``recordTime``, ``errorDeclaration`` and comments are not hashed, so an error
  declaration repeating an event finds the event it declares.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache

from . import cbv
from .epc_uris import to_canonical_dl

_QTY = (("epcClass", None), ("quantity", None), ("uom", None))
_EPCS = (("epc", None),)
_ORDER: tuple = (
    ("eventTime", None), ("eventTimeZoneOffset", None), ("certificationInfo", None), ("parentID", None),
    ("epcList", _EPCS), ("inputEPCList", _EPCS), ("childEPCs", _EPCS),
    ("quantityList", (("quantityElement", _QTY),)), ("childQuantityList", (("quantityElement", _QTY),)),
    ("inputQuantityList", (("quantityElement", _QTY),)), ("outputEPCList", _EPCS),
    ("outputQuantityList", (("quantityElement", _QTY),)), ("action", None), ("transformationID", None),
    ("bizStep", None), ("disposition", None), ("persistentDisposition", (("set", None), ("unset", None))),
    ("readPoint", (("id", None),)), ("bizLocation", (("id", None),)),
    ("sensorElementList", (("sensorElement", (
        ("sensorMetadata", tuple((n, None) for n in (
            "time", "startTime", "endTime", "deviceID", "deviceMetadata", "rawData", "dataProcessingMethod",
            "bizRules"))),
        ("sensorReport", tuple((n, None) for n in (
            "type", "exception", "deviceID", "deviceMetadata", "rawData", "dataProcessingMethod", "time",
            "microorganism", "chemicalSubstance", "value", "component", "stringValue", "booleanValue",
            "hexBinaryValue", "uriValue", "minValue", "maxValue", "meanValue", "sDev", "percRank", "percValue",
            "uom", "coordinateReferenceSystem"))),
    )),)),
)
_NOT_HASHED = {"type", "eventID", "recordTime", "errorDeclaration", "@context"}
_IGNORED = {"#text", "rdfs:comment", "comment"}
_PAIRED = {"bizTransactionList": "bizTransaction", "sourceList": "source", "destinationList": "destination"}
_RENAMED = {"inputEPC": "epc", "outputEPC": "epc", "inputQuantity": "quantityElement",
            "outputQuantity": "quantityElement", "childQuantity": "quantityElement"}
# Fields whose bare words are CBV / GS1 vocabulary terms, by the path of the object that holds them.
_VOCAB = {("", "bizStep"): "bizStep", ("", "disposition"): "disposition",
          ("persistentDisposition", "set"): "persistentDisposition",
          ("persistentDisposition", "unset"): "persistentDisposition",
          ("bizTransactionList", "type"): "bizTransactionType", ("sourceList", "type"): "sourceDestinationType",
          ("destinationList", "type"): "sourceDestinationType", ("sensorReport", "type"): "measurementType",
          ("sensorReport", "exception"): "exception", ("sensorReport", "component"): "component"}


@dataclass(slots=True)
class _Node:
    name: str
    value: str = ""
    children: list[_Node] = field(default_factory=list)


def context_namespaces(context: object) -> dict[str, str]:
    """The namespace prefixes a JSON-LD ``@context`` declares: ``{prefix: IRI}``."""
    out: dict[str, str] = {}
    for part in context if isinstance(context, list) else [context]:
        if isinstance(part, dict):
            for k, v in part.items():
                if isinstance(k, str) and isinstance(v, str) and not k.startswith("@"):
                    out[k] = v
    return out


class _Builder:
    """The event as a tree of named values, keys and values spelt as the hash wants them."""

    def __init__(self, namespaces: dict[str, str]):
        self.ns = namespaces

    def key(self, k: str) -> str:
        prefix, sep, local = k.partition(":")
        return f"{{{self.ns[prefix]}}}{local}" if sep and prefix in self.ns else k

    def scalar(self, holder: str, k: str, v: object) -> str:
        s = str(v)
        vocab = _VOCAB.get((holder, k))
        if vocab is not None:
            prefix, sep, local = s.partition(":")
            if sep and prefix in ("cbv", "gs1") and prefix not in self.ns:
                s = cbv.STANDARD_PREFIXES[prefix] + local
            s = cbv.expand(vocab, s)
        prefix, sep, local = s.partition(":")
        if sep and prefix in self.ns:
            s = self.ns[prefix] + local
        return s

    def nodes(self, holder: str, k: str, v: object) -> list[_Node]:
        """The nodes one key of an object becomes (a list value gives one node per element)."""
        name = self.key(k)
        items = v if isinstance(v, list) else [v]
        out = []
        for item in items:
            if isinstance(item, dict):
                out.append(_Node(name, "", self.children(k, item)))
            else:
                out.append(_Node(name, self.scalar(holder, k, item)))
        return out

    def children(self, holder: str, obj: dict) -> list[_Node]:
        kids: list[_Node] = []
        for k, v in obj.items():
            if k in _IGNORED or not isinstance(k, str):
                continue
            if k in _PAIRED and isinstance(v, list):
                pairs = [_Node("", "", self.children(k, x)) for x in v if isinstance(x, dict)]
                kids.append(_Node(k, "", pairs))
            elif k.endswith("List") or k == "childEPCs":
                member = "epc" if k == "childEPCs" else k[:-4]
                member = _RENAMED.get(member, member)
                if member == "quantity":
                    member = "quantityElement"
                kids.append(_Node(k, "", [_Node(member, n.value, n.children) for n in self.nodes(k, k, v)]))
            else:
                kids += self.nodes(holder, k, v)
        return kids


@lru_cache(maxsize=4096)  # a batch's events often share their times
def _time(text: str) -> str:
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        return text
    dt = dt.astimezone(UTC)
    ms = round(dt.microsecond, -3)  # to the millisecond, as the reference rounds
    dt = dt.replace(microsecond=0) + timedelta(microseconds=ms)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def _number(text: str) -> str:
    try:
        n = float(text)
    except ValueError:
        return text
    if n != n or n in (float("inf"), float("-inf")):
        return str(n)
    return str(int(n)) if int(n) == n else str(n)


@lru_cache(maxsize=65536)
def _canonical(text: str) -> str:
    text = _number(cbv.web_uri(text))
    return to_canonical_dl(text) or text


def _value(name: str, value: str) -> str:
    text = value.strip()
    if not text:
        return ""
    low = name.lower()
    return "=" + (_time(text) if "time" in low and "offset" not in low else _canonical(text))


def _is_extension(name: str) -> bool:
    return "{" in name and "/}" in name


def _ordered(nodes: list[_Node], order: tuple) -> str:
    """The fields of ``order`` in order, consuming what it writes; then this level's extensions."""
    extensions: list[_Node] = []
    if len(nodes) > 1 and not any("eventTime" in n.name or "action" in n.name for n in nodes):
        extensions = [n for n in nodes if _is_extension(n.name)]
        for n in extensions:
            nodes.remove(n)
    by_name: dict[str, list[_Node]] = {}
    for n in nodes:
        by_name.setdefault(n.name, []).append(n)
    out = []
    for name, sub in order:
        same = by_name.get(name)
        if not same:
            continue
        values = []
        for n in same:
            inner = _ordered(n.children, sub) if sub else ""
            text = _value(n.name, n.value)
            if text or inner:
                values.append(n.name + text + inner)
            if not n.children:
                nodes.remove(n)
        out += sorted(values)
    if extensions:
        out.append(_generic(extensions))
    return "".join(out)


def _generic(nodes: list[_Node]) -> str:
    """Fields outside the canonical order, each with all it holds, sorted as strings."""
    values = [n.name + _value(n.name, n.value) + _generic(n.children) for n in nodes]
    if len(values) > 1 and not any(n.name in _PAIRED.values() for n in nodes):
        values.sort()
    return "".join(values)


def prehash(event: dict, namespaces: dict[str, str] | None = None) -> str:
    """The pre-hash string of one event; ``namespaces`` are the document's declared prefixes."""
    nodes = _Builder(namespaces or {}).children("", event)
    nodes = [n for n in nodes if n.name not in _NOT_HASHED]
    head = f"eventType={event.get('type')}" + _ordered(nodes, _ORDER)
    return head + _generic(nodes)


def event_hash(event: dict, namespaces: dict[str, str] | None = None) -> str:
    digest = hashlib.sha256(prehash(event, namespaces).encode()).hexdigest()
    return f"ni:///sha-256;{digest}?ver=CBV2.0"
