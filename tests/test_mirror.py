"""Mirrors: a read-only copy of a primary that starts from its snapshot and follows its change log
under write load, refers writes to it, resumes after a restart without loss or duplicates, and can be
promoted."""

from __future__ import annotations

import threading

import requests

from protocol.codes import RC
from tests.federation_nodes import eventually
from tests.nodes import ADMIN_SECRET, LONG, NODE_PREFIX, Node, basic, init_data

JSON = {"Content-Type": "application/json"}
ADMIN = {"Authorization": basic(f"300:0.NA/{NODE_PREFIX}", ADMIN_SECRET)}
OWNER = {"Authorization": basic("300:0.NA/88.101.5", "acme-secret-5")}
# Between the writer's batches of 50: a steady load that the mirror starts and restarts under, and a count
# of acknowledged writes the test can read back one by one. IDNODE_SLOW=1 writes flat out.
PAUSE = 0.0 if LONG else 0.2


def start_mirror(data, primary: Node) -> Node:
    return Node(data, "--role", "mirror", "--primary", primary.url, "--primary-identity",
                f"300:0.NA/{NODE_PREFIX}", "--primary-secret", ADMIN_SECRET).start(timeout=60)


def status(node: Node) -> dict:
    return requests.get(node.url + "/api/replication/status", headers=ADMIN).json()


class Writer(threading.Thread):
    """Registers handles on the primary until stopped; remembers what was acknowledged."""

    def __init__(self, primary: Node, tag: str):
        super().__init__(daemon=True)
        self.primary, self.tag = primary, tag
        self.acked: dict[str, str] = {}
        self.halt = threading.Event()

    def run(self) -> None:
        n = 0
        with requests.Session() as s:
            while not self.halt.is_set():
                ops = [{"op": "put", "handle": f"88.101.5/{self.tag}-{n + i}",
                        "values": [{"index": 1, "type": "URL", "data": f"https://example.com/{self.tag}/{n + i}"}]}
                       for i in range(50)]
                r = s.post(self.primary.url + "/api/batch", json={"operations": ops}, headers={**JSON, **OWNER})
                if r.status_code == 200:
                    for op in ops:
                        self.acked[op["handle"]] = op["values"][0]["data"]
                n += 50
                self.halt.wait(PAUSE)


def test_mirror_follows_refers_writes_resumes_and_is_promoted(tmp_path):
    init_data(tmp_path / "primary")
    primary = Node(tmp_path / "primary").start()
    mirror = None
    try:
        requests.put(primary.api("88.101.5/BEFORE"), json={"values": [{"index": 1, "type": "URL",
                                                                       "data": "https://example.com/before"}]},
                     headers={**JSON, **OWNER}).raise_for_status()
        w = Writer(primary, "LOAD")
        w.start()
        eventually(lambda: len(w.acked) >= 200, what="writes on the primary")
        mirror = start_mirror(tmp_path / "mirror", primary)  # starts from a snapshot taken under load
        assert requests.get(mirror.api("88.101.5/BEFORE")).status_code == 200
        eventually(lambda: status(mirror)["applied"] > 0, what="the mirror following")

        # Restart the mirror mid-stream: it resumes from its own last sequence.
        mirror.restart()
        eventually(lambda: len(w.acked) >= 800, timeout=60, what="more writes")
        w.halt.set()
        w.join()
        head = status(primary)["lastSequence"]
        eventually(lambda: status(mirror)["applied"] == head, timeout=60, what="the mirror catching up")
        st = status(mirror)
        assert st["role"] == "mirror" and st["lagEntries"] == 0 and st["error"] is None
        lag = [line for line in requests.get(mirror.url + "/metrics").text.splitlines()
               if line.startswith("idnode_mirror_lag_entries ")]
        assert lag == ["idnode_mirror_lag_entries 0.0"]

        # Every acknowledged write is there, with its value; counts agree (nothing applied twice).
        with requests.Session() as s:
            for h, url in w.acked.items():
                r = s.get(mirror.api(h))
                assert r.status_code == 200, (h, r.text)
                assert r.json()["values"][0]["data"]["value"] == url
        count = {n: requests.get(n.url + "/api/prefixes/88.101.5", headers=ADMIN).json()["handles"]
                 for n in (primary, mirror)}
        assert count[primary] == count[mirror] == len(w.acked) + 1

        # Writes get a referral to the primary (HTTP 307, response code 7) and change nothing here.
        r = requests.put(mirror.api("88.101.5/ON-MIRROR"), json={"values": []}, headers={**JSON, **OWNER},
                         allow_redirects=False)
        assert r.status_code == 307 and r.json()["responseCode"] == RC.SERVER_BACKUP
        assert r.headers["Location"] == primary.url + "/api/handles/88.101.5/ON-MIRROR"
        assert requests.get(mirror.api("88.101.5/ON-MIRROR")).status_code == 404
        # A client that follows the referral writes at the primary, and the mirror sees it. (requests
        # drops credentials on a redirect to another port, so the client sends them again itself.)
        body = {"values": [{"index": 1, "type": "URL", "data": "https://example.com/via"}]}
        r = requests.put(mirror.api("88.101.5/VIA-MIRROR"), headers={**JSON, **OWNER}, json=body,
                         allow_redirects=False)
        r = requests.put(r.headers["Location"], headers={**JSON, **OWNER}, json=body)
        assert r.status_code == 201, r.text
        eventually(lambda: requests.get(mirror.api("88.101.5/VIA-MIRROR")).status_code == 200)

        # Promotion: the mirror stops following and takes writes itself.
        r = requests.post(mirror.url + "/api/replication/promote", headers=ADMIN)
        assert r.status_code == 200, r.text
        r = requests.put(mirror.api("88.101.5/AFTER-PROMOTION"), headers={**JSON, **OWNER},
                         json={"values": [{"index": 1, "type": "URL", "data": "https://example.com/p"}]})
        assert r.status_code == 201, r.text
        assert requests.get(primary.api("88.101.5/AFTER-PROMOTION")).status_code == 404
        mirror.restart()  # still its own node after a restart
        assert requests.get(mirror.api("88.101.5/AFTER-PROMOTION")).status_code == 200
        assert status(mirror)["role"] == "primary"
    finally:
        if mirror is not None:
            mirror.stop()
        primary.stop()


def test_the_change_log_and_snapshots_are_for_the_node_admin(tmp_path):
    init_data(tmp_path / "primary")
    primary = Node(tmp_path / "primary").start()
    try:
        for path in ("/api/replication/changes", "/api/replication/snapshot"):
            assert requests.get(primary.url + path).status_code == 401
            assert requests.get(primary.url + path, headers=OWNER).status_code == 403
        r = requests.get(primary.url + "/api/replication/changes", params={"limit": "0"}, headers=ADMIN)
        assert r.status_code == 400 and "limit" in r.json()["message"]
    finally:
        primary.stop()
