"""A deposit (Annex 4): the node's routes and business data, packed, encrypted for the top-level node,
cut into volumes, signed — and the reverse, on the top-level node.

Layout of a deposit folder ``<node>-<id>/``:

- ``volume-0001.bin`` …: ``nonce (12) | SM4-GCM(ciphertext | tag)`` of consecutive pieces of one zip
  archive; each volume at most ``volume_size`` bytes (1 GiB at most); the additional data of each is
  ``<deposit id>:<volume number>``, so volumes cannot be swapped or replayed into another deposit;
- ``manifest.json``: node, deposit id, mode, when, the change-log sequence the snapshot holds, counts,
  the SM4 data key encrypted with the top-level node's SM2 public key (``C1|C3|C2``, hex), and each
  volume's size and SM3 digest;
- ``manifest.sig``: the secondary's SM2 signature (DER) of ``manifest.json``'s bytes.

The zip holds ``routes.json`` (table 2's configuration), ``prefixes.msgpack``, ``templates.msgpack``
and ``identifiers.msgpack``: the stored records, length-prefixed msgpack, exactly as LMDB holds them,
all read in one read transaction, so the deposit is one committed state of the node: every write
acknowledged before it began, none half-written.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import struct
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

from protocol import gm
from storage import GroupCommitter, Store, Tx
from storage.records import pack, unpack, unpack_record

from ..reports.tables import configuration

MAX_VOLUME = 1 << 30  # the guide's limit
DEFAULT_VOLUME = 256 << 20
NONCE = 12
_LEN = struct.Struct(">I")


class DepositError(ValueError):
    """A deposit that is incomplete, altered, not signed by the expected key, or not for us."""


def _frames(items: Iterator[bytes]) -> Iterator[bytes]:
    for raw in items:
        yield _LEN.pack(len(raw)) + raw


def read_frames(f: io.BufferedIOBase) -> Iterator[bytes]:
    while True:
        head = f.read(4)
        if not head:
            return
        if len(head) != 4:
            raise DepositError("a truncated record in the archive")
        (n,) = _LEN.unpack(head)
        raw = f.read(n)
        if len(raw) != n:
            raise DepositError("a truncated record in the archive")
        yield raw


def _archive(store: Store, node: str, zpath: Path) -> dict:
    """The snapshot as a zip archive at ``zpath``; what it holds."""
    counts = {"identifiers": 0, "prefixes": 0, "templates": 0}
    with store.read() as tx, zipfile.ZipFile(zpath, "w", zipfile.ZIP_DEFLATED, allowZip64=True) as zf:
        seq = tx.last_seq()
        zf.writestr("routes.json", json.dumps(configuration(tx, node), ensure_ascii=False))
        with zf.open("prefixes.msgpack", "w", force_zip64=True) as out:
            for rec in tx.list_prefixes():
                out.write(_LEN.pack(len(raw := pack(rec))) + raw)
                counts["prefixes"] += 1
        with zf.open("templates.msgpack", "w", force_zip64=True) as out:
            for tpl in tx.list_templates():
                out.write(_LEN.pack(len(raw := pack(tpl))) + raw)
                counts["templates"] += 1
        with zf.open("identifiers.msgpack", "w", force_zip64=True) as out:
            cur = tx.txn.cursor(db=tx.dbs["handles"])
            for _k, raw in cur:
                out.write(_LEN.pack(len(raw)) + raw)
                counts["identifiers"] += 1
    return {"sequence": seq, "counts": counts}


def make_deposit(store: Store, node: str, out_dir: Path, *, signer_private: bytes, top_public: bytes,
                 volume_size: int = DEFAULT_VOLUME, now: float, deposit_id: str | None = None) -> Path:
    """Pack, encrypt, cut and sign a full deposit under ``out_dir``; the deposit folder."""
    if not 1024 <= volume_size <= MAX_VOLUME:
        raise DepositError(f"volume size must be between 1 KiB and 1 GiB, not {volume_size}")
    when = dt.datetime.fromtimestamp(now, dt.UTC)
    deposit_id = deposit_id or when.strftime("%Y%m%dT%H%M%SZ") + "-" + os.urandom(3).hex()
    folder = out_dir / f"{node}-{deposit_id}"
    folder.mkdir(parents=True)
    key = gm.random_bytes(16)
    piece = volume_size - NONCE - gm.GCM_TAG
    volumes = []
    with tempfile.TemporaryDirectory(dir=out_dir) as tmp:
        zpath = Path(tmp) / "deposit.zip"
        held = _archive(store, node, zpath)
        with open(zpath, "rb") as z:
            n = 0
            while True:
                chunk = z.read(piece)
                if not chunk and n:
                    break
                n += 1
                nonce = gm.random_bytes(NONCE)
                sealed = nonce + gm.sm4_gcm_encrypt(key, nonce, chunk, f"{deposit_id}:{n}".encode())
                name = f"volume-{n:04d}.bin"
                (folder / name).write_bytes(sealed)
                volumes.append({"name": name, "size": len(sealed), "sm3": gm.sm3(sealed).hex()})
                if len(chunk) < piece:
                    break
    manifest = {"format": "idnode-escrow/1", "node": node, "id": deposit_id, "mode": "full",
                "created": when.isoformat(timespec="seconds").replace("+00:00", "Z"), **held,
                "key": gm.sm2_encrypt(top_public, key).hex(), "volumes": volumes}
    body = json.dumps(manifest, indent=1).encode()
    (folder / "manifest.json").write_bytes(body)
    (folder / "manifest.sig").write_bytes(gm.sm2_sign(signer_private, body))
    return folder


# --- the top-level node's side --------------------------------------------------------------------------
def verify(folder: Path, signer_public: bytes, node: str) -> dict:
    """The manifest, once its signature, its node and every volume's size and digest are checked."""
    try:
        body = (folder / "manifest.json").read_bytes()
        sig = (folder / "manifest.sig").read_bytes()
    except OSError as e:
        raise DepositError(f"the deposit has no {Path(e.filename).name}") from None
    if not gm.sm2_verify(signer_public, body, sig):
        raise DepositError("the manifest's signature does not verify with the secondary's key")
    manifest = json.loads(body)
    if manifest.get("node") != node or manifest.get("format") != "idnode-escrow/1":
        raise DepositError(f"the deposit is not an idnode deposit of {node}")
    for vol in manifest["volumes"]:
        path = folder / vol["name"]
        if not path.is_file() or path.stat().st_size != vol["size"]:
            raise DepositError(f"volume {vol['name']} is missing or of the wrong size")
        if gm.sm3(path.read_bytes()).hex() != vol["sm3"]:
            raise DepositError(f"volume {vol['name']} does not match its digest")
    return manifest


def restore(folder: Path, manifest: dict, top_private: bytes, target: Path) -> dict:
    """Decrypt the volumes and load the records into a new store at ``target``; what it holds."""
    key = gm.sm2_decrypt(top_private, bytes.fromhex(manifest["key"]))
    target.mkdir(parents=True)
    with tempfile.TemporaryDirectory(dir=target.parent) as tmp:
        zpath = Path(tmp) / "deposit.zip"
        with open(zpath, "wb") as z:
            for n, vol in enumerate(manifest["volumes"], 1):
                sealed = (folder / vol["name"]).read_bytes()
                try:
                    z.write(gm.sm4_gcm_decrypt(key, sealed[:NONCE], sealed[NONCE:], f"{manifest['id']}:{n}".encode()))
                except gm.GMError as e:
                    raise DepositError(f"volume {vol['name']} does not decrypt: {e}") from None
        store = Store(target / "store")
        try:
            with zipfile.ZipFile(zpath) as zf:
                routes = json.loads(zf.read("routes.json"))
                _load(store, zf, manifest)
        finally:
            store.close()
    (target / "routes.json").write_text(json.dumps(routes, ensure_ascii=False))
    (target / "manifest.json").write_text(json.dumps(manifest))
    return {"routes": routes, **manifest["counts"]}


def _load(store: Store, zf: zipfile.ZipFile, manifest: dict) -> None:
    """Write the records in transactions of a few thousand (the store is new: nothing reads it yet)."""
    now = int(dt.datetime.fromisoformat(manifest["created"].replace("Z", "+00:00")).timestamp())
    who = f"escrow:{manifest['id']}"

    def batches(name: str) -> Iterator[list[bytes]]:
        with zf.open(name) as f:
            batch: list[bytes] = []
            for raw in read_frames(f):
                batch.append(raw)
                if len(batch) >= 5000:
                    yield batch
                    batch = []
            if batch:
                yield batch

    def prefixes(tx: Tx, b: list[bytes]) -> None:
        for r in b:
            tx.put_prefix(unpack(r), who=who, now=now)

    def templates(tx: Tx, b: list[bytes]) -> None:
        for r in b:
            tx.put_template(unpack(r), who=who, now=now)

    def identifiers(tx: Tx, b: list[bytes]) -> None:
        for raw in b:
            rec = unpack_record(raw)
            tx.put_handle(rec.handle, rec.values, old=None, who=who, now=now)

    # A writer of its own: the restored store is not the node's (storage/commit.py). A batch that fails
    # raises here, so a restore is never reported complete with records missing.
    with GroupCommitter(store) as writer:
        for name, put in (("prefixes", prefixes), ("templates", templates), ("identifiers", identifiers)):
            for batch in batches(f"{name}.msgpack"):
                writer.apply(lambda tx, b=batch, put=put: put(tx, b), len(batch))
