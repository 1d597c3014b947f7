"""``/console/p/{prefix}/stats``: an enterprise's statistics as charts drawn on the server (charts.py):
identifiers registered and resolution requests per day, the identifiers resolved most and the addresses
that asked most, from the daily counts the node keeps for the top-level reports (storage/stats.py, through
ops.py; the top identifiers' bounded counting is resolver/counters.py's).
"""

from __future__ import annotations

from aiohttp import web

from . import ops
from .web import Ctx, signed_in


@signed_in
async def stats(ctx: Ctx) -> web.StreamResponse:
    prefix = ctx.request.match_info["prefix"]
    try:
        days = int(ctx.request.query.get("days", "14"))
    except ValueError:
        days = 14
    st = ops.prefix_statistics(ctx.svc, prefix, days, ctx.identity)
    # pygal is imported by the first statistics page, not at start-up: about 3 MiB of every worker's
    # memory that resolution never needs (issue 22's 100 MiB per worker).
    from .charts import Series, bars, hbars

    labels = [d["date"][5:] for d in st["days"]]  # MM-DD
    per_day = bars(labels, [Series(ctx.t("c.st_registered"), [d["registered"] for d in st["days"]])],
                   ctx.t("c.st_registrations"), "chart-registrations")
    resolutions = bars(labels, [Series(ctx.t("c.st_requests"), [d["requests"] for d in st["days"]]),
                                Series(ctx.t("c.st_resolved"), [d["resolved"] for d in st["days"]])],
                       ctx.t("c.st_resolutions"), "chart-resolutions")
    rows = [(ip, n) for ip, n in st["sources"]]
    if st["otherSources"]:
        rows.append((ctx.t("c.st_other"), st["otherSources"]))
    if st["unknownSources"]:
        rows.append((ctx.t("c.st_unknown"), st["unknownSources"]))
    sources = hbars(rows, ctx.t("c.st_sources"), "chart-sources") if rows else None
    top = st["identifiers"]
    identifiers = hbars(top, ctx.t("c.st_top_ids"), "chart-identifiers") if top else None
    totals = {k: sum(d[k] for d in st["days"]) for k in ("registered", "requests", "resolved")}
    return ctx.page("stats.html", title=ctx.t("c.stats"), prefix=prefix, days=len(st["days"]),
                    per_day=per_day, resolutions=resolutions, sources=sources, totals=totals,
                    identifiers=identifiers,
                    first=st["days"][0]["date"], last=st["days"][-1]["date"])


def add_routes(app: web.Application) -> None:
    app.router.add_get("/console/p/{prefix}/stats", stats)
