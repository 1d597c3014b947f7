"""The CBV 2.0 event hash ID (``ni:///sha-256;…?ver=CBV2.0``) for events captured without an eventID.

Follows the standard's algorithm as far as this node needs it: the event's fields in the canonical
order, each ``name=value``; times in UTC with milliseconds; EPCs as canonical GS1 Digital Link
URIs; list elements sorted lexically; nested objects flattened in key order; user extensions
(keys with a namespace prefix) sorted after the standard fields; concatenated without separators
and hashed with SHA-256. ``eventID``, ``recordTime`` and ``errorDeclaration`` are not hashed, so an
error declaration repeating an event finds the event it declares.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from .epcis_ids import canonical

ORDER = (
    "eventTime", "eventTimeZoneOffset", "certificationInfo", "epcList", "parentID", "inputEPCList",
    "childEPCs", "quantityList", "childQuantityList", "inputQuantityList", "outputEPCList",
    "outputQuantityList", "action", "transformationID", "bizStep", "disposition", "persistentDisposition",
    "readPoint", "bizLocation", "bizTransactionList", "sourceList", "destinationList", "sensorElementList",
    "ilmd",
)
_EPC_FIELDS = {"epcList", "parentID", "inputEPCList", "childEPCs", "outputEPCList", "epcClass", "id"}
_SKIP = {"type", "eventID", "recordTime", "errorDeclaration", "@context", "@type"}
_CBV = {"bizStep": "bizstep", "disposition": "disp", "action": None}


def _time(text: str) -> str:
    try:
        dt = datetime.fromisoformat(text).astimezone(UTC)
    except (ValueError, TypeError):
        return str(text)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _scalar(name: str, v: object) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return repr(v).rstrip("0").rstrip(".") if "." in repr(v) else repr(v)
    if isinstance(v, int):
        return str(v)
    s = str(v).strip()
    if name in _EPC_FIELDS or name == "epc":
        return canonical(s)
    if name in ("eventTime", "time", "startTime", "endTime", "declarationTime"):
        return _time(s)
    if name in _CBV and _CBV[name] and s.startswith("urn:epcglobal:cbv:"):
        s = s.rsplit(":", 1)[-1]
    if name in _CBV and _CBV[name] and ":" not in s:
        return f"https://ref.gs1.org/cbv/BizStep-{s}" if name == "bizStep" else f"https://ref.gs1.org/cbv/Disp-{s}"
    return s


def _parts(name: str, v: object) -> list[str]:
    if isinstance(v, dict):
        inner = "".join(p for k in sorted(v) for p in _parts(k, v[k]))
        return [f"{name}{inner}"]
    if isinstance(v, list):
        child = "epc" if name in _EPC_FIELDS else name
        return [name + "".join(sorted(p for x in v for p in _parts(child, x)))]
    return [f"{name}={_scalar(name, v)}"]


def prehash(event: dict) -> str:
    out = [f"eventType={event.get('type')}"]
    for name in ORDER:
        if name in event:
            out += _parts(name, event[name])
    ext = sorted(k for k in event if k not in ORDER and k not in _SKIP)
    for k in ext:
        out += _parts(k, event[k])
    return "".join(out)


def event_hash(event: dict) -> str:
    digest = hashlib.sha256(prehash(event).encode()).hexdigest()
    return f"ni:///sha-256;{digest}?ver=CBV2.0"
