"""Terminal rendering of run summaries."""

from __future__ import annotations

import math
from typing import Any

from rich.table import Table

from envmint.harness.summary import OVERALL


def _pct(value: float) -> str:
    return "-" if math.isnan(value) else f"{100 * value:.1f}%"


def _ci(interval: tuple[float, float]) -> str:
    low, high = interval
    return "-" if math.isnan(low) else f"[{100 * low:.0f}, {100 * high:.0f}]"


def summary_table(summary: dict[str, Any], k: int) -> Table:
    table = Table(title="Results (95% bootstrap CI)")
    columns = ["agent", "environment", "episodes", "success", "CI", "reward"]
    if k > 1:
        columns += [f"pass@{k}", f"pass^{k}"]
    columns += ["tool calls", "tokens", "cost $", "statuses"]
    for column in columns:
        table.add_column(column, justify="left" if column in ("agent", "environment", "statuses") else "right")
    for agent, by_env in summary.items():
        for env, stats in by_env.items():
            row = [
                agent,
                env,
                str(stats["episodes"]),
                _pct(stats["success_rate"]),
                _ci(stats["success_ci95"]),
                f"{stats['mean_reward']:.3f}",
            ]
            if k > 1:
                row += [_pct(stats[f"pass@{k}"]), _pct(stats[f"pass^{k}"])]
            row += [
                str(stats["tool_calls"]),
                f"{stats['input_tokens'] + stats['output_tokens']:,}",
                f"{stats['cost_usd']:.4f}",
                " ".join(f"{name}={count}" for name, count in stats["statuses"].items()),
            ]
            table.add_row(*row, style="bold" if env == OVERALL else None)
    return table
