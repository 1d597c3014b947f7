"""``idnode``: serve, initialise, manage prefixes, import, export and resolve."""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.parse
import urllib.request

from protocol.codes import HandleError
from protocol.prefixes import AllocatePrefix, encode_allocated
from storage import StoreFull, WriteFailed
from storage.env import make_private

from ..assembly.service_setup import close_service, open_service
from ..audit_trail import CLI
from ..config import Config, data_path
from ..credentials import new_secret
from .common import _common, _config, _with_service


def _settings(p: argparse.ArgumentParser, *not_settings: str) -> None:
    """Mark every option of ``p`` whose destination is a Config field as overriding that setting,
    derived from Config so no list of names is kept here. ``not_settings``: options that share a
    setting's name but mean something else (``label HANDLE`` is a handle, not the --handle address)."""
    fields = set(Config.__dataclass_fields__)
    p.set_defaults(settings=tuple(a.dest for a in p._actions if a.dest in fields and a.dest not in not_settings))


def cmd_serve(args: argparse.Namespace) -> int:
    from ..assembly.serve import run  # the web stack loads only for the command that serves

    return run(_config(args), loader=lambda: _config(args))


def cmd_init(args: argparse.Namespace) -> int:
    from ..assembly.preflight import make_data_folder

    cfg = _config(args)
    secret = args.admin_secret or new_secret()
    make_data_folder(data_path(cfg))
    svc = open_service(cfg)
    try:
        created = svc.init_node(args.prefix, secret)
        same = created or not args.admin_secret or _is_admin_secret(svc, args.prefix, args.admin_secret)
    finally:
        close_service(svc)
    if created:
        print(f"initialised {cfg.data}: node prefix {args.prefix}, admin identity 300:0.NA/{args.prefix}")
        if not args.admin_secret:
            print(f"admin secret (shown once, keep it): {secret}")
    elif not same:
        # Saying "nothing changed" here left operators believing they had set the secret.
        raise SystemExit(f"idnode: {cfg.data} is initialised already with another admin secret: init does not "
                         f"change it; `idnode admin-secret --data {cfg.data} --secret NEW` rotates it")
    else:
        print(f"{cfg.data} already serves prefix {args.prefix}; nothing changed")
    if args.tls:
        from ..tlscert import init_tls

        init_tls(cfg.data, args.prefix, tuple(args.tls_name or ()))
    make_private(data_path(cfg))  # a folder made before init (a volume, say) is made private too
    return 0


def _is_admin_secret(svc, prefix: str, secret: str) -> bool:
    from protocol.handles import na_handle

    from ..credentials import check_secret

    with svc.store.read() as tx:
        verifier = tx.get_verifier(300, na_handle(prefix))
    return verifier is not None and check_secret(secret, bytes(verifier).decode("utf-8", "replace"))


def cmd_prefix(args: argparse.Namespace) -> int:
    async def act(svc):
        me = svc.operator()
        if args.action == "add":
            owner = {k: v for k, v in (("name", args.owner_name), ("contact", args.owner_contact),
                                       ("email", args.owner_email)) if v}
            done = await svc.allocate_prefix(AllocatePrefix(args.prefix, owner, secret=args.secret or None), me,
                                              caller=CLI)
            return encode_allocated(done)
        if args.action in ("disable", "enable"):
            return await svc.set_prefix_state(args.prefix, args.action + "d", me, caller=CLI)
        if args.action == "delete":
            await svc.delete_prefix(args.prefix, me, caller=CLI)
            return {"deleted": args.prefix}
        if args.action == "secret":
            return await svc.rotate_secret(args.prefix, args.secret or None, me, caller=CLI)
        return svc.list_prefixes(me)

    if args.action not in ("list", "add") and not args.prefix:
        raise SystemExit(f"idnode prefix {args.action} needs a prefix")
    out = _with_service(args, act)
    print(json.dumps(out, ensure_ascii=False, indent=2))
    return 0


def cmd_federation(args: argparse.Namespace) -> int:
    async def act(svc):
        return svc.federation_status(svc.operator())

    st = _with_service(args, act)
    if args.json:
        print(json.dumps(st, indent=2))
        return 0
    if not st["configured"]:
        print("no upstream top-level node is configured (serve with --upstream HOST:PORT)")
        return 0
    box = st["outbox"]
    age = "" if box["oldestAge"] is None else f", oldest {box['oldestAge']:.1f} s old"
    print(f"identity {st['identity']}; outbox: {box['entries']} entries{age}")
    for u in st["upstreams"]:
        state = f"failing: {u['lastError']}" if u["failing"] else "ok"
        age = "" if u["oldestAge"] is None else f", oldest {u['oldestAge']:.1f} s old"
        print(f"  {u['upstream']}: {u['waiting']} waiting{age}; acknowledged up to {u['acknowledged']}; {state}")
    return 0


def cmd_audit(args: argparse.Namespace) -> int:
    """The audit trail, one JSON object a line; "more: --cursor N" on standard error when a page ends early."""
    from ..service.audit_query import FILTERS, AuditQuery

    params = {k: str(v) for k in FILTERS if (v := getattr(args, k, None)) is not None}
    svc = open_service(_config(args))
    try:
        entries, cursor = svc.audit_trail(AuditQuery.parse(params), svc.operator())
    finally:
        close_service(svc)
    for e in entries:
        print(json.dumps(e, ensure_ascii=False))
    if cursor is not None:
        print(f"more: --cursor {cursor}", file=sys.stderr)
    return 0


def cmd_events(args: argparse.Namespace) -> int:
    import orjson

    from ..events_import import import_events
    from ..service.epcis_schema import SchemaUnavailable

    svc = open_service(_config(args))
    try:
        s = import_events(svc, args.file, fmt=args.format, restart=args.restart, rejects=args.rejects,
                          progress=not args.no_progress, chunk=max(1, args.chunk))
    except SchemaUnavailable as e:
        raise SystemExit(f"idnode events import: {e}") from None
    except (OSError, orjson.JSONDecodeError, ValueError) as e:
        raise SystemExit(f"idnode events import: {args.file}: {e}") from None
    finally:
        close_service(svc)
    if s.already_complete:
        print(f"{args.file} was imported completely already; --restart imports it again (nothing is stored twice)")
        return 0
    resumed = f" (resumed after {s.resumed_from})" if s.resumed_from else ""
    print(f"read {s.events} events: stored {s.stored}, duplicate {s.duplicate}, error declarations attached "
          f"{s.declared}, rejected {s.rejected}{resumed}")
    for reason, n in s.reasons.most_common(10):
        print(f"  {n:>8}  {reason}")
    if s.rejects_file:
        print(f"rejected events with their reasons: {s.rejects_file}")
    return 0 if not s.rejected else 3


def cmd_resolve(args: argparse.Namespace) -> int:
    if args.udp or args.tcp:
        from .handle import resolve

        return resolve(args)
    args.server = args.server or "http://127.0.0.1:8000"
    query = [("type", t) for t in args.type or []] + [("index", str(i)) for i in args.index or []]
    url = f"{args.server.rstrip('/')}/api/handles/{urllib.parse.quote(args.handle, safe='/:')}"
    if query:
        url += "?" + urllib.parse.urlencode(query)
    req = urllib.request.Request(url, headers={"Accept": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=args.timeout) as resp:
            body = json.load(resp)
    except urllib.error.HTTPError as e:
        body = json.loads(e.read() or b"{}")
        print(json.dumps(body, ensure_ascii=False, indent=2))
        return 1
    print(json.dumps(body, ensure_ascii=False, indent=2))
    return 0


def cmd_label(args: argparse.Namespace) -> int:
    from .. import labels

    try:
        base = args.base_url or labels.base_url(_config(args))
        url = labels.label_url(base, args.handle)
        labels.write(url, args.out, scale=args.scale)
    except (ValueError, OSError) as e:
        raise SystemExit(f"idnode label: {e}") from None
    print(url if args.out is None else f"wrote {args.out}: a QR code of {url}")
    return 0


def cmd_keygen(args: argparse.Namespace) -> int:
    from .handle import keygen

    return keygen(args)


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="idnode", description="Industrial identifier resolution node")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("serve", help="run the node")
    _common(s)
    s.add_argument("--http", help="HOST:PORT for HTTP (default 127.0.0.1:8000)")
    s.add_argument("--https", help="HOST:PORT for HTTPS (needs --tls-cert and --tls-key)")
    s.add_argument("--handle", help="HOST[:PORT] for the Handle protocol over TCP and UDP (port 2641 by default)")
    s.add_argument("--tls-cert", dest="tls_cert")
    s.add_argument("--tls-key", dest="tls_key")
    s.add_argument("--map-size", dest="map_size", type=int, help="initial LMDB map size in bytes (it grows)")
    s.add_argument("--max-map-size", dest="max_map_size", type=int,
                   help="the LMDB map never grows past this many bytes; then writes answer 507 (default: no limit)")
    s.add_argument("--workers", type=int, help="processes sharing the ports and the data folder (default 1)")
    s.add_argument("--log-format", dest="log_format", choices=["text", "json"], help="text (default) or json lines")
    s.add_argument("--advertise", metavar="IP", help="the address other nodes reach this one at (in its HS_SITE)")
    s.add_argument("--role", choices=["secondary", "top", "mirror"],
                   help="secondary (default), top (a top-level node) or mirror (a read-only copy of --primary)")
    s.add_argument("--site-server", dest="site_servers", action="append", metavar="IP:HANDLE_PORT:HTTP_PORT",
                   help="every server of this node's site, in order (repeatable); with --server-number")
    s.add_argument("--server-number", dest="server_number", type=int, metavar="N",
                   help="this server's place in --site-server (from 1)")
    s.add_argument("--primary", metavar="URL", help="a mirror's primary, e.g. http://10.0.0.5:8000")
    s.add_argument("--primary-identity", dest="primary_identity", metavar="300:0.NA/PREFIX",
                   help="the primary's node admin identity")
    s.add_argument("--primary-secret", dest="primary_secret", help="its secret")
    s.add_argument("--upstream", action="append", metavar="HOST:PORT",
                   help="a top-level node's Handle address (repeatable, in order of preference)")
    s.add_argument("--upstream-identity", dest="upstream_identity", metavar="300:0.NA/PREFIX",
                   help="this node's identity at the top-level nodes")
    s.add_argument("--upstream-secret", dest="upstream_secret", help="its secret")
    s.add_argument("--upstream-key", dest="upstream_key", metavar="FILE", help="or its private key (PEM)")
    s.add_argument("--stats-interval", dest="stats_interval", type=int, metavar="SECONDS",
                   help="seconds between statistics reports upstream (default 3600)")
    s.add_argument("--upstream-http", dest="upstream_http", action="append", metavar="URL",
                   help="a top-level node's HTTP API, for reports (repeatable, in the order of --upstream)")
    s.add_argument("--report-interval", dest="report_interval", type=int, metavar="SECONDS",
                   help="seconds between queueing the reports due (default 3600; 0: only `idnode report send`)")
    s.add_argument("--no-counting", dest="counting", action="store_const", const=False,
                   help="count nothing for the reports (for benchmarks)")
    s.add_argument("--escrow-key", dest="escrow_key", metavar="FILE",
                   help="a top-level node's SM2 private key (PEM): it opens its secondaries' deposits")
    s.add_argument("--takeover-window", dest="takeover_window", type=int, metavar="SECONDS",
                   help="a top-level node takes a secondary over when 51%% of its probes in this window fail "
                        "(default 300)")
    s.add_argument("--takeover-probe-interval", dest="takeover_probe_interval", type=int, metavar="SECONDS",
                   help="seconds between probes of each secondary with a deposit (default 10; 0: no probes)")
    s.set_defaults(fn=cmd_serve)
    _settings(s)

    s = sub.add_parser("federation", help="the upstream outbox and upstream health")
    s.add_argument("action", choices=["status"])
    _common(s)
    s.add_argument("--json", action="store_true", help="print the status as JSON")
    s.set_defaults(fn=cmd_federation)

    s = sub.add_parser("init", help="give a data folder its node prefix and admin identity")
    _common(s)
    s.add_argument("--prefix", required=True, help="the node's own prefix, e.g. 88.101")
    s.add_argument("--admin-secret", help="secret of 300:0.NA/<prefix> (default: made and shown once)")
    s.add_argument("--tls", action="store_true",
                   help="also make a self-signed certificate and key for trials, DATA/tls/cert.pem and key.pem")
    s.add_argument("--tls-name", dest="tls_name", action="append", metavar="NAME",
                   help="with --tls: another host name or IP address the certificate names (repeatable)")
    s.set_defaults(fn=cmd_init)

    s = sub.add_parser("prefix", help="enterprise prefixes (works while the node runs)")
    s.add_argument("action", choices=["add", "disable", "enable", "delete", "secret", "list"])
    s.add_argument("prefix", nargs="?", help="the prefix (add: default the next free number under the node's)")
    _common(s)
    s.add_argument("--secret", help="the prefix admin's secret (default: made and shown once)")
    s.add_argument("--owner-name")
    s.add_argument("--owner-contact")
    s.add_argument("--owner-email")
    s.set_defaults(fn=cmd_prefix)

    s = sub.add_parser("audit", help="read the audit trail: every change and every refused attempt")
    _common(s)
    s.add_argument("--since", help="from this time (ISO 8601, or seconds since the epoch)")
    s.add_argument("--until", help="before this time")
    s.add_argument("--identity", help="who, e.g. 300:0.NA/88.101.5 (as claimed, for failed authentications)")
    s.add_argument("--handle", help="about this handle (and batches on its prefix)")
    s.add_argument("--prefix", help="about handles and prefixes under this prefix")
    s.add_argument("--result", choices=["allowed", "denied"])
    s.add_argument("--op", help="operation, e.g. put_handle, batch, allocate_prefix")
    s.add_argument("--client", help="client address")
    s.add_argument("--limit", type=int, help="entries (default 100, at most 1000)")
    s.add_argument("--cursor", help="continue where the last page ended")
    s.add_argument("--order", choices=["asc", "desc"], help="oldest first (default) or newest first")
    s.set_defaults(fn=cmd_audit)

    s = sub.add_parser("events", help="EPCIS events: import a file of them (resumable, idempotent)")
    s.add_argument("action", choices=["import"])
    s.add_argument("file", help="an EPCIS document (.json, .jsonld) or JSON Lines of events (.jsonl, .ndjson)")
    _common(s)
    s.add_argument("--format", choices=["auto", "jsonl", "document"], default="auto")
    s.add_argument("--restart", action="store_true", help="read from the top instead of resuming")
    s.add_argument("--rejects", help="where rejected events go (default FILE.rejects.jsonl)")
    s.add_argument("--chunk", type=int, default=1000, help="events a durable transaction (default 1000)")
    s.add_argument("--no-progress", action="store_true")
    s.set_defaults(fn=cmd_events)

    s = sub.add_parser("resolve", help="resolve a handle on a running node")
    s.add_argument("handle")
    s.add_argument("--server", help="http://127.0.0.1:8000 (default), or HOST:PORT with --udp/--tcp "
                   "(default 127.0.0.1:2641)")
    s.add_argument("--type", action="append")
    s.add_argument("--index", action="append", type=int)
    s.add_argument("--timeout", type=float, default=10.0)
    via = s.add_mutually_exclusive_group()
    via.add_argument("--udp", action="store_true", help="speak the Handle protocol over UDP (TCP if truncated)")
    via.add_argument("--tcp", action="store_true", help="speak the Handle protocol over TCP")
    s.add_argument("--public-only", action="store_true", help="ask for public values only (the PO flag)")
    s.set_defaults(fn=cmd_resolve)

    s = sub.add_parser("label", help="a QR code that scans back to this node's page for a handle")
    s.add_argument("handle")
    _common(s)
    s.add_argument("--base-url", dest="base_url", metavar="URL",
                   help="the node as scanners reach it, http://host:port (default: from --http / the config)")
    s.add_argument("--http", help="the node's HTTP address, when --base-url is not given")
    s.add_argument("--out", metavar="FILE", help="write a .png or .svg instead of printing to the terminal")
    s.add_argument("--scale", type=int, default=8, help="pixels (PNG) or units (SVG) a module (default 8)")
    s.set_defaults(fn=cmd_label)
    _settings(s, "handle")

    s = sub.add_parser("keygen", help="write a key pair for a public-key (HS_PUBKEY) identity")
    s.add_argument("--out", required=True, help="private key file (PEM, 0600); FILE.pub and FILE.pub.json beside it")
    s.add_argument("--type", choices=["rsa", "ecdsa", "ed25519", "sm2"], default="rsa",
                   help="rsa (default; what Handle.Net clients take), ecdsa or ed25519 (this node's HS_PUBKEY "
                        "types), sm2 (the national SDK's SM2_PUB_KEY; PKCS #8 PEM that its KeyConverter reads)")
    s.add_argument("--bits", type=int, default=2048, help="RSA key size (default 2048)")
    s.add_argument("--curve", choices=["P-256", "P-384", "P-521"], default="P-256", help="ECDSA curve (default P-256)")
    s.add_argument("--index", type=int, default=300, help="index of the HS_PUBKEY value printed (default 300)")
    s.set_defaults(fn=cmd_keygen)

    from . import escrow, reports

    reports.add_commands(sub, _common, lambda a: reports.cmd_report(a, _with_service))
    escrow.add_commands(sub, _common, _with_service, _config)
    escrow.add_takeover(sub, _common, _with_service)
    # Commands in modules of their own: backup, restore, verify; import, export; the operator's
    # everyday tasks (admin-secret, token, template, handle, mirror).
    from .. import backup
    from . import data as cli_data
    from . import ops as cli_ops

    for module in (backup, cli_data, cli_ops):
        module.add_commands(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.fn(args)
    except HandleError as e:
        print(f"idnode: {e.message} (response code {e.rc})", file=sys.stderr)
        return 2
    except (StoreFull, WriteFailed) as e:  # a command writing straight to the store (init, import)
        print(f"idnode: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
