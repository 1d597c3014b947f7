"""One message catalogue for the public pages and the console: Chinese first, English by choice.

Why a catalogue module rather than gettext ``.po``/``.mo`` files (Babel): the node speaks two languages,
the strings are few, and a Python mapping needs no compile step, no extraction tool in the build and no
files that can drift from the code; ``tests/test_console_i18n.py`` checks that every key has both
languages and that every key a template names exists. A third language is one more column.

Keys are short English names; a missing key is a bug (KeyError in tests), never a silent fallback.
"""

from __future__ import annotations

from collections.abc import Mapping

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


def pick(accept_language: str | None, override: str | None) -> str:
    """The page's language: ``?lang=`` first, then the browser's Accept-Language (q-values honoured),
    else Chinese."""
    if override:
        o = override.strip().lower()[:2]
        if o in LANGS:
            return o
    best, best_q = DEFAULT, -1.0
    for pos, part in enumerate((accept_language or "").split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        lang = tag.strip().lower()[:2]
        if lang in LANGS and q > best_q and q > 0:
            best, best_q = lang, q - pos * 1e-6  # equal q: the first named wins
    return best


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

    def optional(self, key: str, fallback: str) -> str:
        """A catalogue word when there is one (an event type, a value type), else ``fallback`` as given."""
        hit = MESSAGES.get(key)
        return hit[self._col] if hit else fallback
