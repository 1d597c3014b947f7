"""The OpenAPI description of the SNMS-compatible API (resolver/http/snms.py)."""

from __future__ import annotations

from protocol.snms import MAX_BATCH, MAX_DATA_CHARS, MAX_HANDLE, MAX_PASSWORD, MAX_USERNAME

_TAG = ["SNMS-compatible"]
_SEC = [{"bearer": []}, {"handleBasic": []}]


def _envelope(data: dict | None, description: str) -> dict:
    schema: dict = {"type": "object", "required": ["message", "status", "data"], "properties": {
        "message": {"type": "string", "description": "\"success\", or the reason in Chinese"},
        "status": {"type": "integer", "enum": [1, -1, -2, -3, -4],
                   "description": "1 success, -1 not logged in, -2 business failure, -3 no permission, "
                                  "-4 internal error"}}}
    if data is not None:
        schema["properties"]["data"] = {**data, "nullable": True}
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _answers(data: dict | None, description: str) -> dict:
    return {"200": _envelope(data, description + "; a refusal has status -1, -2 or -3 and data null"),
            "500": _envelope(None, "status -4: an internal error")}


def _op(summary: str, data: dict | None, *, body: dict | None = None, params: list | None = None,
        secure: bool = True) -> dict:
    op: dict = {"summary": summary, "tags": _TAG, "responses": _answers(data, "the envelope")}
    if body is not None:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    if params:
        op["parameters"] = params
    if secure:
        op["security"] = _SEC
    return op


def _q(name: str, description: str, max_length: int) -> dict:
    return {"name": name, "in": "query", "required": True, "description": description,
            "schema": {"type": "string", "maxLength": max_length}}


_LOGIN = {"type": "object", "required": ["username", "password"], "properties": {
    "username": {"type": "string", "maxLength": MAX_USERNAME,
                 "description": "an identity of the node (300:0.NA/88.101.5), or a prefix for its admin (88.101.5)"},
    "password": {"type": "string", "maxLength": MAX_PASSWORD}}}
_TOKEN = {"type": "object", "properties": {"token": {"type": "string"}}}
_METADATA = {"type": "object", "required": ["minLength", "maxLength"], "properties": {
    "type": {"type": "string", "enum": ["string"]}, "minLength": {"type": "integer", "minimum": 0},
    "maxLength": {"type": "integer", "minimum": 0}}}
_ITEM = {"type": "object", "required": ["name", "idType", "metadata"], "properties": {
    "name": {"type": "string", "description": "中文名称"}, "idType": {"type": "string", "description": "the value type"},
    "idIndex": {"oneOf": [{"type": "integer", "minimum": 2000}, {"type": "string"}],
                "description": "from 2000 (v5); the next free one when absent"},
    "required": {"type": "boolean"}, "state": {"type": "integer", "enum": [0, 1], "description": "0 disabled (v5)"},
    "metadata": _METADATA}}
_TEMPLATE = {"type": "object", "required": ["prefix", "version", "industryCategory", "industrySpecific",
                                            "industryTrade", "industrySubclass", "type", "items"], "properties": {
    "prefix": {"type": "string"}, "version": {"type": "string"}, "name": {"type": "string"},
    "industryCategory": {"type": "string", "description": "GB/T 4754 门类, e.g. C"},
    "industrySpecific": {"type": "string", "description": "大类, e.g. 34"},
    "industryTrade": {"type": "string", "description": "中类, e.g. 344"},
    "industrySubclass": {"type": "string", "description": "小类, e.g. 3441"},
    "type": {"type": "integer", "enum": [1, 2], "description": "1 active identifier carrier, 2 other"},
    "description": {"type": "string"}, "items": {"type": "array", "minItems": 1, "items": _ITEM}}}
_TEMPLATE_KEY = {"type": "object", "required": ["prefix", "version"], "properties": {
    "prefix": {"type": "string"}, "version": {"type": "string"}}}
_VALUE = {"type": "object", "required": ["index", "type", "data"], "properties": {
    "index": {"type": "integer", "description": "a field of the template (from 2000); 1001 is reserved"},
    "type": {"type": "string", "description": "the field's idType"}, "auth": {"type": "string"},
    "data": {"type": "object", "required": ["value"], "properties": {
        "format": {"type": "string", "enum": ["string"]}, "value": {"type": "string", "maxLength": MAX_DATA_CHARS}}}}}
_RECORD = {"type": "object", "required": ["handle", "templateVersion", "value"], "properties": {
    "handle": {"type": "string", "maxLength": MAX_HANDLE}, "templateVersion": {"type": "string"},
    "value": {"type": "array", "minItems": 1, "items": _VALUE}}}
_RESULTS = {"type": "array", "items": {"type": "object", "properties": {
    "handle": {"type": "string", "nullable": True}, "msg": {"type": "string"},
    "code": {"type": "integer", "description": "batchDelete only"}}}}
_BATCH = {"type": "array", "minItems": 1, "maxItems": MAX_BATCH, "items": _RECORD}


def snms_paths() -> dict:
    tpl_q = [_q("prefix", "the prefix", 64), _q("version", "the template version", 128)]

    def templates(v5: bool) -> dict:
        out = {
            "get": _op("查询数据模板: a template by prefix and version", {"type": "object"}, params=tpl_q),
            "post": _op("新增数据模板: publish a template (the node admin or the prefix's admin)", {"type": "boolean"},
                        body=_TEMPLATE),
            "delete": _op("删除数据模板", {"type": "boolean"}, body=_TEMPLATE_KEY)}
        if v5:
            out["put"] = _op("修改数据模板: change a template; items are updated incrementally, never removed",
                             {"type": "boolean"}, body=_TEMPLATE)
        return out

    return {
        "/identity/token": {"post": _op("身份认证 (明文): a 24-hour bearer token for an identity's secret", _TOKEN,
                                        body=_LOGIN, secure=False)},
        "/identity/token/v1": {"post": _op(
            "身份认证 (密文): password = sha256hex(sha256hex(secret) + yyyy-MM-dd), the day in UTC+8", _TOKEN,
            body=_LOGIN, secure=False)},
        "/snms/api/v5/template": templates(True),
        "/snms/api/v3/template": templates(False),
        "/identityv2/data/detail": {"get": _op("查询标识", {"type": "object"},
                                               params=[_q("handle", "the identifier", MAX_HANDLE)])},
        "/identityv2/data": {
            "post": _op("注册标识: register an identifier, checked against its template", {"type": "boolean"},
                        body=_RECORD),
            "put": _op("更新标识: replace the named values of an identifier", {"type": "boolean"}, body=_RECORD),
            "delete": _op("删除标识", {"type": "boolean"}, body={
                "type": "object", "required": ["handle"], "properties": {"handle": {"type": "string"}}})},
        "/identityv2/data/batchCreate": {"post": _op(
            f"批量注册标识: up to {MAX_BATCH}, a result each; idempotent per identifier", _RESULTS, body=_BATCH)},
        "/identityv2/data/batchUpdate": {"put": _op(f"批量更新标识: up to {MAX_BATCH}", _RESULTS, body=_BATCH)},
        "/identityv2/data/batchDelete": {"delete": _op(
            f"批量删除标识: up to {MAX_BATCH} identifiers, a code and msg each", _RESULTS,
            body={"type": "array", "minItems": 1, "maxItems": MAX_BATCH, "items": {"type": "string"}})},
    }
