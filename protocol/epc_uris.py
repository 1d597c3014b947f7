"""GS1 keys in EPCIS values as the constrained canonical GS1 Digital Link URI of the CBV 2.0 event hash.

The event hash (CBV 2.0, section 8.9) writes every GS1 key, however the event spells it, as one URI:
``https://id.gs1.org/`` and the primary key's AI, only the finest level of identification (a serial
number rather than its lot, no consumer product variant), no query string. An event may spell a key
as an EPC pure-identity URI (``urn:epc:id:sgtin:…``, the Tag Data Standard's schemes), an EPC class
URI (``urn:epc:class:lgtin:…``), an EPC pattern URI (``urn:epc:idpat:sgtin:…:*``) or a Digital Link
URI on any host, with AIs or their short names (``/gtin/``).

``to_canonical_dl`` returns None for a value that is none of these (it is then hashed as written).
Check digits are computed, never verified: the hash normalises spelling; it does not judge keys.
"""

from __future__ import annotations

import re
from functools import lru_cache

HOST = "https://id.gs1.org"
# Characters the Digital Link standard (table 7-1) wants percent-encoded in a path segment, as far
# as an EPC URI can carry them unencoded.
_ENCODE = {"!": "%21", "(": "%28", ")": "%29", "*": "%2A", "+": "%2B", ",": "%2C", ":": "%3A"}
_EPC_CHAR = r"(?:%[0-9A-Fa-f]{2}|[!')(*+,.0-9:;=A-Za-z_-])"  # GS1 AI encodable character set 82 in a URN
_CPI_CHAR = r"(?:%2[3dfDF]|%3[0-9]|%4[1-9A-Fa-f]|%5[0-9Aa]|[0-9A-Z-])"
_X82 = r"[\"'\-.0-9;-?A-Z_a-z]"  # what the canonical URI's alphanumeric values may hold, unencoded
_X39 = r"[#\-/0-9A-Z]"


def check_digit(digits: str) -> str:
    """The GS1 mod-10 check digit of a key written without it."""
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits)))
    return str(-total % 10)


def _enc(text: str) -> str:
    return "".join(_ENCODE.get(c, c) for c in text)


def _split(body: str, total: int) -> tuple[str, str] | None:
    """Company prefix and reference (both digits, ``total`` long together), or None."""
    cp, _, ref = body.partition(".")
    if not (6 <= len(cp) <= 12 and cp.isdigit() and len(cp) + len(ref) == total and (ref == "" or ref.isdigit())):
        return None
    return cp, ref


def _gtin(cp: str, ref: str) -> str:
    body = ref[:1] + cp + ref[1:]
    return body + check_digit(body)


def _key12(cp: str, ref: str, lead: str = "") -> str:
    body = lead + cp + ref
    return body + check_digit(body)


def _serial(text: str, most: int) -> bool:
    return re.fullmatch(f"{_EPC_CHAR}{{1,{most}}}", text) is not None


def _epc_id(scheme: str, body: str) -> str | None:  # noqa: C901 - one branch per TDS scheme
    f = body.split(".")
    if scheme == "sgtin" and len(f) == 3 and (k := _split(f"{f[0]}.{f[1]}", 13)) and _serial(f[2], 20):
        return f"/01/{_gtin(*k)}/21/{_enc(f[2])}"
    if scheme == "sscc" and len(f) == 2 and (k := _split(body, 17)):
        return f"/00/{_gtin(*k)}"
    if scheme == "sgln" and len(f) == 3 and (k := _split(f"{f[0]}.{f[1]}", 12)) and _serial(f[2], 20):
        return f"/414/{_key12(*k)}" + ("" if f[2] == "0" else f"/254/{_enc(f[2])}")
    if scheme == "grai" and len(f) == 3 and (k := _split(f"{f[0]}.{f[1]}", 12)) and _serial(f[2], 16):
        return f"/8003/{_key12(*k, lead='0')}{_enc(f[2])}"
    if scheme == "giai" and len(f) >= 2 and _split(f[0] + ".", len(f[0])):
        rest = body[len(f[0]) + 1:]
        return f"/8004/{f[0]}{_enc(rest)}" if _serial(rest, 30 - len(f[0])) else None
    if scheme in ("gsrn", "gsrnp") and len(f) == 2 and (k := _split(body, 17)):
        return f"/{'8018' if scheme == 'gsrn' else '8017'}/{_key12(*k)}"
    if scheme == "gdti" and len(f) == 3 and (k := _split(f"{f[0]}.{f[1]}", 12)) and _serial(f[2], 17):
        return f"/253/{_key12(*k)}{_enc(f[2])}"
    if scheme == "cpi" and len(f) == 3 and f[2].isdigit() and len(f[2]) <= 12 and f[0].isdigit() \
            and re.fullmatch(f"{_CPI_CHAR}{{1,{30 - len(f[0])}}}", f[1]):
        return f"/8010/{_enc(f[0] + f[1])}/8011/{f[2]}"
    if scheme == "sgcn" and len(f) == 3 and (k := _split(f"{f[0]}.{f[1]}", 12)) and f[2].isdigit() and len(f[2]) <= 12:
        return f"/255/{_key12(*k)}{f[2]}"
    if scheme == "ginc" and len(f) >= 2 and _split(f[0] + ".", len(f[0])):
        rest = body[len(f[0]) + 1:]
        return f"/401/{f[0]}{_enc(rest)}" if _serial(rest, 30 - len(f[0])) else None
    if scheme == "gsin" and len(f) == 2 and (k := _split(body, 16)):
        return f"/402/{_key12(*k)}"
    if scheme == "itip" and len(f) == 5 and (k := _split(f"{f[0]}.{f[1]}", 13)) and _two(f[2], f[3]) \
            and _serial(f[4], 20):
        return f"/8006/{_gtin(*k)}{f[2]}{f[3]}/21/{_enc(f[4])}"
    if scheme == "upui" and len(f) == 3 and (k := _split(f"{f[0]}.{f[1]}", 13)) and _serial(f[2], 28):
        return f"/01/{_gtin(*k)}/235/{_enc(f[2])}"
    if scheme == "pgln" and len(f) == 2 and (k := _split(body, 12)):
        return f"/417/{_key12(*k)}"
    return None


def _two(a: str, b: str) -> bool:
    return len(a) == 2 and len(b) == 2 and (a + b).isdigit()


def _epc_pattern(scheme: str, body: str) -> str | None:
    f = body.split(".")
    if not f or f[-1] != "*":
        return None
    if scheme in ("sgtin", "upui") and len(f) == 3 and (k := _split(f"{f[0]}.{f[1]}", 13)):
        return f"/01/{_gtin(*k)}"
    if scheme == "grai" and len(f) == 3 and (k := _split(f"{f[0]}.{f[1]}", 12)):
        return f"/8003/{_key12(*k, lead='0')}"
    if scheme in ("gdti", "sgcn") and len(f) == 3 and (k := _split(f"{f[0]}.{f[1]}", 12)):
        return f"/{'253' if scheme == 'gdti' else '255'}/{_key12(*k)}"
    if scheme == "cpi" and len(f) == 3 and f[0].isdigit():
        return f"/8010/{_enc(f[0] + f[1])}"
    if scheme == "itip" and len(f) == 5 and (k := _split(f"{f[0]}.{f[1]}", 13)) and _two(f[2], f[3]):
        return f"/8006/{_gtin(*k)}{f[2]}{f[3]}"
    return None


def epc_to_dl(uri: str) -> str | None:
    """An EPC pure-identity, class or pattern URI as its canonical Digital Link, or None."""
    parts = uri.split(":", 4)
    if len(parts) != 5 or parts[0] != "urn" or parts[1] != "epc":
        return None
    kind, scheme, body = parts[2], parts[3], parts[4]
    if kind == "id":
        path = _epc_id(scheme, body)
    elif kind == "class" and scheme == "lgtin":
        f = body.split(".")
        k = _split(f"{f[0]}.{f[1]}", 13) if len(f) == 3 else None
        path = f"/01/{_gtin(*k)}/10/{_enc(f[2])}" if k and _serial(f[2], 20) else None
    elif kind == "idpat":
        path = _epc_pattern(scheme, body)
    else:
        path = None
    return HOST + path if path else None


SHORT_NAMES = {
    "gtin": "01", "itip": "8006", "cpid": "8010", "gln": "414", "party": "417", "gsrnp": "8017", "gsrn": "8018",
    "gcn": "255", "sscc": "00", "gdti": "253", "ginc": "401", "gsin": "402", "grai": "8003", "giai": "8004",
    "cpv": "22", "lot": "10", "ser": "21",
}
PRIMARY = ("01", "8006", "8010", "414", "417", "8017", "8018", "255", "00", "253", "401", "402", "8003", "8004")
# The canonical URIs the hash admits, key by key (anything else is hashed as written).
_VALID = [re.compile(p) for p in (
    r"/00/\d{18}", rf"/01/\d{{14}}(/21/{_X82}{{0,20}}|/10/{_X82}{{0,20}}|/235/{_X82}{{0,28}})?",
    rf"/253/\d{{13}}{_X82}{{0,17}}", r"/255/\d{13}\d{0,12}", rf"/401/{_X82}{{0,30}}", r"/402/\d{17}",
    rf"/414/\d{{13}}(/254/{_X82}{{0,20}})?", r"/417/\d{13}", rf"/8003/\d{{14}}{_X82}{{0,16}}",
    rf"/8004/{_X82}{{0,30}}", rf"/8006/\d{{18}}(/21/{_X82}{{0,20}}|/10/{_X82}{{0,20}})?",
    rf"/8010/{_X39}{{0,30}}(/8011/\d{{0,12}})?", r"/8017/\d{18}", r"/8018/\d{18}",
)]
_FINEST = {"01": ("21", "10", "235"), "8006": ("21", "10"), "414": ("254",), "8010": ("8011",)}


def dl_to_canonical(uri: str) -> str | None:
    """A Digital Link URI (any host, AIs or short names) as the hash's canonical URI, or None."""
    m = re.match(r"https?://[^/?#]*(/[^?#]*)", uri)
    if m is None:
        return None
    segs = [SHORT_NAMES.get(s, s) for s in m.group(1).rstrip("/").split("/")[1:]]
    start = next((i for i in range(len(segs) - 1) if segs[i] in PRIMARY and re.match(r"\d{4}", segs[i + 1])), None)
    if start is None:
        return None
    ai, key = segs[start], segs[start + 1]
    if ai == "01" and len(key) in (8, 12, 13):
        key = key.zfill(14)
    quals = dict(zip(segs[start + 2::2], segs[start + 3::2], strict=False))
    path = f"/{ai}/{key}"
    for q in _FINEST.get(ai, ()):
        if q in quals:
            path += f"/{q}/{quals[q]}"
            break
    return HOST + path if any(p.fullmatch(path) for p in _VALID) else None


@lru_cache(maxsize=65536)  # an event's keys recur across events (its product, its location)
def to_canonical_dl(value: str) -> str | None:
    """Any spelling of a GS1 key as the hash's canonical Digital Link URI, or None if it is not one."""
    if value.startswith("urn:epc:"):
        return epc_to_dl(value)
    if value.startswith(("http://", "https://")):
        return dl_to_canonical(value)
    return None
