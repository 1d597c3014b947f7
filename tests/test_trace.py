"""A machine's whole life on one node: parts from two enterprises assembled, packed, shipped, installed,
repaired with a replaced part, recycled; the trace of the machine and of its parts answers it."""

from __future__ import annotations

import html
import shutil
import struct
import subprocess
from urllib.parse import quote

import pytest
import requests

from tests.test_epcis import doc, wait_job

STEEL = "urn:epc:class:lgtin:4012345.012345.LOT7"
BEARING = "88.101.5/BEARING-1"
MOTOR = "https://id.gs1.org/01/10614141073464/21/MOTOR-1"
MOTOR_URN = "urn:epc:id:sgtin:0614141.107346.MOTOR-1"  # the same motor, as an EPC URN
CONTROLLER = "88.101.6/CONTROLLER-1"
NEW_MOTOR = "hdl:88.101.6/MOTOR-2"
MACHINE = "88.101.5/MACHINE-1"
PALLET = "urn:epc:id:sscc:0614141.1234567890"
FACTORY, CUSTOMER, RECYCLER = ("urn:epc:id:sgln:0614141.00001.0", "urn:epc:id:sgln:0614141.00002.0",
                               "urn:epc:id:sgln:0614141.00003.0")
SCRAP = "urn:epc:class:lgtin:4012345.099999.SCRAP1"


def ev(kind: str, when: str, **fields) -> dict:
    return {"type": kind, "eventTime": f"{when}+08:00", "eventTimeZoneOffset": "+08:00", **fields}


def obj(when, epcs, step, disp=None, where=None, action="OBSERVE", **extra):
    e = ev("ObjectEvent", when, epcList=epcs, action=action, bizStep=step, **extra)
    if disp:
        e["disposition"] = disp
    if where:
        e["bizLocation"] = {"id": where}
    return e


def canon(x: str) -> str:
    from protocol.epcis_ids import canonical

    return canonical(x)


@pytest.fixture(scope="module")
def life(shared_node):
    from tests.nodes import ADMIN_SECRET, ENTERPRISES, NODE_PREFIX, basic

    owner = {"Authorization": basic("300:0.NA/88.101.5", ENTERPRISES["88.101.5"])}
    other = {"Authorization": basic("300:0.NA/88.101.6", ENTERPRISES["88.101.6"])}
    admin = {"Authorization": basic(f"300:0.NA/{NODE_PREFIX}", ADMIN_SECRET)}
    url = shared_node.url

    def post(headers, *events):
        r = requests.post(f"{url}/api/events", json=doc(*events), headers=headers)
        assert r.status_code == 201, r.text

    # Enterprise 6 makes its parts; enterprise 5 makes a bearing from a steel lot.
    post(other, obj("2026-01-02T08:00:00", [MOTOR, CONTROLLER, NEW_MOTOR], "commissioning", "active", action="ADD"))
    post(owner,
         ev("TransformationEvent", "2026-01-01T08:00:00", inputQuantityList=[{"epcClass": STEEL, "quantity": 2.5,
                                                                              "uom": "KGM"}],
            outputEPCList=[BEARING], bizStep="commissioning", bizLocation={"id": FACTORY}),
         ev("AssociationEvent", "2026-01-05T09:00:00", parentID=MACHINE, childEPCs=[BEARING, MOTOR_URN, CONTROLLER],
            action="ADD", bizStep="assembling", bizLocation={"id": FACTORY}),
         obj("2026-01-05T10:00:00", [MACHINE], "commissioning", "active", FACTORY, action="ADD"),
         ev("AggregationEvent", "2026-01-06T09:00:00", parentID=PALLET, childEPCs=[MACHINE], action="ADD",
            bizStep="packing", bizLocation={"id": FACTORY}),
         obj("2026-01-07T09:00:00", [PALLET], "shipping", "in_transit"),
         obj("2026-01-09T09:00:00", [PALLET], "receiving", "in_progress", CUSTOMER),
         ev("AggregationEvent", "2026-01-09T12:00:00", parentID=PALLET, childEPCs=[MACHINE], action="DELETE",
            bizStep="unpacking", bizLocation={"id": CUSTOMER}),
         obj("2026-01-10T09:00:00", [MACHINE], "installing", "active", CUSTOMER))
    # The pallet goes on without the machine: none of this is the machine's.
    post(owner, obj("2026-02-01T09:00:00", [PALLET], "shipping", "in_transit"))
    # A wrong inspection, then its error declaration with the corrective event.
    post(owner, obj("2026-03-01T09:00:00", [MACHINE], "inspecting", "damaged", CUSTOMER,
                    eventID="urn:uuid:wrong-inspection"))
    post(owner, obj("2026-03-01T09:30:00", [MACHINE], "inspecting", "active", CUSTOMER,
                    eventID="urn:uuid:right-inspection"),
         {**obj("2026-03-01T09:00:00", [MACHINE], "inspecting", "damaged", CUSTOMER,
                eventID="urn:uuid:wrong-inspection"),
          "errorDeclaration": {"declarationTime": "2026-03-02T00:00:00Z", "reason": "incorrect_data",
                               "correctiveEventIDs": ["urn:uuid:right-inspection"]}})
    # Repair: the motor is replaced.
    post(owner,
         ev("AssociationEvent", "2026-06-01T09:00:00", parentID=MACHINE, childEPCs=[MOTOR], action="DELETE",
            bizStep="repairing", bizLocation={"id": CUSTOMER}),
         ev("AssociationEvent", "2026-06-01T10:00:00", parentID=MACHINE, childEPCs=[NEW_MOTOR], action="ADD",
            bizStep="repairing", disposition="active", bizLocation={"id": CUSTOMER}))
    # Recycling, through the standard's capture interface.
    r = requests.post(f"{url}/capture", json=doc(
        ev("TransformationEvent", "2027-01-01T09:00:00", inputEPCList=[MACHINE, BEARING, CONTROLLER, NEW_MOTOR],
           outputQuantityList=[{"epcClass": SCRAP, "quantity": 80, "uom": "KGM"}], bizStep="destroying",
           disposition="destroyed", bizLocation={"id": RECYCLER})), headers=admin)
    assert r.status_code == 202 and wait_job(shared_node, r.json()["captureID"])["success"] is True
    # The machine's record, for the page.
    r = requests.put(f"{url}/api/handles/{MACHINE}", json={"values": [
        {"index": 2000, "type": "DESC", "data": {"format": "string", "value": "Packaging machine PM-7"}}]},
        headers=owner)
    assert r.status_code == 201, r.text
    return shared_node


def trace(node, ident: str, headers: dict | None = None, **params) -> dict:
    r = requests.get(f"{node.url}/api/trace/{quote(ident, safe='/:')}", params=params, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


def test_machine_timeline_state_and_lineage(life):
    t = trace(life, MACHINE)
    assert t["canonical"] == "hdl:88.101.5/machine-1"
    steps = [(e["bizStep"], e.get("via")) for e in t["timeline"]]
    assert steps == [("assembling", None), ("commissioning", None), ("packing", None),
                     ("shipping", canon(PALLET)), ("receiving", canon(PALLET)), ("unpacking", None),
                     ("installing", None), ("inspecting", None), ("repairing", None), ("repairing", None),
                     ("destroying", None)]
    inspection = t["timeline"][7]
    assert inspection["eventID"] == "urn:uuid:right-inspection" and inspection["disposition"] == "active"
    assert t["corrections"] == [{"eventID": "urn:uuid:wrong-inspection", "reason": "incorrect_data",
                                 "declarationTime": "2026-03-02T00:00:00Z",
                                 "correctiveEventIDs": ["urn:uuid:right-inspection"]}]
    assert t["state"] == {"disposition": "destroyed", "location": RECYCLER, "container": None,
                          "lastEvent": "2027-01-01T01:00:00.000Z"}
    up = {(u["id"], u["depth"], u["relation"]): u for u in t["upstream"]}
    assert set(up) == {(canon(BEARING), 1, "child"), (canon(MOTOR), 1, "child"), (canon(CONTROLLER), 1, "child"),
                       (canon(NEW_MOTOR), 1, "child"), (canon(STEEL), 2, "input")}
    assert up[(canon(MOTOR), 1, "child")]["removed"] == "2026-06-01T01:00:00.000Z"
    assert "removed" not in up[(canon(NEW_MOTOR), 1, "child")]
    assert up[(canon(STEEL), 2, "input")]["from"] == canon(BEARING)
    down = {(d["id"], d["relation"]) for d in t["downstream"]}
    assert down == {(canon(PALLET), "parent"), (canon(SCRAP), "output")}
    assert "cut" not in t


def test_machine_events_before_shipping(life):
    """The query interface answers the same item in any role: here the parent, the epc, the child."""
    from tests.nodes import ENTERPRISES, basic

    r = requests.get(f"{life.url}/events", params={"MATCH_anyEPC": MACHINE, "LT_eventTime": "2026-01-08T00:00:00Z"},
                     headers={"Authorization": basic("300:0.NA/88.101.5", ENTERPRISES["88.101.5"])})
    assert [e["bizStep"] for e in r.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"]] == \
        ["assembling", "commissioning", "packing"]


def as_admin() -> dict:
    from tests.nodes import ADMIN_SECRET, NODE_PREFIX, basic

    return {"Authorization": basic(f"300:0.NA/{NODE_PREFIX}", ADMIN_SECRET)}


def test_replaced_part_by_another_spelling(life):
    # The motor's events were captured by two enterprises, neither its owner here: the node admin reads them.
    t = trace(life, MOTOR_URN, as_admin())
    assert t["canonical"] == canon(MOTOR)
    assert [(e["bizStep"], e.get("action"), e["role"]) for e in t["timeline"]] == [
        ("commissioning", "ADD", "epc"), ("assembling", "ADD", "child"), ("repairing", "DELETE", "child")]
    assert t["state"]["disposition"] == "active"
    down = {(d["id"], d["depth"]): d for d in t["downstream"]}
    assert down[(canon(MACHINE), 1)]["removed"] == "2026-06-01T01:00:00.000Z"
    assert (canon(SCRAP), 2) in down and t["upstream"] == []


def test_new_part_and_bearing(life):
    t = trace(life, "88.101.6/motor-2", as_admin())  # 88.101.5's repair and packing are not public
    assert [e["bizStep"] for e in t["timeline"]] == ["commissioning", "repairing", "destroying"]
    assert t["state"]["disposition"] == "destroyed"
    assert {d["id"] for d in t["downstream"]} == {canon(MACHINE), canon(SCRAP), canon(PALLET)}
    b = trace(life, f"http://127.0.0.1:8000/{BEARING}")
    assert [u["id"] for u in b["upstream"]] == [canon(STEEL)]
    assert [e["role"] for e in b["timeline"]] == ["output", "child", "input"]


def test_limits_say_where_they_cut(life):
    t = trace(life, MACHINE, depth=1)
    assert canon(STEEL) not in {u["id"] for u in t["upstream"]}
    assert "upstream lineage cut at depth 1" in t["cut"]
    t = trace(life, MACHINE, maxNodes=3)
    assert len(t["upstream"]) == 2 and "upstream lineage cut at 3 items" in t["cut"]
    t = trace(life, MACHINE, maxEvents=2)
    assert "timeline cut at 2 events" in t["cut"]
    unknown = trace(life, "88.101.5/NEVER-SEEN")
    assert unknown["timeline"] == [] and unknown["upstream"] == [] and unknown["state"]["disposition"] is None


def test_trace_page(life):
    r = requests.get(f"{life.url}/trace/{MACHINE}", params={"lang": "en"})
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/html")
    page = html.unescape(r.text)
    assert 'name="viewport"' in r.text and "<script" not in r.text
    assert "Packaging machine PM-7" in page and "Current state" in page and "destroyed" in page
    assert page.index("assembling") < page.index("installing") < page.index("destroying")
    assert "Made from" in page and canon(STEEL) in page and "removed 1 Jun 2026" in page
    assert "declared erroneous" in page
    j = requests.get(f"{life.url}/trace/{MACHINE}", headers={"Accept": "application/json"})
    assert j.json()["canonical"] == "hdl:88.101.5/machine-1"
    assert requests.get(f"{life.url}/api/trace").status_code == 400


def test_record_page_shows_the_lifecycle(life):
    r = requests.get(f"{life.url}/{MACHINE}", params={"noredirect": "", "lang": "en"})
    page = html.unescape(r.text)
    assert r.status_code == 200 and "Packaging machine PM-7" in page and "Lifecycle" in page
    assert page.index("assembling") < page.index("installing") and f'href="/trace/{MACHINE}?lang=en"' in page
    plain = requests.get(f"{life.url}/88.101.5/NO-EVENTS-HERE", params={"noredirect": "", "lang": "en"})
    assert "Lifecycle" not in plain.text


@pytest.mark.skipif(shutil.which("chromium") is None, reason="needs Debian's chromium (.ci/run installs it)")
def test_trace_page_in_headless_chromium(life, tmp_path):
    """A phone-sized headless browser renders the page: the DOM it builds holds the lifecycle, and the
    screenshot is the phone's width."""
    url = f"{life.url}/trace/{MACHINE}?lang=en"
    browser = ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
               f"--user-data-dir={tmp_path / 'profile'}", "--window-size=390,844"]
    dom = subprocess.run([*browser, "--dump-dom", url], capture_output=True, text=True, timeout=120).stdout
    page = html.unescape(dom)
    assert "Current state" in page and "destroyed" in page and "Packaging machine PM-7" in page
    assert page.index("assembling") < page.index("shipping") < page.index("destroying")
    shot = tmp_path / "trace.png"
    subprocess.run([*browser, f"--screenshot={shot}", url], capture_output=True, timeout=120)
    png = shot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 5000
    assert struct.unpack(">I", png[16:20])[0] == 390
