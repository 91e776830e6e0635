"""Measuring and reporting helpers shared by the benchmark scripts."""

from __future__ import annotations

import math
import os
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from rich.console import Console
from rich.table import Table


def pct(values: Sequence[float], q: float) -> float:
    """Percentile by linear interpolation (q in 0..100)."""
    data = sorted(values)
    if not data:
        return math.nan
    pos = (len(data) - 1) * q / 100
    low, high = math.floor(pos), math.ceil(pos)
    return data[low] + (data[high] - data[low]) * (pos - low)


def mean(values: Sequence[float]) -> float:
    return statistics.fmean(values) if values else math.nan


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:.3f} ms"


def us(seconds: float) -> str:
    return f"{seconds * 1e6:.1f} µs"


@dataclass
class Row:
    """One line of a benchmark's closing table; rows without a goal are context."""

    measure: str
    value: float
    shown: str
    goal: float | None = None
    goal_text: str = "—"
    higher_is_better: bool = False


def summary(console: Console, title: str, rows: list[Row]) -> None:
    table = Table(title=title, title_justify="left")
    for column in ("measure", "value", "goal", "ratio to goal", "meets goal"):
        table.add_column(column, justify="left" if column == "measure" else "right")
    for row in rows:
        if row.goal is None:
            table.add_row(row.measure, row.shown, "—", "—", "[dim]context[/dim]")
            continue
        ratio = row.value / row.goal
        meets = ratio >= 1 if row.higher_is_better else ratio <= 1
        table.add_row(
            row.measure, row.shown, row.goal_text, f"{ratio:.2f}", "[green]yes[/green]" if meets else "[red]no[/red]"
        )
    console.print(table)


def load_average() -> str:
    try:
        return " ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "n/a"
