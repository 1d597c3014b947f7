"""`idnode init --tls`: a self-signed certificate and key for trying HTTPS out.

A trial node needs HTTPS before anyone has a certificate for it: Handle clients refuse to send
credentials over plain HTTP, and so does this node from anything but loopback. The certificate names
127.0.0.1, ::1 and localhost (and any extra names given), so that a client on the same machine can
verify it by pointing at cert.pem; the node's prefix is in the subject, to tell trial nodes apart.
Nobody vouches for it: production puts a certificate from a CA in its place (``tls_cert``,
``tls_key``).

The key is EC P-256 (small, quick, what every TLS client takes), written 0600 under a 0700 folder.
The extensions are those a strict verifier (OpenSSL's X509_STRICT) wants from a self-issued leaf.
"""

from __future__ import annotations

import datetime
import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from .keys.keyfiles import private_pem, write_private

TLS_DIR = "tls"
CERT, KEY = "cert.pem", "key.pem"
VALID_DAYS = 365
LOOPBACK_NAMES = ("127.0.0.1", "::1", "localhost")


def _general_name(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def self_signed(prefix: str, names: tuple[str, ...] = (), *, days: int = VALID_DAYS,
                now: datetime.datetime | None = None) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "idnode trial"),
                         x509.NameAttribute(NameOID.COMMON_NAME, f"idnode {prefix}")])
    sans = list(dict.fromkeys((*LOOPBACK_NAMES, *names)))
    now = now or datetime.datetime.now(datetime.UTC)
    pub = key.public_key()
    cert = (x509.CertificateBuilder()
            .subject_name(subject).issuer_name(subject).public_key(pub)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))  # clocks a little behind still take it
            .not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.SubjectAlternativeName([_general_name(n) for n in sans]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False, key_encipherment=False,
                                         data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                         crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(pub), critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(pub), critical=False)
            .sign(key, hashes.SHA256()))
    return key, cert


def make_trial_tls(data_dir: Path, prefix: str, names: tuple[str, ...] = ()) -> tuple[Path, Path, bool]:
    """(cert path, key path, whether they were made now). An existing pair is kept as it is: it
    may already be in clients' trust stores."""
    folder = data_dir / TLS_DIR
    cert_path, key_path = folder / CERT, folder / KEY
    if cert_path.exists() and key_path.exists():
        return cert_path, key_path, False
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    key, cert = self_signed(prefix, names)
    key_path.unlink(missing_ok=True)  # a key without its certificate is of no use
    write_private(key_path, private_pem(key))
    tmp = cert_path.with_name(cert_path.name + ".tmp")
    tmp.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    tmp.replace(cert_path)
    return cert_path, key_path, True


def init_tls(data: str, prefix: str, names: tuple[str, ...]) -> None:
    """`idnode init --tls`: make (or keep) the pair and say how to serve and reach it."""
    cert, key, made = make_trial_tls(Path(data), prefix, names)
    print(f"{'made a self-signed' if made else 'kept the'} certificate for trials: {cert}")
    print(f"its key (0600): {key}")
    print(f"serve HTTPS with: idnode serve --data {data} --https 127.0.0.1:8443 --tls-cert {cert} --tls-key {key}")
    print(f"clients verify against the certificate itself, e.g. curl --cacert {cert} https://127.0.0.1:8443/healthz")
