"""Reports to the top-level node: a top-level node and a secondary on loopback, real traffic, and the
statistics the top-level node holds afterwards (README "Reports to the top-level node")."""

from __future__ import annotations

import datetime as dt

import pytest
import requests

from protocol.codes import RC
from resolver.handleclient import HandleClient
from tests.federation_nodes import (
    admin,
    eventually,
    init_secondary,
    init_top,
    owner,
    register,
    start_secondary,
    start_top,
    top_admin,
)
from tests.nodes import basic, idnode

pytestmark = pytest.mark.serial  # a lock-out storm of guesses, timed: run alone


def today() -> str:
    return dt.datetime.now(dt.UTC).date().isoformat()


def report_of(top, node: str = "88.101", date: str | None = None, headers: dict | None = None):
    r = requests.get(f"{top.url}/api/reports/{node}", params={"kind": "statistics", "date": date or today()},
                     headers=headers if headers is not None else top_admin())
    return r


def row(report: dict, prefix: str) -> dict:
    [got] = [p for p in report["prefixes"] if p["prefix"] == prefix]
    return got


def send(node) -> str:
    return idnode("report", "send", "--data", str(node.data)).stdout


@pytest.fixture()
def pair(tmp_path):
    init_top(tmp_path / "top")
    init_secondary(tmp_path / "a", "88.101")
    top = start_top(tmp_path / "top")
    a = start_secondary(tmp_path / "a", "88.101", [top], "--upstream-http", top.url, "--report-interval", "0",
                        "--stats-interval", "3600")
    try:
        yield top, a
    finally:
        a.stop()
        top.stop()


def traffic(a, *, registered: int, found: int, missing: int, udp: int, tag: str) -> None:
    for i in range(registered):
        register(a, f"88.101.5/{tag}-{i}", f"https://example.com/{tag}/{i}", owner("88.101"))
    for i in range(found):
        assert requests.get(a.api(f"88.101.5/{tag}-{i % registered}")).status_code == 200
    for i in range(missing):
        assert requests.get(a.api(f"88.101.5/{tag}-absent-{i}")).status_code == 404
    client = HandleClient("127.0.0.1", a.handle_port, timeout=10.0)
    for i in range(udp):
        assert client.resolve(f"88.101.5/{tag}-{i % registered}").rc == RC.SUCCESS


def test_statistics_reach_the_top_level_node_with_exactly_the_counts_of_the_traffic(pair):
    top, a = pair
    traffic(a, registered=7, found=23, missing=5, udp=11, tag="SN")
    out = send(a)
    assert f"statistics/{today()}" in out
    r = eventually(lambda: (r := report_of(top)).status_code == 200 and r, what="the statistics report upstream")
    rep = r.json()
    assert rep["node"] == "88.101" and rep["date"] == today() and rep["from"] == "300:0.NA/88.101"
    ent = row(rep, "88.101.5")
    assert ent["registeredToday"] == 7 and ent["registeredTotal"] == 7
    assert ent["resolutionsToday"] == 23 + 5 + 11
    assert ent["resolvedToday"] == 23 + 11
    assert ent["sources"] == [{"ip": "127.0.0.1", "count": 23 + 5 + 11}]
    node = row(rep, "88.101")
    assert node["registeredToday"] == 1 and node["registeredTotal"] == 1  # 88.101.5, allocated today
    mon = rep["monitoring"]
    assert 1 <= mon["resolution"]["sampled"] <= 23 + 5 + 11  # one resolution in 8 is timed
    assert 0 < mon["resolution"]["minMs"] <= mon["resolution"]["avgMs"] <= mon["resolution"]["maxMs"]
    assert mon["resolution"]["peakPerSecond"] >= 1 and mon["resolution"]["peakAt"].startswith(today())
    assert mon["registration"]["count"] == 7
    assert 0 < mon["availability"] <= 100

    # Sent again later the same day, the report grows: it replaces the day's report upstream.
    traffic(a, registered=2, found=3, missing=0, udp=0, tag="MORE")
    send(a)
    eventually(lambda: row(report_of(top).json(), "88.101.5")["registeredToday"] == 9, what="the new counts")
    ent = row(report_of(top).json(), "88.101.5")
    assert ent["resolutionsToday"] == 39 + 3 and ent["resolvedToday"] == 34 + 3


def test_counts_survive_a_restart_and_nothing_is_lost_while_the_top_level_node_is_down(pair):
    top, a = pair
    traffic(a, registered=3, found=4, missing=1, udp=0, tag="A")
    a.restart()  # the counts so far are in the store: a restart loses none of them
    top.stop()
    traffic(a, registered=2, found=6, missing=0, udp=2, tag="B")
    send(a)  # queued while the top-level node is down: it waits in the outbox
    st = eventually(lambda: (s := requests.get(a.url + "/api/federation", headers=admin("88.101")).json())
                    ["upstreams"][0]["lastError"] and s, what="the delivery failing")
    assert st["outbox"]["entries"] >= 1
    top.start()
    r = eventually(lambda: (r := report_of(top)).status_code == 200 and r, timeout=60, what="the report after")
    ent = row(r.json(), "88.101.5")
    assert ent["registeredToday"] == 5 and ent["registeredTotal"] == 5
    assert ent["resolutionsToday"] == 4 + 1 + 6 + 2 and ent["resolvedToday"] == 4 + 6 + 2


def test_only_the_secondary_itself_sends_its_reports_and_only_admins_read_them(pair):
    top, a = pair
    url = f"{top.url}/api/reports/88.101/statistics/{today()}"
    body = {"node": "88.101", "prefixes": []}
    r = requests.put(url, json=body)  # anonymous
    assert r.status_code == 401 and r.json()["responseCode"] == RC.AUTHENTICATION_NEEDED
    r = requests.put(url, json=body, headers=top_admin())  # the top-level node's own admin is not 88.101
    assert r.status_code == 403 and "only 300:0.NA/88.101" in r.json()["message"]
    r = requests.put(f"{top.url}/api/reports/88.102/statistics/{today()}", json=body,
                     headers={"Authorization": basic("300:0.NA/88.101", "a-upstream-secret")})
    assert r.status_code == 403  # a secondary cannot write another's reports
    r = requests.put(f"{top.url}/api/reports/88.101/statistics/yesterday", json=body,
                     headers={"Authorization": basic("300:0.NA/88.101", "a-upstream-secret")})
    assert r.status_code == 400 and r.json()["field"] == "key"
    r = requests.put(f"{top.url}/api/reports/88.101/bogus/{today()}", json=body,
                     headers={"Authorization": basic("300:0.NA/88.101", "a-upstream-secret")})
    assert r.status_code == 400 and "kind must be one of" in r.json()["message"]
    assert report_of(top).status_code == 404  # nothing was kept
    assert report_of(top, headers={}).status_code == 401
    r = report_of(top, headers={"Authorization": basic("300:0.NA/88.101.5", "acme-secret-5")})
    assert r.status_code in (401, 403)
    r = report_of(top, date="2026-02-30")
    assert r.status_code == 400 and r.json()["field"] == "date"
    # The secondary's own node (not a top-level node) keeps no reports.
    r = requests.get(f"{a.url}/api/reports/88.101", params={"kind": "statistics"}, headers=admin("88.101"))
    assert r.status_code == 404


def test_report_send_without_an_upstream_says_so(tmp_path):
    init_secondary(tmp_path / "solo", "88.101")
    with pytest.raises(AssertionError, match="no upstream top-level node"):
        idnode("report", "send", "--data", str(tmp_path / "solo"))


def reports(top, node: str, kind: str, key: str) -> requests.Response:
    return requests.get(f"{top.url}/api/reports/{node}", params={"kind": kind, "key": key}, headers=top_admin())


def test_the_other_tables_arrive_from_what_the_node_holds_and_only_when_changed(pair, tmp_path):
    top, a = pair
    hdr = {"Content-Type": "application/json"}
    operator = {"name": "Acme Industrial Internet Co.", "nature": "enterprise", "creditCode": "91110000MA01ABCDE1",
                "legalRepresentative": "Zhang San", "industries": "C38", "website": "https://acme.example",
                "domain": "acme.example", "ipv4": "192.0.2.10"}
    r = requests.put(f"{a.url}/api/prefixes/88.101/owner", json=operator, headers={**hdr, **admin("88.101")})
    assert r.status_code == 200, r.text
    r = requests.put(f"{a.url}/api/prefixes/88.101.5/owner", json={"name": "Motor Works", "creditCode": "X1"},
                     headers={**hdr, **owner("88.101")})  # an enterprise sets its own
    assert r.status_code == 200, r.text
    r = requests.put(f"{a.url}/api/prefixes/88.101/owner", json={"name": "Not mine"},
                     headers={**hdr, **owner("88.101")})
    assert r.status_code == 403
    r = requests.put(f"{a.url}/api/prefixes/88.101.5/owner", json={"shoeSize": "42"},
                     headers={**hdr, **admin("88.101")})
    assert r.status_code == 400 and "owner.shoeSize" in r.json()["message"]
    tpl = {"prefix": "88.101.5", "version": "1.0", "name": "motor", "industry": "C3812",
           "fields": [{"name": "brand", "index": 2001, "required": True, "constraints": {"maxLength": 20}},
                      {"name": "productName", "index": 2002}]}
    r = requests.post(a.url + "/api/templates", json=tpl, headers={**hdr, **owner("88.101")})
    assert r.status_code in (200, 201), r.text
    values = [{"index": 1, "type": "URL", "data": "https://acme.example/m1"},
              {"index": 1001, "type": "TEMPLATE", "data": "1.0"},
              {"index": 2001, "type": "brand", "data": "Acme"}, {"index": 2002, "type": "productName", "data": "M1"}]
    r = requests.put(a.api("88.101.5/M1"), json={"values": values}, headers={**hdr, **owner("88.101")})
    assert r.status_code == 201, r.text
    register(a, "88.101.5/GONE", "https://acme.example/gone", owner("88.101"))
    assert requests.delete(a.api("88.101.5/GONE"), headers=owner("88.101")).status_code == 200
    apps = tmp_path / "apps.json"
    apps.write_text('[{"name": "Scan it", "type": "mini-program", "users": 1200, "developer": "Acme"},'
                    ' {"name": "Line camera", "type": "pc", "prefix": "88.101.5"}]')
    assert "2 application(s) kept" in idnode("report", "applications", str(apps), "--data", str(a.data)).stdout
    bad = tmp_path / "bad.json"
    bad.write_text('[{"name": "x", "type": "fax"}]')
    p = idnode("report", "applications", str(bad), "--data", str(a.data), check=False)
    assert p.returncode == 2 and "type must be one of" in p.stderr

    out = send(a)
    month = today()[:7]
    for q in ("operator/current", "enterprises/current", "configuration/current", f"metadata/{today()}",
              f"masterdata/{today()}", f"applications/{month}", f"statistics/{today()}"):
        assert f"queued {q}" in out
    got = eventually(lambda: (r := reports(top, "88.101", "applications", month)).status_code == 200 and r.json(),
                     what="the applications upstream")
    assert [x["name"] for x in got["applications"]] == ["Scan it"]
    assert got["applications"][0]["users"] == 1200 and got["enterprises"][0]["prefix"] == "88.101.5"
    op = reports(top, "88.101", "operator", "current").json()["operator"]
    assert op["creditCode"] == "91110000MA01ABCDE1" and op["prefix"] == "88.101"
    ents = reports(top, "88.101", "enterprises", "current").json()["enterprises"]
    assert [(e["prefix"], e["name"]) for e in ents] == [("88.101.5", "Motor Works")]
    conf = reports(top, "88.101", "configuration", "current").json()
    [route] = conf["routes"]
    assert route["ipType"] == "IPv4" and route["address"] == "127.0.0.1"
    assert {"protocol": "UDP", "port": a.handle_port} in route["protocols"]
    assert {"protocol": "TCP", "port": a.handle_port} in route["protocols"]
    assert {x["prefix"] for x in conf["prefixes"]} == {"88.101", "88.101.5"}
    meta = reports(top, "88.101", "metadata", today()).json()["templates"]
    assert meta[0]["id"] == "88.101.5:1.0" and meta[0]["industry"] == "C3812"
    assert meta[0]["fields"][0] == {"name": "brand", "alias": "brand", "type": meta[0]["fields"][0]["type"],
                                    "length": 20}
    master = {x["code"]: x for x in reports(top, "88.101", "masterdata", today()).json()["identifiers"]}
    assert master["88.101.5/M1"]["operation"] == 1 and master["88.101.5/M1"]["created"] == today()
    assert master["88.101.5/M1"]["brand"] == "Acme" and master["88.101.5/M1"]["productName"] == "M1"
    assert master["88.101.5/M1"]["template"] == "88.101.5:1.0"
    assert master["88.101.5/gone"]["operation"] == 2  # a deleted record keeps only its folded key

    # Nothing changed: only the daily tables of today are sent again.
    out = send(a)
    assert "queued operator" not in out and "queued configuration" not in out and "queued metadata" not in out
    assert f"queued statistics/{today()}" in out and f"queued masterdata/{today()}" in out


def events(top, node: str = "88.101") -> list[dict]:
    r = requests.get(f"{top.url}/api/reports/{node}", params={"kind": "event"}, headers=top_admin())
    assert r.status_code == 200, r.text
    return [reports(top, node, "event", k["key"]).json() for k in r.json()["reports"]]


def test_an_unreachable_top_level_node_is_an_abnormal_event_then_a_recovery(pair):
    top, a = pair
    top.stop()
    send(a)  # something to deliver: the failure is seen, and after the grace an abnormal event is raised
    eventually(lambda: "event 1 abnormal" in a.log.read_text(), timeout=30, what="the abnormal event")
    top.start()
    got = eventually(lambda: len(evs := events(top)) >= 2 and evs, timeout=60, what="both events upstream")
    abnormal, normal = sorted(got, key=lambda e: e["number"])[:2]
    assert abnormal["type"] == "abnormal" and abnormal["category"] == 1 and abnormal["closes"] is None
    assert abnormal["condition"].startswith("upstream:") and "cannot be reached" in abnormal["cause"]
    assert normal["type"] == "normal" and normal["closes"] == abnormal["number"] and normal["category"] == 1
    assert normal["at"] >= abnormal["at"]


def test_a_lockout_storm_is_a_security_event(tmp_path):
    init_top(tmp_path / "top")
    init_secondary(tmp_path / "a", "88.101")
    top = start_top(tmp_path / "top")
    a = start_secondary(tmp_path / "a", "88.101", [top], "--upstream-http", top.url, "--report-interval", "0")
    try:
        for n in range(6):
            for _ in range(10):
                r = requests.get(f"{a.url}/api/prefixes", headers={"Authorization": basic(f"300:0.NA/88.101.{n}",
                                                                                           "wrong-secret")})
                assert r.status_code in (401, 403, 429)
        got = eventually(lambda: [e for e in events(top) if e["condition"] == "lockouts"], timeout=30,
                         what="the security event upstream")
        assert got[0]["type"] == "abnormal" and got[0]["category"] == 3 and "locked out" in got[0]["cause"]
    finally:
        a.stop()
        top.stop()


def test_the_monthly_report_holds_the_month_s_figures_in_markdown_and_self_contained_html(tmp_path):
    from tests.handle_nodes import start

    init_secondary(tmp_path / "solo", "88.101")
    node = start(tmp_path / "solo")
    try:
        for i in range(4):
            register(node, f"88.101.5/MONTH-{i}", f"https://e.x/m/{i}", owner("88.101"))
        for i in range(9):
            requests.get(node.api(f"88.101.5/MONTH-{i % 4}"))
        requests.get(node.api("88.101.5/NOPE"))
    finally:
        node.stop()  # a clean stop flushes the last counts
    month = today()[:7]
    out = idnode("report", "monthly", "--month", month, "--out", str(tmp_path / "r"), "--data",
                 str(tmp_path / "solo")).stdout
    md = (tmp_path / "r" / f"monthly-88.101-{month}.md").read_text()
    page = (tmp_path / "r" / f"monthly-88.101-{month}.html").read_text()
    assert str(tmp_path / "r" / f"monthly-88.101-{month}.md") in out
    assert "| resolutions / answered / registrations | 10 / 9 / 4 |" in md
    [day_row] = [line for line in md.splitlines() if line.startswith(f"| {today()} |")]
    assert day_row.startswith(f"| {today()} | 10 | 9 | 4 |")
    [sla] = [line for line in md.splitlines() if line.startswith(f"| {month} |")]
    assert "—" not in sla.split("|")[2]  # this month's availability is measured
    assert page.startswith("<!DOCTYPE html>") and "<svg" in page and "<table>" in page
    assert "src=" not in page and "<link" not in page and "<script" not in page  # no external assets
    p = idnode("report", "monthly", "--month", "2026-13", "--data", str(tmp_path / "solo"), check=False)
    assert p.returncode != 0 and "YYYY-MM" in p.stderr
