"""HS_SITE and HS_PUBKEY: JSON (as Handle.Net writes it) ⇄ wire."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest

from protocol import pubkey, site
from protocol.codes import RC, HandleError
from protocol.message import decode_message

DATA = Path(__file__).parent / "data" / "handle-wire"
VECTORS = json.loads((DATA / "handlenet-9.3.1-vectors.json").read_text())["vectors"]


def reference_site_bytes() -> bytes:
    (v,) = [v for v in VECTORS if v["name"] == "get site info"]
    return decode_message(bytes.fromhex(v["response_hex"])).body.site


EXAMPLE = {
    "version": 1, "protocolVersion": "2.10", "serialNumber": 1, "primarySite": True, "multiPrimary": False,
    "attributes": [{"name": "desc", "value": "idnode test site"}],
    "servers": [{
        "serverId": 1, "address": "127.0.0.1",
        "publicKey": {"format": "base64", "value": base64.b64encode(pubkey.PublicKey.rsa(65537, 2**2047 + 9).to_wire())
                      .decode()},
        "interfaces": [{"query": True, "admin": True, "protocol": "TCP", "port": 2641},
                       {"query": True, "admin": False, "protocol": "UDP", "port": 2641},
                       {"query": True, "admin": True, "protocol": "HTTPS", "port": 8443}],
    }],
}


def test_example_json_to_wire_and_back():
    data = site.from_json(EXAMPLE)
    out = site.to_json(data)
    assert out["protocolVersion"] == "2.10" and out["serialNumber"] == 1 and out["primarySite"] is True
    assert out["attributes"] == EXAMPLE["attributes"]
    assert out["servers"] == EXAMPLE["servers"]
    assert site.from_json(out) == data


def test_wire_layout_of_a_small_site():
    s = site.Site(servers=(site.Server(7, site.address_from_text("10.0.0.2"), b"K", (site.Interface(2, 0, 2641),)),),
                  serial=3, primary=True, multi_primary=True, attributes=(("a", "b"),), minor=10)
    expected = bytes.fromhex(
        "0001" "020a" "0003" "c0" "02" "00000000"
        "00000001" "0000000161" "0000000162"
        "00000001" "00000007" + "00" * 12 + "0a000002" "000000014b"
        "00000001" "02" "00" "00000a51")
    assert s.to_wire() == expected
    assert site.Site.from_wire(expected) == s


def test_reference_site_round_trips_through_json():
    raw = reference_site_bytes()
    obj = site.to_json(raw)
    assert obj["protocolVersion"] == "2.11" and obj["hashOption"] == 2
    assert obj["servers"][0]["interfaces"] == [
        {"query": True, "admin": True, "protocol": "TCP", "port": 2641},
        {"query": True, "admin": False, "protocol": "UDP", "port": 2641},
        {"query": True, "admin": True, "protocol": "HTTP", "port": 8000},
    ]
    assert site.from_json(obj) == raw


@pytest.mark.parametrize("text,raw", [
    ("127.0.0.1", bytes(12) + bytes([127, 0, 0, 1])),
    ("2001:db8::1", bytes.fromhex("20010db8000000000000000000000001")),
])
def test_addresses(text, raw):
    assert site.address_from_text(text) == raw
    assert site.address_to_text(raw) == text


def test_ipv4_mapped_form_also_reads_as_ipv4():
    assert site.address_to_text(bytes(10) + b"\xff\xff" + bytes([192, 0, 2, 1])) == "192.0.2.1"


@pytest.mark.parametrize("patch,field", [
    ({"protocolVersion": "two"}, "site.protocolVersion"),
    ({"serialNumber": 70000}, "site.serialNumber"),
    ({"primarySite": "yes"}, "site.primarySite"),
    ({"servers": {}}, "site.servers"),
    ({"servers": [{"serverId": 1, "address": "not-an-ip"}]}, "site.servers[0].address"),
    ({"servers": [{"serverId": -1, "address": "::1"}]}, "site.servers[0].serverId"),
    ({"servers": [{"serverId": 1, "address": "::1", "interfaces": [{"protocol": "FTP", "port": 1}]}]},
     "site.servers[0].interfaces[0].protocol"),
    ({"servers": [{"serverId": 1, "address": "::1", "interfaces": [{"protocol": "TCP", "port": "x"}]}]},
     "site.servers[0].interfaces[0].port"),
    ({"servers": [{"serverId": 1, "address": "::1", "publicKey": {"format": "base64", "value": "!!"}}]},
     "site.servers[0].publicKey"),
    ({"attributes": [{"value": "v"}]}, "site.attributes[0].name"),
])
def test_bad_site_json_names_the_field(patch, field):
    with pytest.raises(HandleError) as err:
        site.from_json({**EXAMPLE, **patch})
    assert err.value.rc == RC.INVALID_VALUE
    assert err.value.field == field and field.split(".")[-1].split("[")[0] in err.value.message


def test_site_json_must_be_an_object():
    with pytest.raises(HandleError) as err:
        site.from_json([1])
    assert err.value.rc == RC.INVALID_VALUE


def test_truncated_site_bytes_are_a_protocol_error():
    raw = reference_site_bytes()
    with pytest.raises(HandleError) as err:
        site.Site.from_wire(raw[:-3])
    assert err.value.rc == RC.PROTOCOL_ERROR


# -- HS_PUBKEY --------------------------------------------------------------------------------

def test_rsa_key_layout_matches_handle_net():
    key = pubkey.PublicKey.rsa(65537, 0xC0FFEE)
    assert key.to_wire() == bytes.fromhex(
        "0000000b" + b"RSA_PUB_KEY".hex() + "0000" + "00000003010001" + "0000000400c0ffee" + "00000000")
    assert pubkey.PublicKey.from_wire(key.to_wire()).rsa_numbers() == (65537, 0xC0FFEE)


def test_rsa_key_without_the_trailing_zeros_still_reads():
    raw = pubkey.PublicKey.rsa(3, 0x7F).to_wire()[:-4]
    assert pubkey.PublicKey.from_wire(raw).rsa_numbers() == (3, 0x7F)


def test_dsa_key_part_order_is_q_p_g_y():
    key = pubkey.PublicKey.dsa(p=23, q=11, g=4, y=8)
    assert key.numbers() == (11, 23, 4, 8) and key.dsa_numbers() == (23, 11, 4, 8)
    assert pubkey.from_json(pubkey.to_json(key.to_wire())) == key.to_wire()


def test_key_json_is_a_jwk_for_rsa():
    raw = reference_site_bytes()
    key_bytes = site.Site.from_wire(raw).servers[0].public_key
    jwk = pubkey.to_json(key_bytes)
    assert jwk["kty"] == "RSA" and jwk["e"] == "AQAB"
    assert pubkey.from_json(jwk) == key_bytes


def test_ec_and_ed25519_keys_layout_and_jwk():
    point = b"\x04" + bytes(range(1, 33)) + bytes(range(33, 65))
    key = pubkey.PublicKey.ec("P-256", point)
    assert key.to_wire() == bytes.fromhex("0000000a" + b"EC_PUB_KEY".hex() + "0000" + "00000005" + b"P-256".hex()
                                          + "00000041" + point.hex())
    jwk = pubkey.to_json(key.to_wire())
    assert jwk == {"kty": "EC", "crv": "P-256", "x": base64.urlsafe_b64encode(point[1:33]).rstrip(b"=").decode(),
                   "y": base64.urlsafe_b64encode(point[33:]).rstrip(b"=").decode()}
    assert pubkey.from_json(jwk) == key.to_wire()
    # Coordinates keep their leading zero bytes (a JWK's x and y are of the curve's exact size).
    zeros = pubkey.PublicKey.ec("P-256", b"\x04" + b"\0" * 31 + b"\x01" + b"\0" * 31 + b"\x02")
    assert pubkey.from_json(pubkey.to_json(zeros.to_wire())) == zeros.to_wire()
    ed = pubkey.PublicKey.ed25519(b"\0" + b"\x07" * 31)
    assert ed.to_wire() == bytes.fromhex("0000000f" + b"ED25519_PUB_KEY".hex() + "0000" + "00000020" + "00" + "07" * 31)
    assert pubkey.to_json(ed.to_wire()) == {"kty": "OKP", "crv": "Ed25519", "x": "AAcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc"}
    assert pubkey.from_json(pubkey.to_json(ed.to_wire())) == ed.to_wire()


@pytest.mark.parametrize("obj", [{"kty": "EC", "crv": "P-192", "x": "AA", "y": "AA"},
                                 {"kty": "EC", "crv": "P-256", "x": "AAAA", "y": "AAAA"},
                                 {"kty": "OKP", "crv": "X25519", "x": "A" * 43},
                                 {"kty": "OKP", "crv": "Ed25519", "x": "AAAA"}])
def test_bad_ec_and_okp_jwks_are_invalid_value(obj):
    with pytest.raises(HandleError) as err:
        pubkey.from_json(obj)
    assert err.value.rc == RC.INVALID_VALUE and err.value.field.startswith("data")


def test_key_json_accepts_base64_of_the_bytes():
    raw = pubkey.PublicKey("Ed25519", (), 0, b"\x01" * 36).to_wire()
    assert pubkey.to_json(raw) == base64.b64encode(raw).decode()
    assert pubkey.from_json(base64.b64encode(raw).decode()) == raw


@pytest.mark.parametrize("obj", [42, "not base64!", {"kty": "EC"}, {"kty": "RSA", "n": "AQAB"},
                                 {"kty": "RSA", "n": 5, "e": "AQAB"}, base64.b64encode(b"\0\0").decode()])
def test_bad_key_json_is_invalid_value(obj):
    with pytest.raises(HandleError) as err:
        pubkey.from_json(obj)
    assert err.value.rc == RC.INVALID_VALUE


def test_server_selection_follows_the_rfc_3652_hash():
    from protocol.site import HASH_BY_ALL, HASH_BY_PREFIX, HASH_BY_SUFFIX, server_number

    # The rule: MD5 of the part the hash option names, upper-cased in ASCII; the digest's last four
    # bytes as a signed big-endian number; its absolute value modulo the number of servers.
    digest = hashlib.md5(b"88.101.5/SN-2024-000042".upper()).digest()
    assert server_number("88.101.5/sn-2024-000042", HASH_BY_ALL, 7) == abs(
        int.from_bytes(digest[-4:], "big", signed=True)) % 7
    # Case does not move a handle (ASCII only), a prefix hash keeps a prefix on one server.
    assert server_number("88.101.5/abc", HASH_BY_ALL, 5) == server_number("88.101.5/ABC", HASH_BY_ALL, 5)
    assert len({server_number(f"88.101.5/{n}", HASH_BY_PREFIX, 4) for n in range(50)}) == 1
    assert server_number("88.101.5/X", HASH_BY_SUFFIX, 4) == server_number("88.999/X", HASH_BY_SUFFIX, 4)
    assert server_number("88.101.5/X", HASH_BY_ALL, 1) == 0
    # Handles spread over the servers.
    counts = [0, 0, 0]
    for n in range(3000):
        counts[server_number(f"88.101.5/SN-{n:06d}", HASH_BY_ALL, 3)] += 1
    assert min(counts) > 800, counts
