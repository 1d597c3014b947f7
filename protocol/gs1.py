"""GS1 keys, whatever spelling a scanner or a record uses, as one canonical GS1 Digital Link.

A GS1 key names an item the way the supply chain does (a GTIN with a serial number, an SSCC, a GLN…).
It arrives as an EPC URN (``urn:epc:id:sgtin:…``), a GS1 Digital Link URI on any host, a GS1 element
string as a barcode carries it (``]d2``/``]C1`` symbology identifier, GS separators) or as people
write it (``(01)…(21)…``), or a bare GTIN. biip parses all but the URNs (``epcis_ids`` maps those);
its reason is the error's message when it cannot.

The canonical form is the one EPCIS identifiers are indexed under (``epcis_ids.canonical``):
``https://id.gs1.org/<AI>/<key>[/<qualifier AI>/<value>…]`` without data attributes. An item's
identity drops what does not single it out: a GTIN with a serial number is that one item whatever
lot it came from, so ``/01/G/10/L/21/S`` is the item ``/01/G/21/S`` (an SGTIN).
"""

from __future__ import annotations

from .codes import RC, HandleError
from .epcis_ids import GS1_HOST, epc_urn_to_dl

GS1 = "GS1"  # the handle value type that carries an item's GS1 key
_KEY_ERRORS = ("gtin_error", "sscc_error", "gln_error")


def _bad(reason: str) -> HandleError:
    return HandleError(RC.INVALID_VALUE, reason, field="code")


def _checked(element_strings) -> None:
    """biip reads a key with a wrong check digit and notes it on the element: refuse it here."""
    for es in element_strings:
        for name in _KEY_ERRORS:
            err = getattr(es, name, None)
            if err:
                raise _bad(err)


def _from_message(msg) -> str:
    from biip import BiipException

    _checked(msg.element_strings)
    try:
        uri = msg.as_gs1_digital_link_uri().as_canonical_uri()
    except BiipException as e:
        raise _bad(f"the GS1 element string {msg.as_hri()} carries no GS1 key (GTIN, SSCC, GLN…): {e}") from None
    return uri.split("?", 1)[0]


def _element_string(text: str) -> str:
    import biip
    from biip import ParseError

    try:
        result = biip.parse(text)
    except ParseError as e:
        raise _bad(str(e)) from None
    digits = text[3:] if text.startswith("]") else text
    if digits.isdigit() and len(digits) in (8, 12, 13, 14) and result.gtin is not None:
        return f"{GS1_HOST}/01/{result.gtin.as_gtin_14()}"
    if digits.isdigit() and len(digits) == 18 and result.sscc is not None:
        return f"{GS1_HOST}/00/{result.sscc.value}"
    if result.gs1_message is None:
        raise _bad(result.gs1_message_error or result.gtin_error or f"{text!r} is not a GS1 element string")
    return _from_message(result.gs1_message)


def gs1_key(text: str) -> str:
    """The canonical Digital Link of the GS1 key ``text`` spells; HandleError (202) naming the problem."""
    from biip import ParseError
    from biip.gs1_digital_link_uris import GS1DigitalLinkURI
    from biip.gs1_messages import GS1Message

    t = text.strip()
    low = t.lower()
    if not t:
        raise _bad("the code is empty")
    if low.startswith("urn:epc:"):
        dl = epc_urn_to_dl(t)
        if dl is None:
            raise _bad(f"{t} is not an EPC pure-identity URN this node reads (sgtin, sscc, sgln, grai, giai, "
                       "lgtin class)")
        return dl
    if low.startswith(("http://", "https://")):
        try:
            link = GS1DigitalLinkURI.parse(t)
        except ParseError as e:
            raise _bad(f"{t} is not a GS1 Digital Link: {e}") from None
        _checked(link.element_strings)
        return link.as_canonical_uri().split("?", 1)[0]
    if t.startswith("("):
        try:
            return _from_message(GS1Message.parse_hri(t))
        except ParseError as e:
            raise _bad(str(e)) from None
    return _element_string(t)


def _pairs(key: str) -> list[tuple[str, str]] | None:
    if not key.startswith(GS1_HOST + "/"):
        return None
    parts = key[len(GS1_HOST) + 1:].split("/")
    if len(parts) % 2:
        return None
    return list(zip(parts[::2], parts[1::2], strict=True))


def _link(pairs: list[tuple[str, str]]) -> str:
    return GS1_HOST + "".join(f"/{ai}/{v}" for ai, v in pairs)


def identity(key: str) -> str:
    """The item a canonical key names: a GTIN with a serial number without its lot or variant."""
    pairs = _pairs(key)
    if not pairs or pairs[0][0] != "01":
        return key
    found = dict(pairs[1:])
    return _link([pairs[0], ("21", found["21"])]) if "21" in found else key


def lookup_keys(key: str) -> list[str]:
    """Keys to look an item up by, most specific first: the item (GTIN + serial), its lot (GTIN + lot),
    its product (the GTIN). A scanned code names the item; a record may stand for its product."""
    out = [key, identity(key)]
    pairs = _pairs(key)
    if pairs and pairs[0][0] == "01":
        found = dict(pairs[1:])
        if "10" in found:
            out.append(_link([pairs[0], ("10", found["10"])]))
        out.append(_link(pairs[:1]))
    return list(dict.fromkeys(out))


def check_gs1_value(index: int, data: bytes) -> str:
    """A GS1 value's key in its identity form; a clear error when the data is no GS1 key."""
    try:
        return identity(gs1_key(data.decode("utf-8")))
    except UnicodeDecodeError:
        reason = "it is not UTF-8 text"
    except HandleError as e:
        reason = e.message
    raise HandleError(RC.INVALID_VALUE, f"the GS1 value at index {index} is not a GS1 key: {reason}", field="values")
