"""EPCIS capture and query on a real node: the standard's examples, rejections, filters, paging."""

from __future__ import annotations

import json
import time
from pathlib import Path
from urllib.parse import quote

import pytest
import requests
from jsonschema import Draft7Validator
from jsonschema.exceptions import best_match

from protocol.epcis import events_of, facts
from protocol.epcis_hash import context_namespaces
from resolver.service.epcis_schema import DEFAULT_SCHEMA
from tests.nodes import ADMIN_SECRET, NODE_PREFIX, Node, basic

EPCIS = Path(__file__).resolve().parent / "data" / "epcis"
SCHEMA = json.loads(DEFAULT_SCHEMA.read_text())
VALIDATOR = Draft7Validator(SCHEMA)
REJECTED = {"Example-TransactionEvents-2020_07_03y.jsonld",
            "WithFullCombinationOfFields_object_event_all_possible_fields.jsonld",
            "WithSensorData_SensorDataExample12.jsonld", "WithSensorData_SensorDataExample17.jsonld"}
EXAMPLES = sorted(EPCIS.glob("examples/*.jsonld"))
LD = {"Content-Type": "application/ld+json"}
READER = {"Authorization": basic(f"300:0.NA/{NODE_PREFIX}", ADMIN_SECRET)}  # reads every event


def headers(auth, who="owner"):
    return {**auth[who], **LD}


def valid(doc: dict) -> dict:
    err = best_match(VALIDATOR.iter_errors(doc))
    assert err is None, err.message[:500]
    return doc


def listed(doc: dict) -> list[dict]:
    return doc["epcisBody"]["queryResults"]["resultsBody"]["eventList"]


def wait_job(node, job: str, timeout: float = 20.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        st = requests.get(f"{node.url}/capture/{job}").json()
        if not st["running"]:
            return st
        time.sleep(0.02)
    raise AssertionError(f"capture job {job} still running")


def event(n: int, item: str, **extra) -> dict:
    return {"type": "ObjectEvent", "eventTime": f"2026-03-01T10:{n // 60:02d}:{n % 60:02d}+08:00",
            "eventTimeZoneOffset": "+08:00", "epcList": [item], "action": "OBSERVE", **extra}


def doc(*events: dict) -> dict:
    return {"@context": ["https://ref.gs1.org/standards/epcis/epcis-context.jsonld"], "type": "EPCISDocument",
            "schemaVersion": "2.0", "creationDate": "2026-03-01T00:00:00Z", "epcisBody": {"eventList": list(events)}}


def count(node, item: str) -> int:
    return len(listed(requests.get(f"{node.url}/events", params={"MATCH_anyEPC": item, "perPage": 1000},
                                     headers=READER).json()))


def test_examples_through_capture_and_query(shared_node, auth):
    """All 42 examples the schema accepts are captured and come back; the four it refuses are refused
    with the schema's own reason."""
    assert len(EXAMPLES) == 46
    accepted = 0
    for path in EXAMPLES:
        body = json.loads(path.read_text())
        r = requests.post(f"{shared_node.url}/capture", data=path.read_bytes(), headers=headers(auth))
        assert r.status_code == 202, (path.name, r.text)
        assert r.headers["Location"] == f"/capture/{r.json()['captureID']}"
        st = wait_job(shared_node, r.json()["captureID"])
        if path.name in REJECTED:
            assert st["success"] is False, path.name
            expected = best_match(VALIDATOR.iter_errors(body)).message[:200]
            assert expected in st["errors"][0]["reason"], (path.name, st["errors"], expected)
            continue
        assert st["success"] is True, (path.name, st)
        accepted += 1
        namespaces = context_namespaces(body.get("@context"))  # an extension's namespace is hashed
        for ev in events_of(body):
            eid = facts(ev, None, namespaces).event_id
            got = requests.get(f"{shared_node.url}/events/{quote(eid, safe='')}", headers=READER)
            assert got.status_code == 200, (path.name, eid)
            back = listed(valid(got.json()))
            assert back[0]["eventID"] == eid and back[0]["type"] == ev["type"]
    assert accepted == 42
    # Everything together, page by page, validates too.
    url, pages, seen = f"{shared_node.url}/events?perPage=25", 0, set()
    while url:
        r = requests.get(url, headers=READER)
        assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/ld+json")
        seen.update(e["eventID"] for e in listed(valid(r.json())))
        pages += 1
        url = r.links.get("next", {}).get("url")
        url = url and requests.compat.urljoin(shared_node.url, url)
    assert pages >= 2 and len(seen) >= 40


def test_rejected_sync_with_position(shared_node, auth):
    bad = json.loads((EPCIS / "examples" / "Example-TransactionEvents-2020_07_03y.jsonld").read_text())
    r = requests.post(f"{shared_node.url}/api/events", json=bad, headers=auth["owner"])
    assert r.status_code == 400
    err = r.json()["errors"][0]
    assert err["position"] == 1 and "is not of type 'array'" in err["reason"] and "sourceList" in err["path"]
    # Nothing of it is stored, not even its valid first event.
    first = facts(events_of(bad)[0]).event_id
    assert requests.get(f"{shared_node.url}/events/{quote(first, safe='')}", headers=READER).status_code == 404


@pytest.mark.parametrize("broken,status,why,position", [
    (lambda e: e.pop("eventTime"), 400, "'eventTime' is a required property", 1),
    (lambda e: e.update(type="TeleportEvent"), 400, "unknown event type 'TeleportEvent'", 1),
    (lambda e: e.update(eventTime="2026-02-30T10:00:00+08:00"), 400, "not an ISO 8601 date-time", 1),
    (lambda e: e.update(action="SHAKE"), 400, "schema:", 1),
])
def test_invalid_events_store_nothing(shared_node, auth, broken, status, why, position):
    item = f"88.101.5/INVALID-{abs(hash(why))}"
    events = [event(1, item), event(2, item)]
    broken(events[1])
    r = requests.post(f"{shared_node.url}/api/events", json=doc(*events), headers=auth["owner"])
    assert r.status_code == status, r.text
    assert why in r.json()["errors"][0]["reason"] and r.json()["errors"][0]["position"] == position
    assert count(shared_node, item) == 0


def test_oversized_and_malformed_documents(shared_node, auth):
    item = "88.101.5/OVERSIZED"
    big = doc(*[event(i % 3600, item, eventID=f"urn:uuid:big-{i}") for i in range(10_001)])
    r = requests.post(f"{shared_node.url}/api/events", json=big, headers=auth["owner"])
    assert r.status_code == 413 and "at most 10000" in r.json()["message"]
    assert count(shared_node, item) == 0
    r = requests.post(f"{shared_node.url}/api/events", data=b"{not json", headers=headers(auth))
    assert r.status_code == 400 and "not valid JSON" in r.json()["message"]
    r = requests.post(f"{shared_node.url}/api/events", data=b"{}", headers={**auth["owner"], "Content-Type": "text/plain"})
    assert r.status_code == 415
    r = requests.post(f"{shared_node.url}/api/events", json=doc(), headers=auth["owner"])
    assert r.status_code == 400 and "no events" in r.json()["message"]


def test_capture_needs_an_enterprise_or_node_admin(shared_node, auth):
    body = doc(event(1, "88.101.5/PERM"))
    assert requests.post(f"{shared_node.url}/api/events", json=body, headers=auth["none"]).status_code == 401
    assert requests.post(f"{shared_node.url}/capture", json=body, headers=auth["none"]).status_code == 401
    assert requests.post(f"{shared_node.url}/api/events", json=body, headers=auth["wrong"]).status_code == 401
    assert requests.post(f"{shared_node.url}/api/events", json=body, headers=auth["admin"]).status_code == 201
    assert requests.get(f"{shared_node.url}/capture/no-such-job").status_code == 404


def test_idempotent_by_id_and_by_hash(shared_node, auth):
    item = "88.101.5/IDEMPOTENT"
    with_id, without = event(1, item, eventID="urn:uuid:idem-1"), event(2, item)
    r1 = requests.post(f"{shared_node.url}/api/events", json=doc(with_id, without), headers=auth["owner"]).json()
    r2 = requests.post(f"{shared_node.url}/api/events", json=[without, with_id], headers=auth["other"])
    assert r1["stored"] == 2 and r2.status_code == 200 and r2.json()["duplicate"] == 2
    assert r2.json()["eventIDs"][0] == r1["eventIDs"][1] and r1["eventIDs"][1].startswith("ni:///sha-256;")
    assert count(shared_node, item) == 2
    # Another spelling of the same item finds the same events.
    assert count(shared_node, "hdl:88.101.5/idempotent") == 2


def test_filters_and_paging(shared_node, auth):
    item, box, site = "urn:epc:id:sgtin:0614141.107346.900", "urn:epc:id:sscc:0614141.1000000900", \
        "urn:epc:id:sgln:0614141.00001.0"
    steps = ["commissioning", "packing", "shipping", "receiving"]
    evs = [event(i, item, bizStep=steps[i % 4], disposition="in_progress" if i % 2 else "active",
                 bizLocation={"id": site} if i % 3 == 0 else {"id": "urn:epc:id:sgln:0614141.00002.0"})
           for i in range(25)]
    evs.append({"type": "AggregationEvent", "eventTime": "2026-03-01T11:00:00+08:00", "eventTimeZoneOffset": "+08:00",
                "parentID": box, "childEPCs": [item], "action": "ADD", "bizStep": "packing"})
    evs.append({"type": "TransformationEvent", "eventTime": "2026-03-01T11:30:00+08:00",
                "eventTimeZoneOffset": "+08:00", "inputEPCList": [item], "outputEPCList": ["88.101.5/OUT-900"]})
    assert requests.post(f"{shared_node.url}/api/events", json=doc(*evs), headers=auth["owner"]).status_code == 201

    def q(**params):
        r = requests.get(f"{shared_node.url}/events", params=params, headers=READER)
        assert r.status_code == 200, r.text
        return listed(valid(r.json())), r

    # The same item by its Digital Link: every event naming it, 10 a page, in time order.
    dl = "https://id.gs1.org/01/10614141073464/21/900"
    got, token = [], None
    while True:
        page, r = q(MATCH_anyEPC=dl, perPage=10, **({"nextPageToken": token} if token else {}))
        got += page
        token = r.headers.get("GS1-Next-Page-Token")
        if not token:
            break
    assert len(got) == 27 and [e["eventTime"] for e in got[:25]] == [e["eventTime"] for e in evs[:25]]
    assert len(q(MATCH_epc=item, perPage=100)[0]) == 26  # epcList and childEPCs
    assert len(q(MATCH_epc=item, EQ_bizStep="shipping")[0]) == 6
    assert len(q(MATCH_epc=item, EQ_bizStep="urn:epcglobal:cbv:bizstep:shipping")[0]) == 6
    assert len(q(MATCH_epc=item, EQ_disposition="active", perPage=100)[0]) == 13
    assert len(q(MATCH_epc=item, EQ_bizLocation=site, perPage=100)[0]) == 9
    assert len(q(MATCH_epc=item, GE_eventTime="2026-03-01T02:00:10Z", LT_eventTime="2026-03-01T02:00:20Z")[0]) == 10
    assert [e["type"] for e in q(MATCH_parentID=box)[0]] == ["AggregationEvent"]
    assert [e["type"] for e in q(MATCH_inputEPC=dl)[0]] == ["TransformationEvent"]
    assert [e["type"] for e in q(MATCH_outputEPC="hdl:88.101.5/out-900")[0]] == ["TransformationEvent"]
    r = requests.get(f"{shared_node.url}/epcs/{quote(item, safe='')}/events", params={"perPage": 100},
                     headers=READER)
    assert len(listed(valid(r.json()))) == 27
    assert requests.get(f"{shared_node.url}/events", params={"GE_eventTime": "yesterday"},
                        headers=READER).status_code == 400
    assert requests.get(f"{shared_node.url}/events", params={"EQ_colour": "red"}, headers=READER).status_code == 400


def test_capture_without_schema_fails_clearly(tmp_path, fresh_data, auth):
    cfg = tmp_path / "node.toml"
    cfg.write_text(f'epcis_schema = "{tmp_path / "missing.json"}"\n')
    n = Node(fresh_data, "--config", str(cfg)).start()
    try:
        r = requests.post(f"{n.url}/api/events", json=doc(event(1, "88.101.5/X")), headers=auth["owner"])
        assert r.status_code == 503 and "cannot read the schema" in r.json()["message"]
        assert count(n, "88.101.5/X") == 0
    finally:
        n.stop()
