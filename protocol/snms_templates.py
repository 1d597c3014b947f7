"""SNMS data templates (数据模板, v5/template.md and v3/template.md) and the node's templates.

A template is one thing whichever API made it: the SNMS body is turned into the node's own
definition (``protocol.templates.parse_template`` checks it), and the node's template is rendered
back in the SNMS shape. The mapping:

=====================  ========================================
SNMS                   the node's template
=====================  ========================================
prefix, version        prefix, version
industryCategory…      industryCategory, industrySpecific, industryTrade, industrySubclass
type (1, 2)            objectType
description            description
items[i].name          fields[i].name
items[i].idType        fields[i].type (the value type a record carries)
items[i].idIndex       fields[i].index (from 2000)
items[i].required      fields[i].required
items[i].state         fields[i].state (0 disabled; absent means 1, enabled)
items[i].metadata      fields[i].constraints {datatype "string", minLength, maxLength}
=====================  ========================================
"""

from __future__ import annotations

from .snms import MISSING_PARAM, fail
from .templates import DISABLED, ENABLED, INDUSTRY_LEVELS, MAX_FIELDS
from .values import MAX_INDEX, USER_DATA_INDEX

TOP_REQUIRED = ("prefix", "version", *(name for name, _ in INDUSTRY_LEVELS), "type", "items")


def _int(v: object, where: str) -> int:
    if isinstance(v, str) and v.strip().isdigit():  # the documentation's own example sends "2000"
        return int(v)
    if not isinstance(v, int) or isinstance(v, bool):
        raise fail(f"{where}必须是整数", where)
    return v


def _metadata(raw: object, where: str) -> dict:
    if not isinstance(raw, dict):
        raise fail(MISSING_PARAM + where, where)
    kind = raw.get("type", "string")
    if kind != "string":
        raise fail(f"{where}.type必须为小写string", f"{where}.type")
    c: dict = {"datatype": "string"}
    for name in ("minLength", "maxLength"):
        if raw.get(name) is None:
            raise fail(MISSING_PARAM + f"{where}.{name}", f"{where}.{name}")
        c[name] = _int(raw[name], f"{where}.{name}")
        if c[name] < 0:
            raise fail(f"{where}.{name}不能为负数", f"{where}.{name}")
    if c["minLength"] > c["maxLength"]:
        raise fail(f"{where}.minLength不能大于maxLength", where)
    return c


def _item(raw: object, n: int, *, with_state: bool) -> tuple[int | None, dict]:
    """(the index asked for, or None) and the node's field for one SNMS item."""
    where = f"items[{n}]"
    if not isinstance(raw, dict):
        raise fail(f"{where}必须是对象", where)
    for name in ("name", "idType"):
        if not isinstance(raw.get(name), str) or not raw[name]:
            raise fail(MISSING_PARAM + f"{where}.{name}", f"{where}.{name}")
    index = raw.get("idIndex")
    if index is not None:
        index = _int(index, f"{where}.idIndex")
        if not USER_DATA_INDEX <= index <= MAX_INDEX:
            raise fail(f"{where}.idIndex需要从{USER_DATA_INDEX}开始", f"{where}.idIndex")
    required = raw.get("required", False)
    if not isinstance(required, bool):
        raise fail(f"{where}.required必须是true或false", f"{where}.required")
    field = {"name": raw["name"], "type": raw["idType"], "required": required,
             "constraints": _metadata(raw.get("metadata"), f"{where}.metadata")}
    if with_state and raw.get("state") is not None:
        state = _int(raw["state"], f"{where}.state")
        if state not in (ENABLED, DISABLED):
            raise fail(f"{where}.state必须为0(禁用)或1(启用)", f"{where}.state")
        if state == DISABLED:
            field["state"] = DISABLED
    return index, field


def _top(body: object) -> dict:
    if not isinstance(body, dict):
        raise fail("请求体必须是数据模板对象", "body")
    for name in TOP_REQUIRED:
        if body.get(name) is None or body.get(name) == "":
            raise fail(MISSING_PARAM + name, name)
    for name in ("prefix", "version"):
        if not isinstance(body[name], str):
            raise fail(f"{name}必须是字符串", name)
    if not isinstance(body["items"], list) or not body["items"]:
        raise fail("items不能为空", "items")
    if len(body["items"]) > MAX_FIELDS:
        raise fail(f"items最多{MAX_FIELDS}项", "items")
    kind = _int(body["type"], "type")
    if kind not in (1, 2):
        raise fail("type必须为1(主动标识载体)或2(其他)", "type")
    out = {"prefix": body["prefix"], "version": body["version"], "objectType": kind}
    for name, _ in INDUSTRY_LEVELS:
        out[name] = body[name]
    if isinstance(body.get("description"), str):
        out["description"] = body["description"]
    if isinstance(body.get("name"), str) and body["name"]:
        out["name"] = body["name"]
    return out


def _next_free(taken: set[int]) -> int:
    i = USER_DATA_INDEX
    while i in taken:
        i += 1
    return i


def from_snms(body: object, *, v5: bool) -> dict:
    """新增数据模板's body as the node's template definition. An item without ``idIndex`` (every
    item in v3) takes the next free index from 2000, in the order sent."""
    out = _top(body)
    parsed = [_item(raw, n, with_state=v5) for n, raw in enumerate(body["items"])]
    taken = {i for i, _ in parsed if i is not None}
    fields = []
    for index, field in parsed:
        if index is None:
            index = _next_free(taken)
            taken.add(index)
        fields.append({**field, "index": index})
    return {**out, "fields": fields}


def revise(old: dict, body: object) -> dict:
    """修改数据模板 (v5 PUT) applied to the stored template: the top fields replaced; items updated
    incrementally. An item whose idIndex and idType name an existing field changes it; any other
    item is a new field (at its idIndex, or the next free one). Fields not named stay as they were
    (a field is never removed, only disabled)."""
    out = _top(body)
    fields = [dict(f) for f in old["fields"]]
    by_index = {f["index"]: f for f in fields}
    taken = set(by_index)
    for n, raw in enumerate(body["items"]):
        index, field = _item(raw, n, with_state=True)
        current = by_index.get(index) if index is not None else None
        if current is not None and current["type"] == field["type"]:
            current.clear()
            current.update({**field, "index": index})
            continue
        if index is not None and index in taken:
            raise fail(f"items[{n}].idIndex {index}已被属性{by_index[index]['type']}使用", f"items[{n}].idIndex")
        if index is None:
            index = _next_free(taken)
        taken.add(index)
        new = {**field, "index": index}
        by_index[index] = new
        fields.append(new)
    return {**out, "fields": fields}


def to_snms(tpl: dict, *, v5: bool) -> dict:
    """查询数据模板's ``data``. Only text fields can be shown this way (the documentation's note:
    a template with a field of another type cannot be read through this API)."""
    items = []
    for f in tpl["fields"]:
        c = f.get("constraints", {})
        if c.get("datatype", "string") != "string":
            raise fail(f"模板包含非字符型属性{f['name']}，不能通过此接口查询", "version")
        item = {"name": f["name"], "idType": f["type"]}
        if v5:
            item["idIndex"] = f["index"]
        item["metadata"] = {"type": "string", "minLength": c.get("minLength", 0), "maxLength": c.get("maxLength", 255)}
        item["required"] = f.get("required", False)
        if v5:
            item["state"] = f.get("state", ENABLED)
        items.append(item)
    out = {"prefix": tpl["prefix"], "name": tpl.get("name", ""), "version": tpl["version"]}
    for name, _ in INDUSTRY_LEVELS:
        out[name] = tpl.get(name, "")
    out["type"] = tpl.get("objectType", 2)
    out["description"] = tpl.get("description", "")
    out["items"] = items
    return out
