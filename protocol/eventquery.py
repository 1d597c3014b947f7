"""An EPCIS simple event query as a typed value, and its codec from the query string of ``GET /events``
(EPCIS 2.0 REST binding): each filter checked here, once, with a message naming the parameter; the
service takes an ``EventQuery``, never the query string.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from .codes import RC, HandleError
from .epcis import EventError, parse_time
from .epcis_ids import canonical

MAX_PAGE = 1000
DEFAULT_PAGE = 100
ID_FILTERS = ("MATCH_epc", "MATCH_anyEPC", "MATCH_parentID", "MATCH_inputEPC", "MATCH_outputEPC")
KNOWN = frozenset(ID_FILTERS) | {"EQ_bizStep", "EQ_disposition", "EQ_bizLocation", "EQ_readPoint", "GE_eventTime",
                                 "LT_eventTime", "eventType", "EQ_action", "perPage", "nextPageToken"}


def vocab(v: object) -> str:
    """A CBV value as its bare name: ``shipping`` for ``urn:epcglobal:cbv:bizstep:shipping`` or
    ``https://ref.gs1.org/cbv/BizStep-shipping``."""
    if not isinstance(v, str):
        return ""
    if v.startswith("urn:epcglobal:cbv:"):
        return v.rsplit(":", 1)[-1]
    if v.startswith("https://ref.gs1.org/cbv/"):
        return v.rsplit("-", 1)[-1]
    return v


@dataclass(frozen=True, slots=True)
class EventQuery:
    """Which events, one page at a time. A filter that is None (or an empty ``ids``) does not filter.

    ``ids``: per identifier role (``MATCH_epc``, ``MATCH_anyEPC``...), the canonical identifiers of which
    an event must name one in that role. ``steps``/``dispositions``: CBV bare names. ``locations``/
    ``read_points``: canonical identifiers. ``since``/``before``: event time in ms, from (inclusive) and
    before. ``start``: where the previous page ended (the index key a page token carries)."""

    per_page: int = DEFAULT_PAGE
    ids: Mapping[str, frozenset[str]] = field(default_factory=lambda: MappingProxyType({}))
    steps: frozenset[str] | None = None
    dispositions: frozenset[str] | None = None
    locations: frozenset[str] | None = None
    read_points: frozenset[str] | None = None
    types: frozenset[str] | None = None
    actions: frozenset[str] | None = None
    since: int | None = None
    before: int | None = None
    start: bytes | None = None


def encode_token(key: bytes) -> str:
    """A page token: where the next page starts, as URL-safe text."""
    return base64.urlsafe_b64encode(key).decode().rstrip("=")


def decode_token(token: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(token.encode() + b"=" * (-len(token) % 4))
    except ValueError:
        raise HandleError(RC.INVALID_VALUE, "nextPageToken is not one this node gave",
                          field="nextPageToken") from None


def decode_event_query(params: Mapping[str, Sequence[str]]) -> EventQuery:
    """The query of ``GET /events`` (each parameter with every value it was given, in order); a
    parameter the standard's simple query does not have, or a value it cannot take, is refused."""
    for name in params:
        if name not in KNOWN:
            raise HandleError(RC.INVALID_VALUE, f"unsupported query parameter {name}", field=name)

    def one(name: str) -> str | None:
        v = params.get(name)
        return v[-1] if v else None

    def many(name: str) -> frozenset[str] | None:
        v = params.get(name)
        if not v:
            return None
        return frozenset(x.strip() for item in v for x in item.split(",") if x.strip()) or None

    try:
        per_page = int(one("perPage") or DEFAULT_PAGE)
    except ValueError:
        raise HandleError(RC.INVALID_VALUE, "perPage must be an integer", field="perPage") from None
    ids = {n: frozenset(canonical(x) for x in want) for n in ID_FILTERS if (want := many(n))}
    steps, disps, locs, rps = many("EQ_bizStep"), many("EQ_disposition"), many("EQ_bizLocation"), many("EQ_readPoint")
    try:
        since = parse_time(one("GE_eventTime"), "GE_eventTime") if one("GE_eventTime") else None
        before = parse_time(one("LT_eventTime"), "LT_eventTime") if one("LT_eventTime") else None
    except EventError as e:
        raise HandleError(RC.INVALID_VALUE, e.message, field=e.path) from None
    token = one("nextPageToken")
    return EventQuery(
        per_page=max(1, min(per_page, MAX_PAGE)), ids=MappingProxyType(ids),
        steps=frozenset(vocab(s) for s in steps) if steps else None,
        dispositions=frozenset(vocab(s) for s in disps) if disps else None,
        locations=frozenset(canonical(x) for x in locs) if locs else None,
        read_points=frozenset(canonical(x) for x in rps) if rps else None,
        types=many("eventType"), actions=many("EQ_action"), since=since, before=before,
        start=decode_token(token) if token else None)
