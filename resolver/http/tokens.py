"""``/api/token``: bearer tokens for HTTP clients (resolver/service/tokens.py).

``POST`` takes the identity's secret (HTTP Basic, or a JSON body ``{"identity", "secret"}``) and
answers a token; ``Authorization: Bearer <token>`` then works wherever Basic does, until it expires
or ``DELETE /api/token`` (with that header) revokes it. A token is not issued for another token:
renewing needs the secret, so a stolen token dies with its lifetime.
"""

from __future__ import annotations

import time

from aiohttp import web

from protocol.codes import RC, HandleError

from ..credentials import parse_identity
from .common import (
    SERVICE,
    api,
    caller,
    caller_of,
    json_response,
    read_json,
    require_secure_credentials,
)

MAX_CREDENTIAL_BODY = 16 * 1024


def _bearer(request: web.Request) -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


@api
async def issue(request: web.Request) -> web.Response:
    svc = request.app[SERVICE]
    if _bearer(request) is not None:
        raise HandleError(RC.AUTHENTICATION_NEEDED, "a token is issued for the identity's secret (HTTP Basic, or "
                          "a body {identity, secret}), not for another token")
    if "Authorization" in request.headers:
        identity = await caller(request)
    elif request.can_read_body:
        # The body is the credential itself: a few hundred bytes, so no more is read of it.
        body = await read_json(request, limit=MAX_CREDENTIAL_BODY)
        who = body.get("identity") if isinstance(body, dict) else None
        secret = body.get("secret") if isinstance(body, dict) else None
        if not isinstance(who, str) or not isinstance(secret, str):
            raise HandleError(RC.INVALID_VALUE, "the body must be {\"identity\": \"index:handle\", \"secret\": \"…\"}",
                              field="identity" if not isinstance(who, str) else "secret")
        require_secure_credentials(request)
        index, handle = parse_identity(who)
        identity = await svc.authenticate(index, handle, secret, caller=caller_of(request))  # which checks the identity's rate
    else:
        identity = None
    if identity is None:
        raise HandleError(RC.AUTHENTICATION_NEEDED, "a token needs the identity's secret: HTTP Basic, or a body "
                          "{identity, secret}")
    token, expires = await svc.issue_token(identity, caller=caller_of(request))
    return json_response({"responseCode": RC.SUCCESS, "token": token, "tokenType": "Bearer", "identity": str(identity),
                          "expires": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(expires)),
                          "expiresIn": expires - svc.now()}, 201)


@api
async def revoke(request: web.Request) -> web.Response:
    token = _bearer(request)
    if token is None:
        raise HandleError(RC.AUTHENTICATION_NEEDED, "DELETE /api/token revokes the token sent as "
                          "'Authorization: Bearer <token>'")
    identity = await caller(request)
    await request.app[SERVICE].revoke_token(token, identity, caller=caller_of(request))
    return json_response({"responseCode": RC.SUCCESS, "revoked": True})


@api
async def revoke_all(request: web.Request) -> web.Response:
    """``DELETE /api/tokens?identity=300:0.NA/88.101.5``: every token of that identity (node admin)."""
    who = request.query.get("identity")
    if not who:
        raise HandleError(RC.INVALID_VALUE, "identity (index:handle) is needed", field="identity")
    identity = await caller(request)
    n = await request.app[SERVICE].revoke_tokens(who, identity, caller=caller_of(request))
    return json_response({"responseCode": RC.SUCCESS, "identity": who, "revoked": n})


def add_routes(app: web.Application) -> None:
    app.router.add_post("/api/token", issue)
    app.router.add_delete("/api/token", revoke)
    app.router.add_delete("/api/tokens", revoke_all)
