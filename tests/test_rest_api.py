"""The Handle.Net REST API as COMPAT.md describes it, against a real node."""

from __future__ import annotations

import base64
import re

import pytest
import requests

H = {"Content-Type": "application/json"}
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def put(node, handle, body, headers, **params):
    return requests.put(node.api(handle), json=body, headers={**H, **headers}, params=params)


@pytest.fixture(scope="module")
def motor(shared_node, auth):
    """88.101.5/MOTOR-1: a URL, an e-mail, an HS_ADMIN and a non-public value."""
    body = {"values": [
        {"index": 1, "type": "URL", "data": {"format": "string", "value": "https://example.com/motor/1"}},
        {"index": 2, "type": "URL.alt", "data": "https://mirror.example.com/motor/1"},
        {"index": 3, "type": "EMAIL", "data": "service@example.com"},
        {"index": 100, "type": "HS_ADMIN",
         "data": {"format": "admin", "value": {"handle": "0.NA/88.101.5", "index": "200",
                                               "permissions": "011111110011"}}},
        {"index": 2001, "type": "costPrice", "data": "1234.50", "permissions": "1100"},
    ]}
    r = put(shared_node, "88.101.5/MOTOR-1", body, auth["owner"])
    assert r.status_code == 201, r.text
    return "88.101.5/MOTOR-1"


def test_get_answers_record_as_handle_net(shared_node, motor):
    r = requests.get(shared_node.api(motor))
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/json")
    body = r.json()
    assert body["responseCode"] == 1 and body["handle"] == motor
    by_index = {v["index"]: v for v in body["values"]}
    assert by_index[1] == {"index": 1, "type": "URL", "ttl": 86400, "timestamp": by_index[1]["timestamp"],
                           "data": {"format": "string", "value": "https://example.com/motor/1"}}
    assert all(ISO.match(v["timestamp"]) for v in body["values"])  # clients pop it: it must always be there
    assert by_index[100]["data"] == {"format": "admin", "value": {"handle": "0.NA/88.101.5", "index": 200,
                                                                   "permissions": "011111110011"}}
    assert 2001 not in by_index  # not public


def test_case_insensitive_and_as_requested(shared_node, motor):
    body = requests.get(shared_node.api("88.101.5/motor-1")).json()
    assert body["responseCode"] == 1 and body["handle"] == "88.101.5/motor-1"


def test_filters(shared_node, motor):
    get = lambda **p: requests.get(shared_node.api(motor), params=p).json()  # noqa: E731
    assert [v["index"] for v in get(type="URL")["values"]] == [1]
    assert [v["index"] for v in get(type="URL.")["values"]] == [1, 2]  # "URL." takes its subtypes
    assert [v["index"] for v in get(index=["3", "100"])["values"]] == [3, 100]
    assert [v["index"] for v in get(index="1", type="EMAIL")["values"]] == [1, 3]
    none = get(type="NOPE")
    assert none["responseCode"] == 200 and none["values"] == []


def test_non_public_values_for_admins_only(shared_node, motor, auth):
    def indexes(who):
        r = requests.get(shared_node.api(motor), headers=auth[who])
        assert r.status_code == 200
        return {v["index"] for v in r.json()["values"]}
    assert 2001 in indexes("owner") and 2001 in indexes("admin")
    assert 2001 not in indexes("other")
    assert requests.get(shared_node.api(motor), headers=auth["wrong"]).status_code == 401


def test_put_body_forms_and_status(shared_node, auth):
    h = "88.101.5/FORMS"
    one = {"index": 1, "type": "URL", "data": "https://a.example/"}
    assert put(shared_node, h, one, auth["owner"]).status_code == 201  # a single value
    r = put(shared_node, h, [one, {"index": 2, "type": "EMAIL", "data": "a@b.example"}], auth["owner"])
    assert (r.status_code, r.json()) == (200, {"responseCode": 1, "handle": h})  # a bare array replaces
    assert [v["index"] for v in requests.get(shared_node.api(h)).json()["values"]] == [1, 2, 100]
    r = put(shared_node, h, {"values": [one]}, auth["owner"], overwrite="false")
    assert (r.status_code, r.json()["responseCode"]) == (409, 101)


def test_put_with_index_adds_and_replaces_values(shared_node, auth):
    h = "88.101.5/IDX"
    put(shared_node, h, [{"index": 1, "type": "URL", "data": "https://a.example/"}], auth["owner"])
    r = put(shared_node, h, [{"index": 1, "type": "URL", "data": "https://b.example/"},
                             {"index": 5, "type": "NOTE", "data": "hello"}], auth["owner"], index=["1", "5"])
    assert r.status_code == 200
    vals = {v["index"]: v["data"]["value"] for v in requests.get(shared_node.api(h)).json()["values"]
            if v["data"]["format"] == "string"}
    assert vals == {1: "https://b.example/", 5: "hello"}
    r = put(shared_node, h, [{"index": 5, "type": "NOTE", "data": "x"}], auth["owner"], index="5", overwrite="false")
    assert (r.status_code, r.json()["responseCode"]) == (409, 201)
    r = put(shared_node, "88.101.5/IDX-NONE", [{"index": 5, "type": "NOTE", "data": "x"}], auth["owner"], index="5")
    assert (r.status_code, r.json()["responseCode"]) == (404, 100)


def test_mint_new_suffix(shared_node, auth):
    r = requests.put(f"{shared_node.url}/api/handles/88.101.5/", params={"mintNewSuffix": "true"},
                     json=[{"index": 1, "type": "URL", "data": "https://minted.example/"}],
                     headers={**H, **auth["owner"]})
    assert r.status_code == 201 and r.json()["responseCode"] == 1
    minted = r.json()["handle"]
    assert minted.startswith("88.101.5/") and len(minted) > 20
    assert requests.get(shared_node.api(minted)).json()["values"][0]["data"]["value"] == "https://minted.example/"


def test_delete(shared_node, auth):
    h = "88.101.5/DEL"
    put(shared_node, h, [{"index": 1, "type": "URL", "data": "https://a.example/"},
                         {"index": 2, "type": "NOTE", "data": "n"}], auth["owner"])
    r = requests.delete(shared_node.api(h), params={"index": "2"}, headers=auth["owner"])
    assert (r.status_code, r.json()) == (200, {"responseCode": 1, "handle": h})
    assert [v["index"] for v in requests.get(shared_node.api(h)).json()["values"]] == [1, 100]
    assert requests.delete(shared_node.api(h), params={"index": "2"}, headers=auth["owner"]).status_code == 404
    r = requests.delete(shared_node.api(h), headers=auth["owner"])
    assert (r.status_code, r.json()) == (200, {"responseCode": 1, "handle": h})
    r = requests.delete(shared_node.api(h), headers=auth["owner"])
    assert (r.status_code, r.json()["responseCode"], r.json()["handle"]) == (404, 100, h)


def test_listing(shared_node, auth):
    for i in range(5):
        put(shared_node, f"88.101.6/L-{i}", [{"index": 1, "type": "URL", "data": "https://l.example/"}], auth["other"])
    r = requests.get(f"{shared_node.url}/api/handles", params={"prefix": "88.101.6", "page": 1, "pageSize": 2},
                     headers=auth["other"])
    body = r.json()
    assert r.status_code == 200 and body["responseCode"] == 1 and body["prefix"] == "88.101.6"
    assert body["totalCount"] == "5" and body["handles"] == ["88.101.6/L-2", "88.101.6/L-3"]
    assert requests.get(f"{shared_node.url}/api/handles", params={"prefix": "88.101.6"}).status_code == 401
    assert requests.get(f"{shared_node.url}/api/handles", params={"prefix": "88.101.6"},
                        headers=auth["owner"]).status_code == 403


@pytest.mark.parametrize("data,fmt", [
    ({"format": "base64", "value": base64.b64encode(b"\x00\xffbin").decode()}, "base64"),
    ({"format": "hex", "value": "00ff10"}, "hex"),
    ({"format": "vlist", "value": [{"handle": "0.NA/88.101.5", "index": 300}]}, "vlist"),
    ({"format": "site", "value": {
        "version": 1, "protocolVersion": "2.10", "serialNumber": 3, "primarySite": True, "multiPrimary": False,
        "attributes": [{"name": "desc", "value": "idnode"}],
        "servers": [{"serverId": 1, "address": "127.0.0.1", "publicKey": {"format": "base64", "value": ""},
                     "interfaces": [{"query": True, "admin": True, "protocol": "TCP", "port": 2641}]}]}}, "site"),
])
def test_data_formats_round_trip(shared_node, auth, data, fmt):
    vtype = {"vlist": "HS_VLIST", "site": "HS_SITE"}.get(fmt, "BLOB")
    h = f"88.101.5/FMT-{fmt}"
    assert put(shared_node, h, [{"index": 7, "type": vtype, "data": data}], auth["owner"]).status_code == 201
    got = requests.get(shared_node.api(h), params={"index": "7"}).json()["values"][0]["data"]
    assert got["format"] == fmt
    if fmt in ("base64", "hex", "vlist"):
        assert got == data
    else:
        assert got["value"]["servers"][0]["interfaces"] == data["value"]["servers"][0]["interfaces"]
        assert got["value"]["attributes"] == data["value"]["attributes"]


def test_authentication_answers(shared_node, auth):
    body = [{"index": 1, "type": "URL", "data": "https://a.example/"}]
    r = put(shared_node, "88.101.5/AUTH", body, {})
    assert r.status_code == 401 and r.headers["WWW-Authenticate"] == 'Basic realm="handle"'
    assert r.json()["responseCode"] == 402
    r = put(shared_node, "88.101.5/AUTH", body, auth["wrong"])
    assert r.status_code == 401 and "wrong secret" in r.json()["message"]
    r = put(shared_node, "88.101.5/AUTH", body, auth["other"])
    assert (r.status_code, r.json()["responseCode"]) == (403, 400)
    # The identity's colon sent without percent-encoding is understood too.
    raw = "Basic " + base64.b64encode(b"300:0.NA/88.101.5:acme-secret-5").decode()
    assert put(shared_node, "88.101.5/AUTH", body, {"Authorization": raw}).status_code == 201
    assert requests.get(shared_node.api("88.101.5/AUTH")).status_code == 200


def test_prefix_handle_served_for_login(shared_node):
    r = requests.get(shared_node.api("0.NA/88.101.5"))
    body = r.json()
    assert r.status_code == 200 and body["responseCode"] == 1 and body["handle"] == "0.NA/88.101.5"
    assert [v["type"] for v in body["values"]] == ["HS_ADMIN"]  # the HS_SECKEY at 300 is not public


def test_not_found_and_not_served(shared_node):
    r = requests.get(shared_node.api("88.101.5/NO-SUCH"))
    assert (r.status_code, r.json()["responseCode"], r.json()["handle"]) == (404, 100, "88.101.5/NO-SUCH")
    r = requests.get(shared_node.api("99.1/X"))
    assert (r.status_code, r.json()["responseCode"]) == (400, 301)
    assert "not served" in r.json()["message"]


BAD = [
    ("control character", "88.101.5/A%00B", [{"index": 1, "type": "URL", "data": "x"}], 400, 102, "control"),
    ("overlong handle", "88.101.5/" + "A" * 250, [{"index": 1, "type": "URL", "data": "x"}], 400, 102, "255"),
    ("empty prefix segment", "88..5/A", [{"index": 1, "type": "URL", "data": "x"}], 400, 102, "empty segment"),
    ("index 0", "88.101.5/BAD", [{"index": 0, "type": "URL", "data": "x"}], 400, 202, "out of range"),
    ("negative index", "88.101.5/BAD", [{"index": -5, "type": "URL", "data": "x"}], 400, 202, "out of range"),
    ("huge index", "88.101.5/BAD", [{"index": 2 ** 40, "type": "URL", "data": "x"}], 400, 202, "out of range"),
    ("duplicate index", "88.101.5/BAD", [{"index": 1, "type": "URL", "data": "x"},
                                         {"index": 1, "type": "URL", "data": "y"}], 400, 202, "more than once"),
    ("too many values", "88.101.5/BAD", [{"index": i, "type": "T", "data": "x"} for i in range(1, 1002)],
     400, 202, "1000"),
    ("value too large", "88.101.5/BAD", [{"index": 1, "type": "T", "data": "x" * (64 * 1024 + 1)}], 400, 202,
     "65536"),
    ("bad base64", "88.101.5/BAD", [{"index": 1, "type": "T", "data": {"format": "base64", "value": "!!"}}],
     400, 202, "base64"),
    ("unknown format", "88.101.5/BAD", [{"index": 1, "type": "T", "data": {"format": "xml", "value": "<a/>"}}],
     400, 202, "format"),
    ("bad admin permissions", "88.101.5/BAD", [{"index": 100, "type": "HS_ADMIN", "data": {
        "format": "admin", "value": {"handle": "0.NA/88.101.5", "index": 200, "permissions": "12"}}}], 400, 202,
     "permissions"),
    ("no data", "88.101.5/BAD", [{"index": 1, "type": "URL"}], 400, 202, "no data"),
    ("not a value", "88.101.5/BAD", ["just text"], 400, 202, "values[0]"),
    ("prefix not allocated", "88.101.9/BAD", [{"index": 1, "type": "URL", "data": "x"}], 400, 102, "not allocated"),
    ("prefix elsewhere", "99.1/BAD", [{"index": 1, "type": "URL", "data": "x"}], 400, 301, "not served"),
]


@pytest.mark.parametrize("name,handle,values,status,rc,words", BAD, ids=[b[0] for b in BAD])
def test_bad_input_is_refused_clearly_and_writes_nothing(shared_node, auth, name, handle, values, status, rc, words):
    before = requests.get(f"{shared_node.url}/api/handles", params={"prefix": "88.101.5", "pageSize": 1},
                          headers=auth["admin"]).json()["totalCount"]
    r = put(shared_node, handle, values, auth["admin"])
    body = r.json()
    assert (r.status_code, body["responseCode"]) == (status, rc), body
    assert words in body["message"], body
    after = requests.get(f"{shared_node.url}/api/handles", params={"prefix": "88.101.5", "pageSize": 1},
                         headers=auth["admin"]).json()["totalCount"]
    assert after == before


def test_wrong_content_type_and_bad_json(shared_node, auth):
    r = requests.put(shared_node.api("88.101.5/CT"), data="{}", headers={"Content-Type": "text/plain",
                                                                         **auth["owner"]})
    assert (r.status_code, r.json()["responseCode"]) == (400, 4) and "Content-Type" in r.json()["message"]
    r = requests.put(shared_node.api("88.101.5/CT"), data="{not json", headers={**H, **auth["owner"]})
    assert (r.status_code, r.json()["responseCode"]) == (400, 4) and "JSON" in r.json()["message"]
    assert requests.get(shared_node.api("88.101.5/CT")).status_code == 404


def test_secret_is_stored_only_as_a_slow_hash(shared_node, auth):
    r = requests.get(shared_node.api("0.NA/88.101.5"), headers=auth["owner"])
    seckey = [v for v in r.json()["values"] if v["type"] == "HS_SECKEY"]
    assert seckey and seckey[0]["index"] == 300
    stored = seckey[0]["data"]["value"]
    assert stored.startswith("scrypt:") and "acme-secret-5" not in stored


def test_added_hs_admin_never_overwrites_a_value(shared_node, auth):
    """A record sent without HS_ADMIN gets one at 100, or at the next free index when 100 is taken."""
    h = "88.101.5/IDX100"
    r = put(shared_node, h, [{"index": 1, "type": "URL", "data": "https://a.example/"},
                             {"index": 100, "type": "NOTE", "data": "mine"}], auth["owner"])
    assert r.status_code == 201
    got = {v["index"]: v for v in requests.get(shared_node.api(h)).json()["values"]}
    assert got[100]["type"] == "NOTE" and got[100]["data"]["value"] == "mine"
    assert got[101]["type"] == "HS_ADMIN" and got[101]["data"]["value"]["handle"] == "0.NA/88.101.5"


@pytest.mark.parametrize("path,words", [
    ("88.101.5/A%00B", "control character"),
    ("88.101.5/" + "A" * 300, "255"),
    ("88..5/A", "empty segment"),
    ("no-slash-at-all", "no '/'"),
])
def test_resolving_an_invalid_handle_says_why(shared_node, path, words):
    r = requests.get(shared_node.api(path))
    assert (r.status_code, r.json()["responseCode"]) == (400, 102)
    assert words in r.json()["message"]
