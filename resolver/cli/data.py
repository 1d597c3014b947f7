"""``idnode import`` and ``idnode export``: records in and out of a data folder as JSON Lines or CSV."""

from __future__ import annotations

import argparse
import sys

from ..assembly.service_setup import close_service, open_service
from .common import _common, _config


def cmd_import(args: argparse.Namespace) -> int:
    from ..importer import import_file

    svc = open_service(_config(args))
    try:
        s = import_file(svc, args.file, fmt=args.format, restart=args.restart, rejects=args.rejects,
                        progress=not args.no_progress)
    finally:
        close_service(svc)
    if s.already_complete:
        print(f"{args.file} was imported completely already ({s.lines} lines); --restart imports it again")
        return 0
    resumed = f" (resumed after line {s.resumed_from})" if s.resumed_from else ""
    print(f"imported {s.imported}, unchanged {s.unchanged}, rejected {s.rejected}{resumed}")
    for reason, n in s.reasons.most_common(10):
        print(f"  {n:>8}  {reason}")
    if s.rejects_file:
        print(f"rejected lines with their reasons: {s.rejects_file}")
    return 0 if not s.rejected else 3


def cmd_export(args: argparse.Namespace) -> int:
    from ..importer import export

    svc = open_service(_config(args))
    try:
        if args.out in (None, "-"):
            n = export(svc, sys.stdout.buffer, prefix=args.prefix, progress=False)
        else:
            with open(args.out, "wb") as fh:
                n = export(svc, fh, prefix=args.prefix, progress=not args.no_progress)
    finally:
        close_service(svc)
    print(f"exported {n} records", file=sys.stderr)
    return 0


def add_commands(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser("import", help="load records from JSON Lines or CSV (resumable)")
    s.add_argument("file")
    _common(s)
    s.add_argument("--format", choices=["auto", "jsonl", "csv"], default="auto")
    s.add_argument("--restart", action="store_true", help="start from the top instead of resuming")
    s.add_argument("--rejects", help="where rejected lines go (default FILE.rejects.jsonl)")
    s.add_argument("--no-progress", action="store_true")
    s.set_defaults(fn=cmd_import)

    s = sub.add_parser("export", help="write records as JSON Lines")
    _common(s)
    s.add_argument("--prefix")
    s.add_argument("--out", help="file (default: standard output)")
    s.add_argument("--no-progress", action="store_true")
    s.set_defaults(fn=cmd_export)
