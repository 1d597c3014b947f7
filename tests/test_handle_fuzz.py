"""A running node fed random and mutated datagrams and TCP streams keeps answering valid requests
and logs no internal error. IDNODE_FUZZ_N sets how many inputs (30,000 by default, 100,000 with IDNODE_SLOW=1)."""

from __future__ import annotations

import os
import random
import socket
import time

import pytest

from protocol import bodies as b
from protocol.codes import RC
from protocol.envelope import Op
from protocol.message import decode_message, encode
from protocol.values import HandleValue
from resolver.handleclient import SecretKey
from tests import handle_nodes as hn
from tests.nodes import ENTERPRISES, LONG, basic

OWNER = {"Authorization": basic("300:0.NA/88.101.5", ENTERPRISES["88.101.5"])}


@pytest.fixture(scope="module")
def fuzz_node(tmp_path_factory):
    with hn.capture_node(tmp_path_factory, "fuzz") as node:
        yield node


def corpus(node) -> list[bytes]:
    """Well-formed requests of every kind this node answers, to mutate."""
    c = hn.client(node)
    out = [bytes.fromhex(v["request_hex"]) for v in hn.VECTORS]
    url = HandleValue(1, "URL", b"https://fuzz")
    for op, body in [(Op.CREATE_HANDLE, b.CreateHandleRequest("88.101.5/F", (url,))),
                     (Op.ADD_VALUE, b.AddValueRequest("88.101.5/ABC123", (url,))),
                     (Op.MODIFY_VALUE, b.ModifyValueRequest("88.101.5/ABC123", (url,))),
                     (Op.REMOVE_VALUE, b.RemoveValueRequest("88.101.5/ABC123", (1,))),
                     (Op.DELETE_HANDLE, b.HandleRequest("88.101.5/ABC123")),
                     (Op.LIST_HANDLES, b.HandleRequest("0.NA/88.101.5")),
                     (Op.GET_SITE_INFO, b.GenericRequest())]:
        out.append(encode(c.message(op, body)))
    request = c.message(Op.ADD_VALUE, b.AddValueRequest("88.101.5/ABC123", (url,)))
    challenge = c.tcp(request)
    out.append(encode(c.challenge_answer(request, challenge, SecretKey(300, "0.NA/88.101.5", b"wrong-secret"))))
    return out


def mutate(rng: random.Random, seeds: list[bytes]) -> bytes:
    kind = rng.randrange(7)
    if kind == 0:
        return rng.randbytes(rng.randrange(0, 600))
    data = bytearray(rng.choice(seeds))
    if kind == 1:  # flip bits
        for _ in range(rng.randrange(1, 8)):
            i = rng.randrange(len(data))
            data[i] ^= 1 << rng.randrange(8)
    elif kind == 2:  # cut
        del data[rng.randrange(len(data)):]
    elif kind == 3:  # overwrite a length or count with something extreme
        i = rng.randrange(max(1, len(data) - 4))
        data[i:i + 4] = rng.choice([b"\xff\xff\xff\xff", b"\x7f\xff\xff\xff", b"\0\0\0\0", b"\0\x01\0\0"])
    elif kind == 4:  # splice two messages
        other = rng.choice(seeds)
        data = data[:rng.randrange(len(data))] + other[rng.randrange(len(other)):]
    elif kind == 5:  # random bytes after a valid envelope and header
        data = data[:44] + rng.randbytes(rng.randrange(0, 300))
    else:  # insert junk
        i = rng.randrange(len(data))
        data[i:i] = rng.randbytes(rng.randrange(1, 40))
    return bytes(data)


def still_answers(node) -> None:
    c = hn.client(node)
    c.timeout = 1.0
    for _ in range(50):
        try:
            ans = c.resolve("88.101.5/ABC123", udp=True)
            assert ans.rc == RC.SUCCESS and len(ans.body.values) == 2
            assert c.resolve("88.101.5/ABC123", udp=False).rc == RC.SUCCESS
            return
        except (TimeoutError, ConnectionError):
            time.sleep(0.1)  # a datagram lost under load: try again
    raise AssertionError("the node stopped answering")


def run(node, n: int, seed: int) -> None:
    rng = random.Random(seed)
    seeds = corpus(node)
    addr = ("127.0.0.1", node.handle_port)
    n_udp = n * 4 // 5
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
        u.setblocking(False)
        for i in range(n_udp):
            try:
                u.sendto(mutate(rng, seeds), addr)
            except BlockingIOError:
                time.sleep(0.001)
            while True:  # drain answers so our own buffer never stops the test
                try:
                    u.recv(65535)
                except (BlockingIOError, ConnectionRefusedError):
                    break
            if i % 2000 == 1999:
                still_answers(node)
    sent = n_udp
    while sent < n:  # TCP: streams of several mutated messages, cut anywhere
        with socket.create_connection(addr, timeout=5) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\1\0\0\0\0\0\0\0")  # reset on close
            stream = b"".join(mutate(rng, seeds) for _ in range(min(20, n - sent)))
            sent += min(20, n - sent)
            try:
                for i in range(0, len(stream), rng.randrange(1, 2000)):
                    s.sendall(stream[i:i + 2000])
                s.settimeout(0.02)
                s.recv(65536)
            except (TimeoutError, ConnectionError):
                pass
    still_answers(node)
    assert node.proc.poll() is None, "the node exited"
    assert "Traceback" not in node.log.read_text(), node.log.read_text()[-3000:]


def test_fuzzed_node_keeps_answering(fuzz_node):
    n = int(os.environ.get("IDNODE_FUZZ_N", "100000" if LONG else "30000"))
    run(fuzz_node, n, seed=int(os.environ.get("IDNODE_FUZZ_SEED", "1")))


def test_a_valid_answer_decodes_after_the_fuzzing(fuzz_node):
    c = hn.client(fuzz_node)
    ans = decode_message(encode(c.resolve("88.101.5/ABC123", udp=False)))
    assert ans.body.values[0].data == b"https://example.com/new"
