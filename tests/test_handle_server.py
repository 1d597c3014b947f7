"""Resolution over the Handle protocol on a running node: UDP, TCP and HTTP POST, filters, the
public-only flag and 402, not found and not responsible, truncation, and the same record as HTTP."""

from __future__ import annotations

import json
import socket

import pytest
import requests

from protocol import bodies, datagrams
from protocol.codes import RC
from protocol.envelope import RD, Op
from protocol.framing import TcpFramer
from protocol.jsonrepr import value_to_json
from protocol.message import decode_message, encode
from protocol.site import Site
from resolver.handleclient import SecretKey
from tests import handle_nodes as hn
from tests.nodes import ENTERPRISES, basic, idnode

OWNER = {"Authorization": basic("300:0.NA/88.101.5", ENTERPRISES["88.101.5"])}
BIG = "88.101.5/BIG"


@pytest.fixture(scope="module")
def hnode(tmp_path_factory):
    with hn.capture_node(tmp_path_factory, "handle") as node:
        hn.put(node, BIG, [{"index": 2000 + i, "type": "PART", "data": f"part-{i}-" + "x" * 90} for i in range(12)],
               OWNER)
        yield node


@pytest.fixture(scope="module")
def cli(hnode):
    return hn.client(hnode)


def values_json(values) -> list[dict]:
    return [value_to_json(v) for v in values]


@pytest.mark.parametrize("udp", [True, False], ids=["udp", "tcp"])
def test_resolution_matches_http(hnode, cli, udp):
    ans = cli.resolve("88.101.5/ABC123", udp=udp)
    assert ans.rc == RC.SUCCESS and ans.body.handle == "88.101.5/ABC123"
    http = requests.get(hnode.api("88.101.5/ABC123")).json()
    assert values_json(ans.body.values) == http["values"]


def test_filters_by_index_and_type(cli):
    assert [v.index for v in cli.resolve("88.101.5/ABC123", indexes=(100,)).body.values] == [100]
    assert [v.type for v in cli.resolve("88.101.5/ABC123", types=("URL",)).body.values] == ["URL"]
    assert cli.resolve("88.101.5/ABC123", types=("EMAIL",)).rc == RC.VALUES_NOT_FOUND
    assert cli.resolve("88.101.5/ABC123", indexes=(7,), udp=False).rc == RC.VALUES_NOT_FOUND


def test_not_found_and_not_responsible(cli):
    assert cli.resolve("88.101.5/NOPE").rc == RC.HANDLE_NOT_FOUND
    assert cli.resolve("99.9/X").rc == RC.SERVER_NOT_RESPONSIBLE
    assert cli.resolve("0.NA/88.101.5", udp=False).rc == RC.SERVER_NOT_RESPONSIBLE
    assert cli.resolve("not a handle").rc == RC.INVALID_HANDLE


def test_non_public_values_need_authentication_or_the_public_only_flag(cli):
    challenged = cli.resolve("88.101.5/ADMIN")
    assert challenged.rc == RC.AUTHENTICATION_NEEDED and challenged.has(RD) and challenged.session_id
    assert len(challenged.body.nonce) == 16
    public = cli.resolve("88.101.5/ADMIN", public_only=True)
    assert public.rc == RC.SUCCESS and [v.type for v in public.body.values] == ["HS_ADMIN"]
    # Asking only for the public value needs no authentication either.
    assert cli.resolve("88.101.5/ADMIN", indexes=(100,)).rc == RC.SUCCESS
    # The identity that administers the handle answers the challenge and reads everything.
    me = SecretKey(300, "88.101.5/ADMIN", b"admin-secret-300")
    full = cli.resolve("88.101.5/ADMIN", identity=me)
    assert full.rc == RC.SUCCESS and [v.type for v in full.body.values] == ["HS_ADMIN", "HS_SECKEY"]


def _udp_datagrams(port: int, msg, source: str) -> list[bytes]:
    """Every datagram the node sends back to one request from ``source`` (a loopback address)."""
    out = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((source, 0))
        s.settimeout(2)
        s.sendto(encode(msg), ("127.0.0.1", port))
        try:
            while True:
                out.append(s.recv(65535))
                s.settimeout(0.5)
        except TimeoutError:
            return out


def test_large_answer_goes_in_several_datagrams_to_a_proven_address(hnode, cli):
    full = cli.resolve(BIG, udp=False)  # a TCP handshake from 127.0.0.1: its address is proven
    msg = cli.message(Op.RESOLUTION, bodies.ResolutionRequest(BIG))
    parts = _udp_datagrams(hnode.handle_port, msg, "127.0.0.1")
    assert len(parts) == datagrams.count(len(encode(full))) > 1 and all(len(p) <= 512 for p in parts)
    whole = decode_message(datagrams.reassemble(list(reversed(parts))))  # slices find their place
    assert whole.request_id == msg.request_id and whole.body.values == full.body.values
    # The project's own client puts the slices together too.
    assert cli.resolve(BIG, udp=True).body.values == full.body.values


def test_udp_amplification_is_bounded_for_an_address_that_never_proved_itself(hnode):
    """An attacker forging a victim's address gets the victim one short error, not 3 kB of answer."""
    msg = hn.client(hnode).message(Op.RESOLUTION, bodies.ResolutionRequest(BIG))
    parts = _udp_datagrams(hnode.handle_port, msg, "127.0.0.2")
    assert len(parts) == 1 and len(parts[0]) <= 3 * len(encode(msg))
    refusal = decode_message(parts[0])
    assert refusal.rc == RC.ERROR and "ask over TCP" in refusal.body.message


def test_rd_answer_carries_the_digest_of_the_request(cli):
    msg = cli.message(Op.RESOLUTION, bodies.ResolutionRequest("88.101.5/ABC123"), RD)
    ans = cli.tcp(msg)
    assert ans.rc == RC.SUCCESS and ans.digest.matches(msg.header_and_body())


def test_a_change_is_seen_at_once_although_answers_are_kept_encoded(hnode, cli):
    handle = "88.101.5/CHANGING"
    hn.put(hnode, handle, [{"index": 1, "type": "URL", "data": "https://a.example"}], OWNER)
    for _ in range(3):  # the second and third answers come from the pre-encoded body
        assert cli.resolve(handle).body.values[0].data == b"https://a.example"
    hn.put(hnode, handle, [{"index": 1, "type": "URL", "data": "https://b.example"}], OWNER)
    assert cli.resolve(handle).body.values[0].data == b"https://b.example"
    # Answers echo each request's ids although the body is shared.
    a, b = cli.resolve(handle), cli.resolve(handle)
    assert a.request_id != b.request_id and a.body == b.body


def test_site_info_names_this_node(hnode, cli):
    ans = cli.tcp(cli.message(Op.GET_SITE_INFO, bodies.GenericRequest()))
    site = Site.from_wire(ans.body.site)
    assert (site.major, site.minor) == (2, 10) and site.primary
    assert [(i.protocol, i.port) for i in site.servers[0].interfaces] == [
        (1, hnode.handle_port), (0, hnode.handle_port), (2, hnode.port)]


def test_the_same_messages_over_http_post(hnode, cli):
    msg = cli.message(Op.RESOLUTION, bodies.ResolutionRequest("88.101.5/ABC123"))
    r = requests.post(hnode.url + "/", data=encode(msg), headers={"Content-Type": "application/x-hdl-message"})
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/x-hdl-message"
    ans = decode_message(r.content)
    assert ans.rc == RC.SUCCESS and ans.request_id == msg.request_id and len(ans.body.values) == 2
    wrong = requests.post(hnode.url + "/", data=b"{}", headers={"Content-Type": "application/json"})
    assert wrong.status_code == 415


@pytest.mark.parametrize("via", ["--udp", "--tcp"])
def test_cli_resolves_over_the_handle_protocol(hnode, via):
    p = idnode("resolve", "88.101.5/ABC123", via, "--server", f"127.0.0.1:{hnode.handle_port}")
    out = json.loads(p.stdout)
    assert out["responseCode"] == 1
    assert out["values"] == requests.get(hnode.api("88.101.5/ABC123")).json()["values"]
    missing = idnode("resolve", "88.101.5/NOPE", via, "--server", f"127.0.0.1:{hnode.handle_port}", check=False)
    assert missing.returncode == 1 and json.loads(missing.stdout)["responseCode"] == 100


def test_tcp_reassembles_a_request_sent_byte_by_byte_and_answers_several_on_one_connection(hnode, cli):
    msgs = [cli.message(Op.RESOLUTION, bodies.ResolutionRequest("88.101.5/ABC123")) for _ in range(3)]
    stream = b"".join(encode(m) for m in msgs)
    with socket.create_connection(("127.0.0.1", hnode.handle_port), timeout=5) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for i in range(len(stream)):
            s.send(stream[i:i + 1])
        framer, got = TcpFramer(), []
        while len(got) < 3:
            got += framer.feed(s.recv(65536))
    assert sorted(decode_message(g).request_id for g in got) == sorted(m.request_id for m in msgs)


def test_tcp_closes_a_connection_announcing_a_message_over_the_limit(hnode):
    envelope = bytes([2, 10, 0, 0]) + bytes(12) + (64 << 20).to_bytes(4, "big")
    with socket.create_connection(("127.0.0.1", hnode.handle_port), timeout=5) as s:
        s.sendall(envelope + b"x" * 100)
        assert s.recv(65536) == b""
