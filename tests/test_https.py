"""HTTPS with a configured certificate and key; credentials over plain HTTP only from loopback."""

from __future__ import annotations

import datetime
import ipaddress

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from resolver.http.common import _is_loopback
from tests.nodes import Node, free_port


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
