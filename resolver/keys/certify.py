"""Certified answers (the CT op-flag, RFC 3651 §2.2.2.3 and §2.2.4): signed with the node's key.

A client that sets CT wants to know that the answer comes from the server it asked, unchanged. The
node signs such an answer with the private key of ``DATA/node-key.pem``, whose public half is in
the HS_SITE that get-site-info returns, and lays the signature out as Handle.Net's ``signMessage``
does (protocol/credential.py): a client checks it with the key of the site it holds.

Signing works on the finished answer bytes: the dispatcher frames answers straight to bytes on its
hot path, and only an answer to a CT request comes here (an RSA-2048 signature costs about 0.25 ms,
some thirty unsigned resolutions). The hash follows Handle.Net's servers: SHA-256 for protocol 2.7 and
later (2.11 for a DSA key), SHA-1 for older clients, which know no other. A node whose key is SM2
(``idnode keygen --type sm2`` put at ``node-key.pem``) signs with SM2 over SM3 (SM3withSM2, the default
signer ID of GM/T 0009), hash name "SM3", for every client: the national SDK names SM3 that way.
"""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import dsa, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from protocol import fastpath, gm
from protocol.credential import SIGNED, Credential, signed_data
from protocol.message import Message

from .proofs import SM3_PROOF, ProofError, check_signature, public_key_of

SHA256_NAME, SHA1_NAME = "SHA-256", "SHA1"  # the names Handle.Net's signMessage writes


class Certifier:
    def __init__(self, key: PrivateKeyTypes | gm.SM2PrivateKey):
        if not isinstance(key, rsa.RSAPrivateKey | dsa.DSAPrivateKey | gm.SM2PrivateKey):
            raise ValueError(f"the node key must be RSA, DSA or SM2 to sign answers, not {type(key).__name__}")
        self.key = key

    def _hash(self, version: tuple[int, int]) -> tuple[str, hashes.HashAlgorithm]:
        sha256_from = (2, 11) if isinstance(self.key, dsa.DSAPrivateKey) else (2, 7)
        return (SHA256_NAME, hashes.SHA256()) if version >= sha256_from else (SHA1_NAME, hashes.SHA1())

    def sign(self, answer: bytes) -> bytes:
        """``answer`` (envelope, header, body and an empty credential section) with its credential."""
        parts = fastpath.unsigned(answer)
        major, minor = parts.major, parts.minor
        data = signed_data(major, minor, parts.flags_major & 0x1F, parts.suggest_minor, parts.session_id,
                           parts.request_id, 0, parts.header_and_body)
        if isinstance(self.key, gm.SM2PrivateKey):
            name, signature = SM3_PROOF, self.key.sign(data)
        elif isinstance(self.key, rsa.RSAPrivateKey):
            name, algorithm = self._hash((major, minor))
            signature = self.key.sign(data, padding.PKCS1v15(), algorithm)
        else:
            name, algorithm = self._hash((major, minor))
            signature = self.key.sign(data, algorithm)
        return fastpath.with_credential(parts, Credential("", 0, SIGNED, name, signature).to_wire())


def verify_answer(answer: Message, hs_pubkey: bytes) -> bool:
    """Does ``answer`` carry a valid HS_SIGNED credential made with the key ``hs_pubkey`` (HS_PUBKEY
    bytes, as a site's server lists it)? False for an unsigned answer, a truncated one, another kind
    of credential, or any change to what was signed."""
    cred = answer.credential
    if cred is None or cred.type != SIGNED or not answer.raw or answer.truncated:
        return False
    data = signed_data(answer.major, answer.minor, answer.suggest_major, answer.suggest_minor, answer.session_id,
                       answer.request_id, cred.signer_index, answer.raw)
    try:
        return check_signature(public_key_of(hs_pubkey), data, cred.digest_algorithm, cred.signature)
    except ProofError:  # a key or a hash name that cannot be checked proves nothing
        return False
