"""The operator rotates a prefix's secret from the console: the service's rotation (a new secret made
by the node and shown once), which ends the old secret and the sessions signed in with it."""

from __future__ import annotations

import html
import re
import uuid

import requests

from tests.nodes import ADMIN_SECRET, basic
from tests.test_console import ADMIN, ADMIN_ID, csrf_of, sign_in


def test_the_operator_rotates_a_prefixs_secret_and_its_sessions_end(shared_node):
    node = shared_node
    prefix = f"88.101.{200 + uuid.uuid4().int % 90}"
    old = "rotate-secret-1"
    assert requests.post(f"{node.url}/api/prefixes", headers=ADMIN, json={
        "prefix": prefix, "secret": old, "owner": {"name": "换密企业"}}).status_code == 201
    ent = sign_in(node, f"300:0.NA/{prefix}", old)
    assert ent.get(f"{node.url}/console/p/{prefix}/handles").status_code == 200
    # an enterprise may not rotate another prefix's secret: the service's rule
    token = csrf_of(ent.get(f"{node.url}/console/p/{prefix}/handles").text)
    r = ent.post(f"{node.url}/console/admin/prefixes/rotate", data={"csrf": token, "prefix": "88.101.5"})
    assert r.status_code == 403
    op = sign_in(node, ADMIN_ID, ADMIN_SECRET)
    page = op.get(f"{node.url}/console/admin/prefixes")
    # a forged token changes nothing
    r = op.post(f"{node.url}/console/admin/prefixes/rotate", data={"csrf": "forged", "prefix": prefix})
    assert r.status_code == 403
    assert requests.get(f"{node.url}/api/prefixes/{prefix}", headers={
        "Authorization": basic(f"300:0.NA/{prefix}", old)}).status_code == 200
    r = op.post(f"{node.url}/console/admin/prefixes/rotate", data={"csrf": csrf_of(page.text), "prefix": prefix})
    text = html.unescape(r.text)
    assert r.status_code == 200 and f"已为前缀 {prefix} 生成新密钥" in text
    new = re.search(r'<div class="card" id="rotated">.*?<code>([^<]+)</code>', text, re.S)[1]
    assert requests.get(f"{node.url}/api/prefixes/{prefix}", headers={
        "Authorization": basic(f"300:0.NA/{prefix}", new)}).status_code == 200
    assert requests.get(f"{node.url}/api/prefixes/{prefix}", headers={
        "Authorization": basic(f"300:0.NA/{prefix}", old)}).status_code in (401, 403)
    r = ent.get(f"{node.url}/console/p/{prefix}/handles", allow_redirects=False)
    assert r.status_code == 303 and r.headers["Location"] == "/console/signin?ended=1"  # its session is over
    assert new not in op.get(f"{node.url}/console/admin/prefixes").text  # shown once
    trail = requests.get(f"{node.url}/api/audit", params={"op": "rotate_secret", "prefix": prefix},
                         headers=ADMIN).json()["entries"]
    assert any(e.get("protocol") == "console" for e in trail), trail
