"""Federation when things go wrong: a top-level node down (the outbox waits, a second top-level node
takes over resolution), a secondary restarted with work still queued, a referral loop between two
misconfigured nodes, and a site of two servers that spreads its handles by the RFC 3652 hash."""

from __future__ import annotations

import time

import pytest
import requests

from protocol.codes import RC
from protocol.envelope import REC
from protocol.site import HASH_BY_ALL, Site, server_number
from resolver.handleclient import HandleClient
from tests.federation_nodes import (
    JSON,
    admin,
    eventually,
    init_secondary,
    init_top,
    owner,
    register,
    site_value,
    start_secondary,
    start_top,
    top_admin,
)
from tests.handle_nodes import start

NEW = ["88.101.20", "88.101.21", "88.101.22"]


def status(node, prefix: str = "88.101") -> dict:
    return requests.get(node.url + "/api/federation", headers=admin(prefix)).json()


def na_records(top) -> list[str]:
    r = requests.get(top.url + "/api/handles", params={"prefix": "0.NA", "pageSize": "1000"}, headers=top_admin())
    assert r.status_code == 200, r.text
    return sorted(r.json()["handles"])


def test_top_down_outbox_waits_and_second_top_takes_over(tmp_path):
    for name in ("t1", "t2"):
        init_top(tmp_path / name)
    init_secondary(tmp_path / "a", "88.101")
    init_secondary(tmp_path / "b", "88.102")
    t1, t2 = start_top(tmp_path / "t1"), start_top(tmp_path / "t2")
    quiet = ("--stats-interval", "3600")  # no reports: the outbox holds only what the test queues
    a = start_secondary(tmp_path / "a", "88.101", [t1, t2], *quiet)
    b = start_secondary(tmp_path / "b", "88.102", [t1, t2], *quiet)
    try:
        for t in (t1, t2):
            eventually(lambda t=t: requests.get(t.api("0.NA/88.101.5")).status_code == 200)
        t1.stop()

        # Local work on A goes on.
        register(a, "88.101.5/WHILE-DOWN", "https://example.com/down", owner("88.101"))
        assert requests.get(a.api("88.101.5/WHILE-DOWN")).status_code == 200
        hdr = {**JSON, **admin("88.101")}
        for p in NEW:
            assert requests.post(a.url + "/api/prefixes", json={"prefix": p}, headers=hdr).status_code == 201

        # The second top-level node takes them, and resolution through it goes on.
        for p in NEW:
            eventually(lambda p=p: requests.get(t2.api(f"0.NA/{p}")).status_code == 200, what=f"{p} at t2")
        r = requests.get(b.api("88.101.5/WHILE-DOWN"), timeout=30)
        assert r.status_code == 200, r.text
        assert HandleClient("127.0.0.1", b.handle_port).resolve("88.101.5/WHILE-DOWN", opflags=REC).rc == RC.SUCCESS

        # What t1 must hear waits for it, and survives a restart of A.
        st = eventually(lambda: (s := status(a)) and [u for u in s["upstreams"]
                                                      if u["upstream"].endswith(str(t1.handle_port))
                                                      and u["waiting"] >= len(NEW) and u["lastError"]] and s,
                        what="entries waiting for t1")
        waiting_for_t2 = [u for u in st["upstreams"] if u["upstream"].endswith(str(t2.handle_port))][0]["waiting"]
        assert waiting_for_t2 == 0
        a.restart()
        assert [u["waiting"] for u in status(a)["upstreams"]][0] >= len(NEW)

        t1.start()
        for node, prefix in ((a, "88.101"), (b, "88.102")):
            eventually(lambda n=node, p=prefix: all(u["waiting"] == 0 for u in status(n, p)["upstreams"]),
                       timeout=60, what="the outbox drained")
        # Every prefix registered at t1, none lost, none twice; the outbox is empty.
        expected = sorted(["0.NA/88", "0.NA/88.101", "0.NA/88.102", "0.NA/88.101.5", "0.NA/88.102.3"]
                          + [f"0.NA/{p}" for p in NEW])
        assert na_records(t1) == expected
        assert na_records(t2) == expected
        assert status(a)["outbox"]["entries"] == 0
    finally:
        for n in (a, b, t1, t2):
            n.stop()


@pytest.mark.serial  # a wall-time bound: run alone
def test_referral_loop_ends_with_a_clear_error(tmp_path):
    init_top(tmp_path / "x", prefix="77", delegates=())
    init_top(tmp_path / "y", prefix="77", delegates=())
    x, y = start_top(tmp_path / "x"), start_top(tmp_path / "y")
    try:
        # Each thinks the other serves 77.1.
        for node, other in ((x, y), (y, x)):
            r = requests.put(node.api("0.NA/77.1"), json={"values": [site_value(1, [other.handle_port])]},
                             headers={**JSON, **top_admin("77")})
            assert r.status_code in (200, 201), r.text
        t0 = time.monotonic()
        r = requests.get(x.api("77.1/anything"), timeout=30)
        assert time.monotonic() - t0 < 10
        assert r.status_code == 508 and r.json()["responseCode"] == RC.RECURSION_COUNT_TOO_HIGH
        assert "loop" in r.json()["message"]
        ans = HandleClient("127.0.0.1", x.handle_port).resolve("77.1/anything", udp=False, opflags=REC)
        assert ans.rc == RC.RECURSION_COUNT_TOO_HIGH
        # The nodes stay healthy.
        assert requests.get(x.url + "/healthz").status_code == 200
    finally:
        x.stop()
        y.stop()


def test_site_of_two_servers_is_chosen_by_hash(tmp_path):
    init_top(tmp_path / "top", delegates=("88.102",))
    init_secondary(tmp_path / "b", "88.102")
    s1_data, s2_data = tmp_path / "s1", tmp_path / "s2"
    init_secondary(s1_data, "88.103")
    init_secondary(s2_data, "88.103")
    top = start_top(tmp_path / "top")
    servers = [start(s1_data), start(s2_data)]
    b = start_secondary(tmp_path / "b", "88.102", [top])
    try:
        ports = [s.handle_port for s in servers]
        r = requests.put(top.api("0.NA/88.103"), json={"values": [site_value(1, ports, HASH_BY_ALL)]},
                         headers={**JSON, **top_admin()})
        assert r.status_code in (200, 201), r.text
        handles = [f"88.103.1/ITEM-{n}" for n in range(12)]
        placed = {0: 0, 1: 0}
        for h in handles:
            n = server_number(h, HASH_BY_ALL, 2)
            placed[n] += 1
            register(servers[n], h, f"https://example.com/{h}", owner("88.103"))
        assert placed[0] and placed[1], "the hash put every handle on one server"
        for h in handles:
            r = requests.get(b.api(h))
            assert r.status_code == 200, (h, r.text)
            assert r.json()["values"][0]["data"]["value"] == f"https://example.com/{h}"
    finally:
        for n in (b, *servers, top):
            n.stop()


def test_metrics_and_readiness_show_an_upstream_that_is_down(tmp_path):
    init_top(tmp_path / "top")
    init_secondary(tmp_path / "a", "88.101")
    top = start_top(tmp_path / "top")
    a = start_secondary(tmp_path / "a", "88.101", [top], "--stats-interval", "3600")
    try:
        eventually(lambda: requests.get(top.api("0.NA/88.101.5")).status_code == 200)
        top.stop()
        hdr = {**JSON, **admin("88.101")}
        assert requests.post(a.url + "/api/prefixes", json={"prefix": "88.101.30"}, headers=hdr).status_code == 201

        def sample(name: str) -> float | None:
            for line in requests.get(a.url + "/metrics").text.splitlines():
                if line.startswith(name + "{") and f":{top.handle_port}" in line:
                    return float(line.rsplit(" ", 1)[1])
            return None

        eventually(lambda: sample("idnode_upstream_failing") == 1.0, what="the upstream reported failing")
        assert sample("idnode_outbox_entries") == 1.0
        assert sample("idnode_outbox_oldest_age_seconds") > 0
        ready = requests.get(a.url + "/readyz")
        assert ready.status_code == 200  # its own identifiers still resolve: it stays in rotation
        assert ready.json()["upstreams"][0] == {"upstream": f"127.0.0.1:{top.handle_port}", "waiting": 1,
                                                "ok": False}
        top.start()
        eventually(lambda: sample("idnode_outbox_entries") == 0.0 and sample("idnode_upstream_failing") == 0.0,
                   timeout=60, what="the outbox drained")
    finally:
        a.stop()
        top.stop()


def test_the_site_a_node_publishes_carries_its_advertised_address(tmp_path):
    from protocol import bodies as bd
    from protocol.envelope import Op

    init_secondary(tmp_path / "a", "88.101")
    node = start(tmp_path / "a", "--advertise", "10.1.2.3")
    try:
        c = HandleClient("127.0.0.1", node.handle_port)
        ans = c.tcp(c.message(Op.GET_SITE_INFO, bd.GenericRequest()))
        site = Site.from_wire(ans.body.site)
        assert site.servers[0].address_text == "10.1.2.3"
        assert {i.port for i in site.servers[0].interfaces} >= {node.handle_port}
    finally:
        node.stop()


def test_a_secondary_authenticates_upstream_with_a_private_key(tmp_path):
    import json

    from tests.nodes import idnode

    init_top(tmp_path / "top", delegates=("88.101",))
    init_secondary(tmp_path / "a", "88.101")
    keyfile = tmp_path / "up.pem"
    pub = json.loads(idnode("keygen", "--out", str(keyfile), "--index", "300").stdout)
    top = start_top(tmp_path / "top")
    try:
        # The top-level operator puts the secondary's public key where its secret was.
        r = requests.put(top.api("0.NA/88.101"), params={"index": "300"}, json={"values": [pub]},
                         headers={**JSON, **top_admin()})
        assert r.status_code == 200, r.text
        a = start(tmp_path / "a", "--upstream", f"127.0.0.1:{top.handle_port}", "--upstream-identity",
                  "300:0.NA/88.101", "--upstream-key", str(keyfile))
        try:
            eventually(lambda: requests.get(top.api("0.NA/88.101.5")).status_code == 200,
                       what="registration signed with the key")
        finally:
            a.stop()
    finally:
        top.stop()
