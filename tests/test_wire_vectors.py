"""Every message captured from the reference server (CNRI Handle.Net 9.3.1) decodes, means what
the capture says, and encodes back to the same bytes; our answer builders rebuild its answers."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from protocol import bodies, digest
from protocol.admin import AdminRef
from protocol.codes import RC
from protocol.envelope import AT, PO, RD, REC, Op
from protocol.framing import TcpFramer, truncate_for_udp
from protocol.message import (
    MessageError,
    challenge_answer,
    decode_message,
    encode,
    error_answer,
    error_for_undecodable,
    resolution_answer,
    site_info_answer,
)
from protocol.pubkey import PublicKey
from protocol.site import Site

DATA = Path(__file__).parent / "data" / "handle-wire"
VECTORS = json.loads((DATA / "handlenet-9.3.1-vectors.json").read_text())["vectors"]
BY_NAME = {v["name"]: v for v in VECTORS}
REQUEST_ID = 0x01020304


def vector(prefix: str) -> dict:
    (v,) = [v for v in VECTORS if v["name"].startswith(prefix)]
    return v


def pair(prefix: str):
    v = vector(prefix)
    return decode_message(bytes.fromhex(v["request_hex"])), decode_message(bytes.fromhex(v["response_hex"]))


def well_formed() -> list[dict]:
    return [v for v in VECTORS if not v["name"].startswith("malformed")]


def ids(vs: list[dict]) -> list[str]:
    return [v["name"][:50] for v in vs]


def test_the_vectors_are_there():
    assert len(VECTORS) >= 12


@pytest.mark.parametrize("v", VECTORS, ids=ids(VECTORS))
def test_answer_decodes_with_the_recorded_rc_and_reencodes_identically(v):
    raw = bytes.fromhex(v["response_hex"])
    msg = decode_message(raw)
    assert msg.rc == v["response_rc"]
    assert not msg.is_request
    assert encode(msg) == raw


@pytest.mark.parametrize("v", well_formed(), ids=ids(well_formed()))
def test_request_decodes_and_reencodes_identically(v):
    raw = bytes.fromhex(v["request_hex"])
    msg = decode_message(raw)
    assert msg.is_request and msg.request_id == REQUEST_ID
    assert msg.credential is None
    assert encode(msg) == raw


@pytest.mark.parametrize("v", well_formed(), ids=ids(well_formed()))
def test_answer_echoes_request_id_and_version(v):
    req = decode_message(bytes.fromhex(v["request_hex"]))
    ans = decode_message(bytes.fromhex(v["response_hex"]))
    assert ans.request_id == req.request_id
    assert ans.version == req.version
    assert ans.opcode == req.opcode
    assert (ans.suggest_major, ans.suggest_minor) == (2, 11)  # the server's own version
    assert ans.has(AT) and ans.has(REC)
    if ans.rc != RC.AUTHENTICATION_NEEDED:
        assert ans.session_id == req.session_id


def test_udp_request_is_protocol_2_1_and_its_answer_too():
    req, ans = pair("resolve all values, UDP")
    assert req.version == ans.version == (2, 1)
    assert vector("resolve all values, UDP")["transport"] == "udp"
    tcp_req, tcp_ans = pair("resolve all values, TCP")
    assert tcp_req.version == (2, 10)
    assert ans.body == tcp_ans.body


def test_resolve_all_values():
    req, ans = pair("resolve all values, TCP")
    assert req.opcode == Op.RESOLUTION
    assert req.body == bodies.ResolutionRequest("88.101.5/ABC123", (), ())
    assert isinstance(ans.body, bodies.ResolutionResponse)
    assert ans.body.handle == "88.101.5/ABC123"
    url, admin = ans.body.values
    assert (url.index, url.type, url.data) == (1, "URL", b"https://example.com/new")
    assert (url.ttl_type, url.ttl, url.permissions, url.references) == (0, 86400, 0x0E, ())
    assert url.timestamp == admin.timestamp == 0x6B02CB09
    assert (admin.index, admin.type) == (100, "HS_ADMIN")
    assert AdminRef.from_wire(admin.data) == AdminRef("88.101.5/ADMIN", 300, 0x07F3)
    assert ans.site_serial == 1 and ans.digest is None and ans.credential is None


def test_resolve_with_type_filter():
    req, ans = pair("resolve with type filter URL")
    assert req.body == bodies.ResolutionRequest("88.101.5/ABC123", (), ("URL",))
    assert [(v.index, v.type) for v in ans.body.values] == [(1, "URL")]


def test_resolve_with_index_filter():
    req, ans = pair("resolve with index filter 100")
    assert req.body == bodies.ResolutionRequest("88.101.5/ABC123", (100,), ())
    assert [(v.index, v.type) for v in ans.body.values] == [(100, "HS_ADMIN")]


def test_rd_answer_starts_with_sha256_of_request_header_and_body():
    req, ans = pair("resolve with RD flag")
    assert req.has(RD) and ans.has(RD)
    assert ans.digest is not None and ans.digest.algorithm == digest.SHA256
    assert ans.digest.matches(req.raw)
    assert ans.digest == digest.RequestDigest.of(req.raw, *req.version)
    # The same values as without RD: the digest is not part of the body.
    _, plain = pair("resolve all values, TCP")
    assert ans.body == plain.body


def test_digest_algorithm_by_version():
    assert digest.algorithm_for(2, 10) == digest.algorithm_for(2, 7) == digest.SHA256
    assert digest.algorithm_for(2, 6) == digest.algorithm_for(2, 1) == digest.SHA1
    assert digest.algorithm_for(2, 0) == digest.MD5_OLD


def test_digest_does_not_cover_the_credential_or_envelope():
    req, ans = pair("resolve with RD flag")
    assert len(req.raw) == 24 + 27
    assert not ans.digest.matches(bytes.fromhex(vector("resolve with RD flag")["request_hex"]))


def test_not_found_and_not_responsible():
    _, ans = pair("handle not found")
    assert ans.rc == RC.HANDLE_NOT_FOUND and ans.body == bodies.ErrorResponse("")
    _, ans = pair("prefix not served here")
    assert ans.rc == RC.SERVER_NOT_RESPONSIBLE
    assert ans.body == bodies.ErrorResponse("That prefix doesn't live here")
    req, ans = pair("resolve the prefix handle 0.NA/88.101.5")
    assert req.body.handle == "0.NA/88.101.5" and ans.rc == RC.SERVER_NOT_RESPONSIBLE


def test_non_public_value_gets_a_challenge_with_digest_and_nonce():
    req, ans = pair("resolve a handle holding a non-public value")
    assert not req.has(PO) and not req.has(RD)
    assert ans.rc == RC.AUTHENTICATION_NEEDED
    assert isinstance(ans.body, bodies.Challenge) and len(ans.body.nonce) == 16
    # The challenge carries the digest although the request did not ask for one,
    # and opens a session.
    assert ans.has(RD) and ans.digest.algorithm == digest.SHA256 and ans.digest.matches(req.raw)
    assert req.session_id == 0 and ans.session_id == 1


def test_public_only_flag_gets_the_public_values():
    req, ans = pair("same handle with the public-only flag")
    assert req.has(PO) and ans.has(PO)
    (admin,) = ans.body.values
    assert (admin.index, admin.type, admin.timestamp, admin.permissions) == (100, "HS_ADMIN", 0, 0x0E)
    assert AdminRef.from_wire(admin.data) == AdminRef("88.101.5/ADMIN", 300, 0x0FFF)


def test_get_site_info():
    req, ans = pair("get site info")
    assert req.opcode == Op.GET_SITE_INFO and req.body == bodies.GenericRequest(None)
    site = Site.from_wire(ans.body.site)
    assert (site.version, site.major, site.minor, site.serial) == (1, 2, 11, 1)
    assert site.primary and not site.multi_primary and site.hash_option == 2 and site.hash_filter == b""
    assert site.attributes == (("desc", "research test server"),)
    (server,) = site.servers
    assert server.server_id == 1 and server.address_text == "127.0.0.1"
    assert server.address == bytes(12) + bytes([127, 0, 0, 1])  # IPv4 behind twelve zero bytes
    assert [(i.type, i.protocol, i.port) for i in server.interfaces] == [(3, 1, 2641), (2, 0, 2641), (3, 2, 8000)]
    key = PublicKey.from_wire(server.public_key)
    e, n = key.rsa_numbers()
    assert e == 65537 and n.bit_length() == 2048
    assert key.extra == bytes(4) and key.to_wire() == server.public_key
    assert site.to_wire() == ans.body.site
    assert Site.from_json(site.to_json()).to_wire() == ans.body.site


def test_malformed_request_is_refused_with_an_error_that_echoes_the_envelope():
    v = vector("malformed")
    with pytest.raises(MessageError) as err:
        decode_message(bytes.fromhex(v["request_hex"]))
    assert err.value.rc == RC.PROTOCOL_ERROR
    assert err.value.envelope.request_id == REQUEST_ID and err.value.opcode == Op.RESOLUTION
    answer = decode_message(encode(error_for_undecodable(err.value)))
    assert answer.rc == RC.PROTOCOL_ERROR and answer.request_id == REQUEST_ID and answer.version == (2, 10)
    # The reference server gave up on the request id and answered rc 2 at version 2.3.
    ref = decode_message(bytes.fromhex(v["response_hex"]))
    assert (ref.rc, ref.request_id, ref.version, ref.opcode) == (RC.ERROR, 0xFFFFFFFF, (2, 3), 0)


@pytest.mark.parametrize("v", well_formed(), ids=ids(well_formed()))
def test_our_builders_rebuild_the_reference_answers(v):
    req = decode_message(bytes.fromhex(v["request_hex"]))
    ref = decode_message(bytes.fromhex(v["response_hex"]))
    kw = {"site_serial": ref.site_serial, "expiration": ref.expiration, "suggest": (2, 11)}
    if ref.rc == RC.AUTHENTICATION_NEEDED:
        ours = challenge_answer(req, ref.body.nonce, session_id=ref.session_id, **kw)
    elif ref.rc == RC.SUCCESS and req.opcode == Op.RESOLUTION:
        ours = resolution_answer(req, ref.body.handle, list(ref.body.values), **kw)
    elif ref.rc == RC.SUCCESS and req.opcode == Op.GET_SITE_INFO:
        ours = site_info_answer(req, ref.body.site, **kw)
    else:
        ours = error_answer(req, ref.rc, ref.body.message, **kw)
    assert encode(ours) == bytes.fromhex(v["response_hex"])


@pytest.mark.parametrize("v", [v for v in VECTORS if v["transport"] == "udp"], ids=lambda v: v["name"][:40])
def test_udp_answers_fit_one_datagram(v):
    raw = bytes.fromhex(v["response_hex"])
    assert len(raw) <= 512 and truncate_for_udp(raw) == raw


def test_large_udp_answer_is_truncated_with_tc_flag():
    req, ans = pair("resolve with RD flag")
    big = ans.body.values[0]._replace(data=b"x" * 1000)
    full = encode(resolution_answer(req, "88.101.5/ABC123", [big]))
    cut = truncate_for_udp(full)
    assert len(cut) <= 512 and cut[2] & 0x20
    msg = decode_message(cut)
    assert msg.truncated and msg.request_id == REQUEST_ID and msg.rc == RC.SUCCESS and not msg.has(RD)


def test_tcp_framer_cuts_a_stream_fed_in_small_pieces():
    stream = b"".join(bytes.fromhex(v["response_hex"]) for v in VECTORS if v["transport"] == "tcp")
    framer = TcpFramer()
    got: list[bytes] = []
    for i in range(0, len(stream), 7):
        got += framer.feed(stream[i:i + 7])
    assert b"".join(got) == stream and framer.at_boundary()
    assert [decode_message(m).rc for m in got] == [v["response_rc"] for v in VECTORS if v["transport"] == "tcp"]


def test_an_rd_answer_at_2_1_carries_sha1():
    req, _ = pair("resolve all values, UDP")
    asked = replace(req, opflags=req.opflags | RD, raw=b"")
    again = decode_message(encode(asked))
    ans = decode_message(encode(resolution_answer(again, "88.101.5/ABC123", [])))
    assert ans.digest.algorithm == digest.SHA1 and len(ans.digest.value) == 20
    assert ans.digest.matches(again.raw)
