"""EPCIS event queries in process: a typed ``EventQuery`` (decoded from a query string by
``protocol.eventquery``) in, a page of events out, over a real LMDB store; no node started."""

from __future__ import annotations

import pytest

from protocol.capture import decode_capture
from protocol.codes import RC, HandleError
from protocol.eventquery import MAX_PAGE, EventQuery, decode_event_query
from resolver.credentials import Identity
from resolver.service import Service

ACME = Identity(300, "0.NA/88.101.5")
OTHER = Identity(300, "0.NA/88.101.6")
ITEM = "hdl:88.101.5/bolt-1"


def event(n: int, item: str, step: str = "shipping") -> dict:
    return {"type": "ObjectEvent", "eventTime": f"2026-03-01T10:00:{n:02d}+08:00", "eventTimeZoneOffset": "+08:00",
            "epcList": [item], "action": "OBSERVE", "bizStep": step}


def doc(*events: dict) -> dict:
    return {"@context": ["https://ref.gs1.org/standards/epcis/epcis-context.jsonld"], "type": "EPCISDocument",
            "schemaVersion": "2.0", "creationDate": "2026-03-01T00:00:00Z", "epcisBody": {"eventList": list(events)}}


def capture(svc: Service, *events: dict) -> None:
    import asyncio

    asyncio.run(svc.capture(decode_capture(doc(*events)), ACME))


def test_a_typed_query_filters_pages_and_goes_on_from_its_token(svc):
    capture(svc, *(event(n, ITEM, "shipping" if n % 2 else "receiving") for n in range(5)),
            event(9, "hdl:88.101.5/other"))
    q = decode_event_query({"MATCH_anyEPC": [ITEM], "EQ_bizStep": ["urn:epcglobal:cbv:bizstep:shipping"],
                            "perPage": ["1"]})
    assert q.ids == {"MATCH_anyEPC": frozenset({ITEM})} and q.steps == frozenset({"shipping"}) and q.per_page == 1
    first, token = svc.query_events(q, ACME)
    assert [e["eventTime"] for e, _ in first] == ["2026-03-01T10:00:01+08:00"] and token
    rest, end = svc.query_events(decode_event_query({"MATCH_anyEPC": [ITEM], "EQ_bizStep": ["shipping"],
                                                     "nextPageToken": [token]}), ACME)
    assert [e["eventTime"] for e, _ in rest] == ["2026-03-01T10:00:03+08:00"] and end is None
    everything, _ = svc.query_events(EventQuery(per_page=MAX_PAGE * 10), ACME)  # built in process: clamped
    assert len(everything) == 6


def test_another_enterprise_and_an_anonymous_caller_read_nothing(svc):
    capture(svc, event(1, ITEM))
    assert svc.query_events(EventQuery(), OTHER) == ([], None)
    with pytest.raises(HandleError) as anonymous:
        svc.query_events(EventQuery(), None)
    assert anonymous.value.rc == RC.AUTHENTICATION_NEEDED


@pytest.mark.parametrize(("params", "field", "message"), [
    ({"MATCH_foo": ["x"]}, "MATCH_foo", "unsupported query parameter MATCH_foo"),
    ({"perPage": ["ten"]}, "perPage", "perPage must be an integer"),
    ({"GE_eventTime": ["yesterday"]}, "GE_eventTime", "GE_eventTime"),
    ({"nextPageToken": ["a"]}, "nextPageToken", "nextPageToken is not one this node gave"),
])
def test_a_bad_query_string_is_refused_by_the_codec_naming_the_parameter(params, field, message):
    with pytest.raises(HandleError) as bad:
        decode_event_query(params)
    assert bad.value.rc == RC.INVALID_VALUE and bad.value.field == field and message in bad.value.message
