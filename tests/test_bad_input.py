"""Bad input (acceptance): each item of a corpus of hostile or broken requests, over HTTP and the Handle
protocol, gets a clear error (status, response code, a message naming the problem) and writes
nothing. "Nothing" is read from LMDB itself, beside the running node: the change log's last sequence
and the number of records do not move.

Elsewhere already: the value limits and handle syntax (tests/test_rest_api.py BAD: control
characters, overlong handles, index 0 / negative / 2^40, duplicate indexes in a body, too many or too
large values, bad formats), random and mutated Handle messages (tests/test_handle_fuzz.py), a TCP
length over the limit (tests/test_handle_server.py), replayed and wrong challenge answers
(tests/test_handle_admin.py). This module adds what those leave out, and the change-log check."""

from __future__ import annotations

import json
import socket
import struct
from contextlib import contextmanager

import pytest
import requests

from protocol import bodies as b
from protocol.codes import RC
from protocol.envelope import Op
from protocol.message import decode_message, encode
from protocol.values import HandleValue
from resolver.handleclient import SecretKey
from storage import Store
from tests import handle_nodes as hn
from tests.nodes import ADMIN_SECRET, ENTERPRISES, basic, init_data

MAX_BODY = 1 << 20
ADMIN = basic("300:0.NA/88.101", ADMIN_SECRET)
OWNER_KEY = SecretKey(300, "0.NA/88.101.5", ENTERPRISES["88.101.5"].encode())
URL = json.dumps([{"index": 1, "type": "URL", "data": "https://example.com/a"}]).encode()


@pytest.fixture(scope="module")
def bnode(tmp_path_factory):
    data = tmp_path_factory.mktemp("bad-input") / "data"
    init_data(data)
    cfg = data.parent / "node.toml"
    cfg.write_text(f"max_body_bytes = {MAX_BODY}\nlockout_failures = 1000\n")
    node = hn.start(data, "--config", str(cfg))
    hn.put(node, "88.101.5/EXISTS", [{"index": 1, "type": "URL", "data": "https://example.com/e"}],
           {"Authorization": ADMIN})
    yield node
    node.stop()


def snapshot(node) -> tuple[int, int]:
    """(last change-log sequence, records), read from LMDB beside the running node."""
    store = Store(node.data, readonly=True)
    try:
        with store.read() as tx:
            return tx.last_seq(), tx.total_handles()
    finally:
        store.close()


@contextmanager
def writes_nothing(node):
    before = snapshot(node)
    yield
    assert snapshot(node) == before, "the change log or the record count moved"


def raw_http(node, method: str, path: bytes, body: bytes = b"", content_type: str | None = "application/json",
             auth: str = ADMIN) -> tuple[int, bytes]:
    """One request written by hand (clients normalise what this corpus needs to send as it is)."""
    head = [f"{method} ".encode() + path + b" HTTP/1.1", b"Host: idnode", f"Authorization: {auth}".encode(),
            f"Content-Length: {len(body)}".encode(), b"Connection: close"]
    if content_type:
        head.append(f"Content-Type: {content_type}".encode())
    with socket.create_connection(("127.0.0.1", node.port), timeout=10) as s:
        s.sendall(b"\r\n".join(head) + b"\r\n\r\n" + body)
        answer = b""
        while chunk := s.recv(65536):
            answer += chunk
    status = int(answer.split(b" ", 2)[1])
    return status, answer.partition(b"\r\n\r\n")[2]


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


HTTP_CORPUS = [
    # name, method, path, body, content type, status, response code (None: not JSON), words
    ("invalid UTF-8 escape in the path", "PUT", b"/api/handles/88.101.5/%FF%FE", URL, "application/json",
     400, 102, "not valid UTF-8"),
    ("invalid UTF-8 escape, resolved", "GET", b"/api/handles/88.101.5/%C3%28", b"", None, 400, 102, "not valid UTF-8"),
    ("invalid UTF-8 escape, proxy page", "GET", b"/88.101.5/%FF", b"", None, 400, 102, "not valid UTF-8"),
    ("raw non-ASCII bytes in the request line", "PUT", b"/api/handles/88.101.5/\xff\xfe", URL, "application/json",
     400, None, b"Invalid char"),
    ("'..' segment", "PUT", b"/api/handles/88.101.5/../88.101.6/X", URL, "application/json", 400, 102, "'..'"),
    ("'..' percent-encoded", "PUT", b"/api/handles/88.101.5/%2e%2e/88.101.6/X", URL, "application/json",
     400, 102, "'..'"),
    ("'..' in the middle", "PUT", b"/api/handles/88.101.5/a/../../x", URL, "application/json", 400, 102, "'..'"),
    ("trailing '..' upper-case escape", "DELETE", b"/api/handles/88.101.5/%2E%2E", b"", None, 400, 102, "'..'"),
    ("'.' segment", "PUT", b"/api/handles/88.101.5/./x", URL, "application/json", 400, 102, "'.'"),
    ("NUL in the path", "DELETE", b"/api/handles/88.101.5/EXISTS%00", b"", None, 400, 102, "control character"),
    ("NUL in a value type", "PUT", b"/api/handles/88.101.5/T",
     json.dumps([{"index": 1, "type": "UR\u0000L", "data": "x"}]).encode(), "application/json", 400, 202,
     "control character"),
    ("invalid UTF-8 in the JSON body", "PUT", b"/api/handles/88.101.5/U",
     b'[{"index":1,"type":"URL","data":"\xff\xfe"}]', "application/json", 400, 4, "not valid JSON"),
    ("JSON body over the size limit", "PUT", b"/api/handles/88.101.5/HUGE",
     b'[{"index":1,"type":"URL","data":"' + b"x" * MAX_BODY + b'"}]', "application/json", 413, 4, "limit"),
    ("deeply nested JSON", "PUT", b"/api/handles/88.101.5/DEEP", nested(100_000), "application/json",
     400, 4, "depth limit"),
    ("deeply nested batch", "POST", b"/api/batch", nested(5000), "application/json", 400, 4, "depth limit"),
    ("an infinite index", "PUT", b"/api/handles/88.101.5/INF", b'[{"index":1e999,"type":"URL","data":"x"}]',
     "application/json", 400, 4, "infinity"),
    ("no content type", "PUT", b"/api/handles/88.101.5/CT", URL, None, 400, 4, "Content-Type"),
    ("form content type", "PUT", b"/api/handles/88.101.5/CT", b"index=1&type=URL", "application/x-www-form-urlencoded",
     400, 4, "Content-Type"),
    ("text batch", "POST", b"/api/batch", URL, "text/plain", 400, 4, "Content-Type"),
    ("text prefix request", "POST", b"/api/prefixes", b'{"prefix":"88.101.9"}', "text/plain", 400, 4, "Content-Type"),
    ("XML template", "POST", b"/api/templates", b"<template/>", "application/xml", 400, 4, "Content-Type"),
    ("text EPCIS events", "POST", b"/api/events", b"{}", "text/plain", 415, 4, "Content-Type"),
    ("negative index in the query", "PUT", b"/api/handles/88.101.5/EXISTS?index=-1", URL, "application/json",
     400, 202, "out of range"),
    ("huge index in the query", "DELETE", b"/api/handles/88.101.5/EXISTS?index=99999999999", b"", None,
     400, 202, "out of range"),
    ("index that is no number", "DELETE", b"/api/handles/88.101.5/EXISTS?index=1%3B2", b"", None,
     400, 202, "not an integer"),
    ("duplicate indexes in the query", "DELETE", b"/api/handles/88.101.5/EXISTS?index=1&index=1", b"", None,
     400, 202, "more than once"),
    ("duplicate indexes to change", "PUT", b"/api/handles/88.101.5/EXISTS?index=1&index=1", URL,
     "application/json", 400, 202, "more than once"),
    ("a prefix that is not a prefix", "POST", b"/api/prefixes", b'{"prefix":"../88.101.9"}', "application/json",
     400, 102, "empty segment"),
]


@pytest.mark.parametrize("name,method,path,body,ctype,status,rc,words", HTTP_CORPUS, ids=[c[0] for c in HTTP_CORPUS])
def test_http_corpus(bnode, name, method, path, body, ctype, status, rc, words):
    with writes_nothing(bnode):
        got_status, got = raw_http(bnode, method, path, body, ctype)
    assert got_status == status, got[:300]
    if rc is None:
        assert words in got
        return
    answer = json.loads(got)
    assert answer["responseCode"] == rc and words in answer["message"], answer


BATCH_CORPUS = [
    ("duplicate indexes", {"op": "delete", "handle": "88.101.5/EXISTS", "indexes": [1, 1]}, 202, "more than once"),
    ("NUL in the handle", {"op": "create", "handle": "88.101.5/A\u0000B", "values": json.loads(URL)}, 102,
     "control character"),
    ("'..' in the handle", {"op": "create", "handle": "88.101.5/../x", "values": json.loads(URL)}, 102, "'..'"),
    ("overlong handle", {"op": "create", "handle": "88.101.5/" + "x" * 300, "values": json.loads(URL)}, 102, "255"),
    ("negative index", {"op": "update", "handle": "88.101.5/EXISTS",
                        "values": [{"index": -2, "type": "URL", "data": "x"}]}, 202, "out of range"),
    ("an index that is a word", {"op": "delete", "handle": "88.101.5/EXISTS", "indexes": ["one"]}, 202, "integer"),
]


@pytest.mark.parametrize("name,item,rc,words", BATCH_CORPUS, ids=[c[0] for c in BATCH_CORPUS])
def test_batch_items(bnode, name, item, rc, words):
    """A batch is accepted as a whole and answers each item; a bad item writes nothing."""
    with writes_nothing(bnode):
        status, got = raw_http(bnode, "POST", b"/api/batch", json.dumps([item]).encode())
    result = json.loads(got)["results"][0]
    assert status == 200 and result["responseCode"] == rc and words in result["message"], result


# --- the Handle protocol ------------------------------------------------------------------------------
def _create(node, handle: str) -> bytes:
    return encode(hn.client(node).message(Op.CREATE_HANDLE, b.CreateHandleRequest(
        handle, (HandleValue(1, "URL", b"https://x"),))))


def _forge(node, kind: str) -> bytes:
    msg = _create(node, "88.101.5/FORGED")
    at = msg.index(b"88.101.5/FORGED")
    end = at + len("88.101.5/FORGED")
    if kind == "invalid UTF-8 handle":
        return msg[:at + 9] + b"\xff\xfe\xfd\xfc\xfb\xfa" + msg[at + 15:]
    if kind == "handle length past the end":
        return msg[:at - 4] + struct.pack(">I", 0x7FFFFFFF) + msg[at:]
    if kind == "value count past the end":
        return msg[:end] + struct.pack(">I", 0xFFFFFFFF) + msg[end + 4:]
    if kind == "body length past the end":
        return msg[:40] + struct.pack(">I", len(msg)) + msg[44:]
    if kind == "envelope length short":
        return msg[:16] + struct.pack(">I", len(msg) - 40) + msg[20:]
    raise ValueError(kind)


FORGED = [("invalid UTF-8 handle", "not valid UTF-8"), ("handle length past the end", "over the limit"),
          ("value count past the end", "cannot fit"), ("body length past the end", "bytes left"),
          ("envelope length short", "bytes")]


def _udp(node, data: bytes) -> bytes:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(5)
        s.sendto(data, ("127.0.0.1", node.handle_port))
        return s.recv(65535)


@pytest.mark.parametrize("transport", ["udp", "tcp"])
@pytest.mark.parametrize("kind,words", FORGED, ids=[f[0] for f in FORGED])
def test_forged_handle_messages(bnode, transport, kind, words):
    data = _forge(bnode, kind)
    with writes_nothing(bnode):
        if transport == "udp":
            answer = decode_message(_udp(bnode, data))
        else:
            with socket.create_connection(("127.0.0.1", bnode.handle_port), timeout=5) as s:
                answer = decode_message(hn.exchange(s, data))
    # What Handle.Net 9.3.1 answers to a message it cannot parse: RC 2, the message naming the problem.
    assert answer.rc == RC.ERROR and words in answer.body.message, answer.body


@pytest.mark.parametrize("handle,words", [("88.101.5/A\u0000B", "control character"), ("88.101.5/../x", "'..'"),
                                          ("88.101.5/a/./b", "'.'"), ("88.101.5/" + "x" * 300, "255")])
def test_bad_handles_in_authenticated_handle_requests(bnode, handle, words):
    """Well-formed messages whose handle the service refuses, once the caller has proved who it is."""
    with writes_nothing(bnode):
        ans = hn.client(bnode).call(Op.CREATE_HANDLE, b.CreateHandleRequest(
            handle, (HandleValue(1, "URL", b"https://x"),)), OWNER_KEY)
    assert ans.rc == RC.INVALID_HANDLE and words in ans.body.message


def test_handle_values_with_a_control_character_in_the_type(bnode):
    with writes_nothing(bnode):
        ans = hn.client(bnode).call(Op.ADD_VALUE, b.AddValueRequest(
            "88.101.5/EXISTS", (HandleValue(7, "NO\u0007TE", b"x"),)), OWNER_KEY)
    assert ans.rc == RC.INVALID_VALUE and "control character" in ans.body.message


def test_duplicate_indexes_to_remove_over_the_handle_protocol(bnode):
    with writes_nothing(bnode):
        ans = hn.client(bnode).call(Op.REMOVE_VALUE, b.RemoveValueRequest("88.101.5/EXISTS", (1, 1)), OWNER_KEY)
    assert ans.rc == RC.INVALID_VALUE and "more than once" in ans.body.message


def test_a_replayed_challenge_answer_writes_nothing(bnode):
    c = hn.client(bnode)
    request = c.message(Op.ADD_VALUE, b.AddValueRequest("88.101.5/EXISTS", (HandleValue(9, "NOTE", b"once"),)))
    with socket.create_connection(("127.0.0.1", bnode.handle_port), timeout=5) as s:
        challenge = decode_message(hn.exchange(s, encode(request)))
        answer = encode(c.challenge_answer(request, challenge, OWNER_KEY))
        seq, records = snapshot(bnode)
        assert decode_message(hn.exchange(s, answer)).rc == RC.SUCCESS
        assert snapshot(bnode) == (seq + 1, records)  # the one change
        with writes_nothing(bnode):
            for _ in range(3):
                replay = decode_message(hn.exchange(s, answer))
                assert replay.rc == RC.AUTHENTICATION_TIMEOUT and "already answered" in replay.body.message
    with writes_nothing(bnode), socket.create_connection(("127.0.0.1", bnode.handle_port), timeout=5) as s:
        assert decode_message(hn.exchange(s, answer)).rc == RC.AUTHENTICATION_TIMEOUT
    assert decode_message(_udp(bnode, answer)).rc == RC.AUTHENTICATION_TIMEOUT
    values = requests.get(bnode.api("88.101.5/EXISTS")).json()["values"]
    assert [v["data"]["value"] for v in values if v["index"] == 9] == ["once"]
