"""protocol/gm.py against the standards' own examples: SM3 (GM/T 0004 / GB/T 32905 appendix A), SM2 signature
and encryption (GM/T 0003.5-2012 / GB/T 32918.5 examples on the recommended curve), SM4 (GM/T 0002 appendix A)
and SM4-GCM (RFC 8998 appendix A.1)."""

from __future__ import annotations

import time

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from protocol import gm

# GM/T 0003.5's example key pair on sm2p256v1 (also used by GmSSL's and Bouncy Castle's tests).
D = bytes.fromhex("3945208F7B2144B13F36E38AC6D39F95889393692860B51A42FB81EF4DF7C5B8")
PUB = bytes.fromhex(
    "04"
    "09F9DF311E5421A150DD7D161E4BC5C672179FAD1833FC076BB08FF356F35020"
    "CCEA490CE26775A52DC6EA718CC1AA600AED05FBF35E084A6632F6072DA9AD13"
)
# Signature of "message digest" with ID 1234567812345678 and k = 59276E27...DEAC1BC21.
R = bytes.fromhex("F5A03B0648D2C4630EEAC513E1BB81A15944DA3827D5B74143AC7EACEEE720B3")
S = bytes.fromhex("B1B6AA29DF212FD8763182BC0D421CA1BB9038FD1F7F42D4840B69C485BBC1AA")
Z = bytes.fromhex("B2E14C5C79C6DF5B85F4FE7ED8DB7A262B9DA7E07CCB0EA9F4747B8CCDA8A4F3")
E = bytes.fromhex("F0B43E94BA45ACCAACE692ED534382EB17E6AB5A19CE7B31F4486FDFC0D28640")
# Encryption of "encryption standard" with the same k, C1 | C3 | C2.
CIPHER = bytes.fromhex(
    "04"
    "04EBFC718E8D1798620432268E77FEB6415E2EDE0E073C0F4F640ECD2E149A73"
    "E858F9D81E5430A57B36DAAB8F950A3C64E6EE6A63094D99283AFF767E124DF0"
    "59983C18F809E262923C53AEC295D30383B54E39D609D160AFCB1908D0BD8766"
    "21886CA989CA9C7D58087307CA93092D651EFA"
)


def test_sm3_matches_the_standards_two_examples():
    assert gm.sm3(b"abc").hex() == "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
    assert gm.sm3(b"abcd" * 16).hex() == "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"


def test_the_example_private_key_gives_the_example_public_key():
    assert gm.public_of(D) == PUB


def test_z_and_the_signed_digest_match_the_example():
    assert gm.z_value(PUB) == Z
    assert gm.sm3(Z + b"message digest") == E


def test_the_standards_signature_verifies_and_a_changed_one_does_not():
    sig = gm.signature_der(R + S)
    assert gm.sm2_verify(PUB, b"message digest", sig)
    assert gm.sm2_verify_digest(PUB, E, sig)
    assert not gm.sm2_verify(PUB, b"message digesT", sig)
    assert not gm.sm2_verify(PUB, b"message digest", sig, uid=b"ALICE123@YAHOO.COM")
    bad = gm.signature_der(R + (int.from_bytes(S, "big") ^ 1).to_bytes(32, "big"))
    assert not gm.sm2_verify(PUB, b"message digest", bad)
    assert gm.signature_raw(sig) == R + S


def test_the_standards_ciphertext_decrypts_to_its_message():
    assert gm.sm2_decrypt(D, CIPHER) == b"encryption standard"
    tampered = CIPHER[:-1] + bytes([CIPHER[-1] ^ 1])
    with pytest.raises(gm.GMError):
        gm.sm2_decrypt(D, tampered)


def test_sign_encrypt_round_trip_with_fresh_keys():
    private, public = gm.sm2_generate()
    assert len(private) == 32 and len(public) == 65 and public[0] == 4
    assert gm.public_of(private) == public
    sig = gm.sm2_sign(private, b"hello")
    assert gm.sm2_verify(public, b"hello", sig)
    assert gm.sm2_verify(public, b"hello", gm.sm2_sign_digest(private, gm.sm3(gm.z_value(public) + b"hello")))
    other_private, other_public = gm.sm2_generate()
    assert not gm.sm2_verify(other_public, b"hello", sig)
    ct = gm.sm2_encrypt(public, b"k" * 32)
    assert len(ct) == 65 + 32 + 32 and ct[0] == 4
    assert gm.sm2_decrypt(private, ct) == b"k" * 32
    with pytest.raises(gm.GMError):
        gm.sm2_decrypt(other_private, ct)
    assert gm.sm2_decrypt(private, gm.sm2_encrypt(public, b"x" * 255)) == b"x" * 255
    with pytest.raises(gm.GMError):
        gm.sm2_encrypt(public, b"x" * 256)


def test_malformed_keys_and_signatures_are_refused_clearly():
    with pytest.raises(gm.GMError, match="curve"):
        gm.sm2_verify(b"\x04" + bytes(64), b"x", b"0" * 70)
    with pytest.raises(gm.GMError, match="65 bytes"):
        gm.check_public(b"\x04" * 10)
    with pytest.raises(gm.GMError):
        gm.check_private(bytes(32))
    assert not gm.sm2_verify(PUB, b"message digest", b"")
    assert not gm.sm2_verify(PUB, b"message digest", b"\x30\x03\x02\x01\x01")
    assert not gm.sm2_verify(PUB, b"message digest", b"\xff" * 4000)


def test_sm4_block_example_through_cryptography():
    # GM/T 0002 appendix A: key = plaintext = 0123456789abcdeffedcba9876543210.
    key = bytes.fromhex("0123456789abcdeffedcba9876543210")
    enc = Cipher(algorithms.SM4(key), modes.ECB()).encryptor()
    assert (enc.update(key) + enc.finalize()).hex() == "681edf34d206965e86b3e94f536e4246"


def test_sm4_gcm_matches_rfc_8998_and_refuses_a_forged_tag():
    key = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
    nonce = bytes.fromhex("00001234567800000000ABCD")
    aad = bytes.fromhex("FEEDFACEDEADBEEFFEEDFACEDEADBEEFABADDAD2")
    plain = bytes.fromhex(
        "AAAAAAAAAAAAAAAABBBBBBBBBBBBBBBBCCCCCCCCCCCCCCCCDDDDDDDDDDDDDDDD"
        "EEEEEEEEEEEEEEEEFFFFFFFFFFFFFFFFEEEEEEEEEEEEEEEEAAAAAAAAAAAAAAAA"
    )
    sealed = gm.sm4_gcm_encrypt(key, nonce, plain, aad)
    assert sealed.hex().upper() == (
        "17F399F08C67D5EE19D0DC9969C4BB7D5FD46FD3756489069157B282BB200735"
        "D82710CA5C22F0CCFA7CBF93D496AC15A56834CBCF98C397B4024A2691233B8D"
        "83DE3541E4C2B58177E065A9BF7B62EC"
    )
    assert gm.sm4_gcm_decrypt(key, nonce, sealed, aad) == plain
    with pytest.raises(gm.GMError):
        gm.sm4_gcm_decrypt(key, nonce, sealed, aad + b"!")
    with pytest.raises(gm.GMError):
        gm.sm4_gcm_decrypt(key, nonce, sealed[:-1] + bytes([sealed[-1] ^ 1]), aad)
    with pytest.raises(gm.GMError, match="nonce"):
        gm.sm4_gcm_encrypt(key, b"short", plain)


def test_keys_travel_in_spki_and_pkcs8_and_pem():
    private, public = gm.sm2_generate()
    spki = gm.spki_der(public)
    assert gm.public_from_spki(spki) == public
    assert gm.private_from_pkcs8(gm.pkcs8_der(private)) == private
    text = gm.pem(spki, "PUBLIC KEY")
    assert text.startswith("-----BEGIN PUBLIC KEY-----\n")
    assert gm.public_from_spki(gm.unpem(text, "PUBLIC KEY")) == public
    with pytest.raises(gm.GMError):
        gm.public_from_spki(spki[:-3])


@pytest.mark.serial  # a CPU-time bound: run alone
def test_an_sm2_verification_costs_a_few_milliseconds_at_most():
    private, public = gm.sm2_generate()
    sig = gm.sm2_sign(private, b"challenge")
    start = time.perf_counter()
    for _ in range(20):
        assert gm.sm2_verify(public, b"challenge", sig)
    # 2-3 ms on this loaded development machine, ~100 ms in pure Python: the bound catches the latter.
    assert (time.perf_counter() - start) / 20 < 0.025
