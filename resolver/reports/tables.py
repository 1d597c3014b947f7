"""The Annex 1 tables other than statistics, built from what the node holds (README "Reports to the
top-level node" lists each column's source).

- operator (table 1) and enterprises (table 6): the owner records of the node's prefix and of the
  enterprise prefixes (``owner`` fields, resolver/service/prefixes.py);
- configuration (tables 2 and 7): the node's site (its servers, addresses, protocols and ports) and
  the prefixes it serves through it;
- metadata (tables 4 and 11): the data templates;
- masterdata (table 9): identifiers added, changed or deleted that day, from the change log, the
  template's fields mapped to the table's columns where the names match;
- applications (tables 5 and 10): entered by the operator (``idnode report applications``).
"""

from __future__ import annotations

import ipaddress

from protocol.templates import parse_reference
from storage import Tx
from storage.records import unpack_record

from .statistics import iso_day

SITE_META = "report_site"  # the node's site as JSON, written by the serving node at start
APPLICATIONS_META = "report_applications"
MAX_MASTER_ROWS = 100_000  # identifiers listed a day; more are counted in "omitted"
# Table 9's columns and the template field names (any case; English or the guide's Chinese) that fill them.
MASTER_COLUMNS = {
    "productType": ("producttype", "product_type", "产品类型"), "brand": ("brand", "品牌"),
    "productName": ("productname", "product_name", "name", "产品名称"),
    "manufacturer": ("manufacturer", "producer", "生产厂家", "生产企业"),
    "productionTime": ("productiontime", "production_time", "productiondate", "生产日期", "生产时间"),
    "expiry": ("expiry", "expirydate", "shelflife", "有效期", "保质期"),
    "terminalType": ("terminaltype", "终端类型"), "owner": ("owner", "所有者"), "use": ("use", "usage", "用途"),
    "serial": ("serial", "serialnumber", "imei", "序列号"),
    "licenceNumber": ("licencenumber", "licensenumber", "进网许可证号"),
    "licenceMark": ("licencemark", "licensemark", "进网许可标志"),
}
_COLUMN_OF = {alias: col for col, names in MASTER_COLUMNS.items() for alias in names}


def operator(tx: Tx, node: str) -> dict:
    rec = tx.get_prefix(node) or {}
    return {"node": node, "operator": {**rec.get("owner", {}), "prefix": node}}


def enterprises(tx: Tx, node: str) -> dict:
    return {"node": node, "enterprises": [
        {"prefix": r["prefix"], "state": r.get("state", "enabled"), "created": r.get("created"), **r.get("owner", {})}
        for r in tx.list_prefixes() if r.get("kind") == "enterprise"]}


def _ip_type(address: str) -> str:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return "unknown"
    if ip.version == 6 and ip.ipv4_mapped is None:
        return "IPv6"
    return "IPv4"


def configuration(tx: Tx, node: str) -> dict:
    """One route per server of the node's site; every prefix held resolves through all of them."""
    site = tx.get_meta(SITE_META) or {}
    routes = []
    for server in site.get("servers", []):
        addr = server.get("address", "")
        try:
            ip = ipaddress.ip_address(addr)
            addr = str(ip.ipv4_mapped or ip) if ip.version == 6 else str(ip)
        except ValueError:
            pass
        protocols = [{"protocol": i.get("protocol"), "port": i.get("port")}
                     for i in server.get("interfaces", []) if i.get("query")]
        routes.append({"ipType": _ip_type(addr), "address": addr, "protocols": protocols})
    prefixes = [{"prefix": r["prefix"], "kind": r.get("kind", "enterprise"), "state": r.get("state", "enabled")}
                for r in tx.list_prefixes()]
    return {"node": node, "scheme": "Handle", "routes": routes, "prefixes": prefixes}


def _industry(tpl: dict) -> object:
    """Whatever the template says of its industry: text, or the four GB/T 4754 levels as a map."""
    for k in ("industry", "industryCategory", "industryCode"):
        if tpl.get(k) is not None:
            return tpl[k]
    return None


def metadata(tx: Tx, node: str) -> dict:
    out = []
    for tpl in tx.list_templates():
        fields = []
        for f in tpl.get("fields", []):
            c = f.get("constraints") or {}
            fields.append({"name": f.get("name"), "alias": f.get("alias") or f.get("description") or f.get("name"),
                           "type": f.get("type"), "length": c.get("maxLength")})
        out.append({"id": f"{tpl.get('prefix')}:{tpl.get('version')}", "prefix": tpl.get("prefix"),
                    "version": tpl.get("version"), "name": tpl.get("name"), "industry": _industry(tpl),
                    "objectType": tpl.get("objectType", "passive"), "fields": fields})
    return {"node": node, "templates": out}


def _first_seq_of(tx: Tx, start: int) -> int:
    """The first change-log sequence written at or after ``start`` (times grow with sequences)."""
    lo, hi = 1, tx.last_seq() + 1
    while lo < hi:
        mid = (lo + hi) // 2
        got = tx.changes(mid - 1, 1)
        if not got or got[0][1][4] >= start:
            hi = mid
        else:
            lo = got[0][0] + 1
    return lo


def _master_row(tx: Tx, k: bytes, op: str, day_start: int, at: int) -> dict | None:
    handle_key = k.decode("utf-8", "replace")
    if handle_key.startswith("0.na/"):
        return None
    if op == "del":
        return {"code": handle_key, "operation": 2, "at": at}
    raw = tx.get_raw(k)
    if raw is None:
        return None  # deleted later that day: its deletion has its own row
    rec = unpack_record(raw)
    created = min((v.timestamp for v in rec.values if v.timestamp), default=at)
    row: dict = {"code": rec.handle, "created": iso_day(created // 86400),
                 "operation": 1 if created >= day_start else 3, "at": at, "template": None}
    by_index = {}
    for v in rec.values:
        if v.index == 1001:
            try:
                prefix, version = parse_reference(v.data)
                row["template"] = f"{prefix or rec.handle.partition('/')[0]}:{version}"
            except Exception:
                pass
        by_index[v.index] = v
        col = _COLUMN_OF.get(v.type.lower()) or _COLUMN_OF.get(v.type)
        if col and col not in row:
            row[col] = v.data.decode("utf-8", "replace")
    if row["template"]:
        prefix, _, version = row["template"].rpartition(":")
        tpl = tx.get_template(prefix, version)
        for f in (tpl or {}).get("fields", []):
            name = str(f.get("name", ""))
            col = _COLUMN_OF.get(name.lower()) or _COLUMN_OF.get(name)
            v = by_index.get(f.get("index"))
            if col and v is not None:
                row[col] = v.data.decode("utf-8", "replace")
    return row


def masterdata(tx: Tx, node: str, day: int) -> dict:
    """Each identifier added (1), deleted (2) or modified (3) that day, once, as it stands now."""
    start, end = day * 86400, day * 86400 + 86400
    seq = _first_seq_of(tx, start) - 1
    last: dict[bytes, tuple[str, int]] = {}  # key → its last operation that day and when
    while True:
        batch = tx.changes(seq, 1000)
        for s, (op, k, _payload, _who, at, *_) in batch:  # a sixth field marks the first change of its write
            seq = s
            if at >= end:
                batch = []
                break
            if op in ("put", "del") and at >= start:
                last[k] = (op, at)
        if len(batch) < 1000:
            break
    rows, omitted = [], 0
    for k, (op, at) in last.items():
        if len(rows) >= MAX_MASTER_ROWS:
            omitted += 1
            continue
        row = _master_row(tx, k, op, start, at)
        if row is not None:
            rows.append(row)
    return {"node": node, "date": iso_day(day), "identifiers": rows, "omitted": omitted}


def applications(tx: Tx, node: str, month: str) -> dict:
    apps = tx.get_meta(APPLICATIONS_META) or []
    return {"node": node, "month": month, "applications": [a for a in apps if not a.get("prefix")],
            "enterprises": [a for a in apps if a.get("prefix")]}
