"""Identifiers in EPCIS events, in one canonical spelling so that any spelling of an item finds it.

- GS1 keys (EPC URNs such as ``urn:epc:id:sgtin:…`` and GS1 Digital Link URIs on any host) become
  the canonical Digital Link ``https://id.gs1.org/<AI>/<key>[/<qualifier AI>/<value>…]``, without
  data attributes (the query string), as the CBV 2.0 event hash normalises them. Digital Link
  URIs are parsed with biip, which checks the key's check digit.
- Handles (``88.101.5/X``, ``hdl:88.101.5/X``, a resolver URL carrying one such as
  ``https://node/88.101.5/X`` or ``…/api/handles/88.101.5/X``) become ``hdl:<handle>`` with the
  prefix and suffix folded as the Handle System compares them.
- Anything else (another URI) is kept as sent, trimmed.
"""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import unquote, urlsplit

from .handles import fold

GS1_HOST = "https://id.gs1.org"
_HANDLE = re.compile(r"^[0-9A-Za-z][0-9A-Za-z.\-_]*(?:\.[0-9A-Za-z\-_]+)*/.+$")
_RESOLVER_LEADS = ("api/handles/", "trace/", "api/trace/")


def check_digit(digits: str) -> str:
    """The GS1 mod-10 check digit for ``digits`` (a key without its check digit)."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits)))
    return str((10 - total % 10) % 10)


def _gtin(company: str, item_ref: str) -> str:
    body = item_ref[:1] + company + item_ref[1:]
    return body + check_digit(body)


def epc_urn_to_dl(urn: str) -> str | None:
    """An EPC pure-identity / class URN as a canonical Digital Link, or None for schemes not mapped."""
    parts = urn.split(":")
    if len(parts) != 5 or parts[0].lower() != "urn" or parts[1].lower() != "epc":
        return None
    kind, scheme, body = parts[2].lower(), parts[3].lower(), parts[4]
    f = body.split(".")
    try:
        if kind == "id" and scheme == "sgtin" and len(f) == 3:
            return f"{GS1_HOST}/01/{_gtin(f[0], f[1])}/21/{f[2]}"
        if kind == "id" and scheme == "sscc" and len(f) == 2:
            body14 = f[1][:1] + f[0] + f[1][1:]
            return f"{GS1_HOST}/00/{body14 + check_digit(body14)}"
        if kind == "id" and scheme == "sgln" and len(f) == 3:
            gln = f[0] + f[1] + check_digit(f[0] + f[1])
            return f"{GS1_HOST}/414/{gln}" + (f"/254/{f[2]}" if f[2] != "0" else "")
        if kind == "id" and scheme == "grai" and len(f) == 3:
            body12 = "0" + f[0] + f[1]
            return f"{GS1_HOST}/8003/{body12 + check_digit(body12)}{f[2]}"
        if kind == "id" and scheme == "giai" and len(f) == 2:
            return f"{GS1_HOST}/8004/{f[0]}{f[1]}"
        if kind == "class" and scheme == "lgtin" and len(f) == 3:
            return f"{GS1_HOST}/01/{_gtin(f[0], f[1])}/10/{f[2]}"
        if kind == "idpat" and scheme == "sgtin" and len(f) == 3 and f[2] == "*":
            return f"{GS1_HOST}/01/{_gtin(f[0], f[1])}"
    except ValueError:
        return None
    return None


def _digital_link(uri: str) -> str | None:
    try:
        from biip.gs1_digital_link_uris import GS1DigitalLinkURI
    except ImportError:  # pragma: no cover - biip is a dependency
        return None
    try:
        canonical = GS1DigitalLinkURI.parse(uri).as_canonical_uri()
    except Exception:  # biip's ParseError and friends: not a Digital Link
        return None
    return canonical.split("?", 1)[0]


def handle_in_url(path: str) -> str | None:
    """The handle a resolver URL's path carries (``/88.101.5/X``, ``/api/handles/88.101.5/X``…), else None."""
    path = unquote(path).lstrip("/")
    for lead in _RESOLVER_LEADS:
        if path.startswith(lead):
            path = path[len(lead):]
            break
    return path if _HANDLE.match(path) and "." in path.split("/", 1)[0] else None


@lru_cache(maxsize=65536)
def canonical(ident: str) -> str:
    """The one spelling under which an identifier is indexed and compared."""
    text = ident.strip()
    low = text.lower()
    if low.startswith("urn:epc:"):
        return epc_urn_to_dl(text) or text
    if low.startswith("hdl:"):
        return "hdl:" + fold(text[4:])
    if low.startswith(("http://", "https://")):
        dl = _digital_link(text)
        if dl is not None:
            return dl
        handle = handle_in_url(urlsplit(text).path)
        if handle is not None:
            return "hdl:" + fold(handle)
        return text
    if ":" not in text.split("/", 1)[0] and _HANDLE.match(text):
        return "hdl:" + fold(text)
    return text


def display_handle(canon: str) -> str | None:
    """The handle a canonical ``hdl:`` identifier names, else None."""
    return canon[4:] if canon.startswith("hdl:") else None
