"""The web console over HTTP, as a browser would use it: sign-in through the API's authentication, a
session cookie that sign-out, secret rotation and prefix disabling end, CSRF tokens on every form, and
an enterprise's and an operator's work done through the service's own operations."""

from __future__ import annotations

import html
import re
import uuid

import pytest
import requests

from tests.nodes import ADMIN_SECRET, NODE_PREFIX, basic

ADMIN_ID = f"300:0.NA/{NODE_PREFIX}"
ADMIN = {"Authorization": basic(ADMIN_ID, ADMIN_SECRET)}


def csrf_of(page: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', page)[1]


def sign_in(node, identity: str, secret: str) -> requests.Session:
    s = requests.Session()
    form = s.get(f"{node.url}/console/signin")
    r = s.post(f"{node.url}/console/signin", data={"identity": identity, "secret": secret,
                                                   "csrf": csrf_of(form.text)}, allow_redirects=False)
    assert r.status_code == 303, r.text
    return s


@pytest.fixture(scope="module")
def ent(shared_node):
    """An enterprise of its own (its secret is rotated and its prefix disabled below) with a template."""
    prefix = f"88.101.{700}{uuid.uuid4().int % 10**6:06d}"
    secret = "console-secret-1"
    r = requests.post(f"{shared_node.url}/api/prefixes", headers=ADMIN,
                      json={"prefix": prefix, "secret": secret, "owner": {"name": "控制台测试企业"}})
    assert r.status_code == 201, r.text
    owner = {"Authorization": basic(f"300:0.NA/{prefix}", secret)}
    r = requests.post(f"{shared_node.url}/api/templates", headers=owner, json={
        "prefix": prefix, "version": "v1", "name": "电机", "fields": [
            {"name": "产品名称", "type": "productName", "index": 2001, "required": True},
            {"name": "功率", "type": "power", "index": 2002, "constraints": {"datatype": "integer"}}]})
    assert r.status_code == 201, r.text
    return {"node": shared_node, "prefix": prefix, "id": f"300:0.NA/{prefix}", "secret": secret, "owner": owner}


def test_sign_in_sets_a_strict_http_only_session_cookie(ent):
    node = ent["node"]
    assert requests.get(f"{node.url}/", allow_redirects=False).headers["Location"] == "/console/"
    r = requests.get(f"{node.url}/console/", allow_redirects=False)
    assert r.status_code == 303 and r.headers["Location"] == "/console/signin"
    s = requests.Session()
    form = s.get(f"{node.url}/console/signin")
    assert "登录" in form.text
    r = s.post(f"{node.url}/console/signin", data={"identity": ent["id"], "secret": ent["secret"],
                                                   "csrf": csrf_of(form.text)}, allow_redirects=False)
    cookie = r.headers["Set-Cookie"]
    assert r.status_code == 303 and "idn_console=idn_" in cookie
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/console" in cookie
    assert "Secure" not in cookie  # plain HTTP (loopback); Secure when the node serves TLS
    page = s.get(f"{node.url}/console/")
    assert page.url.endswith(f"/console/p/{ent['prefix']}/handles") and ent["id"] in page.text
    assert "企业名称" in page.text and "控制台测试企业" in page.text  # its prefix's owner details


def test_a_wrong_secret_is_refused_and_audited_as_the_api_does(ent):
    node = ent["node"]
    s = requests.Session()
    form = s.get(f"{node.url}/console/signin")
    r = s.post(f"{node.url}/console/signin", data={"identity": ent["id"], "secret": "wrong-wrong",
                                                   "csrf": csrf_of(form.text)}, allow_redirects=False)
    assert r.status_code == 401 and "authentication failed" in html.unescape(r.text)
    assert "idn_console=" not in r.headers.get("Set-Cookie", "").replace("idn_console_pre", "")
    trail = requests.get(f"{node.url}/api/audit", params={"identity": ent["id"], "result": "denied", "order": "desc"},
                         headers=ADMIN).json()
    assert any(e.get("protocol") == "console" for e in trail["entries"]), trail


def test_sign_in_without_the_forms_csrf_token_is_refused(ent):
    node = ent["node"]
    s = requests.Session()
    s.get(f"{node.url}/console/signin")
    r = s.post(f"{node.url}/console/signin", data={"identity": ent["id"], "secret": ent["secret"]},
               allow_redirects=False)
    assert r.status_code == 403 and "idn_console=idn_" not in r.headers.get("Set-Cookie", "")


def test_register_from_the_template_form_and_csrf_refusal(ent):
    node, prefix = ent["node"], ent["prefix"]
    s = sign_in(node, ent["id"], ent["secret"])
    form = s.get(f"{node.url}/console/p/{prefix}/register", params={"template": "v1"})
    assert "产品名称" in form.text and 'name="f2001"' in form.text and 'type="number"' in form.text
    data = {"template": "v1", "suffix": "Motor-1", "f2001": "伺服电机", "f2002": "750"}
    r = s.post(f"{node.url}/console/p/{prefix}/register", data=data, allow_redirects=False)
    assert r.status_code == 403 and "CSRF" in r.text
    assert requests.get(node.api(f"{prefix}/Motor-1")).status_code == 404  # nothing happened
    r = s.post(f"{node.url}/console/p/{prefix}/register", data={**data, "csrf": "forged"}, allow_redirects=False)
    assert r.status_code == 403
    r = s.post(f"{node.url}/console/p/{prefix}/register", data={**data, "csrf": csrf_of(form.text)})
    assert r.status_code == 200 and "伺服电机" in r.text
    values = {v["index"]: v["data"]["value"] for v in requests.get(node.api(f"{prefix}/Motor-1")).json()["values"]}
    assert values[2001] == "伺服电机" and values[2002] == "750" and values[1001] == "v1"
    # the template's check is the service's: a power that is no integer is refused, with its reason
    r = s.post(f"{node.url}/console/p/{prefix}/register", data={**data, "suffix": "Motor-2", "f2002": "much",
                                                                 "csrf": csrf_of(form.text)})
    assert r.status_code == 400 and "integer" in html.unescape(r.text), html.unescape(r.text)[-800:]
    listing = s.get(f"{node.url}/console/p/{prefix}/handles", params={"q": "motor"})
    assert f"{prefix}/Motor-1" in listing.text and f"{prefix}/Motor-2" not in listing.text


def test_an_enterprise_cannot_act_for_another(ent):
    node = ent["node"]
    s = sign_in(node, ent["id"], ent["secret"])
    assert s.get(f"{node.url}/console/p/88.101.5/handles").status_code == 403
    assert s.get(f"{node.url}/console/admin/audit").status_code == 403
    mine = s.get(f"{node.url}/console/admin/prefixes")  # the service lists an enterprise its own prefix only
    assert ent["prefix"] in mine.text and "88.101.5<" not in mine.text
    r = s.post(f"{node.url}/console/admin/prefixes", data={"csrf": csrf_of(mine.text), "name": "x"})
    assert r.status_code == 403 and "only the node admin" in html.unescape(r.text)


def test_batch_upload_reports_refused_rows(ent):
    node, prefix = ent["node"], ent["prefix"]
    s = sign_in(node, ent["id"], ent["secret"])
    page = s.get(f"{node.url}/console/p/{prefix}/batch")
    csv_text = "suffix,产品名称,功率\nB-1,电机一,100\nB-2,,200\nB-3,电机三,abc\nB-4,电机四\nB-5,电机五,500\n"
    r = s.post(f"{node.url}/console/p/{prefix}/batch", data={"csrf": csrf_of(page.text), "template": "v1"},
               files={"file": ("rows.csv", csv_text.encode("gb18030"), "text/csv")})
    text = html.unescape(r.text)
    assert r.status_code == 200 and "完成：共 5 行，成功 2，拒绝 3。" in text, text[-2000:]
    assert "已处理 5 / 5" in text
    report = re.search(r'href="data:text/csv;charset=utf-8;base64,([^"]+)"', r.text)[1]
    import base64

    rows = base64.b64decode(report).decode("utf-8-sig").splitlines()
    assert rows[0] == "row,handle,reason" and [x.split(",")[0] for x in rows[1:]] == ["3", "4", "5"]
    for suffix, status in (("B-1", 200), ("B-2", 404), ("B-5", 200)):
        assert requests.get(node.api(f"{prefix}/{suffix}")).status_code == status
    r = s.post(f"{node.url}/console/p/{prefix}/batch", data={"template": "v1"},
               files={"file": ("rows.csv", b"suffix\nX\n", "text/csv")})
    assert r.status_code == 403  # no CSRF token: refused before the file is read


def test_templates_create_and_edit(ent):
    node, prefix = ent["node"], ent["prefix"]
    s = sign_in(node, ent["id"], ent["secret"])
    page = s.get(f"{node.url}/console/p/{prefix}/templates/new")
    r = s.post(f"{node.url}/console/p/{prefix}/templates", data={
        "csrf": csrf_of(page.text), "version": "v2", "name": "泵", "editing": "0",
        "fields": "型号 | model | 2001 | required | string"})
    assert r.status_code == 200 and "v2" in r.text
    page = s.get(f"{node.url}/console/p/{prefix}/templates/v2")
    assert "型号 | model | 2001 | required | string" in page.text
    r = s.post(f"{node.url}/console/p/{prefix}/templates", data={
        "csrf": csrf_of(page.text), "version": "v2", "name": "泵", "editing": "1",
        "fields": "型号 | model | 2001 | required | string\n流量 | flow | 2002 | optional | number"})
    assert r.status_code == 200
    tpl = requests.get(f"{node.url}/api/templates/{prefix}/v2").json()
    assert [f["name"] for f in tpl["fields"]] == ["型号", "流量"] and tpl["revisedBy"] == ent["id"]


def test_sign_out_ends_the_session(ent):
    node = ent["node"]
    s = sign_in(node, ent["id"], ent["secret"])
    token = s.cookies["idn_console"]
    page = s.get(f"{node.url}/console/")
    r = s.post(f"{node.url}/console/signout", data={"csrf": csrf_of(page.text)}, allow_redirects=False)
    assert r.status_code == 303
    again = requests.get(f"{node.url}/console/", cookies={"idn_console": token}, allow_redirects=False)
    assert again.status_code == 303 and "signin" in again.headers["Location"]


def test_rotating_the_secret_and_disabling_the_prefix_end_sessions(ent):
    node, prefix = ent["node"], ent["prefix"]
    s = sign_in(node, ent["id"], ent["secret"])
    assert s.get(f"{node.url}/console/p/{prefix}/handles").status_code == 200
    r = requests.post(f"{node.url}/api/prefixes/{prefix}/secret", headers=ADMIN, json={"secret": "console-secret-2"})
    assert r.status_code == 200, r.text
    r = s.get(f"{node.url}/console/p/{prefix}/handles", allow_redirects=False)
    assert r.status_code == 303 and "ended" in r.headers["Location"]
    ent["secret"] = "console-secret-2"
    s = sign_in(node, ent["id"], ent["secret"])
    assert requests.post(f"{node.url}/api/prefixes/{prefix}/disable", headers=ADMIN).status_code == 200
    r = s.get(f"{node.url}/console/p/{prefix}/handles", allow_redirects=False)
    assert r.status_code == 303
    assert requests.post(f"{node.url}/api/prefixes/{prefix}/enable", headers=ADMIN).status_code == 200


def test_operator_allocates_a_prefix_reads_the_audit_trail_and_revokes_a_token(shared_node):
    node = shared_node
    s = sign_in(node, ADMIN_ID, ADMIN_SECRET)
    page = s.get(f"{node.url}/console/")
    assert page.url.endswith("/console/admin/prefixes")
    wanted = f"88.101.{900}{uuid.uuid4().int % 10**6:06d}"
    r = s.post(f"{node.url}/console/admin/prefixes", data={"csrf": csrf_of(page.text), "prefix": wanted,
                                                            "name": "新分配企业"})
    text = html.unescape(r.text)
    assert r.status_code == 200 and f"已分配前缀 {wanted}" in text and "新分配企业" in text
    secret = re.search(r"<code>([^<]+)</code>", r.text)[1]
    assert requests.get(f"{node.url}/api/prefixes/{wanted}",
                        headers={"Authorization": basic(f"300:0.NA/{wanted}", html.unescape(secret))}).status_code == 200
    audit = s.get(f"{node.url}/console/admin/audit", params={"op": "allocate_prefix", "prefix": wanted})
    assert audit.status_code == 200 and wanted in audit.text and "console" in audit.text
    # a token issued through the API, revoked at the console: it stops working at once
    token = requests.post(f"{node.url}/api/token", headers={"Authorization": basic("300:0.NA/88.101.5",
                                                                                  "acme-secret-5")}).json()["token"]
    bearer = {"Authorization": f"Bearer {token}"}
    assert requests.get(f"{node.url}/api/prefixes/88.101.5", headers=bearer).status_code == 200
    tokens = s.get(f"{node.url}/console/admin/tokens")
    row = next(r for r in tokens.text.split("<tr>") if "300:0.NA/88.101.5<" in r)
    r = s.post(f"{node.url}/console/admin/tokens", data={"csrf": csrf_of(tokens.text),
                                                          "id": re.search(r'name="id" value="([0-9a-f]{16})"', row)[1]})
    assert r.status_code == 200 and "已吊销令牌" in html.unescape(r.text)
    assert requests.get(f"{node.url}/api/prefixes/88.101.5", headers=bearer).status_code == 401
    lock = s.get(f"{node.url}/console/admin/lockouts")
    r = s.post(f"{node.url}/console/admin/lockouts", data={"csrf": csrf_of(lock.text), "kind": "identity",
                                                            "target": "300:0.NA/88.101.5"})
    assert r.status_code == 200 and "已解除 300:0.NA/88.101.5 的锁定" in html.unescape(r.text)


def test_view_and_delete_an_identifier(ent):
    node, prefix = ent["node"], ent["prefix"]
    handle = f"{prefix}/DEL-1"
    owner = {"Authorization": basic(ent["id"], ent["secret"])}  # the secret as it is now (rotated above)
    r = requests.put(node.api(handle), headers=owner, json={"values": [
        {"index": 1001, "type": "TEMPLATE", "data": "v1"}, {"index": 2001, "type": "productName", "data": "待删除"}]})
    assert r.status_code == 201, r.text
    s = sign_in(node, ent["id"], ent["secret"])
    page = s.get(f"{node.url}/console/h/{handle}")
    assert page.status_code == 200 and "待删除" in page.text and "HS_ADMIN" in page.text  # its admin sees all
    assert "<svg" in page.text  # the label's QR code
    r = s.post(f"{node.url}/console/delete", data={"handle": handle})
    assert r.status_code == 403 and requests.get(node.api(handle)).status_code == 200
    r = s.post(f"{node.url}/console/delete", data={"handle": handle, "csrf": csrf_of(page.text)})
    assert r.status_code == 200 and f"已删除 {handle}" in html.unescape(r.text)
    assert requests.get(node.api(handle)).status_code == 404


def test_bodies_are_bounded_before_they_are_read(ent):
    """An anonymous sign-in, or a form, that does not say its length or says too much is refused unread."""
    node = ent["node"]

    def trickle():
        yield b"identity=300%3A0.NA%2F88.101.5&secret="
        yield b"x" * 100

    r = requests.post(f"{node.url}/console/signin", data=trickle(),
                      headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 411
    r = requests.post(f"{node.url}/console/signin", data={"identity": "x", "secret": "y" * 70_000})
    assert r.status_code == 413
    # what the fuzzer sent (tests/test_schemathesis.py): a multipart type with no boundary was a 500
    r = requests.post(f"{node.url}/console/signin", data=b"csrf=&identity=&secret=",
                      headers={"Content-Type": "multipart/form-data"})
    assert r.status_code == 415


def test_pages_forbid_scripts_framing_and_foreign_assets(ent):
    node = ent["node"]
    for path in ("/console/signin", "/88.101.5/NO-SUCH?noredirect"):
        r = requests.get(node.url + path)
        csp = r.headers["Content-Security-Policy"]
        assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp and "script-src" not in csp, path
    r = requests.get(f"{node.url}/console/signin", params={"lang": "en"})
    assert "Sign in" in r.text and "idn_lang=en" in r.headers["Set-Cookie"]
    r = requests.get(f"{node.url}/console/signin", cookies={"idn_lang": "en"})
    assert "Sign in" in r.text  # the choice holds on the next pages
