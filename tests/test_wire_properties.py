"""Properties of the codec: every message type round-trips; no input makes decoding raise anything
but the codec's own error, hang or allocate past what it was given."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocol import bodies, digest, pubkey, site
from protocol.codes import HandleError
from protocol.credential import Credential
from protocol.envelope import RD
from protocol.framing import TcpFramer, truncate_for_udp
from protocol.message import Message, MessageError, decode_message, encode
from protocol.values import HandleValue
from protocol.wire import WireError

DATA = Path(__file__).parent / "data" / "handle-wire"
VECTORS = json.loads((DATA / "handlenet-9.3.1-vectors.json").read_text())["vectors"]
SAMPLES = [bytes.fromhex(v[k]) for v in VECTORS for k in ("request_hex", "response_hex")]

FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

u8 = st.integers(0, 0xFF)
u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 0xFFFFFFFF)
text = st.text(max_size=40)
blob = st.binary(max_size=200)

values = st.builds(
    HandleValue, index=u32, type=text, data=blob, ttl=u32, ttl_type=u8, timestamp=u32, permissions=u8,
    references=st.lists(st.tuples(text, u32), max_size=3).map(tuple),
    fmt=st.just(""),  # the JSON format hint never travels on the wire
)
value_lists = st.lists(values, max_size=4).map(tuple)
indexes = st.lists(u32, max_size=6).map(tuple)
digests = st.one_of(
    st.sampled_from([(digest.MD5, 16), (digest.SHA1, 20), (digest.SHA256, 32)]).flatmap(
        lambda a: st.binary(min_size=a[1], max_size=a[1]).map(lambda b: digest.RequestDigest(a[0], b))),
    st.binary(max_size=64).map(lambda b: digest.RequestDigest(digest.MD5_OLD, b)),
)
credentials = st.builds(Credential, signer_handle=text, signer_index=u32, type=st.sampled_from(["HS_SIGNED", "HS_MAC"]),
                        digest_algorithm=st.sampled_from(["SHA-256", "SHA1"]), signature=blob, version=u8,
                        options=u16)

# (opcode, body) for requests, (opcode, rc, body) for answers.
requests = st.one_of(
    st.tuples(st.just(1), st.builds(bodies.ResolutionRequest, text, indexes, st.lists(text, max_size=4).map(tuple))),
    st.tuples(st.just(2), st.builds(bodies.GenericRequest, st.none() | text)),
    st.tuples(st.just(100), st.builds(bodies.CreateHandleRequest, text, value_lists)),
    st.tuples(st.just(102), st.builds(bodies.AddValueRequest, text, value_lists)),
    st.tuples(st.just(104), st.builds(bodies.ModifyValueRequest, text, value_lists)),
    st.tuples(st.just(103), st.builds(bodies.RemoveValueRequest, text, indexes)),
    st.tuples(st.sampled_from([101, 105, 106, 300, 301, 302]), st.builds(bodies.HandleRequest, text)),
    st.tuples(st.just(200), st.builds(bodies.ChallengeAnswer, st.sampled_from(["HS_SECKEY", "HS_PUBKEY"]), text,
                                      u32, blob)),
    st.tuples(st.just(201), st.builds(bodies.VerifyRequest, text, u32, st.binary(max_size=32), digests, blob)),
    st.tuples(st.sampled_from([400, 402, 1001, 1002, 77]), st.builds(bodies.RawBody, blob)),
).map(lambda t: (t[0], 0, t[1]))
answers = st.one_of(
    st.tuples(st.just(1), st.just(1), st.builds(bodies.ResolutionResponse, text, value_lists)),
    st.tuples(st.just(2), st.just(1), st.builds(bodies.SiteInfoResponse, blob)),
    st.tuples(st.just(100), st.just(1), st.builds(bodies.CreateHandleResponse, st.none() | text)),
    st.tuples(st.sampled_from([105, 106, 302]), st.just(1),
              st.builds(bodies.ListHandlesResponse, st.lists(text, max_size=5).map(tuple))),
    st.tuples(st.just(201), st.just(1), st.builds(bodies.VerifyResponse, st.booleans())),
    st.tuples(st.sampled_from([101, 102, 103, 104]), st.just(1), st.just(bodies.Empty())),
    st.tuples(st.just(1), st.sampled_from([302, 303]), st.builds(bodies.ReferralResponse, text, st.none() | value_lists)),
    st.tuples(st.integers(0, 500), st.just(402), st.builds(bodies.Challenge, st.binary(max_size=32))),
    st.tuples(st.integers(0, 500), st.sampled_from([2, 3, 4, 5, 100, 101, 200, 202, 301, 400, 401, 403]),
              st.builds(bodies.ErrorResponse, text)),
)


@st.composite
def messages(draw) -> Message:
    opcode, rc, body = draw(requests | answers)
    dig = draw(st.none() | digests) if rc else None
    flags = draw(u32)
    if rc:
        flags = (flags | RD) if dig is not None else (flags & ~RD)
    return Message(opcode=opcode, body=body, rc=rc, opflags=flags, major=draw(u8), minor=draw(u8),
                   session_id=draw(u32), request_id=draw(u32), sequence=draw(u32), site_serial=draw(u16),
                   recursion=draw(u8), expiration=draw(u32), digest=dig, credential=draw(st.none() | credentials),
                   suggest_major=draw(st.integers(0, 31)), suggest_minor=draw(u8))


@FAST
@given(messages())
def test_every_message_round_trips(msg):
    raw = encode(msg)
    back = decode_message(raw)
    assert back == msg
    assert encode(back) == raw
    assert back.raw == raw[20:20 + 24 + int.from_bytes(raw[40:44], "big")]


@FAST
@given(messages(), st.lists(st.integers(1, 64), min_size=1, max_size=40))
def test_framer_reassembles_any_chunking(msg, cuts):
    raw = encode(msg) * 2
    framer, got, pos = TcpFramer(), [], 0
    for n in cuts * (len(raw) // sum(cuts) + 1):
        got += framer.feed(raw[pos:pos + n])
        pos += n
        if pos >= len(raw):
            break
    assert b"".join(got) == raw and len(got) == 2


@FAST
@given(messages())
def test_truncation_always_fits_and_still_decodes(msg):
    cut = truncate_for_udp(encode(msg), 512)
    assert len(cut) <= 512
    back = decode_message(cut)
    assert back.request_id == msg.request_id and back.session_id == msg.session_id


def _decode_only_fails_cleanly(data: bytes) -> None:
    try:
        decode_message(data)
    except MessageError as e:
        assert isinstance(e, HandleError) and e.rc > 0


@FAST
@given(st.binary(max_size=400))
def test_random_bytes_never_escape_as_other_errors(data):
    _decode_only_fails_cleanly(data)


@FAST
@given(st.binary(max_size=100))
def test_random_bytes_after_a_plausible_envelope(tail):
    env = bytes.fromhex("020a0000") + bytes(12) + (24 + len(tail)).to_bytes(4, "big")
    _decode_only_fails_cleanly(env + tail)
    _decode_only_fails_cleanly(env + bytes(8) + tail)


@st.composite
def mutated_vectors(draw) -> bytes:
    data = bytearray(draw(st.sampled_from(SAMPLES)))
    kind = draw(st.sampled_from(["flip", "truncate", "ffff", "zero", "insert"]))
    pos = draw(st.integers(0, len(data) - 1))
    if kind == "flip":
        data[pos] ^= 1 << draw(st.integers(0, 7))
    elif kind == "truncate":
        del data[pos:]
    elif kind in ("ffff", "zero"):
        data[pos:pos + 4] = (b"\xff" if kind == "ffff" else b"\0") * 4
    else:
        data[pos:pos] = draw(st.binary(min_size=1, max_size=8))
    return bytes(data)


@settings(max_examples=500, deadline=None)
@given(mutated_vectors())
def test_mutated_vectors_never_escape_as_other_errors(data):
    _decode_only_fails_cleanly(data)


@FAST
@given(st.binary(max_size=300))
def test_framer_only_raises_wire_errors(data):
    try:
        for frame in TcpFramer(max_message=1 << 16).feed(data):
            _decode_only_fails_cleanly(frame)
    except WireError:
        pass


def test_framer_refuses_a_huge_length_before_buffering_it():
    framer = TcpFramer()
    try:
        framer.feed(bytes.fromhex("020a0000") + bytes(12) + b"\xff\xff\xff\xff")
    except WireError as e:
        assert e.rc == 4
    else:
        raise AssertionError("no error")
    assert framer.failed


@FAST
@given(st.binary(max_size=300))
def test_site_and_key_bytes_only_fail_cleanly(data):
    for parse in (site.Site.from_wire, pubkey.PublicKey.from_wire, Credential.from_wire):
        try:
            parse(data)
        except HandleError:
            pass


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2, 1 << 33) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
        st.sampled_from(["version", "protocolVersion", "serialNumber", "primarySite", "servers", "serverId",
                         "address", "publicKey", "interfaces", "protocol", "port", "query", "admin", "format",
                         "value", "attributes", "name", "kty", "n", "e", "hashFilter", "hashOption"]),
        inner, max_size=6),
    max_leaves=20,
)


@FAST
@given(json_values)
def test_bad_json_only_fails_with_invalid_value(obj):
    for convert in (site.from_json, pubkey.from_json):
        try:
            convert(obj)
        except HandleError as e:
            assert e.rc == 202
