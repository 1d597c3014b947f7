"""``DELETE /api/lockouts?identity=…`` or ``?address=…``: the node admin clears a lock-out in every worker
(resolver/service/lockouts.py)."""

from __future__ import annotations

from aiohttp import web

from protocol.codes import RC, HandleError

from .common import SERVICE, api, caller, caller_of, json_response


@api
async def clear(request: web.Request) -> web.Response:
    identity = await caller(request)
    who, address = request.query.get("identity"), request.query.get("address")
    if (who is None) == (address is None):
        raise HandleError(RC.INVALID_VALUE, "name exactly one of identity (index:handle) or address",
                          field="identity")
    svc = request.app[SERVICE]
    out = await svc.clear_lockout(who if who is not None else address, identity, address=who is None,
                                  caller=caller_of(request))
    return json_response({"responseCode": RC.SUCCESS, **out})


def add_routes(app: web.Application) -> None:
    app.router.add_delete("/api/lockouts", clear)
