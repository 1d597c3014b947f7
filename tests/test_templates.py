"""/api/templates: publishing data templates (数据模板) and checking registrations that name one."""

from __future__ import annotations

import uuid

import pytest
import requests

ENT = "88.101.5"


def new_version(tag: str = "v") -> str:
    return f"{tag}{uuid.uuid4().hex[:8]}"


def unique(tag: str) -> str:
    return f"{ENT}/TPL-{tag}-{uuid.uuid4().hex[:10]}"


def publish(node, body: dict, headers: dict) -> requests.Response:
    return requests.post(node.url + "/api/templates", json=body, headers=headers)


def put(node, handle: str, values: list, headers: dict) -> requests.Response:
    return requests.put(node.api(handle), json={"values": values}, headers=headers)


def v(index: int, vtype: str, data: str) -> dict:
    return {"index": index, "type": vtype, "data": {"format": "string", "value": data}}


PRODUCT_FIELDS = [
    {"name": "productName", "index": 2001, "required": True, "constraints": {"maxLength": 20}},
    {"name": "serial", "index": 2002, "required": True, "constraints": {"pattern": "SN-[0-9]{4}"}},
    {"name": "weight", "index": 2003, "constraints": {"datatype": "integer", "minimum": 1}},
    {"name": "madeOn", "index": 2004, "constraints": {"datatype": "date"}},
    {"name": "manual", "index": 2005, "constraints": {"datatype": "url"}},
    {"name": "grade", "index": 2006, "constraints": {"enum": ["A", "B", "C"]}},
]


@pytest.fixture(scope="module")
def product(shared_node, auth) -> str:
    """A template version of 88.101.5 published by its own admin."""
    version = new_version("p")
    r = publish(shared_node, {"prefix": ENT, "version": version, "name": "motor", "fields": PRODUCT_FIELDS},
                auth["owner"])
    assert r.status_code == 201, r.text
    return version


def good_values(version: str) -> list[dict]:
    return [v(1, "URL", "https://example.com/m"), v(1001, "TEMPLATE", version), v(2001, "productName", "Motor X"),
            v(2002, "serial", "SN-0042"), v(2003, "weight", "12"), v(2004, "madeOn", "2024-05-01"),
            v(2005, "manual", "https://example.com/manual.pdf"), v(2006, "grade", "B")]


def test_published_template_reads_back_and_is_listed(shared_node, product):
    r = requests.get(f"{shared_node.url}/api/templates/{ENT}/{product}")
    assert r.status_code == 200
    body = r.json()
    assert body["prefix"] == ENT and body["version"] == product and body["name"] == "motor"
    assert [f["name"] for f in body["fields"]] == [f["name"] for f in PRODUCT_FIELDS]
    assert body["fields"][0] == {"name": "productName", "type": "productName", "index": 2001, "required": True,
                                 "constraints": {"datatype": "string", "maxLength": 20}}
    listed = requests.get(shared_node.url + "/api/templates", params={"prefix": ENT}).json()["templates"]
    assert product in {t["version"] for t in listed}
    assert requests.get(f"{shared_node.url}/api/templates/{ENT}/no-such").status_code == 404


def test_same_version_again_is_accepted_other_content_conflicts(shared_node, auth, product):
    body = {"prefix": ENT, "version": product, "name": "motor", "fields": PRODUCT_FIELDS}
    r = publish(shared_node, body, auth["owner"])
    assert r.status_code == 200, r.text
    r = publish(shared_node, body, auth["admin"])  # the node admin sending the same: still the same
    assert r.status_code == 200, r.text

    changed = {**body, "fields": [{**PRODUCT_FIELDS[0], "constraints": {"maxLength": 99}}, *PRODUCT_FIELDS[1:]]}
    r = publish(shared_node, changed, auth["owner"])
    assert r.status_code == 409, r.text
    assert r.json()["responseCode"] == 101
    assert product in r.json()["message"] and "new version" in r.json()["message"]
    stored = requests.get(f"{shared_node.url}/api/templates/{ENT}/{product}").json()
    assert stored["fields"][0]["constraints"]["maxLength"] == 20


def test_who_may_publish(shared_node, auth):
    body = {"prefix": ENT, "version": new_version(), "fields": [{"name": "x", "index": 2001}]}
    r = publish(shared_node, body, auth["other"])
    assert r.status_code == 403 and r.json()["responseCode"] == 400
    assert "300:0.NA/88.101.6" in r.json()["message"]
    r = publish(shared_node, body, auth["none"])
    assert r.status_code == 401 and r.json()["responseCode"] == 402
    r = publish(shared_node, body, auth["wrong"])
    assert r.status_code == 401
    # An enterprise admin may not publish at the node (industry) prefix.
    r = publish(shared_node, {**body, "prefix": "88.101"}, auth["owner"])
    assert r.status_code == 403
    for prefix in (ENT, "88.101"):
        assert requests.get(f"{shared_node.url}/api/templates/{prefix}/{body['version']}").status_code == 404

    r = publish(shared_node, body, auth["admin"])  # the node admin may publish for an enterprise
    assert r.status_code == 201, r.text
    r = publish(shared_node, {**body, "prefix": "99.7"}, auth["admin"])
    assert r.status_code == 400 and r.json()["responseCode"] == 301 and "99.7" in r.json()["message"]


@pytest.mark.parametrize("body, field", [
    ({"prefix": ENT, "version": "has space", "fields": [{"name": "a", "index": 2001}]}, "version"),
    ({"prefix": ENT, "fields": [{"name": "a", "index": 2001}]}, "version"),
    ({"prefix": ENT, "version": "1.0", "fields": []}, "fields"),
    ({"prefix": ENT, "version": "1.0", "fields": [{"name": "a", "index": 1500}]}, "fields[0].index"),
    ({"prefix": ENT, "version": "1.0", "fields": [{"name": "a", "index": 2001}, {"name": "a", "index": 2002}]},
     "fields[1]"),
    ({"prefix": ENT, "version": "1.0", "fields": [{"name": "a", "index": 2001,
                                                   "constraints": {"datatype": "colour"}}]},
     "fields[0].constraints.datatype"),
    ({"prefix": ENT, "version": "1.0", "fields": [{"name": "a", "index": 2001, "constraints": {"pattern": "("}}]},
     "fields[0].constraints.pattern"),
    ({"version": "1.0", "fields": [{"name": "a", "index": 2001}]}, "prefix"),
])
def test_bad_template_definitions_are_refused(shared_node, auth, body, field):
    r = publish(shared_node, body, auth["owner"])
    assert r.status_code == 400, r.text
    assert r.json()["responseCode"] == 202 and r.json()["field"] == field
    assert field.split(".")[-1].split("[")[0] in r.json()["message"]


def test_snms_items_with_idtype_idindex_metadata(shared_node, auth):
    version = new_version("snms")
    r = publish(shared_node, {
        "prefix": ENT, "version": version, "industry": "装备制造",
        "items": [{"name": "产品名称", "idType": "productName", "idIndex": 2001, "required": True,
                   "metadata": {"type": "string", "minLength": 2, "maxLength": 8}},
                  {"name": "重量", "idType": "weight", "idIndex": 2002, "required": False,
                   "metadata": {"type": "integer"}}]}, auth["owner"])
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["industry"] == "装备制造"
    assert body["fields"] == [
        {"name": "产品名称", "type": "productName", "index": 2001, "required": True,
         "constraints": {"datatype": "string", "minLength": 2, "maxLength": 8}},
        {"name": "重量", "type": "weight", "index": 2002, "required": False, "constraints": {"datatype": "integer"}}]

    ok = unique("SNMS")
    assert put(shared_node, ok, [v(1001, "TEMPLATE", version), v(2001, "productName", "电机"),
                                 v(2002, "weight", "7")], auth["owner"]).status_code == 201
    short = unique("SNMS-SHORT")
    r = put(shared_node, short, [v(1001, "TEMPLATE", version), v(2001, "productName", "电")], auth["owner"])
    assert r.status_code == 400 and "产品名称" in r.json()["message"] and "2" in r.json()["message"]
    assert requests.get(shared_node.api(short)).status_code == 404


def test_registration_satisfying_the_template(shared_node, auth, product):
    h = unique("OK")
    r = put(shared_node, h, good_values(product), auth["owner"])
    assert r.status_code == 201, r.text
    # Optional fields may be left out.
    h2 = unique("MIN")
    r = put(shared_node, h2, [v(1001, "TEMPLATE", product), v(2001, "productName", "M"), v(2002, "serial", "SN-0001")],
            auth["owner"])
    assert r.status_code == 201, r.text
    # A record that names no template is free-form.
    assert put(shared_node, unique("FREE"), [v(2099, "anything", "x")], auth["owner"]).status_code == 201


def _replace(values: list[dict], index: int, new: dict | None) -> list[dict]:
    out = [x for x in values if x["index"] != index]
    return out + [new] if new else out


@pytest.mark.parametrize("index, new, field, words", [
    (2001, None, "productName", ["required"]),
    (2001, v(2001, "NAME", "Motor"), "productName", ["type", "'productName'", "'NAME'"]),
    (2001, v(2001, "productName", "x" * 21), "productName", ["longer", "20"]),
    (2002, v(2002, "serial", "SN-42"), "serial", ["pattern"]),
    (2003, v(2003, "weight", "12.5"), "weight", ["integer"]),
    (2003, v(2003, "weight", "0"), "weight", ["minimum", "1"]),
    (2004, v(2004, "madeOn", "2024-13-01"), "madeOn", ["date"]),
    (2005, v(2005, "manual", "ftp://example.com/m"), "manual", ["URL"]),
    (2006, v(2006, "grade", "D"), "grade", ["one of"]),
    (2099, v(2099, "extra", "x"), "values", ["index 2099", "not a field"]),
])
def test_registration_violating_the_template_is_refused(shared_node, auth, product, index, new, field, words):
    h = unique("BAD")
    r = put(shared_node, h, _replace(good_values(product), index, new), auth["owner"])
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["responseCode"] == 202 and body["field"] == field and body["handle"] == h
    if field != "values":
        assert field in body["message"]
    assert product in body["message"]
    for w in words:
        assert w in body["message"]
    assert requests.get(shared_node.api(h)).status_code == 404


def test_changes_to_a_templated_record_are_checked_too(shared_node, auth, product):
    h = unique("CHANGE")
    assert put(shared_node, h, good_values(product), auth["owner"]).status_code == 201
    before = requests.get(shared_node.api(h)).json()

    r = requests.put(shared_node.api(h), params={"index": 2003}, json={"values": [v(2003, "weight", "-3")]},
                     headers=auth["owner"])
    assert r.status_code == 400 and "weight" in r.json()["message"]
    r = requests.delete(shared_node.api(h), params={"index": 2002}, headers=auth["owner"])
    assert r.status_code == 400 and "serial" in r.json()["message"] and "required" in r.json()["message"]
    assert requests.get(shared_node.api(h)).json() == before

    r = requests.put(shared_node.api(h), params={"index": 2003}, json={"values": [v(2003, "weight", "30")]},
                     headers=auth["owner"])
    assert r.status_code == 200, r.text


def test_unknown_template_version_is_refused(shared_node, auth):
    h = unique("NOVER")
    r = put(shared_node, h, [v(1001, "TEMPLATE", "never-published"), v(2001, "productName", "M")], auth["owner"])
    assert r.status_code == 400
    assert "never-published" in r.json()["message"] and r.json()["field"] == "template"
    assert requests.get(shared_node.api(h)).status_code == 404


def test_a_template_of_another_enterprise_cannot_be_named(shared_node, auth):
    body = {"prefix": "88.101.6", "version": "6.0", "fields": [{"name": "x", "index": 2001}]}
    assert requests.post(f"{shared_node.url}/api/templates", json=body,
                         headers={"Content-Type": "application/json", **auth["other"]}).status_code == 201
    h = unique("FOREIGN")
    r = put(shared_node, h, [v(1001, "TEMPLATE", "88.101.6:6.0"), v(2001, "x", "1")], auth["owner"])
    assert r.status_code == 400 and r.json()["field"] == "template"
    assert "not of 88.101.6" in r.json()["message"]
    assert requests.get(shared_node.api(h)).status_code == 404


def test_industry_template_at_node_prefix_applies_to_enterprise_handles(shared_node, auth):
    version = new_version("ind")
    r = publish(shared_node, {"prefix": "88.101", "version": version, "industry": "machinery",
                              "fields": [{"name": "model", "index": 2001, "required": True,
                                          "constraints": {"pattern": "[A-Z]{2}-[0-9]+"}}]}, auth["admin"])
    assert r.status_code == 201, r.text

    ok, ok_named, bad = unique("IND"), unique("IND-NAMED"), unique("IND-BAD")
    assert put(shared_node, ok, [v(1001, "TEMPLATE", version), v(2001, "model", "AB-12")],
               auth["owner"]).status_code == 201
    assert put(shared_node, ok_named, [v(1001, "TEMPLATE", f"88.101:{version}"), v(2001, "model", "CD-3")],
               auth["owner"]).status_code == 201
    r = put(shared_node, bad, [v(1001, "TEMPLATE", version), v(2001, "model", "ab12")], auth["owner"])
    assert r.status_code == 400 and "model" in r.json()["message"] and "88.101" in r.json()["message"]
    assert requests.get(shared_node.api(bad)).status_code == 404

    # The enterprise's own version of the same number comes first.
    own = publish(shared_node, {"prefix": ENT, "version": version,
                                "fields": [{"name": "model", "index": 2001, "constraints": {"enum": ["ab12"]}}]},
                  auth["owner"])
    assert own.status_code == 201
    assert put(shared_node, bad, [v(1001, "TEMPLATE", version), v(2001, "model", "ab12")],
               auth["owner"]).status_code == 201


def test_batch_template_field_uses_the_same_check(shared_node, auth, product):
    good, bad = unique("B-GOOD"), unique("B-BAD")
    vals = [x for x in good_values(product) if x["index"] != 1001]
    r = requests.post(shared_node.url + "/api/batch", headers=auth["owner"], json={"operations": [
        {"handle": good, "template": product, "values": vals},
        {"handle": bad, "template": product, "values": _replace(vals, 2006, v(2006, "grade", "Z"))}]})
    res = r.json()["results"]
    assert res[0]["result"] == "created"
    assert res[1]["responseCode"] == 202 and "grade" in res[1]["message"]
    assert requests.get(shared_node.api(bad)).status_code == 404


def test_delete_template(shared_node, auth):
    version = new_version("del")
    body = {"prefix": ENT, "version": version, "fields": [{"name": "a", "index": 2001}]}
    assert publish(shared_node, body, auth["owner"]).status_code == 201
    url = f"{shared_node.url}/api/templates/{ENT}/{version}"

    assert requests.delete(url).status_code == 401
    assert requests.delete(url, headers=auth["other"]).status_code == 403
    assert requests.get(url).status_code == 200

    r = requests.delete(url, headers=auth["owner"])
    assert r.status_code == 200 and r.json() == {"responseCode": 1, "prefix": ENT, "version": version}
    assert requests.get(url).status_code == 404
    r = requests.delete(url, headers=auth["owner"])
    assert r.status_code == 404 and r.json()["responseCode"] == 100

    r = put(shared_node, unique("AFTER-DEL"), [v(1001, "TEMPLATE", version), v(2001, "a", "x")], auth["owner"])
    assert r.status_code == 400 and version in r.json()["message"]
