"""The pages a consumer's phone shows after a scan: the record page (``/{handle}?noredirect``) and the
trace page (``/trace/{id}``), Chinese by default and English by the browser's language or ``?lang=``,
with the template's field names, times in the event's own zone, the CBV words translated, identifiers
as registered, the enterprise's name, the label's QR code, and nothing an outsider cannot use."""

from __future__ import annotations

import html
import re

import pytest
import requests

from tests.nodes import ADMIN_SECRET, NODE_PREFIX, basic

PREFIX = "88.101.77"
SECRET = "shop-secret-77"
ITEM = f"{PREFIX}/CASE-9"
EVIL = f"{PREFIX}/EVIL-1"
OWNER_NAME = "示例机械有限公司"
ADMIN = {"Authorization": basic(f"300:0.NA/{NODE_PREFIX}", ADMIN_SECRET)}
OWNER = {"Authorization": basic(f"300:0.NA/{PREFIX}", SECRET)}
ZH = {"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"}
EN = {"Accept-Language": "en-US,en;q=0.9"}
INTERNALS = ("HS_ADMIN", "HS_SECKEY", "administered by", "#100", "1001", "2001", "300:0.NA", "TEMPLATE")


def v(index: int, vtype: str, data: str) -> dict:
    return {"index": index, "type": vtype, "data": {"format": "string", "value": data}}


def event(when: str, step: str, disp: str, **extra) -> dict:
    return {"type": "ObjectEvent", "eventTime": f"{when}+08:00", "eventTimeZoneOffset": "+08:00", "action": "OBSERVE",
            "epcList": [ITEM], "bizStep": step, "disposition": disp, **extra}


@pytest.fixture(scope="module")
def shop(shared_node):
    url = shared_node.url
    r = requests.post(f"{url}/api/prefixes", json={"prefix": PREFIX, "secret": SECRET,
                                                  "owner": {"name": OWNER_NAME}}, headers=ADMIN)
    assert r.status_code == 201, r.text
    r = requests.post(f"{url}/api/templates", json={"prefix": PREFIX, "version": "case", "fields": [
        {"name": "产品名称", "type": "productName", "index": 2001, "required": True},
        {"name": "批号", "type": "lot", "index": 2002}]}, headers=OWNER)
    assert r.status_code == 201, r.text
    r = requests.put(shared_node.api(ITEM), json={"values": [
        v(1001, "TEMPLATE", "case"), v(2001, "productName", "齿轮电机 GM-42"), v(2002, "lot", "L-2026-03")]},
        headers=OWNER)
    assert r.status_code == 201, r.text
    r = requests.put(shared_node.api(EVIL), json={"values": [
        v(2001, "note", "<script>alert('x')</script>"), v(2002, "<img src=x onerror=alert(1)>", "fine")]},
        headers=OWNER)
    assert r.status_code == 201, r.text
    r = requests.post(f"{url}/api/events", headers=OWNER, json={
        "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"], "type": "EPCISDocument",
        "schemaVersion": "2.0", "creationDate": "2026-03-02T08:00:00Z", "epcisBody": {"eventList": [
            event("2026-03-02T16:00:00", "commissioning", "active"),
            event("2026-03-03T09:30:00", "shipping", "in_transit")]}})
    assert r.status_code == 201, r.text
    return shared_node


def page(node, path: str, headers: dict | None = None, **params) -> tuple[requests.Response, str]:
    r = requests.get(node.url + path, params=params, headers=headers or {}, allow_redirects=False)
    return r, html.unescape(r.text)


def shown(text: str) -> str:
    """The text a reader sees: tags and attribute values left out."""
    return html.unescape(re.sub(r"<[^>]*>", " ", text))


def test_record_page_is_chinese_by_default_with_field_names_and_local_times(shop):
    r, text = page(shop, f"/{PREFIX}/case-9", noredirect="")  # asked for in lower case
    assert r.status_code == 200 and r.headers["Content-Language"] == "zh-CN" and 'lang="zh-CN"' in r.text
    seen = shown(r.text)
    assert ITEM in seen and f"{PREFIX}/case-9" not in seen  # as registered
    assert f"企业：{OWNER_NAME}" in seen
    assert "产品名称" in seen and "齿轮电机 GM-42" in seen and "批号" in seen and "L-2026-03" in seen
    assert "生命周期" in seen and "赋码登记" in seen and "发货" in seen and "运输中" in seen
    assert "2026年3月2日 16:00（UTC+08:00）" in seen and "2026年3月3日 09:30（UTC+08:00）" in seen
    assert "Z" not in re.sub(r"[^\dTZ:.-]", " ", seen).split()  # no raw ISO time in UTC
    assert '<svg' in r.text and f"{shop.url}/{ITEM}" in r.text  # the label's QR code, inline, for this node
    for word in INTERNALS:
        assert word not in seen, word


def test_record_page_in_english_by_accept_language_and_by_lang_parameter(shop):
    for headers, params in ((EN, {}), (ZH, {"lang": "en"})):
        r, _ = page(shop, f"/{ITEM}", headers, noredirect="", **params)
        seen = shown(r.text)
        assert r.headers["Content-Language"] == "en", (headers, params)
        assert "Lifecycle" in seen and "Commissioned" in seen and "Shipped" in seen and "in transit" in seen
        assert "2 Mar 2026, 16:00 (UTC+08:00)" in seen and f"Enterprise：{OWNER_NAME}" in seen
        assert "产品名称" in seen  # the template's own field names, as the enterprise wrote them
    r, _ = page(shop, f"/{ITEM}", EN, noredirect="", lang="zh")
    assert "生命周期" in shown(r.text)
    r, _ = page(shop, f"/{ITEM}", {"Accept-Language": "fr-FR,en;q=0.5,zh;q=0.8"}, noredirect="")
    assert "生命周期" in shown(r.text)  # zh preferred over en by q


def test_trace_page_in_both_languages(shop):
    r, _ = page(shop, f"/trace/{PREFIX}/case-9")
    seen = shown(r.text)
    assert r.status_code == 200 and "当前状态" in seen and "运输中" in seen and ITEM in seen
    assert "hdl:" not in seen and f"{PREFIX}/case-9" not in seen
    assert seen.index("赋码登记") < seen.index("发货")
    assert "2026年3月3日 09:30（UTC+08:00）" in seen and OWNER_NAME in seen and "产品名称" in seen
    r, _ = page(shop, f"/trace/{ITEM}", EN)
    seen = shown(r.text)
    assert "Current state" in seen and "Disposition" in seen and "in transit" in seen and "Shipped" in seen
    for word in INTERNALS:
        assert word not in seen, word


def test_values_are_escaped_never_run(shop):
    r, _ = page(shop, f"/{EVIL}", noredirect="")
    assert r.status_code == 200
    assert "<script>" not in r.text and "<img src=x" not in r.text
    assert "&lt;script&gt;alert(" in r.text and "&lt;img src=x onerror=alert(1)&gt;" in r.text


def test_one_small_page_with_no_external_assets(shop):
    for path in (f"/{ITEM}?noredirect", f"/trace/{ITEM}"):
        r = requests.get(shop.url + path)
        assert len(r.content) < 30_000, path
        assert "<script" not in r.text and "<link" not in r.text, path
        assert not re.search(r'src="(?!data:)', r.text), path


def test_an_unknown_handle_is_a_readable_page_in_the_readers_language(shop):
    r, _ = page(shop, f"/{PREFIX}/NO-SUCH", noredirect="")
    assert r.status_code == 404 and "无法显示该标识" in shown(r.text)
    r, _ = page(shop, f"/{PREFIX}/NO-SUCH", EN, noredirect="")
    assert r.status_code == 404 and "This identifier cannot be shown" in shown(r.text)
