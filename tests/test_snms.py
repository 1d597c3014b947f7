"""The SNMS-compatible API (resolver/http/snms.py): the public documentation's examples replayed
against a real node (tests/data/snms/), the same identifiers through every other interface, and
how a caller could abuse it."""

from __future__ import annotations

import hashlib
import json
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import requests

from protocol.snms import dated_password
from tests.nodes import ENTERPRISES

EXAMPLES = json.loads((Path(__file__).parent / "data" / "snms" / "examples.json").read_text())
ENT = "88.101.5"
CST = timezone(timedelta(hours=8))


def call(node, method: str, path: str, token: str | None = None, body: object = None, **kw) -> requests.Response:
    headers = {"Content-Type": "application/json", **kw.pop("headers", {})}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    data = kw.pop("data", None)
    if body is not None:
        data = json.dumps(body, ensure_ascii=False).encode()
    return requests.request(method, node.url + path, headers=headers, data=data, timeout=60, **kw)


def replay(node, name: str, token: str | None) -> dict:
    """Send the documented request; the answer must be the documented one (HTTP 200)."""
    ex = EXAMPLES[name]
    r = call(node, ex["method"], ex["path"], token, ex.get("body"))
    assert r.status_code == 200, r.text
    got = r.json()
    want = ex["response"]
    if isinstance(want.get("data"), dict) and want["data"].get("token") == "<token>":
        assert got["data"]["token"].startswith("idn_"), got
        want = {**want, "data": got["data"]}
    assert got == want, f"{name} ({ex['doc']})"
    return got


def login(node, username: str = ENT, password: str | None = None) -> str:
    r = call(node, "POST", "/identity/token", body={"username": username,
                                                   "password": password or ENTERPRISES.get(username, "")})
    assert r.json()["status"] == 1, r.text
    return r.json()["data"]["token"]


def template(version: str, items: list[tuple[str, int]]) -> dict:
    return {"prefix": ENT, "version": version, "industryCategory": "C", "industrySpecific": "34",
            "industryTrade": "344", "industrySubclass": "3441", "type": 1, "description": f"模板{version}",
            "items": [{"name": f"属性{t}", "idType": t, "idIndex": i, "required": False,
                       "metadata": {"type": "string", "minLength": 1, "maxLength": 64}} for t, i in items]}


@pytest.fixture(scope="module")
def snms(shared_node):
    """The shared node, an enterprise token, and the templates the identifier examples name."""
    token = login(shared_node)
    for version, items in (("1.0", [("name", 2000)]), ("1.0.1", [("URL", 2000), ("URL2", 2001)])):
        r = call(shared_node, "POST", "/snms/api/v5/template", token, template(version, items))
        assert r.json() == {"message": "success", "status": 1, "data": True}, r.text
    return shared_node, token


# --- the documentation's examples -----------------------------------------------------------------

def test_the_documented_dated_password_vector_holds():
    ex = EXAMPLES["login_v1_vector"]
    assert dated_password(ex["secret"], ex["day"]) == ex["password"]


def test_login_examples_answer_as_documented(shared_node):
    replay(shared_node, "login", None)
    replay(shared_node, "login_wrong", None)
    # The full identity works as a user name, as does the bare prefix; the node admin logs in the same way.
    assert login(shared_node, f"300:0.NA/{ENT}", ENTERPRISES[ENT]).startswith("idn_")
    assert login(shared_node, "88.101", "node-admin-secret").startswith("idn_")


def test_the_dated_login_takes_todays_digest_in_china_standard_time(shared_node):
    today = datetime.now(CST).strftime("%Y-%m-%d")
    r = call(shared_node, "POST", "/identity/token/v1",
             body={"username": ENT, "password": dated_password(ENTERPRISES[ENT], today)})
    assert r.json()["status"] == 1 and r.json()["data"]["token"].startswith("idn_"), r.text
    token = r.json()["data"]["token"]
    assert call(shared_node, "GET", f"/snms/api/v5/template?prefix={ENT}&version=none", token).json()["status"] == -2
    # Last week's digest, the plain secret, or the secret's single hash: refused as the documentation words it.
    week_ago = (datetime.now(CST) - timedelta(days=7)).strftime("%Y-%m-%d")
    for password in (dated_password(ENTERPRISES[ENT], week_ago), ENTERPRISES[ENT],
                     hashlib.sha256(ENTERPRISES[ENT].encode()).hexdigest()):
        r = call(shared_node, "POST", "/identity/token/v1", body={"username": ENT, "password": password})
        assert r.json() == {"message": "用户名/密码错误！", "status": -2, "data": None}


def test_template_examples_answer_as_documented_through_v5_and_v3(snms):
    node, token = snms
    replay(node, "template_create", token)
    replay(node, "template_get", token)
    replay(node, "template_get_v3", token)
    replay(node, "template_update", token)
    # An update adds a field and disables the first; a field is never removed.
    body = {**EXAMPLES["template_update"]["body"], "description": "改"}
    body["items"] = [{**body["items"][0], "state": 0}, {"name": "型号", "idType": "model", "required": True,
                                                        "metadata": {"minLength": 2, "maxLength": 20}}]
    assert call(node, "PUT", "/snms/api/v5/template", token, body).json()["status"] == 1
    got = call(node, "GET", f"/snms/api/v5/template?prefix={ENT}&version=1.0.0", token).json()["data"]
    assert got["description"] == "改"
    assert [(i["idType"], i["idIndex"], i["state"], i["required"]) for i in got["items"]] == [
        ("ip", 2000, 0, False), ("model", 2001, 1, True)]
    # The same template through the node's own API, with the SNMS fields it carries.
    own = requests.get(f"{node.url}/api/templates/{ENT}/1.0.0").json()
    assert (own["industrySubclass"], own["objectType"]) == ("0111", 1)
    assert [(f["type"], f["index"], f.get("state", 1)) for f in own["fields"]] == [("ip", 2000, 0), ("model", 2001, 1)]


def test_a_template_made_through_the_node_api_reads_through_snms(snms, auth):
    node, token = snms
    body = {"prefix": ENT, "version": "own-1", "industryCategory": "C", "industrySpecific": "34",
            "fields": [{"name": "serial", "index": 2000, "required": True, "constraints": {"maxLength": 12}}]}
    assert requests.post(node.url + "/api/templates", json=body, headers=auth["owner"]).status_code == 201
    got = call(node, "GET", f"/snms/api/v3/template?prefix={ENT}&version=own-1", token).json()
    assert got["status"] == 1, got
    assert got["data"]["industryTrade"] == "" and got["data"]["items"] == [
        {"name": "serial", "idType": "serial", "metadata": {"type": "string", "minLength": 0, "maxLength": 12},
         "required": True}]


def test_identifier_examples_answer_as_documented(snms):
    node, token = snms
    replay(node, "register", token)
    # handle-operate.md: after a 504, a second call that answers "already exists" means the first succeeded.
    again = call(node, "POST", "/identityv2/data", token, EXAMPLES["register"]["body"]).json()
    assert again == {"message": "标识已存在", "status": -2, "data": None}
    replay(node, "register_bad_index", token)
    replay(node, "detail", token)
    replay(node, "detail_missing_handle", token)
    replay(node, "delete", token)
    replay(node, "delete_missing", token)


def test_batch_examples_answer_as_documented_and_a_retry_is_safe(snms):
    node, token = snms
    ex = dict(EXAMPLES["batch_create"])
    replay(node, "batch_create", token)
    # The retry after a gateway time-out: every item succeeds again, nothing is written twice.
    r = call(node, "POST", ex["path"], token, ex["body"]).json()
    assert r == ex["response"]
    replay(node, "batch_create_exists", token)
    create = [{"handle": h, "templateVersion": "1.0.1", "value": [
        {"data": {"format": "string", "value": "x"}, "index": 2000, "type": "URL"}]} for h in (f"{ENT}/cc", f"{ENT}/cc1")]
    assert [i["msg"] for i in call(node, "POST", ex["path"], token, create).json()["data"]] == ["success"] * 2
    replay(node, "batch_delete", token)
    replay(node, "batch_delete_missing", token)


def test_updates_change_the_named_values_and_need_the_identifier(snms):
    node, token = snms
    h = f"{ENT}/upd-1"
    rec = {"handle": h, "templateVersion": "1.0.1", "value": [
        {"data": {"format": "string", "value": "a"}, "index": 2000, "type": "URL"}]}
    assert call(node, "POST", "/identityv2/data", token, rec).json()["status"] == 1
    rec["value"] = [{"data": {"format": "string", "value": "b"}, "index": 2001, "type": "URL2"}]
    assert call(node, "PUT", "/identityv2/data", token, rec).json()["status"] == 1
    vals = call(node, "GET", f"/identityv2/data/detail?handle={h}", token).json()["data"]["value"]
    assert [(v["index"], v["data"]["value"]) for v in vals] == [(1001, "1.0.1"), (2000, "a"), (2001, "b")]
    missing = {**rec, "handle": f"{ENT}/upd-none"}
    assert call(node, "PUT", "/identityv2/data", token, missing).json() == {
        "message": "没有找到标识", "status": -2, "data": None}
    r = call(node, "PUT", "/identityv2/data/batchUpdate", token, [rec, missing]).json()
    assert r["data"] == [{"handle": h, "msg": "success"}, {"handle": f"{ENT}/upd-none", "msg": "标识不存在"}]


def test_template_rules_refuse_a_record_in_chinese(snms):
    node, token = snms

    def reg(value: list) -> dict:
        return call(node, "POST", "/identityv2/data", token,
                    {"handle": f"{ENT}/bad-{time.monotonic_ns()}", "templateVersion": "1.0.1", "value": value}).json()

    def v(index, vtype, text, fmt="string"):
        return {"data": {"format": fmt, "value": text}, "index": index, "type": vtype}

    assert reg([v(1001, "TEMPLATE", "1.0")])["message"] == "非法操作，索引1001为预留索引"
    assert reg([v(2000, "name", "x")])["message"] == "非法操作，索引2000的类型必须为URL"
    assert reg([v(2005, "URL", "x")])["message"] == "非法操作，索引2005在模板中不存在"
    assert reg([v(2000, "URL", "x" * 65)])["message"] == "非法操作，索引2000的值长度不符合模板限制(64)"
    assert reg([v(2000, "URL", "eA==", "base64")])["status"] == -2
    r = call(node, "POST", "/identityv2/data", token,
             {"handle": f"{ENT}/bad-tpl", "templateVersion": "9.9", "value": [v(2000, "URL", "x")]}).json()
    assert r == {"message": f"数据模板不存在：{ENT} 9.9", "status": -2, "data": None}


# --- one identifier, every interface ----------------------------------------------------------------

def test_registered_through_snms_is_the_same_identifier_through_rest_and_the_reverse(snms, auth):
    node, token = snms
    h = f"{ENT}/both-ways"
    rec = {"handle": h, "templateVersion": "1.0.1", "value": [
        {"data": {"format": "string", "value": "https://example.com/p"}, "index": 2000, "type": "URL"}]}
    assert call(node, "POST", "/identityv2/data", token, rec).json()["status"] == 1
    rest = requests.get(node.api(h)).json()
    assert {(v["index"], v["type"], v["data"]["value"]) for v in rest["values"] if v["index"] >= 1000} == {
        (1001, "TEMPLATE", "1.0.1"), (2000, "URL", "https://example.com/p")}
    # A scanner resolves it too.
    assert requests.get(f"{node.url}/{h}", headers={"Accept": "application/json"}).json()["handle"] == h
    # The reverse: written through the Handle REST API, read and deleted through SNMS.
    h2 = f"{ENT}/rest-made"
    vals = [{"index": 1001, "type": "TEMPLATE", "data": {"format": "string", "value": "1.0.1"}},
            {"index": 2001, "type": "URL2", "data": {"format": "string", "value": "v2"}}]
    assert requests.put(node.api(h2), json={"values": vals}, headers=auth["owner"]).status_code == 201
    got = call(node, "GET", f"/identityv2/data/detail?handle={h2}", token).json()["data"]
    assert (got["templateVersion"], [(v["index"], v["data"]["value"]) for v in got["value"]]) == (
        "1.0.1", [(1001, "1.0.1"), (2001, "v2")])
    assert call(node, "DELETE", "/identityv2/data", token, {"handle": h2}).json()["status"] == 1
    assert requests.get(node.api(h2)).status_code == 404


# --- abuse ---------------------------------------------------------------------------------------------

ROUTES = [("GET", "/snms/api/v5/template?prefix=88.101.5&version=1.0"), ("POST", "/snms/api/v5/template"),
          ("PUT", "/snms/api/v5/template"), ("DELETE", "/snms/api/v3/template"),
          ("GET", "/identityv2/data/detail?handle=88.101.5/x"), ("POST", "/identityv2/data"),
          ("PUT", "/identityv2/data"), ("DELETE", "/identityv2/data"), ("POST", "/identityv2/data/batchCreate"),
          ("PUT", "/identityv2/data/batchUpdate"), ("DELETE", "/identityv2/data/batchDelete")]


@pytest.mark.parametrize("method,path", ROUTES)
def test_without_a_good_token_nothing_is_read_or_done(snms, method, path):
    node, _ = snms
    # Not even a body that is not JSON is looked at: the caller is asked who they are first.
    none = call(node, method, path, data=b"{not json")
    assert none.status_code == 200 and none.json() == {"message": "没有登录，需要验证", "status": -1, "data": None}
    bad = call(node, method, path, "idn_forged-token", data=b"{not json").json()
    assert bad == {"message": "token无效或已过期，请重新获取", "status": -1, "data": None}


def test_a_revoked_token_is_refused(snms):
    node, _ = snms
    token = login(node)
    assert requests.delete(node.url + "/api/token", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    assert call(node, "POST", "/identityv2/data/batchCreate", token, []).json()["status"] == -1


def test_another_enterprises_prefix_is_no_permission(snms):
    node, _ = snms
    other = login(node, "88.101.6")
    rec = {"handle": f"{ENT}/not-yours", "templateVersion": "1.0.1", "value": [
        {"data": {"format": "string", "value": "x"}, "index": 2000, "type": "URL"}]}
    assert call(node, "POST", "/identityv2/data", other, rec).json() == {"message": "没有权限", "status": -3, "data": None}
    r = call(node, "POST", "/identityv2/data/batchCreate", other, [rec]).json()
    assert r["data"] == [{"handle": f"{ENT}/not-yours", "msg": "没有权限"}]
    r = call(node, "DELETE", "/identityv2/data/batchDelete", other, [f"{ENT}/001"]).json()
    assert r["data"] == [{"handle": f"{ENT}/001", "code": -3, "msg": "没有权限"}]
    assert call(node, "POST", "/snms/api/v5/template", other, template("x-1", [("a", 2000)])).json()["status"] == -3
    assert requests.get(node.api(f"{ENT}/not-yours")).status_code == 404
    assert requests.get(node.api(f"{ENT}/001")).status_code == 200


def test_oversized_batches_and_bodies_and_bad_json_change_nothing(snms):
    node, token = snms
    items = [{"handle": f"{ENT}/big-{n}", "templateVersion": "1.0.1", "value": [
        {"data": {"format": "string", "value": "x"}, "index": 2000, "type": "URL"}]} for n in range(2001)]
    r = call(node, "POST", "/identityv2/data/batchCreate", token, items).json()
    assert r == {"message": "批量操作最多支持2000条，本次2001条", "status": -2, "data": None}
    assert requests.get(node.api(f"{ENT}/big-0")).status_code == 404
    r = call(node, "DELETE", "/identityv2/data/batchDelete", token, [f"{ENT}/001"] * 2001).json()
    assert r["status"] == -2 and requests.get(node.api(f"{ENT}/001")).status_code == 200
    huge = {"handle": f"{ENT}/huge", "templateVersion": "1.0.1", "value": [
        {"data": {"format": "string", "value": "x" * 300_000}, "index": 2000, "type": "URL"}]}
    assert call(node, "POST", "/identityv2/data", token, huge).json() == {
        "message": "请求体超过262144字节的限制", "status": -2, "data": None}
    for method, path in (("POST", "/identityv2/data"), ("POST", "/identityv2/data/batchCreate"),
                         ("POST", "/snms/api/v5/template"), ("POST", "/identity/token")):
        r = call(node, method, path, token, data=b'[{"handle": ').json()
        assert r == {"message": "请求体不是合法的JSON", "status": -2, "data": None}, path


def test_wrong_passwords_lock_the_identity_out_as_every_login_does(tmp_path, fresh_data):
    from tests.nodes import Node

    cfg = tmp_path / "node.toml"
    cfg.write_text("lockout_failures = 3\nlockout_window = 60\nlockout_seconds = 30\n")
    node = Node(fresh_data, "--config", str(cfg)).start()
    try:
        for path in ("/identity/token", "/identity/token/v1", "/identity/token"):
            r = call(node, "POST", path, body={"username": ENT, "password": "0" * 64}).json()
            assert r["message"] == "用户名/密码错误！"
        r = call(node, "POST", "/identity/token", body={"username": ENT, "password": ENTERPRISES[ENT]})
        assert r.json()["status"] == -2 and r.json()["message"].startswith("登录失败次数过多"), r.text
        assert int(r.headers["Retry-After"]) > 0
        # The same lock-out holds over the node's own API, and the attempts are in the audit trail.
        assert requests.post(node.url + "/api/token", json={"identity": f"300:0.NA/{ENT}",
                                                             "secret": ENTERPRISES[ENT]}).status_code == 429
        admin = {"Authorization": "Basic " + __import__("base64").b64encode(
            b"300%3A0.NA/88.101:node-admin-secret").decode()}
        audit = requests.get(f"{node.url}/api/audit", params={"op": "issue_token", "result": "denied"},
                             headers=admin).json()
        assert len(audit["entries"]) >= 4, audit
    finally:
        node.stop()


def test_the_template_delete_example_last(snms):
    """Last: the identifier tests above use the template it deletes."""
    node, token = snms
    replay(node, "template_delete", token)
    r = call(node, "DELETE", "/snms/api/v5/template", token, EXAMPLES["template_delete"]["body"]).json()
    assert r == {"message": "数据模板不存在", "status": -2, "data": None}


def test_a_batch_through_snms_resolves_over_the_handle_protocol_and_traces(fresh_data):
    from protocol.codes import RC
    from tests import handle_nodes as hn
    from tests.test_epcis import doc
    from tests.test_trace import obj

    node = hn.start(fresh_data)
    try:
        token = login(node)
        assert call(node, "POST", "/snms/api/v5/template", token, template("p-1", [("serial", 2000)])).json()[
            "status"] == 1
        items = [{"handle": f"{ENT}/SN-{n}", "templateVersion": "p-1", "value": [
            {"data": {"format": "string", "value": f"S{n}"}, "index": 2000, "type": "serial"}]} for n in range(3)]
        r = call(node, "POST", "/identityv2/data/batchCreate", token, items).json()
        assert [i["msg"] for i in r["data"]] == ["success"] * 3
        ans = hn.client(node).resolve(f"{ENT}/SN-1", udp=True)
        assert ans.rc == RC.SUCCESS
        assert {(v.index, v.type, v.data) for v in ans.body.values if v.index >= 1000} == {
            (1001, "TEMPLATE", b"p-1"), (2000, "serial", b"S1")}
        # The identifier's lifecycle events trace as any other identifier's.
        r = requests.post(f"{node.url}/api/events", json=doc(obj("2026-01-01T08:00:00", [f"{ENT}/SN-1"], "shipping")),
                          headers={"Authorization": f"Bearer {token}"})
        assert r.status_code in (200, 201), r.text
        t = requests.get(f"{node.url}/api/trace/{ENT}/SN-1").json()
        assert [e["bizStep"] for e in t["timeline"]] == ["shipping"]
    finally:
        node.stop()


def test_an_expired_token_is_refused_and_an_snms_token_lives_24_hours(fresh_data, tmp_path):
    from resolver.service.tokens import digest
    from storage import Store
    from tests.nodes import Node, basic

    cfg = tmp_path / "node.toml"
    cfg.write_text("token_lifetime = 1\n")  # the node's own tokens (POST /api/token); SNMS keeps its 24 h
    node = Node(fresh_data, "--config", str(cfg)).start()
    try:
        short = requests.post(f"{node.url}/api/token", headers={
            "Authorization": basic(f"300:0.NA/{ENT}", ENTERPRISES[ENT])}).json()["token"]
        snms_token = login(node)
        time.sleep(1.2)
        r = call(node, "GET", f"/identityv2/data/detail?handle={ENT}/x", short).json()
        assert r == {"message": "token无效或已过期，请重新获取", "status": -1, "data": None}
        assert call(node, "GET", f"/identityv2/data/detail?handle={ENT}/x", snms_token).json()["message"] == "没有找到标识"
    finally:
        node.stop()
    store = Store(fresh_data)
    try:
        with store.read() as tx:
            rec = tx.get_token(digest(snms_token))
    finally:
        store.close()
    assert rec["expires"] - rec["issued"] == 24 * 3600


def test_a_template_made_through_v3_is_the_nodes_template_and_v5s(snms):
    node, token = snms
    body = {k: v for k, v in template("v3-made", [("color", 0), ("size", 0)]).items()}
    body["items"] = [{k: v for k, v in i.items() if k != "idIndex"} for i in body["items"]]
    assert call(node, "POST", "/snms/api/v3/template", token, body).json()["status"] == 1
    own = requests.get(f"{node.url}/api/templates/{ENT}/v3-made").json()
    assert [(f["type"], f["index"]) for f in own["fields"]] == [("color", 2000), ("size", 2001)]
    v5 = call(node, "GET", f"/snms/api/v5/template?prefix={ENT}&version=v3-made", token).json()["data"]
    assert [(i["idType"], i["idIndex"], i["state"]) for i in v5["items"]] == [("color", 2000, 1), ("size", 2001, 1)]
    # v3 has no PUT: the route answers 405, as an unknown method does.
    assert call(node, "PUT", "/snms/api/v3/template", token, body).status_code == 405


def test_a_login_body_is_read_no_further_than_its_limit_even_unannounced(shared_node):
    """A chunked body (no Content-Length) before anyone is authenticated: the node stops at 4 KiB."""
    def chunks():
        for _ in range(64):  # 1 MiB, announced nowhere
            yield b"x" * 16384

    r = requests.post(shared_node.url + "/identity/token", data=chunks(),
                      headers={"Content-Type": "application/json"}, timeout=30)
    assert r.json() == {"message": "请求体超过4096字节的限制", "status": -2, "data": None}


def test_the_routes_are_counted_as_one_operation(snms):
    node, token = snms
    call(node, "GET", f"/identityv2/data/detail?handle={ENT}/001", token)
    text = requests.get(node.url + "/metrics").text
    assert 'operation="snms"' in text
