"""Medians of repeated measurements and the Markdown table the bench prints."""

from __future__ import annotations

import json
import math
import statistics
from dataclasses import asdict, dataclass, field
from pathlib import Path

COLUMNS = ("scenario", "idnode", "baseline", "target", "p50", "p99", "note")


@dataclass
class Row:
    scenario: str
    idnode: str
    baseline: str
    target: str
    p50: str
    p99: str
    note: str
    raw: dict = field(default_factory=dict)  # every run's numbers, for --json

    def cells(self) -> list[str]:
        return [self.scenario, self.idnode, self.baseline, self.target, self.p50, self.p99, self.note]


def median(values: list[float]) -> float:
    vals = [v for v in values if not math.isnan(v)]
    return statistics.median(vals) if vals else float("nan")


def rate(v: float, unit: str = "/s") -> str:
    return "—" if math.isnan(v) else f"{v:,.0f}{unit}"


def ms(v: float) -> str:
    if math.isnan(v):
        return "—"
    return f"{v:.2f} ms" if v < 10 else f"{v:.1f} ms" if v < 100 else f"{v:,.0f} ms"


def secs(v: float) -> str:
    if math.isnan(v):
        return "—"
    return f"{v:.2f} s" if v < 10 else f"{v:.1f} s"


def runs_note(values: list[float], fmt=rate) -> str:
    return "runs " + ", ".join(fmt(v) for v in values) if len(values) > 1 else ""


def table(rows: list[Row]) -> str:
    def esc(cell: str) -> str:
        return cell.replace("|", "\\|")

    lines = ["| " + " | ".join(COLUMNS) + " |", "| " + " | ".join("---" for _ in COLUMNS) + " |"]
    lines += ["| " + " | ".join(esc(c) for c in r.cells()) + " |" for r in rows]
    return "\n".join(lines)


def write_json(path: Path, command: str, settings: dict, env: dict, rows: list[Row]) -> None:
    doc = {"command": command, "settings": settings, "environment": env, "rows": [asdict(r) for r in rows]}
    path.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")
