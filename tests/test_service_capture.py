"""EPCIS capture in process: a typed ``CaptureRequest`` (decoded from a body by ``protocol.capture``) in, a
``CaptureResult`` or a ``CaptureJob`` out, refusals as kinds; over a real LMDB store, no node started."""

from __future__ import annotations

import asyncio

import orjson
import pytest

from protocol.capture import (
    NOT_A_BODY,
    CaptureJob,
    CaptureRejected,
    CaptureRequest,
    CaptureResult,
    CaptureTooLarge,
    capture_job_json,
    capture_result_json,
    decode_capture,
    decode_capture_job,
)
from protocol.codes import RC, HandleError, http_status
from protocol.eventquery import EventQuery
from protocol.refusals import Invalid, Moved, TooLarge
from protocol.values import HandleValue
from resolver.credentials import Identity
from resolver.service.events import MAX_SYNC_EVENTS
from resolver.service.federation import NotHeld, NotHeldMoved, not_held

ACME = Identity(300, "0.NA/88.101.5")
OTHER = Identity(300, "0.NA/88.101.6")
ITEM = "hdl:88.101.5/capture-1"


def event(n: int, item: str = ITEM, **extra) -> dict:
    return {"type": "ObjectEvent", "eventTime": f"2026-03-01T10:00:{n:02d}+08:00", "eventTimeZoneOffset": "+08:00",
            "epcList": [item], "action": "OBSERVE", **extra}


def doc(*events: dict) -> dict:
    return {"@context": ["https://ref.gs1.org/standards/epcis/epcis-context.jsonld"], "type": "EPCISDocument",
            "schemaVersion": "2.0", "creationDate": "2026-03-01T00:00:00Z", "epcisBody": {"eventList": list(events)}}


def stored(svc) -> list[dict]:
    return [e for e, _ in svc.query_events(EventQuery(per_page=1000), ACME)[0]]


def test_a_typed_capture_answers_a_typed_result_and_a_repeat_is_a_duplicate(svc):
    request = decode_capture(doc(event(1, eventID="urn:uuid:cap-1"), event(2)))
    assert request.shape == "document" and len(request.events) == 2
    first = asyncio.run(svc.capture(request, ACME))
    assert isinstance(first, CaptureResult)
    assert (first.captured, first.stored, first.duplicate, first.declared, first.changed) == (2, 2, 0, 0, True)
    assert first.event_ids[0] == "urn:uuid:cap-1" and first.event_ids[1].startswith("ni:///sha-256;")
    again = asyncio.run(svc.capture(request, ACME))
    assert (again.stored, again.duplicate, again.changed, again.event_ids) == (0, 2, False, first.event_ids)
    assert sorted(e["eventID"] for e in stored(svc)) == sorted(first.event_ids)
    # The codec gives the answer POST /api/events has always given.
    assert orjson.dumps(capture_result_json(first)) == orjson.dumps(
        {"captured": 2, "stored": 2, "duplicate": 0, "declared": 0, "eventIDs": list(first.event_ids)})


def test_a_list_and_one_event_are_captured_as_a_document_is(svc):
    for body, shape in ((event(1), "event"), ([event(2)], "list")):
        request = decode_capture(body)
        assert request.shape == shape and len(request.events) == 1
        assert asyncio.run(svc.capture(request, ACME)).stored == 1
    assert len(stored(svc)) == 2


def test_the_document_judged_is_the_one_sent():
    sent = doc(event(1), event(2))
    assert decode_capture(sent).document("2026-03-01T00:00:00.000Z") == sent
    single = {**doc(), "epcisBody": {"event": event(3)}}  # the schema's to refuse, as it always was
    request = decode_capture(single)
    assert request.single and request.document("2026-03-01T00:00:00.000Z") == single


@pytest.mark.parametrize(("body", "why", "position"), [
    (42, NOT_A_BODY, None),
    (doc(), "the document carries no events", None),
    (doc(event(1), {**event(2), "type": "TeleportEvent"}), "unknown event type 'TeleportEvent'", 1),
    (doc(event(1), {k: v for k, v in event(2).items() if k != "eventTime"}), "'eventTime' is a required property", 1),
])
def test_a_bad_document_is_refused_as_the_invalid_kind_with_each_events_problem_and_nothing_is_stored(
        svc, body, why, position):
    with pytest.raises(CaptureRejected) as refused:
        asyncio.run(svc.capture(decode_capture(body), ACME))
    e = refused.value
    assert isinstance(e, Invalid) and not isinstance(e, TooLarge)
    assert e.rc == RC.INVALID_VALUE and e.status == Invalid.STATUS == 400
    assert why in e.message and why in e.details[0]["reason"] and e.details[0].get("position") == position
    assert stored(svc) == []


def test_too_many_events_are_refused_as_the_too_large_kind_before_any_is_looked_at(svc):
    events = [{"type": "TeleportEvent"}] * (MAX_SYNC_EVENTS + 1)  # not one of them valid: never judged
    with pytest.raises(CaptureTooLarge) as refused:
        asyncio.run(svc.capture(CaptureRequest("list", tuple(events)), ACME))
    e = refused.value
    assert isinstance(e, TooLarge) and isinstance(e, CaptureRejected) and e.status == TooLarge.STATUS == 413
    assert e.message == f"the document has {MAX_SYNC_EVENTS + 1} events; at most {MAX_SYNC_EVENTS} are taken in one capture"


def test_who_is_asking_is_checked_before_the_request_is_looked_at(svc):
    for who, rc in ((None, RC.AUTHENTICATION_NEEDED), (Identity(300, "0.NA/88.999"), RC.NOT_AUTHORIZED)):
        with pytest.raises(HandleError) as refused:  # a body that is no capture body: not what is refused
            asyncio.run(svc.capture(decode_capture(42), who))
        assert refused.value.rc == rc and not isinstance(refused.value, CaptureRejected)
        with pytest.raises(HandleError) as no_job:
            asyncio.run(svc.start_capture_job(decode_capture(doc(event(1))), who))
        assert no_job.value.rc == rc
    assert stored(svc) == []


def _run_job(svc, request: CaptureRequest) -> tuple[CaptureJob, CaptureJob]:
    async def story():
        started = await svc.start_capture_job(request, ACME)
        await asyncio.gather(*svc.events._jobs)
        return started, svc.capture_job(started.capture_id)

    return asyncio.run(story())


def test_a_capture_job_is_typed_while_it_runs_and_when_it_succeeded(svc):
    started, done = _run_job(svc, decode_capture(doc(event(1), event(2))))
    assert started.running and started.success is None and started.result is None and started.finished_at is None
    assert (done.capture_id, done.created_at) == (started.capture_id, started.created_at)
    assert not done.running and done.success is True and done.errors == () and done.finished_at
    assert (done.result.captured, done.result.stored, done.result.duplicate, done.result.declared) == (2, 2, 0, 0)
    # GET /capture/{id}'s JSON, field for field and in order, as the job was always stored and served.
    assert list(capture_job_json(done)) == ["captureID", "createdAt", "running", "success", "captureErrorBehaviour",
                                            "errors", "captured", "stored", "duplicate", "declared", "finishedAt"]
    assert capture_job_json(decode_capture_job(capture_job_json(done))) == capture_job_json(done)
    assert len(stored(svc)) == 2


def test_a_capture_job_that_fails_reports_each_events_problem_and_stores_nothing(svc):
    _, bad = _run_job(svc, decode_capture(doc(event(1), {**event(2), "action": "SHAKE"})))
    assert not bad.running and bad.success is False and bad.result is None
    assert bad.errors[0]["position"] == 1 and bad.errors[0]["reason"].startswith("schema:")
    assert "captured" not in capture_job_json(bad)
    _, shapeless = _run_job(svc, decode_capture("events"))
    assert [dict(e) for e in shapeless.errors] == [{"reason": NOT_A_BODY}]
    assert stored(svc) == []
    with pytest.raises(HandleError) as missing:
        svc.capture_job("no-such-job")
    assert missing.value.rc == RC.HANDLE_NOT_FOUND


def test_a_handle_another_server_holds_is_a_referral_and_the_moved_kind_only_with_a_base():
    site = HandleValue(1, "HS_SITE", b"")
    moved = not_held("88.101.5/X", site, 2, "http://127.0.0.2:8001")
    referral = not_held("88.101.5/X", site, 2, None)
    assert isinstance(moved, NotHeldMoved) and isinstance(moved, Moved) and isinstance(moved, NotHeld)
    assert moved.status == Moved.STATUS and moved.redirect_to == "http://127.0.0.2:8001"
    assert not isinstance(referral, Moved) and referral.status == http_status(RC.SERVICE_REFERRAL)
    assert moved.rc == referral.rc == RC.SERVICE_REFERRAL and moved.values == referral.values == [site]
