"""GS1 Digital Link URIs as a GS1-Conformant resolver reads them, and the links it answers with.

Sans-IO: a request path in, the keys to look up (most specific first) out; a record's values in,
its links out; links in, an RFC 9264 linkset out. The HTTP adapter is resolver/http/digitallink.py.

How a record carries its links (the node's convention, documented in the README):
- its ``URL`` value is the default link (``gs1:defaultLink``), titled with the handle;
- a value whose type is a GS1 Web Vocabulary link type (``gs1:pip``, ``gs1:certificationInfo``,
  ``gs1:recallStatus``…; also written in full, ``https://gs1.org/voc/pip``) is a link of that type.
  Its data is the target URL, or a JSON object ``{"href": URL, "title": "…", "hreflang": ["en"],
  "type": "text/html", "context": ["…"]}`` (only ``href`` is required; ``context`` a string or a list of
  strings); a value of type
  ``gs1:defaultLink`` replaces the ``URL`` value as the default. Targets are http(s) URLs; a value
  that is none of these is not a link and is left out.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from .codes import RC, HandleError
from .gs1 import gs1_key, identity

GS1_HOST = "https://id.gs1.org"
VOC = "https://gs1.org/voc/"
_VOC_SPELLINGS = ("https://gs1.org/voc/", "http://gs1.org/voc/", "https://ref.gs1.org/voc/", "https://www.gs1.org/voc/")
DEFAULT = "defaultLink"
# Primary keys (AI) and their short names (GS1 Digital Link 1.x), with the qualifiers each may carry.
PRIMARY_KEYS = ("01", "00", "414", "417", "8003", "8004", "8006", "8010", "8013", "8017", "8018", "253", "255",
                "401", "402")
SHORT_NAMES = {"gtin": "01", "sscc": "00", "gln": "414", "party": "417", "grai": "8003", "giai": "8004",
               "itip": "8006", "cpid": "8010", "gmn": "8013", "gsrnp": "8017", "gsrn": "8018", "gdti": "253",
               "gcn": "255", "ginc": "401", "gsin": "402", "cpv": "22", "lot": "10", "ser": "21", "glnx": "254"}
_MEDIA_TYPE = re.compile(r"[A-Za-z0-9][\w!#$&^.+-]{0,126}/[A-Za-z0-9][\w!#$&^.+-]{0,126}")
MAX_PATH = 512  # no Digital Link is longer; a longer path is refused before it is parsed


def _bad(reason: str) -> HandleError:
    return HandleError(RC.INVALID_VALUE, reason, status=400, field="path")


def is_digital_link_path(path: str) -> bool:
    """Does the path start like a Digital Link (a primary key's AI or short name, then a value)?"""
    segs = path.strip("/").split("/")
    return len(segs) >= 2 and (segs[0] in PRIMARY_KEYS or SHORT_NAMES.get(segs[0]) in PRIMARY_KEYS)


@dataclass(slots=True)
class Request:
    """A parsed Digital Link: its canonical key and the keys whose links answer it, item first."""

    key: str  # https://id.gs1.org/01/…/10/…/21/…
    path: str  # /01/…/10/…/21/… (canonical, the anchor's path)
    levels: list[str] = field(default_factory=list)


def parse(path: str) -> Request:
    """A request path as a Digital Link; a 400 HandleError naming what is wrong (check digit included)."""
    if len(path) > MAX_PATH:
        raise _bad(f"a GS1 Digital Link path is at most {MAX_PATH} characters")
    segs = path.strip("/").split("/")  # trailing slashes tolerated
    segs = [SHORT_NAMES.get(s, s) if i % 2 == 0 else s for i, s in enumerate(segs)]
    try:
        key = gs1_key(GS1_HOST + "/" + "/".join(segs))
    except HandleError as e:
        raise _bad(e.message) from None
    return Request(key, key[len(GS1_HOST):], levels(key))


def levels(key: str) -> list[str]:
    """The keys whose links answer ``key``, most specific first: the key, the item it names (a GTIN's
    serial without its lot), each level up (the lot, then the product), the primary key last."""
    parts = key[len(GS1_HOST) + 1:].split("/")
    pairs = list(zip(parts[::2], parts[1::2], strict=True))
    primary = f"{GS1_HOST}/{pairs[0][0]}/{pairs[0][1]}"
    ups = [GS1_HOST + "".join(f"/{a}/{v}" for a, v in pairs[:n]) for n in range(len(pairs) - 1, 1, -1)]
    lot = dict(pairs[1:]).get("10") if pairs[0][0] == "01" else None
    out = [key, identity(key), *ups, *([f"{primary}/10/{lot}"] if lot else []), primary]
    return list(dict.fromkeys(out))


def link_type(text: str) -> str | None:
    """A link type as its GS1 Web Vocabulary name (``pip`` for ``gs1:pip`` or its URI), else None."""
    t = text.strip()
    if t.startswith("gs1:"):
        name = t[4:]
    else:
        name = next((t[len(s):] for s in _VOC_SPELLINGS if t.startswith(s)), "")
    return name if name and name.replace("_", "").isalnum() else None


@dataclass(slots=True)
class Link:
    rel: str  # the vocabulary name: pip, certificationInfo, defaultLink…
    href: str
    title: str
    hreflang: list[str] = field(default_factory=list)
    type: str | None = None
    context: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        out: dict = {"href": self.href, "title": self.title}
        if self.hreflang:
            out["hreflang"] = self.hreflang
        if self.type:
            out["type"] = self.type
        if self.context:
            out["context"] = self.context
        return out


def _http(url: object) -> bool:
    return isinstance(url, str) and url.startswith(("http://", "https://")) and " " not in url


def _link(rel: str, data: str, title: str) -> Link | None:
    text = data.strip()
    if text.startswith("{"):
        try:
            obj = json.loads(text)
        except ValueError:
            return None
        if not isinstance(obj, dict) or not _http(obj.get("href")):
            return None
        langs = obj.get("hreflang") or []
        langs = [langs] if isinstance(langs, str) else [x for x in langs if isinstance(x, str)]
        t = obj.get("title")
        mt = obj.get("type")
        ctx = obj.get("context") or []
        ctx = [ctx] if isinstance(ctx, str) else [x for x in ctx if isinstance(x, str)] if isinstance(ctx, list) else []
        media = mt if isinstance(mt, str) and _MEDIA_TYPE.fullmatch(mt) else None  # type/subtype, as IANA writes them
        return Link(rel, obj["href"], t if isinstance(t, str) and t else title, langs, media, ctx)
    return Link(rel, text, title) if _http(text) else None


def record_links(handle: str, values: list[tuple[str, str]]) -> list[Link]:
    """A record's links from its (type, data) values: the default first, then the typed ones."""
    from_url: Link | None = None
    declared: Link | None = None
    typed: list[Link] = []
    for vtype, data in values:
        if vtype.upper() == "URL":
            from_url = from_url or _link(DEFAULT, data, handle)
            continue
        rel = link_type(vtype)
        link = _link(rel, data, f"{rel} of {handle}") if rel else None
        if link is None:
            continue
        if rel == DEFAULT:  # the default carries a title and no optional attributes
            declared = declared or Link(DEFAULT, link.href, link.title)
        else:
            typed.append(link)
    default = declared or from_url
    return ([default] if default else []) + typed


def linkset(anchors: list[tuple[str, str, list[Link]]]) -> dict:
    """RFC 9264 JSON from ``(anchor, description, links)``: one context object per anchor, relation
    types as GS1 Web Vocabulary URIs, and the ``itemDescription`` GS1's linkset schema requires."""
    out = []
    for anchor, description, links in anchors:
        ctx: dict = {"anchor": anchor, "itemDescription": description}
        for link in links:
            ctx.setdefault(VOC + link.rel, []).append(link.to_json())
        out.append(ctx)
    return {"linkset": out}


def _lang_match(link: Link, lang: str) -> bool:
    return any(h.lower() == lang or h.lower().split("-")[0] == lang.split("-")[0] for h in link.hreflang)


def _attrs(link: Link) -> tuple:
    return link.type, tuple(h.lower() for h in link.hreflang), tuple(link.context)


def choose(links: list[Link], languages: list[str], media_types: list[str] | None = None,
           context: str | None = None) -> Link | list[Link]:
    """Among links of one type, the best match for the request: the ``context`` asked for, then the
    first language the client accepts, then a media type it accepts (each applied only when some link
    matches it), else the first. When the best match has a twin with the same attributes (type,
    languages, context) nothing in the request can tell them apart: all such links are returned, for
    a 300 Multiple Choices."""
    out = links
    if context is not None:
        out = [x for x in out if context in x.context] or out
    for lang in languages:
        hit = [x for x in out if _lang_match(x, lang)]
        if hit:
            out = hit
            break
    for mt in media_types or []:
        hit = [x for x in out if x.type and x.type.lower() == mt]
        if hit:
            out = hit
            break
    best = out[0]
    twins = [x for x in out if _attrs(x) == _attrs(best)]
    return twins if len(twins) > 1 else best


def accept_media_types(header: str) -> list[str]:
    """Accept as exact media types in the client's order of preference (wildcards and q=0 dropped)."""
    out = []
    for n, part in enumerate(header.split(",")[:20]):
        mt, _, params = part.strip().partition(";")
        q = 1.0
        for p in params.split(";"):
            if p.strip().startswith("q="):
                try:
                    q = float(p.strip()[2:])
                except ValueError:
                    q = 0.0
        mt = mt.strip().lower()
        if _MEDIA_TYPE.fullmatch(mt) and "*" not in mt and q > 0:
            out.append((-q, n, mt))
    return [mt for _, _, mt in sorted(out)]


def accept_languages(header: str) -> list[str]:
    """Accept-Language as languages in the client's order of preference (q=0 dropped)."""
    out = []
    for n, part in enumerate(header.split(",")[:20]):
        lang, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        if lang and lang != "*" and q > 0:
            out.append((-q, n, lang.lower()))
    return [lang for _, _, lang in sorted(out)]
