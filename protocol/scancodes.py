"""What a scanner read, as the item it names: a handle, or a GS1 key to find the handle that carries it.

Scanners hand over whatever the symbol holds:
- a handle (``88.101.5/X``), an ``hdl:`` URI, or the URL of a resolver carrying one;
- a GS1 Digital Link URI (a QR code on the pack);
- a GS1 element string from a GS1 DataMatrix, GS1-128, DataBar or GS1 QR code, with its symbology
  identifier (``]d2``, ``]C1``, ``]e0``, ``]Q3``) and GS (``\\x1d``) separators, or as people write it
  (``(01)…(21)…``), or a bare GTIN or SSCC;
- an EPC URN (``urn:epc:id:sgtin:…``) from an RFID tag.

A symbology identifier of a symbol that is not GS1 (``]Q1`` a plain QR code, ``]d1``…) is dropped
and what follows is read as text. Anything else is refused with the parser's reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from .codes import RC, HandleError
from .epcis_ids import handle_in_url
from .gs1 import gs1_key
from .handles import split, strip_scheme

MAX_CODE = 4096  # characters: far more than any symbol holds (a QR code holds at most 7,089 digits)


@dataclass(frozen=True, slots=True)
class Scanned:
    kind: str  # "handle" or "gs1"
    handle: str | None = None
    gs1: str | None = None  # canonical GS1 Digital Link (protocol.gs1)


def _bad(message: str) -> HandleError:
    return HandleError(RC.INVALID_VALUE, message, field="code")


def _handle(text: str) -> Scanned:
    split(text)  # the reason, when it is not a valid handle
    return Scanned("handle", handle=text)


def _looks_like_handle(text: str) -> bool:
    prefix, sep, _ = text.partition("/")
    return bool(sep) and "." in prefix and ":" not in prefix


def _symbology(text: str) -> tuple[bool, str]:
    """(GS1 symbol?, the data without its symbology identifier)."""
    from biip import ParseError
    from biip.symbology import SymbologyIdentifier

    try:
        ident = SymbologyIdentifier.extract(text)
    except ParseError as e:
        raise _bad(str(e)) from None
    return ident.gs1_symbology is not None, text[len(ident.value):]


def read_scan(code: str) -> Scanned:
    """The item ``code`` names; HandleError (202) with the reason when it names none."""
    text = code.strip(" \t\r\n")
    if not text:
        raise _bad("the code is empty")
    if len(text) > MAX_CODE:
        raise _bad(f"the code is {len(text)} characters; a scanned code is at most {MAX_CODE}")
    if text.startswith("]") and len(text) >= 3:
        is_gs1, rest = _symbology(text)
        if is_gs1:
            return Scanned("gs1", gs1=gs1_key(text))
        text = rest.strip(" \t\r\n")
        if not text:
            raise _bad("the code holds a symbology identifier and nothing else")
    low = text.lower()
    if low.startswith(("hdl:", "doi:")):
        return _handle(strip_scheme(text))
    if low.startswith("urn:epc:"):
        return Scanned("gs1", gs1=gs1_key(text))
    if low.startswith(("http://", "https://")):
        try:
            return Scanned("gs1", gs1=gs1_key(text))
        except HandleError as e:
            not_dl = e.message
        handle = handle_in_url(urlsplit(text).path)
        if handle is None:
            raise _bad(f"the URL carries neither a handle nor a GS1 Digital Link ({not_dl})")
        return _handle(handle)
    if _looks_like_handle(text):
        return _handle(text)
    try:
        return Scanned("gs1", gs1=gs1_key(text))
    except HandleError as e:
        not_gs1 = e.message
    try:
        split(text)
    except HandleError as e:
        raise _bad(f"the code is neither a handle ({e.message}) nor a GS1 code ({not_gs1})") from None
    return _handle(text)
