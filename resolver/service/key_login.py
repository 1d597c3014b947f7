"""Who a signature made with an identity's private key proves: the identity's HS_PUBKEY value checks
it (resolver/keys/proofs.py, as for the Handle protocol's challenge answers).

This is only the proof; it runs inside ``Core.login`` (lock-out, audit, per-identity rate), as
every other proof does. What was signed, and that it is fresh, is the caller's business (the console's
sign-in challenge, resolver/http/console/keysignin.py).
"""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric import rsa

from protocol.codes import RC, HandleError
from protocol.handles import fold, na_handle
from protocol.values import HS_PUBKEY

from ..credentials import Identity
from ..keys.proofs import ProofError, check_signature, public_key_of
from .base import NODE_ADMIN_INDEX, Core

SIGNATURE_HASH = "SHA-256"  # RSASSA-PKCS1-v1_5 with SHA-256: what WebCrypto and Handle.Net both make


def rsa_identity(svc: Core, index: int, handle: str, message: bytes, signature: bytes) -> Identity:
    """``index:handle`` if ``signature`` is an RSASSA-PKCS1-v1_5 / SHA-256 signature of ``message`` by the
    private half of its HS_PUBKEY value (the first at ``index``). Any other key type is refused as
    not a guess (``UNABLE_TO_AUTHENTICATE``): a browser cannot sign with DSA, and this sign-in takes RSA only."""
    who = f"{index}:{handle}"
    with svc.store.read() as tx:
        rec = tx.get_handle(handle)
    keys = [v for v in (rec.values if rec else []) if v.index == index and v.type == HS_PUBKEY]
    if not keys:
        raise HandleError(RC.AUTHENTICATION_FAILED, f"authentication failed: {who} has no public key (HS_PUBKEY)")
    try:
        key = public_key_of(keys[0].data)
    except ProofError as e:
        raise HandleError(RC.UNABLE_TO_AUTHENTICATE, f"cannot sign in as {who} with a key: {e}") from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise HandleError(RC.UNABLE_TO_AUTHENTICATE,
                          f"the public key of {who} is not an RSA key: a browser signs with RSA only "
                          "(WebCrypto has no DSA, and Handle.Net keys are RSA or DSA); sign in with the secret")
    try:
        ok = check_signature(key, message, SIGNATURE_HASH, signature)
    except ProofError as e:
        raise HandleError(RC.AUTHENTICATION_FAILED, f"authentication failed: {e}") from None
    if not ok:
        raise HandleError(RC.AUTHENTICATION_FAILED, f"authentication failed: bad signature for {who}")
    # The node admin is 300:0.NA/<node prefix>, as ServiceBase._authenticate decides for secrets.
    node = svc.node_prefix
    is_admin = node is not None and index == NODE_ADMIN_INDEX and fold(handle) == fold(na_handle(node))
    return Identity(index, handle, is_admin)
