"""An enterprise's statistics page: registrations and resolutions per day and the top sources, drawn
on the server as SVG from the daily counts the node keeps for its reports; its own prefix only."""

from __future__ import annotations

import html
import re
import time

import requests

from tests.test_console import csrf_of, ent, sign_in  # noqa: F401 (ent is the module's enterprise fixture)


def test_statistics_are_charts_of_the_prefixs_daily_counts(ent):  # noqa: F811
    node, prefix = ent["node"], ent["prefix"]
    s = sign_in(node, ent["id"], ent["secret"])
    page = s.get(f"{node.url}/console/p/{prefix}/batch")
    s.post(f"{node.url}/console/p/{prefix}/batch", data={"csrf": csrf_of(page.text), "template": "v1"},
           files={"file": ("s.csv", "suffix,产品名称\nS-1,甲\nS-2,乙\nS-3,丙\n".encode(), "text/csv")})
    before = s.get(f"{node.url}/console/p/{prefix}/stats").text
    asked = int(re.search(r"期间共 (\d+) 次解析请求", before)[1])
    for _ in range(4):
        assert requests.get(node.api(f"{prefix}/S-1")).status_code == 200
    assert requests.get(node.api(f"{prefix}/NO-SUCH")).status_code == 404
    time.sleep(2.5)  # the counts reach the store within a second (resolver/reports/flush.py)
    r = s.get(f"{node.url}/console/p/{prefix}/stats")
    text = html.unescape(r.text)
    assert r.status_code == 200 and "<script" not in r.text and "<svg" in r.text
    csp = r.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp  # the charts need no script, load nothing
    assert not re.search(r'(?:href|src)="(?:https?:)?//', r.text)
    m = re.search(r"期间共注册 (\d+) 个标识", text)
    assert int(m[1]) >= 3
    m = re.search(r"期间共 (\d+) 次解析请求，成功 (\d+) 次", text)
    assert int(m[1]) - asked == 5 and int(m[2]) >= 4, m[0]
    sources = re.search(r'<svg [^>]*id="chart-sources".*?</svg>', r.text, re.S)[0]
    assert "127.0.0.1" in sources
    # every request has its source in the chart: the sources add up to the requests
    counted = [int(n) for n in re.findall(r'<desc class="value">(\d+)</desc>', sources)]
    assert counted and sum(counted) == int(m[1]), (counted, m[0])
    per_day = re.search(r'<svg [^>]*id="chart-resolutions".*?</svg>', r.text, re.S)[0]
    bars = [int(n) for n in re.findall(r"<title>[^<]* 请求: (\d+)</title>", per_day)]
    assert sum(bars) == int(m[1]), (bars, m[0])  # and the daily bars add up to the same total
    days = re.search(r'<svg [^>]*id="chart-registrations".*?</svg>', r.text, re.S)[0]
    assert days.count('class="rect reactive') == 14  # one bar a day for the default fortnight
    # the span a caller asks for is bounded
    r = s.get(f"{node.url}/console/p/{prefix}/stats?days=100000")
    assert re.search(r'<svg [^>]*id="chart-registrations".*?</svg>', r.text, re.S)[0].count('class="rect reactive') == 30
    r = s.get(f"{node.url}/console/p/{prefix}/stats?lang=en")
    assert "Registrations per day" in r.text and "Top sources" in r.text and "每日" not in r.text


def test_statistics_are_for_the_prefixs_administrators_only(ent):  # noqa: F811
    node, prefix = ent["node"], ent["prefix"]
    r = requests.get(f"{node.url}/console/p/{prefix}/stats", allow_redirects=False)
    assert r.status_code == 303 and r.headers["Location"] == "/console/signin"
    s = sign_in(node, ent["id"], ent["secret"])
    assert s.get(f"{node.url}/console/p/88.101.5/stats").status_code == 403
