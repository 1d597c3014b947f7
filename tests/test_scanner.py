"""Proxy-style resolution for scanners: GET /{handle} and GET /scan?code=…"""

from __future__ import annotations

import uuid
from urllib.parse import quote

import pytest
import requests

ENT = "88.101.5"
HIDDEN = "internal-cost-4711"


def register(node, auth, handle: str, values: list) -> None:
    r = requests.put(node.api(handle), json={"values": values}, headers=auth["owner"])
    assert r.status_code == 201, r.text


@pytest.fixture(scope="module")
def product(shared_node, auth) -> str:
    """A handle with a URL, a public text value and a value only its admins may read."""
    handle = f"{ENT}/SCAN-{uuid.uuid4().hex[:8]}"
    register(shared_node, auth, handle, [
        {"index": 1, "type": "URL", "data": "https://shop.example.com/p/42?a=1&b=2"},
        {"index": 2001, "type": "productName", "data": "Gear motor GM-42"},
        {"index": 2002, "type": "cost", "data": HIDDEN, "permissions": "1100"},
    ])
    return handle


@pytest.fixture(scope="module")
def plain(shared_node, auth) -> str:
    """No URL value: scanners get the page."""
    handle = f"{ENT}/PLAIN-{uuid.uuid4().hex[:8]}"
    register(shared_node, auth, handle, [
        {"index": 2001, "type": "note", "data": "<script>alert('x')</script> & \"quotes\""},
        {"index": 2002, "type": "<b>type</b>", "data": "fine"},
        {"index": 2003, "type": "secret", "data": HIDDEN, "permissions": "1100"},
    ])
    return handle


def get(node, path: str, **kw) -> requests.Response:
    return requests.get(node.url + path, allow_redirects=False, **kw)


def test_redirects_to_the_url_value(shared_node, product):
    r = get(shared_node, "/" + product)
    assert r.status_code == 302
    assert r.headers["Location"] == "https://shop.example.com/p/42?a=1&b=2"


def test_noredirect_shows_a_readable_page(shared_node, product):
    r = get(shared_node, f"/{product}?noredirect")
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/html")
    page = r.text
    assert product in page and "Gear motor GM-42" in page and "productName" in page
    assert 'href="https://shop.example.com/p/42?a=1&amp;b=2"' in page
    assert HIDDEN not in page and "cost" not in page


def test_record_without_url_is_a_page_with_everything_escaped(shared_node, plain):
    r = get(shared_node, "/" + plain)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/html")
    page = r.text
    assert plain in page
    assert "<script>" not in page and "<b>type</b>" not in page
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &#34;quotes&#34;" in page  # markupsafe's entities
    assert "&lt;b&gt;type&lt;/b&gt;" in page
    assert HIDDEN not in page


def test_handle_itself_is_escaped_on_the_page(shared_node, auth):
    handle = f"{ENT}/<img src=x onerror=alert(1)>-{uuid.uuid4().hex[:6]}"
    register(shared_node, auth, handle, [{"index": 2001, "type": "note", "data": "n"}])
    r = get(shared_node, "/" + quote(handle))
    assert r.status_code == 200
    assert "<img" not in r.text and "&lt;img src=x onerror=alert(1)&gt;" in r.text
    missing = get(shared_node, "/" + quote(f"{ENT}/<script>nope</script>"))
    assert missing.status_code == 404 and "<script>nope" not in missing.text


def test_only_http_urls_redirect(shared_node, auth):
    handle = f"{ENT}/JSURL-{uuid.uuid4().hex[:8]}"
    register(shared_node, auth, handle, [{"index": 1, "type": "URL", "data": "javascript:alert(document.cookie)"}])
    r = get(shared_node, "/" + handle)
    assert r.status_code == 200 and "Location" not in r.headers
    assert "javascript:alert(document.cookie)" in r.text
    assert 'href="javascript:' not in r.text


def test_unknown_handle_is_a_404_page(shared_node):
    r = get(shared_node, f"/{ENT}/NO-SUCH-THING")
    assert r.status_code == 404
    assert r.headers["Content-Type"].startswith("text/html")
    assert f"{ENT}/NO-SUCH-THING" in r.text and "not found" in r.text
    r = get(shared_node, "/99.1/ELSEWHERE")
    assert r.status_code == 400 and "not served" in r.text


def test_accept_json_gets_the_record(shared_node, product, auth):
    r = get(shared_node, "/" + product, headers={"Accept": "application/json"})
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/json")
    body = r.json()
    assert body == requests.get(shared_node.api(product)).json()
    assert body["responseCode"] == 1 and body["handle"] == product
    assert {v["type"] for v in body["values"]} == {"URL", "productName", "HS_ADMIN"}
    assert HIDDEN not in r.text
    # Credentials do not open the scanner path to non-public values.
    r = get(shared_node, "/" + product, headers={"Accept": "application/json", **auth["owner"]})
    assert HIDDEN not in r.text
    r = get(shared_node, f"/{ENT}/NO-SUCH-THING", headers={"Accept": "application/json"})
    assert r.status_code == 404 and r.json()["responseCode"] == 100


def test_accept_json_with_filters(shared_node, product):
    r = get(shared_node, f"/{product}?type=URL", headers={"Accept": "application/json"})
    assert [v["type"] for v in r.json()["values"]] == ["URL"]


@pytest.mark.parametrize("code", [
    "{h}", "hdl:{h}", "HDL:{h}", " {h} \n", "http://resolver.example.com/{h}", "https://hdl.handle.net/{h}",
    "https://id.example.cn/api/handles/{h}", "http://resolver.example.com/{q}",
])
def test_scan_codes_resolve_to_the_same_record(shared_node, product, code):
    code = code.format(h=product, q=quote(product, safe=""))
    want = requests.get(shared_node.api(product)).json()
    r = get(shared_node, "/scan", params={"code": code}, headers={"Accept": "application/json"})
    assert r.status_code == 200, (code, r.text)
    assert r.json()["values"] == want["values"]
    r = get(shared_node, "/scan", params={"code": code})
    assert r.status_code == 302 and r.headers["Location"] == "https://shop.example.com/p/42?a=1&b=2"


def test_scan_shows_pages_too(shared_node, plain):
    r = get(shared_node, "/scan", params={"code": f"hdl:{plain}"})
    assert r.status_code == 200 and plain in r.text and HIDDEN not in r.text
    r = get(shared_node, "/scan", params={"code": f"hdl:{ENT}/NOPE-{uuid.uuid4().hex[:6]}"})
    assert r.status_code == 404


def test_scan_needs_a_code(shared_node):
    for params in ({}, {"code": ""}):
        r = get(shared_node, "/scan", params=params)
        assert r.status_code == 400 and "code" in r.json()["message"]
    r = get(shared_node, "/scan", params={"code": "not a handle"})
    assert r.status_code == 400 and "between prefix and suffix" in r.text


def test_unicode_handle(shared_node, auth):
    handle = f"{ENT}/电机-{uuid.uuid4().hex[:6]}"
    register(shared_node, auth, handle, [{"index": 2001, "type": "名称", "data": "减速电机"}])
    r = get(shared_node, "/" + quote(handle))
    assert r.status_code == 200 and handle in r.text and "减速电机" in r.text
    r = get(shared_node, "/scan", params={"code": f"hdl:{handle}"}, headers={"Accept": "application/json"})
    assert r.json()["handle"] == handle
