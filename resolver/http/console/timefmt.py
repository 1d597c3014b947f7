"""Times as a person reads them: in the zone the event happened in (its ``eventTimeZoneOffset``),
without milliseconds or a ``Z``; UTC named as such when the event gave no zone."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

_OFFSET = re.compile(r"([+-])(\d{2}):(\d{2})")


def zone(offset: str | None) -> timezone | None:
    """``+08:00`` as a tzinfo; None for anything else (an event's offset is checked at capture, but a
    page never fails on one)."""
    m = _OFFSET.fullmatch(offset or "")
    if m is None:
        return None
    minutes = int(m[2]) * 60 + int(m[3])
    if minutes >= 24 * 60:
        return None
    return timezone((-1 if m[1] == "-" else 1) * timedelta(minutes=minutes))


def _parse(iso: str) -> datetime | None:
    try:
        t = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except (ValueError, AttributeError):
        return None
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)


def readable(iso: str | None, offset: str | None, lang: str) -> str:
    """``2026-01-05T01:00:00.000Z`` at ``+08:00``: ``2026年1月5日 09:00 (UTC+08:00)`` in Chinese,
    ``5 Jan 2026, 09:00 (UTC+08:00)`` in English. Text that is no time is shown as it is."""
    if not iso:
        return ""
    t = _parse(iso)
    if t is None:
        return iso
    tz = zone(offset)
    t = t.astimezone(tz or UTC)
    name = f"UTC{offset}" if tz is not None and offset not in ("+00:00", "-00:00") else "UTC"
    clock = f"{t:%H:%M}"
    if lang == "zh":
        return f"{t.year}年{t.month}月{t.day}日 {clock}（{name}）"
    return f"{t.day} {t:%b} {t.year}, {clock} ({name})"
