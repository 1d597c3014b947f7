"""Signing in to the console with the identity's private key instead of its secret.

1. ``GET /console/signin/key?identity=300:0.NA/88.101.5`` answers a page with a challenge: a nonce,
   and the text to sign (``nonce_text``: the node, the identity and the nonce, so that a signature is
   good for this node, this identity and this sign-in only).
2. The page's script (static/keysignin.js, served by the node; the page's CSP allows scripts from the
   node only) reads the PKCS#8 PEM private key file the user picks, signs the text with WebCrypto
   (RSASSA-PKCS1-v1_5, SHA-256) and posts the signature; the key never leaves the browser.
3. ``POST /console/signin/key`` checks the nonce and the signature against the identity's HS_PUBKEY
   value inside the service's one login sequence (``Service.login``: lock-out, audit, per-identity
   rate) and opens the same session as a secret sign-in.

Cost before trust: a nonce is stateless, ``time | random | HMAC(key, time | random | address |
identity)``, under a key derived from the node's seal key (DATA/seckey-seal.key, shared by its workers);
asking for one costs an HMAC and keeps nothing. It is good for NONCE_TTL seconds, from the address it
was given to and for the identity it names. Single use: a nonce whose signature was checked is
remembered until it expires, in a set of at most MAX_USED (only answers that reach the check, which the
lock-out bounds, enter it; when it is full of live nonces a sign-in is refused as busy rather than
forgetting one). Each worker process keeps its own set, as it keeps its own lock-out counters.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import struct
import time
from collections import OrderedDict
from importlib import resources

from aiohttp import web

from protocol.codes import RC, HandleError
from protocol.handles import fold

from ...credentials import Identity, parse_identity
from ...keys.keyfiles import load_or_create_seal_key
from ...lockout import Refused
from ...service import key_login
from ..common import SERVICE, require_secure_credentials
from . import ops, session
from .render import catalogue, render

NONCE_TTL = 120  # seconds from the challenge page to the signature: picking a file takes a moment
MAX_USED = 4096  # nonces remembered as used at once, per worker
MAX_SIGNATURE = 2048  # bytes: an RSA-16384 signature; larger keys are not in use
_RAND = 12
_MAC = 16
NONCE_KEY = web.AppKey("console_nonce_key", bytes)
USED = web.AppKey("console_used_nonces", object)
# This page runs one script, the node's own file; nothing else changes from the console's CSP.
KEY_PAGE_CSP = ("default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; img-src 'self' data:; "
                "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")


def _key(app: web.Application) -> bytes:
    if NONCE_KEY not in app:
        seal = load_or_create_seal_key(app[SERVICE].store.path)
        app[NONCE_KEY] = hmac.new(seal, b"idnode console sign-in nonce v1", hashlib.sha256).digest()
    return app[NONCE_KEY]


def _mac(key: bytes, head: bytes, client: str | None, identity: str) -> bytes:
    bound = b"|".join((head, (client or "").encode(), fold(identity).encode("utf-8")))
    return hmac.new(key, bound, hashlib.sha256).digest()[:_MAC]


def issue_nonce(key: bytes, client: str | None, identity: str, now: float) -> str:
    head = struct.pack(">Q", int(now)) + os.urandom(_RAND)
    return base64.urlsafe_b64encode(head + _mac(key, head, client, identity)).decode().rstrip("=")


def check_nonce(key: bytes, nonce: str, client: str | None, identity: str, now: float) -> float:
    """When ``nonce`` expires, if this node gave it to ``client`` for ``identity``; else a HandleError."""
    try:
        raw = base64.urlsafe_b64decode(nonce + "=" * (-len(nonce) % 4))
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 8 + _RAND + _MAC or not hmac.compare_digest(raw[-_MAC:], _mac(key, raw[:-_MAC], client, identity)):
        raise HandleError(RC.AUTHENTICATION_FAILED, "authentication failed: the sign-in challenge was not given to "
                          "this address for this identity")
    expires = struct.unpack(">Q", raw[:8])[0] + NONCE_TTL
    if now > expires:
        raise HandleError(RC.AUTHENTICATION_TIMEOUT, f"the sign-in challenge has expired (after {NONCE_TTL} s): "
                          "ask for a new one")
    return expires


class UsedNonces:
    """Nonces whose signature was checked, each until it expires; at most ``limit`` at once."""

    def __init__(self, limit: int = MAX_USED):
        self.limit = limit
        self._used: OrderedDict[str, float] = OrderedDict()

    def claim(self, nonce: str, expires: float, now: float) -> None:
        while self._used:
            first, until = next(iter(self._used.items()))
            if until >= now:
                break
            del self._used[first]
        if nonce in self._used:
            raise HandleError(RC.AUTHENTICATION_FAILED, "authentication failed: this sign-in challenge was "
                              "already answered")
        if len(self._used) >= self.limit:
            raise Refused(RC.SERVER_TOO_BUSY, "too many key sign-ins at once: try again in a minute", NONCE_TTL,
                          status=503)
        self._used[nonce] = expires

    def __len__(self) -> int:
        return len(self._used)


def nonce_text(node: str, identity: str, nonce: str) -> str:
    """What the browser signs (UTF-8): a signature names the node, the identity and the challenge."""
    return f"idnode console sign-in\nnode: {node}\nidentity: {identity}\nnonce: {nonce}"


def _node(request: web.Request) -> str:
    return request.app[SERVICE].require_initialised()


def _page(request: web.Request, status: int = 200, **context: object) -> web.Response:
    t = catalogue(request)
    pre = request.cookies.get(session.PRE_COOKIE) or session.new_pre_token()
    resp = render(request, "signin_key.html", t, status=status, identity=None, csrf=pre, home=None,
                  title=t("c.signin_key"), **context)
    resp.headers["Content-Security-Policy"] = KEY_PAGE_CSP
    session.set_cookie(request, resp, session.PRE_COOKIE, pre, 3600)
    return resp


async def challenge(request: web.Request) -> web.Response:
    """The key sign-in page; with ``?identity=``, its challenge (nothing is kept)."""
    text = request.query.get("identity", "").strip()[:300]
    if not text:
        return _page(request, who="")
    svc = request.app[SERVICE]
    try:
        index, handle = parse_identity(text)
        svc.guard.check(f"{index}:{handle}", request.remote)  # locked out: no challenge either
        node = _node(request)
    except HandleError as e:
        return _page(request, e.status, who=text, error=catalogue(request).refusal(e))
    nonce = issue_nonce(_key(request.app), request.remote, text, time.time())
    return _page(request, who=text, nonce=nonce, message=nonce_text(node, text, nonce))


async def answer(request: web.Request) -> web.StreamResponse:
    from .web import MAX_FORM, bounded_body, caller_of

    who = caller_of(request)
    t = catalogue(request)
    svc = request.app[SERVICE]
    text = ""
    try:
        bounded_body(request, MAX_FORM)
        form = await request.post()
        text = str(form.get("identity", "")).strip()
        if not session.csrf_matches(request.cookies.get(session.PRE_COOKIE), form.get("csrf")):
            return _page(request, 403, who=text, error=t("c.csrf"))
        require_secure_credentials(request)  # as for a secret: WebCrypto itself needs HTTPS or loopback
        index, handle = parse_identity(text)
        nonce = str(form.get("nonce", ""))
        try:
            signature = base64.b64decode(str(form.get("signature", "")), validate=True)
        except (binascii.Error, ValueError):
            signature = b""
        if not 0 < len(signature) <= MAX_SIGNATURE:
            raise HandleError(RC.PROTOCOL_ERROR, "the form carries no signature (base64)", status=400,
                              field="signature")

        async def prove() -> Identity:
            now = time.time()
            expires = check_nonce(_key(request.app), nonce, request.remote, text, now)
            request.app[USED].claim(nonce, expires, now)  # checked once, right or wrong
            message = nonce_text(_node(request), text, nonce).encode("utf-8")
            return key_login.rsa_identity(svc, index, handle, message, signature)

        identity = await svc.login(index, handle, prove, caller=who)
        token, _ = await ops.open_session(svc, identity, session.LIFETIME, caller=who)
    except HandleError as e:
        return _page(request, e.status, who=text, error=t.refusal(e))
    resp = web.HTTPSeeOther("/console/")
    session.set_cookie(request, resp, session.SESSION_COOKIE, token, session.LIFETIME)
    resp.del_cookie(session.PRE_COOKIE, path=session.PATH)
    return resp


_SCRIPT = resources.files(__package__).joinpath("static", "keysignin.js")


async def script(request: web.Request) -> web.Response:
    resp = web.Response(body=_SCRIPT.read_bytes(), content_type="text/javascript", charset="utf-8")
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Cache-Control"] = "max-age=3600"
    return resp


def add_routes(app: web.Application) -> None:
    app[USED] = UsedNonces()
    app.router.add_get("/console/signin/key", challenge)
    app.router.add_post("/console/signin/key", answer)
    app.router.add_get("/console/static/keysignin.js", script)
