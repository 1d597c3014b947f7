"""What every HTTP handler shares: JSON in and out, errors as the REST API renders them, the caller."""

from __future__ import annotations

import asyncio
import ipaddress
import math
from collections.abc import Awaitable, Callable
from functools import wraps
from urllib.parse import unquote_to_bytes

import orjson
from aiohttp import web

from protocol.codes import RC, HandleError

from .. import audit_trail as audit
from ..credentials import Identity
from ..service import Intent, Service

SERVICE = web.AppKey("service", Service)
SETTINGS = web.AppKey("settings", dict)

JSON = "application/json"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def json_response(obj: object, status: int = 200) -> web.Response:
    return web.Response(body=orjson.dumps(obj), status=status, content_type=JSON)


def error_response(err: HandleError, handle: str | None = None, request: web.Request | None = None) -> web.Response:
    body: dict = {"responseCode": err.rc}
    if handle is not None:
        body["handle"] = handle
    body["message"] = err.message
    if err.field:
        body["field"] = err.field
    if err.details:
        body["errors"] = err.details
    resp = json_response(body, err.status)
    if err.status == 401:
        resp.headers["WWW-Authenticate"] = getattr(err, "www_authenticate", 'Basic realm="handle"')
    redirect_to = getattr(err, "redirect_to", None)
    if redirect_to and request is not None:
        # A mirror's primary, or the server of this site that holds the handle: the same request there.
        resp.headers["Location"] = redirect_to.rstrip("/") + request.path_qs
    retry = getattr(err, "retry_after", None)  # a lock-out or a rate limit (resolver/lockout.py Refused)
    if retry is not None:
        resp.headers["Retry-After"] = str(retry)
    return resp


# The audit trail's names for the HTTP routes that change something (the service's operations), for
# refusals that happen before the service is reached (a body that is not JSON, say).
AUDITED = {
    ("PUT", "/api/handles/{handle}"): "put_handle",
    ("DELETE", "/api/handles/{handle}"): "delete_handle",
    ("POST", "/api/batch"): "batch",
    ("POST", "/api/prefixes"): "allocate_prefix",
    ("DELETE", "/api/prefixes/{prefix}"): "delete_prefix",
    ("POST", "/api/prefixes/{prefix}/disable"): "set_prefix_state",
    ("POST", "/api/prefixes/{prefix}/enable"): "set_prefix_state",
    ("POST", "/api/prefixes/{prefix}/secret"): "rotate_secret",
    ("PUT", "/api/prefixes/{prefix}/public-trace"): "set_public_trace",
    ("PUT", "/api/prefixes/{prefix}/owner"): "set_owner",
    ("POST", "/api/templates"): "put_template",
    ("DELETE", "/api/templates/{prefix}/{version}"): "delete_template",
    ("POST", "/capture"): "capture_job",
    ("POST", "/api/events"): "capture",
    ("POST", "/api/replication/promote"): "promote",
    ("POST", "/api/token"): "issue_token",
    ("DELETE", "/api/token"): "revoke_token",
    # The SNMS-compatible API (resolver/http/snms.py)
    ("POST", "/identity/token"): "issue_token", ("POST", "/identity/token/v1"): "issue_token",
    ("POST", "/identityv2/data"): "batch", ("PUT", "/identityv2/data"): "batch",
    ("DELETE", "/identityv2/data"): "delete_handle", ("POST", "/identityv2/data/batchCreate"): "batch",
    ("PUT", "/identityv2/data/batchUpdate"): "batch", ("DELETE", "/identityv2/data/batchDelete"): "batch",
    **{(m, f"/snms/api/{v}/template"): op for v in ("v3", "v5")
       for m, op in (("POST", "put_template"), ("PUT", "revise_template"), ("DELETE", "delete_template"))},
}


READS = {("GET", "/api/handles/{handle}"): "resolve", ("GET", "/api/handles"): "list",
         ("GET", "/api/audit"): "audit"}


_CALLER = "idnode.caller"  # the request's Caller, once built
PROVED = "idnode.identity"  # request[PROVED]: the identity its credentials proved, once checked


def caller_of(request: web.Request) -> audit.Caller:
    """Who is asking from where, to do what (resolver/audit_trail.py): built once per request, when it is
    first needed (an anonymous resolution never needs it), and passed to the service as ``caller=``."""
    c = request.get(_CALLER)
    if c is None:
        route = request.match_info.route
        canonical = route.resource.canonical if route.resource is not None else request.path
        op = AUDITED.get((request.method, canonical))
        m = request.match_info
        name = op or READS.get((request.method, canonical)) or f"{request.method} {canonical}"
        c = request[_CALLER] = audit.Caller("https" if request.secure else "http", request.remote, name,
                                            m.get("handle") or m.get("prefix"), mutating=op is not None)
    return c


def api(handler: Handler) -> Handler:
    """Render a HandleError (and a body that is not JSON) as the REST API's error answer, and audit
    a refused change (the service audits what reaches it; this catches what is refused before)."""

    @wraps(handler)
    async def wrapped(request: web.Request) -> web.StreamResponse:
        who = caller_of(request)
        try:
            return await handler(request)
        except HandleError as e:
            await request.app[SERVICE].audit.refused(who, e, request.get(PROVED))
            resp = error_response(e, request.match_info.get("handle"), request)
            if request.body_exists and not request.content.is_eof():
                resp.force_close()  # refused before its body was read: not read afterwards either
            return resp

    return wrapped


async def read_json(request: web.Request, types: tuple[str, ...] = (JSON,), wrong_type_status: int = 400,
                    limit: int | None = None) -> object:
    """The body parsed as JSON; with ``limit``, no more than that many bytes of it are read."""
    if limit is None:
        raw = await read_body(request, types, wrong_type_status)
    else:
        check_content_type(request, types, wrong_type_status)
        refuse_oversized(request, limit)
        raw = await read_at_most(request, limit + 1)
        if len(raw) > limit:
            raise HandleError(RC.PROTOCOL_ERROR, f"the body is larger than the limit of {limit} bytes", field="body",
                              status=413)
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        raise HandleError(RC.PROTOCOL_ERROR, f"the body is not valid JSON: {e}", field="body") from None


async def read_body(request: web.Request, types: tuple[str, ...] = (JSON,), wrong_type_status: int = 400) -> bytes:
    """A JSON request's body, within the size limit. Handle.Net answers 400 to another content type;
    the EPCIS binding answers 415."""
    check_content_type(request, types, wrong_type_status)
    refuse_oversized(request)
    try:
        raw = await read_within(request)
    except web.HTTPRequestEntityTooLarge:
        raise HandleError(RC.PROTOCOL_ERROR,
                          f"the body is larger than the limit of {request.client_max_size} bytes",
                          status=413) from None
    return raw


def check_content_type(request: web.Request, types: tuple[str, ...] = (JSON,), wrong_type_status: int = 400) -> None:
    if request.content_type not in types:
        wanted = types[0] if len(types) == 1 else "one of " + ", ".join(types)
        raise HandleError(RC.PROTOCOL_ERROR, f"Content-Type must be {wanted}, not {request.content_type or 'absent'}",
                          field="Content-Type", status=wrong_type_status)


def refuse_oversized(request: web.Request, limit: int | None = None) -> None:
    """413 at once for a body declared (Content-Length) larger than the limit: nothing of it is read."""
    limit = request.client_max_size if limit is None else limit
    n = request.content_length
    if n is not None and n > limit:
        raise HandleError(RC.PROTOCOL_ERROR, f"the body ({n} bytes) is larger than the limit of {limit} bytes",
                          field="body", status=413)


async def admitted(request: web.Request, intent: Intent, types: tuple[str, ...] = (JSON,),
                   wrong_type_status: int = 400) -> Identity:
    """The admission path of a request with a body to write (resolver/service/admission.py), before
    the body is read: cheap refusals (content type, declared size), who is asking, and whether they
    may do what the request names. Then the caller reads the body."""
    check_content_type(request, types, wrong_type_status)
    refuse_oversized(request)
    return request.app[SERVICE].admit(intent, await caller(request))


async def read_within(request: web.Request, size: int | None = None) -> bytes:
    """The body (or its first ``size`` bytes), within ``body_timeout`` seconds: a client that trickles
    it does not hold a handler."""
    limit = request.app[SETTINGS].get("body_timeout") or None
    try:
        async with asyncio.timeout(limit):
            return await (request.read() if size is None else request.content.read(size))
    except TimeoutError:
        raise HandleError(RC.PROTOCOL_ERROR, f"the body did not arrive within {limit} s", status=408) from None


async def read_at_most(request: web.Request, size: int) -> bytes:
    """The body up to its end or its first ``size`` bytes, within ``body_timeout`` seconds."""
    limit = request.app[SETTINGS].get("body_timeout") or None
    chunks: list[bytes] = []
    n = 0
    try:
        async with asyncio.timeout(limit):
            while n < size:
                chunk = await request.content.read(size - n)
                if not chunk:
                    break
                chunks.append(chunk)
                n += len(chunk)
    except TimeoutError:
        raise HandleError(RC.PROTOCOL_ERROR, f"the body did not arrive within {limit} s", status=408) from None
    return b"".join(chunks)


def _is_loopback(remote: str | None) -> bool:
    if not remote:
        return False
    try:
        return ipaddress.ip_address(remote.split("%")[0]).is_loopback
    except ValueError:
        return False


async def caller(request: web.Request) -> Identity | None:
    """The authenticated identity, or None when the request carries no credentials."""
    header = request.headers.get("Authorization")
    if not header:
        return None
    require_secure_credentials(request)
    identity = await request.app[SERVICE].identity_from_basic(header, caller=caller_of(request))
    request[PROVED] = identity  # what ``api`` records a later refusal as
    return identity


def require_secure_credentials(request: web.Request) -> None:
    """Credentials (a secret, a token) travel over HTTPS, or over plain HTTP only from loopback."""
    settings = request.app[SETTINGS]
    if not request.secure and not settings.get("plain_http_credentials") and not _is_loopback(request.remote):
        raise HandleError(RC.NOT_AUTHORIZED, "credentials are accepted over plain HTTP only from loopback; "
                          "use HTTPS", status=403)


def path_handle(request: web.Request) -> str:
    """The handle in the path. yarl leaves a percent-escape that decodes to no UTF-8 text as it was
    (``%FF``), which would then pass for the literal text ``%FF`` (sent as ``%25FF``): when the
    decoded handle holds a ``%``, the raw path decides. (Handles seldom hold one: the hot path pays
    a substring test.)"""
    handle = request.match_info["handle"]
    if "%" in handle:
        try:
            unquote_to_bytes(request.rel_url.raw_path).decode("utf-8")
        except UnicodeDecodeError:
            raise HandleError(RC.INVALID_HANDLE, "the handle in the path is not valid UTF-8: a percent-escape "
                              "decodes to bytes that are no UTF-8 text", field="handle") from None
    return handle


def flag(request: web.Request, name: str, default: bool) -> bool:
    v = request.query.get(name)
    if v is None:
        return default
    if v.lower() in ("true", "1", "yes", ""):
        return True
    if v.lower() in ("false", "0", "no"):
        return False
    raise HandleError(RC.INVALID_VALUE, f"{name} must be true or false", field=name)


INT64 = 1 << 63


def int_param(request: web.Request, name: str, default: int) -> int:
    v = request.query.get(name)
    if v is None or v == "":
        return default
    try:
        n = int(v)
    except ValueError:
        raise HandleError(RC.INVALID_VALUE, f"{name} must be an integer", field=name) from None
    if not -INT64 <= n < INT64:  # no parameter means more; past this, packing it for storage overflows
        raise HandleError(RC.INVALID_VALUE, f"{name} must be an integer from {-INT64} to {INT64 - 1}", field=name)
    return n


def seconds_param(request: web.Request, name: str, default: float, limit: float) -> float:
    """A query parameter in seconds: a finite number from 0, capped at ``limit``."""
    v = request.query.get(name)
    if v is None or v == "":
        return default
    try:
        f = float(v)
    except ValueError:
        f = math.nan
    if not math.isfinite(f) or f < 0:  # float() also takes "nan" and "inf"
        raise HandleError(RC.INVALID_VALUE, f"{name} must be a number of seconds from 0, not {v!r}", field=name)
    return min(f, limit)
