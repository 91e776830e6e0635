"""``envmint report``: one self-contained static HTML file for one or more run directories.

The file needs no server and no network: CSS, the chart (an SVG drawn here, deterministically) and a
small script are inline, and the data (summary, check failures, totals, every episode with its
trajectory) is embedded as JSON in ``<script type="application/json">``. Every string from a run is
escaped: HTML text via :func:`html.escape`, the embedded JSON with ``<``, ``>`` and ``&`` as ``\\uXXXX``
escapes (so a ``</script>`` in a tool result cannot close the tag), and the script writes only
through ``textContent``.
"""

from __future__ import annotations

import html
import json
import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from envmint.harness.report_assets import CSS, JS
from envmint.harness.results import EpisodeRecord, RunDirectory
from envmint.harness.summary import OVERALL, summarize

REPORT_FILE = "report.html"
MAX_DETAILS = 5
PALETTE = ("#0969da", "#bf3989", "#1a7f37", "#9a6700", "#8250df", "#cf222e", "#1b7c83", "#57606a")


@dataclass
class LoadedRun:
    name: str
    directory: RunDirectory
    manifest: dict[str, Any]
    records: list[EpisodeRecord]


def load_runs(paths: Sequence[Path]) -> list[LoadedRun]:
    """Read each run directory; raise ``FileNotFoundError`` for one without ``results.jsonl``."""
    runs = []
    names: set[str] = set()
    for path in paths:
        directory = RunDirectory(path)
        if not directory.results_path.is_file():
            raise FileNotFoundError(f"{path} is not a run directory: it has no {directory.results_path.name}")
        name = path.resolve().name or str(path)
        while name in names:
            name += "'"
        names.add(name)
        runs.append(LoadedRun(name, directory, directory.read_manifest(), directory.read()))
    return runs


def _labelled(runs: Sequence[LoadedRun]) -> list[tuple[LoadedRun, EpisodeRecord]]:
    """Records by run, scenario, agent and trial; an agent seen in several runs is renamed ``agent [run]``."""
    runs_of: dict[str, set[str]] = defaultdict(set)
    for run in runs:
        for record in run.records:
            runs_of[record.agent].add(run.name)
    labelled = []
    for run in runs:
        for record in sorted(run.records, key=lambda r: (r.scenario, r.agent, r.trial)):
            if len(runs_of[record.agent]) > 1:
                record = record.model_copy(update={"agent": f"{record.agent} [{run.name}]"})
            labelled.append((run, record))
    return labelled


def _number(value: Any) -> Any:
    """``value`` with every NaN or infinite float (anywhere inside it) replaced by ``None``."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _number(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_number(v) for v in value]
    return value


def _trajectory(directory: RunDirectory, relative: str) -> tuple[dict[str, Any] | None, str]:
    if not relative:
        return None, "the episode did not start, so it has no trajectory"
    root = directory.root.resolve()
    path = (root / relative).resolve()
    if not path.is_relative_to(root):
        return None, f"trajectory path {relative!r} is outside the run directory"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return None, f"cannot read trajectory {relative}: {type(exc).__name__}"
    if not isinstance(data, dict):
        return None, f"trajectory {relative} is not a JSON object"
    messages = data.get("messages")
    return {
        "messages": [m for m in messages if isinstance(m, dict)] if isinstance(messages, list) else [],
        "tools": data.get("tools", []),
        "state_diff": data.get("state_diff", []),
    }, ""


def _summary_rows(records: Sequence[EpisodeRecord]) -> list[dict[str, Any]]:
    rows = []
    for agent, by_env in summarize(records).items():
        for env, stats in by_env.items():
            low, high = stats["success_ci95"]
            rows.append(
                {
                    "agent": agent,
                    "env": env,
                    "episodes": stats["episodes"],
                    "success_rate": _number(stats["success_rate"]),
                    "ci_low": _number(low),
                    "ci_high": _number(high),
                    "mean_reward": _number(stats["mean_reward"]),
                    "tool_calls": stats["tool_calls"],
                    "input_tokens": stats["input_tokens"],
                    "output_tokens": stats["output_tokens"],
                    "cost_usd": stats["cost_usd"],
                    "statuses": stats["statuses"],
                }
            )
    return rows


def _check_failures(records: Sequence[EpisodeRecord]) -> list[dict[str, Any]]:
    """Per (scenario, check): episodes that failed or errored on it, with the distinct details."""
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for record in records:
        for check in record.checks:
            group = groups.setdefault(
                (record.scenario, check.id),
                {"check": check.id, "scenario": record.scenario, "episodes": 0, "failed": 0, "errored": 0,
                 "agents": set(), "details": {}},
            )  # fmt: skip
            group["episodes"] += 1
            if check.verdict == "pass":
                continue
            group["failed" if check.verdict == "fail" else "errored"] += 1
            group["agents"].add(record.agent)
            detail = check.detail or "(no detail)"
            group["details"][detail] = group["details"].get(detail, 0) + 1
    rows = []
    for group in groups.values():
        if group["failed"] + group["errored"] == 0:
            continue
        details = sorted(group["details"].items(), key=lambda item: (-item[1], item[0]))
        group["agents"] = sorted(group["agents"])
        group["details"] = [{"detail": d, "count": n} for d, n in details[:MAX_DETAILS]]
        group["more_details"] = max(0, len(details) - MAX_DETAILS)
        rows.append(group)
    return sorted(rows, key=lambda g: (-(g["failed"] + g["errored"]), g["scenario"], g["check"]))


def build_data(runs: Sequence[LoadedRun]) -> dict[str, Any]:
    """Everything the report shows, as plain JSON-able data."""
    labelled = _labelled(runs)
    records = [record for _, record in labelled]
    graded = [record for record in records if record.graded]
    episodes = []
    for run, record in labelled:
        trajectory, note = _trajectory(run.directory, record.trajectory)
        episodes.append(
            {
                "run": run.name,
                "episode": record.episode,
                "scenario": record.scenario,
                "env": record.env,
                "agent": record.agent,
                "trial": record.trial,
                "status": record.status,
                "graded": record.graded,
                "success": record.success,
                "reward": record.reward,
                "turns": record.turns,
                "tool_calls": record.tool_calls,
                "input_tokens": record.input_tokens,
                "output_tokens": record.output_tokens,
                "cost_usd": record.cost_usd,
                "duration_s": record.duration_s,
                "error": record.error,
                "checks": [check.model_dump() for check in record.checks],
                "trajectory": trajectory,
                "trajectory_note": note,
            }
        )
    return {
        "runs": [{"name": r.name, "path": str(r.directory.root), "manifest": r.manifest} for r in runs],
        "summary": _summary_rows(records),
        "check_failures": _check_failures(graded),
        "totals": {
            "episodes": len(records),
            "graded_episodes": len(graded),
            "tool_calls": sum(r.tool_calls for r in records),
            "input_tokens": sum(r.input_tokens for r in records),
            "output_tokens": sum(r.output_tokens for r in records),
            "cost_usd": round(sum(r.cost_usd for r in records), 6),
        },
        "episodes": episodes,
    }


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def success_chart(rows: Sequence[dict[str, Any]]) -> str:
    """A horizontal bar chart of success rate per environment and agent, with 95% CI whiskers."""
    envs = sorted({row["env"] for row in rows if row["env"] != OVERALL})
    if len(envs) > 1:
        envs.append(OVERALL)
    agents = sorted({row["agent"] for row in rows})
    colour = {agent: PALETTE[i % len(PALETTE)] for i, agent in enumerate(agents)}
    by_key = {(row["env"], row["agent"]): row for row in rows}
    left, width, bar, gap, top = 260, 480, 18, 14, 28
    parts: list[str] = []
    y = top
    for env in envs:
        parts.append(f'<text x="8" y="{y + 12}" font-weight="600">{html.escape(env)}</text>')
        y += bar + 4
        for agent in agents:
            row = by_key.get((env, agent))
            if row is None:
                continue
            rate = row["success_rate"] or 0.0
            label = f"{agent} (n={row['episodes']})"
            parts.append(f'<text x="20" y="{y + 13}">{html.escape(label)}</text>')
            parts.append(
                f'<rect x="{left}" y="{y}" width="{width * rate:.1f}" height="{bar}" fill="{colour[agent]}" '
                f'fill-opacity="0.75"><title>{html.escape(f"{env} / {agent}: {_pct(rate)}")}</title></rect>'
            )
            if row["ci_low"] is not None and row["ci_high"] is not None:
                x1, x2, mid = left + width * row["ci_low"], left + width * row["ci_high"], y + bar / 2
                parts.append(
                    f'<g stroke="#1d232b" stroke-width="1.5"><line x1="{x1:.1f}" y1="{mid}" x2="{x2:.1f}" y2="{mid}"/>'
                    f'<line x1="{x1:.1f}" y1="{y + 3}" x2="{x1:.1f}" y2="{y + bar - 3}"/>'
                    f'<line x1="{x2:.1f}" y1="{y + 3}" x2="{x2:.1f}" y2="{y + bar - 3}"/></g>'
                )
                ci = f" [{100 * row['ci_low']:.0f}, {100 * row['ci_high']:.0f}]"
            else:
                ci = ""
            parts.append(f'<text x="{left + width + 10}" y="{y + 13}">{_pct(row["success_rate"])}{ci}</text>')
            y += bar + gap
        y += 6
    height = y + 24
    axis = [f'<line x1="{left}" y1="{top - 6}" x2="{left}" y2="{y}" stroke="#d9dee4"/>']
    for tick in (0, 25, 50, 75, 100):
        x = left + width * tick / 100
        axis.append(f'<line x1="{x:.1f}" y1="{top - 6}" x2="{x:.1f}" y2="{y}" stroke="#d9dee4"/>')
        axis.append(f'<text x="{x:.1f}" y="{y + 16}" text-anchor="middle">{tick}%</text>')
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" id="success-chart" role="img" width="{left + width + 140}" '
        f'height="{height}" viewBox="0 0 {left + width + 140} {height}">'
        f"<title>Success rate by environment and agent, with 95% bootstrap CI</title>"
        + "".join(axis + parts)
        + "</svg>"
    )


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], numeric: frozenset[int] = frozenset()) -> str:
    """An HTML table; cells are already escaped."""
    head = "".join(f"<th{' class=num' if i in numeric else ''}>{html.escape(h)}</th>" for i, h in enumerate(headers))
    body = "".join(
        "<tr>" + "".join(f"<td{' class=num' if i in numeric else ''}>{c}</td>" for i, c in enumerate(row)) + "</tr>"
        for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _summary_table(rows: Sequence[dict[str, Any]]) -> str:
    def ci(row: dict[str, Any]) -> str:
        return "-" if row["ci_low"] is None else f"[{100 * row['ci_low']:.0f}, {100 * row['ci_high']:.0f}]"

    cells = [
        [
            html.escape(row["agent"]),
            html.escape(row["env"]),
            str(row["episodes"]),
            _pct(row["success_rate"]),
            ci(row),
            "-" if row["mean_reward"] is None else f"{row['mean_reward']:.3f}",
            str(row["tool_calls"]),
            f"{row['input_tokens'] + row['output_tokens']:,}",
            f"{row['cost_usd']:.4f}",
            html.escape(" ".join(f"{k}={v}" for k, v in row["statuses"].items())),
        ]
        for row in rows
    ]
    headers = ["agent", "environment", "episodes", "success", "95% CI", "reward", "tool calls", "tokens", "cost $"]
    return _table([*headers, "statuses"], cells, frozenset(range(2, 9)))


def _times(count: int) -> str:
    return f" (x{count})" if count > 1 else ""


def _failures_table(rows: Sequence[dict[str, Any]]) -> str:
    if not rows:
        return '<p class="empty">No check failed in any graded episode.</p>'
    cells = []
    for row in rows:
        details = "".join(f"<pre>{html.escape(d['detail'])}{_times(d['count'])}</pre>" for d in row["details"])
        if row["more_details"]:
            details += f'<div class="muted">and {row["more_details"]} more distinct details</div>'
        cells.append(
            [
                html.escape(row["check"]),
                html.escape(row["scenario"]),
                f"{row['failed'] + row['errored']} / {row['episodes']}",
                str(row["errored"]),
                html.escape(", ".join(row["agents"])),
                details,
            ]
        )
    headers = ["check", "scenario", "failed / episodes", "of which errors", "agents", "details"]
    return _table(headers, cells, frozenset({2, 3}))


def _totals(totals: dict[str, Any]) -> str:
    return _table(
        ["episodes", "graded", "tool calls", "input tokens", "output tokens", "cost $"],
        [
            [
                str(totals["episodes"]),
                str(totals["graded_episodes"]),
                str(totals["tool_calls"]),
                f"{totals['input_tokens']:,}",
                f"{totals['output_tokens']:,}",
                f"{totals['cost_usd']:.4f}",
            ]
        ],
        frozenset(range(6)),
    )


def embed_json(data: Any) -> str:
    """JSON safe inside a ``<script>`` element: no ``<``, ``>`` or ``&`` characters, no line separators."""
    text = json.dumps(_number(data), ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False)
    for char, escape in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028")):
        text = text.replace(char, escape)
    return text.replace("\u2029", "\\u2029")


def render_html(data: dict[str, Any]) -> str:
    runs = ", ".join(run["name"] for run in data["runs"])
    title = html.escape(f"envmint report: {runs}")
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; \
script-src 'unsafe-inline'; img-src data:">
<title>{title}</title>
<style>{CSS}</style>
</head>
<body data-rendered="no">
<header><h1>{title}</h1><div class="muted">{len(data["episodes"])} episodes from \
{len(data["runs"])} run(s): {html.escape(", ".join(run["path"] for run in data["runs"]))}</div></header>
<section><h2>Success rate by environment and agent (95% bootstrap CI)</h2>{success_chart(data["summary"])}
{_summary_table(data["summary"])}</section>
<section><h2>Tokens and cost</h2>{_totals(data["totals"])}</section>
<section><h2>Check failures</h2>{_failures_table(data["check_failures"])}</section>
<section><h2>Episodes</h2><div class="viewer"><ul id="episodes"></ul><div id="episode"></div></div></section>
<script type="application/json" id="report-data">{embed_json(data)}</script>
<script>{JS}</script>
</body>
</html>
"""


def write_report(run_dirs: Sequence[Path], out: Path | None = None) -> Path:
    """Render the report of ``run_dirs`` to ``out`` (default ``<first run>/report.html``); return its path."""
    if not run_dirs:
        raise ValueError("give at least one run directory")
    data = build_data(load_runs(run_dirs))
    target = out or run_dirs[0] / REPORT_FILE
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render_html(data), encoding="utf-8")
    return target
