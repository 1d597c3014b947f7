"""Tenants of one node cannot reach each other's data: each test is an attack one enterprise (or a former
one) tried on another's, on a real node (issue 14, items 5, 9, 10 and 13)."""

from __future__ import annotations

import pytest
import requests

from tests.nodes import ENTERPRISES, basic

LD = {"Content-Type": "application/ld+json"}
H = {"Content-Type": "application/json"}
A, B = "88.101.5", "88.101.6"  # two enterprises of the seeded node


def enterprise(prefix: str, secret: str | None = None) -> dict:
    return {"Authorization": basic(f"300:0.NA/{prefix}", secret or ENTERPRISES[prefix])}


def event(item: str, when: str, step: str, disposition: str, **extra) -> dict:
    return {"type": "ObjectEvent", "eventTime": when, "eventTimeZoneOffset": "+08:00", "epcList": [item],
            "action": "OBSERVE", "bizStep": step, "disposition": disposition, **extra}


def doc(*events: dict) -> dict:
    return {"@context": ["https://ref.gs1.org/standards/epcis/epcis-context.jsonld"], "type": "EPCISDocument",
            "schemaVersion": "2.0", "creationDate": "2026-03-01T00:00:00Z", "epcisBody": {"eventList": list(events)}}


def capture(node, headers: dict, *events: dict) -> requests.Response:
    return requests.post(f"{node.url}/api/events", json=doc(*events), headers={**headers, **LD})


def denied(node, auth, op: str) -> list[dict]:
    r = requests.get(f"{node.url}/api/audit", params={"result": "denied", "op": op}, headers=auth["admin"])
    assert r.status_code == 200, r.text
    return r.json()["entries"]


def test_an_enterprise_cannot_declare_another_enterprises_event_erroneous(node, auth):
    item = f"{B}/ITEM-1"
    ev = event(item, "2026-03-01T09:00:00+08:00", "shipping", "in_transit", eventID="urn:uuid:b-shipping")
    assert capture(node, enterprise(B), ev).status_code == 201
    # A read B's eventID and declares it erroneous: refused, nothing of A's document is stored, and audited.
    forged = {**ev, "errorDeclaration": {"declarationTime": "2026-03-02T00:00:00Z", "reason": "incorrect_data"}}
    r = capture(node, enterprise(A), forged)
    assert r.status_code == 403, r.text
    assert "urn:uuid:b-shipping" in r.json()["message"] and "captured it" in r.json()["message"]
    stored = requests.get(f"{node.url}/events/urn:uuid:b-shipping", headers=enterprise(B)).json()
    assert "errorDeclaration" not in stored
    timeline = requests.get(f"{node.url}/api/trace/{item}", headers=enterprise(B)).json()["timeline"]
    assert [e["eventID"] for e in timeline] == ["urn:uuid:b-shipping"]
    refusals = denied(node, auth, "capture")
    assert refusals and refusals[-1]["identity"] == f"300:0.NA/{A}" and refusals[-1]["rc"] == 400
    # The capturing enterprise may, and so may the node admin.
    r = capture(node, enterprise(B), forged)
    assert r.status_code == 201 and r.json()["declared"] == 1, r.text
    ev2 = event(item, "2026-03-03T09:00:00+08:00", "receiving", "in_progress", eventID="urn:uuid:b-receiving")
    assert capture(node, enterprise(B), ev2).status_code == 201
    declared = {**ev2, "errorDeclaration": {"declarationTime": "2026-03-04T00:00:00Z"}}
    assert capture(node, auth["admin"], declared).json()["declared"] == 1


def test_a_disabled_prefix_refuses_every_write_on_every_route(node, auth):
    me = enterprise(A)
    token = requests.post(f"{node.url}/api/token", headers=me).json()["token"]
    tpl = {"prefix": A, "version": "1", "fields": [{"name": "model", "type": "string", "index": 2001}]}
    r = requests.post(f"{node.url}/api/prefixes/{A}/disable", headers=auth["admin"])
    assert r.status_code == 200, r.text

    ev = event(f"{A}/X", "2026-03-01T09:00:00+08:00", "shipping", "in_transit")
    for what, r in [
        ("events", capture(node, me, ev)),
        ("capture job", requests.post(f"{node.url}/capture", json=doc(ev), headers={**me, **LD})),
        ("template", requests.post(f"{node.url}/api/templates", json=tpl, headers=me)),
        ("token", requests.post(f"{node.url}/api/token", headers=me)),
        ("secret", requests.post(f"{node.url}/api/prefixes/{A}/secret", json={"secret": "a-new-secret-5"},
                                 headers=me)),
        ("handle by token", requests.put(node.api(f"{A}/T"), json={"values": [
            {"index": 1, "type": "URL", "data": "https://x.example/"}]}, headers={**H, "Authorization": f"Bearer {token}"})),
    ]:
        assert r.status_code in (401, 403), (what, r.status_code, r.text)
        assert "disabled" in r.json()["message"], (what, r.text)
    assert requests.get(f"{node.url}/events", params={"MATCH_epc": f"{A}/X"}, headers=auth["admin"]).json()[
        "epcisBody"]["queryResults"]["resultsBody"]["eventList"] == []
    assert requests.get(f"{node.url}/api/templates/{A}/1").status_code == 404
    # Enabled again: the same writes go through (the old token stays ended: it was issued before).
    assert requests.post(f"{node.url}/api/prefixes/{A}/enable", headers=auth["admin"]).status_code == 200
    assert capture(node, me, ev).status_code == 201
    assert requests.post(f"{node.url}/api/templates", json=tpl, headers=me).status_code == 201


def test_a_prefix_is_not_allocated_inside_another_enterprises_prefix(node, auth):
    admin = auth["admin"]
    # 88.101.5's admin administers every handle under 88.101.5: 88.101.5.1 given to someone else would be its.
    r = requests.post(f"{node.url}/api/prefixes", json={"prefix": f"{A}.1", "secret": "another-company"},
                      headers=admin)
    assert r.status_code == 409, r.text
    assert A in r.json()["message"] and r.json()["field"] == "prefix"
    # Nor the other way round: a prefix above an enterprise's.
    r = requests.post(f"{node.url}/api/prefixes", json={"prefix": "88.101.77.3", "secret": "third-company"},
                      headers=admin)
    assert r.status_code == 201, r.text
    r = requests.post(f"{node.url}/api/prefixes", json={"prefix": "88.101.77", "secret": "fourth-company"},
                      headers=admin)
    assert r.status_code == 409 and "88.101.77.3" in r.json()["message"], r.text
    names = {p["prefix"] for p in requests.get(f"{node.url}/api/prefixes", headers=admin).json()["prefixes"]}
    assert f"{A}.1" not in names and "88.101.77" not in names


@pytest.mark.serial  # a wall-time bound: run alone
def test_another_enterprises_container_neither_floods_nor_rewrites_an_items_trace(node, auth):
    import time

    item, box = f"{B}/ITEM-1", f"{A}/BOX-1"
    own = event(item, "2026-03-01T08:00:00+08:00", "shipping", "in_transit")
    assert capture(node, enterprise(B), own).status_code == 201
    # A packs B's item into its own box, then records 6,000 events on the box: damaged, over and over.
    pack = {"type": "AggregationEvent", "eventTime": "2026-03-01T09:00:00+08:00", "eventTimeZoneOffset": "+08:00",
            "parentID": box, "childEPCs": [item], "action": "ADD", "bizStep": "packing"}
    flood = [event(box, f"2026-03-02T{n // 3600:02d}:{n // 60 % 60:02d}:{n % 60:02d}+08:00", "inspecting",
                   "damaged") for n in range(6000)]
    r = capture(node, enterprise(A), pack, *flood)
    assert r.status_code == 201, r.text[:300]
    t0 = time.monotonic()
    r = requests.get(f"{node.url}/api/trace/{item}", headers=enterprise(B))
    took = time.monotonic() - t0
    assert r.status_code == 200, r.text[:300]
    answer = r.json()
    # Container events count towards the timeline's cap, and the answer says where it was cut.
    assert len(answer["timeline"]) <= 2000 and answer.get("cut"), (len(answer["timeline"]), answer.get("cut"))
    # What A said is shown as A's, and does not become B's item's state.
    mine = [e for e in answer["timeline"] if not e.get("foreign")]
    theirs = [e for e in answer["timeline"] if e.get("foreign")]
    assert [e["by"] for e in mine] == [B] and {e["by"] for e in theirs} == {A}
    assert answer["state"]["disposition"] == "in_transit" and answer["state"]["container"] is None
    # Bounded in time and size: the page for a phone too.
    assert took < 3.0, took
    page = requests.get(f"{node.url}/trace/{item}")
    assert page.status_code == 200 and len(page.content) < 2_000_000, len(page.content)


def listed(r: requests.Response) -> list[str]:
    assert r.status_code == 200, r.text[:300]
    return [e["eventID"] for e in r.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"]]


def test_events_are_read_by_the_enterprises_they_name_not_by_everyone(node, auth):
    secret_ev = event(f"{A}/PART-9", "2026-03-01T09:00:00+08:00", "shipping", "in_transit",
                      eventID="urn:uuid:a-private", bizLocation={"id": "urn:epc:id:sgln:0614141.00001.0"})
    handover = event(f"{B}/ITEM-2", "2026-03-01T10:00:00+08:00", "receiving", "in_progress",
                     eventID="urn:uuid:a-about-b")
    assert capture(node, enterprise(A), secret_ev, handover).status_code == 201
    # Anonymous: no event is read, on any query path; the refusal says why.
    for path, params in (("/events", {}), ("/events/urn:uuid:a-private", {}), (f"/epcs/{A}/PART-9/events", {}),
                         ("/events", {"MATCH_anyEPC": f"{A}/PART-9"})):
        r = requests.get(f"{node.url}{path}", params=params)
        assert r.status_code == 401 and "authentication is needed to read events" in r.json()["message"], path
    # Another enterprise sees only what names it: A's own event is not there, not even by its id.
    assert listed(requests.get(f"{node.url}/events", headers=enterprise(B))) == ["urn:uuid:a-about-b"]
    assert listed(requests.get(f"{node.url}/epcs/{A}/PART-9/events", headers=enterprise(B))) == []
    r = requests.get(f"{node.url}/events/urn:uuid:a-private", headers=enterprise(B))
    assert r.status_code == 404 and "a-private" in r.json()["message"]
    assert listed(requests.get(f"{node.url}/events/urn:uuid:a-about-b", headers=enterprise(B))) == ["urn:uuid:a-about-b"]
    # The enterprise that captured them, and the node admin, read both.
    for who in (enterprise(A), auth["admin"]):
        assert listed(requests.get(f"{node.url}/events", headers=who)) == ["urn:uuid:a-private", "urn:uuid:a-about-b"]


def test_an_anonymous_trace_tells_nothing_private_of_another_tenants_item(node, auth):
    """B's item is public as B shows it; what A recorded about it (where A keeps it, which box of A's it went
    into, what happened to that box) is A's business: an anonymous trace, its page and the record page say
    only that A recorded something."""
    item, box = f"{B}/ITEM-7", f"{A}/BOX-7"
    secret_place, public_place = "urn:epc:id:sgln:0614141.00777.0", "urn:epc:id:sgln:0614141.00001.0"
    r = requests.put(node.api(item), headers={**H, **enterprise(B)}, json={"values": [
        {"index": 2000, "type": "DESC", "data": {"format": "string", "value": "Pump P-7"}}]})
    assert r.status_code == 201, r.text
    own = event(item, "2026-03-01T08:00:00+08:00", "shipping", "in_transit", eventID="urn:uuid:b-ships-7",
                bizLocation={"id": public_place})
    assert capture(node, enterprise(B), own).status_code == 201
    received = event(item, "2026-03-02T08:00:00+08:00", "receiving", "in_progress", eventID="urn:uuid:a-receives-7",
                     bizLocation={"id": secret_place})
    pack = {"type": "AggregationEvent", "eventTime": "2026-03-02T09:00:00+08:00", "eventTimeZoneOffset": "+08:00",
            "parentID": box, "childEPCs": [item], "action": "ADD", "bizStep": "packing",
            "eventID": "urn:uuid:a-packs-7", "bizLocation": {"id": secret_place}}
    on_box = event(box, "2026-03-03T08:00:00+08:00", "storing", "in_progress", eventID="urn:uuid:a-stores-7",
                   readPoint={"id": secret_place})
    assert capture(node, enterprise(A), received, pack, on_box).status_code == 201

    anonymous = requests.get(f"{node.url}/api/trace/{item}").json()
    assert [e["eventID"] for e in anonymous["timeline"]] == ["urn:uuid:b-ships-7"]
    assert anonymous["timeline"][0]["bizLocation"] == public_place and anonymous["timeline"][0]["by"] == B
    assert anonymous["downstream"] == [] and anonymous["state"]["container"] is None
    # A's receiving and packing; the box's own events are not even read: the packing that would lead to them is A's.
    assert anonymous["withheld"] == [{"by": A, "events": 2}]
    text = str(anonymous)
    for private in (secret_place, box.lower(), "a-receives-7", "a-packs-7", "a-stores-7", "receiving", "storing"):
        assert private not in text.lower(), private
    for path in (f"/trace/{item}", f"/{item}?noredirect"):  # the page for a phone, the record page
        page = requests.get(f"{node.url}{path}")
        assert page.status_code == 200 and "shipping" in page.text, path
        assert secret_place not in page.text and "BOX-7" not in page.text and "receiving" not in page.text, path

    # B, whose item A's events name, reads those (not A's box's own); the node admin reads everything.
    mine = requests.get(f"{node.url}/api/trace/{item}", headers=enterprise(B)).json()
    assert [e["eventID"] for e in mine["timeline"]] == ["urn:uuid:b-ships-7", "urn:uuid:a-receives-7",
                                                        "urn:uuid:a-packs-7"]
    assert mine["withheld"] == [{"by": A, "events": 1}]
    full = requests.get(f"{node.url}/api/trace/{item}", headers=auth["admin"]).json()
    assert [e["eventID"] for e in full["timeline"]][-1] == "urn:uuid:a-stores-7" and "withheld" not in full
    assert full["state"]["disposition"] == "in_transit"  # A's word still does not set B's item's state


def test_an_owner_chooses_which_of_its_own_events_traces_show(node, auth):
    item = f"{B}/ITEM-8"
    ships = event(item, "2026-03-01T08:00:00+08:00", "shipping", "in_transit", eventID="urn:uuid:b-ships-8")
    repairs = event(item, "2026-03-05T08:00:00+08:00", "repairing", "in_progress", eventID="urn:uuid:b-repairs-8")
    assert capture(node, enterprise(B), ships, repairs).status_code == 201
    url = f"{node.url}/api/prefixes/{B}/public-trace"
    only_shipping = {"bizSteps": ["urn:epcglobal:cbv:bizstep:shipping"]}
    # Nobody else sets it: not anonymously, not another enterprise; a bad body changes nothing.
    assert requests.put(url, json=only_shipping).status_code == 401
    r = requests.put(url, json=only_shipping, headers=enterprise(A))
    assert r.status_code == 403 and A in r.json()["message"], r.text
    r = requests.put(url, json={"bizSteps": "shipping"}, headers=enterprise(B))
    assert r.status_code == 400 and r.json()["field"] == "bizSteps", r.text
    assert len(requests.get(f"{node.url}/api/trace/{item}").json()["timeline"]) == 2
    r = requests.put(url, json=only_shipping, headers=enterprise(B))
    assert r.status_code == 200 and r.json()["publicTrace"] == {"bizSteps": ["shipping"]}, r.text
    anonymous = requests.get(f"{node.url}/api/trace/{item}").json()
    assert [e["eventID"] for e in anonymous["timeline"]] == ["urn:uuid:b-ships-8"]
    assert anonymous["withheld"] == [{"by": B, "events": 1}] and anonymous["state"]["disposition"] == "in_transit"
    mine = requests.get(f"{node.url}/api/trace/{item}", headers=enterprise(B)).json()
    assert [e["eventID"] for e in mine["timeline"]] == ["urn:uuid:b-ships-8", "urn:uuid:b-repairs-8"]
    # null: every step public again.
    assert requests.put(url, json={"bizSteps": None}, headers=enterprise(B)).status_code == 200
    assert len(requests.get(f"{node.url}/api/trace/{item}").json()["timeline"]) == 2
