"""Charts drawn on the server by pygal (a maintained charting library that writes SVG), inlined in the
page: no script runs, nothing is loaded from elsewhere, and the SVG scales to a phone's width.

pygal writes an inline ``<script>`` with its configuration into every chart, for its optional
interactive JavaScript; the console's pages carry no script (their Content-Security-Policy forbids
one), so an XML filter — pygal's own hook for post-processing the tree it built — drops it, drops
pygal's comments, names the chart for the page, and gives each bar a ``<title>`` (the tooltip a
browser shows without script). Every text is put into the tree by pygal's XML library, which escapes
it; the chart is handed to the template as markup.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pygal
from markupsafe import Markup
from pygal.style import Style

COLOURS = ("#0b5cad", "#1f7a3a", "#b7791f", "#a3262a")
STYLE = Style(background="transparent", plot_background="transparent", colors=COLOURS,
              font_family='"Noto Sans CJK SC", "Noto Sans", "Microsoft YaHei", sans-serif',
              label_font_size=12, major_label_font_size=12, legend_font_size=13, value_font_size=12)
COMMON = {"js": [], "disable_xml_declaration": True, "no_prefix": True, "explicit_size": False, "style": STYLE,
          "width": 420, "show_y_guides": True, "print_zeroes": False, "margin": 8}


@dataclass
class Series:
    name: str
    values: list[int]


def _cleaned(ident: str, name: str, title_of: Callable[[int, str, str], str]) -> Callable:
    """pygal's XML filter: no script and no comments in the chart, ``ident`` as its id, ``name`` as its
    title, and a ``<title>`` on each bar made by ``title_of(series number, label, value)``."""

    def clean(root):
        for parent in root.iter():
            for child in list(parent):
                if not isinstance(child.tag, str) or child.tag.rpartition("}")[2] == "script":
                    parent.remove(child)  # a comment (its tag is a function), or pygal's config script
        root.set("id", ident)
        root.set("role", "img")
        ns = root.tag.rpartition("}")[0] + "}" if root.tag.startswith("{") else ""
        heading = root.find(f"{ns}title")  # pygal's, "Pygal" unless the chart draws a title of its own
        if heading is not None:
            heading.text = name
        for group in root.iter(f"{ns}g"):
            classes = (group.get("class") or "").split()
            if "series" not in classes:
                continue
            number = next((int(c[6:]) for c in classes if c.startswith("serie-") and c[6:].isdigit()), 0)
            for bar in group.iter(f"{ns}g"):
                descs = {d.get("class"): d.text for d in bar.findall(f"{ns}desc")}
                rect = bar.find(f"{ns}rect")
                if rect is not None and "value" in descs:
                    title = rect.makeelement(f"{ns}title", {})
                    title.text = title_of(number, descs.get("x_label") or "", descs["value"])
                    rect.append(title)
        return root

    return clean


def _render(chart, ident: str, name: str, title_of: Callable[[int, str, str], str]) -> Markup:
    chart.add_xml_filter(_cleaned(ident, name, title_of))
    return Markup(chart.render(is_unicode=True))


def bars(labels: list[str], series: list[Series], title: str, ident: str) -> Markup:
    """Grouped bars per label (a day, say), one colour per series, with a legend below."""
    few = len(labels) <= 7  # more days than a phone's width holds side by side: every few, slanted
    chart = pygal.Bar(height=250, legend_at_bottom=True, x_label_rotation=0 if few else -40,
                      show_minor_x_labels=few, x_labels_major_every=max(1, -(-len(labels) // 7)),
                      truncate_label=-1,
                      min_scale=1, max_scale=5, **COMMON)
    chart.x_labels = labels
    for s in series:
        chart.add(s.name, s.values)
    return _render(chart, ident, title, lambda n, label, value: f"{label} {series[n].name}: {value}")


def hbars(rows: list[tuple[str, int]], title: str, ident: str) -> Markup:
    """One horizontal bar per row (a source address and its count), the largest at the top."""
    chart = pygal.HorizontalBar(height=40 + 28 * max(1, len(rows)), show_legend=False, print_values=True,
                                **COMMON)
    chart.x_labels = [label for label, _ in reversed(rows)]  # pygal draws the first row at the bottom
    chart.add(title, [n for _, n in reversed(rows)])
    return _render(chart, ident, title, lambda n, label, value: f"{label}: {value}")
