"""What the commands of ``idnode`` share: the configuration they read, the options every command takes,
and running an operation on the node's service from the command line (audited, as the operator)."""

from __future__ import annotations

import argparse
import asyncio

from ..assembly.service_setup import close_service, open_service
from ..config import Config


def _config(args: argparse.Namespace) -> Config:
    # The options of this command that name a setting override it (see main._settings); --data always does.
    flags = {k: getattr(args, k, None) for k in getattr(args, "settings", ("data",))}
    try:
        return Config.load(getattr(args, "config", None), flags)
    except (OSError, ValueError) as e:  # a missing or unreadable file, bad TOML, a setting of the wrong type
        raise SystemExit(f"idnode: configuration: {e}") from None


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", help="data folder (LMDB environment); default ./data or IDNODE_DATA")
    p.add_argument("--config", help="TOML config file")


def _with_service(args: argparse.Namespace, fn):
    """``fn(svc)`` on the data folder's service. What the operator does at the console is audited like
    any request, from "local": ``fn`` passes ``caller=CLI`` (resolver/audit_trail.py) to what it calls."""
    svc = open_service(_config(args))
    try:
        return asyncio.run(fn(svc))
    finally:
        close_service(svc)
