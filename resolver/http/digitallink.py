"""A GS1-Conformant resolver (GS1-Conformant Resolver standard 1.x) on the node's own paths.

``GET|HEAD|OPTIONS /01/{gtin}[/10/{lot}][/21/{serial}]``, ``/00/{sscc}``, ``/414/{gln}[/254/…]`` and every
other primary key with its qualifiers (short names such as ``/gtin/`` too), answered from the records
that carry the key (resolver/service/digitallink.py):

- redirect (307) to the default link; ``?linkType=gs1:pip`` to a link of that type (404 if none);
  the item's links first, then its lot's, then its product's; the query string passed on;
- the linkset (RFC 9264, ``application/linkset+json``) on ``?linkType=linkset`` (or ``all``) or
  ``Accept: application/linkset+json``; every answer links to it (``Link: …; rel="linkset"``);
- 400 naming the problem for a URI that does not parse (a wrong check digit included);
- CORS on every answer; ``/.well-known/gs1resolver`` describes the resolver;
- compressed Digital Links (``/ARFKk4XBoA``, or ``/01/{gtin}/{segment}``) are decompressed
  (protocol/dl_compression.py) and answered as their uncompressed form, which ``Link: <…>;
  rel="owl:sameAs"`` names; one that does not decode is a 400 with the reason.

Precedence with handles: ``/{prefix}/{suffix}`` is a handle whenever this node serves ``prefix``.
Handle prefixes here are dotted (``88.101.5``) and GS1 AIs are bare digits, so the two meet only if
the node serves a prefix named like an AI (``/01/…`` with prefix ``01``): then the handle wins.
"""

from __future__ import annotations

from urllib.parse import urlencode

import orjson
from aiohttp import web

from protocol import digitallink as dl
from protocol import dl_compression as dlc
from protocol.codes import RC, HandleError

from ..service.digitallink import digital_link_records, serves_prefix
from .common import SERVICE
from .scan import proxy

LINKSET = "application/linkset+json"
CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": "GET, HEAD, OPTIONS",
    "Access-Control-Allow-Headers": "Accept, Accept-Language, Content-Type",
    "Access-Control-Expose-Headers": "Link, Location, Content-Type",
}
CONTEXT_PATH = "/.well-known/gs1resolver/linkset-context.jsonld"
_ROUTE_KEYS = "|".join(sorted(set(dl.PRIMARY_KEYS) | {k for k, v in dl.SHORT_NAMES.items() if v in dl.PRIMARY_KEYS},
                              key=len, reverse=True))


def _base(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"


def _answer(status: int, body: dict | None = None, content_type: str = "application/json",
            headers: dict | None = None) -> web.Response:
    resp = web.Response(status=status, body=orjson.dumps(body) if body is not None else None,
                        content_type=content_type if body is not None else None)
    resp.headers.update(CORS)
    resp.headers.update(headers or {})
    return resp


def _error(status: int, message: str, rc: int = RC.INVALID_VALUE) -> web.Response:
    return _answer(status, {"responseCode": rc, "message": message})


def _wants_linkset(request: web.Request, lt: str | None) -> bool:
    if lt in ("linkset", "all"):
        return True
    return lt is None and LINKSET in request.headers.get("Accept", "")


async def resolve(request: web.Request) -> web.StreamResponse:
    first = request.match_info["ai"]
    path = f"{first}/{request.match_info['rest']}"
    if request.method == "OPTIONS":
        return _options(request, path)
    if serves_prefix(request.app[SERVICE], first):  # a handle under a prefix named like an AI: the handle wins
        request.match_info["handle"] = path
        return await proxy(request)
    return _resolve_path(request, path)


async def resolve_compressed(request: web.Request) -> web.StreamResponse:
    """``/{segment}``: a fully compressed Digital Link (one URI-safe base64 segment)."""
    if request.method == "OPTIONS":
        return _options(request, request.match_info["compressed"])
    return _resolve_path(request, request.match_info["compressed"])


def _options(request: web.Request, path: str) -> web.Response:
    """204 with the methods, and (for a path that parses) the same Link to the linkset a GET gets."""
    headers = {"Allow": "GET, HEAD, OPTIONS"}
    try:
        plain = _uncompressed(path)
        req = dl.parse(plain.path if plain else path)
    except HandleError:
        return _answer(204, headers=headers)
    base = _base(request)
    links = [f'<{base}{req.path}?linkType=linkset>; rel="linkset"; type="{LINKSET}"']
    if plain is not None:
        links.append(f'<{plain.uri(base)}>; rel="owl:sameAs"')
    return _answer(204, headers={**headers, "Link": ", ".join(links)})


def _uncompressed(path: str) -> dlc.Decompressed | None:
    """The uncompressed form of a compressed path; None for a path that is not compressed."""
    if not dlc.is_compressed_path(path):
        return None
    try:
        return dlc.decompress(path)
    except HandleError as e:
        if path.strip("/").count("/") == 2:  # /01/{gtin}/{x}: an uncompressed Digital Link comes in pairs
            raise HandleError(e.rc, f"expected an even number of path segments, or a {e.message}",
                              status=400, field="path") from None
        raise


def _resolve_path(request: web.Request, path: str) -> web.StreamResponse:
    svc = request.app[SERVICE]
    base = _base(request)
    query = [(k, v) for k, v in request.query.items() if k not in ("linkType", "context")]
    try:
        plain = _uncompressed(path)
        if plain is not None:
            path = plain.path
            query = plain.query + [kv for kv in query if kv not in plain.query]
        req = dl.parse(path)
    except HandleError as e:
        return _error(400, f"not a GS1 Digital Link URI: {e.message}")
    linkset_url = f"{base}{req.path}?linkType=linkset"
    links = [f'<{linkset_url}>; rel="linkset"; type="{LINKSET}"']
    if plain is not None:  # the standard's way to name the uncompressed URI a compressed one stands for
        links.append(f'<{plain.uri(base)}>; rel="owl:sameAs"')
    found = digital_link_records(svc, req)
    if not found:
        return _error404(f"no record on this node carries {req.key}", links[1:])
    lt = request.query.get("linkType")
    if _wants_linkset(request, lt):
        body = dl.linkset([(base + k[len(dl.GS1_HOST):], handle, ls) for k, handle, ls in found])
        ctx = f'<{base}{CONTEXT_PATH}>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'
        return _answer(200, body, LINKSET, {"Link": ", ".join([ctx, *links[1:]])})
    wanted = dl.DEFAULT if lt is None else dl.link_type(lt)
    if wanted is None:
        return _error(400, f"linkType {lt!r} is not a GS1 Web Vocabulary link type (gs1:pip, …) or linkset")
    for _, handle, ls in found:  # the most specific level that has a link of the type answers
        of_type = [link for link in ls if link.rel == wanted]
        if of_type:
            target = dl.choose(of_type, dl.accept_languages(request.headers.get("Accept-Language", "")),
                               dl.accept_media_types(request.headers.get("Accept", "")), request.query.get("context"))
            if isinstance(target, list):  # links nothing in the request tells apart: the client chooses
                body = dl.linkset([(f"{base}{req.path}", handle, target)])
                return _answer(300, body, LINKSET, {"Link": ", ".join(links)})
            href = target.href + (("&" if "?" in target.href else "?") + urlencode(query) if query else "")
            return _answer(307, headers={"Location": href, "Link": ", ".join(links)})
    what = "a default link" if lt is None else f"a link of type gs1:{wanted}"
    return _error404(f"no record for {req.key} or the levels above it has {what}", links[1:])


def _error404(message: str, links: list[str]) -> web.Response:
    resp = _error(404, message, RC.HANDLE_NOT_FOUND)
    if links:
        resp.headers["Link"] = ", ".join(links)
    return resp


async def description(request: web.Request) -> web.Response:
    """The resolver description file (GS1-Conformant Resolver standard, section 'Resolver description file')."""
    base = _base(request)
    return _answer(200, {
        "name": "idnode GS1 Digital Link resolver",
        "resolverRoot": base,
        "supportedPrimaryKeys": list(dl.PRIMARY_KEYS),
        "linkTypeDefaultCanBeLinkset": False,
        "supportedLinkType": [{"namespace": dl.VOC, "prefix": "gs1:", "profile": "https://gs1.org/voc/?show=linktypes"}],
        "jsonLdContextLocation": base + CONTEXT_PATH,
    })


async def linkset_context(request: web.Request) -> web.Response:
    """A JSON-LD context that reads a linkset as RDF (the GS1 vocabulary's link types as IRIs)."""
    return _answer(200, {"@context": {"gs1": dl.VOC, "anchor": "@id", "href": "@id", "linkset": "@graph",
                                      "title": "http://purl.org/dc/terms/title",
                                      "hreflang": "http://purl.org/dc/terms/language",
                                      "type": "http://purl.org/dc/terms/format"}}, "application/ld+json")


async def options_anywhere(request: web.Request) -> web.Response:
    return _answer(204, headers={"Allow": "GET, HEAD, OPTIONS"})


def add_routes(app: web.Application) -> None:
    """Before the handle catch-all (resolver/http/scan.py): these paths start with a GS1 primary key."""
    pattern = f"/{{ai:(?:{_ROUTE_KEYS})}}/{{rest:.+}}"
    app.router.add_get("/.well-known/gs1resolver", description)
    app.router.add_get(CONTEXT_PATH, linkset_context)
    app.router.add_route("OPTIONS", "/.well-known/gs1resolver", options_anywhere)
    app.router.add_get(pattern, resolve)
    app.router.add_route("OPTIONS", pattern, resolve)
    # One segment of URI-safe base64: a compressed Digital Link. Named routes (/scan, /metrics…) are
    # matched before it; handles always hold a "/" and never reach it.
    compressed = "/{compressed:[A-Za-z0-9_-]+}"
    app.router.add_get(compressed, resolve_compressed)
    app.router.add_route("OPTIONS", compressed, resolve_compressed)
