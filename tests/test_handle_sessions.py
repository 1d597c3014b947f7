"""Sessions (opcode 400), UDP answers in several datagrams and Handle messages on any HTTP path,
checked against what CNRI's Handle.Net 9.3.1 server sent to its own stock tools
(tests/data/handle-sessions/README.md), and against the ways an attacker would abuse them."""

from __future__ import annotations

import os
import socket
from dataclasses import replace

import pytest
import requests

from protocol import bodies as b
from protocol import datagrams
from protocol import sessions as ps
from protocol.codes import RC
from protocol.envelope import ENC, ENV_ENCRYPTED, Op
from protocol.message import Message, decode_message, encode
from protocol.pubkey import DH, PublicKey
from protocol.values import HandleValue
from protocol.wire import Reader, Writer
from resolver.handle.sessions import SessionTable
from resolver.handleclient import HandleClient, SecretKey, challenge_body
from resolver.keys.certify import verify_answer
from tests.nodes import ENTERPRISES, Node, basic, free_port, init_data
from tests.session_client import VECTORS, SessionClient, reference_group, reference_setup_request

OWNER = {"Authorization": basic("300:0.NA/88.101.5", ENTERPRISES["88.101.5"])}
PREFIX_ADMIN = SecretKey(300, "0.NA/88.101.5", ENTERPRISES["88.101.5"].encode())
BIG_URL = "https://big.example/" + "x" * 2700  # the reference's 88.101.5/BIG


def _put(node: Node, handle: str, values: list[dict]) -> None:
    r = requests.put(node.api(handle), json={"values": values}, headers={**OWNER, "Content-Type": "application/json"})
    assert r.status_code in (200, 201), r.text


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    data = tmp_path_factory.mktemp("sessions") / "data"
    init_data(data)
    port = free_port()
    n = Node(data, "--handle", f"127.0.0.1:{port}").start()
    n.handle_port = port  # type: ignore[attr-defined]
    _put(n, "88.101.5/ABC123", [{"index": 1, "type": "URL", "data": "https://example.com/abc"}])
    _put(n, "88.101.5/BIG", [{"index": 1, "type": "URL", "data": BIG_URL}])
    try:
        yield n
    finally:
        n.stop()


# -- the codecs, on the reference's bytes -----------------------------------------------------------

def test_reference_session_setup_decodes_and_encodes_back():
    raw = reference_setup_request()
    msg = decode_message(raw)
    req = ps.SessionSetupRequest.read(Reader(msg.body.data))
    assert (req.mode, req.timeout, req.identity_index, req.identity_handle) == (ps.DIFFIE_HELLMAN, 86400, 300,
                                                                               "88.101.5/ADMIN")
    assert PublicKey.from_wire(req.public_key).key_type == DH and reference_group()[0].bit_length() == 1024
    w = Writer()
    req.write(w)
    assert w.getvalue() == msg.body.data  # two padding bytes included, as Handle.Net writes them
    answer = decode_message(bytes.fromhex(VECTORS[1]["exchanges"][0]["response_hex"]))
    res = ps.SessionSetupResponse.read(Reader(answer.body.data))
    code, key = ps.split_cipher_key(res.data)
    assert res.mode == ps.DIFFIE_HELLMAN and code == ps.AES and PublicKey.from_wire(key).numbers()[1:] == reference_group()
    w = Writer()
    res.write(w)
    assert w.getvalue() == answer.body.data and answer.session_id != 0 and answer.credential is not None


@pytest.mark.parametrize("which", [0, 3], ids=["session-setup-2", "big-record-6"])
def test_reference_datagrams_reassemble_and_split_back_byte_for_byte(which):
    parts = [bytes.fromhex(h) for h in VECTORS[which]["response_datagrams_hex"]]
    whole = datagrams.reassemble(list(reversed(parts)))
    assert len(parts) == datagrams.count(len(whole)) and decode_message(whole).rc == RC.SUCCESS
    assert datagrams.split(whole) == parts


# -- session set-up on the node ---------------------------------------------------------------------

def _http(node: Node, path: str, data: bytes) -> requests.Response:
    return requests.post(node.url + path, data=data, headers={"Content-Type": "application/x-hdl-message"})


def _udp(node: Node, data: bytes, source: str = "127.0.0.1") -> list[bytes]:
    out = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((source, 0))
        s.settimeout(5)
        s.sendto(data, ("127.0.0.1", node.handle_port))
        try:
            while True:
                out.append(s.recv(65535))
                s.settimeout(0.5)
        except TimeoutError:
            return out


@pytest.mark.parametrize("transport", ["tcp", "udp", "http"])
def test_the_reference_clients_session_setup_gets_a_diffie_hellman_answer(node, transport):
    raw = reference_setup_request()
    if transport == "tcp":
        ans = SessionClient("127.0.0.1", node.handle_port).send(raw)
    elif transport == "udp":
        ans = decode_message(datagrams.reassemble(_udp(node, raw)))
    else:
        r = _http(node, "/%2F", raw)  # where CNRI's client posts it
        assert r.headers["Content-Type"] == "application/x-hdl-message"
        ans = decode_message(r.content)
    req = decode_message(raw)
    assert ans.rc == RC.SUCCESS and ans.opcode == Op.SESSION_SETUP and ans.session_id != 0
    assert ans.request_id == req.request_id and ans.digest.matches(req.header_and_body())
    res = ps.SessionSetupResponse.read(Reader(ans.body.data))
    code, key = ps.split_cipher_key(res.data)
    assert res.mode == ps.DIFFIE_HELLMAN and code == ps.AES
    assert PublicKey.from_wire(key).numbers()[1:] == reference_group()  # the client's group
    site = HandleClient("127.0.0.1", node.handle_port).site_info(udp=False)
    assert verify_answer(ans, site.servers[0].public_key)  # certified: CT was set, as always for a set-up


def test_session_ids_are_unpredictable(node):
    ids = {SessionClient("127.0.0.1", node.handle_port).setup().session_id for _ in range(6)}
    assert len(ids) == 6 and all(0 < i < 2**31 for i in ids)
    ordered = sorted(ids)
    assert any(b - a > 1000 for a, b in zip(ordered, ordered[1:], strict=False))  # not a counter


def test_a_group_too_small_or_too_large_is_refused(node):
    c = SessionClient("127.0.0.1", node.handle_port)
    raw = reference_setup_request()
    msg = decode_message(raw)
    req = ps.SessionSetupRequest.read(Reader(msg.body.data))
    y, p, g = PublicKey.from_wire(req.public_key).numbers()
    for bad_p in (p >> 600, (1 << 8191) + 1):
        key = PublicKey(DH, (y.to_bytes(200, "big"), bad_p.to_bytes(1025, "big"), g.to_bytes(1, "big"))).to_wire()
        w = Writer()
        replace(req, public_key=key).write(w)
        ans = c.send(encode(replace(msg, body=b.RawBody(w.getvalue()), raw=b"")))
        assert ans.rc == RC.SESSION_FAILED and "refused" in ans.body.message


# -- administration in a session --------------------------------------------------------------------

def _create(c: SessionClient, handle: str, *, encrypted: bool, private: bool = False) -> tuple[bytes, object]:
    values = [HandleValue(1, "URL", f"https://example.com/{handle}".encode())]
    if private:
        values.append(HandleValue(2, "EMAIL", b"private@example.com", permissions=0b1100))
    msg = c.message(Op.CREATE_HANDLE, b.CreateHandleRequest(handle, tuple(values)))
    return c.sealed(msg, encrypted=encrypted), msg


def _authenticated_session(node: Node, first: str | None = None) -> SessionClient:
    c = SessionClient("127.0.0.1", node.handle_port)
    assert c.setup().rc == RC.SUCCESS
    first = first or f"88.101.5/S-{os.urandom(4).hex()}"
    data, msg = _create(c, first, encrypted=True, private=True)
    challenge = c.send(data)
    assert challenge.rc == RC.AUTHENTICATION_NEEDED and challenge.session_id == c.session_id
    msg = replace(msg, session_id=c.session_id)
    answer = c.message(Op.CHALLENGE_RESPONSE, challenge_body(msg, challenge, PREFIX_ADMIN))
    done = c.send(encode(answer))
    assert done.rc == RC.SUCCESS and done.session_id == c.session_id
    return c


def test_a_session_is_authenticated_once_then_carries_its_identity(node):
    c = _authenticated_session(node, "88.101.5/S-FIRST")
    r = requests.get(node.api("88.101.5/S-FIRST"), headers=OWNER).json()
    assert {v["type"] for v in r["values"]} >= {"URL", "EMAIL"}  # the encrypted create, written
    # Later requests in the session: no challenge, over TCP and tunnelled over HTTP on a handle path.
    data, _ = _create(c, "88.101.5/S-SECOND", encrypted=False)
    assert c.send(data).rc == RC.SUCCESS
    data, _ = _create(c, "88.101.5/S-HTTP", encrypted=True)
    r = _http(node, "/88.101.5%2FS-HTTP", data)
    assert r.status_code == 200 and c.open(r.content).rc == RC.SUCCESS
    assert requests.get(node.api("88.101.5/S-SECOND")).status_code == 200
    assert requests.get(node.api("88.101.5/S-HTTP")).status_code == 200
    # Non-public values read in the session come back encrypted, and the client can read them.
    msg = c.message(Op.RESOLUTION, b.ResolutionRequest("88.101.5/S-FIRST"))
    with socket.create_connection(("127.0.0.1", node.handle_port)) as s:
        s.sendall(c.sealed(msg))
        frame = s.recv(65536)
    assert frame[2] & ENV_ENCRYPTED and "EMAIL" in [v.type for v in c.open(frame).body.values]
    # ENC asks for an encrypted answer.
    enc = c.send(c.sealed(c.message(Op.RESOLUTION, b.ResolutionRequest("88.101.5/ABC123"), ENC)))
    assert enc.rc == RC.SUCCESS


def test_a_replayed_request_is_refused(node):
    c = _authenticated_session(node)
    data, _ = _create(c, "88.101.5/S-REPLAY", encrypted=False)
    assert c.send(data).rc == RC.SUCCESS
    again = c.send(data)  # the same bytes: same counter, same MAC
    assert again.rc == ps_rc("SESSION_MESSAGE_REJECTED") and "already received" in again.body.message
    # The same counter on another request (a forged one) is refused too.
    c.counter -= 1  # the next message reuses the counter of the last one
    data, _ = _create(c, "88.101.5/S-REPLAY-2", encrypted=False)
    assert c.send(data).rc == ps_rc("SESSION_MESSAGE_REJECTED")
    assert requests.get(node.api("88.101.5/S-REPLAY-2")).status_code == 404


def ps_rc(name: str) -> int:
    return int(getattr(RC, name))


def test_a_session_cannot_be_hijacked(node):
    """Knowing the session id is not enough: another address finds no session, and a request without
    the session key's MAC is refused, so the identity of the session is never lent to anyone."""
    c = _authenticated_session(node)
    thief = SessionClient("127.0.0.1", node.handle_port, source="127.0.0.2")
    thief.session_id, thief.key = c.session_id, c.key  # even with the key, from elsewhere
    data, _ = _create(thief, "88.101.5/STOLEN-1", encrypted=False)
    ans = thief.send(data)
    assert ans.rc == RC.SESSION_TIMEOUT
    # From the right address, with a wrong key (or no MAC at all).
    forger = SessionClient("127.0.0.1", node.handle_port)
    forger.session_id, forger.key = c.session_id, bytes(32)
    data, _ = _create(forger, "88.101.5/STOLEN-2", encrypted=False)
    assert forger.send(data).rc == ps_rc("INVALID_SESSION_KEY")
    msg = forger.message(Op.CREATE_HANDLE, b.CreateHandleRequest("88.101.5/STOLEN-3",
                                                                 (HandleValue(1, "URL", b"https://x"),)))
    assert forger.send(encode(msg)).rc == ps_rc("INVALID_SESSION_KEY")
    # Over UDP from another address, the session does not exist either.
    data, _ = _create(thief, "88.101.5/STOLEN-4", encrypted=False)
    assert decode_message(_udp(node, data, source="127.0.0.2")[0]).rc == RC.SESSION_TIMEOUT
    for h in ("STOLEN-1", "STOLEN-2", "STOLEN-3", "STOLEN-4"):
        assert requests.get(node.api(f"88.101.5/{h}")).status_code == 404


def test_another_identitys_answer_does_not_authenticate_the_session(node):
    c = SessionClient("127.0.0.1", node.handle_port)
    assert c.setup(identity=(300, "0.NA/88.101.6")).rc == RC.SUCCESS  # names someone else
    data, msg = _create(c, "88.101.5/S-OTHER", encrypted=False)
    challenge = c.send(data)
    answer = c.message(Op.CHALLENGE_RESPONSE,
                       challenge_body(replace(msg, session_id=c.session_id), challenge, PREFIX_ADMIN))
    assert c.send(encode(answer)).rc == RC.SUCCESS  # good for that one request
    data, _ = _create(c, "88.101.5/S-OTHER-2", encrypted=False)
    assert c.send(data).rc == RC.AUTHENTICATION_NEEDED  # but the session stays unauthenticated


def test_a_wrong_answer_in_a_session_changes_nothing(node):
    c = SessionClient("127.0.0.1", node.handle_port)
    c.setup()
    data, msg = _create(c, "88.101.5/S-WRONG", encrypted=False)
    challenge = c.send(data)
    wrong = SecretKey(300, "0.NA/88.101.5", b"not-the-secret")
    answer = c.message(Op.CHALLENGE_RESPONSE, challenge_body(replace(msg, session_id=c.session_id), challenge, wrong))
    assert c.send(encode(answer)).rc == RC.AUTHENTICATION_FAILED
    assert requests.get(node.api("88.101.5/S-WRONG")).status_code == 404
    data, _ = _create(c, "88.101.5/S-WRONG", encrypted=False)
    assert c.send(data).rc == RC.AUTHENTICATION_NEEDED


def test_an_ended_session_and_an_unknown_one_time_out(node):
    c = _authenticated_session(node)
    end = c.send(c.sealed(c.message(Op.SESSION_TERMINATE, b.GenericRequest())))
    assert end.rc == RC.SUCCESS
    data, _ = _create(c, "88.101.5/S-ENDED", encrypted=False)
    assert c.send(data).rc == RC.SESSION_TIMEOUT
    stranger = SessionClient("127.0.0.1", node.handle_port)
    stranger.session_id, stranger.key = 12345, bytes(32)
    assert stranger.send(stranger.sealed(stranger.message(Op.RESOLUTION, b.ResolutionRequest("88.101.5/ABC123")))).rc \
        == RC.SESSION_TIMEOUT
    # An encrypted message outside any session cannot be read: a clear refusal, not a crash.
    assert stranger.send(stranger.sealed(stranger.message(Op.RESOLUTION, b.ResolutionRequest("88.101.5/X")),
                                         encrypted=True)).rc == RC.SESSION_TIMEOUT


def test_sessions_from_one_address_are_bounded(node):
    """Opening session after session from one address evicts its oldest: memory stays bounded."""
    first = SessionClient("127.0.0.1", node.handle_port, source="127.0.0.3")
    first.setup()
    for _ in range(SessionTable().per_address):
        SessionClient("127.0.0.1", node.handle_port, source="127.0.0.3").setup()
    ans = first.send(first.sealed(first.message(Op.RESOLUTION, b.ResolutionRequest("88.101.5/ABC123"))))
    assert ans.rc == RC.SESSION_TIMEOUT


def test_session_table_expires_and_bounds_in_total():
    now = [0.0]
    t = SessionTable(limit=3, per_address=2, max_timeout=100, clock=lambda: now[0])
    a = t.open("10.0.0.1", 4, 50, None, (2, 10))
    long = t.open("10.0.0.2", 4, 10_000, None, (2, 10))  # asks for more than the maximum
    assert t.get(a.id, "10.0.0.1") is a and t.get(a.id, "10.0.0.9") is None
    now[0] = 60
    assert t.get(a.id, "10.0.0.1") is None and t.get(long.id, "10.0.0.2") is long
    now[0] = 101
    assert t.get(long.id, "10.0.0.2") is None
    ids = [t.open(f"10.0.1.{i}", 4, 50, None, (2, 10)).id for i in range(5)]
    assert len(t) == 3 and t.get(ids[0], "10.0.1.0") is None and t.get(ids[-1], "10.0.1.4") is not None


def test_session_counters_stay_bounded_and_old_ones_stay_refused():
    s = SessionTable().open("10.0.0.1", 4, 60, None, (2, 10))
    for counter in range(1, 10_001):
        assert s.accept_counter(counter, counter)
    assert len(s.counters) <= 4096 and not s.accept_counter(5, 99) and not s.accept_counter(9_999, 1)
    assert s.accept_counter(10_001, 2)


# -- split UDP answers and the HTTP tunnel, against the reference ------------------------------------

def test_the_reference_big_record_comes_back_in_six_datagrams(node):
    ref = decode_message(datagrams.reassemble([bytes.fromhex(h) for h in VECTORS[3]["response_datagrams_hex"]]))
    HandleClient("127.0.0.1", node.handle_port).resolve("88.101.5/ABC123", udp=False)  # TCP: address proven
    parts = _udp(node, bytes.fromhex(VECTORS[3]["request_hex"]))
    ours = decode_message(datagrams.reassemble(parts))
    assert len(parts) == len(VECTORS[3]["response_datagrams_hex"]) == 6
    assert all(len(p) <= 512 for p in parts) and {p[8:12] for p in parts} == {parts[0][8:12]}
    assert ours.rc == ref.rc == RC.SUCCESS and ours.request_id == ref.request_id
    assert [v.data for v in ours.body.values if v.type == "URL"] == [v.data for v in ref.body.values if v.type == "URL"]


def test_the_reference_tunnelled_request_on_a_handle_path_is_answered(node):
    ex = VECTORS[4]["exchanges"][0]
    raw = bytes.fromhex(ex["http_request_hex"])
    assert raw.startswith(b"POST /88.101.5%2FABC123 HTTP/1.1")
    with socket.create_connection(("127.0.0.1", node.port)) as s:
        s.sendall(raw.replace(b"Host: 127.0.0.1:8001", f"Host: 127.0.0.1:{node.port}".encode()))
        reply = b""
        while b"\r\n\r\n" not in reply or len(reply.split(b"\r\n\r\n", 1)[1]) < _length(reply):
            reply += s.recv(65536)
    head, body = reply.split(b"\r\n\r\n", 1)
    assert head.startswith(b"HTTP/1.1 200") and b"Content-Type: application/x-hdl-message" in head
    ref = decode_message(bytes.fromhex(ex["http_response_hex"]).split(b"\r\n\r\n", 1)[1])
    ours = decode_message(body)
    assert ours.rc == ref.rc == RC.SUCCESS and ours.body.handle == ref.body.handle == "88.101.5/ABC123"
    assert [v.data for v in ours.body.values if v.type == "URL"] == [v.data for v in ref.body.values if v.type == "URL"]


def _length(reply: bytes) -> int:
    for line in reply.split(b"\r\n\r\n", 1)[0].split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            return int(line.split(b":")[1])
    return 1 << 30


@pytest.mark.parametrize("path", ["/%2F", "/88.101.5%2FABC123", "/api/handles/88.101.5/ABC123", "/scan"])
def test_a_handle_message_is_taken_on_any_path(node, path):
    msg = HandleClient("127.0.0.1", node.handle_port).message(Op.RESOLUTION, b.ResolutionRequest("88.101.5/ABC123"))
    r = _http(node, path, encode(msg))
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/x-hdl-message"
    assert decode_message(r.content).rc == RC.SUCCESS


def test_that_content_type_is_never_answered_with_a_page(node):
    for path, data in (("/88.101.5%2FX", b"not a handle message"), ("/", b"\x02\x0a")):
        r = _http(node, path, data)
        assert r.headers["Content-Type"] == "application/x-hdl-message"
        assert decode_message(r.content).rc in (RC.ERROR, RC.PROTOCOL_ERROR)
    # Other content types on those paths keep their routes (GET pages, JSON API).
    assert requests.get(node.url + "/88.101.5/ABC123", allow_redirects=False).status_code == 302


def test_a_request_in_several_datagrams_is_put_together(node):
    """Handle.Net's client splits a request over 512 bytes (a create with a large value, in a
    session, over UDP) as the node splits answers; the slices may come in any order."""
    c = _authenticated_session(node)
    values = (HandleValue(1, "URL", b"https://example.com/" + b"y" * 900),)
    msg = c.message(Op.CREATE_HANDLE, b.CreateHandleRequest("88.101.5/S-SPLIT", values))
    parts = datagrams.split(c.sealed(msg, encrypted=True))
    assert len(parts) == 3
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(5)
        for part in reversed(parts):
            s.sendto(part, ("127.0.0.1", node.handle_port))
        ans = c.open(s.recv(65535))
    assert ans.rc == RC.SUCCESS and ans.session_id == c.session_id
    r = requests.get(node.api("88.101.5/S-SPLIT")).json()
    assert r["values"][0]["data"]["value"].endswith("y" * 900)


def test_slices_of_requests_are_bounded():
    from resolver.handle.udpsend import MAX_PENDING_PER_ADDRESS, RequestSlices

    now = [0.0]
    slices = RequestSlices(clock=lambda: now[0])
    msg = Message(Op.RESOLUTION, b.ResolutionRequest("88.101.5/X", (), tuple(f"T{i:03}" for i in range(120))))
    for rid in range(MAX_PENDING_PER_ADDRESS + 3):  # first slices only: never complete
        assert slices.add(datagrams.split(encode(replace(msg, request_id=rid)))[0], ("10.0.0.1", 1)) is None
    assert len(slices) == MAX_PENDING_PER_ADDRESS  # one address cannot hold more
    lying = bytearray(datagrams.split(encode(msg))[0])
    lying[16:20] = (10 << 20).to_bytes(4, "big")  # claims a 10 MB request
    assert slices.add(bytes(lying), ("10.0.0.2", 1)) is None and len(slices) == MAX_PENDING_PER_ADDRESS
    now[0] = 6.0  # incomplete requests are forgotten
    whole = encode(replace(msg, request_id=99))
    parts = datagrams.split(whole)
    assert [slices.add(p, ("10.0.0.1", 1)) for p in parts][-1] == whole and len(slices) == 0


def test_federation_peers_take_large_answers_over_udp(node):
    """The node's own client side (federation) gets the whole of a large record, whether the answer
    comes split over datagrams or as the 'ask over TCP' refusal."""
    import asyncio

    from resolver.federation.peer import Peers

    async def ask():
        peers = Peers(timeout=4)
        try:
            return await peers.resolve("127.0.0.1", node.handle_port, "88.101.5/BIG")
        finally:
            peers.close()

    ans = asyncio.run(ask())
    assert ans.rc == RC.SUCCESS and [v.data for v in ans.body.values if v.type == "URL"] == [BIG_URL.encode()]


def test_requests_held_for_challenges_in_sessions_are_bounded_in_bytes():
    from resolver.handle.challenges import Pending

    t = SessionTable(max_pending_bytes=10_000)
    sessions = [t.open(f"10.0.2.{i}", 4, 60, None, (2, 10)) for i in range(4)]

    def big(s):  # a held request of about 4,000 bytes
        return Pending(bytes(4_000), Op.CREATE_HANDLE, None, b"n" * 16, b"d" * 32, 1e12, s, s.address)

    for s in sessions:
        t.hold(s, big(s))
    held = [s for s in sessions if s.pending is not None]
    assert held == sessions[2:]  # the oldest challenges were dropped to stay within the bound
    t.release(sessions[2])
    t.remove(sessions[3].id)
    t.hold(sessions[0], big(sessions[0]))
    t.hold(sessions[1], big(sessions[1]))
    assert sessions[0].pending is not None and sessions[1].pending is not None


@pytest.mark.parametrize("mode", [ps.CIPHER_CLIENT, ps.CIPHER_SERVER])
def test_rsa_key_exchanges(node, mode):
    """The RSA modes Handle.Net defines (its 9.3.1 tools cannot use them on Java 17): the session key
    comes encrypted with the client's key (1), or goes encrypted with the node's (2, opcode 402)."""
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    from resolver.handle.sessions import rsa_public

    mine = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    numbers = mine.public_key().public_numbers()
    c = SessionClient("127.0.0.1", node.handle_port)
    w = Writer()
    ps.SessionSetupRequest(mode, 600, "0.NA/88.101.5", 300,
                           PublicKey.rsa(numbers.e, numbers.n).to_wire() if mode == ps.CIPHER_CLIENT else b"").write(w)
    setup = c.message(Op.SESSION_SETUP, b.RawBody(w.getvalue()))
    ans = c.send(encode(setup))
    assert ans.rc == RC.SUCCESS and ans.session_id
    res = ps.SessionSetupResponse.read(Reader(ans.body.data))
    c.session_id = ans.session_id
    if mode == ps.CIPHER_CLIENT:
        code, c.key = ps.split_cipher_key(mine.decrypt(res.data, padding.PKCS1v15()))
        assert code == ps.AES and len(c.key) == 16
    else:
        c.key = os.urandom(16)
        wrapped = rsa_public(res.data).encrypt(ps.cipher_key(ps.AES, c.key), padding.PKCS1v15())
        w = Writer()
        ps.ExchangeKeyRequest(wrapped).write(w)
        assert c.send(encode(c.message(Op.SESSION_EXCHANGEKEY, b.RawBody(w.getvalue())))).rc == RC.SUCCESS
    ans = c.send(c.sealed(c.message(Op.RESOLUTION, b.ResolutionRequest("88.101.5/ABC123"), ENC), encrypted=True))
    assert ans.rc == RC.SUCCESS and ans.session_id == c.session_id
