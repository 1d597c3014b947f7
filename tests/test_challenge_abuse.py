"""Pending challenges under attack (issue 14, items 2 and 12), on a real node and on ``Challenges``.

What an anonymous client can make the node hold while a challenge waits is bounded per address and
in all, and freed on time; a challenge can be answered only on the connection (TCP) or from the
address (UDP) it was sent to, under a session id nobody can guess, and an answer from anyone else
neither consumes it nor learns anything.
"""

from __future__ import annotations

import asyncio
import socket

import pytest
import requests

from protocol import bodies as b
from protocol.codes import RC, HandleError
from protocol.envelope import Op
from protocol.framing import TcpFramer
from protocol.message import decode_message, encode
from protocol.values import HandleValue
from resolver.handle.challenges import PENDING_OVERHEAD, Challenges
from resolver.handleclient import SecretKey
from tests import handle_nodes as hn
from tests.nodes import ENTERPRISES, init_data

OWNER_KEY = SecretKey(300, "0.NA/88.101.5", ENTERPRISES["88.101.5"].encode())
WRONG_KEY = SecretKey(300, "0.NA/88.101.5", b"a guess")


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    data = tmp_path_factory.mktemp("challenges") / "data"
    init_data(data)
    n = hn.start(data)
    yield n
    n.stop()


def _add(c, handle: str, text: str):
    return c.message(Op.ADD_VALUE, b.AddValueRequest(handle, (HandleValue(9, "NOTE", text.encode()),)))


def _create(c, handle: str):
    return c.message(Op.CREATE_HANDLE, b.CreateHandleRequest(handle, (HandleValue(1, "URL", b"https://x"),)))


def _exchange(s: socket.socket, data: bytes):
    s.sendall(data)
    framer = TcpFramer()
    while True:
        chunk = s.recv(65536)
        assert chunk, "the node closed the connection"
        frames = framer.feed(chunk)
        if frames:
            return decode_message(frames[0])


def _udp(node, data: bytes, source: str = "127.0.0.1"):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((source, 0))
        s.settimeout(5)
        s.sendto(data, ("127.0.0.1", node.handle_port))
        return decode_message(s.recv(65535))


# --- 12: hijacking ----------------------------------------------------------------------------------
def test_a_junk_answer_from_another_connection_does_not_take_the_admins_challenge(node):
    """The attack: session ids were sequential, and a junk answer from anywhere consumed the pending
    challenge, so the administrator's correctly signed create then got RC 405."""
    c = hn.client(node)
    hn.put(node, "88.101.5/HIJACK", [{"index": 1, "type": "URL", "data": "https://x"}], hn.OWNER)
    request = _add(c, "88.101.5/HIJACK", "admin's")
    with socket.create_connection(("127.0.0.1", node.handle_port), timeout=5) as admin, \
            socket.create_connection(("127.0.0.1", node.handle_port), timeout=5) as attacker:
        challenge = _exchange(admin, encode(request))
        assert challenge.rc == RC.AUTHENTICATION_NEEDED
        for key in (WRONG_KEY, OWNER_KEY):  # junk, and even a replay of a right proof, from elsewhere
            junk = _exchange(attacker, encode(c.challenge_answer(request, challenge, key)))
            assert junk.rc == RC.AUTHENTICATION_TIMEOUT and "no open challenge" in junk.body.message
        done = _exchange(admin, encode(c.challenge_answer(request, challenge, OWNER_KEY)))
        assert done.rc == RC.SUCCESS, done
    values = requests.get(node.api("88.101.5/HIJACK")).json()["values"]
    assert [v["data"]["value"] for v in values if v["index"] == 9] == ["admin's"]


def test_over_udp_only_the_challenged_address_can_answer(node):
    c = hn.client(node)
    hn.put(node, "88.101.5/UDPHIJACK", [{"index": 1, "type": "URL", "data": "https://x"}], hn.OWNER)
    request = _add(c, "88.101.5/UDPHIJACK", "from .1")
    challenge = _udp(node, encode(request))
    assert challenge.rc == RC.AUTHENTICATION_NEEDED
    junk = _udp(node, encode(c.challenge_answer(request, challenge, WRONG_KEY)), source="127.0.0.2")
    assert junk.rc == RC.AUTHENTICATION_TIMEOUT
    assert _udp(node, encode(c.challenge_answer(request, challenge, OWNER_KEY))).rc == RC.SUCCESS


def test_session_ids_cannot_be_guessed_from_the_last_one(node):
    c = hn.client(node)
    with socket.create_connection(("127.0.0.1", node.handle_port), timeout=5) as s:
        sids = [_exchange(s, encode(_create(c, f"88.101.5/S{i}"))).session_id for i in range(20)]
    assert len(set(sids)) == 20 and 0 not in sids
    steps = {b_ - a for a, b_ in zip(sids, sids[1:], strict=False)}
    assert steps != {1}, "sequential session ids"
    assert max(sids) - min(sids) > 1 << 20  # spread over the 31-bit space, not a counter


# --- 2: what a pending challenge keeps ---------------------------------------------------------------
def _rss(node) -> int:
    for line in open(f"/proc/{node.proc.pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def test_anonymous_creates_of_a_mib_each_hold_a_bounded_amount(node):
    """The attack: unauthenticated 4 MiB CREATE_HANDLEs over TCP were each kept, decoded (~35 MB), for
    60 s, up to 10,000 of them: one connection added 1.7 GB in a minute. Here, 30 of 1 MiB (tiny values,
    the costliest to decode) over three connections from one address."""
    c = hn.client(node)
    values = tuple(HandleValue(i, "T", b"") for i in range(2, 60_002))
    big = encode(c.message(Op.CREATE_HANDLE, b.CreateHandleRequest("88.101.5/BIG", values)))
    assert 900_000 < len(big) < 4 << 20
    before = _rss(node)
    conns = [socket.create_connection(("127.0.0.1", node.handle_port), timeout=20) for _ in range(3)]
    try:
        for _ in range(10):
            for s in conns:
                assert _exchange(s, big).rc == RC.AUTHENTICATION_NEEDED
        grown = _rss(node) - before
        # one address keeps at most 9 MiB of requests; allow for the allocator and the reading buffers
        assert grown < 80 << 20, f"{grown >> 20} MiB held for 30 challenged requests"
        assert hn.client(node).resolve("88.101.5/NOPE").rc == RC.HANDLE_NOT_FOUND  # resolution goes on
    finally:
        for s in conns:
            s.close()


def test_an_address_that_floods_challenges_pushes_out_only_its_own():
    ch = Challenges(per_address=4, address_bytes=10_000, max_bytes=1 << 20, limit=100)
    mine, nonce = ch.open(b"x" * 100, Op.CREATE_HANDLE, "88.101.5/A", b"d", owner="victim", address="10.0.0.1")
    sids = [ch.open(b"y" * 2_000, Op.CREATE_HANDLE, "88.101.5/B", b"d", owner=("udp", "10.6.6.6"),
                    address="10.6.6.6")[0] for _ in range(50)]
    count, held = ch.held_by("10.6.6.6")
    assert count <= 4 and held <= 10_000
    assert ch.find(mine, "victim").nonce == nonce  # the other address's challenge is still there
    assert ch.find(sids[-1], ("udp", "10.6.6.6"))  # the flooder's newest too; its oldest are gone
    with pytest.raises(HandleError):
        ch.find(sids[0], ("udp", "10.6.6.6"))
    assert ch.bytes == 100 + PENDING_OVERHEAD + held
    with pytest.raises(HandleError) as e:  # one request larger than an address may hold
        ch.open(b"z" * 20_000, Op.CREATE_HANDLE, "88.101.5/C", b"d", owner="x", address="10.0.0.2")
    assert e.value.rc == RC.SERVER_TOO_BUSY


def test_expired_challenges_are_freed_on_time_without_another_one_opening():
    async def scenario() -> None:
        ch = Challenges(ttl=0.2)
        for i in range(5):
            ch.open(b"r" * 1000, Op.CREATE_HANDLE, f"88.101.5/{i}", b"d", owner="c", address="10.0.0.1")
        assert len(ch) == 5 and ch.bytes > 5000
        await asyncio.sleep(0.5)
        assert len(ch) == 0 and ch.bytes == 0 and ch.held_by("10.0.0.1") == (0, 0)

    asyncio.run(scenario())


def test_a_closed_connection_frees_its_challenges_and_nobody_elses():
    ch = Challenges()
    conn_a, conn_b = object(), object()
    a = ch.open(b"a", Op.CREATE_HANDLE, "88.101.5/A", b"d", owner=conn_a, address="10.0.0.1")[0]
    b_ = ch.open(b"b", Op.CREATE_HANDLE, "88.101.5/B", b"d", owner=conn_b, address="10.0.0.1")[0]
    ch.drop_owner(conn_a, "10.0.0.1")
    with pytest.raises(HandleError):
        ch.find(a, conn_a)
    assert ch.find(b_, conn_b)
