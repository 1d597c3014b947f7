"""The monthly operations report (Annex 3): ``idnode report monthly --month YYYY-MM`` writes it as
Markdown and as HTML (one file, the chart an inline SVG: no external assets), from the daily counts
(storage/stats.py) and the monitoring events the node raised (reports/monitor.py)."""

from __future__ import annotations

import calendar
import datetime as dt
import html
from pathlib import Path

from storage import Tx

from .monitor import EVENTS_META
from .statistics import day_number, iso_day, monitoring

DAY = 86400


def _month_days(month: str) -> list[int]:
    y, m = (int(x) for x in month.split("-"))
    first = day_number(f"{y:04d}-{m:02d}-01")
    return list(range(first, first + calendar.monthrange(y, m)[1]))


def _shift(month: str, back: int) -> str:
    y, m = (int(x) for x in month.split("-"))
    m -= back
    while m < 1:
        m, y = m + 12, y - 1
    return f"{y:04d}-{m:02d}"


def _availability(tx: Tx, month: str, now: float) -> tuple[float | None, float]:
    """(SLA %, serving hours) of a month: serving seconds over the seconds passed since counting began."""
    first_at = tx.get_meta("stats_first_at")
    days = _month_days(month)
    start, end = days[0] * DAY, (days[-1] + 1) * DAY
    if first_at is not None:
        start = max(start, first_at)
    end = min(end, now)
    up = sum(tx.node_stats_of(d).get("up", 0.0) for d in days)
    if first_at is None or end <= start:
        return None, up / 3600
    return min(100.0, up / (end - start) * 100), up / 3600


def build(tx: Tx, node: str, month: str, now: float) -> dict:
    days = [d for d in _month_days(month) if d * DAY <= now]
    rows = []
    lat_n = lat_sum = reg_n = reg_sum = 0.0
    for d in days:
        prefixes = tx.list_prefixes()
        req = ok = regs = 0
        for rec in prefixes:
            st = tx.stats_of(d, rec["prefix"])
            req, ok = req + st["req"], ok + st["ok"]
            regs += tx.registrations_on(d, rec["prefix"])
        mon = monitoring(tx, d, now)
        rec = tx.node_stats_of(d)
        for fig, acc in (("lat", "lat"), ("reg", "reg")):
            f = rec.get(fig)
            if f and f[0]:
                if acc == "lat":
                    lat_n, lat_sum = lat_n + f[0], lat_sum + f[1]
                else:
                    reg_n, reg_sum = reg_n + f[0], reg_sum + f[1]
        rows.append({"date": iso_day(d), "resolutions": req, "resolved": ok, "registrations": regs,
                     "avgMs": mon["resolution"]["avgMs"], "peakPerSecond": mon["resolution"]["peakPerSecond"],
                     "availability": mon["availability"] if rec.get("up") else None})
    sla = []
    for back in range(5, -1, -1):
        m = _shift(month, back)
        pct, hours = _availability(tx, m, now)
        sla.append({"month": m, "availability": None if pct is None else round(pct, 3), "hours": round(hours, 1)})
    start, end = days[0] * DAY if days else 0, (days[-1] + 1) * DAY if days else 0
    events = [e for e in tx.get_meta(EVENTS_META) or [] if start <= e.get("t", 0) < end]
    closes = {e["closes"]: e for e in events if e["type"] == "normal"}
    emergencies = []
    for e in events:
        if e["type"] != "abnormal":
            continue
        end_ev = closes.get(e["number"])
        emergencies.append({"number": e["number"], "at": e["at"], "category": e["categoryName"], "cause": e["cause"],
                            "recovered": end_ev["at"] if end_ev else None,
                            "minutes": round((end_ev["t"] - e["t"]) / 60, 1) if end_ev else None})
    return {"node": node, "month": month, "days": rows, "sla": sla,
            "resolutionAvgMs": round(lat_sum / lat_n * 1000, 3) if lat_n else None,
            "registrationAvgMs": round(reg_sum / reg_n * 1000, 3) if reg_n else None,
            "operatingHours": sla[-1]["hours"], "emergencies": emergencies,
            "totals": {k: sum(r[k] for r in rows) for k in ("resolutions", "resolved", "registrations")}}


def _fmt(v: object, suffix: str = "") -> str:
    return "—" if v is None else f"{v:,}{suffix}" if isinstance(v, int) else f"{v}{suffix}"


def markdown(rep: dict) -> str:
    t = rep["totals"]
    out = [f"# Monthly operations report — node {rep['node']}, {rep['month']}", "",
           "## Summary", "",
           "| figure | value |", "|---|---|",
           f"| availability (SLA) this month | {_fmt(rep['sla'][-1]['availability'], ' %')} |",
           f"| operating hours | {_fmt(rep['operatingHours'])} |",
           f"| average resolution time (RTT at the node) | {_fmt(rep['resolutionAvgMs'], ' ms')} |",
           f"| average registration time | {_fmt(rep['registrationAvgMs'], ' ms')} |",
           "| registration effective time (acceptance to resolvable) | 0 h: a registration is resolvable when it "
           "is acknowledged |",
           f"| resolutions / answered / registrations | {t['resolutions']:,} / {t['resolved']:,} / "
           f"{t['registrations']:,} |", "",
           "## Availability, this month and the five before", "", "| month | availability | serving hours |",
           "|---|---|---|"]
    out += [f"| {s['month']} | {_fmt(s['availability'], ' %')} | {_fmt(s['hours'])} |" for s in rep["sla"]]
    out += ["", "## Days", "", "| date | resolutions | answered | registrations | avg ms | peak/s | availability |",
            "|---|---|---|---|---|---|---|"]
    out += [f"| {r['date']} | {r['resolutions']:,} | {r['resolved']:,} | {r['registrations']:,} | {_fmt(r['avgMs'])} "
            f"| {r['peakPerSecond']:,} | {_fmt(r['availability'], ' %')} |" for r in rep["days"]]
    out += ["", "## Maintenance windows and emergencies", ""]
    if rep["emergencies"]:
        out += ["| event | began | category | cause | recovered | minutes |", "|---|---|---|---|---|---|"]
        out += [f"| {e['number']} | {e['at']} | {e['category']} | {e['cause']} | {_fmt(e['recovered'])} | "
                f"{_fmt(e['minutes'])} |" for e in rep["emergencies"]]
        out += ["", "Analysis and fix: to be completed by the operator for each event above."]
    else:
        out += ["No abnormal event was raised this month."]
    return "\n".join(out) + "\n"


def chart(rep: dict, width: int = 720, height: int = 220) -> str:
    """Daily resolutions as an inline SVG bar chart."""
    days = rep["days"]
    top = max([r["resolutions"] for r in days] + [1])
    bw = (width - 60) / max(1, len(days))
    bars = []
    for i, r in enumerate(days):
        h = (height - 40) * r["resolutions"] / top
        x, y = 50 + i * bw, height - 20 - h
        bars.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{bw * 0.8:.1f}" height="{h:.1f}" fill="#3b6ea8">'
                    f'<title>{r["date"]}: {r["resolutions"]:,}</title></rect>')
        if i % 5 == 0:
            bars.append(f'<text x="{x:.1f}" y="{height - 5}" font-size="10">{r["date"][8:]}</text>')
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
            f'aria-label="resolutions per day">'
            f'<text x="0" y="14" font-size="11">{top:,}</text><line x1="48" y1="20" x2="48" y2="{height - 20}" '
            f'stroke="#888"/>{"".join(bars)}</svg>')


def to_html(rep: dict) -> str:
    """The Markdown report as one HTML page, the chart inline above the days."""
    body: list[str] = []
    in_table = False
    for line in markdown(rep).splitlines():
        if in_table and not line.startswith("|"):
            body.append("</table>")
            in_table = False
        if line.startswith("# "):
            body.append(f"<h1>{html.escape(line[2:])}</h1>")
        elif line.startswith("## "):
            body.append(f"<h2>{html.escape(line[3:])}</h2>")
            if line.startswith("## Days"):
                body.append(chart(rep))
        elif line.startswith("|"):
            cells = [html.escape(c.strip()) for c in line.strip("|").split("|")]
            if all(set(c) <= {"-"} for c in cells):
                continue
            tag = "td" if in_table else "th"
            if not in_table:
                body.append("<table>")
                in_table = True
            body.append("<tr>" + "".join(f"<{tag}>{c}</{tag}>" for c in cells) + "</tr>")
        elif line:
            body.append(f"<p>{html.escape(line)}</p>")
    if in_table:
        body.append("</table>")
    style = ("body{font-family:sans-serif;max-width:60em;margin:2em auto}table{border-collapse:collapse;margin:1em 0}"
             "td,th{border:1px solid #ccc;padding:.2em .6em;text-align:right}th{background:#eee}")
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(rep["node"])} '
            f'{rep["month"]}</title><style>{style}</style></head><body>{"".join(body)}</body></html>\n')


def write(tx: Tx, node: str, month: str, out: Path, now: float | None = None) -> tuple[Path, Path]:
    now = dt.datetime.now(dt.UTC).timestamp() if now is None else now
    rep = build(tx, node, month, now)
    out.mkdir(parents=True, exist_ok=True)
    md, page = out / f"monthly-{node}-{month}.md", out / f"monthly-{node}-{month}.html"
    md.write_text(markdown(rep), encoding="utf-8")
    page.write_text(to_html(rep), encoding="utf-8")
    return md, page
