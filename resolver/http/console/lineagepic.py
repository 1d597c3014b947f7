"""An item's lineage drawn as a picture on the server (inline SVG, no script): the item in the middle,
what it was made from (its parts, their parts…) in columns to its left, what it went into (its case,
the pallet…) in columns to its right, each box linked to that identifier's trace. An identifier another
node answered for is drawn dashed in amber and named with that node, as the timeline marks such events.

The trace answer's lineage lists are trees flattened depth-first (``depth`` 1 for a direct part or
container); each box is joined to the nearest earlier box one level nearer the item.
"""

from __future__ import annotations

from urllib.parse import quote

from markupsafe import Markup, escape

from .i18n import Catalogue

MAX_BOXES = 40  # per side: a picture stays legible; the lists below it carry every item
COL_W, BOX_W, BOX_H, ROW_H, PAD = 200, 180, 38, 48, 10
OURS, THEIRS, ROOT = "#0b5cad", "#b7791f", "#1d2330"


def _short(text: str, n: int = 24) -> str:
    return text if len(text) <= n else text[:n - 1] + "…"


def _place(items: list[dict], side: int) -> list[tuple[dict, int, int, int | None]]:
    """(item, column, row, parent's position in the list or None for the item itself) of each item."""
    out: list[tuple[dict, int, int, int | None]] = []
    last_at: dict[int, int] = {}
    for n, it in enumerate(items[:MAX_BOXES]):
        depth = max(1, int(it.get("depth", 1)))
        parent = last_at.get(depth - 1) if depth > 1 else None
        out.append((it, side * depth, n, parent))
        last_at[depth] = n
        for d in [d for d in last_at if d > depth]:
            del last_at[d]
    return out


def lineage_svg(root: str, upstream: list[dict], downstream: list[dict], t: Catalogue) -> Markup | None:
    """The picture, or None when the item has neither parts nor containers. ``upstream``/``downstream``
    items: ``id`` (as shown), ``href`` (the identifier), ``depth``, ``relation``, ``node`` (another node's
    name when that node answered for it)."""
    if not upstream and not downstream:
        return None
    up, down = _place(upstream, -1), _place(downstream, 1)
    left = max((-c for _, c, _, _ in up), default=0)
    right = max((c for _, c, _, _ in down), default=0)
    rows = max(len(up), len(down), 1)
    width = (left + right + 1) * COL_W + PAD
    height = rows * ROW_H + 2 * PAD + 18

    def xy(col: int, row: int, count: int) -> tuple[float, float]:
        y0 = PAD + (rows - count) * ROW_H / 2  # each side centred on the item's row
        return PAD + (col + left) * COL_W, y0 + row * ROW_H

    root_x, root_y = xy(0, 0, 1)
    out = [f'<svg id="lineage" class="chart" viewBox="0 0 {width} {height}" role="img" '
           f'xmlns="http://www.w3.org/2000/svg"><title>{escape(t("trace.lineage"))}</title>'
           f'<g font-size="12" fill="#1d2330">']
    boxes = []
    for placed, count, toward in ((up, len(up), -1), (down, len(down), 1)):
        for it, col, row, parent in placed:
            x, y = xy(col, row, count)
            if parent is None:
                px, py = root_x, root_y
            else:
                p_it, p_col, p_row, _ = placed[parent]
                px, py = xy(p_col, p_row, count)
            # the line runs from the nearer edge of the box closer to the item to this box's near edge
            x1, x2 = (px, x + BOX_W) if toward < 0 else (px + BOX_W, x)
            out.append(f'<path d="M{x1:.0f},{py + BOX_H / 2:.0f} C{(x1 + x2) / 2:.0f},{py + BOX_H / 2:.0f} '
                       f'{(x1 + x2) / 2:.0f},{y + BOX_H / 2:.0f} {x2:.0f},{y + BOX_H / 2:.0f}" '
                       f'fill="none" stroke="#9aa3b5"/>')
            theirs = bool(it.get("node"))
            colour = THEIRS if theirs else OURS
            dash = ' stroke-dasharray="5 3"' if theirs else ""
            note = f'{t("trace.answered_by")} {it["node"]}' if theirs else str(it.get("relation") or "")
            boxes.append(
                f'<a href="/trace/{escape(quote(str(it["href"]), safe="/:"))}?lang={t.lang}"'
                f' class="{"theirs" if theirs else "ours"}"><title>{escape(it["id"])} · {escape(note)}</title>'
                f'<rect x="{x:.0f}" y="{y:.0f}" width="{BOX_W}" height="{BOX_H}" rx="5" fill="#fff" '
                f'stroke="{colour}" stroke-width="1.5"{dash}/>'
                f'<text x="{x + 6:.0f}" y="{y + 15:.0f}" fill="{colour}">{escape(_short(it["id"]))}</text>'
                f'<text x="{x + 6:.0f}" y="{y + 31:.0f}" font-size="10" fill="#5b6477">'
                f'{escape(_short(note, 30))}</text></a>')
    out += boxes
    out.append(f'<rect x="{root_x:.0f}" y="{root_y:.0f}" width="{BOX_W}" height="{BOX_H}" rx="5" fill="{ROOT}"/>'
               f'<text x="{root_x + 6:.0f}" y="{root_y + 23:.0f}" fill="#fff" font-size="11" font-weight="600">'
               f'{escape(_short(root))}</text>')
    ly = height - 8
    out.append(f'<rect x="{PAD}" y="{ly - 9}" width="10" height="10" fill="#fff" stroke="{OURS}"/>'
               f'<text x="{PAD + 14}" y="{ly}" font-size="10">{escape(t("trace.ours"))}</text>'
               f'<rect x="{PAD + 150}" y="{ly - 9}" width="10" height="10" fill="#fff" stroke="{THEIRS}" '
               f'stroke-dasharray="3 2"/><text x="{PAD + 164}" y="{ly}" font-size="10">'
               f'{escape(t("trace.theirs"))}</text>')
    out.append("</g></svg>")
    return Markup("".join(out))
