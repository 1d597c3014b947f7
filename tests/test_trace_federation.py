"""A machine's life across two enterprises on two nodes (acceptance for tracing across nodes).

Node A (88.101) serves Acme (88.101.5), which makes the motor and the machine; node B (88.102) serves
Bolt (88.102.3), which makes the controllers and records their own events, some under a controller's
GS1 key (which its record carries). A top-level node (88) tells each where the other is. The trace
of the machine on A carries B's parts' own events, marked as answered by B; with B frozen or stopped
it still answers, within its time budget, naming what it could not reach; and two nodes whose events
name each other's items never ask each other in a loop.
"""

from __future__ import annotations

import base64
import html
import json
import os
import signal
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote

import pytest
import requests

from protocol.epcis_ids import canonical
from protocol.site import Interface, Server, Site, address_from_text
from tests.federation_nodes import (
    JSON,
    admin,
    eventually,
    owner,
    three_nodes,
    top_admin,
)
from tests.test_epcis import doc
from tests.test_metrics import sample, scrape

MOTOR = "88.101.5/MOTOR-1"
MACHINE = "88.101.5/MACHINE-1"
CTRL = "88.102.3/CTRL-7"
CTRL_SGTIN = "urn:epc:id:sgtin:950110153.0000.CTRL7"  # its GS1 key, which its record on B carries
NEW_CTRL = "88.102.3/CTRL-8"
PCB = "urn:epc:class:lgtin:4012345.012345.PCB-LOT-3"  # what B makes its controller from
PALLET = "urn:epc:id:sscc:0614141.1234567890"
SCRAP = "urn:epc:class:lgtin:4012345.099999.SCRAP1"
ACME, CUSTOMER, BOLT, RECYCLER = (f"urn:epc:id:sgln:0614141.0000{n}.0" for n in (1, 2, 3, 4))
REPAIR_ADD = "urn:uuid:7d1d3c2e-0000-4000-8000-00000000c8a1"  # captured on both nodes


def ev(kind: str, when: str, **fields) -> dict:
    return {"type": kind, "eventTime": f"{when}+08:00", "eventTimeZoneOffset": "+08:00", **fields}


def obj(when: str, epcs: list[str], step: str, disp: str | None = None, where: str | None = None,
        action: str = "OBSERVE", **extra) -> dict:
    e = ev("ObjectEvent", when, epcList=epcs, action=action, bizStep=step, **extra)
    if disp:
        e["disposition"] = disp
    if where:
        e["bizLocation"] = {"id": where}
    return e


def post(node, headers: dict, *events: dict) -> None:
    r = requests.post(f"{node.url}/api/events", json=doc(*events), headers={**JSON, **headers})
    assert r.status_code == 201, r.text


def na_site_known(top, prefix: str) -> bool:
    r = requests.get(f"{top.url}/api/handles/0.NA/{prefix}", params={"type": "HS_SITE"})
    return r.status_code == 200 and bool(r.json().get("values"))


def trace(node, ident: str, headers: dict | None = None, **params) -> dict:
    r = requests.get(f"{node.url}/api/trace/{quote(ident, safe='/:')}", params=params, timeout=30, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


def traces_answered(node) -> float:
    return sample(scrape(node), "idnode_requests_total", protocol="http", operation="trace", code="200")


@pytest.fixture(scope="module")
def life(tmp_path_factory):
    with three_nodes(tmp_path_factory.mktemp("fedtrace")) as (top, a, b):
        acme, bolt = owner("88.101"), owner("88.102")
        r = requests.put(b.api(CTRL), headers={**JSON, **bolt},
                         json={"values": [{"index": 2010, "type": "GS1", "data": CTRL_SGTIN}]})
        assert r.status_code == 201, r.text
        # Bolt makes two controllers from a PCB lot, and ships one to Acme.
        post(b, bolt,
             ev("TransformationEvent", "2026-01-01T08:00:00",
                inputQuantityList=[{"epcClass": PCB, "quantity": 2, "uom": "H87"}], outputEPCList=[CTRL, NEW_CTRL],
                bizStep="commissioning", bizLocation={"id": BOLT}),
             obj("2026-01-02T08:00:00", [CTRL, NEW_CTRL], "commissioning", "active", BOLT, action="ADD"),
             obj("2026-01-03T08:00:00", [CTRL_SGTIN], "shipping", "in_transit", BOLT))  # by its GS1 key
        # Acme makes the motor, receives the controller, assembles, packs, ships and installs the machine.
        post(a, acme,
             obj("2026-01-02T09:00:00", [MOTOR], "commissioning", "active", ACME, action="ADD"),
             obj("2026-01-04T09:00:00", [CTRL], "receiving", "in_progress", ACME),
             ev("AssociationEvent", "2026-01-05T09:00:00", parentID=MACHINE, childEPCs=[MOTOR, CTRL], action="ADD",
                bizStep="assembling", bizLocation={"id": ACME}),
             obj("2026-01-05T10:00:00", [MACHINE], "commissioning", "active", ACME, action="ADD"),
             ev("AggregationEvent", "2026-01-06T09:00:00", parentID=PALLET, childEPCs=[MACHINE], action="ADD",
                bizStep="packing", bizLocation={"id": ACME}),
             obj("2026-01-07T09:00:00", [PALLET], "shipping", "in_transit"),
             obj("2026-01-09T09:00:00", [PALLET], "receiving", "in_progress", CUSTOMER),
             ev("AggregationEvent", "2026-01-09T12:00:00", parentID=PALLET, childEPCs=[MACHINE], action="DELETE",
                bizStep="unpacking", bizLocation={"id": CUSTOMER}),
             obj("2026-01-10T09:00:00", [MACHINE], "installing", "active", CUSTOMER))
        # Repair at the customer's: Bolt's new controller replaces the old one. Bolt's technician records
        # the installation on Bolt's node too (the same event), and the old controller's return.
        removal = ev("AssociationEvent", "2026-06-01T09:00:00", parentID=MACHINE, childEPCs=[CTRL], action="DELETE",
                     bizStep="repairing", bizLocation={"id": CUSTOMER})
        install = ev("AssociationEvent", "2026-06-01T10:00:00", parentID=MACHINE, childEPCs=[NEW_CTRL],
                     action="ADD", bizStep="repairing", disposition="active", bizLocation={"id": CUSTOMER},
                     eventID=REPAIR_ADD)
        post(a, acme, removal, install)
        post(b, bolt, install, obj("2026-06-03T09:00:00", [CTRL], "receiving", "in_progress", BOLT),
             obj("2026-06-04T09:00:00", [CTRL], "inspecting", "damaged", BOLT))
        # Recycling at the end of the machine's life.
        post(a, acme, ev("TransformationEvent", "2027-01-01T09:00:00", inputEPCList=[MACHINE, MOTOR, NEW_CTRL],
                         outputQuantityList=[{"epcClass": SCRAP, "quantity": 80, "uom": "KGM"}],
                         bizStep="destroying", disposition="destroyed", bizLocation={"id": RECYCLER}))
        for prefix in ("88.101.5", "88.102.3"):
            eventually(lambda p=prefix: na_site_known(top, p), what=f"0.NA/{prefix} registered upstream")
        yield top, a, b


def by(entries: list[dict], key: str) -> dict:
    return {e[key]: e for e in entries}


def test_machine_trace_on_a_carries_b_parts_answered_by_b(life):
    top, a, b = life
    t = trace(a, MACHINE)
    assert t["node"] == "88.101" and "unreachable" not in t, t.get("unreachable")
    assert [e["bizStep"] for e in t["timeline"]] == [
        "assembling", "commissioning", "packing", "shipping", "receiving", "unpacking", "installing",
        "repairing", "repairing", "destroying"]
    assert not any("node" in e for e in t["timeline"])  # the machine's own events are all A's
    assert t["state"]["disposition"] == "destroyed" and t["state"]["location"] == RECYCLER
    up = by(t["upstream"], "id")
    assert up[canonical(CTRL)]["removed"] == "2026-06-01T01:00:00.000Z" and "node" not in up[canonical(CTRL)]
    assert "removed" not in up[canonical(NEW_CTRL)] and up[canonical(MOTOR)]["depth"] == 1
    # What the controllers were made of is B's knowledge, merged at depth 2 and attributed to B.
    pcb = up[canonical(PCB)]
    assert pcb["depth"] == 2 and pcb["node"] == b.url and pcb["from"] in (canonical(CTRL), canonical(NEW_CTRL))
    parts = by(t["parts"], "identifier")
    assert set(parts) == {canonical(CTRL), canonical(NEW_CTRL)}
    old = parts[canonical(CTRL)]
    assert (old["node"], old["nodePrefix"], old["relation"], old["depth"]) == (b.url, "88.102", "upstream", 1)
    assert [e["bizStep"] for e in old["timeline"]] == ["commissioning", "commissioning", "shipping", "receiving",
                                                       "inspecting"]
    assert {e["node"] for e in old["timeline"]} == {b.url}
    assert old["state"]["disposition"] == "damaged" and old["state"]["location"] == BOLT


def test_part_trace_on_a_merges_both_nodes_timelines(life):
    top, a, b = life
    t = trace(a, CTRL, owner("88.101"))  # Acme reads what it recorded about Bolt's controller; B answers its public view
    steps = [(e["bizStep"], e.get("node")) for e in t["timeline"]]
    assert steps == [("commissioning", b.url), ("commissioning", b.url), ("shipping", b.url),
                     ("receiving", None), ("assembling", None), ("repairing", None),
                     ("receiving", b.url), ("inspecting", b.url)]
    # Its state after both nodes' events: back at Bolt, damaged; no longer in the machine.
    assert t["state"]["disposition"] == "damaged" and t["state"]["location"] == BOLT
    down = by(t["downstream"], "id")
    assert down[canonical(MACHINE)]["removed"] == "2026-06-01T01:00:00.000Z"
    assert by(t["upstream"], "id")[canonical(PCB)]["node"] == b.url
    assert [p["relation"] for p in t["parts"]] == ["self"]


def test_event_held_by_both_nodes_is_shown_once(life):
    top, a, b = life
    t = trace(a, NEW_CTRL, owner("88.101"))
    repairs = [e for e in t["timeline"] if e["eventID"] == REPAIR_ADD]
    assert len(repairs) == 1 and "node" not in repairs[0]  # A's own copy
    assert [e["bizStep"] for e in t["timeline"]] == ["commissioning", "commissioning", "repairing", "destroying"]
    assert t["state"]["disposition"] == "destroyed"


def test_b_alone_knows_its_own_events_and_asks_a_for_the_machine(life):
    top, a, b = life
    t = trace(b, CTRL)
    assert [e["bizStep"] for e in t["timeline"]] == ["commissioning", "commissioning", "shipping", "receiving",
                                                     "inspecting"]
    assert "parts" not in t  # nothing in its lineage is served elsewhere
    t = trace(b, NEW_CTRL)
    [machine] = t["parts"]
    assert machine["identifier"] == canonical(MACHINE) and machine["node"] == a.url
    assert machine["relation"] == "downstream" and machine["timeline"][-1]["bizStep"] == "destroying"


def test_no_loop_between_nodes_whose_events_name_each_other(life):
    """A's machine names B's controller, and B's controller names A's machine: one request each way."""
    top, a, b = life
    before_a, before_b = traces_answered(a), traces_answered(b)
    trace(a, MACHINE)
    assert traces_answered(a) == before_a + 1
    assert traces_answered(b) == before_b + 2  # CTRL-7 and CTRL-8, asked with via=88.101: B does not ask A back
    before_a, before_b = traces_answered(a), traces_answered(b)
    trace(b, NEW_CTRL)
    assert (traces_answered(a), traces_answered(b)) == (before_a + 1, before_b + 1)
    # A request that names the node itself in via is answered from local knowledge only.
    t = trace(a, MACHINE, via="88.102")
    assert "parts" not in t and canonical(PCB) not in {u["id"] for u in t["upstream"]}
    t = trace(a, MACHINE, via="88.102,88.103,88.104,88.105")
    assert "parts" not in t and any("already take part" in c for c in t["cut"])


def test_budget_and_via_are_checked(life):
    top, a, b = life
    for params, field in (({"budget_ms": "-1"}, "budget_ms"), ({"budget_ms": "10001"}, "budget_ms"),
                          ({"budget_ms": "soon"}, "budget_ms"), ({"via": "88.1..2"}, "via")):
        r = requests.get(f"{a.url}/api/trace/{MACHINE}", params=params)
        assert r.status_code == 400 and r.json()["responseCode"] == 202 and r.json()["field"] == field, r.text
    t = trace(a, MACHINE, budget_ms="0")  # no time to ask anyone: local knowledge only
    assert "parts" not in t and "unreachable" not in t


def test_trace_page_shows_parts_answered_by_b(life):
    top, a, b = life
    r = requests.get(f"{a.url}/trace/{MACHINE}", params={"lang": "en"})
    page = html.unescape(r.text)
    assert r.status_code == 200 and "Parts traced at other nodes" in page
    assert f"answered by {b.url} (node 88.102)" in page and canonical(CTRL) in page
    assert page.index("Parts traced at other nodes") < page.index("inspecting")


class _Peer(BaseHTTPRequestHandler):
    """A node of prefix 88.103 that answers trace requests badly, each part in its own way."""

    def do_GET(self):  # noqa: N802 - the name http.server calls
        path = self.path.upper()  # asked by the folded spelling: handles compare without case
        if "GARBLED" in path:
            body = json.dumps({"node": "88.103", "timeline": [
                {"eventID": "e1", "type": "ObjectEvent", "eventTime": "2026-02-01T00:00:00.000Z", "bizStep": "made"},
                {"eventID": "no-time", "type": "ObjectEvent"}, "not an event", {"eventTime": 7}],
                "state": {}, "upstream": [{"id": "urn:x:good", "depth": 1, "relation": "input"},
                                          {"id": None, "depth": 1, "relation": "input"}, {"depth": "deep"}],
                "downstream": [], "parts": [{"identifier": 5}], "unreachable": [{"node": 1}, "x"],
                "cut": "not a list"}).encode()
            status = 200
        elif "NOTJSON" in path:
            body, status = b"<html>hello</html>", 200
        else:
            body, status = json.dumps({"responseCode": 2, "message": "disk on fire"}).encode(), 500
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


def test_a_peer_answering_badly_is_contained(life):
    """Another node's answer is input: malformed entries are left out, a broken node is unreachable."""
    top, a, b = life
    peer = ThreadingHTTPServer(("127.0.0.1", 0), _Peer)
    threading.Thread(target=peer.serve_forever, daemon=True).start()
    try:
        site = Site((Server(1, address_from_text("127.0.0.1"), b"", (Interface(3, 2, peer.server_port),)),),
                    primary=True)
        r = requests.put(top.api("0.NA/88.103"), headers={**JSON, **top_admin()}, json={"values": [
            {"index": 1, "type": "HS_SITE", "data": {"format": "base64",
                                                     "value": base64.b64encode(site.to_wire()).decode()}}]})
        assert r.status_code in (200, 201), r.text
        parts = ["88.103.1/GARBLED", "88.103.1/NOTJSON", "88.103.1/ERROR"]
        post(a, owner("88.101"), ev("AssociationEvent", "2026-03-01T09:00:00", parentID="88.101.5/RIG-1",
                                    childEPCs=parts, action="ADD", bizStep="assembling"))
        t = trace(a, "88.101.5/RIG-1")
        [garbled] = t["parts"]
        assert [e["eventID"] for e in garbled["timeline"]] == ["e1"]
        assert [u["id"] for u in t["upstream"] if u.get("node")] == ["urn:x:good"]
        gone = by(t["unreachable"], "identifier")
        assert set(gone) == {canonical(parts[1]), canonical(parts[2])}
        assert "not JSON" in gone[canonical(parts[1])]["reason"]
        assert "HTTP 500: disk on fire" in gone[canonical(parts[2])]["reason"]
        page = requests.get(f"{a.url}/trace/88.101.5/RIG-1")
        assert page.status_code == 200 and "disk on fire" in page.text
    finally:
        peer.shutdown()


def test_a_remote_node_gets_only_the_public_view(life):
    """A repairer with its own prefix on B records where it keeps Bolt's controller and which of its crates
    it went into. Node A asks B for the controller's trace as anyone may: B answers the public view (Bolt's
    own events, and that the repairer recorded something), whoever asked A, and never the repairer's."""
    top, a, b = life
    repairer, secret_place = "88.102.7", "urn:epc:id:sgln:0614141.00999.0"
    r = requests.post(f"{b.url}/api/prefixes", json={"prefix": repairer, "secret": "repairer-secret-7"},
                      headers={**JSON, **admin("88.102")})
    assert r.status_code == 201, r.text
    from tests.nodes import basic

    post(b, {"Authorization": basic(f"300:0.NA/{repairer}", "repairer-secret-7")},
         obj("2026-07-01T09:00:00", [CTRL], "storing", "in_progress", secret_place, eventID="urn:uuid:r-stores"),
         ev("AggregationEvent", "2026-07-01T10:00:00", parentID=f"{repairer}/CRATE-1", childEPCs=[CTRL],
            action="ADD", bizStep="packing", bizLocation={"id": secret_place}, eventID="urn:uuid:r-packs"))
    for headers in (None, owner("88.101")):  # anonymous at A, and Acme authenticated at A
        t = trace(a, CTRL, headers)
        part = by(t["parts"], "identifier")[canonical(CTRL)]
        assert [e["bizStep"] for e in part["timeline"]] == ["commissioning", "commissioning", "shipping",
                                                            "receiving", "inspecting"]
        assert part["withheld"] == [{"by": repairer, "events": 2, "node": b.url}]
        text = str(t).lower()
        assert secret_place not in text and "crate-1" not in text and "r-stores" not in text
    # B's admin, on B, reads the repairer's events: they are there, only not public.
    own = trace(b, CTRL, admin("88.102"))
    assert {"urn:uuid:r-stores", "urn:uuid:r-packs"} <= {e["eventID"] for e in own["timeline"]}


@pytest.mark.serial  # the trace's time budget, measured: run alone
def test_machine_trace_with_b_frozen_then_stopped(life):
    """Last in this module: it stops B. Frozen, B accepts connections and never answers: the trace
    answers at its budget. Stopped, B refuses connections: the trace answers at once."""
    top, a, b = life
    os.kill(b.proc.pid, signal.SIGSTOP)
    try:
        t0 = time.monotonic()
        t = trace(a, MACHINE, budget_ms="800")
        took = time.monotonic() - t0
    finally:
        os.kill(b.proc.pid, signal.SIGCONT)
    assert 0.7 < took < 2.0, took
    gone = by(t["unreachable"], "identifier")
    assert set(gone) == {canonical(CTRL), canonical(NEW_CTRL)}
    assert gone[canonical(CTRL)]["node"] == b.url and "budget" in gone[canonical(CTRL)]["reason"]
    assert "parts" not in t and len(t["timeline"]) == 10  # A's own knowledge is whole
    b.stop()
    t0 = time.monotonic()
    t = trace(a, MACHINE)
    assert time.monotonic() - t0 < 2.0
    gone = by(t["unreachable"], "identifier")
    assert set(gone) == {canonical(CTRL), canonical(NEW_CTRL)}
    assert gone[canonical(CTRL)]["node"] == b.url and "could not ask" in gone[canonical(CTRL)]["reason"]
    assert {u["id"] for u in t["upstream"]} >= {canonical(CTRL), canonical(NEW_CTRL), canonical(MOTOR)}
    assert t["state"]["disposition"] == "destroyed"
    page = html.unescape(requests.get(f"{a.url}/trace/{MACHINE}", params={"lang": "en"}).text)
    assert "Not reached" in page and b.url in page
