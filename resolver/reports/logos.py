"""An enterprise's logo, one of its owner details (entered.py): set by its administrators (the
console's upload), kept beside its prefix record, shown on its public pages and in the console.

What is kept is never what was sent: an upload must be a PNG, JPEG or WebP of at most ``MAX_UPLOAD``
bytes and ``MAX_SIDE`` pixels a side (read from its header before a pixel is decoded, so a small file
that would unpack to a huge bitmap is refused unread), is decoded by Pillow, scaled to at most
``KEPT_SIDE`` pixels and encoded again as PNG. Whatever else the file carried (metadata, a script in
a polyglot, trailing bytes) is dropped, and every logo the node serves is a small PNG it wrote
itself. SVG is refused: it can carry script.

Kept in the meta table (``logo:<prefix>``), not in the prefix record, so that the prefix listings and
the reports stay small; a mirror therefore shows no logo (its prefix records have none).
"""

from __future__ import annotations

import hashlib
import io

from protocol.codes import RC, HandleError
from protocol.handles import fold
from protocol.refusals import TooLarge
from storage import Tx

from ..audit_trail import Attempt, mutation
from ..credentials import Identity
from ..service import Service
from .entered import authorize_owner_change

MAX_UPLOAD = 512 * 1024  # bytes of an uploaded file
MAX_SIDE = 4096  # pixels a side of an upload, read from its header before it is decoded
KEPT_SIDE = 256  # pixels a side of the kept PNG
FORMATS = ("PNG", "JPEG", "WEBP")


def _meta(prefix: str) -> str:
    return f"logo:{fold(prefix)}"


def normalise(raw: bytes) -> bytes:
    """The upload as the PNG the node keeps, or a refusal naming what is wrong with it."""
    from PIL import Image, UnidentifiedImageError  # only an upload pays for importing Pillow

    if len(raw) > MAX_UPLOAD:
        raise TooLarge(RC.INVALID_VALUE, f"the logo is larger than {MAX_UPLOAD} bytes", field="logo")
    try:
        img = Image.open(io.BytesIO(raw), formats=FORMATS)  # reads the header only
    except Image.DecompressionBombError:  # Pillow's own check of the header's size, far above ours
        raise HandleError(RC.INVALID_VALUE, f"the logo has too many pixels; at most {MAX_SIDE} a side",
                          field="logo") from None
    except (UnidentifiedImageError, OSError, ValueError):
        raise HandleError(RC.INVALID_VALUE, "the logo must be a PNG, JPEG or WebP image", field="logo") from None
    w, h = img.size
    if not (0 < w <= MAX_SIDE and 0 < h <= MAX_SIDE):
        raise HandleError(RC.INVALID_VALUE, f"the logo has {w}×{h} pixels; at most {MAX_SIDE} a side",
                          field="logo")
    try:
        img.load()
        img = img.convert("RGBA")
        img.thumbnail((KEPT_SIDE, KEPT_SIDE))
        out = io.BytesIO()
        img.save(out, "PNG", optimize=True)
    except (OSError, ValueError, Image.DecompressionBombError) as e:
        raise HandleError(RC.INVALID_VALUE, f"the logo cannot be read ({type(e).__name__})", field="logo") from None
    return out.getvalue()


@mutation("set_logo", target=0)
async def set_logo(svc: Service, att: Attempt, prefix: str, raw: bytes, identity: Identity | None) -> dict:
    """Keep ``raw`` (normalised) as the logo of ``prefix``: whoever may change its owner details."""
    authorize_owner_change(prefix, identity)
    png = normalise(raw)
    digest = hashlib.sha256(png).hexdigest()[:32]
    now = svc.now()

    def op(tx: Tx) -> dict:
        if tx.get_prefix(prefix) is None:
            raise HandleError(RC.HANDLE_NOT_FOUND, f"prefix {prefix} is not held here", status=404, field="prefix")
        tx.put_meta(_meta(prefix), {"png": png, "etag": digest, "at": now, "by": str(identity)})
        return {"prefix": prefix, "bytes": len(png), "etag": digest}

    return await svc.write(op, attempt=att)


@mutation("delete_logo", target=0)
async def delete_logo(svc: Service, att: Attempt, prefix: str, identity: Identity | None) -> None:
    authorize_owner_change(prefix, identity)
    await svc.write(lambda tx: tx.delete_meta(_meta(prefix)), attempt=att)


def logo_of(tx: Tx, prefix: str) -> tuple[bytes, str] | None:
    """The kept PNG of ``prefix`` and its entity tag, if it has one."""
    got = tx.get_meta(_meta(prefix))
    return (got["png"], got["etag"]) if got else None
