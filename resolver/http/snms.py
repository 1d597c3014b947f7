"""The SNMS-compatible management API: token login, data templates and identifiers as enterprise
systems call the reference secondary-node software (teleinfo-dev/id-guide, docs/dev-tools/snms/).

One more transport over the service: every route authenticates through the service (bearer token
from ``/identity/token``, or HTTP Basic) before it reads a body, and every operation is the
service's own (``batch`` with the SNMS decoders of protocol/snms.py, ``delete_handle``,
``resolve``, the template operations), so permissions, limits, audit and durability are those of
every other transport. Answers are the documented envelope ``{"message", "status", "data"}`` with
HTTP 200 (the status is in the body, where the integrations read it), except an internal error (-4),
which is a 500.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from functools import wraps

from aiohttp import web

from protocol import snms
from protocol import snms_templates as tpls
from protocol.batchjson import Batch, ItemResult, Operation, Rejected
from protocol.codes import RC, HandleError
from protocol.template_requests import ReviseTemplate, decode_publish

from ..credentials import Identity
from ..keys.sealed import Sealer
from ..service.tokens import TokenError
from .common import (
    JSON,
    PROVED,
    SERVICE,
    SETTINGS,
    caller_of,
    json_response,
    require_secure_credentials,
)

log = logging.getLogger(__name__)

TOKEN_LIFETIME = 24 * 3600  # attachment.md: a token lapses after 24 h
LOGIN_BODY = 4096
SMALL_BODY = 256 * 1024  # one record, one template
SEALER = web.AppKey("snms_sealer", Sealer)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def answer(status: int, message: str, data: object = None) -> web.Response:
    return json_response(snms.envelope(status, message, data), 500 if status == snms.INTERNAL else 200)


def route(handler: Handler, *, login: bool = False, template: bool = False) -> Handler:
    """Render a refusal as the SNMS envelope, audited as every transport's refusals are."""

    @wraps(handler)
    async def wrapped(request: web.Request) -> web.StreamResponse:
        who = caller_of(request)
        svc = request.app[SERVICE]
        try:
            return await handler(request)
        except HandleError as e:
            await svc.audit.refused(who, e, request.get(PROVED))
            status, message = _reason(e, login=login, template=template)
            resp = answer(status, message)
            retry = getattr(e, "retry_after", None)
            if retry is not None:
                resp.headers["Retry-After"] = str(retry)
            return resp
        except Exception:
            log.exception("SNMS %s %s failed", request.method, request.path)
            return answer(snms.INTERNAL, snms.INTERNAL_MSG)

    return wrapped


def _reason(e: HandleError, *, login: bool, template: bool) -> tuple[int, str]:
    if isinstance(e, TokenError):
        return snms.NOT_LOGGED_IN, "token无效或已过期，请重新获取"
    if login and not isinstance(e, snms.SnmsError):
        if e.rc == RC.UNABLE_TO_AUTHENTICATE and getattr(e, "retry_after", None) is None:
            return snms.FAILURE, "该身份的密钥需重新设置后才能使用密文登录"
        if e.rc in (RC.AUTHENTICATION_NEEDED, RC.AUTHENTICATION_FAILED, RC.INVALID_CREDENTIAL):
            return snms.FAILURE, snms.WRONG_LOGIN
    if template and e.rc == RC.HANDLE_NOT_FOUND:
        return snms.FAILURE, "数据模板不存在"
    if template and e.rc == RC.HANDLE_ALREADY_EXISTS:
        return snms.FAILURE, "数据模板已存在，且内容不同"
    return snms.reason(e)


async def _body(request: web.Request, limit: int | None = None) -> bytes:
    """The body, once the caller is known (or, for a login, a small one): JSON, within ``limit`` (or the
    node's body limit), read no further than the limit even when no Content-Length announces it."""
    if request.content_type != JSON:
        raise snms.fail(f"Content-Type必须为{JSON}", "Content-Type")
    limit = limit or request.client_max_size
    too_big = snms.fail(f"请求体超过{limit}字节的限制", "body")
    if request.content_length is not None and request.content_length > limit:
        raise too_big
    timeout = request.app[SETTINGS].get("body_timeout") or None
    buf = bytearray()
    try:
        async with asyncio.timeout(timeout):
            while chunk := await request.content.read(min(1 << 16, limit + 1 - len(buf))):
                buf += chunk
                if len(buf) > limit:
                    raise too_big
    except TimeoutError:
        raise snms.fail(f"请求体未在{timeout}秒内到达", "body") from None
    return bytes(buf)


async def _caller(request: web.Request) -> Identity:
    """Who is asking (a bearer token, or HTTP Basic), before anything else is read."""
    header = request.headers.get("Authorization")
    if not header:
        raise snms.SnmsError(snms.NOT_LOGGED_IN, snms.NOT_LOGGED_IN_MSG, RC.AUTHENTICATION_NEEDED)
    require_secure_credentials(request)
    identity = await request.app[SERVICE].identity_from_basic(header, caller=caller_of(request))
    assert identity is not None
    request[PROVED] = identity  # what ``route`` records a later refusal as
    return identity


# --- 身份认证 --------------------------------------------------------------------------------------

def _login(dated: bool) -> Handler:
    async def login(request: web.Request) -> web.Response:
        svc = request.app[SERVICE]
        creds = snms.parse_login(await _body(request, LOGIN_BODY))
        index, handle = snms.identity_of(creds.username)
        require_secure_credentials(request)
        if dated:
            identity = await svc.authenticate_dated(index, handle, creds.password, _unseal(request), caller=caller_of(request))
        else:
            identity = await svc.authenticate(index, handle, creds.password, caller=caller_of(request))
        # Either way through the service's one login sequence, which also checks the identity's rate.
        token, _ = await svc.issue_token(identity, lifetime=TOKEN_LIFETIME, caller=caller_of(request))
        return answer(snms.SUCCESS, snms.OK, {"token": token})

    return route(login, login=True)


def _unseal(request: web.Request) -> Callable[[str], str | None]:
    sealer = request.app.get(SEALER)
    return sealer.unseal if sealer is not None else (lambda token: None)


# --- 标识操作 --------------------------------------------------------------------------------------

class _Decoder:
    """The SNMS decoder the batch runs on its writer thread, remembering the items it refused itself
    (their SNMS wording is kept; the batch result carries only the message)."""

    def __init__(self, decode: Callable[..., list[Operation | Rejected]], op: str | None):
        self.decode, self.op = decode, op
        self.refused: dict[int, HandleError] = {}

    def __call__(self, raw: bytes, now: int) -> list[Operation | Rejected]:
        ops = self.decode(raw, now) if self.op is None else self.decode(raw, self.op, now)
        self.refused = {n: o.error for n, o in enumerate(ops) if isinstance(o, Rejected)}
        return ops

    def reason(self, n: int, res: ItemResult, *, batch_item: bool) -> tuple[int, str]:
        """(status, message) of the refused item ``n`` of the service's batch result."""
        err = self.refused.get(n) or res.refusal or HandleError(RC.ERROR, "")
        return snms.reason(err, batch_item=batch_item)


async def _one(request: web.Request, op: str) -> web.Response:
    identity = await _caller(request)
    body = await _body(request, SMALL_BODY)
    decoder = _Decoder(snms.decode_record, op)
    out = await request.app[SERVICE].batch(Batch.encoded(body, decoder), identity, caller=caller_of(request))
    res = out.results[0]
    if res.ok:
        if op == "create" and res.result == "unchanged":
            # handle-operate.md: a second call after a 504 that answers "exists" means the first succeeded.
            return answer(snms.FAILURE, snms.EXISTS)
        return answer(snms.SUCCESS, snms.OK, True)
    return answer(*decoder.reason(0, res, batch_item=False))


async def register(request: web.Request) -> web.Response:
    return await _one(request, "create")


async def update(request: web.Request) -> web.Response:
    return await _one(request, "update")


async def delete(request: web.Request) -> web.Response:
    identity = await _caller(request)
    handle = snms.decode_delete(await _body(request, SMALL_BODY))
    await request.app[SERVICE].delete_handle(handle, identity, caller=caller_of(request))
    return answer(snms.SUCCESS, snms.OK, True)


async def detail(request: web.Request) -> web.Response:
    identity = await _caller(request)
    handle = request.query.get("handle")
    if not handle:
        raise snms.fail(snms.MISSING_PARAM + "handle", "handle")
    res = request.app[SERVICE].resolve(handle, identity=identity)
    return answer(snms.SUCCESS, snms.OK, snms.render_record(res.handle, res.values))


def _batch(op: str | None) -> Handler:
    decode = snms.decode_deletes if op is None else snms.decode_records

    async def batch(request: web.Request) -> web.Response:
        identity = await _caller(request)
        body = await _body(request)
        decoder = _Decoder(decode, op)
        out = await request.app[SERVICE].batch(Batch.encoded(body, decoder), identity, caller=caller_of(request))
        data = []
        for n, res in enumerate(out.results):
            item: dict = {"handle": res.handle}
            if res.ok and res.result != "absent":
                status, msg = snms.SUCCESS, snms.OK
            elif res.ok:  # a delete of a handle that is not there
                status, msg = snms.FAILURE, snms.ABSENT
            else:
                status, msg = decoder.reason(n, res, batch_item=True)
            if op is None:
                item["code"] = status
            item["msg"] = msg
            data.append(item)
        return answer(snms.SUCCESS, snms.OK, data)

    return route(batch)


# --- 数据模板 --------------------------------------------------------------------------------------

def _templates(v5: bool) -> dict[str, Handler]:
    async def get(request: web.Request) -> web.Response:
        await _caller(request)
        q = request.query
        for name in ("prefix", "version"):
            if not q.get(name):
                raise snms.fail(snms.MISSING_PARAM + name, name)
        tpl = request.app[SERVICE].get_template(q["prefix"], q["version"])
        return answer(snms.SUCCESS, snms.OK, tpls.to_snms(tpl, v5=v5))

    async def create(request: web.Request) -> web.Response:
        identity = await _caller(request)
        body = tpls.from_snms(snms.loads(await _body(request, SMALL_BODY)), v5=v5)
        await request.app[SERVICE].put_template(decode_publish(body), identity, caller=caller_of(request))
        return answer(snms.SUCCESS, snms.OK, True)

    async def revise(request: web.Request) -> web.Response:
        identity = await _caller(request)
        body = snms.loads(await _body(request, SMALL_BODY))
        top = tpls.from_snms(body, v5=True)  # checks the body before the writer sees it
        await request.app[SERVICE].revise_template(
            ReviseTemplate(top["prefix"], top["version"], lambda old: tpls.revise(old, body)), identity,
            caller=caller_of(request))
        return answer(snms.SUCCESS, snms.OK, True)

    async def delete(request: web.Request) -> web.Response:
        identity = await _caller(request)
        body = snms.loads(await _body(request, SMALL_BODY))
        if not isinstance(body, dict):
            raise snms.fail('请求体必须是 {"prefix", "version"}', "body")
        for name in ("prefix", "version"):
            if not isinstance(body.get(name), str) or not body[name]:
                raise snms.fail(snms.MISSING_PARAM + name, name)
        await request.app[SERVICE].delete_template(body["prefix"], body["version"], identity, caller=caller_of(request))
        return answer(snms.SUCCESS, snms.OK, True)

    out = {"GET": get, "POST": create, "DELETE": delete}
    if v5:
        out["PUT"] = revise
    return {m: route(h, template=True) for m, h in out.items()}


def add_routes(app: web.Application) -> None:
    try:
        # The key that seals secrets for the Handle protocol also serves the dated-digest login.
        app[SEALER] = Sealer.for_data(app[SERVICE].store.path)
    except OSError as e:  # a read-only data folder without a key yet: no dated-digest login here
        log.warning("no seal key (%s): /identity/token/v1 cannot log anyone in", e)
    r = app.router
    r.add_post("/identity/token", _login(dated=False))
    r.add_post("/identity/token/v1", _login(dated=True))
    for version in ("v3", "v5"):
        for method, handler in _templates(version == "v5").items():
            r.add_route(method, f"/snms/api/{version}/template", handler)
    r.add_get("/identityv2/data/detail", route(detail))
    r.add_post("/identityv2/data", route(register))
    r.add_put("/identityv2/data", route(update))
    r.add_delete("/identityv2/data", route(delete))
    r.add_post("/identityv2/data/batchCreate", _batch("create"))
    r.add_put("/identityv2/data/batchUpdate", _batch("update"))
    r.add_delete("/identityv2/data/batchDelete", _batch(None))
