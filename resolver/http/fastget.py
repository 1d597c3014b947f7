"""Anonymous resolution served before aiohttp's application layer: ``GET /api/handles/{h}`` and a
scanner's ``GET /{h}``, the node's largest load (issue 22).

``install`` puts ``FastGet`` in front of the handler aiohttp's server calls for every request. It
answers the plain shapes itself: GET, no query, no credentials, no ``Expect``, a path of plain ASCII
without percent-escapes or dot segments. Everything else (HEAD, ``?type=``, ``?index=``, a token,
a record page without a redirect, any other route) goes to the application as it did before, so the
fast answers need only be proven equal to the regular ones for the shapes they take (tests/test_fastget.py).

What it skips is aiohttp's application layer: the router's look-up, the middleware chain (the Handle
message middleware only looks at POSTs) and the per-route counting wrapper. What it keeps is every
check of the regular path, in the same order: the per-address rate limit, the service's resolution
(quotas, the counts for the top-level reports, federation and referrals) and the metrics.

Per record it keeps what the regular routes work out on every request: the ETag header (a digest
of the stored bytes) and the scanner's redirect target, on the record cache's entry for those stored
bytes (resolver/service/cache.py), so they share its bound and its key. The JSON values are the cache's own kept rendering; only
the handle as asked for is put around them per request (``handles.render``), so nothing is kept
twice. A write makes new stored bytes, the cache a new entry, and the kept answer no longer matches:
it is rebuilt on the next read, in every worker and whoever made the write.
"""

from __future__ import annotations

import os
import time
from collections.abc import Awaitable, Callable

from aiohttp import web
from yarl import URL

from protocol.codes import HandleError

from .. import metrics
from ..metrics import PROTOCOL_HTTP
from ..service.cache import HTTP, Resolution
from ..service.cache import JSON as VALUES
from .common import JSON, SERVICE, error_response
from .handles import render
from .monitoring import failed
from .scan import answer_page, refused_page, wants_json

API = "/api/handles/"
_API_LEN = len(API)
_perf = time.perf_counter
_record = metrics.record
_RESOLVED = (PROTOCOL_HTTP, "resolve", 200)
_PAGE = "resolve_page"  # the scanner route's name in the metrics (resolver/http/monitoring.py)
_REDIRECTED = (PROTOCOL_HTTP, _PAGE, 302)
_FOUND = b"302: Found"  # the body of aiohttp's HTTPFound, which the regular route raises
_TEXT = "text/plain; charset=utf-8"

Handler = Callable[[web.BaseRequest], Awaitable[web.StreamResponse]]


def plain_path(path: str) -> bool:
    """A path whose decoded form is itself and that routing takes as it is: no escapes, no dot or empty
    segments, plain ASCII (the regular route would see exactly these characters)."""
    return ("%" not in path and "/." not in path and "//" not in path and path.isascii()
            and path.isprintable())


def scanner_paths(app: web.Application) -> tuple[frozenset[str], list] | None:
    """What the router would send to the scanner's catch-all ``/{handle}``: the first path segments
    of the routes before it, and the patterns of those whose first segment varies. None when a route
    of an unknown kind is there: then every scanner path takes the regular route."""
    static: set[str] = set()
    patterns = []
    for resource in app.router.resources():
        canonical = resource.canonical
        if canonical == "/{handle}":
            break  # the catch-all: added last (resolver/http/scan.py)
        first = canonical[1:].split("/", 1)[0]
        if "{" not in first:
            static.add(first)
            continue
        pattern = resource.get_info().get("pattern")
        if pattern is None:
            return None
        patterns.append(pattern)
    else:
        return None
    return frozenset(static), patterns


class FastGet:
    """The request handler aiohttp's server calls; ``regular`` is the application's."""

    def __init__(self, app: web.Application, regular: Handler):
        self.regular = regular
        self.svc = app[SERVICE]
        self.scanner = scanner_paths(app)
        self._prefixes: dict[bytes, bytes] = {}  # the folded prefixes of the records answers were kept for
        self.front = None  # the HTTP front's answers (resolver/http/front.py), when it is installed

    async def __call__(self, request: web.BaseRequest) -> web.StreamResponse:
        if request.method == "GET" and not request.query_string:
            headers = request.headers
            if "Authorization" not in headers and "Expect" not in headers:
                path = request.path
                if path.startswith(API):
                    if len(path) > _API_LEN and plain_path(path):
                        resp = self.api(request, path[_API_LEN:])
                        return resp if resp is not None else await self.api_remote(request, path[_API_LEN:])
                elif self.scanner is not None and plain_path(path) and self._scanner_route(path):
                    return await self.scan(request, path[1:])
        return await self.regular(request)

    def _scanner_route(self, path: str) -> bool:
        cut = path.find("/", 1)
        if cut < 0:
            return False  # one segment: a named route or a compressed Digital Link, never a handle
        static, patterns = self.scanner
        if path[1:cut] in static:
            return False
        return not any(p.fullmatch(path) for p in patterns)

    def _kept(self, res: Resolution) -> tuple[str, str]:
        """The ETag header and the redirect target, kept on the record cache's entry for these stored bytes."""
        kept = res.http_kept()
        if kept is not None:
            return kept
        target = ""
        for v in res.values:  # as resolver/http/scan.py picks it
            if v.type.upper() == "URL":
                t = v.data.decode("utf-8", "replace")
                if t.lower().startswith(("http://", "https://")):
                    target = str(URL(t))  # as HTTPFound writes it
                    break
        etag = f'"{res.version}"'
        res.remember_http(etag, target)
        return etag, target

    def api(self, request: web.BaseRequest, handle: str) -> web.Response | None:
        """``resolver/http/handles.get_handle`` for an anonymous request without a query; None for a
        handle another site serves (``api_remote`` asks it)."""
        return self.api_response(handle, request.remote, _perf(), request)

    def api_response(self, handle: str, remote: str | None, t0: float, request: object) -> web.Response | None:
        """``api`` for a client at ``remote`` whose request came at ``t0``; ``request`` only needs the
        ``path_qs`` an answer pointing elsewhere puts in its Location (the HTTP front passes its own)."""
        svc = self.svc
        if not svc.limits.per_address.admit(remote, t0):
            resp = error_response(svc.limits.address_refusal(remote), handle)
            _record((PROTOCOL_HTTP, "resolve", resp.status), _perf() - t0)
            return resp
        try:
            res = svc.resolve(handle, client=remote, t0=t0)
            if res.__class__ is not Resolution:  # an answer another node gave, kept by this one
                resp = web.Response(body=render(res, False), content_type=JSON)
            else:
                body = render(res, False)
                resp = web.Response(body=body, headers={"Content-Type": JSON, "ETag": self._kept(res)[0]})
                if res.entry[HTTP] is None:
                    self.keep_answers(res, resp)
        except HandleError as e:
            if svc.served_elsewhere(e):
                return None
            resp = error_response(e, handle, request)  # type: ignore[arg-type]
            _record((PROTOCOL_HTTP, "resolve", resp.status), _perf() - t0)
            return resp
        except Exception:
            _record((PROTOCOL_HTTP, "resolve", 500), _perf() - t0)
            raise
        _record(_RESOLVED, _perf() - t0)
        return resp

    def keep_answers(self, res: Resolution, api: web.Response | None = None) -> tuple:
        """The whole answers the HTTP front writes for this record (resolver/http/front.py), kept on the
        record cache's entry: (the handle as spelled in the API answer, the folded prefix, the API
        answer's head without Date and Server, its body in three parts: what comes before the values,
        the values and ``}``, the scanner's redirect head or None when the record has no redirect).
        ``res`` is an anonymous, unfiltered resolution."""
        from .front import encode

        etag, target = self._kept(res)
        if api is None:
            api = web.Response(body=render(res, False), headers={"Content-Type": JSON, "ETag": etag})
        head, body = encode(api)
        # The body is ``pre + values + b"}"``, values being the rendering kept on the entry: refer to
        # it rather than keep it twice.
        values = res.entry[VALUES]
        pre = body[:-len(values) - 1] if values is not None and body.endswith(values + b"}") else body
        if pre is body:
            values = b""
            pre = body[:-1]
        scan = None
        if target:
            scan = encode(web.Response(status=302, body=_FOUND, headers={"Content-Type": _TEXT, "Location": target}))[0]
        k = res.key
        p = k[:k.index(b"/")]
        p = self._prefixes.setdefault(p, p)  # one object per prefix, not one per record (prefixes are few)
        answers = (res.handle, p, head, pre, values, scan)
        res.entry = self.svc.cache.remember_answers(k, res.entry, answers)
        return answers

    def prepare(self, handle: str, k: bytes, raw: bytes) -> tuple:
        """The kept answers for ``handle`` (stored as ``raw`` under ``k``), made now when they are not
        kept yet: what ``resolve`` gives an anonymous client (public values only), without its
        admission or counting (the caller does those)."""
        svc = self.svc
        entry, record = svc.cache.get(k, raw)
        if entry[HTTP] is not None:
            return entry[HTTP]
        res = Resolution(handle, k, entry, svc.cache, record, None, None, False)
        return self.keep_answers(res)

    def plain(self, path: str) -> bool:
        return plain_path(path)

    async def api_remote(self, request: web.BaseRequest, handle: str) -> web.Response:
        t0 = _perf()
        try:
            res = await self.svc.resolve_remote(handle)
            resp = web.Response(body=render(res, False), content_type=JSON)
        except HandleError as e:
            resp = error_response(e, handle, request)
        except Exception:
            _record((PROTOCOL_HTTP, "resolve", 500), _perf() - t0)
            raise
        _record((PROTOCOL_HTTP, "resolve", resp.status), _perf() - t0)
        return resp

    async def scan(self, request: web.BaseRequest, handle: str) -> web.StreamResponse:
        """``resolver/http/scan.proxy`` with the counting ``monitoring.counted`` gives it."""
        t0 = _perf()
        svc = self.svc
        remote = request.remote
        if not svc.limits.per_address.admit(remote, t0):
            resp = error_response(svc.limits.address_refusal(remote))
            _record((PROTOCOL_HTTP, _PAGE, resp.status), _perf() - t0)
            return resp
        as_json = wants_json(request)
        try:
            try:
                res = svc.resolve(handle, client=remote, t0=t0)
            except HandleError as e:
                if not svc.served_elsewhere(e):
                    resp = refused_page(request, e, handle, as_json)
                    _record((PROTOCOL_HTTP, _PAGE, resp.status), _perf() - t0)
                    return resp
                res = await svc.resolve_remote(handle)
            if res.__class__ is Resolution:
                if as_json:
                    resp = web.Response(body=render(res, False), headers={"Content-Type": JSON})
                    _record((PROTOCOL_HTTP, _PAGE, 200), _perf() - t0)
                    return resp
                target = self._kept(res)[1]
                if res.entry[HTTP] is None and not res.indexes and not res.types:
                    self.keep_answers(res)
                if target:
                    resp = web.Response(status=302, body=_FOUND, headers={"Content-Type": _TEXT, "Location": target})
                    _record(_REDIRECTED, _perf() - t0)
                    return resp
            resp = answer_page(request, svc, res, as_json, None, None)
        except web.HTTPException as e:
            _record((PROTOCOL_HTTP, _PAGE, e.status), _perf() - t0)
            raise
        except Exception:
            _record((PROTOCOL_HTTP, _PAGE, 500), _perf() - t0)
            return failed(request, _PAGE)
        _record((PROTOCOL_HTTP, _PAGE, resp.status), _perf() - t0)
        return resp


def install(server: web.Server, app: web.Application) -> FastGet | None:
    """Serve the plain resolutions of ``app`` before its application layer, on the server a runner
    made; not when ``IDNODE_FAST_GET=off`` (every request then takes the application's routes). Unless
    ``IDNODE_HTTP_FRONT=off``, the HTTP front (resolver/http/front.py) also goes before aiohttp's protocol."""
    if os.environ.get("IDNODE_FAST_GET", "").lower() in ("off", "0", "no", "false"):
        return None
    fast = FastGet(app, server.request_handler)
    server.request_handler = fast
    if os.environ.get("IDNODE_HTTP_FRONT", "").lower() not in ("off", "0", "no", "false"):
        from .front import FrontAnswers, fronted

        fast.front = FrontAnswers(fast)
        fronted(server, fast.front)
    return fast
