"""Answers to a 402 challenge (RFC 3651 §3.5; RFC 3652 §3.5), computed by clients, checked by the node.

What is proved is always ``nonce + request digest`` (the digest bytes of the challenged request,
without their algorithm code).

HS_SECKEY: one algorithm code, then the proof. Handle.Net's codes and what each means:

- 0x22 PBKDF2-HMAC-SHA1 (Handle.Net clients at protocol 2.7 and later): the client picks a salt,
  derives ``K = PBKDF2-HMAC-SHA1(secret, salt, iterations, length)`` and sends
  ``salt (len+bytes) | iterations u32 | length in bits u32 | HMAC-SHA1(K, nonce+digest) (len+bytes)``.
  Java hands PBKDF2 the secret's bytes widened to chars, which it then encodes as UTF-8: the
  password bytes are ``secret.decode("latin-1").encode("utf-8")``.
- 0x13 HMAC-SHA256 and 0x12 HMAC-SHA1: ``HMAC(secret, nonce+digest)``.
- 3 SHA-256, 2 SHA-1, 1 MD5: ``H(secret + nonce+digest + secret)`` (older clients; MD5 refused).

HS_PUBKEY: ``hash algorithm name (len+bytes) | signature (len+bytes)``, the signature over
nonce+digest with the identity's private key:
- RSA (PKCS#1 v1.5) or DSA, with "SHA-256" or "SHA-1", as Handle.Net signs;
- ECDSA (this node's EC_PUB_KEY, protocol/pubkey.py): the DER signature Java's SHA256withECDSA
  makes, with "SHA-256", "SHA-384" or "SHA-512" (clients here pick the one that matches the curve);
  SHA-1 is not taken for a key type no old client uses;
- Ed25519 (ED25519_PUB_KEY): the RFC 8032 signature, hash name "Ed25519" (EdDSA hashes inside).
- SM2 (SM2_PUB_KEY), hash name "SM3", as the national SDK signs (id-pointer-sdk's
  ``PublicKeyAuthenticationInfo.authenticate``): the message is ``SM3(nonce + digest)`` (32 bytes), signed
  with SM2 (GM/T 0003: over SM3(Z | message)) with the identity's handle, UTF-8, as the signer ID in Z;
  the signature is DER (r, s). Also taken: the plain ``SM3withSM2`` signature of ``nonce + digest`` with the
  default signer ID 1234567812345678 (what Java's Signature and OpenSSL make), and 64-byte r|s instead of
  DER. A wrong proof costs at most two verifications (about 1 ms each).
"""

from __future__ import annotations

import hashlib
import hmac
import os

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes, PublicKeyTypes

from protocol import gm
from protocol.codes import HandleError
from protocol.pubkey import DSA, EC, ED25519, RSA, SM2, PublicKey
from protocol.wire import Reader, WireError, Writer

from .keyfiles import EC_CURVES

SHA1, SHA256, HMAC_SHA1, HMAC_SHA256, PBKDF2_HMAC_SHA1 = 2, 3, 0x12, 0x13, 0x22
# A client names its PBKDF2 cost; the node bounds it so that a proof cannot cost it seconds of CPU.
MAX_PBKDF2_ITERATIONS = 200_000
MAX_PBKDF2_BITS = 1024
CLIENT_PBKDF2_ITERATIONS = 10_000  # what Handle.Net clients use
_HASHES = {"SHA1": hashes.SHA1, "SHA256": hashes.SHA256, "SHA384": hashes.SHA384, "SHA512": hashes.SHA512}
ED25519_PROOF = "Ed25519"
SM3_PROOF = "SM3"  # the hash name the national SDK writes for SM2 (Common.HASH_ALG_SM3)
# The hash a client here signs with on each curve (the curve's own strength).
_EC_HASH = {256: ("SHA-256", hashes.SHA256), 384: ("SHA-384", hashes.SHA384), 521: ("SHA-512", hashes.SHA512)}


class ProofError(Exception):
    """A proof that cannot be checked: unknown algorithm, absurd parameters, bad layout."""


def _pbkdf2_password(secret: bytes) -> bytes:
    return secret.decode("latin-1").encode("utf-8")


def _pbkdf2_mac(secret: bytes, salt: bytes, iterations: int, bits: int, message: bytes) -> bytes:
    key = hashlib.pbkdf2_hmac("sha1", _pbkdf2_password(secret), salt, iterations, bits // 8)
    return hmac.new(key, message, hashlib.sha1).digest()


def seckey_response(secret: bytes, nonce: bytes, digest: bytes, *, algorithm: int = PBKDF2_HMAC_SHA1,
                    salt: bytes | None = None, iterations: int = CLIENT_PBKDF2_ITERATIONS) -> bytes:
    """What a client sends (the ChallengeAnswer's ``response``) for an HS_SECKEY identity."""
    message = nonce + digest
    if algorithm == PBKDF2_HMAC_SHA1:
        salt = os.urandom(16) if salt is None else salt
        mac = _pbkdf2_mac(secret, salt, iterations, 160, message)
        return bytes([algorithm]) + Writer().blob(salt).u32(iterations).u32(160).blob(mac).getvalue()
    return bytes([algorithm]) + _keyed(algorithm, secret, message)


def _keyed(algorithm: int, secret: bytes, message: bytes) -> bytes:
    if algorithm == HMAC_SHA256:
        return hmac.new(secret, message, hashlib.sha256).digest()
    if algorithm == HMAC_SHA1:
        return hmac.new(secret, message, hashlib.sha1).digest()
    if algorithm == SHA256:
        return hashlib.sha256(secret + message + secret).digest()
    if algorithm == SHA1:
        return hashlib.sha1(secret + message + secret).digest()
    raise ProofError(f"secret-key proof algorithm {algorithm:#x} is not accepted")


def check_seckey(secret: bytes, nonce: bytes, digest: bytes, algorithm: int, proof: bytes) -> bool:
    """True when ``proof`` (what followed the algorithm code) proves knowledge of ``secret``."""
    message = nonce + digest
    if algorithm == PBKDF2_HMAC_SHA1:
        try:
            r = Reader(proof)
            salt = r.blob("PBKDF2 salt", 1024)
            iterations = r.u32("PBKDF2 iterations")
            bits = r.u32("PBKDF2 key length")
            mac = r.blob("PBKDF2 MAC", 1024)
            r.done("PBKDF2 proof")
        except WireError as e:
            raise ProofError(e.message) from None
        if not 1 <= iterations <= MAX_PBKDF2_ITERATIONS or not 8 <= bits <= MAX_PBKDF2_BITS or bits % 8:
            raise ProofError(f"PBKDF2 parameters out of bounds ({iterations} iterations, {bits} bits)")
        return hmac.compare_digest(mac, _pbkdf2_mac(secret, salt, iterations, bits, message))
    return hmac.compare_digest(proof, _keyed(algorithm, secret, message))


def _hash_named(name: str) -> hashes.HashAlgorithm:
    # Handle.Net writes "SHA1", "SHA-256", "SHA256"...; compare without punctuation or case.
    key = "".join(c for c in name.upper() if c.isalnum())
    cls = _HASHES.get(key)
    if cls is None:
        raise ProofError(f"signature hash {name!r} is not accepted (SHA-256, SHA-384, SHA-512 or SHA-1)")
    return cls()


def public_key_of(hs_pubkey: bytes) -> PublicKeyTypes | gm.SM2PublicKey:
    """A ``cryptography`` key from HS_PUBKEY bytes."""
    try:
        key = PublicKey.from_wire(hs_pubkey)
        if key.key_type == RSA:
            e, n = key.rsa_numbers()
            return rsa.RSAPublicNumbers(e, n).public_key()
        if key.key_type == DSA:
            p, q, g, y = key.dsa_numbers()
            return dsa.DSAPublicNumbers(y, dsa.DSAParameterNumbers(p, q, g)).public_key()
        if key.key_type == EC:
            curve, point = key.ec_point()
            return ec.EllipticCurvePublicKey.from_encoded_point(EC_CURVES[curve](), point)
        if key.key_type == ED25519:
            return ed25519.Ed25519PublicKey.from_public_bytes(key.ed25519_bytes())
        if key.key_type == SM2:
            return gm.SM2PublicKey(key.sm2_point())
    except (HandleError, ValueError) as e:  # WireError is a HandleError
        raise ProofError(f"HS_PUBKEY value does not hold a usable key: {getattr(e, 'message', e)}") from None
    raise ProofError(f"HS_PUBKEY key type {key.key_type} is not supported (RSA, DSA, EC, Ed25519 or SM2)")


def check_pubkey(hs_pubkey: bytes, nonce: bytes, digest: bytes, hash_name: str, signature: bytes,
                 signer: str | None = None) -> bool:
    """Does ``signature`` prove the key of ``hs_pubkey`` for this challenge? ``signer`` is the identity's
    handle, which an SM2 proof names in its Z value (the other key types ignore it)."""
    key = public_key_of(hs_pubkey)
    if isinstance(key, gm.SM2PublicKey):
        return check_sm2_proof(key, nonce + digest, hash_name, signature, signer)
    return check_signature(key, nonce + digest, hash_name, signature)


def _sm2_der(signature: bytes) -> bytes:
    # 64 bytes is r|s: a DER signature of SM2 is 68 to 72 bytes unless r and s are both far shorter
    # than 32 bytes (odds of about 2^-24), and reading r|s by its first byte would misread 1 in 256.
    return gm.signature_der(signature) if len(signature) == 64 else signature


def check_sm2_proof(key: gm.SM2PublicKey, message: bytes, hash_name: str, signature: bytes,
                    signer: str | None) -> bool:
    """The national SDK's SM2 challenge proof (see the module's docstring), or plain SM3withSM2."""
    if "".join(c for c in hash_name.upper() if c.isalnum()) != SM3_PROOF:
        raise ProofError(f"an SM2 signature names the hash {SM3_PROOF!r}, not {hash_name!r}")
    try:
        der = _sm2_der(signature)
    except gm.GMError as e:
        raise ProofError(str(e)) from None
    if signer is not None and key.verify(der, gm.sm3(message), signer.encode("utf-8")):
        return True
    return key.verify(der, message)


def sm2_proof(private_key: gm.SM2PrivateKey, nonce: bytes, digest: bytes, signer: str) -> bytes:
    """The national SDK's answer for an SM2 identity: "SM3", then the signature of SM3(nonce + digest)
    with the identity's handle as signer ID."""
    sig = private_key.sign(gm.sm3(nonce + digest), signer.encode("utf-8"))
    return Writer().text(SM3_PROOF).blob(sig).getvalue()


def check_signature(key: PublicKeyTypes | gm.SM2PublicKey, message: bytes, hash_name: str, signature: bytes) -> bool:
    """Does ``signature`` (made with the hash named ``hash_name``) sign ``message`` under ``key``?
    (SM2: SM3withSM2 with the default signer ID, as a node signs its answers.)"""
    try:
        if isinstance(key, gm.SM2PublicKey):
            return check_sm2_proof(key, message, hash_name, signature, None)
        if isinstance(key, ed25519.Ed25519PublicKey):
            if hash_name != ED25519_PROOF:
                raise ProofError(f"an Ed25519 signature names {ED25519_PROOF!r}, not {hash_name!r}")
            key.verify(signature, message)
            return True
        algorithm = _hash_named(hash_name)
        if isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, message, padding.PKCS1v15(), algorithm)
        elif isinstance(key, dsa.DSAPublicKey):
            key.verify(signature, message, algorithm)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            if isinstance(algorithm, hashes.SHA1):
                raise ProofError("ECDSA signatures with SHA-1 are not accepted (SHA-256, SHA-384 or SHA-512)")
            key.verify(signature, message, ec.ECDSA(algorithm))
        else:
            raise ProofError(f"{type(key).__name__} keys cannot sign Handle messages")
    except InvalidSignature:
        return False
    except ValueError as e:  # a signature of the wrong size or layout
        raise ProofError(str(e)) from None
    return True


def sign(private_key: PrivateKeyTypes | gm.SM2PrivateKey, message: bytes) -> tuple[str, bytes]:
    """(hash name, signature) of ``message``: SHA-256 for RSA and DSA, the curve's hash for ECDSA, SM3
    for SM2 (SM3withSM2, default signer ID)."""
    if isinstance(private_key, gm.SM2PrivateKey):
        return SM3_PROOF, private_key.sign(message)
    if isinstance(private_key, rsa.RSAPrivateKey):
        return "SHA-256", private_key.sign(message, padding.PKCS1v15(), hashes.SHA256())
    if isinstance(private_key, dsa.DSAPrivateKey):
        return "SHA-256", private_key.sign(message, hashes.SHA256())
    if isinstance(private_key, ec.EllipticCurvePrivateKey):
        name, h = _EC_HASH.get(private_key.curve.key_size, _EC_HASH[256])
        return name, private_key.sign(message, ec.ECDSA(h()))
    if isinstance(private_key, ed25519.Ed25519PrivateKey):
        return ED25519_PROOF, private_key.sign(message)
    raise ProofError(f"{type(private_key).__name__} keys cannot answer Handle challenges "
                     "(RSA, DSA, ECDSA, Ed25519 or SM2)")


def pubkey_response(private_key: PrivateKeyTypes | gm.SM2PrivateKey, nonce: bytes, digest: bytes,
                    signer: str | None = None) -> bytes:
    """What a client sends for an HS_PUBKEY identity: a signature over nonce+digest (for SM2, the
    national SDK's proof, which names the identity's handle ``signer``)."""
    if isinstance(private_key, gm.SM2PrivateKey):
        if signer is None:
            raise ProofError("an SM2 proof names the identity's handle")
        return sm2_proof(private_key, nonce, digest, signer)
    hash_name, sig = sign(private_key, nonce + digest)
    return Writer().text(hash_name).blob(sig).getvalue()
