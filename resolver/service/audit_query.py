"""Reading the audit trail (resolver/audit_trail.py writes it): filters, paging, the node admin only."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from protocol.codes import RC, HandleError
from protocol.handles import fold, is_within

from ..credentials import Identity

if TYPE_CHECKING:
    from . import Service

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
MAX_SCANNED = 200_000  # entries read for one page; a sparse filter continues from the cursor it returns
DISORDER_MS = 5000  # entries may commit a little out of time order (a batch of refusals waits its turn)
RESULTS = ("allowed", "denied")
FILTERS = ("since", "until", "identity", "handle", "prefix", "result", "op", "client", "cursor", "limit", "order")


def parse_time(text: str, name: str) -> int:
    """ISO 8601 (``2026-11-22T10:00:00Z``) or seconds since the epoch, as milliseconds."""
    try:
        return int(float(text) * 1000)
    except ValueError:
        pass
    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise HandleError(RC.INVALID_VALUE, f"{name} must be an ISO 8601 time or seconds since the epoch, "
                          f"not {text!r}", field=name) from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    return int(t.timestamp() * 1000)


def iso_ms(ms: int) -> str:
    t = datetime.fromtimestamp(ms / 1000, UTC)
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


@dataclass(slots=True)
class AuditQuery:
    since: int | None = None
    until: int | None = None
    identity: str | None = None
    handle: str | None = None
    prefix: str | None = None
    result: str | None = None
    op: str | None = None
    client: str | None = None
    cursor: int | None = None
    limit: int = DEFAULT_LIMIT
    newest_first: bool = False

    @classmethod
    def parse(cls, params: Mapping[str, str]) -> AuditQuery:
        for name in params:
            if name not in FILTERS:
                raise HandleError(RC.INVALID_VALUE, f"unknown filter {name}; the filters are {', '.join(FILTERS)}",
                                  field=name)
        q = cls()
        if params.get("since"):
            q.since = parse_time(params["since"], "since")
        if params.get("until"):
            q.until = parse_time(params["until"], "until")
        for name in ("identity", "handle", "prefix", "op", "client"):
            v = params.get(name)
            if v:
                setattr(q, name, fold(v) if name in ("identity", "handle", "prefix") else v)
        result = params.get("result")
        if result:
            if result not in RESULTS:
                raise HandleError(RC.INVALID_VALUE, f"result must be allowed or denied, not {result!r}",
                                  field="result")
            q.result = result
        cursor = params.get("cursor")
        if cursor:
            if not cursor.isdigit():
                raise HandleError(RC.INVALID_VALUE, "cursor must be the nextCursor of an earlier page", field="cursor")
            q.cursor = int(cursor)
        limit = params.get("limit")
        if limit:
            if not limit.isdigit() or not 1 <= int(limit) <= MAX_LIMIT:
                raise HandleError(RC.INVALID_VALUE, f"limit must be 1…{MAX_LIMIT}", field="limit")
            q.limit = int(limit)
        order = params.get("order", "asc")
        if order not in ("asc", "desc"):
            raise HandleError(RC.INVALID_VALUE, "order must be asc or desc", field="order")
        q.newest_first = order == "desc"
        return q

    def matches(self, e: dict) -> bool:
        t = e.get("t", 0)
        if self.since is not None and t < self.since:
            return False
        if self.until is not None and t >= self.until:
            return False
        if self.result is not None:
            r = e.get("result")
            if r != self.result and r != "partial":
                return False
        if self.op is not None and e.get("op") != self.op:
            return False
        if self.client is not None and e.get("client") != self.client:
            return False
        if self.identity is not None and fold(e.get("identity") or "") != self.identity:
            return False
        if self.handle is not None and not self._about_handle(e):
            return False
        if self.prefix is not None and not self._about_prefix(e):
            return False
        return True

    def _about_handle(self, e: dict) -> bool:
        target = e.get("target")
        if isinstance(target, str) and fold(target) == self.handle:
            return True
        # A batch names the prefixes it touched (the change log has every handle it wrote).
        p = self.handle.partition("/")[0]
        return any(fold(x) == p for x in e.get("prefixes") or ())

    def _about_prefix(self, e: dict) -> bool:
        target = e.get("target")
        if isinstance(target, str):
            scope = target.partition("/")[0]
            if fold(scope) == "0.na" and "/" in target:
                scope = target.partition("/")[2]
            if is_within(scope, self.prefix):
                return True
        return any(is_within(x, self.prefix) for x in e.get("prefixes") or ())


def render(seq: int, e: dict) -> dict:
    out = {"seq": seq, "time": iso_ms(e.get("t", 0))}
    out.update((k, v) for k, v in e.items() if k != "t")
    return out


class AuditOps:
    """Reading the audit trail."""

    def __init__(self, svc: Service):
        self.svc = svc

    def audit_trail(self, q: AuditQuery, identity: Identity | None) -> tuple[list[dict], str | None]:
        """A page of entries matching ``q`` (oldest first, or newest with ``newest_first``) and the
        cursor of the next page (None at the end)."""
        self.svc.require_node_admin(identity, "read the audit trail")
        out: list[dict] = []
        with self.svc.store.read() as tx:
            first, last = tx.audit_bounds()
            if last == 0:
                return out, None
            if q.newest_first:
                seq = last if q.cursor is None else min(q.cursor, last)
                if q.until is not None and q.cursor is None:
                    seq = min(last, tx.audit_seq_at(q.until + DISORDER_MS))
                stop = first if q.since is None else max(first, tx.audit_seq_at(q.since - DISORDER_MS))
                step = -1
            else:
                seq = first if q.cursor is None else max(q.cursor, first)
                if q.since is not None and q.cursor is None:
                    seq = max(first, tx.audit_seq_at(q.since - DISORDER_MS))
                stop = last if q.until is None else min(last, tx.audit_seq_at(q.until + DISORDER_MS))
                step = 1
            scanned = 0
            while (seq <= stop) if step > 0 else (seq >= stop):
                if len(out) >= q.limit or scanned >= MAX_SCANNED:
                    return out, str(seq)
                e = tx.audit_entry(seq)
                scanned += 1
                if e is not None and q.matches(e):
                    out.append(render(seq, e))
                seq += step
        return out, None
