"""What the public pages show: a record and an item's trace as a shopper or a technician reads them.

Nothing an outsider cannot use: no HS_* values (administrators, keys, sites), no value indexes, no
template reference; labels are the data template's field names, times are in the event's own zone,
the CBV words are translated, identifiers are shown as they were registered.
"""

from __future__ import annotations

from aiohttp import web
from markupsafe import Markup

from protocol.codes import HandleError
from protocol.epcis_ids import display_handle
from protocol.jsonrepr import value_to_json
from protocol.values import TEMPLATE_INDEX, HandleValue

from ...labels import label_url, make
from ...service import Service
from . import ops
from .i18n import Catalogue
from .lineagepic import lineage_svg
from .render import catalogue, render
from .timefmt import readable

MAX_SHOWN = 512  # characters of a binary value's text form shown on a page
MAX_RESPELLED = 200  # trace identifiers looked up for their registered spelling, per page


def _public(v: HandleValue) -> bool:
    return not v.type.upper().startswith("HS_") and v.index != TEMPLATE_INDEX


def value_rows(values: list[HandleValue], names: dict[int, str], t: Catalogue) -> list[dict]:
    rows = []
    for v in values:
        if not _public(v):
            continue
        data = value_to_json(v)["data"]
        label = names.get(v.index) or t.optional(f"type.{v.type.upper()}", v.type)
        if data["format"] == "string":
            text = data["value"]
            href = text if v.type.upper().startswith("URL") and text.lower().startswith(("http://", "https://")) \
                else None
            rows.append({"label": label, "text": text, "href": href})
        else:
            rows.append({"label": label, "text": str(data["value"])[:MAX_SHOWN], "href": None})
    return rows


class Respeller:
    """Trace identifiers (case-folded canonical forms) as registered, with a bounded number of look-ups."""

    def __init__(self, svc: Service) -> None:
        self.svc, self.left, self.seen = svc, MAX_RESPELLED, {}

    def __call__(self, ident: str | None) -> str:
        if not ident:
            return ""
        if ident in self.seen:
            return self.seen[ident]
        handle = display_handle(ident)
        out = ident
        if handle is not None and self.left > 0:
            self.left -= 1
            out = ops.registered(self.svc, handle)
        self.seen[ident] = out
        return out


def timeline_rows(events: list[dict], t: Catalogue, spell: Respeller) -> list[dict]:
    rows = []
    for e in events:
        step = e.get("bizStep")
        rows.append({
            "step_code": step or e.get("type", ""),
            "what": t.step(step) if step else t.optional(f"ev.{e.get('type')}", str(e.get("type", ""))),
            "disposition": t.disposition(e.get("disposition")),
            "when": readable(e.get("eventTime"), e.get("eventTimeZoneOffset"), t.lang),
            "where": e.get("bizLocation") or e.get("readPoint"),
            "via": spell(e.get("via")) if e.get("via") else None,
            "node": e.get("node"),
            "by": None,
            "foreign": bool(e.get("foreign")),
        })
    return rows


def qr_image(request: web.Request, handle: str) -> dict | None:
    """The label's QR code (resolver/labels.py: the node's resolver URL for the handle), as inline SVG
    (segno's own markup: paths only, no caller text) and the URL it holds (escaped by the template)."""
    try:
        url = label_url(f"{request.scheme}://{request.host}", handle)
    except ValueError:
        return None
    return {"svg": Markup(make(url).svg_inline(scale=4, border=2)), "url": url}


def record_page(request: web.Request, svc: Service, handle: str, values: list[HandleValue],
                timeline: list[dict] | None) -> web.Response:
    t = catalogue(request)
    handle = ops.registered(svc, handle)
    names, _ = ops.field_names(svc, handle, values)
    return render(request, "record.html", t, title=handle, handle=handle, enterprise=ops.enterprise(svc, handle),
                  rows=value_rows(values, names, t), timeline=timeline_rows(timeline or [], t, Respeller(svc)),
                  qr=qr_image(request, handle))


def error_page(request: web.Request, handle: str, err: HandleError | str, status: int) -> web.Response:
    """The public page of a refusal: the service's, translated (i18n.py), or a message already worded."""
    t = catalogue(request)
    message = t.refusal(err) if isinstance(err, HandleError) else err
    return render(request, "error.html", t, status=status, title=handle, handle=handle, message=message)


def _lineage(items: list[dict], t: Catalogue, spell: Respeller) -> list[dict]:
    return [{"id": spell(i["id"]), "href": i["id"], "depth": max(1, int(i.get("depth", 1))),
             "relation": t.optional(f"rel.{i.get('relation')}", str(i.get("relation", ""))),
             "step": t.step(i.get("bizStep")), "removed": readable(i.get("removed"), None, t.lang),
             "node": i.get("node")} for i in items]


def trace_view(request: web.Request, svc: Service, t: Catalogue, trace: dict, record) -> dict:
    """What trace_body.html shows of a trace answer (the public page's, or the console's)."""
    spell = Respeller(svc)
    handle = display_handle(trace["canonical"])
    ident = spell(trace["canonical"]) if handle else trace["identifier"]
    st = trace["state"]
    last_zone = next((e.get("eventTimeZoneOffset") for e in reversed(trace["timeline"])
                      if e.get("eventTime") == st.get("lastEvent")), None)
    state = [(t(f"state.{k}"), text) for k, text in (
        ("disposition", t.disposition(st.get("disposition"))), ("location", st.get("location")),
        ("container", spell(st.get("container"))), ("lastEvent", readable(st.get("lastEvent"), last_zone, t.lang)))
        if text]
    rows = []
    if record is not None:
        names, _ = ops.field_names(svc, record.handle, record.values)
        rows = value_rows(record.values, names, t)
    lineage = [(t(title), _lineage(trace[k], t, spell)) for title, k in
               (("trace.made_from", "upstream"), ("trace.went_into", "downstream")) if trace.get(k)]
    parts = []
    for p in trace.get("parts", []):
        who = str(p.get("node"))
        if p.get("nodePrefix"):
            who += f" ({t('trace.node')} {p['nodePrefix']})"
        parts.append({"id": spell(p["identifier"]), "href": p["identifier"], "node": who,
                      "relation": t.optional(f"rel.{p.get('relation')}", str(p.get("relation", ""))),
                      "timeline": timeline_rows(p.get("timeline", []), t, spell)})
    upstream = _lineage(trace.get("upstream", []), t, spell)
    picture = lineage_svg(ident, upstream + [{**p, "depth": 1} for p in parts],
                          _lineage(trace.get("downstream", []), t, spell), t)
    unreachable = [{"id": spell(u.get("identifier")), "node": u.get("node"), "reason": u.get("reason", "")}
                   for u in trace.get("unreachable", [])]
    notes = []
    if trace.get("corrections"):
        notes.append(t("trace.corrections", n=len(trace["corrections"])))
    for w in trace.get("withheld", []):
        notes.append(t("trace.withheld", n=int(w["events"]), by=str(w["by"])))
    for note in trace.get("cut", []):
        notes.append(t("trace.cut", note=note))
    return {"ident": ident, "ident_href": trace["identifier"],
            "enterprise": ops.enterprise(svc, handle) if handle else {}, "rows": rows, "state": state,
            "timeline": timeline_rows(trace["timeline"], t, spell), "lineage": lineage, "parts": parts,
            "picture": picture,
            "unreachable": unreachable, "notes": notes, "qr": qr_image(request, ident) if handle else None}


def trace_page(request: web.Request, svc: Service, trace: dict, record) -> web.Response:
    t = catalogue(request)
    view = trace_view(request, svc, t, trace, record)
    return render(request, "trace.html", t, title=f"{t('trace.title')} · {view['ident']}", **view)
