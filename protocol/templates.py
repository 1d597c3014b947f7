"""Data templates (数据模板): the fields an industry's identifiers must carry, and the check of a record.

Pure data: parsing a template definition and validating a list of values against it.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from urllib.parse import urlsplit

from .codes import RC, HandleError
from .values import MAX_INDEX, USER_DATA_INDEX, HandleValue

DATATYPES = ("string", "integer", "number", "boolean", "date", "datetime", "url", "email")
_VERSION_RE = re.compile(r"[A-Za-z0-9._-]{1,32}")
_EMAIL_RE = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_NAME_RE = re.compile(r"[^\x00-\x1f]{1,64}")
MAX_FIELDS = 200
ENABLED, DISABLED = 1, 0  # a field's state: a disabled one is neither required nor checked
OBJECT_TYPES = (1, 2)  # 1: an active identifier carrier (主动标识载体), 2: other
INDUSTRY_LEVELS = (("industryCategory", r"[A-T]"), ("industrySpecific", r"[0-9]{2}"),
                   ("industryTrade", r"[0-9]{3}"), ("industrySubclass", r"[0-9]{4}"))


def _bad(message: str, field: str) -> HandleError:
    return HandleError(RC.INVALID_VALUE, message, field=field)


def check_version(version: object) -> str:
    if not isinstance(version, str) or _VERSION_RE.fullmatch(version) is None:
        raise _bad("version must be 1-32 characters of letters, digits, '.', '_' or '-'", "version")
    return version


def _int_or_none(obj: dict, name: str, where: str) -> int | None:
    v = obj.get(name)
    if v is None:
        return None
    if not isinstance(v, int) or isinstance(v, bool) or v < 0:
        raise _bad(f"{where}.{name} must be a non-negative integer", f"{where}.{name}")
    return v


def _constraints(raw: object, where: str) -> dict:
    if raw is None:
        return {"datatype": "string"}
    if not isinstance(raw, dict):
        raise _bad(f"{where} must be an object", where)
    c: dict = {"datatype": raw.get("datatype", raw.get("type", "string"))}
    if c["datatype"] not in DATATYPES:
        raise _bad(f"{where}.datatype must be one of {', '.join(DATATYPES)}", f"{where}.datatype")
    for name in ("minLength", "maxLength"):
        v = _int_or_none(raw, name, where)
        if v is not None:
            c[name] = v
    for name in ("minimum", "maximum"):
        v = raw.get(name)
        if v is not None:
            if not isinstance(v, int | float) or isinstance(v, bool):
                raise _bad(f"{where}.{name} must be a number", f"{where}.{name}")
            c[name] = v
    if raw.get("pattern") is not None:
        try:
            re.compile(raw["pattern"])
        except (re.error, TypeError):
            raise _bad(f"{where}.pattern is not a valid regular expression", f"{where}.pattern") from None
        c["pattern"] = raw["pattern"]
    if raw.get("enum") is not None:
        if not isinstance(raw["enum"], list) or not all(isinstance(e, str) for e in raw["enum"]):
            raise _bad(f"{where}.enum must be a list of strings", f"{where}.enum")
        c["enum"] = raw["enum"]
    return c


def parse_template(body: object) -> dict:
    """A template definition as a client sends it (idnode's ``fields`` or SNMS's ``items``)."""
    if not isinstance(body, dict):
        raise _bad("template must be an object with prefix, version and fields", "template")
    version = check_version(body.get("version"))
    raw_fields = body.get("fields", body.get("items"))
    if not isinstance(raw_fields, list) or not raw_fields:
        raise _bad("template needs a non-empty list of fields", "fields")
    if len(raw_fields) > MAX_FIELDS:
        raise _bad(f"template has {len(raw_fields)} fields; the limit is {MAX_FIELDS}", "fields")
    fields, seen_idx, seen_name = [], set(), set()
    for n, f in enumerate(raw_fields):
        where = f"fields[{n}]"
        if not isinstance(f, dict):
            raise _bad(f"{where} must be an object", where)
        name = f.get("name")
        if not isinstance(name, str) or _NAME_RE.fullmatch(name) is None:
            raise _bad(f"{where}.name must be a string of 1-64 characters", f"{where}.name")
        vtype = f.get("type", f.get("idType", name))
        if not isinstance(vtype, str) or not vtype:
            raise _bad(f"{where}.type must be a non-empty string", f"{where}.type")
        index = f.get("index", f.get("idIndex"))
        if not isinstance(index, int) or isinstance(index, bool) or not USER_DATA_INDEX <= index <= MAX_INDEX:
            raise _bad(f"{where}.index must be an integer ≥ {USER_DATA_INDEX}", f"{where}.index")
        if index in seen_idx or name in seen_name:
            raise _bad(f"{where} repeats index {index} or name {name!r}", where)
        seen_idx.add(index)
        seen_name.add(name)
        required = f.get("required", False)
        if not isinstance(required, bool):
            raise _bad(f"{where}.required must be true or false", f"{where}.required")
        field = {"name": name, "type": vtype, "index": index, "required": required,
                 "constraints": _constraints(f.get("constraints", f.get("metadata")), f"{where}.constraints")}
        state = f.get("state", ENABLED)
        if state not in (ENABLED, DISABLED) or isinstance(state, bool):
            raise _bad(f"{where}.state must be 1 (enabled) or 0 (disabled)", f"{where}.state")
        if state == DISABLED:  # kept only when it says something: the older templates read back unchanged
            field["state"] = DISABLED
        fields.append(field)
    out = {"version": version, "fields": fields}
    for opt in ("name", "industry", "description"):
        if isinstance(body.get(opt), str):
            out[opt] = body[opt]
    out.update(_industry(body))
    kind = body.get("objectType")
    if kind is not None:
        if kind not in OBJECT_TYPES or isinstance(kind, bool):
            raise _bad("objectType must be 1 (active identifier carrier) or 2 (other)", "objectType")
        out["objectType"] = kind
    return out


def _industry(body: dict) -> dict:
    """The GB/T 4754-2017 industry codes a template may carry, four levels that extend each other:
    category ``A``, division ``01``, group ``011``, class ``0111``."""
    out = {}
    parent = ""
    for name, shape in INDUSTRY_LEVELS:
        v = body.get(name)
        if v is None or v == "":
            parent = None
            continue
        if not isinstance(v, str) or re.fullmatch(shape, v) is None:
            raise _bad(f"{name} {v!r} is not a GB/T 4754 code of that level", name)
        if parent and name != "industrySpecific" and not v.startswith(parent):
            raise _bad(f"{name} {v} is not within {parent}", name)
        parent = v if parent is not None else None
        out[name] = v
    return out


def parse_reference(data: bytes) -> tuple[str | None, str]:
    """The TEMPLATE value at index 1001: ``1.0`` (this prefix or above) or ``88.101:1.0``."""
    text = data.decode("utf-8", "replace").strip()
    prefix, sep, version = text.rpartition(":")
    return (prefix if sep else None), check_version(version)


def _check_datum(text: str, c: dict) -> str | None:
    """None when ``text`` satisfies the constraints, else what is wrong."""
    dt = c["datatype"]
    if "minLength" in c and len(text) < c["minLength"]:
        return f"is shorter than {c['minLength']} characters"
    if "maxLength" in c and len(text) > c["maxLength"]:
        return f"is longer than {c['maxLength']} characters"
    if "enum" in c and text not in c["enum"]:
        return f"is not one of {c['enum']}"
    if "pattern" in c and re.fullmatch(c["pattern"], text) is None:
        return f"does not match the pattern {c['pattern']!r}"
    number: float | None = None
    try:
        if dt == "integer":
            number = int(text)
        elif dt == "number":
            number = float(text)
        elif dt == "boolean" and text not in ("true", "false"):
            return "is not true or false"
        elif dt == "date":
            date.fromisoformat(text)
        elif dt == "datetime":
            datetime.fromisoformat(text.replace("Z", "+00:00"))
        elif dt == "url":
            u = urlsplit(text)
            if u.scheme not in ("http", "https") or not u.netloc:
                return "is not an http(s) URL"
        elif dt == "email" and _EMAIL_RE.fullmatch(text) is None:
            return "is not an e-mail address"
    except ValueError:
        return f"is not a valid {dt}"
    if number is not None:
        if "minimum" in c and number < c["minimum"]:
            return f"is below the minimum {c['minimum']}"
        if "maximum" in c and number > c["maximum"]:
            return f"is above the maximum {c['maximum']}"
    return None


def validate(template: dict, values: list[HandleValue]) -> None:
    """Raise INVALID_VALUE naming the first field that the values do not satisfy."""
    label = f"template {template['prefix']} v{template['version']}"
    by_index = {v.index: v for v in values}
    declared = set()
    for f in template["fields"]:
        declared.add(f["index"])
        if f.get("state", ENABLED) == DISABLED:
            continue
        v = by_index.get(f["index"])
        where = f"{f['name']} (index {f['index']})"
        if v is None:
            if f["required"]:
                raise _bad(f"{where} is required by {label}", f["name"])
            continue
        if v.type != f["type"]:
            raise _bad(f"{where} must have type {f['type']!r}, not {v.type!r} ({label})", f["name"])
        try:
            text = v.data.decode("utf-8")
        except UnicodeDecodeError:
            raise _bad(f"{where} must be text ({label})", f["name"]) from None
        problem = _check_datum(text, f["constraints"])
        if problem:
            raise _bad(f"{where} {problem} ({label})", f["name"])
    extra = sorted(i for i in by_index if i >= USER_DATA_INDEX and i not in declared)
    if extra:
        raise _bad(f"index {extra[0]} is not a field of {label}", "values")
