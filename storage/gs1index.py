"""GS1 keys carried by handles: a record with a value of type ``GS1`` is found by that key too.

- ``gs1`` ``k`` + key → the handle's storage key (one handle per key)
- ``gs1`` ``h`` + handle key → the keys that handle carries, one a line (for a trace that gathers an
  item's events under each of its spellings: one read per item)

Keys are the identity form of ``protocol.gs1`` (``https://id.gs1.org/01/<GTIN>/21/<serial>``…). The
index is kept in the transaction that writes the record, like ``accounts``; a key another handle
carries already is refused before anything is written.
"""

from __future__ import annotations

from protocol.codes import RC, HandleError
from protocol.gs1 import GS1, check_gs1_value

from .events import part

GS1_DBS = ("gs1",)


def _keys(values) -> dict[str, int]:
    return {check_gs1_value(v[0], v[2]): v[0] for v in values if v[1] == GS1}


class GS1Index:
    """Index operations, mixed into ``storage.txn.Tx`` (which supplies ``txn`` and ``dbs``)."""

    __slots__ = ()

    def gs1_plan(self, hk: bytes, old, new) -> tuple[set[str], set[str]] | None:
        """The keys a write of ``hk`` drops and adds, or None when neither record carries one.
        Raises (before anything is written) when another handle carries a key it adds."""
        if not any(v[1] == GS1 for v in old) and not any(v[1] == GS1 for v in new):
            return None
        before, after = set(_keys(old)), _keys(new)
        db = self.dbs["gs1"]
        for k, index in after.items():
            if k in before:
                continue
            holder = self.txn.get(b"k" + part(k), db=db)
            if holder is not None and holder != hk:
                raise HandleError(RC.VALUE_ALREADY_EXISTS, f"the GS1 value at index {index} names {k}, which "
                                  f"{holder.decode('utf-8', 'replace')} carries already", field="values")
        return before - after.keys(), after.keys() - before

    def gs1_apply(self, hk: bytes, drop: set[str], add: set[str]) -> None:
        db = self.dbs["gs1"]
        for k in drop:
            self.txn.delete(b"k" + part(k), db=db)
        for k in add:
            self.txn.put(b"k" + part(k), hk, db=db)
        keys = sorted((set(self.gs1_keys_of(hk)) - drop) | add)
        if keys:
            self.txn.put(b"h" + hk, "\n".join(keys).encode(), db=db)
        else:
            self.txn.delete(b"h" + hk, db=db)

    def handle_for_gs1(self, key: str) -> bytes | None:
        """The storage key (folded handle) of the handle that carries GS1 key ``key``."""
        db = self.dbs["gs1"]
        return None if db is None else self.txn.get(b"k" + part(key), db=db)

    def gs1_keys_of(self, hk: bytes) -> list[str]:
        """The GS1 keys the handle with storage key ``hk`` carries."""
        db = self.dbs["gs1"]
        raw = None if db is None or len(hk) > 500 else self.txn.get(b"h" + hk, db=db)
        return raw.decode().split("\n") if raw else []

    def gs1_entries_for(self, hk: bytes, values) -> dict[bytes, bytes]:
        """The ``gs1`` entries a record with storage key ``hk`` and these values calls for (verify)."""
        keys = _keys(values)
        if not keys:
            return {}
        return {**{b"k" + part(k): hk for k in keys}, b"h" + hk: "\n".join(sorted(keys)).encode()}

    def gs1_empty(self) -> bool:
        """No handle carries a GS1 key (a trace then need not look for other spellings)."""
        db = self.dbs["gs1"]
        return db is None or self.txn.stat(db)["entries"] == 0
