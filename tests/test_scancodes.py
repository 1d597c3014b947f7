"""protocol.scancodes: what a scanner read, as a handle or a GS1 key, or the reason it is neither."""

from __future__ import annotations

import pytest

from protocol.codes import HandleError
from protocol.scancodes import read_scan

GTIN = "09501101530003"
ITEM = f"https://id.gs1.org/01/{GTIN}/21/ABC123"
WITH_LOT = f"https://id.gs1.org/01/{GTIN}/10/LOT7/21/ABC123"
GS = "\x1d"


@pytest.mark.parametrize("code, kind, value", [
    ("88.101.5/X", "handle", "88.101.5/X"),
    ("hdl:88.101.5/X", "handle", "88.101.5/X"),
    ("https://node.example/api/handles/88.101.5/X", "handle", "88.101.5/X"),
    ("https://node.example/88.101.5%2FX", "handle", "88.101.5/X"),
    ("]Q1hdl:88.101.5/X", "handle", "88.101.5/X"),  # a plain QR code's identifier is dropped
    ("]Q1" + ITEM, "gs1", ITEM),
    (f"]d201{GTIN}21ABC123{GS}10LOT7\r\n", "gs1", WITH_LOT),
    ("urn:epc:id:sgtin:950110153.0000.ABC123", "gs1", ITEM),
    (f"(01){GTIN}(21)ABC123", "gs1", ITEM),
])
def test_scanned_codes(code, kind, value):
    s = read_scan(code)
    assert s.kind == kind and (s.handle if kind == "handle" else s.gs1) == value


@pytest.mark.parametrize("code, reason", [
    ("", "empty"), ("]Q1", "nothing else"), ("not a handle", "between prefix and suffix"),
    ("https://example.com/about", "neither a handle nor a GS1 Digital Link"),
    ("x" * 5000, "at most 4096"), (f"]C101{GTIN[:-1]}4", "check digit"),
])
def test_unreadable_codes_say_why(code, reason):
    with pytest.raises(HandleError) as e:
        read_scan(code)
    assert reason in e.value.message
