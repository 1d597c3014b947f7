"""SM2 key files for escrow: PKCS #8 / SubjectPublicKeyInfo PEM, as OpenSSL and Bouncy Castle write them."""

from __future__ import annotations

import os
from pathlib import Path

from protocol import gm


def keygen(out: Path, name: str = "escrow") -> tuple[Path, Path]:
    private, public = gm.sm2_generate()
    out.mkdir(parents=True, exist_ok=True)
    priv_path, pub_path = out / f"{name}-private.pem", out / f"{name}-public.pem"
    fd = os.open(priv_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(gm.pem(gm.pkcs8_der(private), "PRIVATE KEY"))
    pub_path.write_text(gm.pem(gm.spki_der(public), "PUBLIC KEY"))
    return priv_path, pub_path


def load_private(path: str | os.PathLike) -> bytes:
    try:
        return gm.private_from_pkcs8(gm.unpem(Path(path).read_text(), "PRIVATE KEY"))
    except (OSError, ValueError) as e:
        raise SystemExit(f"idnode: {path}: not an SM2 private key (PKCS #8 PEM): {e}") from None


def load_public(path: str | os.PathLike) -> bytes:
    try:
        return gm.public_from_spki(gm.unpem(Path(path).read_text(), "PUBLIC KEY"))
    except (OSError, ValueError) as e:
        raise SystemExit(f"idnode: {path}: not an SM2 public key (PEM): {e}") from None
