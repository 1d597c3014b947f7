"""Handle values in the Handle.Net REST JSON representation, both ways."""

from __future__ import annotations

import base64
import binascii
import calendar
import time

from . import vlist
from .admin import AdminRef
from .codes import RC, HandleError
from .values import (
    ADMIN_READ,
    ADMIN_WRITE,
    DEFAULT_PERMISSIONS,
    DEFAULT_TTL,
    HS_ADMIN,
    HS_PUBKEY,
    HS_SITE,
    HS_VLIST,
    MAX_INDEX,
    MAX_TYPE_BYTES,
    PUBLIC_READ,
    PUBLIC_WRITE,
    TTL_ABSOLUTE,
    TTL_RELATIVE,
    HandleValue,
    check_index,
)

FORMATS = ("string", "base64", "hex", "admin", "vlist", "site", "key")
_PERM_ORDER = (ADMIN_READ, ADMIN_WRITE, PUBLIC_READ, PUBLIC_WRITE)


def _bad(message: str, field: str) -> HandleError:
    return HandleError(RC.INVALID_VALUE, message, field=field)


def iso_time(ts: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def parse_iso_time(text: str) -> int:
    try:
        return calendar.timegm(time.strptime(text[:19], "%Y-%m-%dT%H:%M:%S"))
    except ValueError:
        raise _bad(f"timestamp {text!r} is not an ISO 8601 time", "timestamp") from None


def perms_to_string(p: int) -> str:
    return "".join("1" if p & bit else "0" for bit in _PERM_ORDER)


def perms_from_json(obj: object, where: str) -> int:
    if isinstance(obj, str) and len(obj) == 4 and set(obj) <= {"0", "1"}:
        return sum(bit for bit, ch in zip(_PERM_ORDER, obj, strict=True) if ch == "1")
    raise _bad(f"{where}: permissions must be 4 characters of 0/1 (adminRead adminWrite publicRead publicWrite)",
               where)


def _data_from_json(vtype: str, data: object, where: str) -> tuple[bytes, str]:
    """Decode the ``data`` member to bytes, remembering the format it was written in."""
    if isinstance(data, str):
        return _utf8(data, where), "string"
    if not isinstance(data, dict):
        raise _bad(f"{where}: data must be a string or an object with format and value", where)
    fmt = data.get("format")
    value = data.get("value")
    if fmt is None:
        fmt = "admin" if vtype == HS_ADMIN and isinstance(value, dict) else "string"
    if fmt == "string":
        if not isinstance(value, str):
            raise _bad(f"{where}: a 'string' value must be a JSON string", where)
        return _utf8(value, where), "string"
    if fmt == "base64":
        try:
            return base64.b64decode(_ascii(value, where), validate=True), "base64"
        except binascii.Error:
            raise _bad(f"{where}: value is not valid base64", where) from None
    if fmt == "hex":
        try:
            return bytes.fromhex(_ascii(value, where)), "hex"
        except ValueError:
            raise _bad(f"{where}: value is not valid hex", where) from None
    if fmt == "admin":
        return AdminRef.from_json(value).to_wire(), "admin"
    if fmt == "vlist":
        return vlist.to_wire(vlist.from_json(value)), "vlist"
    if fmt == "site":
        from . import site
        return site.from_json(value), "site"
    if fmt == "key":
        from . import pubkey
        return pubkey.from_json(value), "key"
    raise _bad(f"{where}: unknown data format {fmt!r} (one of {', '.join(FORMATS)})", where)


def _ascii(value: object, where: str) -> str:
    if not isinstance(value, str):
        raise _bad(f"{where}: value must be a JSON string", where)
    return value


def _utf8(text: str, where: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        raise _bad(f"{where}: text is not valid Unicode (unpaired surrogate)", where) from None


_MISSING = object()
_PLAIN_KEYS = frozenset(("index", "type", "data", "ttl"))
_new = tuple.__new__


def value_from_json(obj: object, position: int = 0) -> HandleValue:
    """One value as a client sends it; the server sets the timestamp later.

    Written for the batch and import paths, which decode millions of values: the common shape
    (an integer index, a type, string data, perhaps a ttl) is checked inline.
    """
    if type(obj) is not dict:
        raise _bad(f"values[{position}] must be an object with index, type and data", f"values[{position}]")
    get = obj.get
    index = get("index", _MISSING)
    if type(index) is not int or not 0 < index <= MAX_INDEX:
        if index is _MISSING:
            raise _bad(f"values[{position}] has no index", f"values[{position}].index")
        index = check_index(index, where=f"values[{position}].index")
    vtype = get("type", "")
    if type(vtype) is not str:
        raise _bad(f"values[{position}].type must be a string", f"values[{position}].type")
    if len(vtype) > MAX_TYPE_BYTES // 4 and len(vtype.encode("utf-8", "surrogatepass")) > MAX_TYPE_BYTES:
        raise _bad(f"values[{position}].type is longer than {MAX_TYPE_BYTES} bytes", f"values[{position}].type")
    data = get("data", _MISSING)
    if type(data) is dict and len(data) == 2 and data.get("format") == "string":
        data = data["value"]  # the spelled-out string form: same as a bare string
        if type(data) is not str:
            raise _bad(f"values[{position}].data: a 'string' value must be a JSON string", f"values[{position}].data")
    if type(data) is str:
        try:
            raw, fmt = data.encode(), "string"
        except UnicodeEncodeError:
            raise _bad(f"values[{position}].data: text is not valid Unicode (unpaired surrogate)",
                       f"values[{position}].data") from None
    elif data is _MISSING:
        raise _bad(f"values[{position}] has no data", f"values[{position}].data")
    else:
        raw, fmt = _data_from_json(vtype, data, f"values[{position}].data")
    ttl = get("ttl", DEFAULT_TTL)
    if type(ttl) is not int or not 0 <= ttl <= 0xFFFFFFFF:
        ttl = _ttl(ttl, position)
    if _PLAIN_KEYS.issuperset(obj):
        return _new(HandleValue, (index, vtype, raw, ttl, TTL_RELATIVE, 0, DEFAULT_PERMISSIONS, (), fmt))
    return _full_value(obj, position, index, vtype, raw, fmt, ttl)


def _ttl(ttl: object, position: int) -> int:
    if isinstance(ttl, str) and ttl.isdigit():
        ttl = int(ttl)
    if not isinstance(ttl, int) or isinstance(ttl, bool) or not 0 <= ttl <= 0xFFFFFFFF:
        raise _bad(f"values[{position}].ttl must be an integer 0…4294967295", f"values[{position}].ttl")
    return ttl


def _full_value(obj: dict, position: int, index: int, vtype: str, data: bytes, fmt: str, ttl: int) -> HandleValue:
    """The members beyond index, type, data and ttl: ttlType, permissions, references, timestamp."""
    where = f"values[{position}]"
    ttl_type = TTL_ABSOLUTE if obj.get("ttlType") in (1, "absolute") else TTL_RELATIVE
    perms = obj.get("permissions")
    permissions = DEFAULT_PERMISSIONS if perms is None else perms_from_json(perms, where + ".permissions")
    refs = obj.get("references") or ()
    if refs:
        if not isinstance(refs, list):
            raise _bad(f"{where}.references must be a list", where + ".references")
        refs = tuple((r["handle"], check_index(r.get("index"), where=where + ".references"))
                     for r in refs if isinstance(r, dict) and isinstance(r.get("handle"), str))
    ts = obj.get("timestamp")  # kept by import; the API stamps its own time on every write
    timestamp = parse_iso_time(ts) if isinstance(ts, str) and ts else 0
    return HandleValue(index, vtype, data, ttl, ttl_type, timestamp, permissions, refs, fmt)


def values_from_json(body: object) -> list[HandleValue]:
    """A PUT body: ``{"values": [...]}``, a bare list, or a single value."""
    if isinstance(body, dict) and "values" in body:
        body = body["values"]
    elif isinstance(body, dict):
        body = [body]
    if not isinstance(body, list):
        raise _bad("body must be {\"values\": [...]}, a list of values, or one value", "values")
    return [value_from_json(v, i) for i, v in enumerate(body)]


def _data_to_json(v: HandleValue) -> dict | str:
    t = v.type
    try:
        if t == HS_ADMIN:
            return {"format": "admin", "value": AdminRef.from_wire(v.data).to_json()}
        if t == HS_VLIST:
            return {"format": "vlist", "value": vlist.to_json(vlist.from_wire(v.data))}
        if t == HS_SITE or t == "HS_SITE.PREFIX":
            from . import site
            return {"format": "site", "value": site.to_json(v.data)}
        if t == HS_PUBKEY:
            from . import pubkey
            return {"format": "key", "value": pubkey.to_json(v.data)}
    except HandleError:
        pass  # a well-known type holding bytes of another layout: show them as they are
    if v.fmt == "hex":
        return {"format": "hex", "value": v.data.hex()}
    if v.fmt != "base64":
        try:
            return {"format": "string", "value": v.data.decode("utf-8")}
        except UnicodeDecodeError:
            pass
    return {"format": "base64", "value": base64.b64encode(v.data).decode("ascii")}


def value_to_json(v: HandleValue) -> dict:
    out: dict = {"index": v.index, "type": v.type, "data": _data_to_json(v), "ttl": v.ttl,
                 "timestamp": iso_time(v.timestamp)}
    if v.ttl_type == TTL_ABSOLUTE:
        out["ttlType"] = 1
    if v.permissions != DEFAULT_PERMISSIONS:
        out["permissions"] = perms_to_string(v.permissions)
    if v.references:
        out["references"] = [{"handle": h, "index": i} for h, i in v.references]
    return out
