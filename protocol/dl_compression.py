"""Compressed GS1 Digital Link URIs (GS1 Digital Link: Compression) back to their uncompressed form.

Sans-IO: a request path in (``/ARFKk4XBoA`` fully compressed, ``/01/09506000134352/CBFKk…`` with the
primary key left readable), the uncompressed path and query pairs out. Written from the standard's
description of the format (tables P, F and the optimisation table are its facts; GS1's JavaScript
prototype, gs1/GS1DigitalLinkCompressionPrototype, served to check the reading):

- the segment is URI-safe base64 (``A-Z a-z 0-9 - _``), 6 bits a character, zero bits as padding;
- each element starts with two hex nibbles. ``00``-``99`` begin an AI whose length table P gives (the
  AI's other digits follow, a nibble each); ``0A``-``EF`` name a sequence of AIs (the optimisation
  table: ``0B`` is GTIN then lot); ``F`` is a non-GS1 ``key=value`` pair: a 7-bit key length (its
  first 4 bits are the second nibble), the key in base64 characters, then the value as below;
- an AI's value is encoded part by part as table F describes it: a fixed-length numeric part as one
  binary number of ``ceil(n * log2(10))`` bits; a variable-length numeric part as a length (enough
  bits for its maximum) then such a number; an alphanumeric part as a 3-bit encoding (0 digits,
  1 lower-case hex, 2 upper-case hex, 3 base64 characters, 4 ASCII at 7 bits), a length for a
  variable part, then the characters.

The work is bounded by the segment's length (at most ``MAX_SEGMENT`` characters): each step reads
bits and never goes back. A value that does not decode, an AI the tables do not know, bits past the
end or padding that is not zero is refused with the reason (a 400 at the HTTP layer). The values
themselves (check digits, character sets, qualifier order) are checked afterwards as any Digital
Link's are (``digitallink.parse``).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from urllib.parse import quote, urlencode

from .codes import RC, HandleError
from .digitallink import PRIMARY_KEYS, SHORT_NAMES

MAX_SEGMENT = 400  # characters of base64 (2400 bits): more than any real label carries
B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_B64_SEGMENT = re.compile(r"[A-Za-z0-9_-]+")
_HEX = "0123456789ABCDEF"

# Table P: the first two digits of an AI give its length.
TABLE_P = {p: n for n, ps in {
    2: "00 01 02 10 11 12 13 15 16 17 20 21 22 30 37 90 91 92 93 94 95 96 97 98 99",
    3: "23 24 25 40 41 42 71",
    4: "31 32 33 34 35 36 39 43 70 72 80 81 82"}.items() for p in ps.split()}

# Table F: each AI's value as parts, N (digits) or X (characters), fixed (N6) or at most (X..20) so long.
_TABLE_F_SPELLED = {
    'N6': "11-13 15-17 3100-3105 3110-3115 3120-3125 3130-3135 3140-3145 3150-3155 3160-3165 3200-3205 3210-3215 3220-3225 3230-3235 3240-3245 3250-3255 3260-3265 3270-3275 3280-3285 3290-3295 3300-3305 3310-3315 3320-3325 3330-3335 3340-3345 3350-3355 3360-3365 3370-3375 3400-3405 3410-3415 3420-3425 3430-3435 3440-3445 3450-3455 3460-3465 3470-3475 3480-3485 3490-3495 3500-3505 3510-3515 3520-3525 3530-3535 3540-3545 3550-3555 3560-3565 3570-3575 3600-3605 3610-3615 3620-3625 3630-3635 3640-3645 3650-3655 3660-3665 3670-3675 3680-3685 3690-3695 3950-3959 4326 7006 8005",
    'X..30': "90 240-241 250-251 400-401 403 4308 4319 7002 7023 7230-7239 8004 8010 8013",
    'N..15': "3900-3909 3920-3929",
    'N3+N..15': "3910-3919 3930-3939",
    'X..20': "10 21-22 243 254 420 710-714 4318 7020-7022 7240 8002 8012",
    'X..70': "4302-4306 4312-4316 8110 8112 8200",
    'N3+X..27': "7030-7039",
    'N13': "410-417 7001",
    'X..90': "91-99",
    'N18': "00 8006 8017-8018 8026",
    'N4': "3940-3943 8111",
    'X..35': "4300-4301 4310-4311 4320",
    'N14': "01-02 8001",
    'N3': "422 424 426",
    'N1': "4321-4323",
    'N10': "4324-4325 7003",
    'N..8': "30 37",
    'N3+N..12': "423 425",
    'X..3': "427 7008",
    'X2': "4307 4317",
    'N2': "20",
    'N3+X..28': "235",
    'N..6': "242",
    'N13+X..17': "253",
    'N13+N..12': "255",
    'N17': "402",
    'N3+X..9': "421",
    'N20': "4309",
    'N..4': "7004",
    'X..12': "7005",
    'N6+N..6': "7007",
    'X..10': "7009",
    'X..2': "7010",
    'N1+X3': "7040",
    'N14+X..16': "8003",
    'X..24': "8007",
    'N8+N..4': "8008",
    'X..50': "8009",
    'N..12': "8011",
    'N..10': "8019",
    'X..25': "8020",
}

# The optimisation table: a nibble pair (not 00-99) standing for a sequence of AIs.
TABLE_OPT = {
    "0A": "01 22", "0B": "01 10", "0C": "01 21", "0D": "01 17", "0E": "01 7003", "0F": "01 30",
    "1A": "01 10 21 17", "1B": "01 15", "1C": "01 11", "1D": "01 16", "1E": "01 91", "1F": "01 10 15",
    **{f"2{_HEX[10 + i]}": f"01 310{i}" for i in range(6)}, **{f"3{_HEX[10 + i]}": f"01 320{i}" for i in range(6)},
    "9A": "8010 8011", "9B": "8017 8019", "9C": "8018 8019", "9D": "414 254",
    **{f"A{i}": f"01 392{i}" for i in range(10)}, **{f"C{i}": f"255 390{i}" for i in range(10)},
    **{f"C{_HEX[10 + i]}": f"255 394{i}" for i in range(4)},
}

# Each primary key's qualifiers, in the order a Digital Link path carries them.
QUALIFIERS = {"01": ("22", "10", "21"), "8006": ("22", "10", "21"), "414": ("254",), "8010": ("8011",),
              "8017": ("8019",), "8018": ("8019",)}


@dataclass(frozen=True, slots=True)
class Part:
    numeric: bool
    length: int  # the fixed length, or the maximum
    fixed: bool


def _parts(spec: str) -> tuple[Part, ...]:
    out = []
    for p in spec.split("+"):
        fixed = ".." not in p
        out.append(Part(p[0] == "N", int(p[1:].lstrip(".")), fixed))
    return tuple(out)


def _expand(ranges: str) -> list[str]:
    out = []
    for r in ranges.split():
        a, _, b = r.partition("-")
        out += [str(n).zfill(len(a)) for n in range(int(a), int(b or a) + 1)]
    return out


TABLE_F = {ai: _parts(spec) for spec, ranges in _TABLE_F_SPELLED.items() for ai in _expand(ranges)}


def _bad(reason: str) -> HandleError:
    return HandleError(RC.INVALID_VALUE, f"compressed Digital Link: {reason}", status=400, field="path")


def value_bits(digits: int) -> int:
    """Bits of a number of ``digits`` decimal digits: ceil(digits * log2(10)), one for none."""
    return (10 ** digits - 1).bit_length() if digits else 1


def length_bits(maximum: int) -> int:
    """Bits of a length of at most ``maximum``, as the standard counts them (ceil(log2(max) + 0.01))."""
    return math.ceil(math.log2(maximum) + 0.01)


class _Bits:
    def __init__(self, segment: str) -> None:
        self.bits = "".join(format(B64.index(c), "06b") for c in segment)
        self.pos = 0

    def left(self) -> int:
        return len(self.bits) - self.pos

    def take(self, n: int) -> int:
        if n > self.left():
            raise _bad(f"the data ends in the middle of a value (bit {self.pos} of {len(self.bits)})")
        v = int(self.bits[self.pos:self.pos + n], 2) if n else 0
        self.pos += n
        return v

    def number(self, digits: int) -> str:
        v = self.take(value_bits(digits))
        if digits == 0:
            return ""
        if v >= 10 ** digits:
            raise _bad(f"a {digits}-digit number is encoded as {v}")
        return str(v).zfill(digits)

    def chars(self, enc: int, n: int) -> str:
        """``n`` characters in encoding ``enc`` (the 3 bits read before them)."""
        if enc == 0:
            return self.number(n)
        if enc in (1, 2):
            s = "".join(_HEX[self.take(4)] for _ in range(n))
            return s.lower() if enc == 1 else s
        if enc == 3:
            return "".join(B64[self.take(6)] for _ in range(n))
        if enc == 4:
            s = "".join(chr(self.take(7)) for _ in range(n))
            if any(not 0x20 < ord(c) < 0x7F for c in s):
                raise _bad("a value holds a control character or a space")
            return s
        raise _bad(f"unknown character encoding {enc}")


def _value(bits: _Bits, ai: str) -> str:
    out = []
    for part in TABLE_F[ai]:
        if part.numeric:
            n = part.length if part.fixed else bits.take(length_bits(part.length))
            if n > part.length:
                raise _bad(f"({ai}) is given {n} digits, at most {part.length}")
            out.append(bits.number(n))
            continue
        enc = bits.take(3)
        n = part.length if part.fixed else bits.take(length_bits(part.length))
        if n > part.length:
            raise _bad(f"({ai}) is given {n} characters, at most {part.length}")
        out.append(bits.chars(enc, n))
    return "".join(out)


def _ai(bits: _Bits, first: str) -> str:
    """The rest of an AI whose first two digits are read (table P gives its length)."""
    size = TABLE_P.get(first)
    if size is None:
        raise _bad(f"no AI starts with {first}")
    ai = first
    for _ in range(size - 2):
        d = bits.take(4)
        if d > 9:
            raise _bad(f"AI {ai}{_HEX[d]} is not all digits")
        ai += str(d)
    if ai not in TABLE_F:
        raise _bad(f"AI ({ai}) is not one the compression standard encodes")
    return ai


def decode(segment: str) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """A compressed segment as its AIs and values, and its non-GS1 ``key=value`` pairs in order."""
    if not segment or len(segment) > MAX_SEGMENT or not _B64_SEGMENT.fullmatch(segment):
        raise _bad(f"a compressed segment is 1 to {MAX_SEGMENT} characters of A-Z a-z 0-9 - _")
    bits = _Bits(segment)
    ais: dict[str, str] = {}
    other: list[tuple[str, str]] = []
    while bits.left() > 8:  # what is left after the last element is padding
        h1, h2 = _HEX[bits.take(4)], _HEX[bits.take(4)]
        if h1 <= "9" and h2 <= "9":
            seq = [_ai(bits, h1 + h2)]
        elif h1 + h2 in TABLE_OPT:
            seq = TABLE_OPT[h1 + h2].split()
        elif h1 == "F":
            bits.pos -= 4  # the key's 7-bit length starts at the second nibble
            klen = bits.take(7)
            key = "".join(B64[bits.take(6)] for _ in range(klen))
            enc = bits.take(3)
            other.append((key, bits.chars(enc, bits.take(7))))
            continue
        else:
            raise _bad(f"{h1}{h2} is neither an AI nor a sequence the optimisation table defines")
        for ai in seq:
            if ai in ais:
                raise _bad(f"AI ({ai}) appears twice")
            ais[ai] = _value(bits, ai)
    if bits.take(bits.left()):
        raise _bad("the padding after the last value is not zero")
    return ais, other


@dataclass(slots=True)
class Decompressed:
    """The uncompressed form: ``/01/…/10/…/21/…`` and its query pairs (data attributes, then others)."""

    path: str
    query: list[tuple[str, str]] = field(default_factory=list)

    def uri(self, base: str) -> str:
        return base + self.path + ("?" + urlencode(self.query) if self.query else "")


def _primary(ai: str) -> str | None:
    ai = SHORT_NAMES.get(ai, ai)
    return ai if ai in PRIMARY_KEYS else None


def is_compressed_path(path: str) -> bool:
    """Could the path be a compressed Digital Link: one base64 segment, or a primary key, its value and one?"""
    segs = path.strip("/").split("/")
    if len(segs) == 1:
        return bool(_B64_SEGMENT.fullmatch(segs[0]))
    return len(segs) == 3 and _primary(segs[0]) is not None and bool(_B64_SEGMENT.fullmatch(segs[2]))


def decompress(path: str) -> Decompressed:
    """A fully (``/ARFKk4XBoA``) or partially (``/01/{gtin}/{segment}``) compressed path, uncompressed."""
    segs = path.strip("/").split("/")
    if len(segs) == 3 and _primary(segs[0]):
        ais, other = decode(segs[2])
        first = _primary(segs[0])
        if first in ais:
            raise _bad(f"the primary key ({first}) is both in the path and compressed")
        ais = {first: segs[1], **ais}
    elif len(segs) == 1:
        ais, other = decode(segs[0])
    else:
        raise _bad("a compressed Digital Link path is one segment, or a primary key, its value and one")
    keys = [ai for ai in ais if ai in PRIMARY_KEYS]
    if len(keys) != 1:
        raise _bad(f"it holds {len(keys)} primary keys ({', '.join(keys) or 'none'}), not one")
    primary = keys[0]
    path_ais = [primary, *(q for q in QUALIFIERS.get(primary, ()) if q in ais)]
    out = "".join(f"/{ai}/{quote(ais[ai], safe='')}" for ai in path_ais)
    query = [(ai, v) for ai, v in ais.items() if ai not in path_ais] + other
    return Decompressed(out, query)
