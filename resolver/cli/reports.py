"""``idnode report send`` (and the other report commands) on a data folder, served or not."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..reports.entered import set_applications
from ..reports.sending import queue_now, request_flush
from ..service import Service


async def send(svc: Service) -> list[str]:
    from ..service.federation import FEDERATION_META

    with svc.store.read() as tx:
        if not tx.get_meta(FEDERATION_META):
            raise SystemExit("idnode report send: this node has no upstream top-level node (serve it with "
                             "--upstream and --upstream-http first)")
    await request_flush(svc)
    return await queue_now(svc)


def add_commands(sub: argparse._SubParsersAction, common, run) -> None:
    s = sub.add_parser("report", help="reports to the top-level node: send what is due now; enter the "
                       "applications (tables 5 and 10)")
    s.add_argument("action", choices=["send", "applications", "monthly"])
    s.add_argument("--month", help="monthly: YYYY-MM (default: this month so far)")
    s.add_argument("--out", default=".", help="monthly: the folder the .md and .html files go to (default .)")
    s.add_argument("file", nargs="?", help="applications: a JSON list of {name, type, description, users, "
                   "recursiveResolver, developer, prefix}")
    common(s)
    s.set_defaults(fn=run)


def cmd_report(args: argparse.Namespace, with_service) -> int:
    if args.action == "monthly":
        import datetime as dt
        import re

        month = args.month or dt.datetime.now(dt.UTC).strftime("%Y-%m")
        if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", month):
            raise SystemExit(f"idnode report monthly: --month must be YYYY-MM, not {month!r}")
        from ..reports.monthly import write

        async def act(svc):
            node = svc.require_initialised()
            with svc.store.read() as tx:
                return write(tx, node, month, Path(args.out))

        for path in with_service(args, act):
            print(path)
        return 0
    if args.action == "applications":
        if not args.file:
            raise SystemExit("idnode report applications needs a JSON file")
        try:
            doc = json.loads(Path(args.file).read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise SystemExit(f"idnode report applications: {args.file}: {e}") from None
        n = with_service(args, lambda svc: set_applications(svc, doc))
        print(f"{n} application(s) kept; they are sent with the next reports")
        return 0
    queued = with_service(args, send)
    for q in queued:
        print(f"queued {q}")
    print(f"{len(queued)} report(s) queued; the node delivers them (`idnode federation status` shows the outbox)")
    return 0
