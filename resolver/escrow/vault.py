"""The top-level node's escrow vault: deposits arrive file by file, are verified, decrypted and restored,
one folder per secondary node (DATA/escrow/<node>/…).

- ``incoming/<id>/``: the files of a deposit as they arrive (at most ``MAX_INCOMING`` deposits a node);
- ``<id>/``: a restored deposit: ``store/`` (an LMDB environment of its records), ``routes.json``,
  ``manifest.json``; the latest two are kept;
- ``deposits.jsonl``: the deposit log, one line per deposit received (restored or refused).

Only the secondary itself (``300:0.NA/<node>``, authenticated) may deposit, and only once the top-level
node's operator has trusted its SM2 public key (``idnode escrow trust``): a deposit is verified against
that key before anything in it is decrypted.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import time
from pathlib import Path

from protocol.codes import RC, HandleError
from protocol.handles import fold

from ..reports.archive import _is_secondary, _node
from ..service import Service
from .deposit import MAX_VOLUME, DepositError, restore, verify

TRUST_META = "escrow_trust:"  # + folded node prefix → its SM2 public key (hex)
LATEST_META = "escrow_latest:"  # + folded node prefix → the latest restored deposit
MAX_INCOMING = 3
KEEP_RESTORED = 2
_ID = re.compile(r"[0-9A-Za-z-]{1,64}")
_FILE = re.compile(r"volume-[0-9]{4}\.bin|manifest\.json|manifest\.sig")


def root(svc: Service, node: str) -> Path:
    return Path(svc.store.path) / "escrow" / fold(node)


def authorize(svc: Service, node: str, identity, deposit_id: str, name: str | None = None) -> str:
    node = _node(svc, node)
    if identity is None:
        raise HandleError(RC.AUTHENTICATION_NEEDED, "authentication is needed to deposit")
    if not _is_secondary(identity, node):
        raise HandleError(RC.NOT_AUTHORIZED, f"{identity} may not deposit for {node}")
    if not _ID.fullmatch(deposit_id):
        raise HandleError(RC.INVALID_VALUE, "a deposit id is 1–64 letters, digits and '-'", field="id")
    if name is not None and not _FILE.fullmatch(name):
        raise HandleError(RC.INVALID_VALUE, "a deposit holds volume-NNNN.bin, manifest.json and manifest.sig only",
                          field="file")
    with svc.store.read() as tx:
        if tx.get_meta(TRUST_META + fold(node)) is None:
            raise HandleError(RC.NOT_AUTHORIZED, f"no escrow key of {node} is trusted here (idnode escrow trust)")
    return node


async def receive_file(svc: Service, node: str, deposit_id: str, name: str, length: int | None, chunks) -> int:
    """Stream one file of a deposit to disk (at most a volume's size); its size."""
    if length is None:
        raise HandleError(RC.PROTOCOL_ERROR, "a deposit file needs a Content-Length", status=411)
    if length > MAX_VOLUME:
        raise HandleError(RC.PROTOCOL_ERROR, f"a volume is at most {MAX_VOLUME} bytes", status=413)
    incoming = root(svc, node) / "incoming"
    folder = incoming / deposit_id
    if not folder.exists():
        incoming.mkdir(parents=True, exist_ok=True)
        others = sorted(incoming.iterdir(), key=lambda p: p.stat().st_mtime)
        for old in others[:max(0, len(others) - MAX_INCOMING + 1)]:
            shutil.rmtree(old, ignore_errors=True)  # an abandoned deposit makes way
        folder.mkdir()
    part = folder / (name + ".part")
    got = 0
    with open(part, "wb") as f:
        async for chunk in chunks:
            got += len(chunk)
            if got > length:
                raise HandleError(RC.PROTOCOL_ERROR, "the body is longer than its Content-Length", status=400)
            f.write(chunk)
    if got != length:
        part.unlink(missing_ok=True)
        raise HandleError(RC.PROTOCOL_ERROR, f"the body ended after {got} of {length} bytes", status=400)
    part.rename(folder / name)
    return got


async def complete(svc: Service, node: str, deposit_id: str, top_private: bytes | None) -> dict:
    """Verify, decrypt and restore a deposit whose files have all arrived; log it either way."""
    if top_private is None:
        raise HandleError(RC.ERROR, "this top-level node has no escrow key (--escrow-key): it cannot open deposits",
                          status=503)
    base = root(svc, node)
    folder = base / "incoming" / deposit_id
    if not folder.is_dir():
        raise HandleError(RC.HANDLE_NOT_FOUND, f"no deposit {deposit_id} of {node} has arrived", status=404)
    with svc.store.read() as tx:
        signer = bytes.fromhex(tx.get_meta(TRUST_META + fold(node)))
    target = base / deposit_id

    def work() -> dict:
        manifest = verify(folder, signer, node)
        if manifest["id"] != deposit_id:
            raise DepositError("the manifest names another deposit")
        if target.exists():
            shutil.rmtree(target)
        held = restore(folder, manifest, top_private, target)
        shutil.rmtree(folder, ignore_errors=True)
        return {"id": deposit_id, "created": manifest["created"], "sequence": manifest["sequence"],
                "mode": manifest["mode"], "volumes": len(manifest["volumes"]),
                "bytes": sum(v["size"] for v in manifest["volumes"]), **manifest["counts"], "routes": held["routes"]}

    loop = asyncio.get_running_loop()
    entry: dict = {"node": node, "id": deposit_id, "receivedAt": int(time.time())}
    try:
        info = await loop.run_in_executor(None, work)
    except (DepositError, ValueError, KeyError, OSError) as e:
        entry.update(result="refused", error=str(e))
        _log(base, entry)
        raise HandleError(RC.INVALID_VALUE, f"deposit {deposit_id} refused: {e}", field="deposit") from None
    entry.update(result="restored", **{k: v for k, v in info.items() if k != "routes"})
    _log(base, entry)
    await svc.write(lambda tx: tx.put_meta(LATEST_META + fold(node), {**info, "path": str(target)}))
    restored = sorted((p for p in base.iterdir() if p.is_dir() and p.name not in ("incoming", "takeover")),
                      key=lambda p: p.stat().st_mtime)
    for old in restored[:max(0, len(restored) - KEEP_RESTORED)]:
        if old != target:
            shutil.rmtree(old, ignore_errors=True)
    return entry


def _log(base: Path, entry: dict) -> None:
    base.mkdir(parents=True, exist_ok=True)
    with open(base / "deposits.jsonl", "a", encoding="utf-8") as f:
        f.write(json.dumps(entry, ensure_ascii=False) + "\n")


def deposit_log(svc: Service, node: str, identity) -> dict:
    node = _node(svc, node)
    if identity is None:
        raise HandleError(RC.AUTHENTICATION_NEEDED, "authentication is needed to read the deposit log")
    if not identity.node_admin and not _is_secondary(identity, node):
        raise HandleError(RC.NOT_AUTHORIZED, f"{identity} may not read the deposits of {node}")
    path = root(svc, node) / "deposits.jsonl"
    lines = path.read_text(encoding="utf-8").splitlines()[-1000:] if path.exists() else []
    with svc.store.read() as tx:
        latest = tx.get_meta(LATEST_META + fold(node))
        taken = tx.get_meta("takeover:" + fold(node))  # escrow/takeover.py's STATE_META
    return {"node": node, "latest": latest, "takenOver": taken, "deposits": [json.loads(x) for x in lines]}
