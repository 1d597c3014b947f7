"""``idnode escrow send``: make a full deposit of this node and deliver it to the top-level node over HTTP
(or into a folder, for SFTP), with a line in the deposit log DATA/escrow/deposits.jsonl either way."""

from __future__ import annotations

import base64
import json
import shutil
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from ..service import Service
from .deposit import make_deposit

RETRIES = 5


def _request(url: str, auth: str, *, method: str, path: Path | None = None, timeout: float = 600) -> bytes:
    headers = {"Authorization": auth}
    for attempt in range(RETRIES):
        f = open(path, "rb") if path is not None else None  # noqa: SIM115 - reopened for each attempt
        try:
            if path is not None:
                headers.update({"Content-Type": "application/octet-stream", "Content-Length": str(path.stat().st_size)})
            req = urllib.request.Request(url, data=f, method=method, headers=headers)
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return r.read()
        except urllib.error.HTTPError as e:
            body = e.read()[:300].decode("utf-8", "replace")
            if e.code < 500 or attempt == RETRIES - 1:
                raise SystemExit(f"idnode escrow send: {url}: HTTP {e.code} {body}") from None
        except OSError as e:
            if attempt == RETRIES - 1:
                raise SystemExit(f"idnode escrow send: {url}: {e}") from None
        finally:
            if f is not None:
                f.close()
        time.sleep(min(30.0, 0.5 * 2 ** attempt))
    raise SystemExit(f"idnode escrow send: {url}: the top-level node kept failing")


def deliver_http(folder: Path, base: str, node: str, deposit_id: str, auth: tuple[str, str]) -> dict:
    q = urllib.parse.quote
    prefix = f"{base.rstrip('/')}/api/escrow/{q(node, safe='')}/{q(deposit_id, safe='')}"
    header = "Basic " + base64.b64encode(f"{q(auth[0], safe='/')}:{auth[1]}".encode()).decode()
    names = sorted(p.name for p in folder.iterdir() if p.name.startswith("volume-"))
    for name in [*names, "manifest.json", "manifest.sig"]:  # the manifest last: it completes the set
        _request(f"{prefix}/{name}", header, method="PUT", path=folder / name)
    return json.loads(_request(f"{prefix}/complete", header, method="POST", timeout=3600))


def send(svc: Service, *, signer: bytes, top_public: bytes, volume_size: int, to: str | None, folder: str | None,
         auth: tuple[str, str] | None) -> dict:
    node = svc.require_initialised()
    base = Path(svc.store.path) / "escrow"
    out = base / "out"
    out.mkdir(parents=True, exist_ok=True)
    for old in out.iterdir():  # an earlier deposit that was never delivered: this one supersedes it
        shutil.rmtree(old, ignore_errors=True)
    t0 = time.time()
    dep = make_deposit(svc.store, node, out, signer_private=signer, top_public=top_public, volume_size=volume_size,
                       now=t0)
    manifest = json.loads((dep / "manifest.json").read_text())
    entry = {"id": manifest["id"], "created": manifest["created"], "mode": manifest["mode"],
             "sequence": manifest["sequence"], **manifest["counts"], "volumes": len(manifest["volumes"]),
             "bytes": sum(v["size"] for v in manifest["volumes"])}
    try:
        if folder:
            dest = Path(folder) / dep.name
            shutil.copytree(dep, dest)
            entry.update(deliveredTo=str(dest), result="delivered")
        else:
            answer = deliver_http(dep, to, node, manifest["id"], auth)
            entry.update(deliveredTo=to, result=answer.get("result", "delivered"))
    except SystemExit as e:
        entry.update(result="failed", error=str(e.code))
        _log(base, entry)
        raise
    entry["seconds"] = round(time.time() - t0, 3)
    _log(base, entry)
    shutil.rmtree(dep, ignore_errors=True)
    return entry


def _log(base: Path, entry: dict) -> None:
    with open(base / "deposits.jsonl", "a", encoding="utf-8") as f:
        f.write(json.dumps(entry, ensure_ascii=False) + "\n")
