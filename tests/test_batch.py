"""POST /api/batch: many operations in one durable commit, a result per item, idempotent on retry."""

from __future__ import annotations

import calendar
import time
import uuid

import pytest
import requests

from storage import Store

OWNER_PREFIX = "88.101.5"


def url_value(target: str, index: int = 1) -> dict:
    return {"index": index, "type": "URL", "data": {"format": "string", "value": target}}


def unique(tag: str) -> str:
    return f"{OWNER_PREFIX}/BATCH-{tag}-{uuid.uuid4().hex[:10]}"


def post_batch(node, ops, headers) -> requests.Response:
    return requests.post(node.url + "/api/batch", json={"operations": ops}, headers=headers, timeout=60)


def count(node, auth, prefix: str = OWNER_PREFIX) -> int:
    r = requests.get(node.url + "/api/handles", params={"prefix": prefix, "pageSize": 1}, headers=auth["admin"])
    assert r.status_code == 200, r.text
    return int(r.json()["totalCount"])


def record(node, handle: str) -> dict:
    r = requests.get(node.api(handle))
    assert r.status_code == 200, (handle, r.text)
    return r.json()


def last_seq(node) -> int:
    """The change log's last sequence number, read from the node's own LMDB folder by a second process."""
    store = Store(node.data, readonly=True)
    try:
        with store.read() as tx:
            return tx.last_seq()
    finally:
        store.close()


def test_create_put_update_delete_in_one_batch(shared_node, auth):
    a, b, c, d = (unique(t) for t in "ABCD")
    # b and c exist already, so put replaces one and update changes another.
    r = post_batch(shared_node, [{"op": "create", "handle": h, "values": [url_value(f"https://x.example/{h}")]}
                                 for h in (b, c, d)], auth["owner"])
    assert r.status_code == 200 and r.json()["succeeded"] == 3, r.text

    ops = [
        {"op": "create", "handle": a, "values": [url_value("https://x.example/a")]},
        {"op": "put", "handle": b, "values": [url_value("https://x.example/b-replaced"),
                                              {"index": 2001, "type": "COLOR", "data": "red"}]},
        {"op": "update", "handle": c, "values": [{"index": 2002, "type": "BATCH", "data": "B-9"}]},
        {"op": "delete", "handle": d},
    ]
    r = post_batch(shared_node, ops, auth["owner"])
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["responseCode"] == 1
    assert (body["total"], body["succeeded"], body["failed"]) == (4, 4, 0)
    assert [x["handle"] for x in body["results"]] == [a, b, c, d]
    assert [x["result"] for x in body["results"]] == ["created", "replaced", "updated", "deleted"]
    assert [x["status"] for x in body["results"]] == [201, 200, 200, 200]
    assert all(x["responseCode"] == 1 for x in body["results"])

    assert [v["data"]["value"] for v in record(shared_node, a)["values"] if v["type"] == "URL"] == \
        ["https://x.example/a"]
    vb = {v["type"]: v["data"]["value"] for v in record(shared_node, b)["values"]}
    assert vb["URL"] == "https://x.example/b-replaced" and vb["COLOR"] == "red"
    vc = {v["type"]: v["data"]["value"] for v in record(shared_node, c)["values"]}
    assert vc["URL"] == f"https://x.example/{c}" and vc["BATCH"] == "B-9"  # update kept the URL
    assert requests.get(shared_node.api(d)).status_code == 404


def test_put_replaces_whole_record_but_update_merges(shared_node, auth):
    h = unique("MERGE")
    post_batch(shared_node, [{"op": "create", "handle": h, "values": [
        url_value("https://x.example/1"), {"index": 2001, "type": "A", "data": "a"}]}], auth["owner"])
    r = post_batch(shared_node, [{"op": "put", "handle": h, "values": [url_value("https://x.example/2")]}],
                   auth["owner"])
    assert r.json()["results"][0]["result"] == "replaced"
    types = {v["type"] for v in record(shared_node, h)["values"]}
    assert "A" not in types and "URL" in types and "HS_ADMIN" in types


def test_values_carry_the_time_of_the_write_whatever_the_body_says(shared_node, auth):
    """Both decoders (the common shape, and any other such as base64 data) stamp the write's time."""
    common, other = unique("STAMP-COMMON"), unique("STAMP-OTHER")
    start = int(time.time())
    r = post_batch(shared_node, [
        {"op": "create", "handle": common, "values": [url_value("https://x.example/c")]},
        {"op": "create", "handle": other, "values": [
            {**url_value("https://x.example/o"), "timestamp": "2001-01-01T00:00:00Z"},
            {"index": 2002, "type": "BIN", "data": {"format": "base64", "value": "AAEC"}}]}], auth["owner"])
    assert [x["result"] for x in r.json()["results"]] == ["created", "created"], r.text
    end = time.time() + 1
    for h in (common, other):
        for v in record(shared_node, h)["values"]:
            stamp = calendar.timegm(time.strptime(v["timestamp"], "%Y-%m-%dT%H:%M:%SZ"))
            assert start <= stamp <= end, (h, v)
    assert next(v for v in record(shared_node, other)["values"] if v["index"] == 2002)["data"] == {
        "format": "base64", "value": "AAEC"}


def test_mixed_good_and_bad_items_each_get_their_own_result(shared_node, auth):
    good1, good2 = unique("GOOD1"), unique("GOOD2")
    foreign = f"88.101.6/BATCH-FOREIGN-{uuid.uuid4().hex[:8]}"
    bad_value = unique("BADVAL")
    ops = [
        {"op": "create", "handle": good1, "values": [url_value("https://x.example/g1")]},
        {"op": "create", "handle": "88.101.5-no-slash", "values": [url_value("https://x.example/x")]},
        {"op": "create", "handle": bad_value, "values": [{"index": "abc", "type": "URL", "data": "x"}]},
        {"op": "create", "handle": foreign, "values": [url_value("https://x.example/f")]},
        {"op": "frobnicate", "handle": unique("BADOP"), "values": []},
        {"op": "update", "handle": unique("ABSENT"), "values": [url_value("https://x.example/u")]},
        {"op": "create", "handle": good2, "values": [url_value("https://x.example/g2")]},
    ]
    before = count(shared_node, auth, "88.101.6")
    r = post_batch(shared_node, ops, auth["owner"])
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["total"], body["succeeded"], body["failed"]) == (7, 2, 5)
    res = body["results"]
    assert len(res) == 7

    assert res[0]["result"] == "created" and res[6]["result"] == "created"

    assert res[1]["responseCode"] == 102 and res[1]["status"] == 400
    assert "88.101.5-no-slash" in res[1]["message"] and "/" in res[1]["message"]

    assert res[2]["handle"] == bad_value
    assert res[2]["responseCode"] == 202 and res[2]["status"] == 400
    assert "index" in res[2]["message"] and "abc" in res[2]["message"]

    assert res[3]["handle"] == foreign
    assert res[3]["responseCode"] == 400 and res[3]["status"] == 403
    assert foreign in res[3]["message"]

    assert res[4]["status"] == 400 and "frobnicate" in res[4]["message"]

    assert res[5]["responseCode"] == 100 and res[5]["status"] == 404

    assert requests.get(shared_node.api(good1)).status_code == 200
    assert requests.get(shared_node.api(good2)).status_code == 200
    for h in (bad_value, foreign):
        assert requests.get(shared_node.api(h)).status_code == 404
    assert count(shared_node, auth, "88.101.6") == before


def test_two_thousand_operations_accepted(shared_node, auth):
    tag = uuid.uuid4().hex[:8]
    handles = [f"{OWNER_PREFIX}/BULK-{tag}-{n:04d}" for n in range(2000)]
    before = count(shared_node, auth)
    ops = [{"handle": h, "values": [url_value(f"https://x.example/{n}")]} for n, h in enumerate(handles)]
    r = post_batch(shared_node, ops, auth["owner"])
    assert r.status_code == 200, r.text[:500]
    body = r.json()
    assert body["total"] == 2000 and body["succeeded"] == 2000 and body["failed"] == 0
    assert [x["handle"] for x in body["results"]] == handles  # op defaults to create, results in order
    assert {x["result"] for x in body["results"]} == {"created"}
    assert count(shared_node, auth) == before + 2000
    assert record(shared_node, handles[1999])["values"][0]["data"]["value"] == "https://x.example/1999"


def test_two_thousand_and_one_operations_refused_and_nothing_written(shared_node, auth):
    tag = uuid.uuid4().hex[:8]
    handles = [f"{OWNER_PREFIX}/OVER-{tag}-{n:04d}" for n in range(2001)]
    before = count(shared_node, auth)
    r = post_batch(shared_node, [{"handle": h, "values": [url_value("https://x.example/o")]} for h in handles],
                   auth["owner"])
    assert r.status_code == 400, r.text[:500]
    body = r.json()
    assert body["responseCode"] == 202
    assert "2001" in body["message"] and "2000" in body["message"] and "limit" in body["message"]
    assert "results" not in body
    assert count(shared_node, auth) == before
    assert requests.get(shared_node.api(handles[0])).status_code == 404
    assert requests.get(shared_node.api(handles[-1])).status_code == 404


def test_resent_batch_is_unchanged_no_duplicates_same_timestamps(shared_node, auth):
    handles = [unique(f"RETRY{n}") for n in range(5)]
    ops = [{"op": "create" if n % 2 else "put", "handle": h,
            "values": [url_value(f"https://x.example/r{n}"), {"index": 2001, "type": "LOT", "data": f"L{n}"}]}
           for n, h in enumerate(handles)]
    first = post_batch(shared_node, ops, auth["owner"])
    assert first.status_code == 200 and first.json()["succeeded"] == 5, first.text
    before_records = {h: record(shared_node, h) for h in handles}
    stamps = {v["timestamp"] for r in before_records.values() for v in r["values"]}
    written = max(calendar.timegm(time.strptime(s, "%Y-%m-%dT%H:%M:%SZ")) for s in stamps)
    while time.time() < written + 1:  # a rewrite now would carry a later timestamp
        time.sleep(0.05)
    before_count = count(shared_node, auth)
    seq = last_seq(shared_node)

    again = post_batch(shared_node, ops, auth["owner"])  # the client timed out and sends it again
    assert again.status_code == 200, again.text
    body = again.json()
    assert (body["succeeded"], body["failed"]) == (5, 0)
    assert [x["result"] for x in body["results"]] == ["unchanged"] * 5
    assert [x["status"] for x in body["results"]] == [200] * 5
    assert {h: record(shared_node, h) for h in handles} == before_records  # timestamps included
    assert count(shared_node, auth) == before_count
    assert last_seq(shared_node) == seq  # not even a change-log entry


def test_create_of_existing_handle_with_other_values_fails_for_that_item(shared_node, auth):
    taken, fresh = unique("TAKEN"), unique("FRESH")
    post_batch(shared_node, [{"handle": taken, "values": [url_value("https://x.example/orig")]}], auth["owner"])
    r = post_batch(shared_node, [
        {"op": "create", "handle": taken, "values": [url_value("https://x.example/different")]},
        {"op": "create", "handle": fresh, "values": [url_value("https://x.example/fresh")]},
    ], auth["owner"])
    assert r.status_code == 200
    res = r.json()["results"]
    assert res[0]["responseCode"] == 101 and res[0]["status"] == 409
    assert taken in res[0]["message"] and "exists" in res[0]["message"]
    assert res[1]["result"] == "created"
    urls = [v["data"]["value"] for v in record(shared_node, taken)["values"] if v["type"] == "URL"]
    assert urls == ["https://x.example/orig"]


def test_delete_of_absent_handle_is_success_absent(shared_node, auth):
    gone = unique("GONE")
    r = post_batch(shared_node, [{"op": "delete", "handle": gone}], auth["owner"])
    assert r.status_code == 200
    (res,) = r.json()["results"]
    assert res == {"handle": gone, "responseCode": 1, "status": 200, "result": "absent"}

    # Another enterprise is told it may not, not that the handle is absent.
    r = post_batch(shared_node, [{"op": "delete", "handle": gone}], auth["other"])
    (res,) = r.json()["results"]
    assert res["responseCode"] == 400 and res["status"] == 403 and "may not delete" in res["message"]

    # A delete on a prefix this node does not serve is not "absent": it is refused.
    r = post_batch(shared_node, [{"op": "delete", "handle": "99.1/NOT-HERE"}], auth["owner"])
    (res,) = r.json()["results"]
    assert res["responseCode"] == 301 and res["status"] == 400 and "99.1" in res["message"]


def test_delete_with_indexes_removes_only_those_values(shared_node, auth):
    h = unique("DELIDX")
    post_batch(shared_node, [{"handle": h, "values": [url_value("https://x.example/1"),
                                                     {"index": 2001, "type": "A", "data": "a"}]}], auth["owner"])
    r = post_batch(shared_node, [{"op": "delete", "handle": h, "indexes": [2001]}], auth["owner"])
    assert r.json()["results"][0]["result"] == "updated"
    assert {v["index"] for v in record(shared_node, h)["values"]} == {1, 100}


@pytest.mark.parametrize("who", ["none", "wrong"])
def test_needs_valid_credentials(shared_node, auth, who):
    h = unique("NOAUTH")
    r = post_batch(shared_node, [{"handle": h, "values": [url_value("https://x.example/n")]}], auth[who])
    assert r.status_code == 401, r.text
    assert r.headers["WWW-Authenticate"] == 'Basic realm="handle"'
    assert r.json()["responseCode"] == 402 and r.json()["message"]
    assert requests.get(shared_node.api(h)).status_code == 404


def test_malformed_batches_are_refused(shared_node, auth):
    url = shared_node.url + "/api/batch"
    r = requests.post(url, json={"operations": []}, headers=auth["owner"])
    assert r.status_code == 400 and "empty" in r.json()["message"]
    r = requests.post(url, json={"ops": 1}, headers=auth["owner"])
    assert r.status_code == 400 and "operations" in r.json()["message"]
    r = requests.post(url, data="[{", headers={**auth["owner"], "Content-Type": "application/json"})
    assert r.status_code == 400 and "JSON" in r.json()["message"]
    r = requests.post(url, data="[]", headers={**auth["owner"], "Content-Type": "text/plain"})
    assert r.status_code == 400 and "Content-Type" in r.json()["message"]


def test_bare_list_body_is_accepted(shared_node, auth):
    h = unique("BARE")
    r = requests.post(shared_node.url + "/api/batch", json=[{"handle": h, "values": [url_value("https://x/b")]}],
                      headers=auth["owner"])
    assert r.status_code == 200 and r.json()["results"][0]["result"] == "created"


@pytest.fixture(scope="module")
def batch_template(shared_node, auth):
    version = "b" + uuid.uuid4().hex[:6]
    r = requests.post(shared_node.url + "/api/templates", headers=auth["owner"], json={
        "prefix": OWNER_PREFIX, "version": version, "fields": [
            {"name": "productName", "index": 2001, "required": True, "constraints": {"maxLength": 10}},
            {"name": "weight", "index": 2002, "constraints": {"datatype": "integer", "minimum": 1}}]})
    assert r.status_code == 201, r.text
    return version


def test_template_field_on_an_item(shared_node, auth, batch_template):
    ok, missing, too_long, no_such = (unique(t) for t in ("TPLOK", "TPLMISS", "TPLLONG", "TPLNONE"))
    r = post_batch(shared_node, [
        {"handle": ok, "template": batch_template,
         "values": [url_value("https://x/ok"), {"index": 2001, "type": "productName", "data": "Motor"}]},
        {"handle": missing, "template": batch_template, "values": [url_value("https://x/m")]},
        {"handle": too_long, "template": batch_template,
         "values": [{"index": 2001, "type": "productName", "data": "A much too long name"}]},
        {"handle": no_such, "template": "no-such-version",
         "values": [{"index": 2001, "type": "productName", "data": "Motor"}]},
    ], auth["owner"])
    assert r.status_code == 200, r.text
    res = r.json()["results"]
    assert res[0]["result"] == "created"
    tpl = [v for v in record(shared_node, ok)["values"] if v["index"] == 1001]
    assert tpl and tpl[0]["type"] == "TEMPLATE" and tpl[0]["data"]["value"] == batch_template

    assert res[1]["responseCode"] == 202 and res[1]["status"] == 400
    assert "productName" in res[1]["message"] and "required" in res[1]["message"]
    assert res[2]["responseCode"] == 202 and "productName" in res[2]["message"] and "10" in res[2]["message"]
    assert res[3]["responseCode"] == 202 and "no-such-version" in res[3]["message"]
    for h in (missing, too_long, no_such):
        assert requests.get(shared_node.api(h)).status_code == 404

    r = post_batch(shared_node, [{"handle": unique("TPLBAD"), "template": 10, "values": []}], auth["owner"])
    assert r.json()["results"][0]["status"] == 400 and "template" in r.json()["results"][0]["message"]


def test_acknowledged_batch_survives_a_restart(node, auth):
    handles = [f"{OWNER_PREFIX}/DURABLE-{n}" for n in range(50)]
    r = post_batch(node, [{"handle": h, "values": [url_value(f"https://x/{n}")]} for n, h in enumerate(handles)],
                   auth["owner"])
    assert r.json()["succeeded"] == 50
    node.stop(9)  # SIGKILL: no orderly shutdown, only what was committed survives
    node.start()
    assert count(node, auth) == 50
    assert record(node, handles[49])["values"][0]["data"]["value"] == "https://x/49"
