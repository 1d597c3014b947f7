"""Anonymous guessing cannot stop replication (issue 14, item 11): a guesser locks the primary's admin
identity out, and the mirror that proved that identity from its own address goes on following."""

from __future__ import annotations

import http.client
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.federation_nodes import eventually
from tests.nodes import ADMIN_SECRET, NODE_PREFIX, Node, basic, init_data

pytestmark = pytest.mark.serial  # guessing storms against a primary and its mirror, timed: run alone

ADMIN_ID = f"300:0.NA/{NODE_PREFIX}"
OWNER = {"Authorization": basic("300:0.NA/88.101.5", "acme-secret-5")}
SETTINGS = "lockout_failures = 3\nlockout_address_failures = 100\nlockout_seconds = 60\nlockout_max_seconds = 600\n"


def get_from(node: Node, source: str, path: str, authorization: str) -> int:
    """A request from another loopback address (127.0.0.2, …), as another machine would send it."""
    conn = http.client.HTTPConnection("127.0.0.1", node.port, timeout=10, source_address=(source, 0))
    try:
        conn.request("GET", path, headers={"Authorization": authorization})
        r = conn.getresponse()
        r.read()
        return r.status
    finally:
        conn.close()


def test_guesses_for_the_primarys_identity_do_not_stop_its_mirror(tmp_path):
    init_data(tmp_path / "primary")
    cfg = tmp_path / "primary.toml"
    cfg.write_text(SETTINGS)
    primary = Node(tmp_path / "primary", "--config", str(cfg)).start()
    mirror = None
    try:
        mirror = Node(tmp_path / "mirror", "--role", "mirror", "--primary", primary.url, "--primary-identity", ADMIN_ID,
                      "--primary-secret", ADMIN_SECRET).start(timeout=60)
        # Twelve anonymous bad guesses from elsewhere lock the identity out.
        wrong = basic(ADMIN_ID, "a-bad-guess")
        statuses = [get_from(primary, "127.0.0.2", "/api/replication/status", wrong) for _ in range(12)]
        assert statuses[:3] == [401] * 3 and set(statuses[3:]) == {429}, statuses
        # The right secret from an address that never proved it is refused: the lock-out holds.
        assert get_from(primary, "127.0.0.3", "/api/replication/status", basic(ADMIN_ID, ADMIN_SECRET)) == 429
        # The mirror, which proved the identity from its address, still follows.
        r = requests.put(primary.api("88.101.5/AFTER-GUESSES"), headers=OWNER,
                         json={"values": [{"index": 1, "type": "URL", "data": "https://example.com/a"}]})
        assert r.status_code == 201, r.text
        eventually(lambda: requests.get(mirror.api("88.101.5/AFTER-GUESSES")).status_code == 200, timeout=30)
        st = requests.get(mirror.url + "/api/replication/status",
                          headers={"Authorization": basic(ADMIN_ID, ADMIN_SECRET)}).json()
        assert st["error"] is None, st
    finally:
        if mirror is not None:
            mirror.stop()
        primary.stop()


def test_guesses_at_the_top_level_node_do_not_stop_a_secondarys_upstream_link(tmp_path):
    """Twelve anonymous bad guesses for a secondary's upstream identity at the top-level node's HTTP port
    lock that identity out there; the secondary, which proved it from its own address over the Handle
    port, still delivers a new prefix, and nothing is left in its outbox."""
    from tests.federation_nodes import DELEGATE_SECRETS, JSON, admin, three_nodes

    with three_nodes(tmp_path) as (top, a, _b):
        def upstream(prefix: str) -> bool:
            return requests.get(top.api(f"0.NA/{prefix}")).status_code == 200

        eventually(lambda: upstream("88.101.5"), what="the first sync of 88.101")
        up_id = "300:0.NA/88.101"
        wrong = basic(up_id, "a-bad-guess")
        # The secondary's own right proofs (a statistics report a second) reset the identity's count, so
        # the guesser sends its guesses four at a time (the verification pool's share for one identity),
        # so that ten land between two of those proofs however slow this machine is, until the lock-out
        # holds.
        statuses: list[int] = []
        with ThreadPoolExecutor(4) as pool:
            while 429 not in statuses and len(statuses) < 120:
                statuses += pool.map(lambda _: get_from(top, "127.0.0.2", "/api/prefixes", wrong), range(4))
        assert 429 in statuses and set(statuses) <= {401, 429}, statuses
        assert get_from(top, "127.0.0.3", "/api/prefixes", basic(up_id, DELEGATE_SECRETS["88.101"])) == 429
        r = requests.post(a.url + "/api/prefixes", json={"prefix": "88.101.7"}, headers={**JSON, **admin("88.101")})
        assert r.status_code == 201, r.text
        eventually(lambda: upstream("88.101.7"), what="0.NA/88.101.7 delivered upstream despite the guessing")

        def drained() -> bool:
            st = requests.get(a.url + "/api/federation", headers=admin("88.101")).json()
            return all(not u["failing"] and u["waiting"] == 0 for u in st["upstreams"])

        eventually(drained, what="an empty outbox and no upstream error")
