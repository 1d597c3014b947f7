"""An enterprise's owner details and logo in the console: edited through the owner operation the API
has (``PUT /api/prefixes/{prefix}/owner``'s rule), the logo kept as a PNG the node re-encodes and shown
on the public pages; and what an attacker would upload instead of a logo."""

from __future__ import annotations

import html
import http.client
import io
import re
import uuid
from urllib.parse import urlsplit

import pytest
import requests
from PIL import Image

from tests.nodes import basic
from tests.test_console import ADMIN, csrf_of, sign_in


@pytest.fixture(scope="module")
def firm(shared_node):
    prefix = f"88.101.{300}{uuid.uuid4().int % 10**6:06d}"
    secret = "owner-secret-1"
    r = requests.post(f"{shared_node.url}/api/prefixes", headers=ADMIN,
                      json={"prefix": prefix, "secret": secret, "owner": {"name": "标志测试企业"}})
    assert r.status_code == 201, r.text
    owner = {"Authorization": basic(f"300:0.NA/{prefix}", secret)}
    assert requests.put(shared_node.api(f"{prefix}/ITEM-1"), headers=owner, json={"values": [
        {"index": 2001, "type": "productName", "data": "甲"}]}).status_code == 201
    s = sign_in(shared_node, f"300:0.NA/{prefix}", secret)
    return {"node": shared_node, "prefix": prefix, "s": s, "owner": owner}


def png(size: tuple[int, int], colour: str = "#0b5cad", mode: str = "RGB") -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, colour if mode != "1" else 0).save(out, "PNG")
    return out.getvalue()


def upload(firm, data: bytes, name: str = "logo.png", mime: str = "image/png", csrf: str | None = None):
    s, url = firm["s"], f"{firm['node'].url}/console/p/{firm['prefix']}"
    token = csrf if csrf is not None else csrf_of(s.get(f"{url}/owner").text)
    return s.post(f"{url}/logo", data={"csrf": token}, files={"logo": (name, data, mime)})


def kept(firm) -> requests.Response:
    return requests.get(f"{firm['node'].url}/console/logo/{firm['prefix']}")


def test_the_enterprise_edits_its_owner_details(firm):
    node, prefix, s = firm["node"], firm["prefix"], firm["s"]
    page = s.get(f"{node.url}/console/p/{prefix}/owner")
    assert page.status_code == 200 and "统一社会信用代码" in page.text and "标志测试企业" in page.text
    r = s.post(f"{node.url}/console/p/{prefix}/owner", data={
        "csrf": csrf_of(page.text), "name": "标志测试企业（改）", "creditCode": "91310000MA1FL0000X",
        "phone": "021-5555 0000"})
    assert r.status_code == 200 and "企业信息已保存" in r.text
    owner = requests.get(f"{node.url}/api/prefixes/{prefix}", headers=ADMIN).json()["owner"]
    assert owner == {"name": "标志测试企业（改）", "creditCode": "91310000MA1FL0000X", "phone": "021-5555 0000"}
    # the service's own checks: a field too long is refused, translated, and nothing changes
    r = s.post(f"{node.url}/console/p/{prefix}/owner", data={"csrf": csrf_of(page.text), "name": "x" * 1025})
    assert r.status_code == 400 and "填写的内容不正确（字段 owner.name）" in html.unescape(r.text)
    assert requests.get(f"{node.url}/api/prefixes/{prefix}", headers=ADMIN).json()["owner"] == owner
    # another enterprise may not: the service's rule, not the console's
    r = s.get(f"{node.url}/console/p/88.101.5/owner")
    assert r.status_code == 403


def test_a_logo_is_kept_as_a_small_png_and_shown_on_the_public_pages(firm):
    node, prefix = firm["node"], firm["prefix"]
    jpeg = io.BytesIO()
    Image.new("RGB", (900, 300), "#a3262a").save(jpeg, "JPEG")
    r = upload(firm, jpeg.getvalue(), "logo.jpg", "image/jpeg")
    assert r.status_code == 200 and "标志已更新" in r.text, r.text[-2000:]
    got = kept(firm)
    assert got.status_code == 200 and got.headers["Content-Type"] == "image/png"
    assert "sandbox" in got.headers["Content-Security-Policy"] and got.headers["X-Content-Type-Options"] == "nosniff"
    img = Image.open(io.BytesIO(got.content))
    assert img.format == "PNG" and img.size == (256, 85)  # scaled to 256 a side, its shape kept
    again = requests.get(f"{node.url}/console/logo/{prefix}", headers={"If-None-Match": got.headers["ETag"]})
    assert again.status_code == 304
    page = requests.get(f"{node.url}/{prefix}/ITEM-1?noredirect", headers={"Accept-Language": "zh"})
    src = re.search(r'<img class="logo" id="ent-logo" src="([^"]+)"', page.text)[1]
    assert src.startswith(f"/console/logo/{prefix}?v=")
    assert requests.get(node.url + html.unescape(src)).content == got.content
    # removed: the public page shows none, the address answers 404
    s = firm["s"]
    token = csrf_of(s.get(f"{node.url}/console/p/{prefix}/owner").text)
    r = s.post(f"{node.url}/console/p/{prefix}/logo", data={"csrf": token, "remove": "1"},
               files={"logo": ("", b"", "application/octet-stream")})
    assert r.status_code == 200 and "标志已删除" in r.text
    assert kept(firm).status_code == 404
    assert 'id="ent-logo"' not in requests.get(f"{node.url}/{prefix}/ITEM-1?noredirect").text


def test_what_an_attacker_uploads_instead_of_a_logo_is_refused_and_changes_nothing(firm):
    node, prefix = firm["node"], firm["prefix"]
    assert upload(firm, png((64, 64))).status_code == 200
    before = kept(firm).content
    # an SVG with a script in it: not an image format the node keeps
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(document.cookie)</script></svg>'
    r = upload(firm, svg, "logo.svg", "image/svg+xml")
    assert r.status_code == 400 and "the logo must be a PNG, JPEG or WebP image" in r.text
    # a small file whose header claims 20000×20000 pixels (a pixel bomb): refused before it is decoded
    bomb = png((20000, 20000), mode="1")
    assert len(bomb) < 512 * 1024
    r = upload(firm, bomb)
    assert r.status_code == 400 and "at most 4096 a side" in html.unescape(r.text)
    r = upload(firm, png((5000, 8), mode="1"))  # under Pillow's own limit, over the node's
    assert r.status_code == 400 and "the logo has 5000×8 pixels; at most 4096 a side" in html.unescape(r.text)
    # a PNG with a script after its end (a polyglot): what is kept is re-encoded, the tail is gone
    r = upload(firm, png((32, 32)) + b"<script>alert(1)</script>")
    assert r.status_code == 200 and b"<script" not in kept(firm).content
    before = kept(firm).content
    # a forged CSRF token: refused before the file is read
    r = upload(firm, png((48, 48), "#1f7a3a"), csrf="forged")
    assert r.status_code == 403 and kept(firm).content == before
    # 50 MB announced: refused on its Content-Length, before a byte of the body is read
    cookie = firm["s"].cookies.get("idn_console")
    u = urlsplit(node.url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=10)
    conn.putrequest("POST", f"/console/p/{prefix}/logo")
    conn.putheader("Cookie", f"idn_console={cookie}")
    conn.putheader("Content-Type", "multipart/form-data; boundary=x")
    conn.putheader("Content-Length", str(50 * 1024 * 1024))
    conn.endheaders()
    resp = conn.getresponse()
    assert resp.status == 413
    conn.close()
    # a file over the limit, sent in full: read no further than the limit, refused
    r = upload(firm, b"\x89PNG\r\n\x1a\n" + b"\0" * (520 * 1024))
    assert r.status_code == 413
    # another enterprise's prefix: refused before the file is read, by the owner details' own rule
    s = firm["s"]
    token = csrf_of(s.get(f"{node.url}/console/p/{prefix}/owner").text)
    r = s.post(f"{node.url}/console/p/88.101.5/logo", data={"csrf": token}, files={"logo": ("l.png", png((8, 8)))})
    assert r.status_code == 403 and "may not change the owner details of 88.101.5" in r.text
    assert kept(firm).content == before
    # and nobody signed in may upload at all
    r = requests.post(f"{node.url}/console/p/{prefix}/logo", files={"logo": ("l.png", png((8, 8)))},
                      allow_redirects=False)
    assert r.status_code == 303 and kept(firm).content == before


def test_owner_details_and_logo_changes_are_in_the_audit_trail_allowed_and_denied(firm):
    """Every attempt to change the node is recorded: owner details over REST and the console, a logo,
    and a refusal of another enterprise's owner details."""
    node, prefix = firm["node"], firm["prefix"]
    r = requests.put(f"{node.url}/api/prefixes/{prefix}/owner", json={"name": "审计企业"},
                     headers={**firm["owner"], "Content-Type": "application/json"})
    assert r.status_code == 200, r.text
    assert upload(firm, png((40, 40))).status_code == 200
    r = requests.put(f"{node.url}/api/prefixes/88.101.5/owner", json={"name": "Not mine"},
                     headers={**firm["owner"], "Content-Type": "application/json"})
    assert r.status_code == 403, r.text

    def entries(**params) -> list[dict]:
        r = requests.get(f"{node.url}/api/audit", params=params, headers=ADMIN)
        assert r.status_code == 200, r.text
        return r.json()["entries"]

    owner = entries(op="set_owner")
    mine = [e for e in owner if e.get("target") == prefix]
    assert any(e["result"] == "allowed" and e["protocol"] == "http" for e in mine), owner
    assert any(e["result"] == "allowed" and e["protocol"] == "console" and e.get("target") == prefix
               for e in entries(op="set_logo"))
    refused = [e for e in owner if e.get("target") == "88.101.5"]
    assert any(e["result"] == "denied" and e["identity"] == f"300:0.NA/{prefix}" for e in refused), owner
