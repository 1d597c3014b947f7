"""/scan for everything a scanner reads, and handles that carry their GS1 key, on a real node.

A pump's record carries its SGTIN (a value of type GS1); its product's record carries the GTIN. A
scan of the Digital Link on the pack, the GS1 DataMatrix on the nameplate (GET, or its raw bytes
POSTed with the GS separators), the GS1-128 label, the RFID tag's EPC URN, or the GTIN alone finds
the right record; events captured under the handle and under the GS1 key make one timeline.
"""

from __future__ import annotations

import json
import uuid
from urllib.parse import quote

import pytest
import requests

from tests.nodes import idnode
from tests.test_epcis import doc

GTIN = "09501101530003"
GS = "\x1d"
ENT = "88.101.5"


def get(node, path: str, **kw) -> requests.Response:
    return requests.get(node.url + path, allow_redirects=False, **kw)


def post_scan(node, body: bytes, **kw) -> requests.Response:
    return requests.post(node.url + "/scan", data=body, allow_redirects=False,
                         headers={"Content-Type": "application/octet-stream", **kw.pop("headers", {})}, **kw)


@pytest.fixture(scope="module")
def pump(shared_node, auth) -> dict:
    """A serialised pump and its product, registered with their GS1 keys."""
    serial = "P" + uuid.uuid4().hex[:10].upper()
    item = f"{ENT}/PUMP-{serial}"
    product = f"{ENT}/PUMP-MODEL-{serial}"
    for handle, values in ((item, [{"index": 1, "type": "URL", "data": f"https://shop.example.com/pump/{serial}"},
                                   {"index": 2010, "type": "GS1", "data": f"(01){GTIN}(21){serial}"}]),
                           (product, [{"index": 1, "type": "URL", "data": "https://shop.example.com/pump-model"},
                                      {"index": 2010, "type": "GS1", "data": GTIN}])):
        r = requests.put(shared_node.api(handle), json={"values": values}, headers=auth["owner"])
        assert r.status_code == 201, r.text
    return {"serial": serial, "item": item, "product": product,
            "dl": f"https://id.gs1.org/01/{GTIN}/21/{serial}", "url": f"https://shop.example.com/pump/{serial}"}


def codes(p: dict) -> dict[str, str]:
    s = p["serial"]
    return {
        "handle": p["item"], "hdl URI": f"hdl:{p['item']}", "resolver URL": f"https://node.example/{p['item']}",
        "Digital Link": f"https://brand.example.com/01/{GTIN}/21/{s}?17=271231",
        "GS1 DataMatrix": f"]d201{GTIN}21{s}{GS}10LOT7{GS}17271231",
        "GS1-128": f"]C101{GTIN}21{s}",
        "GS1 QR": f"]Q301{GTIN}21{s}",
        "QR with a Digital Link": f"]Q1https://id.gs1.org/01/{GTIN}/21/{s}",
        "element string as printed": f"(01){GTIN}(21){s}",
        "EPC URN": f"urn:epc:id:sgtin:950110153.0000.{s}",
    }


@pytest.mark.parametrize("kind", list(codes({"serial": "S", "item": "I"})))
def test_every_kind_of_code_finds_the_item(shared_node, pump, kind):
    code = codes(pump)[kind]
    r = get(shared_node, "/scan", params={"code": code})
    assert r.status_code == 302 and r.headers["Location"] == pump["url"], (kind, r.status_code, r.text)
    r = post_scan(shared_node, code.encode())
    assert r.status_code == 302 and r.headers["Location"] == pump["url"], (kind, r.status_code, r.text)
    r = get(shared_node, "/scan", params={"code": code}, headers={"Accept": "application/json"})
    assert r.status_code == 200 and r.json()["handle"] == pump["item"]


def test_a_code_without_a_registered_serial_finds_the_product(shared_node, pump):
    for code in (GTIN, GTIN[1:], f"(01){GTIN}(21)NOT-REGISTERED", f"]d201{GTIN}10LOT9"):
        r = get(shared_node, "/scan", params={"code": code}, headers={"Accept": "application/json"})
        assert r.status_code == 200 and r.json()["handle"] == pump["product"], (code, r.text)


def test_scan_refusals_name_the_problem(shared_node, pump):
    for code, status, rc, reason in (
            (f"]d201{GTIN[:-1]}4", 400, 202, "check digit"),
            ("hello there", 400, 202, "neither a handle"),
            ("https://example.com/about", 400, 202, "neither a handle nor a GS1 Digital Link"),
            ("urn:epc:id:sscc:0614141.9999999999", 404, 100, "no identifier on this node carries the GS1 key "
                                                                "https://id.gs1.org/00/")):
        r = get(shared_node, "/scan", params={"code": code})
        assert r.status_code == status and r.json()["responseCode"] == rc and reason in r.json()["message"], r.text
    page = get(shared_node, "/scan", params={"code": "hello there"}, headers={"Accept": "text/html"})
    assert page.status_code == 400 and page.headers["Content-Type"].startswith("text/html")
    r = post_scan(shared_node, b"\xff\xfe01")
    assert r.status_code == 400 and "not UTF-8" in r.json()["message"]
    r = post_scan(shared_node, b"  ")
    assert r.status_code == 400 and r.json()["field"] == "body"
    r = post_scan(shared_node, b"0" * 20000)
    assert r.status_code == 413


def test_gs1_values_are_checked_and_unique(shared_node, auth, pump):
    other = f"{ENT}/PUMP-COPY-{uuid.uuid4().hex[:6]}"
    r = requests.put(shared_node.api(other), json={"values": [{"index": 2010, "type": "GS1", "data": "pump"}]},
                     headers=auth["owner"])
    assert r.status_code == 400 and "GS1 value at index 2010 is not a GS1 key" in r.json()["message"]
    r = requests.put(shared_node.api(other), json={"values": [
        {"index": 2010, "type": "GS1", "data": f"urn:epc:id:sgtin:950110153.0000.{pump['serial']}"}]},
        headers=auth["owner"])
    assert r.status_code == 409 and pump["item"].lower() in r.json()["message"], r.text
    assert requests.get(shared_node.api(other)).status_code == 404


def test_batch_and_import_written_records_are_found_by_their_key(shared_node, auth, pump, tmp_path):
    serial = "B" + uuid.uuid4().hex[:8].upper()
    handle = f"{ENT}/VALVE-{serial}"
    r = requests.post(shared_node.url + "/api/batch", headers=auth["owner"], json={"operations": [
        {"op": "create", "handle": handle, "values": [
            {"index": 2010, "type": "GS1", "data": f"https://id.gs1.org/01/{GTIN}/21/{serial}"}]}]})
    assert r.status_code == 200 and r.json()["succeeded"] == 1, r.text
    r = get(shared_node, "/scan", params={"code": f"]C101{GTIN}21{serial}"}, headers={"Accept": "application/json"})
    assert r.json()["handle"] == handle
    assert requests.delete(shared_node.api(handle), headers=auth["owner"]).status_code == 200
    r = get(shared_node, "/scan", params={"code": f"]C101{GTIN}21{serial}"}, headers={"Accept": "application/json"})
    assert r.status_code == 200 and r.json()["handle"] == pump["product"]  # the valve is gone: its product
    lines = tmp_path / "valves.jsonl"
    lines.write_text(json.dumps({"handle": handle, "values": [
        {"index": 2010, "type": "GS1", "data": f"urn:epc:id:sgtin:950110153.0000.{serial}"}]}) + "\n")
    idnode("import", str(lines), "--data", str(shared_node.data), "--no-progress")
    r = get(shared_node, "/scan", params={"code": f"]C101{GTIN}21{serial}"}, headers={"Accept": "application/json"})
    assert r.json()["handle"] == handle


def test_events_under_either_spelling_make_one_timeline(shared_node, auth, pump):
    s = pump["serial"]

    def obj(when: str, epc: str, step: str) -> dict:
        return {"type": "ObjectEvent", "eventTime": f"2026-04-0{when}T08:00:00+08:00", "eventTimeZoneOffset": "+08:00",
                "epcList": [epc], "action": "OBSERVE", "bizStep": step}

    r = requests.post(f"{shared_node.url}/api/events", headers=auth["owner"], json=doc(
        obj("1", f"urn:epc:id:sgtin:950110153.0000.{s}", "commissioning"),
        obj("2", pump["item"], "packing"),
        obj("3", f"https://brand.example.com/01/{GTIN}/21/{s}", "shipping")))
    assert r.status_code == 201, r.text
    for spelling in (pump["item"], f"urn:epc:id:sgtin:950110153.0000.{s}", pump["dl"], f"hdl:{pump['item']}"):
        t = requests.get(f"{shared_node.url}/api/trace/{quote(spelling, safe='/:')}").json()
        assert t["canonical"] == f"hdl:{pump['item'].lower()}" and t["aliases"] == [pump["dl"]], spelling
        assert [e["bizStep"] for e in t["timeline"]] == ["commissioning", "packing", "shipping"], spelling
    page = requests.get(f"{shared_node.url}/{pump['item']}", params={"noredirect": ""}).text
    assert page.index("commissioning") < page.index("packing") < page.index("shipping")
