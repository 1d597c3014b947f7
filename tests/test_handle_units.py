"""The Handle front's pieces without a node: proofs, sealing, challenges, the pre-encoded answer."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import dsa
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

from protocol import bodies as b
from protocol.codes import RC, HandleError
from protocol.envelope import PO, RD, Op
from protocol.message import Message, decode_message, encode, resolution_answer
from protocol.values import HandleValue
from protocol.wire import Reader
from resolver import credentials
from resolver.handle.challenges import Challenges
from resolver.handle.dispatch import Dispatcher
from resolver.handle.siteinfo import node_site
from resolver.keys import proofs
from resolver.keys.keyfiles import hs_pubkey, new_key, new_rsa_key, write_private
from resolver.keys.sealed import Sealer

NONCE, DIGEST = b"n" * 16, b"d" * 32


def test_pbkdf2_proof_is_what_java_pbkdf2withhmacsha1_computes():
    salt = b"s" * 16
    response = proofs.seckey_response(b"secret", NONCE, DIGEST, salt=salt)
    assert response[0] == proofs.PBKDF2_HMAC_SHA1
    r = Reader(response[1:])
    assert (r.blob(), r.u32(), r.u32()) == (salt, 10_000, 160)
    key = PBKDF2HMAC(hashes.SHA1(), 20, salt, 10_000).derive(b"secret")
    assert r.blob() == hmac.new(key, NONCE + DIGEST, hashlib.sha1).digest()
    assert proofs.check_seckey(b"secret", NONCE, DIGEST, response[0], response[1:])
    assert not proofs.check_seckey(b"secreT", NONCE, DIGEST, response[0], response[1:])
    assert not proofs.check_seckey(b"secret", NONCE, b"e" * 32, response[0], response[1:])


def test_pbkdf2_widens_non_ascii_secret_bytes_as_java_does():
    secret = "pässwort".encode()
    response = proofs.seckey_response(secret, NONCE, DIGEST, salt=b"x" * 16, iterations=10)
    key = hashlib.pbkdf2_hmac("sha1", secret.decode("latin-1").encode("utf-8"), b"x" * 16, 10, 20)
    assert response.endswith(hmac.new(key, NONCE + DIGEST, hashlib.sha1).digest())


@pytest.mark.parametrize("iterations,bits", [(10_000_000, 160), (0, 160), (1000, 7), (1000, 100_000)])
def test_pbkdf2_cost_is_bounded(iterations, bits):
    from protocol.wire import Writer

    proof = Writer().blob(b"s").u32(iterations).u32(bits).blob(b"m").getvalue()
    with pytest.raises(proofs.ProofError):
        proofs.check_seckey(b"secret", NONCE, DIGEST, proofs.PBKDF2_HMAC_SHA1, proof)


def test_md5_and_unknown_algorithms_are_refused():
    for alg in (1, 0x55):
        with pytest.raises(proofs.ProofError):
            proofs.check_seckey(b"secret", NONCE, DIGEST, alg, b"x" * 16)


def test_signatures_rsa_and_dsa():
    for key in (new_rsa_key(), dsa.generate_private_key(2048)):
        hash_name, sig = b.ChallengeAnswer(b.PUBKEY, "h/x", 300, proofs.pubkey_response(key, NONCE, DIGEST)).pubkey_proof()
        assert proofs.check_pubkey(hs_pubkey(key), NONCE, DIGEST, hash_name, sig)
        assert not proofs.check_pubkey(hs_pubkey(key), NONCE, b"x" * 32, hash_name, sig)
        other = new_rsa_key() if isinstance(key, dsa.DSAPrivateKey) is False else dsa.generate_private_key(2048)
        assert not proofs.check_pubkey(hs_pubkey(other), NONCE, DIGEST, hash_name, sig)
    with pytest.raises(proofs.ProofError):
        proofs.check_pubkey(b"\0\0\0\x03XYZ\0\0", NONCE, DIGEST, "SHA-256", b"sig")


@pytest.mark.parametrize("kind,curve,hash_name", [("ecdsa", "P-256", "SHA-256"), ("ecdsa", "P-384", "SHA-384"),
                                                   ("ecdsa", "P-521", "SHA-512"), ("ed25519", "", "Ed25519")])
def test_signatures_ecdsa_and_ed25519(kind, curve, hash_name):
    key = new_key(kind, curve=curve or "P-256")
    got_hash, sig = b.ChallengeAnswer(b.PUBKEY, "h/x", 300, proofs.pubkey_response(key, NONCE, DIGEST)).pubkey_proof()
    assert got_hash == hash_name
    assert proofs.check_pubkey(hs_pubkey(key), NONCE, DIGEST, got_hash, sig)
    assert not proofs.check_pubkey(hs_pubkey(key), NONCE, b"x" * 32, got_hash, sig)
    assert not proofs.check_pubkey(hs_pubkey(new_key(kind, curve=curve or "P-256")), NONCE, DIGEST, got_hash, sig)
    with pytest.raises(proofs.ProofError):  # the hash named must be the one the key type signs with
        proofs.check_pubkey(hs_pubkey(key), NONCE, DIGEST, "SHA-1", sig)


def test_sealing_round_trip_and_other_keys(tmp_path):
    s = Sealer.for_data(tmp_path)
    assert oct((tmp_path / "seckey-seal.key").stat().st_mode & 0o777) == "0o600"
    token = s.seal("acme-secret-5")
    assert ":" not in token and "acme" not in token and s.unseal(token) == "acme-secret-5"
    assert Sealer.for_data(tmp_path).unseal(token) == "acme-secret-5"  # the same key file
    assert Sealer(b"k" * 32).unseal(token) is None
    assert s.unseal(token[:-2]) is None and s.unseal("hs2.abc") is None and s.unseal("") is None


def test_verifiers_carry_the_sealed_secret_only_when_given_a_sealer(tmp_path):
    s = Sealer.for_data(tmp_path)
    plain = credentials.hash_secret("acme-secret-5", n=1 << 10)
    assert credentials.sealed_part(plain) is None
    sealed = credentials.hash_secret("acme-secret-5", n=1 << 10, seal=s.seal)
    assert credentials.is_verifier(sealed) and credentials.check_secret("acme-secret-5", sealed)
    assert not credentials.check_secret("other", sealed)
    assert s.unseal(credentials.sealed_part(sealed)) == "acme-secret-5"


def test_key_files_are_created_once(tmp_path):
    assert write_private(tmp_path / "k", b"one") and not write_private(tmp_path / "k", b"two")
    assert (tmp_path / "k").read_bytes() == b"one" and list(tmp_path.iterdir()) == [tmp_path / "k"]


def _request(opflags: int = 0) -> Message:
    m = Message(Op.RESOLUTION, b.ResolutionRequest("88.101.5/X"), opflags=opflags, major=2, minor=10,
                session_id=7, request_id=99)
    return decode_message(encode(m))


def test_challenges_expire_are_bounded_and_answer_once():
    now = [0.0]
    ch = Challenges(ttl=10, limit=3, clock=lambda: now[0])
    sids = [ch.open(encode(_request()), Op.RESOLUTION, "88.101.5/X", b"d")[0] for _ in range(4)]
    assert len(set(sids)) == 4 and 0 not in sids and len(ch) == 3
    with pytest.raises(HandleError) as e:
        ch.take(sids[0])  # pushed out by the fourth
    assert e.value.rc == RC.AUTHENTICATION_TIMEOUT
    assert ch.take(sids[1]).nonce
    with pytest.raises(HandleError):
        ch.take(sids[1])  # once only
    now[0] = 11
    with pytest.raises(HandleError):
        ch.take(sids[2])  # expired


@pytest.mark.parametrize("flags", [0, RD, PO, RD | PO])
def test_the_fast_frame_is_what_the_codec_encodes(flags):
    d = Dispatcher.__new__(Dispatcher)
    d.site_serial = 1
    d._now = 1_700_000_000.0
    req = _request(flags)
    values = (HandleValue(1, "URL", b"https://example.com", timestamp=5),)
    body = resolution_answer(req, "88.101.5/X", values).body
    from resolver.handle.dispatch import _body

    fast = d._frame(req, RC.SUCCESS, _body(body)).data
    ref = encode(resolution_answer(req, "88.101.5/X", values, site_serial=1,
                                   expiration=decode_message(fast).expiration))
    assert fast == ref


def test_site_lists_the_interfaces_it_has():
    key = hs_pubkey(new_rsa_key())
    assert [i.protocol for i in node_site("0.0.0.0", 2641, 8000, key).servers[0].interfaces] == [1, 0, 2]
    assert [i.protocol for i in node_site("127.0.0.1", None, 8000, key).servers[0].interfaces] == [2]
    # ::1 is twelve zero bytes and 1, which HS_SITE readers take for IPv4 (CNRI's errata): bytes only.
    assert node_site("::", 2641, None, key).servers[0].address == bytes(15) + b"\1"


def test_the_fast_parse_agrees_with_the_codec():
    """Where the fast parse reads a message at all, it reads what decode_message reads, raw included; and
    the plain request it reads is the same message, field for field."""
    import random

    from protocol.fastpath import plain_resolution
    from protocol.fastpath import resolution_message as fast_resolution
    from protocol.message import MessageError
    from tests.handle_nodes import VECTORS
    from tests.test_handle_fuzz import mutate

    seeds = [bytes.fromhex(v["request_hex"]) for v in VECTORS]
    seeds.append(encode(_request(RD | PO)))
    seeds.append(encode(_request())[:-4])  # without the credential section
    assert fast_resolution(seeds[0]) is not None
    rng = random.Random(3)
    taken = 0
    for i in range(20_000):
        data = seeds[i % len(seeds)] if i < len(seeds) else mutate(rng, seeds)
        fast = fast_resolution(data)
        if fast is None:
            continue
        taken += 1
        try:
            slow = decode_message(data)
        except MessageError:
            raise AssertionError(f"fast parse read what the codec refuses: {data.hex()}") from None
        assert fast == slow and fast.raw == slow.raw and fast.header_and_body() == slow.header_and_body()
        plain = plain_resolution(data)
        assert plain is not None and plain.handle.decode() == slow.body.handle and \
            (plain.major, plain.minor, plain.session_id, plain.request_id, plain.opflags) == \
            (slow.major, slow.minor, slow.session_id, slow.request_id, slow.opflags)
    assert taken > 100
