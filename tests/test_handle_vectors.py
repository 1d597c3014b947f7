"""A node holding the records of the Handle.Net 9.3.1 capture answers every captured request as the
reference server did: same response code, same values (timestamps aside), same digest rule."""

from __future__ import annotations

import socket

import pytest

from protocol import bodies
from protocol.admin import AdminRef
from protocol.codes import RC
from protocol.envelope import RD
from protocol.message import decode_message
from protocol.pubkey import PublicKey
from protocol.site import Site
from tests import handle_nodes as hn

CAPTURED = [(v, decode_message(bytes.fromhex(v["response_hex"]))) for v in hn.VECTORS
            if not v["name"].startswith("malformed")]
(MALFORMED,) = [v for v in hn.VECTORS if v["name"].startswith("malformed")]


@pytest.fixture(scope="module")
def capture_node(tmp_path_factory):
    with hn.capture_node(tmp_path_factory, "vectors") as node:
        yield node


def send(node, transport: str, request: bytes) -> bytes:
    if transport == "udp":
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(5)
            s.sendto(request, ("127.0.0.1", node.handle_port))
            return s.recv(65535)
    with socket.create_connection(("127.0.0.1", node.handle_port), timeout=5) as s:
        return hn.exchange(s, request)


def comparable(values) -> list[tuple]:
    """A value as the capture and the node can agree on it: everything but the timestamp."""
    return [(v.index, v.type, v.data, v.ttl_type, v.ttl, v.permissions, v.references) for v in values]


@pytest.mark.parametrize("v,ref", CAPTURED, ids=[v["name"][:50] for v, _ in CAPTURED])
def test_node_answers_like_the_reference_server(capture_node, v, ref):
    request = bytes.fromhex(v["request_hex"])
    ours = decode_message(send(capture_node, v["transport"], request))
    assert ours.rc == ref.rc == v["response_rc"]
    assert not ours.is_request and ours.opcode == ref.opcode
    assert ours.request_id == ref.request_id
    assert ours.version == ref.version
    # The digest rule: present exactly when the reference put one, same algorithm, over the request.
    assert ours.has(RD) == ref.has(RD)
    assert (ours.digest is None) == (ref.digest is None)
    if ref.digest is not None:
        req = decode_message(request)
        assert ours.digest.algorithm == ref.digest.algorithm
        assert ours.digest.matches(req.raw) and ref.digest.matches(req.raw)
    if isinstance(ref.body, bodies.ResolutionResponse):
        assert ours.body.handle == ref.body.handle
        assert comparable(ours.body.values) == comparable(ref.body.values)
    elif isinstance(ref.body, bodies.Challenge):
        assert isinstance(ours.body, bodies.Challenge) and len(ours.body.nonce) == len(ref.body.nonce)
        assert ours.session_id != 0
    elif isinstance(ref.body, bodies.SiteInfoResponse):
        check_site(Site.from_wire(ours.body.site), Site.from_wire(ref.body.site), capture_node)
    else:
        assert type(ours.body) is type(ref.body)
    if ref.rc != RC.AUTHENTICATION_NEEDED:
        assert ours.session_id == ref.session_id


def check_site(ours: Site, ref: Site, node) -> None:
    assert (ours.version, ours.serial, ours.primary, ours.multi_primary) == (ref.version, ref.serial, True, False)
    assert (ours.major, ours.minor) == (2, 10) and ours.hash_option == ref.hash_option
    (server,) = ours.servers
    (ref_server,) = ref.servers
    assert server.address_text == ref_server.address_text == "127.0.0.1"
    assert [(i.type, i.protocol) for i in server.interfaces] == [(i.type, i.protocol) for i in ref_server.interfaces]
    assert [i.port for i in server.interfaces] == [node.handle_port, node.handle_port, node.port]
    e, n = PublicKey.from_wire(server.public_key).rsa_numbers()
    assert e == 65537 and n.bit_length() == 2048


def test_the_capture_records_read_back_as_captured(capture_node):
    (_, ref) = [(v, r) for v, r in CAPTURED if v["name"].startswith("resolve all values, TCP")][0]
    admin = ref.body.values[1]
    assert AdminRef.from_wire(admin.data) == AdminRef("88.101.5/ADMIN", 300, 0x07F3)


def test_malformed_request_gets_the_same_code_and_our_answer_still_echoes_its_ids(capture_node):
    ref = decode_message(bytes.fromhex(MALFORMED["response_hex"]))
    ours = decode_message(send(capture_node, MALFORMED["transport"], bytes.fromhex(MALFORMED["request_hex"])))
    assert ours.rc == ref.rc == RC.ERROR
    # Handle.Net gave up on the request id, opcode and version (0xFFFFFFFF, 0, 2.3); the envelope and
    # header were readable, so this node echoes them and the client can match the answer.
    assert (ours.request_id, ours.opcode, ours.version) == (0x01020304, 1, (2, 10))
    assert "body length" in ours.body.message
