"""The operator's status page: health and key metrics, federation (outbox, upstreams), mirrors and
their lag, and today's statistics report owed upstream; read-only, for the node admin only."""

from __future__ import annotations

import html
import re
import time

import requests

from tests.nodes import ADMIN_SECRET
from tests.test_console import ADMIN, ADMIN_ID, ent, sign_in  # noqa: F401 (ent is the module's fixture)


def test_the_operator_reads_health_federation_mirrors_and_the_report_owed(ent):  # noqa: F811
    node, prefix = ent["node"], ent["prefix"]
    # a mirror asks for the changes after the log's last sequence: it is up to date, then one write behind
    r = requests.get(f"{node.url}/api/replication/changes", params={"after": 0, "limit": 1}, headers=ADMIN)
    last = int(r.headers["X-Idnode-Last-Sequence"])
    r = requests.get(f"{node.url}/api/replication/changes", params={"after": last, "mirror": "console-m1"},
                     headers=ADMIN)
    assert r.status_code == 200
    assert requests.put(node.api(f"{prefix}/STATUS-1"), headers=ent["owner"], json={"values": [
        {"index": 1, "type": "URL", "data": "https://example.com/"}]}).status_code == 201
    time.sleep(0.3)  # the acknowledgement is committed without being waited for
    s = sign_in(node, ADMIN_ID, ADMIN_SECRET)
    r = s.get(f"{node.url}/console/admin/status")
    text = html.unescape(r.text)
    assert r.status_code == 200 and "节点状态" in text and "<script" not in r.text
    assert "未配置上级节点。" in text  # the test node has no upstream
    row = re.search(r"<tr><td>console-m1</td><td>(\d+)</td><td>(\d+)</td>", r.text)
    assert row and int(row[1]) == last and int(row[2]) >= 1, r.text[-3000:]
    report = re.search(r'<div class="card" id="report">.*?</div>', text, re.S)[0]
    assert prefix in report and "应上报顶级节点的统计" in report
    r = s.get(f"{node.url}/console/admin/status?lang=en")
    assert "Mirrors and their lag" in r.text and "Statistics owed to the top-level node" in r.text


def test_an_enterprise_cannot_read_the_node_status(ent):  # noqa: F811
    node = ent["node"]
    s = sign_in(node, ent["id"], ent["secret"])
    r = s.get(f"{node.url}/console/admin/status")
    assert r.status_code == 403 and "console-m1" not in r.text
    assert requests.get(f"{node.url}/console/admin/status", allow_redirects=False).status_code == 303
