"""The SNMS-compatible management API's bodies (国家二级节点管理系统 SNMS 兼容接口), sans-IO.

Enterprise systems written against the public documentation of the reference secondary-node
software (teleinfo-dev/id-guide, docs/dev-tools/snms/) send these bodies; this module turns them
into the node's own operations and values, and the node's answers and refusals back into the
documented envelope ``{"status", "message", "data"}``:

- status 1 success, -1 not logged in, -2 a business failure (the reason, in Chinese, in
  ``message``), -3 no permission, -4 an internal error (attachment.md);
- identifier records ``{handle, templateVersion, value[{index, type, auth, data{format, value}}]}``
  (v5/handle-operate.md); index 1001 is the template reference the node writes itself;
- data templates ``{prefix, version, industryCategory…, type, items[{name, idType, idIndex,
  required, state, metadata{type, minLength, maxLength}}]}`` (v5/template.md, v3/template.md).

No I/O and no clock: the write's time and the day of a login come in as arguments.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import NamedTuple

import msgspec
import orjson

from .batchjson import Operation, Rejected
from .codes import RC, HandleError
from .values import DEFAULT_PERMISSIONS, MAX_INDEX, TEMPLATE_INDEX, TTL_RELATIVE, USER_DATA_INDEX, HandleValue

SUCCESS, NOT_LOGGED_IN, FAILURE, NO_PERMISSION, INTERNAL = 1, -1, -2, -3, -4

# The documented messages (handle-operate.md, identity-auth.md, attachment.md).
OK = "success"
WRONG_LOGIN = "用户名/密码错误！"
NOT_LOGGED_IN_MSG = "没有登录，需要验证"
NO_PERMISSION_MSG = "没有权限"
INTERNAL_MSG = "系统内部错误"
EXISTS = "标识已存在"
NOT_FOUND = "没有找到标识"  # a single delete or update (删除标识)
ABSENT = "标识不存在"  # an item of a batch (批量删除标识)
MISSING_PARAM = "缺少必要的请求参数: "

MAX_BATCH = 2000
MAX_USERNAME = 50  # identity-auth.md
MAX_PASSWORD = 64
MAX_HANDLE = 255  # handle-operate.md
MAX_DATA_CHARS = 255
MAX_TYPE_CHARS = 128
DEFAULT_TTL = 86400


class SnmsError(HandleError):
    """A refusal worded as the SNMS documentation words it: ``status`` and the Chinese ``message``."""

    def __init__(self, status: int, message: str, rc: int = RC.INVALID_VALUE, field: str | None = None):
        super().__init__(rc, message, field=field)
        self.snms_status = status


def fail(message: str, field: str | None = None) -> SnmsError:
    return SnmsError(FAILURE, message, field=field)


def envelope(status: int, message: str, data: object = None) -> dict:
    return {"message": message, "status": status, "data": data}


def success(data: object = True) -> dict:
    return envelope(SUCCESS, OK, data)


def loads(raw: bytes) -> object:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise fail("请求体不是合法的JSON", "body") from None


# --- login (identity-auth.md) --------------------------------------------------------------------

class Login(NamedTuple):
    username: str
    password: str


def parse_login(raw: bytes) -> Login:
    body = loads(raw)
    if not isinstance(body, dict):
        raise fail('请求体必须是 {"username", "password"}', "body")
    for name, limit in (("username", MAX_USERNAME), ("password", MAX_PASSWORD)):
        v = body.get(name)
        if not isinstance(v, str) or not v:
            raise fail(MISSING_PARAM + name, name)
        if len(v) > limit:
            raise fail(f"{name}长度不能超过{limit}", name)
    return Login(body["username"], body["password"])


def identity_of(username: str) -> tuple[int, str]:
    """The node identity a user name names: ``300:0.NA/88.101.5`` as it is, or a bare prefix
    ``88.101.5`` for its admin (``300:0.NA/88.101.5``)."""
    idx, sep, handle = username.partition(":")
    if sep:
        if not idx.isdigit() or "/" not in handle:
            raise SnmsError(FAILURE, WRONG_LOGIN, RC.AUTHENTICATION_FAILED, "username")
        return int(idx), handle
    if "/" in username or not re.fullmatch(r"[^\s:]+", username):
        raise SnmsError(FAILURE, WRONG_LOGIN, RC.AUTHENTICATION_FAILED, "username")
    return 300, "0.NA/" + username


def sha256hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def dated_password(secret: str, day: str) -> str:
    """``/identity/token/v1``'s password: sha256hex(sha256hex(secret) + day), day as ``yyyy-MM-dd``."""
    return sha256hex(sha256hex(secret) + day)


def dated_password_matches(secret: str, sent: str, days: list[str]) -> bool:
    """Whether ``sent`` is the dated password of ``secret`` for one of ``days`` (compared in constant
    time; hex in either case)."""
    sent_b = sent.lower().encode()
    ok = False
    for day in days:
        ok |= hmac.compare_digest(dated_password(secret, day).encode(), sent_b)
    return ok


# --- identifier records (handle-operate.md) ------------------------------------------------------

def _record_values(item: dict, now: int) -> list[HandleValue]:
    raw = item.get("value")
    if not isinstance(raw, list) or not raw:
        raise fail(MISSING_PARAM + "value", "value")
    out = []
    for n, v in enumerate(raw):
        if not isinstance(v, dict):
            raise fail(f"value[{n}]必须是对象", "value")
        index = v.get("index")
        if isinstance(index, str) and index.strip().isdigit():
            index = int(index)
        if not isinstance(index, int) or isinstance(index, bool) or not 0 < index <= MAX_INDEX:
            raise fail(f"value[{n}].index必须是正整数", "index")
        if index == TEMPLATE_INDEX:
            raise fail(f"非法操作，索引{TEMPLATE_INDEX}为预留索引", "index")
        if index < USER_DATA_INDEX:  # a template's fields start at 2000: no template has this one
            raise fail(f"非法操作，索引{index}在模板中不存在", "index")
        vtype = v.get("type")
        if not isinstance(vtype, str) or not vtype or len(vtype) > MAX_TYPE_CHARS:
            raise fail(f"value[{n}].type必须是1-{MAX_TYPE_CHARS}个字符", "type")
        data = v.get("data")
        if not isinstance(data, dict):
            raise fail(MISSING_PARAM + f"value[{n}].data", "data")
        fmt = data.get("format", "string")
        if fmt != "string":
            raise fail(f"非法操作，标识属性内容格式只支持string，索引{index}为{fmt}", "format")
        text = data.get("value")
        if not isinstance(text, str):
            raise fail(MISSING_PARAM + f"value[{n}].data.value", "value")
        if len(text) > MAX_DATA_CHARS:
            raise fail(f"非法操作，索引{index}的值超过{MAX_DATA_CHARS}个字符", "value")
        out.append(HandleValue(index, vtype, text.encode("utf-8"), DEFAULT_TTL, TTL_RELATIVE, now,
                               DEFAULT_PERMISSIONS, (), "string"))
    return out


def _handle(item: dict) -> str:
    handle = item.get("handle")
    if not isinstance(handle, str) or not handle:
        raise fail(MISSING_PARAM + "handle", "handle")
    if len(handle) > MAX_HANDLE or "/" not in handle:
        raise SnmsError(FAILURE, f"标识格式错误：{handle[:MAX_HANDLE]}", RC.INVALID_HANDLE, "handle")
    return handle


def _operation(op: str, item: object, now: int) -> Operation:
    if not isinstance(item, dict):
        raise fail("每条标识必须是对象 {handle, templateVersion, value}", "body")
    handle = _handle(item)
    version = item.get("templateVersion")
    if not isinstance(version, str) or not version:
        raise fail(MISSING_PARAM + "templateVersion", "templateVersion")
    return Operation(op, handle, _record_values(item, now), None, version)


def decode_record(raw: bytes, op: str, now: int) -> list[Operation | Rejected]:
    """One record (注册标识 / 更新标识) as a batch of one."""
    return [_operation(op, loads(raw), now)]


def _batch_list(raw: bytes) -> list:
    body = loads(raw)
    if not isinstance(body, list):
        raise fail("请求体必须是JSON数组", "body")
    if not body:
        raise fail("批量数据不能为空", "body")
    if len(body) > MAX_BATCH:
        raise fail(f"批量操作最多支持{MAX_BATCH}条，本次{len(body)}条", "body")
    return body


# The common shape of a batch, decoded straight into structs (as protocol/batchjson.py does for
# /api/batch): decoding 2,000 records into dicts and walking them was a fifth of a batch's cost. Any
# body outside it, or with a mistake, takes the exact path, which names the problem item by item.
class _Data(msgspec.Struct, gc=False):
    value: str
    format: str = "string"


class _Value(msgspec.Struct, gc=False):
    index: int
    type: str
    data: _Data
    auth: str | None = None


class _Record(msgspec.Struct, gc=False):
    handle: str
    templateVersion: str  # noqa: N815 (the documented field name)
    value: list[_Value]


_records = msgspec.json.Decoder(list[_Record])
_new = tuple.__new__


def _fast(raw: bytes, op: str, now: int) -> list[Operation | Rejected] | None:
    try:
        recs = _records.decode(raw)
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None
    if not 0 < len(recs) <= MAX_BATCH:
        return None
    out: list[Operation | Rejected] = []
    for r in recs:
        h = r.handle
        if not r.value or not r.templateVersion or not 0 < len(h) <= MAX_HANDLE or "/" not in h:
            return None
        values = []
        for v in r.value:
            i, d = v.index, v.data
            if (not USER_DATA_INDEX <= i <= MAX_INDEX or d.format != "string" or len(d.value) > MAX_DATA_CHARS
                    or not 0 < len(v.type) <= MAX_TYPE_CHARS):
                return None
            values.append(_new(HandleValue, (i, v.type, d.value.encode(), DEFAULT_TTL, TTL_RELATIVE, now,
                                             DEFAULT_PERMISSIONS, (), "string")))
        out.append(Operation(op, h, values, None, r.templateVersion))
    return out


def decode_records(raw: bytes, op: str, now: int) -> list[Operation | Rejected]:
    """A batch (批量注册标识 / 批量更新标识): an operation per item, or why an item cannot be one."""
    fast = _fast(raw, op, now)
    if fast is not None:
        return fast
    out: list[Operation | Rejected] = []
    for item in _batch_list(raw):
        try:
            out.append(_operation(op, item, now))
        except HandleError as e:
            h = item.get("handle") if isinstance(item, dict) else None
            out.append(Rejected(h if isinstance(h, str) else None, e))
    return out


def decode_delete(raw: bytes) -> str:
    """删除标识's body ``{"handle"}``."""
    body = loads(raw)
    if not isinstance(body, dict):
        raise fail('请求体必须是 {"handle"}', "body")
    return _handle(body)


def decode_deletes(raw: bytes, now: int) -> list[Operation | Rejected]:
    """批量删除标识's body: a JSON array of handles."""
    out: list[Operation | Rejected] = []
    for h in _batch_list(raw):
        if not isinstance(h, str) or not h:
            out.append(Rejected(None, fail("标识必须是字符串", "handle")))
        else:
            out.append(Operation("delete", h, None, None, None))
    return out


def render_record(handle: str, values: list[HandleValue]) -> dict:
    """查询标识's ``data``: the record's text values (not the node's administrative ones)."""
    prefix = handle.partition("/")[0]
    version = ""
    out = []
    for v in values:
        if v.type.startswith("HS_"):
            continue
        text = v.data.decode("utf-8", "replace")
        if v.index == TEMPLATE_INDEX:
            version = text.rpartition(":")[2]
        out.append({"data": {"format": "string", "value": text}, "auth": "1", "index": v.index, "type": v.type})
    return {"code": "200", "prefix": prefix, "handle": handle, "templateVersion": version, "value": out}


# --- the node's refusals, worded as SNMS words them ----------------------------------------------

_TEMPLATE_PROBLEMS = [
    (re.compile(r"index (\d+) is not a field of"), "非法操作，索引{0}在模板中不存在"),
    (re.compile(r"\(index (\d+)\) is required by"), "非法操作，索引{0}为模板必填项"),
    (re.compile(r"\(index (\d+)\) must have type '([^']*)'"), "非法操作，索引{0}的类型必须为{1}"),
    (re.compile(r"\(index (\d+)\) is (?:shorter|longer) than (\d+)"), "非法操作，索引{0}的值长度不符合模板限制({1})"),
    (re.compile(r"\(index (\d+)\) (.*)"), "非法操作，索引{0}的值不符合模板限制：{1}"),
    (re.compile(r"no template version (\S+) for prefix (\S+)"), "数据模板不存在：{1} {0}"),
]


def reason(err: HandleError, *, batch_item: bool = False) -> tuple[int, str]:
    """(status, message) for a refusal of the node's service."""
    if isinstance(err, SnmsError):
        return err.snms_status, err.message
    rc = err.rc
    retry = getattr(err, "retry_after", None)
    if rc == RC.UNABLE_TO_AUTHENTICATE and retry is not None:
        return FAILURE, f"登录失败次数过多，请{retry}秒后再试"
    if rc == RC.SERVER_TOO_BUSY:
        return FAILURE, "系统繁忙" if retry is None else f"系统繁忙，请{retry}秒后再试"
    if rc in (RC.AUTHENTICATION_NEEDED, RC.AUTHENTICATION_FAILED, RC.INVALID_CREDENTIAL):
        return NOT_LOGGED_IN, NOT_LOGGED_IN_MSG
    if rc in (RC.NOT_AUTHORIZED, RC.ACCESS_DENIED):
        return NO_PERMISSION, NO_PERMISSION_MSG
    if rc == RC.HANDLE_ALREADY_EXISTS:
        return FAILURE, EXISTS
    if rc == RC.HANDLE_NOT_FOUND:
        return FAILURE, ABSENT if batch_item else NOT_FOUND
    if rc == RC.SERVER_NOT_RESPONSIBLE:
        return FAILURE, "前缀不由本节点服务"
    if rc == RC.INVALID_HANDLE:
        return FAILURE, "标识格式错误"
    if rc == RC.SERVER_BACKUP:
        return FAILURE, "本节点为只读镜像，请求主节点"
    if rc == RC.INVALID_VALUE:
        for pattern, text in _TEMPLATE_PROBLEMS:
            m = pattern.search(err.message)
            if m is not None:
                return FAILURE, text.format(*m.groups())
        return FAILURE, f"非法操作：{err.message}"
    if rc == RC.ERROR:
        return INTERNAL, INTERNAL_MSG
    return FAILURE, f"业务失败：{err.message}"
