"""EPCIS pure parts: canonical identifiers, the event hash, event facts (no node, no I/O)."""

from __future__ import annotations

import pytest

from protocol.epcis import EventError, facts, iso_ms, parse_time
from protocol.epcis_hash import event_hash
from protocol.epcis_ids import canonical, check_digit, epc_urn_to_dl


@pytest.mark.parametrize("spelling", [
    "urn:epc:id:sgtin:0614141.107346.2017",
    "https://id.gs1.org/01/10614141073464/21/2017",
    "https://example.com/01/10614141073464/21/2017?17=201225",
    " https://id.gs1.org/01/10614141073464/21/2017 ",
])
def test_gs1_spellings_meet(spelling):
    assert canonical(spelling) == "https://id.gs1.org/01/10614141073464/21/2017"


@pytest.mark.parametrize("spelling", [
    "88.101.5/Pump-7", "hdl:88.101.5/Pump-7", "HDL:88.101.5/pump-7", "http://127.0.0.1:8000/88.101.5/Pump-7",
    "https://node.example/api/handles/88.101.5/Pump-7", "https://node.example/trace/88.101.5/PUMP-7",
])
def test_handle_spellings_meet(spelling):
    assert canonical(spelling) == "hdl:88.101.5/pump-7"


def test_other_keys():
    assert check_digit("061414112345") == "2"
    assert epc_urn_to_dl("urn:epc:id:sscc:0614141.1234567890") == "https://id.gs1.org/00/106141412345678908"
    assert epc_urn_to_dl("urn:epc:id:sgln:0614141.07346.0") == "https://id.gs1.org/414/0614141073467"
    assert canonical("urn:epc:class:lgtin:4012345.012345.998877") == "https://id.gs1.org/01/04012345123456/10/998877"
    assert canonical("urn:uuid:6e5e3a54-5a1e") == "urn:uuid:6e5e3a54-5a1e"
    # A Digital Link whose check digit is wrong is not a GTIN: kept as sent.
    assert canonical("https://id.gs1.org/01/10614141073465/21/1") == "https://id.gs1.org/01/10614141073465/21/1"


EVENT = {"type": "ObjectEvent", "eventTime": "2026-01-02T10:00:00+08:00", "eventTimeZoneOffset": "+08:00",
         "epcList": ["urn:epc:id:sgtin:0614141.107346.2017", "88.101.5/A"], "action": "OBSERVE",
         "bizStep": "shipping", "readPoint": {"id": "urn:epc:id:sgln:0614141.07346.1234"}}


def test_hash_ignores_spelling_order_and_declaration():
    h = event_hash(EVENT)
    assert h.startswith("ni:///sha-256;") and h.endswith("?ver=CBV2.0")
    same = dict(reversed(list(EVENT.items())))
    # A handle is hashed as written (CBV 2.0 normalises GS1 keys only); GS1 spellings meet.
    same["epcList"] = ["88.101.5/A", "https://id.gs1.org/01/10614141073464/21/2017"]
    same["eventTime"] = "2026-01-02T02:00:00.000Z"
    same["bizStep"] = "urn:epcglobal:cbv:bizstep:shipping"
    assert event_hash(same) == h
    assert event_hash({**EVENT, "errorDeclaration": {"declarationTime": "2026-01-03T00:00:00Z"}}) == h
    assert event_hash({**EVENT, "recordTime": "2026-02-01T00:00:00Z"}) == h
    assert event_hash({**EVENT, "disposition": "in_transit"}) != h
    assert event_hash({**EVENT, "epcList": ["urn:epc:id:sgtin:0614141.107346.2017", "hdl:88.101.5/A"]}) != h


def test_facts_roles():
    f = facts({"type": "TransformationEvent", "eventTime": "2026-01-02T00:00:00Z", "eventTimeZoneOffset": "+00:00",
               "inputEPCList": ["88.101.5/steel"], "outputEPCList": ["88.101.5/part"],
               "inputQuantityList": [{"epcClass": "urn:epc:class:lgtin:4012345.012345.998877", "quantity": 3}]})
    assert f.inputs == ["hdl:88.101.5/steel", "https://id.gs1.org/01/04012345123456/10/998877"]
    assert f.links() == [("hdl:88.101.5/steel", "hdl:88.101.5/part"),
                         ("https://id.gs1.org/01/04012345123456/10/998877", "hdl:88.101.5/part")]
    agg = facts({"type": "AggregationEvent", "eventTime": "2026-01-02T00:00:00Z", "action": "ADD",
                 "parentID": "88.101.5/box", "childEPCs": ["88.101.5/a"]})
    assert agg.links() == [("hdl:88.101.5/a", "hdl:88.101.5/box")] and agg.event_id.startswith("ni:///")


@pytest.mark.parametrize("bad,why", [
    ({"type": "FooEvent", "eventTime": "2026-01-02T00:00:00Z"}, "unknown event type"),
    ({"type": "ObjectEvent", "eventTime": "2026-13-45T00:00:00Z"}, "not an ISO 8601"),
    ({"type": "ObjectEvent", "eventTime": "2026-01-02T00:00:00"}, "no time zone"),
    ({"type": "ObjectEvent"}, "eventTime must be"),
])
def test_facts_refuse(bad, why):
    with pytest.raises(EventError, match=why) as e:
        facts(bad, 3)
    assert e.value.position == 3


def test_times():
    assert parse_time("1970-01-01T00:00:01.5+00:00") == 1500
    assert iso_ms(1500) == "1970-01-01T00:00:01.500Z"
