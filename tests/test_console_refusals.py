"""The service's refusals as the pages show them: translated through the one catalogue (the refusal's
kind, else its Handle response code), the service's own message kept as the detail, and escaped."""

from __future__ import annotations

import html
import re

import requests

from protocol import refusals
from protocol.codes import _HTTP_STATUS, RC, HandleError
from resolver.http.console.i18n import REFUSAL_CODES, REFUSAL_KINDS, Catalogue
from tests.test_console import csrf_of, ent, sign_in  # noqa: F401 (ent is the module's enterprise fixture)


def test_every_refusal_kind_and_response_code_has_both_languages():
    kinds = {k for k in vars(refusals).values()
             if isinstance(k, type) and issubclass(k, HandleError) and k.__module__ == refusals.__name__
             and not k.__name__.startswith("_")}
    names = {k.__name__ for k in kinds}
    assert names and names <= set(REFUSAL_KINDS), names - set(REFUSAL_KINDS)
    wanted = set(_HTTP_STATUS) - {RC.SUCCESS, RC.VALUES_NOT_FOUND}  # the codes a REST client is refused with
    assert wanted <= set(REFUSAL_CODES), wanted - set(REFUSAL_CODES)
    err = refusals.Conflict(RC.INVALID_VALUE, "prefix 88.1 still holds 3 handles", field="prefix")
    zh, en = Catalogue("zh").refusal(err), Catalogue("en").refusal(err)
    assert zh == "与节点现有数据冲突（字段 prefix）。详情：prefix 88.1 still holds 3 handles"
    assert en == "It conflicts with what the node holds: prefix 88.1 still holds 3 handles"
    assert Catalogue("zh").refusal(HandleError(RC.SERVICE_REFERRAL, "elsewhere")) == "elsewhere"  # no entry


def test_a_refused_registration_is_worded_in_the_pages_language(ent):  # noqa: F811
    node, prefix = ent["node"], ent["prefix"]
    assert requests.put(node.api(f"{prefix}/TAKEN-1"), headers=ent["owner"], json={"values": [
        {"index": 2001, "type": "productName", "data": "甲"}]}).status_code == 201
    s = sign_in(node, ent["id"], ent["secret"])
    for lang, words in (("zh", "该标识已存在"), ("en", "It already exists")):
        page = s.get(f"{node.url}/console/p/{prefix}/register?template=v1&lang={lang}")
        r = s.post(f"{node.url}/console/p/{prefix}/register", data={
            "csrf": csrf_of(page.text), "template": "v1", "suffix": "TAKEN-1", "f2001": "乙"})
        error = html.unescape(re.search(r'<p class="err" id="error">(.*?)</p>', r.text, re.S)[1])
        assert r.status_code == 409 and error.startswith(words) and "already exists" in error, error


def test_the_public_page_of_a_missing_identifier_is_translated_and_escaped(ent):  # noqa: F811
    node, prefix = ent["node"], ent["prefix"]
    bait = f"{prefix}/<script>alert(1)</script>"
    r = requests.get(f"{node.url}/{bait}?noredirect", headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    assert r.status_code == 404 and "未找到（字段 handle）。详情：handle " in r.text
    assert "<script>" not in r.text and "&lt;script&gt;" in r.text  # the caller's text is shown, never run
    r = requests.get(f"{node.url}/{prefix}/NO-SUCH?noredirect", headers={"Accept-Language": "en"})
    assert r.status_code == 404 and "Not found: " in r.text and "未找到" not in r.text
