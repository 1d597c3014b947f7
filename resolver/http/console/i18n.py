"""One message catalogue for the public pages and the console: Chinese first, English by choice.

Why a catalogue module rather than gettext ``.po``/``.mo`` files (Babel): the node speaks two languages,
the strings are few, and a Python mapping needs no compile step, no extraction tool in the build and no
files that can drift from the code; ``tests/test_console_i18n.py`` checks that every key has both
languages and that every key a template names exists. A third language is one more column.

Keys are short English names; a missing key is a bug (KeyError in tests), never a silent fallback.
"""

from __future__ import annotations

from collections.abc import Mapping

from protocol.codes import RC, HandleError
from protocol.digitallink import accept_languages

LANGS = ("zh", "en")
DEFAULT = "zh"

# key: (Chinese, English)
MESSAGES: dict[str, tuple[str, str]] = {
    # public record page
    "record.title": ("标识信息", "Identifier record"),
    "record.none": ("没有公开信息。", "No public information."),
    "record.enterprise": ("企业", "Enterprise"),
    "record.template": ("数据模板", "Data template"),
    "record.lifecycle": ("生命周期", "Lifecycle"),
    "record.full_trace": ("完整追溯", "Full trace"),
    "record.scan_again": ("扫码访问本页", "Scan to open this page"),
    "record.json": ("机器可读（JSON）", "Machine-readable (JSON)"),
    "record.not_found": ("未找到该标识。", "This identifier was not found."),
    "record.error": ("无法显示该标识", "This identifier cannot be shown"),
    # trace page
    "trace.title": ("产品追溯", "Product trace"),
    "trace.state": ("当前状态", "Current state"),
    "trace.timeline": ("时间线", "Timeline"),
    "trace.none": ("暂无事件。", "No events yet."),
    "trace.made_from": ("原料与部件", "Made from"),
    "trace.went_into": ("去向", "Went into"),
    "trace.parts_elsewhere": ("其他节点追溯的部件", "Parts traced at other nodes"),
    "trace.no_events_there": ("该节点没有事件。", "No events there."),
    "trace.answered_by": ("来源节点", "answered by"),
    "trace.node": ("节点", "node"),
    "trace.not_reached": ("未能查询", "Not reached"),
    "trace.no_node": ("未找到节点", "no node found"),
    "trace.corrections": ("{n} 条被声明有误的事件未显示。", "{n} event(s) declared erroneous are left out."),
    "trace.withheld": ("{by} 记录的 {n} 条事件不公开。", "{n} event(s) recorded by {by} are not public."),
    "trace.cut": ("未显示：{note}", "Not shown: {note}"),
    "trace.inside": ("随 {via} 一起", "inside {via}"),
    "trace.removed": ("于 {when} 拆下", "removed {when}"),
    "trace.lineage": ("谱系图", "Lineage"),
    "trace.ours": ("本节点记录", "recorded here"), "trace.theirs": ("其他节点记录", "recorded by another node"),
    "trace.json": ("机器可读（JSON）", "Machine-readable (JSON)"),
    "state.disposition": ("状态", "Disposition"),
    "state.location": ("位置", "Location"),
    "state.container": ("所在包装", "Container"),
    "state.lastEvent": ("最近事件", "Last event"),
    "rel.input": ("原料", "input"), "rel.output": ("产出", "output"),
    "rel.child": ("部件", "part"), "rel.parent": ("装入", "put into"),
    "rel.part": ("部件", "part"), "rel.container": ("包装", "container"),
    # event types and actions
    "ev.ObjectEvent": ("对象事件", "Object event"),
    "ev.AggregationEvent": ("聚合事件", "Aggregation event"),
    "ev.TransformationEvent": ("转换事件", "Transformation event"),
    "ev.TransactionEvent": ("交易事件", "Transaction event"),
    "ev.AssociationEvent": ("关联事件", "Association event"),
    "act.ADD": ("新增", "add"), "act.OBSERVE": ("观察", "observe"), "act.DELETE": ("移除", "remove"),
    # value types an outsider may meet
    "type.URL": ("网址", "Web address"), "type.EMAIL": ("电子邮箱", "Email"),
    "type.GS1": ("GS1 代码", "GS1 key"), "type.DESC": ("描述", "Description"),
    # the console
    "c.signin": ("登录", "Sign in"), "c.signout": ("退出", "Sign out"),
    "c.identity": ("身份（索引:标识）", "Identity (index:handle)"), "c.secret": ("密钥", "Secret"),
    "c.signin_help": ("企业管理员身份为 300:0.NA/企业前缀，密钥为分配前缀时获得的密钥。",
                      "An enterprise's admin identity is 300:0.NA/<its prefix>, with the secret given when the "
                      "prefix was allocated."),
    "c.signin_key": ("用私钥登录", "Sign in with a key"),
    "c.signin_secret": ("用密钥登录", "Sign in with the secret"),
    "c.key_next": ("下一步", "Next"),
    "c.key_help": ("身份的 HS_PUBKEY 须为 RSA 公钥；在浏览器中用对应的私钥文件（PKCS#8 PEM）签名。浏览器不支持 DSA 密钥。",
                   "The identity's HS_PUBKEY must be an RSA key; this browser signs with its private key file "
                   "(PKCS#8 PEM). Browsers cannot sign with DSA keys."),
    "c.key_file": ("私钥文件（PKCS#8 PEM，RSA）", "Private key file (PKCS#8 PEM, RSA)"),
    "c.key_stays": ("私钥只在本浏览器中使用，不会发送给节点。", "The key is used in this browser only; it is not sent to the node."),
    "c.key_no_file": ("请选择私钥文件。", "Pick the private key file."),
    "c.key_bad": ("无法用此文件签名：须为 PKCS#8 PEM 格式的 RSA 私钥（-----BEGIN PRIVATE KEY-----）。",
                  "Cannot sign with this file: it must be an RSA private key in PKCS#8 PEM "
                  "(-----BEGIN PRIVATE KEY-----)."),
    "c.key_no_crypto": ("此浏览器在此地址无法签名（WebCrypto 仅在 HTTPS 或本机地址可用）。",
                        "This browser cannot sign here (WebCrypto needs HTTPS, or a loopback address)."),
    "c.session_ended": ("会话已结束，请重新登录。", "The session has ended; please sign in again."),
    "c.csrf": ("表单已失效（缺少或错误的 CSRF 令牌），请刷新页面后重试。",
               "The form is no longer valid (missing or wrong CSRF token); reload the page and try again."),
    "c.refused": ("操作被拒绝", "Refused"), "c.back": ("返回", "Back"),
    "c.handles": ("标识", "Identifiers"), "c.register": ("注册标识", "Register"),
    "c.templates": ("数据模板", "Templates"), "c.template": ("数据模板", "Data template"),
    "c.batch": ("批量注册", "Batch upload"), "c.trace": ("追溯", "Trace"),
    "c.search": ("搜索", "Search"), "c.total": ("共 {n} 个标识", "{n} identifiers"), "c.none": ("无", "None"),
    "c.prev": ("上一页", "Previous"), "c.next": ("下一页", "Next"),
    "c.public_page": ("公开页面", "Public page"), "c.type": ("类型", "Type"), "c.data": ("数据", "Data"),
    "c.delete": ("删除该标识", "Delete this identifier"), "c.deleted": ("已删除", "Deleted"),
    "c.deleted_one": ("已删除 {handle}", "{handle} was deleted"),
    "c.choose": ("选择", "Choose"), "c.suffix": ("标识后缀", "Suffix"),
    "c.url": ("网址（扫码后跳转，可选）", "Web address (a scan goes there; optional)"),
    "c.need_suffix": ("需要标识后缀", "a suffix is needed"),
    "c.no_templates": ("该前缀还没有数据模板。", "This prefix has no data template yet."),
    "c.new_template": ("新建数据模板", "New template"), "c.version": ("版本", "Version"),
    "c.name": ("名称", "Name"), "c.fields": ("字段", "Fields"), "c.save": ("保存", "Save"),
    "c.fields_help": ("每行一个字段：名称 | 值类型 | 索引（2000 起）| required 或 optional | 数据类型（string、integer、"
                      "number、boolean、date、datetime、url、email）",
                      "One field per line: name | value type | index (from 2000) | required or optional | datatype "
                      "(string, integer, number, boolean, date, datetime, url, email)"),
    "c.csv_file": ("CSV 或 Excel（.xlsx）文件", "CSV or Excel (.xlsx) file"),
    "c.export": ("导出 CSV", "Export CSV"),
    "c.status": ("节点状态", "Node status"), "c.health": ("健康与关键指标", "Health and key metrics"),
    "c.node": ("节点", "Node"), "c.mirror_of": ("{of} 的镜像", "mirror of {of}"),
    "c.last_sequence": ("变更日志序号", "Change log sequence"),
    "c.availability": ("今日可用性", "Availability today"),
    "c.resolution_ms": ("解析耗时（平均 / 最大，毫秒）", "Resolution time (mean / max, ms)"),
    "c.peak": ("今日峰值（次/秒）", "Peak today (per second)"),
    "c.federation": ("联邦（上级节点）", "Federation (upstreams)"),
    "c.outbox": ("待发送 {n} 条，最早的已等待 {age} 秒", "{n} entries waiting, the oldest for {age} s"),
    "c.upstream": ("上级节点", "Upstream"), "c.waiting": ("待发送", "Waiting"),
    "c.last_ok": ("最近成功", "Last delivered"), "c.last_error": ("最近错误", "Last error"),
    "c.no_upstreams": ("未配置上级节点。", "No upstream is configured."),
    "c.mirrors": ("镜像及其延迟", "Mirrors and their lag"), "c.applied": ("已应用序号", "Applied"),
    "c.lag": ("落后条数", "Behind (entries)"), "c.seen_ago": ("上次请求（秒前）", "Last asked (s ago)"),
    "c.report_preview": ("应上报顶级节点的统计（{day}，预览）", "Statistics owed to the top-level node ({day}, preview)"),
    "c.report_note": ("报告按计划自动发送；也可用下面的按钮或 idnode report send 立即发送。",
                      "Sent on schedule; or now, with the button below or idnode report send."),
    "c.stats": ("统计", "Statistics"), "c.st_days": ("天数", "Days"), "c.st_show": ("显示", "Show"),
    "c.st_range": ("{first} 至 {last}（UTC 日）", "{first} to {last} (UTC days)"),
    "c.st_registrations": ("每日注册量", "Registrations per day"), "c.st_registered": ("注册", "registered"),
    "c.st_registered_n": ("期间共注册 {n} 个标识", "{n} identifiers registered in the period"),
    "c.st_resolutions": ("每日解析量", "Resolutions per day"), "c.st_requests": ("请求", "requests"),
    "c.st_resolved": ("成功", "answered"),
    "c.st_requests_n": ("期间共 {n} 次解析请求，成功 {ok} 次", "{n} resolution requests in the period, {ok} answered"),
    "c.st_sources": ("主要请求来源", "Top sources"), "c.st_other": ("其他来源", "other sources"),
    "c.st_unknown": ("来源未知", "source unknown"),
    "c.st_top_ids": ("解析最多的标识", "Top identifiers"),
    "c.st_note": ("统计来自节点为上报顶级节点而保存的每日计数；每个前缀每天保留解析最多的 100 个标识。",
                  "From the daily counts the node keeps for its reports to the top-level node; the 100 "
                  "identifiers resolved most are kept per prefix and day."),
    "c.export_part": ("导出第 {first}–{last} 个（CSV）", "Export {first}–{last} (CSV)"),
    "c.csv_help": ("第一行为列名：suffix（或 handle）、可选的 URL，以及模板的字段名称；之后每行一个标识。CSV 为 UTF-8 或 GB 18030 编码；Excel 读取第一个工作表。",
                   "The first row names the columns: suffix (or handle), optionally URL, and the template's field "
                   "names; then one identifier per row. CSV in UTF-8 or GB 18030, or the first sheet of an "
                   ".xlsx workbook."),
    "c.upload": ("上传并注册", "Upload and register"), "c.rows": ("共 {n} 行", "{n} rows"),
    "c.progress": ("已处理 {done} / {total}", "{done} of {total} done"),
    "c.batch_done": ("完成：共 {total} 行，成功 {created}，拒绝 {refused}。",
                     "Finished: {total} rows, {created} registered, {refused} refused."),
    "c.report": ("下载被拒绝行的报告（CSV）", "Download the report of refused rows (CSV)"),
    "c.row": ("行", "Row"), "c.handle": ("标识", "Identifier"), "c.reason": ("原因", "Reason"),
    "c.identifier": ("标识或 EPC", "Identifier or EPC"),
    "c.prefixes": ("企业前缀", "Prefixes"), "c.audit": ("审计日志", "Audit trail"),
    "c.lockouts": ("锁定", "Lock-outs"), "c.tokens": ("令牌", "Tokens"),
    "c.allocated": ("已分配前缀 {prefix}", "Prefix {prefix} allocated"),
    "c.secret_once": ("密钥（只显示这一次）：", "Its secret (shown this once):"),
    "c.prefix": ("前缀", "Prefix"), "c.prefix_auto": ("留空则自动分配", "empty: the next free one"),
    "c.owner_name": ("企业名称", "Enterprise name"), "c.contact": ("联系人", "Contact"),
    "c.email": ("电子邮箱", "Email"), "c.secret_auto": ("留空则自动生成", "empty: one is made"),
    "c.allocate": ("分配前缀", "Allocate"), "c.state": ("状态", "State"), "c.count": ("标识数", "Identifiers"),
    "c.enabled": ("启用", "enabled"), "c.disabled": ("已停用", "disabled"),
    "c.enable": ("启用", "Enable"), "c.disable": ("停用", "Disable"),
    "c.filter": ("筛选", "Filter"), "c.time": ("时间", "Time"), "c.target": ("对象", "Target"),
    "c.cleared": ("已解除 {who} 的锁定", "The lock-out of {who} is cleared"),
    "c.lockout_kind": ("锁定对象", "Locked out"), "c.lockout_target": ("身份或 IP 地址", "Identity or IP address"),
    "c.clear": ("解除锁定", "Clear"), "c.expires": ("过期时间", "Expires"), "c.revoke": ("吊销", "Revoke"),
    "c.revoked": ("已吊销令牌 {id}", "Token {id} revoked"),
    "audit.since": ("起始时间", "Since"), "audit.until": ("截止时间", "Until"), "audit.identity": ("身份", "Identity"),
    "audit.handle": ("标识", "Handle"), "audit.prefix": ("前缀", "Prefix"), "audit.result": ("结果", "Result"),
    "audit.op": ("操作", "Operation"), "audit.client": ("客户端地址", "Client address"),
    "owner.name": ("企业名称", "Enterprise name"), "owner.contact": ("联系人", "Contact"),
    "owner.email": ("电子邮箱", "Email"), "owner.phone": ("电话", "Phone"), "owner.address": ("地址", "Address"),
    "owner.organizationCode": ("组织机构代码", "Organization code"), "owner.industry": ("行业", "Industry"),
    "owner.creditCode": ("统一社会信用代码", "Unified social credit code"), "owner.website": ("网站", "Website"),
    "owner.note": ("备注", "Note"), "owner.nature": ("单位性质", "Nature of the organisation"),
    "owner.legalRepresentative": ("法定代表人", "Legal representative"),
    "owner.industries": ("所属行业（GB/T 4754 代码）", "Industries (GB/T 4754 codes)"),
    "owner.websiteName": ("网站名称", "Website name"), "owner.domain": ("域名", "Domain"),
    "owner.ipv4": ("IPv4 地址", "IPv4 address"), "owner.ipv6": ("IPv6 地址", "IPv6 address"),
    "c.edit": ("编辑", "Edit"), "c.edit_title": ("编辑 {handle}", "Edit {handle}"),
    "c.no_template_record": ("该标识未使用数据模板，请通过 API 修改。", "this identifier has no data template: edit it through the API"),
    "c.retire": ("停用此版本", "Retire this version"),
    "c.retire_help": ("停用后不能再用此版本注册新标识；已注册标识的数据保持不变。",
                      "Once retired, the version takes no new identifiers; those registered keep their values."),
    "c.rotate": ("更换密钥", "Rotate the secret"),
    "c.rotated": ("已为前缀 {prefix} 生成新密钥，旧密钥及其会话已失效。",
                  "A new secret for {prefix}; the old one and its sessions no longer work."),
    "c.reports_send": ("立即上报", "Send now"),
    "c.reports_queued": ("已排队 {n} 份报告，节点将从发件箱发送。", "{n} report(s) queued; the node sends them from its outbox."),
    # an enterprise's owner details and logo
    "c.owner": ("企业信息", "Enterprise details"), "c.owner_details": ("主体信息", "Owner details"),
    "c.owner_help": ("这些信息随统计报告上报顶级节点；企业名称和标志显示在公开页面上。",
                     "These details go to the top-level node with the reports; the name and logo show on the "
                     "public pages."),
    "c.owner_saved": ("企业信息已保存。", "The details are saved."),
    "c.logo": ("企业标志", "Logo"), "c.logo_none": ("尚未上传标志。", "No logo yet."),
    "c.logo_file": ("标志图片", "Logo image"),
    "c.logo_help": ("PNG、JPEG 或 WebP，不超过 {kb} KB，边长不超过 4096 像素；保存为 256 像素以内的 PNG。",
                    "PNG, JPEG or WebP, at most {kb} KB and 4096 pixels a side; kept as a PNG of at most 256 "
                    "pixels."),
    "c.logo_upload": ("上传标志", "Upload the logo"), "c.logo_remove": ("删除标志", "Remove the logo"),
    "c.logo_saved": ("标志已更新。", "The logo is updated."), "c.logo_removed": ("标志已删除。", "The logo is removed."),
    "c.logo_choose": ("请选择一张图片", "choose an image"),
    # common
    "lang.other": ("English", "中文"),
    "footer.node": ("工业互联网标识解析二级节点", "Industrial internet identifier resolution node"),
    "time.utc_note": ("（UTC）", " (UTC)"),
}

# The CBV 2.0 business steps and dispositions (GS1 Core Business Vocabulary), as a shopper reads them.
BIZ_STEPS: dict[str, tuple[str, str]] = {
    "accepting": ("验收", "Accepted"), "arriving": ("到达", "Arrived"), "assembling": ("组装", "Assembled"),
    "collecting": ("回收收集", "Collected"), "commissioning": ("赋码登记", "Commissioned"),
    "consigning": ("寄售", "Consigned"), "creating_class_instance": ("批次创建", "Batch created"),
    "cycle_counting": ("盘点", "Cycle count"), "decommissioning": ("注销", "Decommissioned"),
    "departing": ("出发", "Departed"), "destroying": ("销毁", "Destroyed"), "disassembling": ("拆解", "Disassembled"),
    "dispensing": ("分发", "Dispensed"), "encoding": ("编码", "Encoded"), "entering_exiting": ("出入", "Entered/exited"),
    "holding": ("暂扣", "Held"), "inspecting": ("检验", "Inspected"), "installing": ("安装", "Installed"),
    "killing": ("停用标签", "Tag killed"), "loading": ("装车", "Loaded"), "other": ("其他", "Other"),
    "packing": ("装箱", "Packed"), "picking": ("拣货", "Picked"), "receiving": ("收货", "Received"),
    "removing": ("移除", "Removed"), "repackaging": ("重新包装", "Repackaged"), "repairing": ("维修", "Repaired"),
    "replacing": ("更换", "Replaced"), "reserving": ("预留", "Reserved"), "retail_selling": ("零售", "Sold"),
    "sampling": ("抽样", "Sampled"), "sensor_reporting": ("传感器上报", "Sensor report"),
    "shipping": ("发货", "Shipped"), "staging_outbound": ("待发", "Staged for shipping"),
    "stock_taking": ("盘库", "Stock taken"), "stocking": ("上架", "Stocked"), "storing": ("入库", "Stored"),
    "transporting": ("运输", "Transported"), "unloading": ("卸货", "Unloaded"), "unpacking": ("拆箱", "Unpacked"),
    "void_shipping": ("取消发货", "Shipment voided"),
}
DISPOSITIONS: dict[str, tuple[str, str]] = {
    "active": ("正常", "active"), "available": ("可用", "available"), "completeness_inferred": ("推定完整", "complete (inferred)"),
    "completeness_verified": ("已核验完整", "complete (verified)"), "conformant": ("合格", "conformant"),
    "container_closed": ("已封箱", "container closed"), "container_open": ("已开箱", "container open"),
    "damaged": ("损坏", "damaged"), "destroyed": ("已销毁", "destroyed"), "dispensed": ("已分发", "dispensed"),
    "disposed": ("已处置", "disposed"), "encoded": ("已编码", "encoded"), "expired": ("已过期", "expired"),
    "in_progress": ("处理中", "in progress"), "in_transit": ("运输中", "in transit"), "inactive": ("未激活", "inactive"),
    "mismatch_instance": ("实例不符", "instance mismatch"), "needs_replacement": ("需更换", "needs replacement"),
    "no_pedigree_match": ("谱系不符", "no pedigree match"), "non_conformant": ("不合格", "non-conformant"),
    "non_sellable_other": ("不可销售", "not sellable"), "partially_dispensed": ("部分分发", "partially dispensed"),
    "recalled": ("已召回", "recalled"), "reserved": ("已预留", "reserved"), "retail_sold": ("已售出", "sold"),
    "returned": ("已退回", "returned"), "sellable_accessible": ("可销售", "sellable"),
    "sellable_not_accessible": ("可销售（不可取）", "sellable, not accessible"), "stolen": ("被盗", "stolen"),
    "unavailable": ("不可用", "unavailable"), "unknown": ("未知", "unknown"),
}


# A service refusal as a reader of the page understands it: its kind (protocol/refusals.py) or, for
# the rest, its Handle response code, translated; the service's own (English) message follows as the
# detail, since it names the value, field or limit at fault.
REFUSAL_KINDS: dict[str, tuple[str, str]] = {  # by the kind's class name
    "Conflict": ("与节点现有数据冲突", "It conflicts with what the node holds"),
    "PreconditionFailed": ("数据已被他人修改，请刷新后重试", "It was changed meanwhile: reload and retry"),
    "ValueMissing": ("该标识没有这个值", "The identifier has no such value"),
    "TooLarge": ("一次提交的内容过多", "Too much in one request"),
    "Busy": ("节点繁忙，请稍后再试", "The node is busy: try again shortly"),
    "Unavailable": ("节点暂时无法处理", "The node cannot do this now"),
    "StorageFull": ("节点存储空间已满", "The node's storage is full"),
    "Gone": ("所请求的内容已不再保存", "What was asked for is no longer kept"),
    "Moved": ("请到主节点操作", "Another node takes this request"),
    # kinds of the typed EPCIS capture (issue 13)
    "CaptureRejected": ("事件未被接受", "The events were not accepted"),
    "Invalid": ("提交的内容有误，未被接受", "What was sent is not valid: nothing of it was taken"),
    "NotHeld": ("本节点不保存该内容", "This node does not hold it"),
}
REFUSAL_CODES: dict[int, tuple[str, str]] = {
    RC.ERROR: ("节点内部错误", "The node failed"),
    RC.SERVER_TOO_BUSY: ("节点繁忙，请稍后再试", "The node is busy: try again shortly"),
    RC.PROTOCOL_ERROR: ("请求格式有误", "The request is malformed"),
    RC.OPERATION_NOT_SUPPORTED: ("不支持该操作", "This operation is not supported"),
    RC.SERVER_BACKUP: ("这是只读副本，请到主节点修改", "This is a read-only mirror: write at the primary"),
    RC.HANDLE_NOT_FOUND: ("未找到", "Not found"),
    RC.HANDLE_ALREADY_EXISTS: ("该标识已存在", "It already exists"),
    RC.INVALID_HANDLE: ("标识格式不正确", "The identifier is not valid"),
    RC.VALUES_NOT_FOUND: ("未找到所需的值", "The values asked for are not there"),
    RC.VALUE_ALREADY_EXISTS: ("该值已存在", "The value already exists"),
    RC.INVALID_VALUE: ("填写的内容不正确", "A value is not valid"),
    RC.SERVER_NOT_RESPONSIBLE: ("本节点不负责该前缀", "This node does not hold that prefix"),
    RC.NOT_AUTHORIZED: ("无权进行此操作", "Not allowed"),
    RC.ACCESS_DENIED: ("无权访问", "Access denied"),
    RC.AUTHENTICATION_NEEDED: ("请先登录", "Sign in first"),
    RC.AUTHENTICATION_FAILED: ("身份验证失败", "Authentication failed"),
    RC.INVALID_CREDENTIAL: ("凭据无效", "The credential is not valid"),
    RC.UNABLE_TO_AUTHENTICATE: ("无法验证身份", "Unable to authenticate"),
    RC.SESSION_TIMEOUT: ("会话已过期", "The session has expired"),
    RC.SESSION_FAILED: ("会话无效", "The session failed"),
    RC.REQUEST_LIMIT_DAILY: ("已达今日请求上限", "Today's request limit is reached"),
    RC.REGISTER_COUNT_LIMIT: ("该前缀的标识数量已达上限", "The prefix holds as many identifiers as it may"),
    RC.PREFIX_LIMIT: ("该前缀下的前缀数量已达上限", "The prefix has as many prefixes under it as it may"),
}


def pick(accept_language: str | None, override: str | None) -> str:
    """The page's language: ``?lang=`` first, then the browser's Accept-Language (q-values honoured),
    else Chinese."""
    if override:
        o = override.strip().lower()[:2]
        if o in LANGS:
            return o
    # Accept-Language's order of preference is parsed once, for the Digital Link resolver's too.
    return next((t[:2] for t in accept_languages(accept_language or "") if t[:2] in LANGS), DEFAULT)


class Catalogue:
    """The messages of one language, for a template: ``t("key", n=3)``, ``step("shipping")``."""

    def __init__(self, lang: str) -> None:
        self.lang = lang if lang in LANGS else DEFAULT
        self._col = LANGS.index(self.lang)

    def __call__(self, key: str, **args: object) -> str:
        text = MESSAGES[key][self._col]
        return text.format(**args) if args else text

    def _vocab(self, table: Mapping[str, tuple[str, str]], word: str | None) -> str:
        if not word:
            return ""
        hit = table.get(word)
        return hit[self._col] if hit else word  # a private vocabulary's word, as its owner spelled it

    def step(self, word: str | None) -> str:
        return self._vocab(BIZ_STEPS, word)

    def disposition(self, word: str | None) -> str:
        return self._vocab(DISPOSITIONS, word)

    def refusal(self, err: HandleError) -> str:
        """A service refusal in this language: its kind or response code translated, then the
        service's own message (English, naming what is at fault) as the detail."""
        kind = next((REFUSAL_KINDS[c.__name__] for c in type(err).__mro__ if c.__name__ in REFUSAL_KINDS), None)
        hit = kind or REFUSAL_CODES.get(err.rc)
        if hit is None:
            return err.message
        head = hit[self._col]
        if self.lang == "en":
            return f"{head}: {err.message}"
        field = f"（字段 {err.field}）" if err.field else ""
        return f"{head}{field}。详情：{err.message}"

    def optional(self, key: str, fallback: str) -> str:
        """A catalogue word when there is one (an event type, a value type), else ``fallback`` as given."""
        hit = MESSAGES.get(key)
        return hit[self._col] if hit else fallback
