"""Signing in to the console with a private key (resolver/http/console/keysignin.py): the challenge, the
signature made in a real Chromium with WebCrypto from a PKCS#8 PEM file, and how an attacker would
abuse it (a wrong key, a replayed, expired or misdirected challenge, a flood of challenges)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import re
import shutil
import time
import uuid

import pytest
import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from protocol.pubkey import PublicKey
from resolver.keys.keyfiles import AnyPrivateKey, hs_pubkey
from tests.nodes import ADMIN_SECRET, NODE_PREFIX, basic

ADMIN = {"Authorization": basic(f"300:0.NA/{NODE_PREFIX}", ADMIN_SECRET)}
CHROMIUM = shutil.which("chromium")


def pubkey_value(key: AnyPrivateKey, index: int = 300) -> dict:
    """The HS_PUBKEY value `idnode keygen` prints for ``key``."""
    return {"index": index, "type": "HS_PUBKEY",
            "data": {"format": "key", "value": PublicKey.from_wire(hs_pubkey(key)).to_json()}}


def keyed_prefix(node, key: rsa.RSAPrivateKey) -> str:
    """An enterprise prefix whose admin 300:0.NA/P proves itself with ``key``: the operator puts the
    public key at index 300 of the prefix handle in place of the secret, through the API."""
    prefix = f"88.101.{300}{uuid.uuid4().int % 10**6:06d}"
    r = requests.post(f"{node.url}/api/prefixes", headers=ADMIN, json={"prefix": prefix, "secret": "s-" + prefix})
    assert r.status_code == 201, r.text
    r = requests.put(node.api(f"0.NA/{prefix}"), params={"index": "300"}, headers=ADMIN,
                     json={"values": [pubkey_value(key)]})
    assert r.status_code in (200, 201), r.text
    return prefix


def challenge(s: requests.Session, node, identity: str) -> tuple[str, str, str]:
    """(csrf, nonce, the text to sign) of the key sign-in page for ``identity``."""
    r = s.get(f"{node.url}/console/signin/key", params={"identity": identity})
    assert r.status_code == 200, r.text
    csrf = re.search(r'name="csrf" value="([^"]+)"', r.text)[1]
    nonce = re.search(r'name="nonce" value="([^"]+)"', r.text)[1]
    message = html.unescape(re.search(r'data-message="([^"]*)"', r.text)[1])
    return csrf, nonce, message


def sign(key: rsa.RSAPrivateKey, message: str) -> str:
    return base64.b64encode(key.sign(message.encode(), padding.PKCS1v15(), hashes.SHA256())).decode()


def answer(s: requests.Session, node, identity: str, csrf: str, nonce: str, signature: str) -> requests.Response:
    return s.post(f"{node.url}/console/signin/key", allow_redirects=False,
                  data={"csrf": csrf, "identity": identity, "nonce": nonce, "signature": signature})


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def ent(shared_node, key):
    prefix = keyed_prefix(shared_node, key)
    return {"node": shared_node, "prefix": prefix, "id": f"300:0.NA/{prefix}"}


def test_a_signed_challenge_opens_a_session_as_a_secret_does(ent, key):
    node = ent["node"]
    s = requests.Session()
    csrf, nonce, message = challenge(s, node, ent["id"])
    assert message == f"idnode console sign-in\nnode: {NODE_PREFIX}\nidentity: {ent['id']}\nnonce: {nonce}"
    r = answer(s, node, ent["id"], csrf, nonce, sign(key, message))
    assert r.status_code == 303 and r.headers["Location"] == "/console/", r.text
    assert "HttpOnly" in r.headers["Set-Cookie"] and "SameSite=Strict" in r.headers["Set-Cookie"]
    page = s.get(f"{node.url}/console/")
    assert page.status_code == 200 and f"/console/p/{ent['prefix']}/handles" in page.url
    # the page allows the node's own script and nothing else; the secret sign-in page, none
    r = requests.get(f"{node.url}/console/signin/key", params={"identity": ent["id"]})
    assert "script-src 'self'" in r.headers["Content-Security-Policy"]
    assert 'src="/console/static/keysignin.js"' in r.text and "<script>" not in r.text
    js = requests.get(f"{node.url}/console/static/keysignin.js")
    assert js.status_code == 200 and js.headers["Content-Type"].startswith("text/javascript")
    assert "RSASSA-PKCS1-v1_5" in js.text
    assert "script-src" not in requests.get(f"{node.url}/console/signin").headers["Content-Security-Policy"]


def test_a_wrong_key_is_refused_counted_towards_the_lock_out_and_audited(shared_node, key):
    node = shared_node
    prefix = keyed_prefix(node, key)
    who = f"300:0.NA/{prefix}"
    wrong = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    s = requests.Session()
    statuses = []
    for _ in range(10):  # lockout_failures
        csrf, nonce, message = challenge(s, node, who)
        r = answer(s, node, who, csrf, nonce, sign(wrong, message))
        statuses.append(r.status_code)
        assert "bad signature" in html.unescape(r.text)
    assert set(statuses) == {403}
    # locked out: even the right key is refused now, unchecked, and no challenge is given
    r = s.get(f"{node.url}/console/signin/key", params={"identity": who})
    assert r.status_code == 429 and 'name="nonce"' not in r.text
    audit = requests.get(f"{node.url}/api/audit", headers=ADMIN, params={"identity": who}).json()
    denied = [e for e in audit["entries"] if e.get("identity") == who and "bad signature" in str(e.get("message"))]
    assert len(denied) >= 10 and all(e["protocol"] == "console" for e in denied)
    requests.delete(f"{node.url}/api/lockouts", headers=ADMIN, params={"identity": who})


def test_a_replayed_challenge_is_refused(ent, key):
    node = ent["node"]
    s = requests.Session()
    csrf, nonce, message = challenge(s, node, ent["id"])
    signature = sign(key, message)
    assert answer(s, node, ent["id"], csrf, nonce, signature).status_code == 303
    again = requests.Session()
    csrf2, _, _ = challenge(again, node, ent["id"])
    r = answer(again, node, ent["id"], csrf2, nonce, signature)
    assert r.status_code == 403 and "already answered" in html.unescape(r.text)
    assert "idn_console=" not in r.headers.get("Set-Cookie", "")


def test_a_challenge_for_another_identity_or_a_forged_one_is_refused(shared_node, ent, key):
    node = ent["node"]
    other = keyed_prefix(node, key)  # the same key administers another prefix
    s = requests.Session()
    csrf, nonce, _ = challenge(s, node, ent["id"])
    # the challenge names ent's identity: signed for the other prefix, it is refused
    text = f"idnode console sign-in\nnode: {NODE_PREFIX}\nidentity: 300:0.NA/{other}\nnonce: {nonce}"
    r = answer(s, node, f"300:0.NA/{other}", csrf, nonce, sign(key, text))
    assert r.status_code == 403 and "not given to this address for this identity" in html.unescape(r.text)
    # a nonce made up by the caller (or altered: here its time moved on) is refused the same way
    raw = bytearray(base64.urlsafe_b64decode(nonce + "=="))
    raw[7] ^= 1
    forged = base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")
    text = f"idnode console sign-in\nnode: {NODE_PREFIX}\nidentity: {ent['id']}\nnonce: {forged}"
    r = answer(s, node, ent["id"], csrf, forged, sign(key, text))
    assert r.status_code == 403 and "not given to this address" in html.unescape(r.text)


def test_an_expired_challenge_or_one_given_to_another_address_is_refused(ent, key):
    """A nonce's MAC covers its time, so an old one cannot be made from a fresh one: the node's check of
    the time is exercised with a nonce made under the node's own key (its data folder) for a time past."""
    from resolver.http.console import keysignin
    from resolver.keys.keyfiles import load_or_create_seal_key

    node = ent["node"]
    k = hmac.new(load_or_create_seal_key(node.data), b"idnode console sign-in nonce v1", hashlib.sha256).digest()
    old = keysignin.issue_nonce(k, "127.0.0.1", ent["id"], time.time() - keysignin.NONCE_TTL - 5)
    s = requests.Session()
    csrf, _, _ = challenge(s, node, ent["id"])
    r = answer(s, node, ent["id"], csrf, old, sign(key, keysignin.nonce_text(NODE_PREFIX, ent["id"], old)))
    assert r.status_code == 400 and "expired" in html.unescape(r.text)
    assert "idn_console=" not in r.headers.get("Set-Cookie", "")
    # one given to another address is refused, though the node made it and it is signed right
    elsewhere = keysignin.issue_nonce(k, "127.0.0.2", ent["id"], time.time())
    r = answer(s, node, ent["id"], csrf, elsewhere,
               sign(key, keysignin.nonce_text(NODE_PREFIX, ent["id"], elsewhere)))
    assert r.status_code == 403 and "not given to this address" in html.unescape(r.text)
    # the same, made for now and here, is taken: the refusals were the time and the address
    fresh = keysignin.issue_nonce(k, "127.0.0.1", ent["id"], time.time())
    r = answer(s, node, ent["id"], csrf, fresh, sign(key, keysignin.nonce_text(NODE_PREFIX, ent["id"], fresh)))
    assert r.status_code == 303


def test_a_flood_of_challenges_keeps_no_state(ent):
    """Anyone may ask for a challenge: each is an HMAC, nothing is kept and no cookie grows."""
    node = ent["node"]
    s = requests.Session()
    nonces = set()
    for _ in range(300):
        r = s.get(f"{node.url}/console/signin/key", params={"identity": ent["id"]})
        assert r.status_code == 200
        nonces.add(re.search(r'name="nonce" value="([^"]+)"', r.text)[1])
    assert len(nonces) == 300 and all(len(n) == 48 for n in nonces)
    assert len(s.cookies) == 1  # the sign-in form's CSRF cookie, the same one throughout


@pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium (.ci/run installs it)")
def test_signing_in_with_a_key_file_in_chromium(ent, key, tmp_path):
    """The browser reads the PKCS#8 PEM file, signs with WebCrypto, and posts only the signature."""
    sync_api = pytest.importorskip("playwright.sync_api")
    pem = tmp_path / "admin.pem"
    pem.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
    node = ent["node"]
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_context(viewport={"width": 390, "height": 844}, locale="en-US").new_page()
            posted: list[str] = []
            page.on("request", lambda req: posted.append(req.post_data or "") if req.method == "POST" else None)
            page.goto(f"{node.url}/console/signin")
            page.click("#keylink")
            page.fill("#identity", ent["id"])
            page.click("#challenge")
            page.click("#signin")  # no file picked yet: the script says so, nothing is posted
            assert page.locator("#keyerror").inner_text() == "Pick the private key file." and not posted
            page.set_input_files("#keyfile", str(pem))
            page.click("#signin")
            page.wait_for_url(f"**/console/p/{ent['prefix']}/handles")
            assert ent["id"] in page.locator("nav").inner_text()
            assert len(posted) == 1 and "signature=" in posted[0] and "PRIVATE" not in posted[0]
        finally:
            browser.close()


def test_the_used_challenges_are_bounded_and_forgotten_when_they_expire():
    from protocol.codes import RC, HandleError
    from resolver.http.console.keysignin import UsedNonces

    used = UsedNonces(limit=2)
    used.claim("a", 100.0, 0.0)
    with pytest.raises(HandleError, match="already answered"):
        used.claim("a", 100.0, 1.0)
    used.claim("b", 100.0, 1.0)
    with pytest.raises(HandleError) as full:  # full of live ones: refused, none forgotten early
        used.claim("c", 100.0, 2.0)
    assert full.value.rc == RC.SERVER_TOO_BUSY and len(used) == 2
    used.claim("c", 200.0, 101.0)  # a and b have expired: their room is free again
    assert len(used) == 1


def test_replacing_the_key_ends_its_sessions(shared_node, key):
    """A key sign-in's session is bound to the key as a secret sign-in's is to the secret."""
    node = shared_node
    prefix = keyed_prefix(node, key)
    who = f"300:0.NA/{prefix}"
    s = requests.Session()
    csrf, nonce, message = challenge(s, node, who)
    assert answer(s, node, who, csrf, nonce, sign(key, message)).status_code == 303
    assert s.get(f"{node.url}/console/", allow_redirects=False).status_code == 303  # to its handles
    assert s.get(f"{node.url}/console/p/{prefix}/handles", allow_redirects=False).status_code == 200
    new = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    r = requests.put(node.api(f"0.NA/{prefix}"), params={"index": "300"}, headers=ADMIN,
                     json={"values": [pubkey_value(new)]})
    assert r.status_code in (200, 201), r.text
    r = s.get(f"{node.url}/console/p/{prefix}/handles", allow_redirects=False)
    assert r.status_code == 303 and r.headers["Location"] == "/console/signin?ended=1"


def test_an_identity_whose_key_is_not_rsa_is_told_so_and_not_locked_out(shared_node):
    from cryptography.hazmat.primitives.asymmetric import ed25519

    node = shared_node
    prefix = f"88.101.{300}{uuid.uuid4().int % 10**6:06d}"
    r = requests.post(f"{node.url}/api/prefixes", headers=ADMIN, json={"prefix": prefix, "secret": "s-" + prefix})
    assert r.status_code == 201, r.text
    edkey = ed25519.Ed25519PrivateKey.generate()
    r = requests.put(node.api(f"0.NA/{prefix}"), params={"index": "300"}, headers=ADMIN,
                     json={"values": [pubkey_value(edkey)]})
    assert r.status_code in (200, 201), r.text
    who = f"300:0.NA/{prefix}"
    s = requests.Session()
    for _ in range(12):  # more than the lock-out's 10: none of these is a guess
        csrf, nonce, message = challenge(s, node, who)
        r = answer(s, node, who, csrf, nonce, base64.b64encode(edkey.sign(message.encode())).decode())
        assert r.status_code == 400 and "not an RSA key" in html.unescape(r.text)
