"""The handle value (RFC 3651 §3.1): index, type, data, TTL, timestamp, permissions, references."""

from __future__ import annotations

from typing import NamedTuple

from .codes import RC, HandleError
from .gs1 import GS1, check_gs1_value

# Value permission bits (RFC 3651 §3.1).
PUBLIC_WRITE = 0x01
PUBLIC_READ = 0x02
ADMIN_WRITE = 0x04
ADMIN_READ = 0x08
DEFAULT_PERMISSIONS = ADMIN_READ | ADMIN_WRITE | PUBLIC_READ

TTL_RELATIVE = 0
TTL_ABSOLUTE = 1
DEFAULT_TTL = 86400

MAX_INDEX = 0x7FFFFFFF
MAX_VALUE_BYTES = 64 * 1024
MAX_VALUES = 1000
MAX_TYPE_BYTES = 255

ADMIN_INDEX = 100
TEMPLATE_INDEX = 1001
USER_DATA_INDEX = 2000

# Well-known types; user data types are free-form.
URL = "URL"
EMAIL = "EMAIL"
HS_ADMIN = "HS_ADMIN"
HS_SITE = "HS_SITE"
HS_SERV = "HS_SERV"
HS_PUBKEY = "HS_PUBKEY"
HS_SECKEY = "HS_SECKEY"
HS_VLIST = "HS_VLIST"
HS_ALIAS = "HS_ALIAS"
TEMPLATE = "TEMPLATE"


SECRET_TYPES = frozenset({"HS_SECKEY", "HS_PRIVKEY"})
PRIVATE_KEY_MARK = b"PRIVATE KEY-----"  # the PEM armour of every private key (PKCS#1, #8, EC, OpenSSH)


def holds_secret(type_: str, data: bytes) -> bool:
    """Is this value secret material: a secret key (HS_SECKEY, as its verifier and sealed form) or a private
    key? Such a value is for the handle's administrators only; the stored permission bits cannot make it
    public (a client that leaves ``permissions`` out gets the default, public read)."""
    return type_.upper() in SECRET_TYPES or PRIVATE_KEY_MARK in data


class HandleValue(NamedTuple):
    """One value. A tuple: immutable, cheap to build, and untracked by the garbage collector once it
    holds only atomic data, which matters when hundreds of thousands of records sit in caches."""

    index: int
    type: str
    data: bytes
    ttl: int = DEFAULT_TTL
    ttl_type: int = TTL_RELATIVE
    timestamp: int = 0
    permissions: int = DEFAULT_PERMISSIONS
    references: tuple[tuple[str, int], ...] = ()
    # How a JSON client wrote the data ("string", "base64", "hex", ...), so it reads back the same.
    fmt: str = ""

    @property
    def public_read(self) -> bool:
        """May anyone read it? Never a secret, whatever its permission bits say (``holds_secret``)."""
        return bool(self.permissions & PUBLIC_READ) and not holds_secret(self.type, self.data)

    def with_timestamp(self, ts: int) -> HandleValue:
        return _new(HandleValue, (self[0], self[1], self[2], self[3], self[4], ts, self[6], self[7], self[8]))

    def type_matches(self, wanted: str) -> bool:
        """Type filter as Handle.Net applies it: case-insensitive; ``URL.`` also matches ``URL.xyz``."""
        t = self.type.upper()
        w = wanted.upper()
        if w.endswith("."):
            return t.startswith(w) or t == w[:-1]
        return t == w


_new = tuple.__new__


def stamped(values: list[HandleValue], ts: int) -> list[HandleValue]:
    """The values with their timestamp set to ``ts`` (what the server does on every write)."""
    return [_new(HandleValue, (v[0], v[1], v[2], v[3], v[4], ts, v[6], v[7], v[8])) for v in values]


def same_content(a: HandleValue, b: HandleValue) -> bool:
    """Equal but for the timestamp and the JSON format hint."""
    return a[:5] == b[:5] and a[6:8] == b[6:8]


def check_index(index: object, *, where: str = "index") -> int:
    """An index as clients send it (an int, or a string such as "200"): 1 … 2³¹-1."""
    if isinstance(index, bool):
        raise HandleError(RC.INVALID_VALUE, f"{where} must be an integer, not a boolean", field=where)
    if isinstance(index, str):
        try:
            index = int(index.strip())
        except ValueError:
            raise HandleError(RC.INVALID_VALUE, f"{where} {index!r} is not an integer", field=where) from None
    if not isinstance(index, int):
        raise HandleError(RC.INVALID_VALUE, f"{where} must be an integer", field=where)
    if not 0 < index <= MAX_INDEX:
        raise HandleError(RC.INVALID_VALUE, f"{where} {index} is out of range 1…{MAX_INDEX}", field=where)
    return index


def check_values(values: list[HandleValue]) -> list[HandleValue]:
    """Record-level limits: distinct indexes, at most MAX_VALUES, data at most MAX_VALUE_BYTES each."""
    n = len(values)
    if n > MAX_VALUES:
        raise HandleError(RC.INVALID_VALUE, f"{n} values; the limit is {MAX_VALUES} per handle", field="values")
    if len({v[0] for v in values}) != n:
        seen: set[int] = set()
        for v in values:
            if v[0] in seen:
                raise HandleError(RC.INVALID_VALUE, f"index {v[0]} appears more than once", field="values")
            seen.add(v[0])
    for v in values:
        if len(v[2]) > MAX_VALUE_BYTES:
            raise HandleError(RC.INVALID_VALUE,
                              f"value at index {v[0]} is {len(v[2])} bytes; the limit is {MAX_VALUE_BYTES}",
                              field="values")
        if v[1] == GS1:  # the item's GS1 key (indexed by storage): it must be one
            check_gs1_value(v[0], v[2])
        if not v[1].isprintable():  # a type is a name: no NUL, no control characters
            raise HandleError(RC.INVALID_VALUE, f"the type of the value at index {v[0]} contains a control "
                              f"character: {v[1]!r}", field="values")
    return values


def check_distinct(indexes: list[int], *, where: str = "index") -> list[int]:
    """Indexes named in a request (to change or remove) name each value once."""
    if len(set(indexes)) != len(indexes):
        seen: set[int] = set()
        for i in indexes:
            if i in seen:
                raise HandleError(RC.INVALID_VALUE, f"index {i} is named more than once", field=where)
            seen.add(i)
    return indexes


def with_admin(values: list[HandleValue], admin: HandleValue) -> list[HandleValue]:
    """``values`` (in index order) with ``admin`` added unless they carry an HS_ADMIN already: at its
    own index when that is free (100, customarily), else at the next free index above it."""
    for v in values:
        if v[1] == HS_ADMIN:
            return values
    index = admin[0]
    pos = 0
    for v in values:
        if v[0] < index:
            pos += 1
        elif v[0] == index:
            index += 1
            pos += 1
        else:
            break
    if index != admin[0]:
        admin = _new(HandleValue, (index, *admin[1:]))
    return [*values[:pos], admin, *values[pos:]]


def merge(current: list[HandleValue], changes: list[HandleValue]) -> list[HandleValue]:
    """Add or replace values by index, keeping index order."""
    by_index = {v.index: v for v in current}
    for v in changes:
        by_index[v.index] = v
    return [by_index[i] for i in sorted(by_index)]


def select(values: list[HandleValue], indexes: set[int] | None, types: list[str] | None) -> list[HandleValue]:
    """Resolution filter: a value is returned when it matches any index or any type asked for."""
    if not indexes and not types:
        return values
    out = []
    for v in values:
        if indexes and v.index in indexes:
            out.append(v)
        elif types and any(v.type_matches(t) for t in types):
            out.append(v)
    return out
