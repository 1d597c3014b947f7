"""HTTPS with a configured certificate and key; credentials over plain HTTP only from loopback."""

from __future__ import annotations

import datetime
import ipaddress
import socket
import ssl

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from resolver.http.common import _is_loopback
from tests.nodes import Node, free_port, idnode


def _self_signed(tmp_path):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "idnode test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def test_https_serves_reads_and_authenticated_writes(fresh_data, tmp_path, auth):
    cert, key = _self_signed(tmp_path)
    port = free_port()
    node = Node(fresh_data, "--https", f"127.0.0.1:{port}", "--tls-cert", str(cert), "--tls-key", str(key)).start()
    try:
        base = f"https://127.0.0.1:{port}"
        r = requests.put(f"{base}/api/handles/88.101.5/TLS-1", verify=str(cert),
                         json=[{"index": 1, "type": "URL", "data": "https://example.com/tls"}],
                         headers={"Content-Type": "application/json", **auth["owner"]})
        assert r.status_code == 201, r.text
        assert requests.get(f"{base}/api/handles/88.101.5/TLS-1", verify=str(cert)).json()["responseCode"] == 1
        with pytest.raises(requests.exceptions.SSLError):
            requests.get(f"{base}/healthz", verify=True)  # not a certificate anyone vouches for
        # The plain HTTP listener still answers beside it.
        assert requests.get(node.api("88.101.5/TLS-1")).status_code == 200
    finally:
        node.stop()


@pytest.mark.parametrize("addr,ok", [("127.0.0.1", True), ("127.8.9.10", True), ("::1", True),
                                     ("192.0.2.7", False), ("2001:db8::1", False), ("", False), (None, False),
                                     ("not-an-address", False)])
def test_which_peers_count_as_loopback(addr, ok):
    assert _is_loopback(addr) is ok


def test_init_tls_makes_a_trial_certificate_that_https_clients_verify(tmp_path):
    data = tmp_path / "data"
    out = idnode("init", "--data", str(data), "--prefix", "88.102", "--admin-secret", "s3cret-admin", "--tls").stdout
    cert_path, key_path = data / "tls" / "cert.pem", data / "tls" / "key.pem"
    assert f"--tls-cert {cert_path}" in out and f"--tls-key {key_path}" in out and "--https " in out
    assert oct(key_path.stat().st_mode & 0o777) == "0o600"
    assert oct(cert_path.parent.stat().st_mode & 0o777) == "0o700"
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    assert "88.102" in cert.subject.rfc4514_string()
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert ipaddress.ip_address("127.0.0.1") in san.get_values_for_type(x509.IPAddress)
    assert "localhost" in san.get_values_for_type(x509.DNSName)

    port = free_port()
    node = Node(data, "--https", f"127.0.0.1:{port}", "--tls-cert", str(cert_path), "--tls-key", str(key_path)).start()
    try:
        for host in ("127.0.0.1", "localhost"):
            r = requests.get(f"https://{host}:{port}/api/handles/0.NA/88.102", verify=str(cert_path))
            assert r.status_code == 200 and r.json()["handle"] == "0.NA/88.102"
        # A strict verifier (Python 3.13 makes X509_STRICT the default) takes it too.
        ctx = ssl.create_default_context(cafile=str(cert_path))
        ctx.verify_flags |= ssl.VERIFY_X509_STRICT
        with socket.create_connection(("127.0.0.1", port), timeout=5) as raw, \
                ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            assert tls.getpeercert()["subject"]
        with pytest.raises(requests.exceptions.SSLError):
            requests.get(f"https://127.0.0.1:{port}/healthz", verify=True)
    finally:
        node.stop()
    # Asked again, init keeps the pair clients may already trust.
    again = idnode("init", "--data", str(data), "--prefix", "88.102", "--tls").stdout
    assert "kept the certificate" in again and cert_path.read_bytes() == cert.public_bytes(serialization.Encoding.PEM)
