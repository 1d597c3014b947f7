"""HTML for people with a phone: a handle's record, and errors, readable on a small screen."""

from __future__ import annotations

from html import escape

from protocol.jsonrepr import iso_time, value_to_json
from protocol.values import HandleValue

_STYLE = """
body{font:16px/1.45 system-ui,-apple-system,"Segoe UI","PingFang SC","Microsoft YaHei",sans-serif;margin:0;
background:#f5f6f8;color:#1d2330}
main{max-width:44rem;margin:0 auto;padding:1rem}
h1{font-size:1.15rem;word-break:break-all;margin:.2rem 0 1rem}
.card{background:#fff;border-radius:.6rem;box-shadow:0 1px 3px #0002;padding:.2rem 1rem;margin-bottom:1rem}
dl{margin:0}dt{font-size:.8rem;color:#5b6477;margin-top:.7rem}dd{margin:0 0 .7rem;word-break:break-all}
.meta{font-size:.75rem;color:#7a8295}h2{font-size:1rem;margin:1rem 0 .4rem}
ol.tl,ul.ln{margin:0;padding:.6rem 0 .6rem 1.2rem}li{margin:.35rem 0;word-break:break-all}.err{color:#a3262a}a{color:#0b5cad}
"""


def _page(title: str, body: str, lang: str = "en") -> str:
    return (f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width,initial-scale=1">'
            f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
            f"<body><main>{body}</main></body></html>")


def _datum(v: HandleValue) -> str:
    data = value_to_json(v)["data"]
    if data["format"] == "string":
        text = data["value"]
        if v.type.upper().startswith("URL") and text.lower().startswith(("http://", "https://")):
            return f'<a href="{escape(text, quote=True)}" rel="nofollow noopener">{escape(text)}</a>'
        return escape(text)
    if data["format"] == "admin":
        a = data["value"]
        return escape(f"administered by {a['index']}:{a['handle']}")
    return f'<span class="meta">{escape(data["format"])}</span> {escape(str(data["value"]))[:512]}'


def record_page(handle: str, values: list[HandleValue], timeline: list[dict] | None = None) -> str:
    rows = "".join(
        f"<dt>{escape(v.type)} <span class=meta>#{v.index}</span></dt><dd>{_datum(v)}"
        f"<div class=meta>updated {iso_time(v.timestamp)}</div></dd>" for v in values)
    body = f"<h1>{escape(handle)}</h1><div class=card><dl>{rows or '<dd>No public values.</dd>'}</dl></div>"
    if timeline:
        body += (f"<h2>Lifecycle</h2><div class=card><ol class=tl>{_timeline_rows(timeline)}</ol></div>"
                 f'<p class=meta><a href="/trace/{escape(handle, quote=True)}">Full trace</a></p>')
    body += f'<p class=meta>Identifier record · <a href="/api/handles/{escape(handle, quote=True)}">JSON</a></p>'
    return _page(handle, body)


def error_page(handle: str, message: str) -> str:
    return _page(handle, f"<h1>{escape(handle)}</h1><div class=card><p class=err>{escape(message)}</p></div>")


def _timeline_rows(events: list[dict]) -> str:
    rows = []
    for e in events:
        what = " · ".join(escape(str(e[k])) for k in ("bizStep", "disposition") if e.get(k)) or escape(e["type"])
        where = e.get("bizLocation") or e.get("readPoint")
        extra = f" <span class=meta>in {escape(e['via'])}</span>" if e.get("via") else ""
        rows.append(f"<li><b>{what}</b>{extra}<div class=meta>{escape(e['eventTime'])}"
                    f"{' · ' + escape(where) if where else ''} · {escape(e['type'])}"
                    f"{' ' + escape(e['action']) if e.get('action') else ''}{_by(e)}</div></li>")
    return "".join(rows)


def _by(entry: dict) -> str:
    """Where another node answered for an entry: which node."""
    return f" · answered by {escape(str(entry['node']))}" if entry.get("node") else ""


def _lineage_rows(items: list[dict]) -> str:
    return "".join(
        f"<li>{'&nbsp;' * 2 * (i['depth'] - 1)}<a href=\"/trace/{escape(i['id'], quote=True)}\">{escape(i['id'])}</a>"
        f" <span class=meta>{escape(i['relation'])}{' · ' + escape(i['bizStep']) if i.get('bizStep') else ''}"
        f"{' · removed ' + escape(i['removed']) if i.get('removed') else ''}{_by(i)}</span></li>" for i in items)


def _parts(trace: dict) -> str:
    """Parts whose own events another node holds: each with the node that answered, and its events."""
    out = []
    for p in trace.get("parts", []):
        who = escape(str(p.get("node")))
        if p.get("nodePrefix"):
            who += f" (node {escape(str(p['nodePrefix']))})"
        rows = _timeline_rows(p.get("timeline", [])) or "<li>No events there.</li>"
        out.append(f"<div class=card><p><a href=\"/trace/{escape(p['identifier'], quote=True)}\">"
                   f"{escape(p['identifier'])}</a><br><span class=meta>{escape(p.get('relation', ''))} · answered by "
                   f"{who}</span></p><ol class=tl>{rows}</ol></div>")
    if out:
        out.insert(0, "<h2>Parts traced at other nodes</h2>")
    gone = trace.get("unreachable", [])
    if gone:
        items = "".join(f"<li>{escape(u.get('identifier', ''))}<div class=meta>"
                        f"{escape(str(u.get('node') or 'no node found'))}: {escape(u.get('reason', ''))}</div></li>"
                        for u in gone)
        out.append(f"<h2>Not reached</h2><div class=card><ul class=ln>{items}</ul></div>")
    return "".join(out)


def trace_page(trace: dict, record=None) -> str:
    """An item's lifecycle: current state, timeline (corrections applied) and lineage."""
    ident = trace["identifier"]
    st = trace["state"]
    state = "".join(f"<dt>{name}</dt><dd>{escape(str(st[k]))}</dd>"
                    for name, k in (("Disposition", "disposition"), ("Location", "location"),
                                    ("Container", "container"), ("Last event", "lastEvent")) if st.get(k))
    parts = [f"<h1>{escape(ident)}</h1>"]
    if record is not None:
        rows = "".join(f"<dt>{escape(v.type)}</dt><dd>{_datum(v)}</dd>" for v in record.values
                       if v.type.upper() not in ("HS_ADMIN", "HS_SECKEY"))
        if rows:
            parts.append(f"<div class=card><dl>{rows}</dl></div>")
    parts.append(f"<h2>Current state</h2><div class=card><dl>{state or '<dd>No events yet.</dd>'}</dl></div>")
    parts.append(f"<h2>Timeline</h2><div class=card><ol class=tl>{_timeline_rows(trace['timeline']) or '<li>None</li>'}"
                 "</ol></div>")
    for title, k in (("Made from", "upstream"), ("Went into", "downstream")):
        if trace[k]:
            parts.append(f"<h2>{title}</h2><div class=card><ul class=ln>{_lineage_rows(trace[k])}</ul></div>")
    parts.append(_parts(trace))
    if trace.get("corrections"):
        parts.append(f"<p class=meta>{len(trace['corrections'])} event(s) declared erroneous are left out.</p>")
    for w in trace.get("withheld", []):
        parts.append(f"<p class=meta>{int(w['events'])} event(s) recorded by {escape(str(w['by']))} are not "
                     "public.</p>")
    for note in trace.get("cut", []):
        parts.append(f"<p class=meta>Not shown: {escape(note)}.</p>")
    parts.append(f'<p class=meta>Lifecycle trace · <a href="/api/trace/{escape(ident, quote=True)}">JSON</a></p>')
    return _page(f"Trace {ident}", "".join(parts))
