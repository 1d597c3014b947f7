"""Handle syntax: ``prefix/suffix``, the prefix hierarchy, normalisation and limits."""

from __future__ import annotations

import re
import unicodedata

from .codes import RC, HandleError

MAX_HANDLE_BYTES = 255
MAX_PREFIX_SEGMENTS = 16
NA_PREFIX = "0.NA"

_ASCII_LOWER = {c: c + 32 for c in range(ord("A"), ord("Z") + 1)}
_PREFIX_RE = re.compile(r"[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*")
_BAD_CHAR = re.compile("[\x00-\x1f\x7f\ud800-\udfff]")


def _bad(message: str) -> HandleError:
    return HandleError(RC.INVALID_HANDLE, message, field="handle")


def fold(text: str) -> str:
    """Comparison form: ASCII letters lower-cased (the Handle System compares ASCII without case), NFC."""
    if text.isascii():
        return text.lower()
    return unicodedata.normalize("NFC", text).translate(_ASCII_LOWER)


def key(handle: str) -> bytes:
    """The storage key of a (valid) handle."""
    return fold(handle).encode()


def check_prefix(prefix: str) -> str:
    """Validate a prefix such as ``88.101.5`` or ``0.NA``; returns it unchanged."""
    if _PREFIX_RE.fullmatch(prefix) is None:
        if not prefix:
            raise _bad("prefix is empty")
        if "" in prefix.split("."):
            raise _bad(f"prefix {prefix!r} has an empty segment")
        raise _bad(f"prefix {prefix!r} may hold only letters, digits, '-', '_' and '.'")
    if prefix.count(".") >= MAX_PREFIX_SEGMENTS:
        raise _bad(f"prefix {prefix!r} has more than {MAX_PREFIX_SEGMENTS} segments")
    return prefix


def _check_suffix(handle: str, suffix: str) -> None:
    m = _BAD_CHAR.search(suffix)
    if m is not None:
        o = ord(m.group())
        if o >= 0xD800:
            raise _bad(f"handle {handle!r} is not valid UTF-8")
        raise _bad(f"handle {handle!r} contains a control character (U+{o:04X})")
    if "." in suffix:
        # A "." or ".." segment is resolved away by URL clients and proxies (88.101.5/../88.101.6/X
        # becomes 88.101.6/X), so such a handle would name different records in different places.
        for segment in suffix.split("/"):
            if segment in (".", ".."):
                raise _bad(f"handle {handle!r} has a {segment!r} path segment, which URLs resolve away; "
                           "use another spelling")


def split(handle: str, *, allow_empty_suffix: bool = False) -> tuple[str, str]:
    """Split and validate ``prefix/suffix``: the error names what is wrong."""
    if not isinstance(handle, str):
        raise _bad("handle must be a string")
    prefix, sep, suffix = handle.partition("/")
    if not sep:
        raise _bad(f"handle {handle!r} has no '/' between prefix and suffix")
    check_prefix(prefix)
    if not suffix and not allow_empty_suffix:
        raise _bad(f"handle {handle!r} has an empty suffix")
    size = len(handle.encode("utf-8", "surrogatepass"))
    if size > MAX_HANDLE_BYTES:
        raise _bad(f"handle is {size} bytes; the limit is {MAX_HANDLE_BYTES}")
    _check_suffix(handle, suffix)
    return prefix, suffix


def ancestors(prefix: str) -> list[str]:
    """``88.101.5`` → ``["88.101.5", "88.101", "88"]``: the prefix and every prefix above it."""
    segments = prefix.split(".")
    return [".".join(segments[:n]) for n in range(len(segments), 0, -1)]


def is_within(prefix: str, parent: str) -> bool:
    """True when ``prefix`` is ``parent`` or lies beneath it in the hierarchy."""
    p, q = fold(prefix), fold(parent)
    return p == q or p.startswith(q + ".")


def na_handle(prefix: str) -> str:
    """The prefix handle ``0.NA/<prefix>`` that carries a prefix's administrators and site."""
    return f"{NA_PREFIX}/{prefix}"


def served_prefix(handle_prefix: str, suffix: str) -> str:
    """The prefix whose owner answers for a handle: a ``0.NA/P`` handle belongs to ``P``."""
    if fold(handle_prefix) == "0.na":
        return suffix
    return handle_prefix


def strip_scheme(text: str) -> str:
    """Accept ``hdl:88.101.5/X`` and ``doi:``-style spellings as the bare handle."""
    low = text[:4].lower()
    if low == "hdl:" or low == "doi:":
        return text[4:]
    return text
