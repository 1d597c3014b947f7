"""The compiled fast path (resolver/handle/_compiled.pyx) against the Python path, through real nodes:
two nodes on copies of one data folder, one with the compiled path on (as ``make`` builds it) and one
with ``IDNODE_COMPILED=off``, asked the same requests over UDP and TCP by real sockets. They must give
the same bytes, refuse over the per-address rate alike, count alike (metrics, the reports' counts) and
keep the amplification rule for unproven UDP addresses alike."""

from __future__ import annotations

import os
import shutil
import socket
import struct
import time

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocol import bodies as b
from protocol import fastpath as fp
from protocol.codes import RC
from protocol.envelope import KA, PO, RD, REC, Op
from protocol.framing import TcpFramer
from protocol.message import Message, decode_message, encode
from resolver.handle import compiled
from resolver.reports.statistics import statistics
from storage import Store
from storage.stats import day_of
from tests import handle_nodes as hn
from tests.test_metrics import sample, scrape

PUBLIC = [f"88.101.5/C-{i}" for i in range(5)]
BIG = "88.101.5/BIG"  # an answer of several datagrams
RATE = 1000  # per address a second, on both nodes
IDLE = 2  # seconds: a TCP connection that completes no message for this long is closed
EXPIRATION = slice(36, 40)  # the answer's expiration: the clock's second, which may differ between nodes


def _values(h: str) -> list[dict]:
    return [{"index": 1, "type": "URL", "data": f"https://example.com/{h}"},
            {"index": 2, "type": "EMAIL", "data": "ops@example.com"}]


@pytest.fixture(scope="module")
def nodes(tmp_path_factory, seeded):
    """(compiled, python): two nodes on copies of one folder of records."""
    root = tmp_path_factory.mktemp("compiled")
    first = root / "a" / "data"
    shutil.copytree(seeded, first)
    cfg = root / "node.toml"
    cfg.write_text(f"rate_per_address = {RATE}\nhandle_idle_timeout = {IDLE}\n")
    n = hn.start(first, "--config", str(cfg))
    try:
        for h in PUBLIC:
            hn.put(n, h, _values(h), hn.OWNER)
        hn.put(n, "88.101.5/S-1", [*_values("s"), {"index": 3, "type": "NOTE", "data": "internal",
                                                    "permissions": "1100"}], hn.OWNER)  # one value admins only read
        big = [{"index": i, "type": "NOTE", "data": "x" * 200} for i in range(1, 8)]
        hn.put(n, BIG, big, hn.OWNER)
    finally:
        n.stop()
    second = root / "b" / "data"
    shutil.copytree(first, second)
    started = []
    saved = os.environ.get("IDNODE_COMPILED")
    try:
        for data, mode in ((first, "on"), (second, "off")):
            os.environ["IDNODE_COMPILED"] = mode
            started.append(hn.start(data, "--config", str(cfg)))
    finally:
        if saved is None:
            os.environ.pop("IDNODE_COMPILED", None)
        else:
            os.environ["IDNODE_COMPILED"] = saved
    yield tuple(started)
    for node in started:
        node.stop()


def _request(handle: str, opflags: int = 0, request_id: int = 7, session_id: int = 0, version=(2, 10)) -> bytes:
    return encode(Message(Op.RESOLUTION, b.ResolutionRequest(handle), opflags=opflags, request_id=request_id,
                          session_id=session_id, major=version[0], minor=version[1]))


def _udp(node, data: bytes, source: str = "127.0.0.1", count: int = 1) -> list[bytes]:
    """Send ``data`` ``count`` times (one at a time); every datagram that came back."""
    out = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((source, 0))
        s.settimeout(5.0)
        for _ in range(count):
            s.sendto(data, ("127.0.0.1", node.handle_port))
            parts = [s.recv(65536)]
            while fp.is_slice(parts[0]) and sum(len(p) - 20 for p in parts) < fp.message_length(parts[0]):
                parts.append(s.recv(65536))  # the other datagrams of a split answer
            out += parts
    return out


def _tcp(node, data: bytes, count: int, source: str = "127.0.0.1") -> list[bytes]:
    """``count`` copies of ``data`` in one write on one connection: their answers."""
    with socket.create_connection(("127.0.0.1", node.handle_port), timeout=10, source_address=(source, 0)) as s:
        s.sendall(data * count)
        framer, got = TcpFramer(), []
        while len(got) < count:
            chunk = s.recv(65536)
            assert chunk, "the node closed the connection"
            got += framer.feed(chunk)
        return got


def _masked(answer: bytes) -> bytes:
    return answer[:EXPIRATION.start] + b"\0\0\0\0" + answer[EXPIRATION.stop:]


def _same(a: bytes, b_: bytes) -> None:
    msg = decode_message(a)
    if msg.rc == RC.AUTHENTICATION_NEEDED:  # a challenge carries a new nonce and session each time
        assert decode_message(b_).rc == msg.rc
        return
    assert _masked(a) == _masked(b_)
    assert abs(struct.unpack_from(">I", a, 36)[0] - struct.unpack_from(">I", b_, 36)[0]) <= 2


def test_each_node_says_which_path_answers(nodes):
    assert compiled._compiled is not None, "the compiled fast path is not built (make builds it)"
    on, off = nodes
    assert "compiled fast path on" in on.log.read_text()
    assert "compiled fast path off (IDNODE_COMPILED=off)" in off.log.read_text()


HANDLES = PUBLIC + ["88.101.5/c-1", "88.101.5/S-1", "88.101.5/NOPE", "99.1/NOPE", "88.101.5/..", "noslash",
                    "0.NA/88.101.5", "88.101.5/é"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(handle=st.one_of(st.sampled_from(HANDLES), st.text(min_size=0, max_size=30).map(lambda s: "88.101.5/" + s)),
       flags=st.sets(st.sampled_from([PO, KA, REC, RD])).map(sum), request_id=st.integers(0, 2**32 - 1),
       session_id=st.sampled_from([0, 0, 99]), version=st.sampled_from([(2, 10), (2, 11), (3, 0)]))
def test_both_paths_give_the_same_bytes_over_udp_and_tcp(nodes, handle, flags, request_id, session_id, version):
    on, off = nodes
    data = _request(handle, flags, request_id, session_id, version)
    # Twice each: the first may make the answer that is kept, the second comes from it.
    a, b_ = _udp(on, data, count=2), _udp(off, data, count=2)
    assert len(a) == len(b_)
    for x, y in zip(a, b_, strict=True):
        _same(x, y)
    for x, y in zip(_tcp(on, data, 3), _tcp(off, data, 3), strict=True):
        _same(x, y)


def _flood(node, source: str, n: int, window: int = 50) -> list[bytes]:
    """``n`` requests for a kept public handle from ``source``, ``window`` at a time: their answers."""
    data = _request(PUBLIC[0])
    got = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((source, 0))
        s.settimeout(5.0)
        for _ in range(n // window):
            for _ in range(window):
                s.sendto(data, ("127.0.0.1", node.handle_port))
            got += [s.recv(65536) for _ in range(window)]
    return got


def test_both_paths_refuse_over_the_address_rate_alike(nodes):
    for node in nodes:
        _udp(node, _request(PUBLIC[0]), count=2)  # the answer kept
        t0 = time.monotonic()
        got = _flood(node, "127.0.0.5", 3000)
        elapsed = time.monotonic() - t0
        codes = [struct.unpack_from(">I", x, 24)[0] for x in got]
        ok, busy = codes.count(RC.SUCCESS), codes.count(RC.SERVER_TOO_BUSY)
        assert ok + busy == len(got) == 3000
        # A second's burst, then the rate: no more, and not much less.
        assert RATE - 5 <= ok <= RATE + RATE * elapsed + 5, (ok, elapsed)
        assert busy >= 3000 - (RATE + RATE * elapsed + 5)
        refusal = decode_message(next(x for x in got if struct.unpack_from(">I", x, 24)[0] == RC.SERVER_TOO_BUSY))
        assert "rate limit: more than 1000 requests a second from 127.0.0.5" in refusal.body.message


def _stats(node) -> dict:
    store = Store(node.data)
    try:
        with store.read() as tx:
            report = statistics(tx, "88.101", day_of(time.time()), time.time())
    finally:
        store.close()
    return next(r for r in report["prefixes"] if r["prefix"] == "88.101.5")


def test_both_paths_count_alike_for_the_metrics_and_the_reports(nodes):
    source = "127.0.0.7"
    grown = []
    for node in nodes:
        time.sleep(1.5)  # what came before is in the store (the counts are flushed once a second)
        before_metrics, before = scrape(node), _stats(node)
        assert all(struct.unpack_from(">I", x, 24)[0] == RC.SUCCESS
                   for x in _udp(node, _request(PUBLIC[1]), source, count=37))
        assert all(struct.unpack_from(">I", x, 24)[0] == RC.HANDLE_NOT_FOUND
                   for x in _udp(node, _request("88.101.5/NOPE"), source, count=5))
        assert all(struct.unpack_from(">I", x, 24)[0] == RC.SUCCESS for x in _tcp(node, _request(PUBLIC[2]), 11, source))
        deadline = time.monotonic() + 10
        while True:
            after_metrics, after = scrape(node), _stats(node)
            if after["resolutionsToday"] - before["resolutionsToday"] >= 53 or time.monotonic() > deadline:
                break
            time.sleep(0.3)

        def grew(after_metrics=after_metrics, before_metrics=before_metrics, **labels: str) -> float:
            return sample(after_metrics, "idnode_requests_total", operation="resolve", **labels) - \
                sample(before_metrics, "idnode_requests_total", operation="resolve", **labels)

        sources = {s["ip"]: s["count"] for s in after["sources"]}
        earlier = {s["ip"]: s["count"] for s in before["sources"]}
        grown.append((grew(protocol="udp", code="1"), grew(protocol="udp", code="100"), grew(protocol="tcp", code="1"),
                      after["resolutionsToday"] - before["resolutionsToday"],
                      after["resolvedToday"] - before["resolvedToday"], sources.get(source, 0) - earlier.get(source, 0)))
    assert grown[0] == grown[1] == (37, 5, 11, 53, 48, 53)


def test_both_paths_keep_the_amplification_rule_for_unproven_addresses(nodes):
    data = _request(BIG)
    for node in nodes:
        source = "127.0.0.9" if node is nodes[0] else "127.0.0.10"
        [refusal] = _udp(node, data, source)
        msg = decode_message(refusal)
        assert msg.rc == RC.ERROR and "ask over TCP" in msg.body.message
        [answer] = _tcp(node, data, 1, source)  # the handshake proves the address ...
        assert decode_message(answer).rc == RC.SUCCESS
        parts = _udp(node, data, source)  # ... and the answer then comes over UDP, in several datagrams
        assert len(parts) > 1


def test_a_write_is_seen_at_once_by_the_compiled_path(nodes):
    on, _ = nodes
    h = PUBLIC[3]
    _udp(on, _request(h), count=3)
    r = requests.put(on.api(h), json={"values": [{"index": 1, "type": "URL", "data": "https://example.com/new"}]},
                     headers={**hn.JSON, **hn.OWNER}, timeout=10)
    assert r.status_code in (200, 201), r.text
    [answer] = _udp(on, _request(h))
    values = decode_message(answer).body.values
    assert [v.data for v in values if v.type == "URL"] == [b"https://example.com/new"]


def _read_answers(s: socket.socket, count: int) -> list[bytes]:
    framer, got = TcpFramer(), []
    while len(got) < count:
        chunk = s.recv(65536)
        assert chunk, "the node closed the connection"
        got += framer.feed(chunk)
    return got


def _exchange(node, pieces: list[bytes], count: int, pause: float = 0.2) -> list[bytes]:
    """``pieces`` written one at a time on one connection, ``pause`` apart (each a read of its own on the
    node): the ``count`` answers."""
    with socket.create_connection(("127.0.0.1", node.handle_port), timeout=10) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for i, piece in enumerate(pieces):
            if i:
                time.sleep(pause)
            s.sendall(piece)
        return _read_answers(s, count)


# In one read: kept answers, unknown handles (not found, prefix not served here), a request the compiled
# path hands over (RD) between them, and one it cannot answer (not a resolution's shape).
MIXED = [_request(PUBLIC[0], request_id=1), _request("88.101.5/NOPE-1", request_id=2), _request(PUBLIC[1], RD, 3),
         _request("99.1/NOPE", request_id=4), _request(PUBLIC[2], PO, 5), _request("88.101.5/S-1", request_id=6),
         _request(PUBLIC[0], request_id=7)]


def test_pipelined_requests_in_one_read_are_answered_in_order_alike(nodes):
    on, off = nodes
    data = b"".join(MIXED)
    for _ in range(2):  # the second time from what the first kept
        a, b_ = _exchange(on, [data], len(MIXED)), _exchange(off, [data], len(MIXED))
        assert [struct.unpack_from(">I", x, 8)[0] for x in a] == list(range(1, 8))
        assert [decode_message(x).rc for x in a][:5] == [RC.SUCCESS, RC.HANDLE_NOT_FOUND, RC.SUCCESS,
                                                          RC.SERVER_NOT_RESPONSIBLE, RC.SUCCESS]
        for x, y in zip(a, b_, strict=True):
            _same(x, y)


def test_requests_split_across_reads_are_answered_alike(nodes):
    on, off = nodes
    data = b"".join(MIXED)
    # Cut inside a header, inside a handle, and just after a whole message followed by part of the next.
    cuts = [10, 60, len(MIXED[0]) + len(MIXED[1]), len(MIXED[0]) + len(MIXED[1]) + 25, len(data) - 3]
    pieces = [data[i:j] for i, j in zip([0, *cuts], [*cuts, len(data)], strict=True)]
    assert b"".join(pieces) == data
    a, b_ = _exchange(on, pieces, len(MIXED)), _exchange(off, pieces, len(MIXED))
    assert [struct.unpack_from(">I", x, 8)[0] for x in a] == list(range(1, 8))
    for x, y in zip(a, b_, strict=True):
        _same(x, y)


def test_a_connection_closed_mid_message_leaves_the_node_answering(nodes):
    for node in nodes:
        whole, half = _request(PUBLIC[0], request_id=11), _request(PUBLIC[1], request_id=12)[:30]
        with socket.create_connection(("127.0.0.1", node.handle_port), timeout=10) as s:
            s.sendall(whole + half)
            [answer] = _read_answers(s, 1)
            assert struct.unpack_from(">I", answer, 8)[0] == 11
        # (closed with half a message in the node's buffer)
        [answer] = _tcp(node, _request(PUBLIC[1], request_id=13), 1)
        assert decode_message(answer).rc == RC.SUCCESS
        assert "Traceback" not in node.log.read_text()


def test_idle_timeout_still_closes_and_whole_messages_keep_a_connection_open(nodes):
    for node in nodes:
        with socket.create_connection(("127.0.0.1", node.handle_port), timeout=10) as busy, \
                socket.create_connection(("127.0.0.1", node.handle_port), timeout=10) as trickle:
            data = _request(PUBLIC[0])
            t0 = time.monotonic()
            closed = False
            while time.monotonic() - t0 < IDLE * 2:
                busy.sendall(data)  # answered whole by the compiled path on ``on``
                assert _read_answers(busy, 1)
                if not closed:
                    try:
                        trickle.sendall(b"\0")  # bytes, never a whole message
                    except (BrokenPipeError, ConnectionResetError):
                        closed = True
                time.sleep(0.25)
            busy.sendall(data)
            assert decode_message(_read_answers(busy, 1)[0]).rc == RC.SUCCESS
            if not closed:
                trickle.settimeout(IDLE * 2)
                try:
                    assert trickle.recv(1) == b"", "the trickling connection got bytes"
                except ConnectionResetError:
                    pass


def test_a_write_and_a_new_record_are_seen_at_once_over_tcp(nodes):
    """Records read once per LMDB snapshot in the compiled path: a write makes a new snapshot."""
    on, off = nodes
    h, new = PUBLIC[4], "88.101.5/NEW-TCP"
    for node in nodes:
        _tcp(node, _request(h), 3)
        assert decode_message(_tcp(node, _request(new), 3)[0]).rc == RC.HANDLE_NOT_FOUND
    for node in nodes:
        r = requests.put(node.api(h), json={"values": [{"index": 1, "type": "URL", "data": "https://example.com/tcp"}]},
                         headers={**hn.JSON, **hn.OWNER}, timeout=10)
        assert r.status_code in (200, 201), r.text
        assert hn.put(node, new, _values(new), hn.OWNER).status_code in (200, 201)
    for node in nodes:
        values = decode_message(_tcp(node, _request(h), 1)[0]).body.values
        assert [v.data for v in values if v.type == "URL"] == [b"https://example.com/tcp"]
        assert decode_message(_tcp(node, _request(new), 1)[0]).rc == RC.SUCCESS
