"""The CLI's Handle-protocol commands: `idnode resolve --udp|--tcp` and `idnode keygen`."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from protocol.bodies import ErrorResponse, ResolutionResponse
from protocol.codes import RC
from protocol.jsonrepr import value_to_json
from protocol.pubkey import PublicKey

from ..config import host_port
from ..handleclient import HandleClient
from ..keys.keyfiles import hs_pubkey, new_key, private_pem, public_pem, write_private

DEFAULT_SERVER = "127.0.0.1:2641"


def resolve(args: argparse.Namespace) -> int:
    """Resolve over the Handle protocol; prints what the REST API would (responseCode, handle, values)."""
    server = args.server or DEFAULT_SERVER
    host, port = host_port(server.split("://", 1)[-1].rstrip("/"), 2641)
    client = HandleClient(host, port, timeout=args.timeout)
    ans = client.resolve(args.handle, tuple(args.index or ()), tuple(args.type or ()), udp=args.udp,
                         public_only=args.public_only)
    out: dict = {"responseCode": ans.rc, "handle": args.handle}
    if isinstance(ans.body, ResolutionResponse):
        out["values"] = [value_to_json(v) for v in ans.body.values]
    elif isinstance(ans.body, ErrorResponse) and ans.body.message:
        out["message"] = ans.body.message
    print(json.dumps(out, ensure_ascii=False, indent=2))
    return 0 if ans.rc == RC.SUCCESS else 1


def keygen(args: argparse.Namespace) -> int:
    """A key pair for a public-key identity (RSA, ECDSA, Ed25519 or SM2): the private key (PEM, 0600) and
    the HS_PUBKEY value to register at the identity's index (printed, and written beside the key as
    FILE.pub.json)."""
    out = Path(args.out)
    try:
        key = new_key(args.type, bits=args.bits, curve=args.curve)
    except ValueError as e:
        raise SystemExit(f"idnode keygen: {e}") from None
    if not write_private(out, private_pem(key)):
        raise SystemExit(f"idnode keygen: {out} already exists; not overwriting a private key")
    out.with_name(out.name + ".pub").write_bytes(public_pem(key))
    value = {"index": args.index, "type": "HS_PUBKEY",
             "data": {"format": "key", "value": PublicKey.from_wire(hs_pubkey(key)).to_json()}}
    out.with_name(out.name + ".pub.json").write_text(json.dumps(value, indent=2) + "\n")
    print(json.dumps(value, indent=2))
    return 0
