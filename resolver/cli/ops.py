"""``idnode`` commands for an operator's everyday tasks at the console, without curl: the node admin's
secret, tokens, templates, handles, a mirror's promotion and clearing a lock-out (recorded in the data
folder, where every serving worker reads it before it refuses: resolver/service/lockouts.py).

Each acts on the data folder as the node admin (``svc.operator()``), through the same service
functions HTTP calls, audited from "local"; like ``idnode prefix``, each works while the node runs.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from protocol.template_requests import decode_publish

from ..audit_trail import CLI
from .common import _common, _with_service


def _print(out: object) -> int:
    print(json.dumps(out, ensure_ascii=False, indent=2))
    return 0


def cmd_admin_secret(args: argparse.Namespace) -> int:
    async def act(svc):
        return await svc.rotate_node_secret(args.secret, svc.operator(), caller=CLI)

    out = _with_service(args, act)
    print(f"the node admin {out['admin']} has a new secret; the old one no longer authenticates")
    if "secret" in out:
        print(f"admin secret (shown once, keep it): {out['secret']}")
    return 0


def cmd_token(args: argparse.Namespace) -> int:
    async def act(svc):
        if args.action == "list":
            return svc.list_tokens(svc.operator())
        if args.token.startswith("idn_"):
            await svc.revoke_token(args.token, svc.operator(), caller=CLI)
        else:
            await svc.revoke_token_by_id(args.token, svc.operator(), caller=CLI)
        return {"revoked": True}

    if args.action == "revoke" and not args.token:
        raise SystemExit("idnode token revoke needs the token (idn_…) or its id from `idnode token list`")

    return _print(_with_service(args, act))


def cmd_template(args: argparse.Namespace) -> int:
    async def act(svc):
        me = svc.operator()
        if args.action == "list":
            return svc.list_templates(args.prefix)
        if args.action == "show":
            return svc.get_template(args.prefix, args.version)
        if args.action == "delete":
            await svc.delete_template(args.prefix, args.version, me, caller=CLI)
            return {"deleted": f"{args.prefix} v{args.version}"}
        done = await svc.put_template(decode_publish(body), me, caller=CLI)
        return {**done.template, "created": done.created}

    body = None
    if args.action == "add":
        if not args.file:
            raise SystemExit("idnode template add needs a JSON file (the body of POST /api/templates)")
        try:
            body = json.loads(Path(args.file).read_text())
        except (OSError, ValueError) as e:
            raise SystemExit(f"idnode template add: {args.file}: {e}") from None
    elif args.action in ("show", "delete") and not (args.prefix and args.version):
        raise SystemExit(f"idnode template {args.action} needs a prefix and a version")
    return _print(_with_service(args, act))


def cmd_handle(args: argparse.Namespace) -> int:
    async def act(svc):
        result = await svc.delete_handle(args.handle, svc.operator(), indexes=args.index or None, caller=CLI)
        return {"handle": args.handle, "result": result}

    return _print(_with_service(args, act))


def cmd_mirror(args: argparse.Namespace) -> int:
    async def act(svc):
        return await svc.promote(svc.operator(), caller=CLI)

    out = _with_service(args, act)
    print(f"promoted: this data folder was a mirror of {out['was_mirror_of']} and now takes writes itself")
    print("a mirror serving it now keeps following until restarted; POST /api/replication/promote "
          "promotes a running one at once")
    return 0


def cmd_lockout(args: argparse.Namespace) -> int:
    if (args.identity is None) == (args.address is None):
        raise SystemExit("idnode lockout clear needs exactly one of --identity INDEX:HANDLE or --address IP")

    async def act(svc):
        if args.identity is not None:
            return await svc.clear_lockout(args.identity, svc.operator(), caller=CLI)
        return await svc.clear_lockout(args.address, svc.operator(), address=True, caller=CLI)

    return _print(_with_service(args, act))


def add_commands(sub: argparse._SubParsersAction) -> None:
    s = sub.add_parser("admin-secret", help="give the node admin 300:0.NA/<prefix> a new secret (rotate it)")
    _common(s)
    s.add_argument("--secret", help="the new secret, at least 8 characters (default: made and shown once)")
    s.set_defaults(fn=cmd_admin_secret)

    s = sub.add_parser("token", help="bearer tokens: list those that work, revoke one (works while the node runs)")
    s.add_argument("action", choices=["list", "revoke"])
    s.add_argument("token", nargs="?", help="revoke: the token (idn_…), or its id as `token list` shows it")
    _common(s)
    s.set_defaults(fn=cmd_token)

    s = sub.add_parser("template", help="data templates: list, show, add (from a JSON file), delete")
    s.add_argument("action", choices=["list", "show", "add", "delete"])
    s.add_argument("prefix", nargs="?", help="the prefix (list: all when not given; add: the FILE instead)")
    s.add_argument("version", nargs="?", help="the template's version (show, delete)")
    _common(s)
    s.add_argument("--file", help="add: the template as JSON, the body POST /api/templates takes")
    s.set_defaults(fn=cmd_template)

    s = sub.add_parser("handle", help="delete a handle, or some of its values (works while the node runs)")
    s.add_argument("action", choices=["delete"])
    s.add_argument("handle")
    _common(s)
    s.add_argument("--index", type=int, action="append", help="delete only the value at this index (repeatable)")
    s.set_defaults(fn=cmd_handle)

    s = sub.add_parser("mirror", help="promote a mirror's data folder: it stops following and takes writes")
    s.add_argument("action", choices=["promote"])
    _common(s)
    s.set_defaults(fn=cmd_mirror)

    s = sub.add_parser("lockout", help="clear a lock-out of an identity or an address in every worker "
                       "(works while the node runs)")
    s.add_argument("action", choices=["clear"])
    s.add_argument("--identity", help="the locked-out identity, e.g. 300:0.NA/88.101.5")
    s.add_argument("--address", help="the locked-out client address, e.g. 192.0.2.7")
    _common(s)
    s.set_defaults(fn=cmd_lockout)
