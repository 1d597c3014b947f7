"""Key material the node keeps beside its LMDB environment, created on first use.

- ``node-key.pem``: the site's RSA key pair; its public half goes into this node's HS_SITE.
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
from cryptography.hazmat.primitives.asymmetric import dsa, rsa
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

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


def new_rsa_key(bits: int = RSA_BITS) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def private_pem(key: PrivateKeyTypes) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def load_private(path: Path) -> PrivateKeyTypes:
    return serialization.load_pem_private_key(path.read_bytes(), password=None)


def load_or_create_node_key(data_dir: Path) -> PrivateKeyTypes:
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


def hs_pubkey(key: PrivateKeyTypes) -> bytes:
    """The HS_PUBKEY bytes (RFC 3651 §3.2.3 as Handle.Net lays them out) of a key pair's public half."""
    pub = key.public_key()
    if isinstance(pub, rsa.RSAPublicKey):
        n = pub.public_numbers()
        return PublicKey.rsa(n.e, n.n).to_wire()
    if isinstance(pub, dsa.DSAPublicKey):
        n = pub.public_numbers()
        p = n.parameter_numbers
        return PublicKey.dsa(p.p, p.q, p.g, n.y).to_wire()
    raise ValueError(f"{type(pub).__name__} keys have no HS_PUBKEY layout (RSA or DSA)")
