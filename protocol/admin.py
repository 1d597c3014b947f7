"""HS_ADMIN data (RFC 3651 §3.2.1): who administers a handle, and with which of 12 permissions."""

from __future__ import annotations

from dataclasses import dataclass

from .codes import RC, HandleError
from .values import check_index
from .wire import Reader, Writer

# Bit values; JSON writes them as a 12-character string, most significant (LIST_HANDLES) first.
ADD_HANDLE = 0x0001
DELETE_HANDLE = 0x0002
ADD_NA = 0x0004
DELETE_NA = 0x0008
MODIFY_VALUE = 0x0010
REMOVE_VALUE = 0x0020
ADD_VALUE = 0x0040
MODIFY_ADMIN = 0x0080
REMOVE_ADMIN = 0x0100
ADD_ADMIN = 0x0200
READ_VALUE = 0x0400  # "authorized read": may read values that are not public
LIST_HANDLES = 0x0800
ALL = 0x0FFF
# What Handle.Net gives a handle's owner by default: "011111110011".
DEFAULT = 0x07F3
NBITS = 12


def perms_to_string(perms: int) -> str:
    return format(perms & ALL, "012b")


def perms_from_string(text: str) -> int:
    if len(text) != NBITS or set(text) - {"0", "1"}:
        raise HandleError(RC.INVALID_VALUE, f"HS_ADMIN permissions {text!r} must be {NBITS} characters of 0 and 1",
                          field="permissions")
    return int(text, 2)


@dataclass(frozen=True, slots=True)
class AdminRef:
    handle: str
    index: int
    permissions: int = DEFAULT

    def allows(self, bit: int) -> bool:
        return bool(self.permissions & bit)

    def to_wire(self) -> bytes:
        return Writer().u16(self.permissions).text(self.handle).u32(self.index).getvalue()

    @classmethod
    def from_wire(cls, data: bytes) -> AdminRef:
        r = Reader(data)
        perms = r.u16("HS_ADMIN permissions")
        handle = r.text("HS_ADMIN handle", 1024)
        index = r.u32("HS_ADMIN index")
        r.done("HS_ADMIN")
        return cls(handle, index, perms)

    def to_json(self) -> dict:
        return {"handle": self.handle, "index": self.index, "permissions": perms_to_string(self.permissions)}

    @classmethod
    def from_json(cls, obj: object) -> AdminRef:
        if not isinstance(obj, dict):
            raise HandleError(RC.INVALID_VALUE, "HS_ADMIN data must be an object with handle, index, permissions",
                              field="data")
        handle = obj.get("handle")
        if not isinstance(handle, str) or not handle:
            raise HandleError(RC.INVALID_VALUE, "HS_ADMIN data needs a 'handle'", field="data.handle")
        index = check_index(obj.get("index", 200), where="HS_ADMIN index")
        perms = obj.get("permissions")
        if perms is None:
            p = DEFAULT
        elif isinstance(perms, str):
            p = perms_from_string(perms)
        elif isinstance(perms, int) and not isinstance(perms, bool) and 0 <= perms <= ALL:
            p = perms
        else:
            raise HandleError(RC.INVALID_VALUE, "HS_ADMIN permissions must be a 12-bit string", field="permissions")
        return cls(handle, index, p)
