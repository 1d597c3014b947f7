"""The Jinja2 environment that renders every page (autoescape on for all of them), and the language
and link helpers each page shares."""

from __future__ import annotations

from functools import cache
from urllib.parse import quote, urlencode

import jinja2
from aiohttp import web

from .i18n import Catalogue, pick


def path_part(text: object) -> str:
    """A handle or an identifier as a URL path: percent-encoded, its ``/`` and ``:`` kept as they read."""
    return quote(str(text), safe="/:@")


@cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("resolver.http.console", "templates"),
        autoescape=True,  # every page, whatever its file name: values are enterprise and caller data
        trim_blocks=True, lstrip_blocks=True)
    env.filters["path"] = path_part
    return env


LANG_COOKIE = "idn_lang"  # the reader's choice of the language link, kept for the next pages

# No script runs on any page, nothing is loaded from elsewhere, no page may be framed, forms post here.
CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; "
       "frame-ancestors 'none'; base-uri 'none'")


def catalogue(request: web.Request) -> Catalogue:
    return Catalogue(pick(request.headers.get("Accept-Language"),
                          request.query.get("lang") or request.cookies.get(LANG_COOKIE)))


def other_lang_url(request: web.Request, lang: str) -> str:
    """This page in the other language (``?lang=``, the other query parameters kept)."""
    query = [(k, v) for k, v in request.query.items() if k != "lang"]
    query.append(("lang", "en" if lang == "zh" else "zh"))
    return request.path + "?" + urlencode(query)


def render(request: web.Request, template: str, t: Catalogue, status: int = 200, **context: object) -> web.Response:
    html = environment().get_template(template).render(t=t, other_lang_url=other_lang_url(request, t.lang),
                                                       **context)
    resp = web.Response(text=html, status=status, content_type="text/html")
    secure_headers(resp, t)
    if request.query.get("lang") in ("zh", "en"):
        resp.set_cookie(LANG_COOKIE, t.lang, max_age=365 * 86400, path="/", samesite="Lax", httponly=True,
                        secure=request.secure)
    return resp


def secure_headers(resp: web.StreamResponse, t: Catalogue) -> None:
    resp.headers["Content-Language"] = "zh-CN" if t.lang == "zh" else "en"
    resp.headers["Vary"] = "Accept, Accept-Language, Cookie"
    resp.headers["Content-Security-Policy"] = CSP
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Referrer-Policy"] = "same-origin"
