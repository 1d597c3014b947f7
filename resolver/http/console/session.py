"""The console's session cookie and its CSRF tokens.

The cookie holds a bearer token the service issued at sign-in (resolver/http/console/ops.py): server-side,
expiring, revoked at sign-out and ended by the service when the secret is rotated or the prefix
disabled. It is HttpOnly, SameSite=Strict, Path=/console, and Secure when the node serves TLS.

Every form carries a CSRF token. Signed in, it is derived from the session token (an HMAC keyed by it:
only a page the session itself received can hold it); on the sign-in form, before there is a session,
it is a random value also set as a cookie (double submit). A POST without the right one is refused
before it does anything.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from aiohttp import web

SESSION_COOKIE = "idn_console"
PRE_COOKIE = "idn_console_pre"  # the sign-in form's double-submit value
LANG_COOKIE = "idn_lang"
PATH = "/console"
LIFETIME = 8 * 3600  # a working day; the service expires the token itself


def csrf_for(session_token: str) -> str:
    return hmac.new(session_token.encode(), b"idnode console csrf", hashlib.sha256).hexdigest()[:40]


def csrf_matches(expected: str | None, given: object) -> bool:
    return bool(expected) and isinstance(given, str) and hmac.compare_digest(expected, given)


def set_cookie(request: web.Request, resp: web.StreamResponse, name: str, value: str, max_age: int) -> None:
    resp.set_cookie(name, value, max_age=max_age, path=PATH, httponly=True, samesite="Strict",
                    secure=request.secure)


def new_pre_token() -> str:
    return secrets.token_urlsafe(24)
