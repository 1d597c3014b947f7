"""An item's lineage drawn as a picture on its trace page: its parts to the left, what it went into to
the right, each box a link to that identifier's trace, other nodes' boxes marked as theirs."""

from __future__ import annotations

import re
import uuid

import requests

from resolver.http.console.i18n import Catalogue
from resolver.http.console.lineagepic import lineage_svg
from tests.nodes import ADMIN_SECRET, NODE_PREFIX, basic

ADMIN = {"Authorization": basic(f"300:0.NA/{NODE_PREFIX}", ADMIN_SECRET)}


def test_the_trace_page_draws_parts_and_containers(shared_node):
    url = shared_node.url
    prefix = f"88.101.{900 + uuid.uuid4().int % 90}"
    r = requests.post(f"{url}/api/prefixes", headers=ADMIN, json={"prefix": prefix, "secret": "lineage-secret-1"})
    assert r.status_code == 201, r.text
    owner = {"Authorization": basic(f"300:0.NA/{prefix}", "lineage-secret-1")}
    item, part, case, pallet = (f"{prefix}/{n}" for n in ("MOTOR-1", "ROTOR-1", "CASE-1", "PALLET-1"))
    for h in (item, part, case, pallet):
        assert requests.put(shared_node.api(h), headers=owner, json={"values": [
            {"index": 1, "type": "URL", "data": "https://example.com/"}]}).status_code == 201

    def ev(when, kind, **f):
        return {"type": kind, "eventTime": f"{when}+08:00", "eventTimeZoneOffset": "+08:00", "action": "ADD", **f}

    r = requests.post(f"{url}/api/events", headers=owner, json={
        "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"], "type": "EPCISDocument",
        "schemaVersion": "2.0", "creationDate": "2026-03-02T08:00:00Z", "epcisBody": {"eventList": [
            ev("2026-03-01T10:00:00", "AssociationEvent", parentID=item, childEPCs=[part], bizStep="assembling"),
            ev("2026-03-02T10:00:00", "AggregationEvent", parentID=case, childEPCs=[item], bizStep="packing"),
            ev("2026-03-03T10:00:00", "AggregationEvent", parentID=pallet, childEPCs=[case], bizStep="packing")]}})
    assert r.status_code == 201, r.text
    for lang, title in (("zh", "谱系图"), ("en", "Lineage")):
        r = requests.get(f"{url}/trace/{item}?lang={lang}")
        assert r.status_code == 200 and title in r.text and "<script" not in r.text
        svg = re.search(r'<svg id="lineage".*?</svg>', r.text, re.S)[0]
        links = re.findall(r'<a href="/trace/([^"?]+)\?lang=' + lang, svg)
        assert sorted(links) == sorted(f"hdl:{h.lower()}" for h in (part, case, pallet)), links
        assert all(f">{h}</text>" in svg for h in (part, case, pallet))  # shown as registered
        assert svg.count('class="ours"') == 3 and 'class="theirs"' not in svg
        # the part is drawn left of the item, the case right of it, the pallet further right
        box = r'\?[^>]*>.*?<rect x="([\d.]+)"'
        xs = {h: float(re.search(r'href="/trace/' + re.escape(f"hdl:{h.lower()}") + box, svg, re.S)[1])
              for h in (part, case, pallet)}
        assert xs[part] < xs[case] < xs[pallet]
    # from the part, what it went into: the motor, then its case, then the pallet
    svg = re.search(r'<svg id="lineage".*?</svg>', requests.get(f"{url}/trace/{part}").text, re.S)[0]
    assert sorted(re.findall(r'<a href="/trace/([^"?]+)\?', svg)) == sorted(
        f"hdl:{h.lower()}" for h in (item, case, pallet))


def test_another_nodes_items_are_marked_as_theirs_and_escaped():
    t = Catalogue("zh")
    svg = str(lineage_svg("88.101.5/A", [
        {"id": "88.101.5/P", "href": "88.101.5/P", "depth": 1, "relation": "部件", "node": None},
        {"id": "<b>x</b>", "href": "99.1/<b>", "depth": 1, "relation": "部件", "node": "99.1 (节点 99.1)"}],
        [], t))
    assert svg.count('class="ours"') == 1 and svg.count('class="theirs"') == 1
    assert "来源节点 99.1 (节点 99.1)" in svg and "其他节点记录" in svg
    assert "<b>" not in svg and "&lt;b&gt;x&lt;/b&gt;" in svg
    assert lineage_svg("88.101.5/A", [], [], t) is None
