"""``idnode label``: a QR code that scans back to this node, for a nameplate or a pack.

The code holds the node's resolver URL for the handle (``http://host:port/<handle>``): a phone's camera
opens it and the node answers as ``GET /{handle}`` does (the record's URL, or its page); a scanner
that hands the text to ``/scan`` finds the handle in it. Error correction level M (15% of the symbol
may be lost) suits a printed label; segno picks the smallest version that holds the URL.
"""

from __future__ import annotations

import ipaddress
import sys
from pathlib import Path
from urllib.parse import quote, urlsplit

import segno

from protocol.handles import split, strip_scheme

from .config import Config, host_port

FORMATS = (".png", ".svg")
ERROR_LEVEL = "m"


def base_url(cfg: Config) -> str:
    """The node's own address as the configuration gives it: HTTPS when it serves HTTPS, the advertised
    address for a listener on every address (loopback when none is advertised)."""
    scheme, (host, port) = ("https", host_port(cfg.https, 8443)) if cfg.https else ("http", host_port(cfg.http, 8000))
    try:
        if ipaddress.ip_address(host).is_unspecified:
            host = cfg.advertise or "127.0.0.1"
    except ValueError:
        pass  # a host name
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}:{port}"


def check_base(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise ValueError(f"--base-url must look like http://host:port, not {url!r}")
    return url.rstrip("/")


def label_url(base: str, handle: str) -> str:
    """The resolver URL a label encodes: the handle checked, percent-encoded where a URL needs it."""
    handle = strip_scheme(handle.strip())
    split(handle)
    return f"{check_base(base)}/{quote(handle, safe='/')}"


def make(url: str) -> segno.QRCode:
    return segno.make(url, error=ERROR_LEVEL, micro=False)


def write(url: str, out: str | None, scale: int = 8) -> None:
    """The code to ``out`` (.png or .svg), or to the terminal when there is no file."""
    qr = make(url)
    if out is None:
        qr.terminal(out=sys.stdout, compact=True)
        return
    suffix = Path(out).suffix.lower()
    if suffix not in FORMATS:
        raise ValueError(f"--out must name a .png or .svg file, not {out!r}")
    qr.save(out, scale=scale, border=4)
