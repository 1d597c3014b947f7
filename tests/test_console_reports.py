"""The operator sends the reports owed to the top-level node from the console: the same queueing as
``idnode report send``, for the node admin only, and the report arrives upstream."""

from __future__ import annotations

import datetime as dt
import html

import pytest
import requests

from tests.federation_nodes import (
    ADMIN_SECRETS,
    ENTERPRISE,
    eventually,
    init_secondary,
    init_top,
    start_secondary,
    start_top,
    top_admin,
)
from tests.nodes import ADMIN_SECRET
from tests.test_console import ADMIN_ID, csrf_of, sign_in


@pytest.fixture()
def pair(tmp_path):
    init_top(tmp_path / "top")
    init_secondary(tmp_path / "a", "88.101")
    top = start_top(tmp_path / "top")
    a = start_secondary(tmp_path / "a", "88.101", [top], "--upstream-http", top.url, "--report-interval", "3600",
                        "--stats-interval", "3600")
    try:
        yield top, a
    finally:
        a.stop()
        top.stop()


def test_the_operator_sends_the_reports_and_the_top_level_node_has_them(pair):
    top, a = pair
    today = dt.datetime.now(dt.UTC).date().isoformat()
    s = sign_in(a, "300:0.NA/88.101", ADMIN_SECRETS["88.101"])
    page = s.get(f"{a.url}/console/admin/status")
    assert 'id="send-reports"' in page.text
    # a forged token sends nothing
    r = s.post(f"{a.url}/console/admin/reports/send", data={"csrf": "forged"})
    assert r.status_code == 403
    r = s.post(f"{a.url}/console/admin/reports/send", data={"csrf": csrf_of(page.text)})
    assert r.status_code == 200 and "份报告，节点将从发件箱发送" in r.text
    assert f"<li>statistics/{today}</li>" in r.text and "<li>enterprises/current</li>" in r.text
    got = eventually(lambda: (r := requests.get(f"{top.url}/api/reports/88.101", params={
        "kind": "statistics", "date": today}, headers=top_admin())).status_code == 200 and r.json(),
        what="the statistics report at the top-level node")
    assert any(p["prefix"] == ENTERPRISE["88.101"][0] for p in got["prefixes"]), got
    # an enterprise of the node may not send its reports: the service's rule
    ent = sign_in(a, f"300:0.NA/{ENTERPRISE['88.101'][0]}", ENTERPRISE["88.101"][1])
    token = csrf_of(ent.get(f"{a.url}/console/p/{ENTERPRISE['88.101'][0]}/handles").text)
    assert ent.post(f"{a.url}/console/admin/reports/send", data={"csrf": token}).status_code == 403


def test_a_node_without_an_upstream_says_so_in_the_pages_language(shared_node):
    s = sign_in(shared_node, ADMIN_ID, ADMIN_SECRET)
    page = s.get(f"{shared_node.url}/console/admin/status")
    r = s.post(f"{shared_node.url}/console/admin/reports/send", data={"csrf": csrf_of(page.text)})
    text = html.unescape(r.text)
    assert r.status_code == 409 and "与节点现有数据冲突。详情：this node has no upstream top-level node" in text
