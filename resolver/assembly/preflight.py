"""Checks ``idnode serve`` makes before it opens or creates anything: each failure is one clear line
(a ``SystemExit``) instead of a traceback, a supervisor restarting workers that cannot start, or an
LMDB environment created in a folder nobody initialised.
"""

from __future__ import annotations

import errno
import socket
import tempfile
from pathlib import Path

from ..config import Config, data_path, host_port

DATA_FILE = "data.mdb"


def data_folder_problem(folder: Path, *, must_exist: bool) -> str | None:
    """Why the node cannot keep its data in ``folder`` (None when it can)."""
    if must_exist and not (folder / DATA_FILE).is_file():
        return (f"{folder} holds no node: run `idnode init --data {folder} --prefix PREFIX` first "
                "(nothing was created)")
    if not folder.exists():
        return None  # init makes it; its parent is checked when it does
    if not folder.is_dir():
        return f"the data folder {folder} is not a folder"
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as e:
        return f"the data folder {folder} is not writable by this user ({e.strerror})"
    return None


def check_data_folder(folder: Path, *, must_exist: bool) -> None:
    problem = data_folder_problem(folder, must_exist=must_exist)
    if problem:
        raise SystemExit(f"idnode: {problem}")


def make_data_folder(folder: Path) -> None:
    """``idnode init``: create the folder, or say in one line why it cannot be."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise SystemExit(f"idnode: cannot create the data folder {folder}: {e.strerror}") from None
    check_data_folder(folder, must_exist=False)


def addresses(cfg: Config) -> list[tuple[str, str, int, int]]:
    """(what, host, port, socket type) of every port ``serve`` binds."""
    from .handle_front import HANDLE_PORT

    out = [("HTTP", *host_port(cfg.http, 8000), socket.SOCK_STREAM)]
    if cfg.https:
        out.append(("HTTPS", *host_port(cfg.https, 8443), socket.SOCK_STREAM))
    if cfg.handle:
        h, p = host_port(cfg.handle, HANDLE_PORT)
        out += [("Handle TCP", h, p, socket.SOCK_STREAM), ("Handle UDP", h, p, socket.SOCK_DGRAM)]
    return out


def check_ports(cfg: Config) -> None:
    """Bind each port once, as the node will (SO_REUSEPORT with workers), and let it go again.

    A port another program holds fails here, in the supervisor, before any worker is forked."""
    for what, host, port, kind in addresses(cfg):
        try:
            infos = socket.getaddrinfo(host or None, port, type=kind, flags=socket.AI_PASSIVE)
        except socket.gaierror as e:
            raise SystemExit(f"idnode: cannot listen for {what} on {host}:{port}: {e.strerror}") from None
        family, _, _, _, addr = infos[0]
        with socket.socket(family, kind) as s:
            if kind == socket.SOCK_STREAM:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if cfg.workers > 1:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            try:
                s.bind(addr)
            except OSError as e:
                raise SystemExit(f"idnode: cannot listen for {what} on {host}:{port}: {bind_reason(e)}") from None


def bind_reason(e: OSError) -> str:
    if e.errno == errno.EADDRINUSE:
        return "address already in use (another idnode, or another program, holds it)"
    if e.errno == errno.EACCES:
        return "permission denied (ports below 1024 need privileges)"
    if e.errno == errno.EADDRNOTAVAIL:
        return "this machine has no such address"
    return e.strerror or str(e)


def check_serve(cfg: Config, *, mirror: bool) -> None:
    """Everything ``serve`` checks before it touches the data folder or forks."""
    # A mirror starts from an empty folder: it fetches its primary's snapshot into it.
    folder = data_path(cfg)
    if mirror:
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise SystemExit(f"idnode: cannot create the data folder {folder}: {e.strerror}") from None
    check_data_folder(folder, must_exist=not mirror)
    check_ports(cfg)

