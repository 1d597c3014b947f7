"""A GS1-Conformant resolver (GS1-Conformant Resolver standard 1.x) on the node's own paths.

``GET|HEAD|OPTIONS /01/{gtin}[/10/{lot}][/21/{serial}]``, ``/00/{sscc}``, ``/414/{gln}[/254/…]`` and every
other primary key with its qualifiers (short names such as ``/gtin/`` too), answered from the records
that carry the key (resolver/service/digitallink.py):

- redirect (307) to the default link; ``?linkType=gs1:pip`` to a link of that type (404 if none);
  the item's links first, then its lot's, then its product's; the query string passed on;
- the linkset (RFC 9264, ``application/linkset+json``) on ``?linkType=linkset`` (or ``all``) or
  ``Accept: application/linkset+json``; every answer links to it (``Link: …; rel="linkset"``);
- 400 naming the problem for a URI that does not parse (a wrong check digit included);
- CORS on every answer; ``/.well-known/gs1resolver`` describes the resolver.

Precedence with handles: ``/{prefix}/{suffix}`` is a handle whenever this node serves ``prefix``.
Handle prefixes here are dotted (``88.101.5``) and GS1 AIs are bare digits, so the two meet only if
the node serves a prefix named like an AI (``/01/…`` with prefix ``01``): then the handle wins.
"""

from __future__ import annotations

from urllib.parse import urlencode

import orjson
from aiohttp import web

from protocol import digitallink as dl
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
    svc = request.app[SERVICE]
    if request.method == "OPTIONS":
        return _answer(204, headers={"Allow": "GET, HEAD, OPTIONS"})
    if serves_prefix(svc, first):  # a handle under a prefix named like an AI: the handle wins
        request.match_info["handle"] = path
        return await proxy(request)
    try:
        req = dl.parse(path)
    except HandleError as e:
        return _error(400, f"not a GS1 Digital Link URI: {e.message}")
    base = _base(request)
    linkset_url = f"{base}{req.path}?linkType=linkset"
    link_header = f'<{linkset_url}>; rel="linkset"; type="{LINKSET}"'
    found = digital_link_records(svc, req)
    if not found:
        return _error(404, f"no record on this node carries {req.key}", RC.HANDLE_NOT_FOUND)
    lt = request.query.get("linkType")
    if _wants_linkset(request, lt):
        body = dl.linkset([(base + k[len(dl.GS1_HOST):], links) for k, _, links in found])
        return _answer(200, body, LINKSET, {
            "Link": f'<{base}{CONTEXT_PATH}>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"'})
    wanted = dl.DEFAULT if lt is None else dl.link_type(lt)
    if wanted is None:
        return _error(400, f"linkType {lt!r} is not a GS1 Web Vocabulary link type (gs1:pip, …) or linkset")
    for _, _, links in found:  # the most specific level that has a link of the type answers
        of_type = [link for link in links if link.rel == wanted]
        if of_type:
            target = dl.pick(of_type, dl.accept_languages(request.headers.get("Accept-Language", "")))
            query = [(k, v) for k, v in request.query.items() if k != "linkType"]
            href = target.href + (("&" if "?" in target.href else "?") + urlencode(query) if query else "")
            return _answer(307, headers={"Location": href, "Link": link_header})
    what = "a default link" if lt is None else f"a link of type gs1:{wanted}"
    return _error(404, f"no record for {req.key} or the levels above it has {what}", RC.HANDLE_NOT_FOUND)


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
