"""``python -m loadtests.cryptobench``: what one proof check and one digest cost, SM2/SM3 beside RSA,
ECDSA and Ed25519, as the node does them (resolver/keys/proofs.py, protocol/gm.py).

Each row is the best of ``--repeat`` timed loops of about ``--seconds`` each, on the calling thread:
pin it (``taskset -c 1``) and read the figures on a quiet machine as the cost of one call on one core.
"""

from __future__ import annotations

import argparse
import hashlib
import platform
import shlex
import sys
import time
from collections.abc import Callable

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from protocol import gm
from protocol.pubkey import PublicKey
from protocol.wire import Reader
from resolver.keys import proofs
from resolver.keys.keyfiles import hs_pubkey

NONCE, DIGEST = bytes(range(16)), hashlib.sha256(b"request").digest()
KIB = b"x" * 1024


def per_call(fn: Callable[[], object], seconds: float, repeat: int) -> float:
    """Seconds per call: the best of ``repeat`` loops, each sized to last about ``seconds``."""
    n, t = 1, 0.0
    while t < seconds / 10:  # calibrate
        start = time.perf_counter()
        for _ in range(n):
            fn()
        t = time.perf_counter() - start
        n *= 2
    n = max(1, int(n / 2 * seconds / max(t, 1e-9)))
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(n):
            fn()
        best = min(best, (time.perf_counter() - start) / n)
    return best


def proof_check(key, signer: str) -> Callable[[], object]:
    """The check a challenge answer costs: HS_PUBKEY bytes parsed, the proof verified."""
    hs = hs_pubkey(key)
    r = Reader(proofs.pubkey_response(key, NONCE, DIGEST, signer))
    name, sig = r.text(), r.blob()
    assert proofs.check_pubkey(hs, NONCE, DIGEST, name, sig, signer)
    return lambda: proofs.check_pubkey(hs, NONCE, DIGEST, name, sig, signer)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m loadtests.cryptobench", description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=0.5, help="length of each timed loop (default 0.5)")
    p.add_argument("--repeat", type=int, default=3, help="timed loops per row; the best is kept (default 3)")
    a = p.parse_args(argv)
    signer = "88.101.5/USER"
    keys = {"RSA-2048 (SHA-256, PKCS#1 v1.5)": rsa.generate_private_key(65537, 2048),
            "ECDSA P-256 (SHA-256)": ec.generate_private_key(ec.SECP256R1()),
            "Ed25519": ed25519.Ed25519PrivateKey.generate(),
            "SM2 (SM3, the national SDK's proof)": gm.SM2PrivateKey.generate()}
    rows: list[tuple[str, float]] = []
    for name, key in keys.items():
        rows.append((f"check a challenge answer: {name}", per_call(proof_check(key, signer), a.seconds, a.repeat)))
    sm2 = keys["SM2 (SM3, the national SDK's proof)"]
    point = sm2.public_key().point
    sig = sm2.sign(b"m")
    rows.append(("SM2 verification alone (gm.sm2_verify)", per_call(lambda: gm.sm2_verify(point, b"m", sig),
                                                                       a.seconds, a.repeat)))
    rows.append(("SM2 signature (gm.sm2_sign)", per_call(lambda: sm2.sign(b"m"), a.seconds, a.repeat)))
    rsa_key = keys["RSA-2048 (SHA-256, PKCS#1 v1.5)"]
    rows.append(("RSA-2048 signature", per_call(lambda: rsa_key.sign(b"m", padding.PKCS1v15(), hashes.SHA256()),
                                                a.seconds, a.repeat)))
    ed = keys["Ed25519"]
    rows.append(("Ed25519 signature", per_call(lambda: ed.sign(b"m"), a.seconds, a.repeat)))
    rows.append(("SM3 of 1 KiB (gm.sm3)", per_call(lambda: gm.sm3(KIB), a.seconds, a.repeat)))
    rows.append(("SHA-256 of 1 KiB (hashlib)", per_call(lambda: hashlib.sha256(KIB).digest(), a.seconds, a.repeat)))
    rows.append(("SM3 of 48 bytes (nonce + digest, as a proof hashes)",
                 per_call(lambda: gm.sm3(NONCE + DIGEST), a.seconds, a.repeat)))
    rows.append(("parse an SM2_PUB_KEY value (PEM text)",
                 per_call(lambda: PublicKey.from_wire(hs_pubkey(sm2)).sm2_point(), a.seconds, a.repeat)))
    print(f"`{shlex.join([sys.executable.rsplit('/', 1)[-1], '-m', 'loadtests.cryptobench', *(argv or sys.argv[1:])])}`"
          f" on {platform.machine()}, Python {platform.python_version()}\n")
    print("| operation | µs per call |\n| --- | ---: |")
    for name, t in rows:
        print(f"| {name} | {t * 1e6:,.1f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
