"""Cost before trust, written as the attacks of the hardening review (issue 14, items 1, 3, 4, 17).

Each test does what an attacker did to the node, on a real node on loopback, and checks that the
node refuses it before paying what the attacker controls: a body is not read before its sender is
known and admitted, a secret is not hashed before the write is authorized, a verifier's own scrypt
parameters never decide what a login costs, and a body declared too large is refused from its headers.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time

import pytest
import requests

from protocol import bodies as b
from protocol.codes import RC
from protocol.envelope import Op
from protocol.values import HandleValue
from resolver.credentials import SCRYPT_N, check_secret, hash_secret
from resolver.handleclient import SecretKey
from resolver.kdfpool import KdfPool
from resolver.lockout import Refused
from tests import handle_nodes as hn
from tests.nodes import ADMIN_SECRET, ENTERPRISES, basic, init_data

ADMIN = basic("300:0.NA/88.101", ADMIN_SECRET)
OWNER = basic("300:0.NA/88.101.5", ENTERPRISES["88.101.5"])
OTHER = basic("300:0.NA/88.101.6", ENTERPRISES["88.101.6"])  # an enterprise with no rights on 88.101.5
OTHER_KEY = SecretKey(300, "0.NA/88.101.6", ENTERPRISES["88.101.6"].encode())
JSON = {"Content-Type": "application/json"}


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    data = tmp_path_factory.mktemp("admission") / "data"
    init_data(data)
    n = hn.start(data)
    hn.put(n, "88.101.5/ITEM", [{"index": 1, "type": "URL", "data": "https://example.com/item"}], {"Authorization": OWNER})
    yield n
    n.stop()


def headers_only(node, method: str, path: str, length: int, auth: str | None = None,
                 content_type: str = "application/json") -> tuple[int, bytes]:
    """Send a request's headers declaring a ``length``-byte body, and none of the body: the answer
    must come from the headers alone (a node that waits for the body times this out)."""
    head = [f"{method} {path} HTTP/1.1", "Host: idnode", f"Content-Length: {length}", f"Content-Type: {content_type}"]
    if auth:
        head.append(f"Authorization: {auth}")
    with socket.create_connection(("127.0.0.1", node.port), timeout=5) as s:
        s.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = s.recv(65536)
            if not chunk:
                break
            answer += chunk
        head_part, _, rest = answer.partition(b"\r\n\r\n")
        n = int(next((ln.split(b":", 1)[1] for ln in head_part.split(b"\r\n")
                      if ln.lower().startswith(b"content-length:")), b"0"))
        while len(rest) < n:
            chunk = s.recv(65536)
            if not chunk:
                break
            rest += chunk
    return int(answer.split(b" ", 2)[1]), rest


WRITE_ROUTES = [("PUT", "/api/handles/88.101.5/NEW"), ("POST", "/api/batch"), ("POST", "/capture"),
                ("POST", "/api/events"), ("POST", "/api/templates"), ("POST", "/api/prefixes"),
                ("POST", "/api/prefixes/88.101.5/secret")]


# --- 1: bodies parsed before authentication ---------------------------------------------------------
@pytest.mark.parametrize("method,path", WRITE_ROUTES)
def test_an_anonymous_30_mb_write_is_refused_from_its_headers(node, method, path):
    """The attack: anonymous 30 MB bodies of [{},{},…] took the process from 57 MB to 2.4 GB. Now the
    401 comes before a byte of the body is sent."""
    status, body = headers_only(node, method, path, 30_000_000)
    assert status == 401, body
    assert json.loads(body)["responseCode"] == RC.AUTHENTICATION_NEEDED and b"authentication" in body


@pytest.mark.parametrize("method,path", [("PUT", "/api/handles/88.101.5/NEW"), ("POST", "/api/prefixes"),
                                         ("POST", "/api/prefixes/88.101.5/secret")])
def test_a_tenant_without_rights_is_refused_before_its_body_is_read(node, method, path):
    status, body = headers_only(node, method, path, 30_000_000, auth=OTHER)
    assert status == 403, body
    assert json.loads(body)["responseCode"] == RC.NOT_AUTHORIZED


def test_an_anonymous_body_that_is_sent_anyway_costs_about_its_size(node):
    """Sent in full (4 × 30 MB of [{},…]), the bodies are not parsed: the node's memory stays put."""
    before = _rss(node)
    body = b"[" + b"{}," * 10_000_000 + b"{}]"
    for _ in range(4):
        try:
            r = requests.put(node.api("88.101.5/NEW"), data=body, headers=JSON, timeout=30)
            assert r.status_code == 401
        except requests.ConnectionError:
            pass  # the node answered and closed without reading the rest: as good
    assert _rss(node) - before < 100 << 20
    assert requests.get(node.url + "/healthz", timeout=5).status_code == 200


# --- 17: a huge Content-Length -------------------------------------------------------------------
@pytest.mark.parametrize("method,path", WRITE_ROUTES[:4])
def test_a_100_mb_content_length_gets_413_at_once(node, method, path):
    status, body = headers_only(node, method, path, 100_000_000, auth=OWNER)
    assert status == 413, body
    assert b"larger than the limit" in body


# --- 17: conditional writes ----------------------------------------------------------------------
def test_a_read_modify_write_that_lost_the_race_gets_412_and_writes_nothing(node):
    url = node.api("88.101.5/ETAG")
    hn.put(node, "88.101.5/ETAG", [{"index": 1, "type": "URL", "data": "https://example.com/v1"}],
           {"Authorization": OWNER})
    first = requests.get(url)
    etag = first.headers["ETag"]
    assert etag.startswith('"') and requests.get(url).headers["ETag"] == etag  # stable while unchanged
    values = first.json()["values"]
    # Two clients read version 1; the first writes, the second's write names a version that is gone.
    a = requests.put(url, json={"values": [{**values[0], "data": "https://example.com/a"}]},
                     headers={**JSON, "Authorization": OWNER, "If-Match": etag})
    assert a.status_code == 200 and a.headers["ETag"] != etag and a.headers["ETag"] == requests.get(url).headers["ETag"]
    lost = requests.put(url, json={"values": [{**values[0], "data": "https://example.com/b"}]},
                        headers={**JSON, "Authorization": OWNER, "If-Match": etag})
    assert lost.status_code == 412, lost.text
    assert "has changed" in lost.json()["message"] and lost.json()["field"] == "If-Match"
    assert requests.get(url).json()["values"][0]["data"]["value"] == "https://example.com/a"
    # create-only: If-None-Match: * never replaces
    again = requests.put(url, json={"values": values}, headers={**JSON, "Authorization": OWNER, "If-None-Match": "*"})
    assert again.status_code == 412 and again.json()["responseCode"] == RC.HANDLE_ALREADY_EXISTS
    created = requests.put(node.api("88.101.5/ETAG-NEW"), json={"values": values},
                           headers={**JSON, "Authorization": OWNER, "If-None-Match": "*"})
    assert created.status_code == 201 and created.headers["ETag"]
    absent = requests.put(node.api("88.101.5/ETAG-ABSENT"), json={"values": values},
                          headers={**JSON, "Authorization": OWNER, "If-Match": "*"})
    assert absent.status_code == 412 and requests.get(node.api("88.101.5/ETAG-ABSENT")).status_code == 404


# --- 3: hashing secrets before the permission check --------------------------------------------------
def _secrets(n: int) -> list[HandleValue]:
    return [HandleValue(300 + i, "HS_SECKEY", f"guess-{i}".encode()) for i in range(n)]


@pytest.mark.serial  # a wall-time bound: run alone
def test_secrets_written_by_someone_without_rights_are_not_hashed(node):
    """The attack: 150 HS_SECKEY values from an identity with no rights on the handle froze the event
    loop for 8.7 s (scrypt each) before the 403. Now the refusal comes first, over both protocols."""
    t0 = time.perf_counter()
    ans = hn.client(node).call(Op.CREATE_HANDLE, b.CreateHandleRequest("88.101.5/TAKEN", tuple(_secrets(150))),
                               OTHER_KEY)
    elapsed = time.perf_counter() - t0
    assert ans.rc == RC.NOT_AUTHORIZED, ans
    assert elapsed < 3.0, f"{elapsed:.1f} s: 150 secrets were hashed before the refusal"
    values = [{"index": 300 + i, "type": "HS_SECKEY", "data": f"guess-{i}"} for i in range(150)]
    t0 = time.perf_counter()
    r = requests.put(node.api("88.101.5/TAKEN"), json={"values": values}, headers={**JSON, "Authorization": OTHER})
    assert r.status_code == 403 and time.perf_counter() - t0 < 3.0


@pytest.mark.serial  # a wall-time bound: run alone
def test_a_refused_batch_of_secrets_hashes_none_and_holds_nobody_up(node):
    """The attack: a batch of 300 such items, all refused, held every tenant's writes for 21 s."""
    ops = [{"op": "create", "handle": f"88.101.5/M{i}", "values": [{"index": 300, "type": "HS_SECKEY",
                                                                     "data": f"s{i}"}]} for i in range(100)]
    done: dict = {}

    def attack() -> None:
        done["batch"] = requests.post(node.url + "/api/batch", json={"operations": ops},
                                      headers={**JSON, "Authorization": OTHER}, timeout=60)

    t = threading.Thread(target=attack)
    t0 = time.perf_counter()
    t.start()
    time.sleep(0.05)
    other = requests.put(node.api("88.101.5/MEANWHILE"), json={"values": [{"index": 1, "type": "URL", "data": "x"}]},
                         headers={**JSON, "Authorization": OWNER})
    waited = time.perf_counter() - t0
    t.join()
    assert other.status_code == 201 and waited < 3.0, f"another tenant's write waited {waited:.1f} s"
    out = done["batch"].json()
    assert out["failed"] == 100 and {r["responseCode"] for r in out["results"]} == {RC.NOT_AUTHORIZED}
    assert time.perf_counter() - t0 < 4.0


def test_a_batch_of_member_secrets_by_their_owner_is_hashed_and_works(node):
    """The hand-back path (the writer thread returns a batch with secrets, hashed elsewhere) writes."""
    ops = [{"op": "create", "handle": f"88.101.5/MEMBER{i}", "values": [
        hn.admin_value(f"88.101.5/MEMBER{i}", 300, "111111111111"),
        {"index": 300, "type": "HS_SECKEY", "data": f"member-secret-{i}", "permissions": "1100"}]} for i in range(3)]
    ops.append({"op": "create", "handle": "88.101.5/PLAIN", "values": [{"index": 1, "type": "URL", "data": "y"}]})
    r = requests.post(node.url + "/api/batch", json={"operations": ops}, headers={**JSON, "Authorization": OWNER})
    assert r.status_code == 200 and r.json()["succeeded"] == 4, r.text
    login = requests.post(node.url + "/api/token", headers={"Authorization": basic("300:88.101.5/MEMBER1",
                                                                                   "member-secret-1")})
    assert login.status_code == 201, login.text
    wrong = requests.post(node.url + "/api/token", headers={"Authorization": basic("300:88.101.5/MEMBER1", "nope")})
    assert wrong.status_code == 401


# --- 4: caller-chosen scrypt parameters --------------------------------------------------------------
def test_a_verifier_with_the_callers_own_scrypt_parameters_is_refused(node):
    """The attack: HS_SECKEY data shaped like a verifier with p=100000 was stored as given, and each
    login for it then took hours of CPU."""
    costly = "scrypt:16384:8:100000:c2FsdHNhbHRzYWx0c2FsdA==:" + "A" * 43 + "="
    r = requests.put(node.api("88.101.5/COSTLY"), json={"values": [
        {"index": 300, "type": "HS_SECKEY", "data": costly}]}, headers={**JSON, "Authorization": OWNER})
    assert r.status_code == 400 and r.json()["responseCode"] == RC.INVALID_VALUE, r.text
    assert "p=100000" in r.json()["message"] and "not this node's" in r.json()["message"]
    assert requests.get(node.api("88.101.5/COSTLY")).status_code == 404
    # a verifier the node itself made (an export of this node) is still taken as it is
    own = hash_secret("exported-secret")
    r = requests.put(node.api("88.101.5/EXPORTED"), json={"values": [
        hn.admin_value("88.101.5/EXPORTED", 300, "111111111111"),
        {"index": 300, "type": "HS_SECKEY", "data": own, "permissions": "1100"}]},
        headers={**JSON, "Authorization": OWNER})
    assert r.status_code == 201, r.text


def test_a_stored_verifier_that_names_a_huge_cost_matches_nothing_at_once():
    """A verifier left from before (or written around the API) cannot make a login cost hours."""
    out: dict = {}
    costly = f"scrypt:{SCRYPT_N}:8:100000:c2FsdHNhbHRzYWx0c2FsdA==:" + "A" * 43 + "="
    t = threading.Thread(target=lambda: out.setdefault("ok", check_secret("guess", costly)), daemon=True)
    t.start()
    t.join(2.0)
    assert out == {"ok": False}, "the check ran at the verifier's own cost"
    assert check_secret("right", hash_secret("right")) and not check_secret("wrong", hash_secret("right"))


def test_verification_has_its_own_bounded_pool_fair_between_identities():
    """Eight slow checks for one identity do not fill the pool: past ``per_key`` they are refused at
    once (503, retry), and another identity's check still gets a thread."""

    async def scenario() -> None:
        pool = KdfPool("verification", threads=2, queue=64, per_key=2)
        gate = threading.Event()
        slow = [asyncio.ensure_future(pool.run(gate.wait, 10, keys=("id:attacked",))) for _ in range(2)]
        await asyncio.sleep(0)
        with pytest.raises(Refused) as e:
            await pool.run(gate.wait, 10, keys=("id:attacked",))
        assert e.value.status == 503 and e.value.rc == RC.SERVER_TOO_BUSY
        gate.set()
        assert await pool.run(lambda: "other tenant", keys=("id:other",)) == "other tenant"
        await asyncio.gather(*slow)
        assert len(pool) == 0
        # the same check in flight is made once
        calls = []
        gate2 = threading.Event()

        def check() -> bool:
            calls.append(1)
            gate2.wait(5)
            return True

        shared = [asyncio.ensure_future(pool.run(check, keys=("id:x",), share=b"same")) for _ in range(5)]
        await asyncio.sleep(0.05)
        gate2.set()
        assert await asyncio.gather(*shared) == [True] * 5 and len(calls) == 1
        pool.shutdown()

    asyncio.run(scenario())


def _rss(node) -> int:
    for line in open(f"/proc/{node.proc.pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")
