"""EPCIS rules beyond the schema: CBV vocabularies, declared extension namespaces, times.

Unit tests on the sans-IO rules, then a real node fed another implementation's invalid documents
(OpenEPCIS, tests/data/epcis-invalid): each is refused with a reason naming the event and the rule,
and nothing of it is stored.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests

from protocol.epcis_rules import errors, is_uri, time_problem

INVALID = Path(__file__).parent / "data" / "epcis-invalid"
CTX = ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld", {"ex": "https://ns.example.com/epcis/"}]


def ev(**extra) -> dict:
    return {"type": "ObjectEvent", "eventTime": "2026-03-01T10:00:00+08:00", "eventTimeZoneOffset": "+08:00",
            "epcList": ["https://id.gs1.org/01/09521141012345/21/1"], "action": "OBSERVE", **extra}


def reasons(*events: dict, context=CTX) -> list[str]:
    return [f"{e.position}:{e.message}" for e in errors(list(events), context)]


def test_a_valid_event_with_every_kind_of_field_passes():
    good = ev(bizStep="shipping", disposition="https://example.com/disp/quarantine",
              persistentDisposition={"set": ["recalled"], "unset": ["urn:example:x"]},
              bizTransactionList=[{"type": "po", "bizTransaction": "urn:epcglobal:cbv:bt:0614141073467:1"},
                                  {"type": "https://example.com/btt/contract", "bizTransaction": "urn:x:1"}],
              sourceList=[{"type": "location", "source": "urn:epc:id:sgln:0614141.07346.0"}],
              readPoint={"id": "urn:epc:id:sgln:0614141.07346.0", "ex:door": "3"},
              ilmd={"ex:lot": "A", "cbvmda:bestBeforeDate": "2027-01-01", "https://ns.other.org/x": 1},
              sensorElementList=[{"type": "epcis:SensorElement",
                                  "sensorMetadata": {"time": "2026-03-01T09:00:00.5Z", "ex:firmware": "2"},
                                  "sensorReport": [{"type": "Temperature", "value": 4, "uom": "CEL",
                                                    "exception": "ALARM_CONDITION", "gs1:note": "x"}]}],
              errorDeclaration={"declarationTime": "2026-03-02T00:00:00-05:00", "reason": "incorrect_data"},
              **{"ex:batch": {"inner": "free"}, "rdfs:comment": "c", "id": "urn:uuid:1"})
    assert reasons(good) == []


@pytest.mark.parametrize("field,value,want", [
    ({"bizStep": "transforming"}, None, "bizStep: 'transforming' is not a CBV business step and not a URI"),
    ({"disposition": "in_transport"}, None, "disposition: 'in_transport' is not a CBV disposition"),
    ({"bizStep": "https://ref.gs1.org/cbv/BizStep-flying"}, None, "names no CBV term"),
    ({"bizTransactionList": [{"type": "purchase order", "bizTransaction": "urn:x:1"}]}, None,
     "bizTransactionList/0/type: 'purchase order' is not a CBV business transaction type"),
    ({"destinationList": [{"type": "place", "destination": "urn:x:1"}]}, None, "destinationList/0/type"),
    ({"persistentDisposition": {"set": ["lost"]}}, None, "persistentDisposition/set/0"),
    ({"sensorElementList": [{"sensorReport": [{"type": "Warmth"}]}]}, None,
     "sensorElementList/0/sensorReport/0/type: 'Warmth' is not a GS1 measurement type"),
])
def test_bare_words_outside_the_vocabulary_are_refused(field, value, want):
    (got,) = reasons(ev(), ev(**field))
    assert got.startswith("1:") and want in got and got.endswith("(rule: vocabulary)")


@pytest.mark.parametrize("field,path", [
    ({"ilmd": {"materialType": "soil"}}, "ilmd/materialType"),
    ({"colour": "red"}, "colour"),
    ({"foo:colour": "red"}, "foo:colour"),
    ({"readPoint": {"id": "urn:x:1", "door": 3}}, "readPoint/door"),
    ({"sensorElementList": [{"sensorReport": [{"value": 1, "note": "x"}]}]}, "sensorElementList/0/sensorReport/0/note"),
    ({"sensorElementList": [{"sensorMetadata": {"battery": 1}, "sensorReport": []}]},
     "sensorElementList/0/sensorMetadata/battery"),
    ({"sensorElementList": [{"ref": 1, "sensorReport": []}]}, "sensorElementList/0/ref"),
    ({"errorDeclaration": {"declarationTime": "2026-03-02T00:00:00Z", "who": "me"}}, "errorDeclaration/who"),
])
def test_extensions_need_a_declared_namespace(field, path):
    (got,) = reasons(ev(**field))
    assert got.startswith(f"0:{path}: ") and got.endswith("(rule: namespace)")
    # Declared in the event's own @context, the same prefix is fine.
    if ":" in path.rsplit("/", 1)[-1]:
        assert reasons(ev(**field, **{"@context": {"foo": "https://foo.example/"}})) == []


@pytest.mark.parametrize("text,why", [
    ("22-07-2026", "not an ISO 8601 date-time"),
    ("2026-07-22T06:45:00", "no time-zone offset"),
    ("2026-07-22T06:45:00+15:00", "beyond ±14:00"),
    ("2026-07-22T06:45:00+05:60", "beyond ±14:00"),
    ("2026-02-30T06:45:00Z", "day is out of range for month"),
    ("2026-07-22 06:45:00Z", "not an ISO 8601"),
    (20260722, "not a date-time string"),
])
def test_malformed_times_are_refused(text, why):
    assert why in time_problem(text)
    (got,) = reasons(ev(eventTime=text))
    assert got.startswith("0:eventTime: ") and got.endswith("(rule: time)")
    (got,) = reasons(ev(sensorElementList=[{"sensorMetadata": {"startTime": text}, "sensorReport": []}]))
    assert "sensorElementList/0/sensorMetadata/startTime" in got


@pytest.mark.parametrize("offset", ["+8:00", "+08", "08:00", "+14:30", "-15:00", "Z"])
def test_malformed_time_zone_offsets_are_refused(offset):
    (got,) = reasons(ev(eventTimeZoneOffset=offset))
    assert got.startswith("0:eventTimeZoneOffset: ") and "(rule: time)" in got


def test_times_and_uris_that_are_fine():
    for t in ("2026-07-22T06:45:00Z", "2026-07-22T06:45:00.123456789-14:00", "2026-07-22T06:45:00+14:00"):
        assert time_problem(t) is None
    assert is_uri("urn:epc:id:sgtin:0614141.107346.2017") and is_uri("https://example.com/a?b=c#d")
    assert not is_uri("in_transport") and not is_uri("https://exa mple.com") and not is_uri("1ab:c")


def test_the_problems_are_bounded():
    many = [ev(bizStep=f"step{i}", disposition="x", **{f"f{i}": 1}) for i in range(100)]
    assert len(errors(many, CTX, limit=20)) == 20


# --- another implementation's invalid documents, against a real node ------------------------------
BY_RULES = {  # file -> (event position, words of the reason)
    "Combination_of_multiple_invalid_fields.json": (0, "bizStep: 'transforming'"),
    "Combination_of_non_standard_bizStep_and_disposition.json": (0, "bizStep: 'transforming'"),
    "ObjectEvent_with_ilmd_field_without_namespace.json": (0, "ilmd/materialType"),
    "ObjectEvent_with_invalid_eventTime_format.json": (0, "eventTime: '22-07-2026'"),
    "ObjectEvent_with_non_standard_bizStep.json": (0, "bizStep: 'transforming'"),
    "ObjectEvent_with_non_standard_bizStep_in_second_event.json": (1, "bizStep: 'transforming'"),
    "ObjectEvent_with_non_standard_disposition.json": (0, "disposition: 'in_transport'"),
}
INVALID_DOCS = sorted(p.name for p in INVALID.glob("*.json"))


def test_all_of_openepcis_invalid_capture_documents_are_here():
    assert len(INVALID_DOCS) == 15


@pytest.mark.parametrize("name", INVALID_DOCS)
def test_openepcis_invalid_documents_are_refused_with_a_reason(shared_node, auth, name):
    body = (INVALID / name).read_bytes()
    r = requests.post(f"{shared_node.url}/api/events", data=body,
                      headers={**auth["owner"], "Content-Type": "application/ld+json"})
    assert r.status_code == 400, (name, r.text)
    out = r.json()
    assert out["errors"] and all(e["reason"] for e in out["errors"])
    if name in BY_RULES:
        pos, words = BY_RULES[name]
        first = out["errors"][0]
        assert first["position"] == pos and words in first["reason"] and "(rule: " in first["reason"], out
        assert f"(event {pos})" in out["message"]
    # Nothing of the document is stored: its item has no events.
    for item in {e for ev in json.loads(body).get("epcisBody", {}).get("eventList", []) for e in ev.get("epcList", [])}:
        got = requests.get(f"{shared_node.url}/events", params={"MATCH_anyEPC": item}, headers=auth["admin"]).json()
        assert got["epcisBody"]["queryResults"]["resultsBody"]["eventList"] == []


def test_the_combination_document_names_every_broken_event(shared_node, auth):
    body = (INVALID / "Combination_of_multiple_invalid_fields.json").read_bytes()
    r = requests.post(f"{shared_node.url}/api/events", data=body,
                      headers={**auth["owner"], "Content-Type": "application/ld+json"})
    got = {(e["position"], e["path"]) for e in r.json()["errors"]}
    # Event 4's action is unknown too: the schema says so, and the rules add its time.
    assert got == {(0, "bizStep"), (1, "disposition"), (2, "sourceList/0/type"), (3, "ilmd/materialType"),
                   (4, "epcisBody/eventList/4"), (4, "eventTime")}


def test_a_vocabulary_uri_and_declared_extensions_are_captured(shared_node, auth):
    body = {"@context": CTX, "type": "EPCISDocument", "schemaVersion": "2.0",
            "creationDate": "2026-03-01T00:00:00Z",
            "epcisBody": {"eventList": [ev(bizStep="https://example.com/steps/transforming", action="ADD",
                                           ilmd={"ex:materialType": "soil"}, epcList=["88.101.5/RULES-1"])]}}
    r = requests.post(f"{shared_node.url}/api/events", json=body, headers=auth["owner"])
    assert r.status_code == 201 and r.json()["stored"] == 1, r.text
