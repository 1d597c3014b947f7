"""Certified answers: a request with the CT op-flag gets an answer signed with the node's key (as
Handle.Net's signMessage lays it out), which a client checks against the key of get-site-info."""

from __future__ import annotations

import socket

import pytest
import requests

from protocol import bodies as b
from protocol.codes import RC, HandleError
from protocol.credential import SIGNED
from protocol.envelope import CT, Op
from protocol.message import decode_message, encode
from resolver.handleclient import HandleClient, verify
from resolver.keys.keyfiles import NODE_KEY, hs_pubkey, load_private, new_rsa_key
from tests import handle_nodes as hn

HANDLE = "88.101.5/CERT-1"


@pytest.fixture(scope="module")
def cnode(tmp_path_factory):
    with hn.capture_node(tmp_path_factory, "certified") as node:
        hn.put(node, HANDLE, [{"index": 1, "type": "URL", "data": "https://example.com/c1"}], hn.OWNER)
        yield node


def site_key(node) -> bytes:
    return hn.client(node).server_key(hn.client(node).site_info())


def udp_bytes(node, data: bytes) -> bytes:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(10)
        s.sendto(data, ("127.0.0.1", node.handle_port))
        return s.recvfrom(65535)[0]


def test_the_site_lists_the_node_key(cnode):
    assert site_key(cnode) == hs_pubkey(load_private(cnode.data / NODE_KEY))


@pytest.mark.parametrize("udp", [True, False], ids=["udp", "tcp"])
def test_a_ct_resolution_is_signed_and_verifies(cnode, udp):
    c = hn.client(cnode)
    key = site_key(cnode)
    msg = c.message(Op.RESOLUTION, b.ResolutionRequest(HANDLE), CT)
    ans = c.udp(msg) if udp else c.tcp(msg)
    assert ans.rc == RC.SUCCESS and not ans.truncated and ans.has(CT)
    assert ans.body.values[0].data == b"https://example.com/c1"
    cred = ans.credential
    assert (cred.type, cred.digest_algorithm, cred.signer_handle, cred.signer_index) == (SIGNED, "SHA-256", "", 0)
    assert verify(ans, key)
    assert not verify(ans, hs_pubkey(new_rsa_key()))  # another server's key
    # The client's own check: site info first, then the signed answer.
    assert c.certified_resolve(HANDLE, udp=udp).body.values[0].data == b"https://example.com/c1"
    with pytest.raises(HandleError) as err:
        c.certified_resolve(HANDLE, udp=udp, key=hs_pubkey(new_rsa_key()))
    assert err.value.rc == RC.INVALID_CREDENTIAL


def test_a_tampered_answer_fails_verification(cnode):
    c = hn.client(cnode)
    key = site_key(cnode)
    raw = udp_bytes(cnode, encode(c.message(Op.RESOLUTION, b.ResolutionRequest(HANDLE), CT)))
    assert verify(decode_message(raw), key)
    at = raw.index(b"example.com")
    changed_value = raw[:at] + b"exbmple.com" + raw[at + 11:]
    assert decode_message(changed_value).body.values[0].data == b"https://exbmple.com/c1"
    assert not verify(decode_message(changed_value), key)
    changed_request_id = raw[:8] + bytes([raw[8] ^ 1]) + raw[9:]  # the envelope's ids are signed too
    assert not verify(decode_message(changed_request_id), key)
    signature_at = len(raw) - 1  # the signature's last byte
    changed_signature = raw[:signature_at] + bytes([raw[signature_at] ^ 0x80])
    assert not verify(decode_message(changed_signature), key)


@pytest.mark.parametrize("version,digest", [((2, 1), "SHA1"), ((2, 6), "SHA1"), ((2, 7), "SHA-256"),
                                            ((2, 10), "SHA-256")])
def test_older_protocol_versions_get_what_they_can_check(cnode, version, digest):
    c = HandleClient("127.0.0.1", cnode.handle_port, timeout=10, version=version)
    ans = c.tcp(c.message(Op.RESOLUTION, b.ResolutionRequest(HANDLE), CT))
    assert ans.version == version and ans.credential.digest_algorithm == digest
    assert verify(ans, site_key(cnode))


def test_errors_and_site_info_are_signed_too_and_so_is_http_post(cnode):
    c = hn.client(cnode)
    key = site_key(cnode)
    missing = c.tcp(c.message(Op.RESOLUTION, b.ResolutionRequest("88.101.5/NO-SUCH"), CT))
    assert missing.rc == RC.HANDLE_NOT_FOUND and verify(missing, key)
    site = c.tcp(c.message(Op.GET_SITE_INFO, b.Empty(), CT))
    assert site.rc == RC.SUCCESS and verify(site, key)
    posted = requests.post(cnode.url + "/", data=encode(c.message(Op.RESOLUTION, b.ResolutionRequest(HANDLE), CT)),
                           headers={"Content-Type": "application/x-hdl-message"})
    assert verify(decode_message(posted.content), key)


@pytest.mark.parametrize("udp", [True, False], ids=["udp", "tcp"])
def test_answers_without_ct_stay_unsigned(cnode, udp):
    c = hn.client(cnode)
    msg = c.message(Op.RESOLUTION, b.ResolutionRequest(HANDLE))
    if udp:
        raw = udp_bytes(cnode, encode(msg))
    else:
        with socket.create_connection(("127.0.0.1", cnode.handle_port), timeout=10) as s:
            raw = hn.exchange(s, encode(msg))
    ans = decode_message(raw)
    assert ans.rc == RC.SUCCESS and raw.endswith(b"\0\0\0\0") and ans.credential is None and not ans.has(CT)
    assert not verify(ans, site_key(cnode))


def test_what_the_signature_covers_by_version():
    from protocol.credential import signed_data

    hb = b"HEADER+BODY"
    assert signed_data(2, 10, 2, 11, 0x01020304, 0x0A0B0C0D, 7, hb) == \
        bytes.fromhex("020a020b" "01020304" "0a0b0c0d" "00000007") + hb
    assert signed_data(2, 7, 2, 11, 0x01020304, 0x0A0B0C0D, 7, hb) == \
        bytes.fromhex("0207" "01020304" "0a0b0c0d" "00000007") + hb
    # Handle.Net 2.6 wrote each int at the offset its writer returned (4), not past it.
    assert signed_data(2, 6, 2, 11, 0x01020304, 0x0A0B0C0D, 7, hb) == \
        bytes.fromhex("0206" "0102" "00000007" "000000000000") + hb
    assert signed_data(2, 5, 2, 11, 0x01020304, 0x0A0B0C0D, 7, hb) == hb
