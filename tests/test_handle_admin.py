"""Administration over the Handle protocol: challenge-response with secret-key and public-key
identities, the same permission answers as HTTP, and challenges that cannot be answered twice."""

from __future__ import annotations

import json
import socket

import pytest
import requests

from protocol import bodies as b
from protocol.admin import AdminRef
from protocol.codes import RC
from protocol.envelope import MINT, OVRW, Op
from protocol.message import decode_message, encode
from protocol.values import HandleValue
from resolver.handleclient import PrivateKey, SecretKey
from resolver.keys import proofs
from resolver.keys.keyfiles import load_private
from tests import handle_nodes as hn
from tests.nodes import ENTERPRISES, basic, idnode

OWNER_ID = SecretKey(300, "0.NA/88.101.5", ENTERPRISES["88.101.5"].encode())
OTHER_ID = SecretKey(300, "0.NA/88.101.6", ENTERPRISES["88.101.6"].encode())
OWNER = {"Authorization": basic("300:0.NA/88.101.5", ENTERPRISES["88.101.5"])}
OTHER = {"Authorization": basic("300:0.NA/88.101.6", ENTERPRISES["88.101.6"])}


@pytest.fixture
def hnode(fresh_data):
    node = hn.start(fresh_data)
    yield node
    node.stop()


def url(i: int, text: str) -> HandleValue:
    return HandleValue(i, "URL", text.encode())


def http_values(node, handle) -> list[tuple]:
    r = requests.get(node.api(handle), headers=OWNER)
    return [(v["index"], v["type"], v["data"]["value"]) for v in r.json().get("values", [])]


def test_secret_key_identity_creates_changes_lists_and_deletes(hnode):
    c = hn.client(hnode)
    h = "88.101.5/P1"
    assert c.call(Op.CREATE_HANDLE, b.CreateHandleRequest(h, (url(1, "https://one"),)), OWNER_ID).rc == RC.SUCCESS
    assert http_values(hnode, h)[0] == (1, "URL", "https://one")
    again = c.call(Op.CREATE_HANDLE, b.CreateHandleRequest(h, (url(1, "https://two"),)), OWNER_ID)
    assert again.rc == RC.HANDLE_ALREADY_EXISTS
    assert c.call(Op.CREATE_HANDLE, b.CreateHandleRequest(h, (url(1, "https://two"),)), OWNER_ID,
                  OVRW).rc == RC.SUCCESS
    assert c.call(Op.ADD_VALUE, b.AddValueRequest(h, (url(2, "https://add"),)), OWNER_ID).rc == RC.SUCCESS
    assert c.call(Op.ADD_VALUE, b.AddValueRequest(h, (url(2, "https://dup"),)), OWNER_ID).rc == RC.VALUE_ALREADY_EXISTS
    assert c.call(Op.MODIFY_VALUE, b.ModifyValueRequest(h, (url(2, "https://mod"),)), OWNER_ID).rc == RC.SUCCESS
    assert c.call(Op.MODIFY_VALUE, b.ModifyValueRequest(h, (url(9, "https://x"),)), OWNER_ID).rc == RC.VALUES_NOT_FOUND
    assert [v for v in http_values(hnode, h) if v[1] == "URL"] == [(1, "URL", "https://two"), (2, "URL", "https://mod")]
    assert c.call(Op.REMOVE_VALUE, b.RemoveValueRequest(h, (2,)), OWNER_ID).rc == RC.SUCCESS
    assert c.call(Op.REMOVE_VALUE, b.RemoveValueRequest(h, ()), OWNER_ID).rc == RC.INVALID_VALUE
    assert [v[0] for v in http_values(hnode, h)] == [1, 100]
    listed = c.call(Op.LIST_HANDLES, b.HandleRequest("0.NA/88.101.5"), OWNER_ID)
    assert listed.rc == RC.SUCCESS and h in listed.body.handles
    assert c.call(Op.DELETE_HANDLE, b.HandleRequest(h), OWNER_ID).rc == RC.SUCCESS
    assert requests.get(hnode.api(h)).status_code == 404


def test_minting_a_suffix(hnode):
    c = hn.client(hnode)
    ans = c.call(Op.CREATE_HANDLE, b.CreateHandleRequest("88.101.5/", (url(1, "https://m"),)), OWNER_ID, MINT)
    assert ans.rc == RC.SUCCESS and ans.body.handle.startswith("88.101.5/")
    assert requests.get(hnode.api(ans.body.handle)).status_code == 200


@pytest.mark.parametrize("alg", [proofs.PBKDF2_HMAC_SHA1, proofs.HMAC_SHA256, proofs.HMAC_SHA1, proofs.SHA256,
                                 proofs.SHA1])
def test_every_secret_key_proof_handle_net_sends_is_accepted(hnode, alg):
    me = SecretKey(300, "0.NA/88.101.5", ENTERPRISES["88.101.5"].encode(), algorithm=alg)
    ans = hn.client(hnode).call(Op.CREATE_HANDLE, b.CreateHandleRequest(f"88.101.5/ALG{alg}", (url(1, "u"),)), me)
    assert ans.rc == RC.SUCCESS


def test_wrong_secret_and_unknown_identity_fail(hnode):
    c = hn.client(hnode)
    wrong = SecretKey(300, "0.NA/88.101.5", b"not-the-secret")
    assert c.call(Op.CREATE_HANDLE, b.CreateHandleRequest("88.101.5/W", (url(1, "u"),)), wrong).rc == \
        RC.AUTHENTICATION_FAILED
    nobody = SecretKey(300, "88.101.5/NOBODY", b"whatever-secret")
    assert c.call(Op.CREATE_HANDLE, b.CreateHandleRequest("88.101.5/W", (url(1, "u"),)), nobody).rc == \
        RC.AUTHENTICATION_FAILED
    assert requests.get(hnode.api("88.101.5/W")).status_code == 404


def test_unauthenticated_admin_request_is_challenged(hnode):
    ans = hn.client(hnode).call(Op.DELETE_HANDLE, b.HandleRequest("0.NA/88.101.5"), None)
    assert ans.rc == RC.AUTHENTICATION_NEEDED and ans.session_id != 0


def test_permission_denials_match_http(hnode):
    """The owner of 88.101.6 may not touch 88.101.5's handles, over either protocol alike."""
    c = hn.client(hnode)
    hn.put(hnode, "88.101.5/MINE", [{"index": 1, "type": "URL", "data": "https://mine"}], OWNER)
    over_handle = [
        c.call(Op.MODIFY_VALUE, b.ModifyValueRequest("88.101.5/MINE", (url(1, "https://theirs"),)), OTHER_ID),
        c.call(Op.ADD_VALUE, b.AddValueRequest("88.101.5/MINE", (url(5, "https://theirs"),)), OTHER_ID),
        c.call(Op.REMOVE_VALUE, b.RemoveValueRequest("88.101.5/MINE", (1,)), OTHER_ID),
        c.call(Op.DELETE_HANDLE, b.HandleRequest("88.101.5/MINE"), OTHER_ID),
        c.call(Op.CREATE_HANDLE, b.CreateHandleRequest("88.101.5/THEIRS", (url(1, "u"),)), OTHER_ID),
        c.call(Op.LIST_HANDLES, b.HandleRequest("0.NA/88.101.5"), OTHER_ID),
    ]
    over_http = [
        requests.put(hnode.api("88.101.5/MINE"), params={"index": 1}, headers={**hn.JSON, **OTHER},
                     json={"values": [{"index": 1, "type": "URL", "data": "https://theirs"}]}),
        requests.put(hnode.api("88.101.5/MINE"), params={"index": 5}, headers={**hn.JSON, **OTHER},
                     json={"values": [{"index": 5, "type": "URL", "data": "https://theirs"}]}),
        requests.delete(hnode.api("88.101.5/MINE"), params={"index": 1}, headers=OTHER),
        requests.delete(hnode.api("88.101.5/MINE"), headers=OTHER),
        requests.put(hnode.api("88.101.5/THEIRS"), headers={**hn.JSON, **OTHER},
                     json={"values": [{"index": 1, "type": "URL", "data": "u"}]}),
        requests.get(hnode.url + "/api/handles", params={"prefix": "88.101.5"}, headers=OTHER),
    ]
    assert [a.rc for a in over_handle] == [r.json()["responseCode"] for r in over_http] == [RC.NOT_AUTHORIZED] * 6
    assert all(r.status_code == 403 for r in over_http)
    assert http_values(hnode, "88.101.5/MINE")[0] == (1, "URL", "https://mine")
    # ... while 88.101.6's owner manages its own prefix over the protocol.
    assert c.call(Op.CREATE_HANDLE, b.CreateHandleRequest("88.101.6/OK", (url(1, "u"),)), OTHER_ID).rc == RC.SUCCESS


def test_a_replayed_challenge_answer_is_rejected(hnode):
    c = hn.client(hnode)
    request = c.message(Op.ADD_VALUE, b.AddValueRequest("88.101.5/REPLAY", (url(7, "https://once"),)))
    hn.put(hnode, "88.101.5/REPLAY", [{"index": 1, "type": "URL", "data": "https://r"}], OWNER)
    addr = ("127.0.0.1", hnode.handle_port)
    with socket.create_connection(addr, timeout=5) as s:
        challenge = decode_message(hn.exchange(s, encode(request)))
        assert challenge.rc == RC.AUTHENTICATION_NEEDED
        answer = encode(c.challenge_answer(request, challenge, OWNER_ID))
        assert decode_message(hn.exchange(s, answer)).rc == RC.SUCCESS
        assert decode_message(hn.exchange(s, answer)).rc == RC.AUTHENTICATION_TIMEOUT  # same connection
    with socket.create_connection(addr, timeout=5) as s:
        assert decode_message(hn.exchange(s, answer)).rc == RC.AUTHENTICATION_TIMEOUT  # another one
    # A wrong answer also uses the challenge up: the right one cannot follow it.
    with socket.create_connection(addr, timeout=5) as s:
        challenge = decode_message(hn.exchange(s, encode(request)))
        bad = c.challenge_answer(request, challenge, SecretKey(300, "0.NA/88.101.5", b"guess-one"))
        assert decode_message(hn.exchange(s, encode(bad))).rc == RC.AUTHENTICATION_FAILED
        good = c.challenge_answer(request, challenge, OWNER_ID)
        assert decode_message(hn.exchange(s, encode(good))).rc == RC.AUTHENTICATION_TIMEOUT
    assert [v[0] for v in http_values(hnode, "88.101.5/REPLAY")] == [1, 7, 100]


@pytest.mark.parametrize("kind", ["rsa", "ecdsa", "ed25519"])
def test_public_key_identity(hnode, tmp_path, kind):
    """`idnode keygen` makes the key; its HS_PUBKEY value goes on 88.101.5/KEYS at 300; a handle whose
    HS_ADMIN names 300:88.101.5/KEYS is then administered by whoever holds the private key."""
    keyfile = tmp_path / "id.pem"
    printed = json.loads(idnode("keygen", "--type", kind, "--out", str(keyfile)).stdout)
    assert printed["data"]["value"]["kty"] == {"rsa": "RSA", "ecdsa": "EC", "ed25519": "OKP"}[kind]
    assert oct(keyfile.stat().st_mode & 0o777) == "0o600"
    assert json.loads((tmp_path / "id.pem.pub.json").read_text()) == printed
    hn.put(hnode, "88.101.5/KEYS", [printed, hn.admin_value("0.NA/88.101.5", 300, "011111110011")], OWNER)
    hn.put(hnode, "88.101.5/BYKEY", [{"index": 1, "type": "URL", "data": "https://k"},
                                     hn.admin_value("88.101.5/KEYS", 300, "011111110011")], OWNER)
    me = PrivateKey(300, "88.101.5/KEYS", load_private(keyfile))
    c = hn.client(hnode)
    assert c.call(Op.ADD_VALUE, b.AddValueRequest("88.101.5/BYKEY", (url(2, "https://signed"),)), me).rc == RC.SUCCESS
    assert (2, "URL", "https://signed") in http_values(hnode, "88.101.5/BYKEY")
    # Not named by 88.101.5/MINE's HS_ADMIN: refused as HTTP would.
    hn.put(hnode, "88.101.5/MINE", [{"index": 1, "type": "URL", "data": "https://mine"}], OWNER)
    assert c.call(Op.ADD_VALUE, b.AddValueRequest("88.101.5/MINE", (url(2, "x"),)), me).rc == RC.NOT_AUTHORIZED
    # Another key, of the same type or another, does not pass for this identity.
    from resolver.keys.keyfiles import new_key

    for other in {kind, "ed25519" if kind == "rsa" else "rsa"}:
        impostor = PrivateKey(300, "88.101.5/KEYS", new_key(other))
        assert c.call(Op.ADD_VALUE, b.AddValueRequest("88.101.5/BYKEY", (url(3, "x"),)), impostor).rc == \
            RC.AUTHENTICATION_FAILED
    assert 3 not in [v[0] for v in http_values(hnode, "88.101.5/BYKEY")]


def test_administration_over_http_post(hnode):
    """A client behind a firewall does the whole challenge-response through POST /."""
    c = hn.client(hnode)
    post = lambda m: decode_message(requests.post(  # noqa: E731
        hnode.url + "/", data=encode(m), headers={"Content-Type": "application/x-hdl-message"}).content)
    request = c.message(Op.CREATE_HANDLE, b.CreateHandleRequest("88.101.5/VIAHTTP", (url(1, "https://h"),)))
    challenge = post(request)
    assert challenge.rc == RC.AUTHENTICATION_NEEDED
    assert post(c.challenge_answer(request, challenge, OWNER_ID)).rc == RC.SUCCESS
    assert requests.get(hnode.api("88.101.5/VIAHTTP")).status_code == 200


def test_a_secret_set_over_the_protocol_works_for_http_and_the_protocol(hnode):
    """HS_SECKEY written in a Handle message is stored as a verifier (plus its sealed copy) like any."""
    c = hn.client(hnode)
    values = (HandleValue(300, "HS_SECKEY", b"fresh-secret-300", permissions=0x0C),
              HandleValue(100, "HS_ADMIN", AdminRef("88.101.5/NEWID", 300, 0x0FF3).to_wire()))
    assert c.call(Op.CREATE_HANDLE, b.CreateHandleRequest("88.101.5/NEWID", values), OWNER_ID).rc == RC.SUCCESS
    stored = [v for v in requests.get(hnode.api("88.101.5/NEWID"), headers=OWNER).json()["values"]
              if v["type"] == "HS_SECKEY"][0]["data"]["value"]
    assert stored.startswith("scrypt:") and "fresh-secret-300" not in stored
    newid = SecretKey(300, "88.101.5/NEWID", b"fresh-secret-300")
    assert c.call(Op.ADD_VALUE, b.AddValueRequest("88.101.5/NEWID", (url(1, "https://n"),)), newid).rc == RC.SUCCESS
    assert requests.get(hnode.api("88.101.5/NEWID"),
                        headers={"Authorization": basic("300:88.101.5/NEWID", "fresh-secret-300")}).status_code == 200


def test_a_secret_kept_only_as_a_verifier_cannot_answer_a_challenge_until_set_again(hnode):
    """A verifier written before the node sealed secrets (here: PUT as a ready-made verifier) still
    works over HTTP; over the Handle protocol it gets 406, which says what to do."""
    from resolver.credentials import hash_secret, sealed_part

    legacy = hash_secret("legacy-secret-1")  # the node's own parameters: only those are taken as given
    assert sealed_part(legacy) is None
    hn.put(hnode, "88.101.5/OLD", [hn.admin_value("88.101.5/OLD", 300, "111111111111"),
                                   {"index": 300, "type": "HS_SECKEY", "data": legacy, "permissions": "1100"}], OWNER)
    assert requests.get(hnode.api("88.101.5/OLD"),
                        headers={"Authorization": basic("300:88.101.5/OLD", "legacy-secret-1")}).status_code == 200
    me = SecretKey(300, "88.101.5/OLD", b"legacy-secret-1")
    ans = hn.client(hnode).call(Op.ADD_VALUE, b.AddValueRequest("88.101.5/OLD", (url(1, "u"),)), me)
    assert ans.rc == RC.UNABLE_TO_AUTHENTICATE and "set it again" in ans.body.message
    hn.put(hnode, "88.101.5/OLD", [{"index": 300, "type": "HS_SECKEY", "data": "legacy-secret-1",
                                    "permissions": "1100"}], OWNER, index=300)
    assert hn.client(hnode).call(Op.ADD_VALUE, b.AddValueRequest("88.101.5/OLD", (url(1, "u"),)), me).rc == RC.SUCCESS
