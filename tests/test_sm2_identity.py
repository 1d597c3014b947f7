"""SM2 identities (issue 19): HS_PUBKEY values and challenge answers laid out as the national SDK
(teleinfo-dev/id-pointer-sdk) builds them, checked against bytes captured from Java
(tests/data/sm2sdk/README.md), and an SM2 identity administering its prefix over TCP, UDP, the HTTP
tunnel and Handle sessions."""

from __future__ import annotations

import base64
import json
import socket
from dataclasses import replace
from pathlib import Path

import pytest
import requests

from protocol import bodies as b
from protocol import gm
from protocol.admin import AdminRef
from protocol.codes import RC
from protocol.envelope import Op
from protocol.message import decode_message, encode
from protocol.pubkey import SM2, PublicKey
from protocol.values import HandleValue
from protocol.wire import Reader
from resolver.handleclient import PrivateKey, SecretKey, challenge_body
from resolver.keys import proofs
from resolver.keys.keyfiles import load_private
from tests import handle_nodes as hn
from tests.nodes import ADMIN_SECRET, NODE_PREFIX, idnode
from tests.session_client import SessionClient

DATA = Path(__file__).parent / "data" / "sm2sdk"
VECTORS = dict(line.split(" ", 1) for line in (DATA / "vectors.txt").read_text().splitlines())
SDK_USER = "88.888.1024/sm2user1"


def sdk_public() -> bytes:
    return gm.public_from_spki(gm.unpem((DATA / "pub.pem").read_text(), "PUBLIC KEY"))


def test_hs_pubkey_bytes_are_the_sdks_byte_for_byte():
    hs = PublicKey.sm2(sdk_public()).to_wire()
    assert hs.hex() == VECTORS["hs_pubkey"]
    # The SDK's text part: PEM with CRLF, 76-column MIME base64.
    assert b"-----BEGIN PUBLIC KEY-----\r\nMFkwEwYHKoZIzj0CAQYIKoEcz1UBgi0DQgAE" in hs
    parsed = PublicKey.from_wire(bytes.fromhex(VECTORS["hs_pubkey"]))
    assert parsed.key_type == SM2 and parsed.sm2_point() == sdk_public()


def test_an_sm2_pub_key_holding_der_or_the_bare_point_is_read_too():
    point = sdk_public()
    for part in (gm.spki_der(point), point):
        assert PublicKey(SM2, (part,)).sm2_point() == point


def test_the_sdks_private_key_file_is_what_keygen_writes():
    der = gm.unpem((DATA / "priv.pem").read_text(), "PRIVATE KEY")
    scalar = gm.private_from_pkcs8(der)
    assert gm.public_of(scalar) == sdk_public()
    assert gm.pkcs8_der(scalar) == der  # same structure, byte for byte (curve and public key included)


def test_the_sdks_challenge_answer_verifies_and_only_for_its_handle():
    r = Reader(bytes.fromhex(VECTORS["answer"]))
    hash_name, signature = r.text(), r.blob()
    r.done("answer")
    assert hash_name == "SM3"
    nonce, digest = bytes.fromhex(VECTORS["nonce"]), bytes.fromhex(VECTORS["digest"])
    assert gm.sm3(nonce + digest).hex() == VECTORS["sm3"]
    hs = bytes.fromhex(VECTORS["hs_pubkey"])
    assert proofs.check_pubkey(hs, nonce, digest, hash_name, signature, SDK_USER)
    assert not proofs.check_pubkey(hs, nonce, digest, hash_name, signature, "88.888.1024/someone")
    assert not proofs.check_pubkey(hs, bytes(16), digest, hash_name, signature, SDK_USER)
    # The same signature as 64 bytes r|s (as some clients send it) is taken too.
    assert proofs.check_pubkey(hs, nonce, digest, hash_name, gm.signature_raw(signature), SDK_USER)
    with pytest.raises(proofs.ProofError, match="SM3"):
        proofs.check_pubkey(hs, nonce, digest, "SHA-256", signature, SDK_USER)


def test_the_answer_this_node_builds_is_laid_out_as_the_sdks():
    key = gm.SM2PrivateKey(gm.private_from_pkcs8(gm.unpem((DATA / "priv.pem").read_text(), "PRIVATE KEY")))
    nonce, digest = bytes.fromhex(VECTORS["nonce"]), bytes.fromhex(VECTORS["digest"])
    ours = proofs.pubkey_response(key, nonce, digest, SDK_USER)
    sdk = bytes.fromhex(VECTORS["answer"])
    assert ours[:10] == sdk[:10] == b"\0\0\0\x03SM3\0\0\0"  # "SM3", then the DER's length (< 256)
    r = Reader(ours)
    assert r.text() == "SM3"
    sig = r.blob()
    assert sig[0] == 0x30 and gm.sm2_verify(sdk_public(), gm.sm3(nonce + digest), sig, SDK_USER.encode())


def test_sm2_keys_in_json_are_jwk_like_and_round_trip():
    hs = bytes.fromhex(VECTORS["hs_pubkey"])
    jwk = PublicKey.from_wire(hs).to_json()
    point = sdk_public()
    assert jwk == {"kty": "EC", "crv": "SM2",
                   "x": base64.urlsafe_b64encode(point[1:33]).rstrip(b"=").decode(),
                   "y": base64.urlsafe_b64encode(point[33:]).rstrip(b"=").decode()}
    assert PublicKey.from_json(jwk).to_wire() == hs
    bad = dict(jwk, y=jwk["x"])
    with pytest.raises(Exception, match="curve"):
        PublicKey.from_json(bad)


# --- on a running node ------------------------------------------------------------------------------


@pytest.fixture
def sm2node(fresh_data, tmp_path):
    """A node; 88.101.5/SMKEYS holds an SM2 key made by `idnode keygen --type sm2` at index 300, and
    88.101.5/BYSM2 is administered by 300:88.101.5/SMKEYS."""
    node = hn.start(fresh_data)
    keyfile = tmp_path / "sm2.pem"
    printed = json.loads(idnode("keygen", "--type", "sm2", "--out", str(keyfile)).stdout)
    hn.put(node, "88.101.5/SMKEYS", [printed, hn.admin_value("0.NA/88.101.5", 300, "011111110011")], hn.OWNER)
    hn.put(node, "88.101.5/BYSM2", [{"index": 1, "type": "URL", "data": "https://sm2"},
                                    hn.admin_value("88.101.5/SMKEYS", 300, "011111110011")], hn.OWNER)
    node.printed, node.keyfile = printed, keyfile  # type: ignore[attr-defined]
    yield node
    node.stop()


def url(i: int, text: str) -> HandleValue:
    return HandleValue(i, "URL", text.encode())


def values(node, handle: str) -> dict[int, str]:
    r = requests.get(node.api(handle), headers=hn.OWNER)
    return {v["index"]: v["data"]["value"] for v in r.json().get("values", [])}


def test_keygen_writes_a_key_the_sdk_reads_and_rest_shows_it_as_a_jwk(sm2node):
    printed, keyfile = sm2node.printed, sm2node.keyfile
    assert printed["data"]["value"]["kty"] == "EC" and printed["data"]["value"]["crv"] == "SM2"
    text = keyfile.read_text()
    assert text.startswith("-----BEGIN PRIVATE KEY-----\n")  # KeyConverter.fromPkcs8Pem's "PRIVATE"
    assert oct(keyfile.stat().st_mode & 0o777) == "0o600"
    pub = Path(str(keyfile) + ".pub").read_text()
    assert gm.public_from_spki(gm.unpem(pub, "PUBLIC KEY")) == load_private(keyfile).public_key().point
    shown = [v for v in requests.get(sm2node.api("88.101.5/SMKEYS")).json()["values"] if v["index"] == 300]
    assert shown[0]["type"] == "HS_PUBKEY" and shown[0]["data"] == printed["data"]
    # Stored as the SDK lays it out (what a Handle-protocol resolution returns).
    c = hn.client(sm2node)
    ans = c.resolve("88.101.5/SMKEYS", (300,), udp=False)
    data = ans.body.values[0].data
    assert data == PublicKey.sm2(load_private(keyfile).public_key().point).to_wire()


def test_an_sm2_identity_administers_over_tcp_udp_and_http(sm2node):
    me = PrivateKey(300, "88.101.5/SMKEYS", load_private(sm2node.keyfile))
    c = hn.client(sm2node)
    # TCP
    assert c.call(Op.ADD_VALUE, b.AddValueRequest("88.101.5/BYSM2", (url(2, "https://tcp"),)), me).rc == RC.SUCCESS
    # UDP: the request, its 402, the answer, each a datagram.
    request = c.message(Op.ADD_VALUE, b.AddValueRequest("88.101.5/BYSM2", (url(3, "https://udp"),)))
    challenge = c.udp(request)
    assert challenge.rc == RC.AUTHENTICATION_NEEDED
    assert c.udp(c.challenge_answer(request, challenge, me)).rc == RC.SUCCESS
    # The HTTP tunnel (POST / with a Handle message).
    post = lambda m: decode_message(requests.post(  # noqa: E731
        sm2node.url + "/", data=encode(m), headers={"Content-Type": "application/x-hdl-message"}).content)
    request = c.message(Op.ADD_VALUE, b.AddValueRequest("88.101.5/BYSM2", (url(4, "https://http"),)))
    challenge = post(request)
    assert challenge.rc == RC.AUTHENTICATION_NEEDED
    assert post(c.challenge_answer(request, challenge, me)).rc == RC.SUCCESS
    got = values(sm2node, "88.101.5/BYSM2")
    assert (got[2], got[3], got[4]) == ("https://tcp", "https://udp", "https://http")
    # It administers what its HS_ADMIN names, nothing more.
    hn.put(sm2node, "88.101.5/NOTMINE", [{"index": 1, "type": "URL", "data": "https://x"}], hn.OWNER)
    assert c.call(Op.ADD_VALUE, b.AddValueRequest("88.101.5/NOTMINE", (url(2, "x"),)), me).rc == RC.NOT_AUTHORIZED


def test_a_wrong_sm2_key_is_refused_and_audited(sm2node, auth):
    impostor = PrivateKey(300, "88.101.5/SMKEYS", gm.SM2PrivateKey.generate())
    c = hn.client(sm2node)
    ans = c.call(Op.ADD_VALUE, b.AddValueRequest("88.101.5/BYSM2", (url(5, "https://evil"),)), impostor)
    assert ans.rc == RC.AUTHENTICATION_FAILED
    assert 5 not in values(sm2node, "88.101.5/BYSM2")
    # A proof that names another signer ID (not the identity's handle) is the wrong proof too.
    key = load_private(sm2node.keyfile)
    renamed = PrivateKey(300, "88.101.5/SMKEYS", key)
    request = c.message(Op.ADD_VALUE, b.AddValueRequest("88.101.5/BYSM2", (url(6, "https://x"),)))
    with socket.create_connection(("127.0.0.1", sm2node.handle_port), timeout=10) as s:
        challenge = c._exchange(s, request)
        body = b.ChallengeAnswer(b.PUBKEY, "88.101.5/SMKEYS", 300,
                                 proofs.pubkey_response(key, challenge.body.nonce, request_digest(challenge),
                                                        "88.101.5/OTHER"))
        assert c._exchange(s, c.message(Op.CHALLENGE_RESPONSE, body, session_id=challenge.session_id)).rc == \
            RC.AUTHENTICATION_FAILED
    assert c.call(Op.ADD_VALUE, b.AddValueRequest("88.101.5/BYSM2", (url(7, "https://ok"),)), renamed).rc == 1
    entries = requests.get(f"{sm2node.url}/api/audit", headers=auth["admin"],
                           params={"identity": "300:88.101.5/SMKEYS"}).json()["entries"]
    seen = [(e["result"], e["authenticated"], e["protocol"]) for e in entries]
    assert seen == [("denied", False, "tcp"), ("denied", False, "tcp"), ("allowed", True, "tcp")]
    assert "bad signature" in entries[0]["message"]


def request_digest(challenge) -> bytes:
    return challenge.digest.value


# --- Handle sessions: the SM2 identity named at set-up answers the session's challenge -------------------


def _session_create(c: SessionClient, handle: str, me) -> int:
    """Set up a Diffie-Hellman session naming ``me``, send an encrypted create in it and answer the
    challenge with ``me``'s proof; the answer's response code."""
    assert c.setup(identity=(me.index, me.handle)).rc == RC.SUCCESS
    msg = c.message(Op.CREATE_HANDLE, b.CreateHandleRequest(handle, (url(1, f"https://{handle}"),)))
    challenge = c.send(c.sealed(msg, encrypted=True))
    assert challenge.rc == RC.AUTHENTICATION_NEEDED and challenge.session_id == c.session_id
    answer = challenge_body(replace(msg, session_id=c.session_id), challenge, me)
    assert answer.response.startswith(b"\0\0\0\x03SM3")  # the SDK's SM2 proof
    return c.send(encode(c.message(Op.CHALLENGE_RESPONSE, answer))).rc


@pytest.fixture
def sm2creator(sm2node):
    """sm2node, where the prefix handle's HS_ADMIN also names 300:88.101.5/SMKEYS (put there by the
    node admin), so the SM2 identity may create handles under 88.101.5."""
    node_admin = SecretKey(300, f"0.NA/{NODE_PREFIX}", ADMIN_SECRET.encode())
    ref = AdminRef("88.101.5/SMKEYS", 300, 0b111111110011)
    add = b.AddValueRequest("0.NA/88.101.5", (HandleValue(101, "HS_ADMIN", ref.to_wire()),))
    assert hn.client(sm2node).call(Op.ADD_VALUE, add, node_admin).rc == RC.SUCCESS
    return sm2node


def test_an_sm2_identity_authenticates_a_session_and_administers_in_it(sm2creator):
    me = PrivateKey(300, "88.101.5/SMKEYS", load_private(sm2creator.keyfile))
    c = SessionClient("127.0.0.1", sm2creator.handle_port)
    assert _session_create(c, "88.101.5/SM2-S1", me) == RC.SUCCESS
    # The session is the SM2 identity's now: more writes in it, with no challenge.
    more = c.message(Op.CREATE_HANDLE, b.CreateHandleRequest("88.101.5/SM2-S2", (url(1, "https://s2"),)))
    assert c.send(c.sealed(more)).rc == RC.SUCCESS
    add = c.message(Op.ADD_VALUE, b.AddValueRequest("88.101.5/BYSM2", (url(2, "https://session"),)))
    assert c.send(c.sealed(add, encrypted=True)).rc == RC.SUCCESS
    assert values(sm2creator, "88.101.5/SM2-S1")[1] == "https://88.101.5/SM2-S1"
    assert values(sm2creator, "88.101.5/SM2-S2")[1] == "https://s2"
    assert values(sm2creator, "88.101.5/BYSM2")[2] == "https://session"
    # Still only what the identity's HS_ADMIN allows.
    hn.put(sm2creator, "88.101.6/NOTMINE", [{"index": 1, "type": "URL", "data": "https://x"}],
           {"Authorization": hn.basic("300:0.NA/88.101.6", hn.ENTERPRISES["88.101.6"])})
    other = c.message(Op.ADD_VALUE, b.AddValueRequest("88.101.6/NOTMINE", (url(2, "x"),)))
    assert c.send(c.sealed(other)).rc == RC.NOT_AUTHORIZED


def test_a_wrong_sm2_key_in_a_session_is_refused_and_writes_nothing(sm2creator, auth):
    impostor = PrivateKey(300, "88.101.5/SMKEYS", gm.SM2PrivateKey.generate())
    c = SessionClient("127.0.0.1", sm2creator.handle_port)
    assert _session_create(c, "88.101.5/SM2-EVIL", impostor) == RC.AUTHENTICATION_FAILED
    # The session did not become the identity's: the next write is challenged again.
    again = c.message(Op.CREATE_HANDLE, b.CreateHandleRequest("88.101.5/SM2-EVIL2", (url(1, "https://x"),)))
    assert c.send(c.sealed(again)).rc == RC.AUTHENTICATION_NEEDED
    for h in ("88.101.5/SM2-EVIL", "88.101.5/SM2-EVIL2"):
        assert requests.get(sm2creator.api(h), headers=hn.OWNER).status_code == 404
    entries = requests.get(f"{sm2creator.url}/api/audit", headers=auth["admin"],
                           params={"identity": "300:88.101.5/SMKEYS"}).json()["entries"]
    assert [(e["result"], e["authenticated"]) for e in entries] == [("denied", False)]
    assert "bad signature" in entries[0]["message"]


# --- OC 2001: the SDK's login, then requests with no credential on the same connection ------------------


def sdk_login(c, s: socket.socket, me, session_id: int):
    """What id-pointer-sdk's SampleIdClient.login sends on a new connection: get-site-info for "/", then
    OC 2001 naming the user (RD set), then the challenge answer under the 402's session id."""
    from protocol.envelope import RD
    from protocol.login import OC_LOGIN_ID_SYSTEM, LoginRequest

    site = c._exchange(s, c.message(Op.GET_SITE_INFO, b.GenericRequest("/"), session_id=session_id))
    assert site.rc == RC.SUCCESS
    login = c.message(OC_LOGIN_ID_SYSTEM, b.RawBody(LoginRequest(me.handle, me.index).to_body()), RD,
                      session_id=session_id)
    challenge = c._exchange(s, login)
    assert (challenge.rc, challenge.opcode) == (RC.AUTHENTICATION_NEEDED, OC_LOGIN_ID_SYSTEM)
    return c._exchange(s, c.challenge_answer(login, challenge, me))


def test_the_sdks_login_then_uncredentialed_requests_on_that_connection(sm2node):
    me = PrivateKey(300, "88.101.5/SMKEYS", load_private(sm2node.keyfile))
    c = hn.client(sm2node)
    with socket.create_connection(("127.0.0.1", sm2node.handle_port), timeout=10) as s:
        done = sdk_login(c, s, me, session_id=77)
        assert (done.rc, done.opcode) == (RC.SUCCESS, 2001)
        add = c.message(Op.ADD_VALUE, b.AddValueRequest("88.101.5/BYSM2", (url(8, "https://login"),)), session_id=77)
        assert c._exchange(s, add).rc == RC.SUCCESS
        # Reads on the connection are the identity's too: a value only admins may read comes back.
        hidden = HandleValue(50, "URL", b"https://admins-only", permissions=0x0C)
        assert c._exchange(s, c.message(Op.ADD_VALUE, b.AddValueRequest("88.101.5/BYSM2", (hidden,)),
                                        session_id=77)).rc == RC.SUCCESS
        read = c._exchange(s, c.message(Op.RESOLUTION, b.ResolutionRequest("88.101.5/BYSM2", (50,), ()),
                                        session_id=77))
        assert read.rc == RC.SUCCESS and read.body.values[0].data == b"https://admins-only"
        # Still the identity's rights only.
        hn.put(sm2node, "88.101.5/NOTMINE", [{"index": 1, "type": "URL", "data": "https://x"}], hn.OWNER)
        other = c.message(Op.ADD_VALUE, b.AddValueRequest("88.101.5/NOTMINE", (url(2, "x"),)), session_id=77)
        assert c._exchange(s, other).rc == RC.NOT_AUTHORIZED
        # Another session id on the same connection is not logged in.
        assert c._exchange(s, c.message(Op.ADD_VALUE, b.AddValueRequest("88.101.5/BYSM2", (url(9, "x"),)),
                                         session_id=78)).rc == RC.AUTHENTICATION_NEEDED
    # Nor is the same session id on another connection.
    with socket.create_connection(("127.0.0.1", sm2node.handle_port), timeout=10) as s:
        assert c._exchange(s, c.message(Op.RESOLUTION, b.ResolutionRequest("88.101.5/BYSM2", (50,), ()),
                                         session_id=77)).rc == RC.AUTHENTICATION_NEEDED
        assert c._exchange(s, c.message(Op.ADD_VALUE, b.AddValueRequest("88.101.5/BYSM2", (url(9, "x"),)),
                                         session_id=77)).rc == RC.AUTHENTICATION_NEEDED
    assert values(sm2node, "88.101.5/BYSM2")[8] == "https://login" and 9 not in values(sm2node, "88.101.5/BYSM2")


def test_a_login_with_the_wrong_key_grants_nothing(sm2node):
    impostor = PrivateKey(300, "88.101.5/SMKEYS", gm.SM2PrivateKey.generate())
    c = hn.client(sm2node)
    with socket.create_connection(("127.0.0.1", sm2node.handle_port), timeout=10) as s:
        assert sdk_login(c, s, impostor, session_id=5).rc == RC.AUTHENTICATION_FAILED
        add = c.message(Op.ADD_VALUE, b.AddValueRequest("88.101.5/BYSM2", (url(8, "x"),)), session_id=5)
        assert c._exchange(s, add).rc == RC.AUTHENTICATION_NEEDED


def test_a_malformed_login_is_refused_without_a_challenge(sm2node):
    from protocol.login import OC_LOGIN_ID_SYSTEM

    c = hn.client(sm2node)
    ans = c.tcp(c.message(OC_LOGIN_ID_SYSTEM, b.RawBody(b"\0\0\0\x05ab")))
    assert ans.rc == RC.PROTOCOL_ERROR and "login request" in ans.body.message


def test_an_sm2_node_key_signs_certified_answers_with_sm3(fresh_data):
    from resolver.keys.keyfiles import NODE_KEY

    idnode("keygen", "--type", "sm2", "--out", str(fresh_data / NODE_KEY))
    node = hn.start(fresh_data)
    try:
        hn.put(node, "88.101.5/CERT", [{"index": 1, "type": "URL", "data": "https://c"}], hn.OWNER)
        c = hn.client(node)
        site = c.site_info()
        key = c.server_key(site)
        assert PublicKey.from_wire(key).key_type == SM2
        ans = c.certified_resolve("88.101.5/CERT")  # raises unless the SM2 signature checks
        assert ans.rc == RC.SUCCESS and ans.credential.digest_algorithm == "SM3"
    finally:
        node.stop()


def test_a_plain_sm3withsm2_proof_is_taken_too():
    """What Java's Signature("SM3withSM2") or OpenSSL make: nonce + digest signed with the default ID."""
    key = gm.SM2PrivateKey.generate()
    hs = PublicKey.sm2(key.public_key().point).to_wire()
    nonce, digest = bytes(16), bytes(32)
    assert proofs.check_pubkey(hs, nonce, digest, "SM3", key.sign(nonce + digest), "88.101.5/X")
    assert not proofs.check_pubkey(hs, nonce, digest, "SM3", key.sign(nonce + digest + b"!"), "88.101.5/X")
