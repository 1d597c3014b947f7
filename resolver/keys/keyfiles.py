"""Key material the node keeps beside its LMDB environment, created on first use.

- ``node-key.pem``: the site's key pair (RSA when the node makes it; an operator may put an SM2 key
  from ``idnode keygen --type sm2`` there instead); its public half goes into this node's HS_SITE.
- ``seckey-seal.key``: the AES key that seals HS_SECKEY secrets for the Handle protocol
  (see sealed.py). Kept out of LMDB on purpose: a copy of the database or a mirror fed from the
  change log does not carry it. ``idnode backup`` copies both files beside the database (a restored
  node must check the same secrets and be the same site), so a backup folder is as secret as the
  data folder.

Both are written 0600 with an exclusive create then a hard link, so that several processes
starting at once (workers, the CLI) end up sharing one key instead of overwriting each other's.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

from protocol import gm
from protocol.pubkey import PublicKey

NODE_KEY = "node-key.pem"
SEAL_KEY = "seckey-seal.key"
RSA_BITS = 2048


def write_private(path: Path, data: bytes) -> bool:
    """Write ``data`` to ``path`` (mode 0600) unless it already exists; False when it did."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            return False
        return True
    finally:
        tmp.unlink(missing_ok=True)


# The curves an HS_PUBKEY EC_PUB_KEY names, by their JWK names (protocol/pubkey.py).
EC_CURVES: dict[str, type[ec.EllipticCurve]] = {"P-256": ec.SECP256R1, "P-384": ec.SECP384R1, "P-521": ec.SECP521R1}
_CURVE_NAMES = {cls.name: jwk for jwk, cls in EC_CURVES.items()}
KEY_TYPES = ("rsa", "ecdsa", "ed25519", "sm2")
AnyPrivateKey = PrivateKeyTypes | gm.SM2PrivateKey


def new_rsa_key(bits: int = RSA_BITS) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def new_key(kind: str, *, bits: int = RSA_BITS, curve: str = "P-256") -> AnyPrivateKey:
    """A fresh key pair for an identity: ``kind`` is one of KEY_TYPES."""
    if kind == "rsa":
        return new_rsa_key(bits)
    if kind == "ecdsa":
        if curve not in EC_CURVES:
            raise ValueError(f"curve {curve!r} is not supported ({', '.join(EC_CURVES)})")
        return ec.generate_private_key(EC_CURVES[curve]())
    if kind == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    if kind == "sm2":
        return gm.SM2PrivateKey.generate()
    raise ValueError(f"key type {kind!r} is not supported ({', '.join(KEY_TYPES)})")


def curve_name(curve: ec.EllipticCurve) -> str:
    """The JWK name (P-256, …) of a curve HS_PUBKEY can name."""
    name = _CURVE_NAMES.get(curve.name)
    if name is None:
        raise ValueError(f"curve {curve.name} has no HS_PUBKEY layout ({', '.join(EC_CURVES)})")
    return name


def private_pem(key: AnyPrivateKey) -> bytes:
    """Unencrypted PKCS #8 PEM (for SM2: what the national SDK's KeyConverter.fromPkcs8Pem reads)."""
    if isinstance(key, gm.SM2PrivateKey):
        return key.pkcs8_pem()
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def public_pem(key: AnyPrivateKey) -> bytes:
    """The public half as X.509 SubjectPublicKeyInfo PEM."""
    if isinstance(key, gm.SM2PrivateKey):
        return gm.pem(key.public_key().spki(), "PUBLIC KEY").encode()
    return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def load_private(path: Path) -> AnyPrivateKey:
    data = path.read_bytes()
    # ``cryptography`` has no SM2 curve: an SM2 key is recognised by its curve before it is asked.
    if gm.is_sm2_private_pem(data):
        return gm.load_private_pem(data)
    return serialization.load_pem_private_key(data, password=None)


def load_or_create_node_key(data_dir: Path) -> AnyPrivateKey:
    path = data_dir / NODE_KEY
    if not path.exists():
        write_private(path, private_pem(new_rsa_key()))
    return load_private(path)


def load_or_create_seal_key(data_dir: Path) -> bytes:
    path = data_dir / SEAL_KEY
    if not path.exists():
        write_private(path, os.urandom(32))
    key = path.read_bytes()
    if len(key) != 32:
        raise ValueError(f"{path} is not a 32-byte key")
    return key


def hs_pubkey(key: AnyPrivateKey) -> bytes:
    """The HS_PUBKEY bytes (RFC 3651 §3.2.3 as Handle.Net lays them out) of a key pair's public half."""
    if isinstance(key, gm.SM2PrivateKey):
        return PublicKey.sm2(key.public_key().point).to_wire()
    pub = key.public_key()
    if isinstance(pub, rsa.RSAPublicKey):
        n = pub.public_numbers()
        return PublicKey.rsa(n.e, n.n).to_wire()
    if isinstance(pub, dsa.DSAPublicKey):
        n = pub.public_numbers()
        p = n.parameter_numbers
        return PublicKey.dsa(p.p, p.q, p.g, n.y).to_wire()
    if isinstance(pub, ec.EllipticCurvePublicKey):
        point = pub.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
        return PublicKey.ec(curve_name(pub.curve), point).to_wire()
    if isinstance(pub, ed25519.Ed25519PublicKey):
        return PublicKey.ed25519(pub.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)).to_wire()
    raise ValueError(f"{type(pub).__name__} keys have no HS_PUBKEY layout (RSA, DSA, EC or Ed25519)")
