"""Instrumented harness runs for benchmarks/harness.py: where each episode's time goes."""

from __future__ import annotations

import contextlib
import gc
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
from mcp_types import CallToolResult
from rich.table import Table

from benchmarks.harness_workload import CONCURRENCY, RunStats, check_records, console, cpu_seconds, no_user
from benchmarks.measures import ms
from envmint.harness import runner
from envmint.harness.agents.registry import agent_factory
from envmint.harness.episode import Agent, EpisodeContext
from envmint.harness.results import EpisodeRecord, RunDirectory
from envmint.harness.selection import Selected
from envmint.harness.servers import WarmServer

# -- 3. the harness, instrumented --------------------------------------------------------------------


@dataclass
class Phases:
    """Durations (seconds) collected by the timing wrappers during one harness run."""

    start: list[float] = field(default_factory=list)
    load: list[float] = field(default_factory=list)
    reset: list[float] = field(default_factory=list)
    call: list[float] = field(default_factory=list)
    agent: list[float] = field(default_factory=list)
    state: list[float] = field(default_factory=list)
    grade: list[float] = field(default_factory=list)
    diff: list[float] = field(default_factory=list)
    trajectory: list[float] = field(default_factory=list)
    append: list[float] = field(default_factory=list)
    play: list[float] = field(default_factory=list)
    finals: dict[str, dict[str, Any]] = field(default_factory=dict)


def timed_server_class(phases: Phases) -> type[WarmServer]:
    class TimedWarmServer(WarmServer):
        async def start(self) -> None:
            start = time.perf_counter()
            await super().start()
            phases.start.append(time.perf_counter() - start)

        async def prepare(self, scenario_id: str, state: dict[str, Any], now: str, seed: int) -> None:
            if not self.running:
                await self.start()  # timed as a start, so that load and reset time the control round trips
            loading = self.loaded != scenario_id
            start = time.perf_counter()
            await super().prepare(scenario_id, state, now, seed)
            (phases.load if loading else phases.reset).append(time.perf_counter() - start)

        async def call(self, name: str, arguments: dict[str, Any]) -> CallToolResult:
            start = time.perf_counter()
            try:
                return await super().call(name, arguments)
            finally:
                phases.call.append(time.perf_counter() - start)

        async def state(self) -> dict[str, Any]:
            scenario_id = self.loaded
            start = time.perf_counter()
            final = await super().state()
            phases.state.append(time.perf_counter() - start)
            if scenario_id is not None:
                phases.finals[scenario_id] = final
            return final

    return TimedWarmServer


@dataclass
class TimedRunDirectory(RunDirectory):
    phases: Phases = field(default_factory=Phases)

    def save_trajectory(self, key: str, trajectory: dict[str, Any]) -> str:
        start = time.perf_counter()
        try:
            return super().save_trajectory(key, trajectory)
        finally:
            self.phases.trajectory.append(time.perf_counter() - start)

    def append(self, record: EpisodeRecord) -> None:
        start = time.perf_counter()
        try:
            super().append(record)
        finally:
            self.phases.append.append(time.perf_counter() - start)


class TimedAgent:
    name = "reference"

    def __init__(self, inner: Agent, phases: Phases) -> None:
        self.inner = inner
        self.phases = phases

    async def run(self, ctx: EpisodeContext) -> None:
        start = time.perf_counter()
        try:
            await self.inner.run(ctx)
        finally:
            self.phases.agent.append(time.perf_counter() - start)


def _timed_async(function: Callable[..., Any], into: list[float]) -> Callable[..., Any]:
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return await function(*args, **kwargs)
        finally:
            into.append(time.perf_counter() - start)

    return wrapper


def _timed_sync(function: Callable[..., Any], into: list[float]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            into.append(time.perf_counter() - start)

    return wrapper


@contextlib.contextmanager
def instrumented(phases: Phases) -> Iterator[None]:
    """Patch timing wrappers into ``envmint.harness.runner`` for the duration (this process only)."""
    saved = {name: getattr(runner, name) for name in ("WarmServer", "grade_checks", "state_diff", "play")}
    replacements = {
        "WarmServer": timed_server_class(phases),
        "grade_checks": _timed_async(saved["grade_checks"], phases.grade),
        "state_diff": _timed_sync(saved["state_diff"], phases.diff),
        "play": _timed_async(saved["play"], phases.play),
    }
    for name, value in replacements.items():
        setattr(runner, name, value)
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(runner, name, value)


async def instrumented_run(
    selection: list[Selected], servers_dir: Path, out: Path, trials: int, concurrency: int = CONCURRENCY
) -> tuple[RunStats, Phases]:
    phases = Phases()
    reference = agent_factory("reference")
    options = runner.RunOptions(agent="reference", trials=trials, concurrency=concurrency, sandboxed=True)
    gc.collect()
    cpu = cpu_seconds()
    start = time.perf_counter()
    with instrumented(phases), anyio.fail_after(60 + trials * len(selection) * 2):
        records = await runner.run(
            selection,
            servers_dir,
            TimedRunDirectory(out, phases),
            options,
            lambda scenario, trial: TimedAgent(reference(scenario, trial), phases),
            no_user,
        )
    wall = time.perf_counter() - start
    cpu = cpu_seconds() - cpu
    check_records(records, trials * len(selection), "instrumented harness run")
    return RunStats(len(records), sum(r.tool_calls for r in records), wall, cpu), phases


def steady_calls_per_s(stats: RunStats, phases: Phases, concurrency: int) -> float:
    """Tool calls/s if every worker were busy all the time on a warm server: the run's calls over its
    workers' busy time (play + append) minus the server starts, shared by ``concurrency`` workers."""
    busy = sum(phases.play) + sum(phases.append) - sum(phases.start)
    return stats.calls * concurrency / busy


def breakdown(stats: RunStats, phases: Phases, concurrency: int) -> None:
    """Print where worker time goes, per episode."""
    n = stats.episodes
    worker_time = concurrency * stats.wall
    calls, agent = sum(phases.call), sum(phases.agent)
    parts: list[tuple[str, float, int]] = [
        ("server cold start (first episode of each worker)", sum(phases.start), len(phases.start)),
        ("Controller.load (first episode of a scenario on a worker)", sum(phases.load), len(phases.load)),
        ("Controller.reset (every other episode)", sum(phases.reset), len(phases.reset)),
        ("agent: tool call round trips (WarmServer.call)", calls, len(phases.call)),
        ("agent: its own bookkeeping (agent.run minus calls)", agent - calls, len(phases.agent)),
        ("reading the final state (Controller.state)", sum(phases.state), len(phases.state)),
        ("grading: grade_checks, one sandboxed child", sum(phases.grade), len(phases.grade)),
        ("state diff for the trajectory", sum(phases.diff), len(phases.diff)),
        ("writing the trajectory (atomic write, fsync)", sum(phases.trajectory), len(phases.trajectory)),
    ]
    measured_in_play = sum(total for _, total, _ in parts)
    parts.append(("rest of play() (context, prompt, record)", sum(phases.play) - measured_in_play, len(phases.play)))
    parts.append(("appending results.jsonl (fsync)", sum(phases.append), len(phases.append)))
    busy = sum(phases.play) + sum(phases.append)
    parts.append(("workers idle (before the first and after the last episode)", worker_time - busy, 0))
    table = Table(
        title=f"where harness worker time goes ({n} episodes, {concurrency} workers x {stats.wall:.2f} s wall)",
        title_justify="left",
    )
    for column in ("phase", "events", "mean per event", "per episode", "share of worker time"):
        table.add_column(column, justify="left" if column == "phase" else "right")
    for name, total, count in parts:
        per_event = ms(total / count) if count else "—"
        table.add_row(name, str(count or "—"), per_event, ms(total / n), f"{total / worker_time:6.1%}")
    table.add_row("[bold]worker time per episode[/bold]", "", "", ms(worker_time / n), "100.0%")
    console.print(table)
