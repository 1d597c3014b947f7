"""protocol.gs1: every spelling of a GS1 key a scanner or a record uses, read into one key (biip parses
the GS1); storage/gs1index: the index that finds a handle by the key its record carries, kept in the
transaction that writes the record."""

from __future__ import annotations

import pytest

from protocol.codes import RC, HandleError
from protocol.gs1 import check_gs1_value, gs1_key, identity, lookup_keys
from protocol.values import HandleValue, check_values
from storage import Store
from storage.commit import run_group

GTIN = "09501101530003"
ITEM = f"https://id.gs1.org/01/{GTIN}/21/ABC123"
WITH_LOT = f"https://id.gs1.org/01/{GTIN}/10/LOT7/21/ABC123"
GS = "\x1d"


@pytest.mark.parametrize("spelling, key", [
    (f"]d201{GTIN}21ABC123{GS}10LOT7", WITH_LOT),  # GS1 DataMatrix, as the scanner hands it over
    (f"]C101{GTIN}21ABC123{GS}10LOT7", WITH_LOT),  # GS1-128
    (f"]Q301{GTIN}21ABC123", ITEM),  # GS1 QR code
    (f"01{GTIN}21ABC123", ITEM),  # no symbology identifier
    (f"(01){GTIN}(21)ABC123", ITEM),  # as people write it
    (f"https://example.com/01/{GTIN}/21/ABC123?17=261231", ITEM),  # Digital Link on any host
    ("urn:epc:id:sgtin:950110153.0000.ABC123", ITEM),  # the same item as an EPC URN
    (GTIN, f"https://id.gs1.org/01/{GTIN}"), (GTIN[1:], f"https://id.gs1.org/01/{GTIN}"),  # GTIN-13
    ("106141412345678908", "https://id.gs1.org/00/106141412345678908"),  # SSCC
    ("urn:epc:id:sscc:0614141.1234567890", "https://id.gs1.org/00/106141412345678908"),
])
def test_every_spelling_gives_one_key(spelling, key):
    assert gs1_key(spelling) == key


@pytest.mark.parametrize("spelling, reason", [
    (f"]d201{GTIN[:-1]}4", "check digit"),
    (f"https://id.gs1.org/01/{GTIN[:-1]}4/21/X", "check digit"),
    ("(17)261231", "carries no GS1 key"),
    ("]J1xyz", "Symbology Identifier"),
    ("urn:epc:tag:sgtin-96:3.0614141.812345.6789", "not an EPC pure-identity URN"),
    ("https://example.com/about", "not a GS1 Digital Link"),
    ("hello", "GS1 Application Identifier"),
])
def test_what_is_no_gs1_key_is_refused_with_the_parsers_reason(spelling, reason):
    with pytest.raises(HandleError) as e:
        gs1_key(spelling)
    assert e.value.rc == RC.INVALID_VALUE and reason in e.value.message


def test_identity_and_lookup_order():
    assert identity(WITH_LOT) == ITEM and identity(ITEM) == ITEM
    assert identity("https://id.gs1.org/00/106141412345678908") == "https://id.gs1.org/00/106141412345678908"
    assert lookup_keys(WITH_LOT) == [WITH_LOT, ITEM, f"https://id.gs1.org/01/{GTIN}/10/LOT7",
                                     f"https://id.gs1.org/01/{GTIN}"]


def test_a_gs1_value_must_hold_a_gs1_key():
    assert check_gs1_value(2010, f"(01){GTIN}(21)ABC123(10)LOT7".encode()) == ITEM
    with pytest.raises(HandleError) as e:
        check_values([HandleValue(2010, "GS1", b"a motor")])
    assert "GS1 value at index 2010 is not a GS1 key" in e.value.message and e.value.field == "values"
    check_values([HandleValue(2010, "gs1-note", b"a motor")])  # only the type GS1 is a key


# --- the index -------------------------------------------------------------------------------------------

def gs1(text: str, index: int = 2010) -> HandleValue:
    return HandleValue(index, "GS1", text.encode(), timestamp=1)


def put(store: Store, handle: str, values: list[HandleValue]) -> tuple[bool, object]:
    def op(tx):
        tx.put_handle(handle, values, old=tx.get_handle(handle), who="test", now=1)
    return run_group(store, [op])[0]


def holder(store: Store, key: str) -> bytes | None:
    with store.read() as tx:
        return tx.handle_for_gs1(key)


def test_index_follows_puts_replacements_and_deletes(tmp_path):
    store = Store(tmp_path / "data")
    try:
        assert put(store, "88.101.5/Pump-1", [gs1(f"(01){GTIN}(21)ABC123(10)LOT7")])[0]
        assert holder(store, ITEM) == b"88.101.5/pump-1"  # the identity key, the folded handle
        with store.read() as tx:
            assert tx.gs1_keys_of(b"88.101.5/pump-1") == [ITEM]
        # Another handle may not carry the same item; the refusal writes nothing.
        ok, err = put(store, "88.101.5/PUMP-2", [gs1("urn:epc:id:sgtin:950110153.0000.ABC123")])
        assert not ok and err.rc == RC.VALUE_ALREADY_EXISTS and "88.101.5/pump-1 carries already" in err.message
        with store.read() as tx:
            assert tx.get_handle("88.101.5/PUMP-2") is None
        # Replaced without it, the key is free again, and the new holder takes it.
        assert put(store, "88.101.5/PUMP-1", [HandleValue(1, "URL", b"https://x", timestamp=1)])[0]
        assert holder(store, ITEM) is None
        assert put(store, "88.101.5/PUMP-2", [gs1(ITEM), gs1(GTIN, 2011)])[0]
        assert holder(store, ITEM) == b"88.101.5/pump-2"
        assert holder(store, f"https://id.gs1.org/01/{GTIN}") == b"88.101.5/pump-2"
        assert run_group(store, [lambda tx: tx.delete_handle("88.101.5/PUMP-2", who="t", now=1)])[0][0]
        assert holder(store, ITEM) is None and holder(store, f"https://id.gs1.org/01/{GTIN}") is None
        with store.read() as tx:
            assert tx.gs1_keys_of(b"88.101.5/pump-2") == []
    finally:
        store.close()
