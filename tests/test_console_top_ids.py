"""The statistics page's top identifiers: resolutions counted per identifier on every path that answers
(the HTTP API and scan routes, the Handle protocol's Python and compiled fast paths), kept durably with the
daily counts, shown as registered, in order; unknown handles never counted; memory and store bounded."""

from __future__ import annotations

import asyncio
import html
import re
import shutil
import time

import pytest
import requests

from resolver.counters import MAX_IDS, MAX_IDS_TOTAL, Counters
from resolver.reports.flush import Flusher
from resolver.service import Service
from storage import Store
from storage.commit import GroupCommitter
from storage.stats import KEEP_IDS, day_of
from tests import handle_nodes as hn
from tests.nodes import basic, init_data
from tests.test_console import ADMIN, sign_in
from tests.test_handle_compiled import _request, _udp

PREFIX = "88.101.321"
SECRET = "top-ids-secret-1"


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    """A node with a Handle port (UDP answered by the compiled fast path when it is built) and an
    enterprise with three identifiers registered in mixed case."""
    data = tmp_path_factory.mktemp("topids") / "data"
    init_data(data)
    n = hn.start(data)
    try:
        r = requests.post(f"{n.url}/api/prefixes", headers=ADMIN,
                          json={"prefix": PREFIX, "secret": SECRET, "owner": {"name": "排行企业"}})
        assert r.status_code == 201, r.text
        owner = {"Authorization": basic(f"300:0.NA/{PREFIX}", SECRET)}
        for h in ("Motor-A", "Motor-B", "Motor-C"):
            r = hn.put(n, f"{PREFIX}/{h}", [{"index": 1, "type": "URL", "data": f"https://example.com/{h}"}], owner)
            assert r.status_code in (200, 201), r.text
        yield n
    finally:
        n.stop()


def _top(node, lang: str = "zh") -> tuple[str, list[tuple[str, int]]]:
    s = sign_in(node, f"300:0.NA/{PREFIX}", SECRET)
    r = s.get(f"{node.url}/console/p/{PREFIX}/stats?lang={lang}")
    assert r.status_code == 200
    chart = re.search(r'<svg [^>]*id="chart-identifiers".*?</svg>', r.text, re.S)
    assert chart, "no top-identifiers chart"
    rows = [(html.unescape(a), int(b)) for a, b in re.findall(r"<title>([^<:]+/[^<:]+): (\d+)</title>", chart[0])]
    return r.text, list(reversed(rows))  # pygal draws the first row at the bottom


def test_the_stats_page_names_the_most_resolved_identifiers_in_order(node):
    udp = 0
    for _ in range(7):  # the Handle protocol over UDP: the first by the Python path, the rest kept (compiled)
        udp += len(_udp(node, _request(f"{PREFIX}/motor-b")))
    assert udp == 7
    for _ in range(4):  # HTTP, spelled otherwise: the same identifier
        assert requests.get(node.api(f"{PREFIX}/MOTOR-A")).status_code == 200
    assert requests.get(f"{node.url}/{PREFIX}/Motor-A", allow_redirects=False).status_code in (200, 302)  # a scan
    _udp(node, _request(f"{PREFIX}/Motor-C"))
    assert requests.get(node.api(f"{PREFIX}/Motor-C")).status_code == 200
    # unknown handles, over both protocols: answered 404 / RC 100, never an identifier of the chart
    for i in range(40):
        assert requests.get(node.api(f"{PREFIX}/NO-SUCH-{i}")).status_code == 404
        _udp(node, _request(f"{PREFIX}/no-such-{i}"))
    time.sleep(2.5)  # the counts reach the store within a second (resolver/reports/flush.py)
    text, rows = _top(node)
    assert rows == [(f"{PREFIX}/Motor-B", 7), (f"{PREFIX}/Motor-A", 5), (f"{PREFIX}/Motor-C", 2)], rows
    assert "解析最多的标识" in text and "<script" not in text
    text, rows = _top(node, "en")
    assert "Top identifiers" in text and rows[0] == (f"{PREFIX}/Motor-B", 7)


def test_the_top_identifiers_outlive_a_restart(node):
    """Flushed with the daily counts: durable in the store, not kept in a worker's memory."""
    _, before = _top(node)
    assert before
    node.stop()
    node.start()
    _, after = _top(node)
    assert after == before


def test_a_flood_of_distinct_identifiers_stays_bounded(tmp_path):
    """An attacker resolving ever new identifiers (in one prefix, or spread over many) fills a bounded
    table between two flushes and a bounded record per prefix and day; the busiest ones stay on top."""
    init_data(tmp_path / "seed")
    shutil.copytree(tmp_path / "seed", tmp_path / "data")
    store = Store(tmp_path / "data")
    counters = Counters()
    committer = GroupCommitter(store)
    svc = Service(store, committer, counters=counters)
    p = b"88.101.5"
    for _ in range(50):
        counters.resolved(p, True, "192.0.2.1", 0.0, p + b"/hot")
    for i in range(10 * MAX_IDS):
        counters.resolved(p, True, "192.0.2.1", 0.0, p + b"/flood-%d" % i)
    for j in range(MAX_IDS_TOTAL):  # many prefixes: the total bound, whatever each prefix holds
        q = b"88.%d" % (j % 2000)
        counters.resolved(q, True, None, 0.0, q + b"/x-%d" % j)
    assert len(counters.prefixes[p][4]) == MAX_IDS
    assert sum(len(c[4]) for c in counters.prefixes.values()) <= MAX_IDS_TOTAL
    assert counters.prefixes[p][1] == 50 + 10 * MAX_IDS  # the prefix's counts still have them all
    counters.resolved(p, False, None, 0.0)  # an unknown handle: counted for its prefix, no identifier
    flusher = Flusher(svc, first=True)

    async def flood_and_flush():
        await flusher.flush(force=True)
        for round_ in range(5):  # second after second of new identifiers
            for i in range(MAX_IDS):
                counters.resolved(p, True, None, 0.0, p + b"/round-%d-%d" % (round_, i))
            counters.resolved(p, True, None, 0.0, p + b"/hot")
            await flusher.flush(force=True)

    try:
        asyncio.run(flood_and_flush())
        with store.read() as tx:
            ids = tx.stats_of(day_of(time.time()), "88.101.5")["ids"]
        assert len(ids) == KEEP_IDS
        assert max(ids, key=ids.get) == "88.101.5/hot" and ids["88.101.5/hot"] == 55
    finally:
        committer.close()
        store.close()
