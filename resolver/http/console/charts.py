"""Charts drawn on the server as inline SVG: no script, no external asset, a few kilobytes each, and
legible at a phone's width (the SVG scales to its box).

Hand-drawn rather than pygal: pygal writes an inline ``<script>`` (its configuration as JavaScript)
into every chart whatever its ``js`` option says, which the console's pages do not carry, and its
charts are ten times the size of these. Every text in a chart is escaped here (markupsafe, Jinja's
own escaper), and the chart is handed to the template as markup.
"""

from __future__ import annotations

from dataclasses import dataclass

from markupsafe import Markup, escape

W, H = 640, 240  # the viewBox; the page scales it
LEFT, RIGHT, TOP, BOTTOM = 44, 8, 12, 44
COLOURS = ("#0b5cad", "#1f7a3a", "#b7791f", "#a3262a")


@dataclass
class Series:
    name: str
    values: list[int]


def _ticks(top: int) -> list[int]:
    """Gridline values 0, step, 2·step… up to at least ``top``, ``step`` the first of 1, 2, 5, 10, 20,
    50… that needs at most five of them."""
    step, mult = 1, (2, 2.5, 2)  # 1 → 2 → 5 → 10 → 20 → 50 …
    i = 0
    while top > 5 * step:
        step = int(step * mult[i % 3])
        i += 1
    return [k * step for k in range(-(-max(top, 1) // step) + 1)]


def bars(labels: list[str], series: list[Series], title: str, ident: str) -> Markup:
    """Grouped bars per label (a day, say), one colour per series, with a legend and gridlines."""
    ticks = _ticks(max((v for s in series for v in s.values), default=0))
    ymax = ticks[-1] or 1
    pw, ph = W - LEFT - RIGHT, H - TOP - BOTTOM
    slot = pw / max(1, len(labels))
    bw = max(1.0, slot * 0.8 / max(1, len(series)))
    out = [f'<svg id="{escape(ident)}" class="chart" viewBox="0 0 {W} {H}" role="img" '
           f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>'
           f'<g font-size="11" fill="#5b6477">']
    for t in ticks:
        y = TOP + ph - ph * t / ymax
        out.append(f'<line x1="{LEFT}" x2="{W - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e3e6ec"/>'
                   f'<text x="{LEFT - 4}" y="{y + 4:.1f}" text-anchor="end">{t}</text>')
    every = max(1, -(-len(labels) // 10))  # at most ten labels under the axis
    for i, label in enumerate(labels):
        x0 = LEFT + i * slot + slot * 0.1
        for k, s in enumerate(series):
            v = s.values[i]
            h = ph * v / ymax
            out.append(f'<rect x="{x0 + k * bw:.1f}" y="{TOP + ph - h:.1f}" width="{bw:.1f}" height="{h:.1f}" '
                       f'fill="{COLOURS[k % len(COLOURS)]}"><title>{escape(label)} {escape(s.name)}: {v}</title></rect>')
        if i % every == 0:
            out.append(f'<text x="{LEFT + (i + 0.5) * slot:.1f}" y="{TOP + ph + 14}" '
                       f'text-anchor="middle">{escape(label)}</text>')
    x = LEFT
    for k, s in enumerate(series):
        out.append(f'<rect x="{x}" y="{H - 14}" width="10" height="10" fill="{COLOURS[k % len(COLOURS)]}"/>'
                   f'<text x="{x + 14}" y="{H - 5}">{escape(s.name)}</text>')
        x += 24 + 12 * len(s.name)
    out.append("</g></svg>")
    return Markup("".join(out))


def hbars(rows: list[tuple[str, int]], title: str, ident: str) -> Markup:
    """One horizontal bar per row (a source address and its count), longest first as given."""
    ymax = max((n for _, n in rows), default=0) or 1
    row_h = 22
    height = TOP + row_h * max(1, len(rows)) + 8
    label_w = 220
    pw = W - label_w - 60
    out = [f'<svg id="{escape(ident)}" class="chart" viewBox="0 0 {W} {height}" role="img" '
           f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title><g font-size="12" fill="#1d2330">']
    for i, (label, n) in enumerate(rows):
        y = TOP + i * row_h
        w = pw * n / ymax
        out.append(f'<text x="{label_w - 6}" y="{y + 14}" text-anchor="end">{escape(label)}</text>'
                   f'<rect x="{label_w}" y="{y + 3}" width="{w:.1f}" height="{row_h - 6}" fill="{COLOURS[0]}"/>'
                   f'<text x="{label_w + w + 4:.1f}" y="{y + 14}">{n}</text>')
    out.append("</g></svg>")
    return Markup("".join(out))
