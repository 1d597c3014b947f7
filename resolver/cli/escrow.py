"""``idnode escrow keygen | trust | send`` and ``idnode takeover``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from protocol.handles import check_prefix, fold

from ..escrow.keys import keygen, load_private, load_public

DEFAULT_VOLUME_MB = 256


def add_commands(sub: argparse._SubParsersAction, common, with_service, config) -> None:
    s = sub.add_parser("escrow", help="deposits with the top-level node (Annex 4): keys, trust, send")
    s.add_argument("action", choices=["keygen", "trust", "send"])
    s.add_argument("node", nargs="?", help="trust: the secondary node's prefix")
    s.add_argument("--out", help="keygen: the folder for escrow-private.pem and escrow-public.pem")
    s.add_argument("--key", help="trust: the secondary's public key; send: this node's private key "
                   "(default: escrow_key of the configuration)")
    s.add_argument("--top-key", dest="top_key", help="send: the top-level node's public key (escrow_top_key)")
    s.add_argument("--to", help="send: the top-level node's HTTP API (default: the first --upstream-http)")
    s.add_argument("--folder", help="send: deliver into this folder instead (for SFTP)")
    s.add_argument("--identity", help="send: this node's identity there (default: upstream_identity)")
    s.add_argument("--secret", help="send: its secret (default: upstream_secret)")
    s.add_argument("--volume-size", dest="volume_size", type=int, default=DEFAULT_VOLUME_MB << 20,
                   help=f"send: bytes a volume (default {DEFAULT_VOLUME_MB} MiB; at most 1 GiB)")
    common(s)
    s.set_defaults(fn=lambda a: cmd_escrow(a, with_service, config))


def add_takeover(sub: argparse._SubParsersAction, common, with_service) -> None:
    s = sub.add_parser("takeover", help="on a top-level node: serve a secondary's identifiers from its latest "
                       "deposit, or hand them back")
    s.add_argument("node", help="the secondary node's prefix")
    s.add_argument("--release", action="store_true", help="hand back: stop serving its deposit")
    common(s)
    s.set_defaults(fn=lambda a: cmd_takeover(a, with_service))


def cmd_takeover(args: argparse.Namespace, with_service) -> int:
    import time

    from ..escrow.takeover import set_state
    from ..escrow.vault import LATEST_META

    node = check_prefix(args.node)

    async def act(svc):
        if args.release:
            await set_state(svc, node, None)
            return f"{node} handed back: its identifiers are referred to it again"
        with svc.store.read() as tx:
            latest = tx.get_meta(LATEST_META + fold(node))
        if latest is None:
            raise SystemExit(f"idnode takeover: no deposit of {node} has been restored here")
        await set_state(svc, node, {"reason": "operator", "since": int(time.time()), "deposit": latest["id"]})
        return (f"{node} taken over from deposit {latest['id']} ({latest['identifiers']} identifiers, "
                f"{latest['created']}); the serving node follows within a second")

    print(with_service(args, act))
    return 0


def cmd_escrow(args: argparse.Namespace, with_service, config) -> int:
    if args.action == "keygen":
        if not args.out:
            raise SystemExit("idnode escrow keygen needs --out FOLDER")
        priv, pub = keygen(Path(args.out))
        print(f"{priv} (keep it; 0600)\n{pub} (give it to the other side)")
        return 0
    if args.action == "trust":
        if not args.node or not args.key:
            raise SystemExit("idnode escrow trust needs the secondary's prefix and --key PUBLIC.pem")
        node = check_prefix(args.node)
        public = load_public(args.key)
        from ..escrow.vault import TRUST_META

        async def act(svc):
            await svc.write(lambda tx: tx.put_meta(TRUST_META + fold(node), public.hex()))

        with_service(args, act)
        print(f"deposits of {node} are verified with {args.key}")
        return 0
    cfg = config(args)
    key_path = args.key or cfg.escrow_key
    top_path = args.top_key or cfg.escrow_top_key
    if not key_path or not top_path:
        raise SystemExit("idnode escrow send needs this node's private key (--key) and the top-level node's public "
                         "key (--top-key)")
    to = args.to or (cfg.upstream_http[0] if cfg.upstream_http else None)
    if not args.folder and not to:
        raise SystemExit("idnode escrow send needs --to URL (the top-level node's HTTP API) or --folder PATH")
    identity, secret = args.identity or cfg.upstream_identity, args.secret or cfg.upstream_secret
    if not args.folder and not (identity and secret):
        raise SystemExit("idnode escrow send over HTTP needs --identity and --secret (this node's identity there)")
    signer, top_public = load_private(key_path), load_public(top_path)
    from ..escrow.send import send

    async def act(svc):
        return send(svc, signer=signer, top_public=top_public, volume_size=args.volume_size, to=to,
                    folder=args.folder, auth=(identity, secret) if identity else None)

    entry = with_service(args, act)
    print(json.dumps(entry, indent=2))
    return 0
