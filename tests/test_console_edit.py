"""Editing a registered identifier in the console: the template's form filled with its values, written
as the API's indexed PUT and DELETE with If-Match, so that the service's checks, permissions and
conflict detection apply unchanged."""

from __future__ import annotations

import html
import re

import requests

from tests.test_console import csrf_of, ent, sign_in  # noqa: F401 (ent is the module's enterprise fixture)


def values_of(node, handle: str) -> dict[int, str]:
    r = requests.get(node.api(handle))
    return {v["index"]: v["data"]["value"] for v in r.json()["values"]}


def test_an_identifier_is_edited_through_its_templates_form(ent):  # noqa: F811
    node, prefix = ent["node"], ent["prefix"]
    handle = f"{prefix}/EDIT-1"
    assert requests.put(node.api(handle), headers=ent["owner"], json={"values": [
        {"index": 1, "type": "URL", "data": "https://example.com/old"},
        {"index": 1001, "type": "TEMPLATE", "data": "v1"}, {"index": 2001, "type": "productName", "data": "旧名"},
        {"index": 5, "type": "DESC", "data": "not in the form"}]}).status_code == 201
    s = sign_in(node, ent["id"], ent["secret"])
    page = s.get(f"{node.url}/console/e/{handle}")
    assert page.status_code == 200 and 'value="旧名"' in page.text and 'value="https://example.com/old"' in page.text
    version = re.search(r'name="version" value="([^"]+)"', page.text)[1]
    r = s.post(f"{node.url}/console/e/{handle}", data={"csrf": csrf_of(page.text), "version": version,
                                                         "url": "", "f2001": "新名", "f2002": "750"},
               allow_redirects=False)
    assert r.status_code == 303 and r.headers["Location"] == f"/console/h/{handle}?edited=1"
    got = values_of(node, handle)
    assert got[2001] == "新名" and got[2002] == "750" and 1 not in got and got[5] == "not in the form"
    # the template's constraint is the service's: a power that is not an integer is refused, nothing changes
    page = s.get(f"{node.url}/console/e/{handle}")
    version = re.search(r'name="version" value="([^"]+)"', page.text)[1]
    r = s.post(f"{node.url}/console/e/{handle}", data={"csrf": csrf_of(page.text), "version": version,
                                                         "f2001": "新名", "f2002": "lots"})
    assert r.status_code == 400 and "填写的内容不正确" in html.unescape(r.text)
    assert values_of(node, handle)[2002] == "750"
    # changed by someone else after the form was read: refused, not merged
    assert requests.put(node.api(handle) + "?index=2001", headers=ent["owner"], json={"values": [
        {"index": 2001, "type": "productName", "data": "别人改的"}]}).status_code in (200, 201, 204)
    r = s.post(f"{node.url}/console/e/{handle}", data={"csrf": csrf_of(page.text), "version": version,
                                                         "f2001": "我的", "f2002": "750"})
    assert r.status_code == 412 and "数据已被他人修改，请刷新后重试" in html.unescape(r.text)
    assert values_of(node, handle)[2001] == "别人改的"


def test_an_edit_is_refused_without_the_csrf_token_or_on_another_prefix(ent):  # noqa: F811
    node, prefix = ent["node"], ent["prefix"]
    handle = f"{prefix}/EDIT-2"
    assert requests.put(node.api(handle), headers=ent["owner"], json={"values": [
        {"index": 1001, "type": "TEMPLATE", "data": "v1"}, {"index": 2001, "type": "productName", "data": "甲"}]
    }).status_code == 201
    s = sign_in(node, ent["id"], ent["secret"])
    page = s.get(f"{node.url}/console/e/{handle}")
    version = re.search(r'name="version" value="([^"]+)"', page.text)[1]
    r = s.post(f"{node.url}/console/e/{handle}", data={"csrf": "forged", "version": version, "f2001": "乙"})
    assert r.status_code == 403 and values_of(node, handle)[2001] == "甲"
    r = s.post(f"{node.url}/console/e/88.101.5/ANY", data={"csrf": csrf_of(page.text), "version": "x",
                                                             "f2001": "乙"})
    assert r.status_code in (403, 404)


def test_a_template_version_is_retired_by_its_prefixs_administrator_only(ent):  # noqa: F811
    node, prefix = ent["node"], ent["prefix"]
    assert requests.post(f"{node.url}/api/templates", headers=ent["owner"], json={
        "prefix": prefix, "version": "old", "name": "旧模板", "fields": [
            {"name": "产品名称", "type": "productName", "index": 2001, "required": True}]}).status_code == 201
    s = sign_in(node, ent["id"], ent["secret"])
    page = s.get(f"{node.url}/console/p/{prefix}/templates/old")
    assert 'id="retire"' in page.text and "停用此版本" in page.text
    r = s.post(f"{node.url}/console/p/{prefix}/templates/old/retire", data={"csrf": "forged"})
    assert r.status_code == 403
    assert requests.get(f"{node.url}/api/templates/{prefix}/old").status_code == 200
    r = s.post(f"{node.url}/console/p/88.101.5/templates/v1/retire", data={"csrf": csrf_of(page.text)})
    assert r.status_code == 403  # another prefix's: the service's rule
    r = s.post(f"{node.url}/console/p/{prefix}/templates/old/retire", data={"csrf": csrf_of(page.text)},
               allow_redirects=False)
    assert r.status_code == 303 and r.headers["Location"] == f"/console/p/{prefix}/templates?retired=old"
    assert requests.get(f"{node.url}/api/templates/{prefix}/old").status_code == 404
    # no longer offered for new identifiers
    assert "旧模板" not in s.get(f"{node.url}/console/p/{prefix}/register").text


def test_the_record_page_names_its_template_fields_and_gs1_key(ent):  # noqa: F811
    node, prefix = ent["node"], ent["prefix"]
    handle = f"{prefix}/VIEW-1"
    assert requests.post(f"{node.url}/api/templates", headers=ent["owner"], json={
        "prefix": prefix, "version": "gs", "name": "带 GS1", "fields": [
            {"name": "产品名称", "type": "productName", "index": 2001, "required": True},
            {"name": "GS1 代码", "type": "GS1", "index": 2010}]}).status_code == 201
    r = requests.put(node.api(handle), headers=ent["owner"], json={"values": [
        {"index": 1001, "type": "TEMPLATE", "data": "gs"}, {"index": 2001, "type": "productName", "data": "电机 A"},
        {"index": 2010, "type": "GS1", "data": "(01)09506000134352(21)VIEW1"}]})
    assert r.status_code == 201, r.text
    s = sign_in(node, ent["id"], ent["secret"])
    text = html.unescape(s.get(f"{node.url}/console/h/{handle}").text)
    summary = re.search(r'<div class="card" id="record-summary">.*?</div>', text, re.S)[0]
    assert ">gs</a>" in summary and "(01)09506000134352(21)VIEW1" in summary
    assert "产品名称 <span class=\"meta\">productName</span>" in text and "<svg" in text  # the label's QR code
