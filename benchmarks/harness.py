"""Harness benchmark: reference-agent throughput of ``envmint run`` against bare tool calls on the same servers.

    .venv/bin/python benchmarks/harness.py            # normal run (about 40 s)
    .venv/bin/python benchmarks/harness.py --quick    # fewer episodes and rounds

Everything is measured in one run and printed side by side with its goal. Nothing here asserts on
timing: the script measures, prints ratios against the goals and exits 0 (it does stop if an
episode fails, because then the numbers would not describe a working harness).

The workload is the library fixture (``tests/fixtures/library``): its server is emitted to a
temporary folder and its 4 scenarios are copied to ``scenarios/library_desk/`` there, as in
``tests/test_harness_run.py``. Servers run in the OS sandbox, as in production.

1. Harness: ``envmint.harness.runner.run`` with the reference agent, trials x 4 scenarios,
   concurrency 2. The wall time covers the whole call: starting the servers, every episode,
   grading each in a sandboxed child, writing trajectories and ``results.jsonl``. Plain runs (no
   instrumentation) give the headline numbers.
2. Ceiling: the same ``WarmServer`` / ``server_parameters`` (sandboxed), two workers pulling the
   same job list, ``WarmServer.prepare`` (load the first time, ``Controller.reset()`` after) then
   the reference solution's tool calls as bare ``call_tool`` round trips: no agent, no state
   read, no grading, no result writing. Servers are started and warmed before the clock starts.
   Plain harness runs and ceiling runs alternate, round by round.
3. Per-episode reset cost, and where harness time goes: one more harness run with timing
   wrappers patched in for its duration (a ``WarmServer`` subclass timing ``start``,
   ``prepare`` (split into load and reset), ``call`` and ``state``; wrappers around
   ``grade_checks``, ``state_diff``, ``play`` and the agent; a ``RunDirectory`` subclass timing
   trajectory and result writes). envmint's code is not changed.
4. The cost of one grading child taken apart on a quiet machine (sandbox and interpreter
   start-up, the checks themselves, machine CPU per call, 4 episodes' checks in one child), and
   harness runs with more workers than cores (instrumented, for their steady state).
5. Why the ratio is what it is: harness and ceiling episodes side by side, phase by phase, and
   for each way of grading a two-bound estimate (workers' latency, the machine's CPU) checked
   against the measured runs. CPU is machine-wide (``/proc/stat``): sandboxed children are not
   accounted to this process.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
from mcp_types import CallToolResult
from rich.console import Console
from rich.table import Table

from envmint import sandbox
from envmint.contract import Scenario
from envmint.emit import emit
from envmint.grading import _child, default_limits, grade_checks
from envmint.harness import runner
from envmint.harness.agents.registry import agent_factory
from envmint.harness.episode import Agent, EpisodeContext
from envmint.harness.results import EpisodeRecord, RunDirectory
from envmint.harness.selection import Selected, select
from envmint.harness.servers import WarmServer

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # for tests.fixtures.library (imported in load_fixture)

console = Console(highlight=False, width=max(110, Console().width))

CONCURRENCY = 2
RATIO_GOAL = 0.5
RESET_GOAL = 5e-3


# -- statistics and reporting ------------------------------------------------------------------------


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
    return f"{seconds * 1e3:.2f} ms"


@dataclass
class Row:
    measure: str
    value: float
    shown: str
    goal: float | None = None
    goal_text: str = "—"
    higher_is_better: bool = False


def summary(rows: list[Row]) -> None:
    table = Table(title="envmint harness benchmark", title_justify="left")
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


def _load() -> str:
    try:
        return " ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "n/a"


def cpu_seconds() -> float:
    """Busy CPU seconds of the whole machine so far, summed over cores (``/proc/stat``; NaN without it).

    Machine-wide because the sandboxed children (servers, grading) are not accounted to this
    process: bwrap's children are reaped inside their pid namespace, so ``os.times()`` misses them.
    """
    try:
        with open("/proc/stat", encoding="ascii") as handle:
            ticks = [int(value) for value in handle.readline().split()[1:9]]
    except (OSError, ValueError):
        return math.nan
    idle = ticks[3] + ticks[4]  # idle + iowait
    return (sum(ticks) - idle) / os.sysconf("SC_CLK_TCK")


# -- the workload ------------------------------------------------------------------------------------


def load_fixture(directory: Path) -> tuple[Path, list[Selected]]:
    """Emit the library fixture's server and copy its scenarios under ``directory``."""
    from tests.fixtures import library

    servers_dir = directory / "servers"
    emit(library.build_spec(), servers_dir)
    target = directory / "scenarios" / "library_desk"
    target.mkdir(parents=True)
    for path in library.scenario_paths():
        shutil.copy(path, target / path.name)
    return servers_dir, select(directory / "scenarios")


def no_user(scenario: Scenario) -> None:
    return None  # what `envmint run` gives the baseline agents


def check_records(records: list[EpisodeRecord], expected: int, what: str) -> None:
    """A benchmark of a broken run measures nothing: stop if any episode did not succeed."""
    bad = [r for r in records if r.status != "ok" or not r.success]
    if len(records) != expected or bad:
        detail = "; ".join(f"{r.episode}: {r.status} {r.error}" for r in bad[:3])
        raise RuntimeError(f"{what}: {len(records)} records (expected {expected}), {len(bad)} not ok: {detail}")


# -- 1. the harness, plain -----------------------------------------------------------------------------


@dataclass
class RunStats:
    episodes: int
    calls: int
    wall: float
    cpu: float

    @property
    def episodes_per_s(self) -> float:
        return self.episodes / self.wall

    @property
    def calls_per_s(self) -> float:
        return self.calls / self.wall


async def harness_run(
    selection: list[Selected],
    servers_dir: Path,
    run_dir: RunDirectory,
    trials: int,
    concurrency: int = CONCURRENCY,
) -> RunStats:
    options = runner.RunOptions(agent="reference", trials=trials, concurrency=concurrency, sandboxed=True)
    factory = agent_factory("reference")
    gc.collect()
    cpu = cpu_seconds()
    start = time.perf_counter()
    with anyio.fail_after(60 + trials * len(selection) * 2):
        records = await runner.run(selection, servers_dir, run_dir, options, factory, no_user)
    wall = time.perf_counter() - start
    cpu = cpu_seconds() - cpu
    check_records(records, trials * len(selection), "harness run")
    return RunStats(len(records), sum(r.tool_calls for r in records), wall, cpu)


# -- 2. the ceiling: bare call_tool round trips on warm sandboxed servers ------------------------------


@dataclass
class CeilingStats:
    run: RunStats
    loads: list[float] = field(default_factory=list)
    resets: list[float] = field(default_factory=list)
    calls: list[float] = field(default_factory=list)
    errors: int = 0


async def _bare_episode(server: WarmServer, scenario: Scenario, stats: CeilingStats | None) -> int:
    loading = server.loaded != scenario.id
    start = time.perf_counter()
    await server.prepare(scenario.id, scenario.initial_state, scenario.now, scenario.seed)
    elapsed = time.perf_counter() - start
    if stats is not None:
        (stats.loads if loading else stats.resets).append(elapsed)
    for call in scenario.reference_solution:
        start = time.perf_counter()
        result = await server.call(call.tool, dict(call.arguments))
        if stats is not None:
            stats.calls.append(time.perf_counter() - start)
            stats.errors += bool(result.is_error)
    return len(scenario.reference_solution)


async def ceiling_run(
    selection: list[Selected], servers_dir: Path, trials: int, concurrency: int = CONCURRENCY
) -> CeilingStats:
    jobs = runner.plan(selection, "reference", trials)
    env_id = selection[0].scenario.env_id
    stats = CeilingStats(RunStats(len(jobs), 0, 0.0, 0.0))
    with anyio.fail_after(120 + len(jobs) * 0.5):
        async with anyio.create_task_group() as group:
            servers = [WarmServer(env_id, servers_dir / env_id, group, sandboxed=True) for _ in range(concurrency)]
            try:
                async with anyio.create_task_group() as starting:
                    for server in servers:
                        starting.start_soon(server.start)
                for server in servers:  # warm-up, not timed: every scenario once on every server
                    for item in selection:
                        await _bare_episode(server, item.scenario, None)
                    server.loaded = None  # the timed pass loads each scenario first, as a fresh worker does

                send, receive = anyio.create_memory_object_stream[Scenario](max_buffer_size=len(jobs) + 1)
                for job in jobs:
                    send.send_nowait(job.selected.scenario)
                send.close()

                async def work(server: WarmServer) -> None:
                    async with receive.clone() as queue:
                        async for scenario in queue:
                            calls = await _bare_episode(server, scenario, stats)
                            stats.run.calls += calls  # not `+= await`: it would read the total before awaiting

                gc.collect()
                cpu = cpu_seconds()
                start = time.perf_counter()
                async with anyio.create_task_group() as workers:
                    for server in servers:
                        workers.start_soon(work, server)
                stats.run.wall = time.perf_counter() - start
                stats.run.cpu = cpu_seconds() - cpu
                receive.close()
            finally:
                for server in servers:
                    await server.stop()
    if stats.errors:
        raise RuntimeError(f"ceiling run: {stats.errors} reference tool calls returned errors")
    return stats


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


# -- 4. investigation: what one grading child costs, and what-ifs --------------------------------------


async def _spawn_sandboxed_noop() -> float:
    start = time.perf_counter()
    result = await sandbox.run_sandboxed(
        [sys.executable, "-I", "-S", "-c", "pass"], stdin=b"", limits=default_limits(3, 2.0)
    )
    if result.returncode != 0:
        raise RuntimeError(f"sandboxed no-op exited with {result.returncode}: {result.stderr[-300:]}")
    return time.perf_counter() - start


async def _spawn_plain(code: str, *flags: str) -> float:
    start = time.perf_counter()
    await anyio.run_process([sys.executable, *flags, "-c", code], check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


async def _grade(scenario: Scenario, final: dict[str, Any], copies: int = 1) -> float:
    start = time.perf_counter()
    verdicts = await grade_checks(list(scenario.checks) * copies, scenario.initial_state, final)
    elapsed = time.perf_counter() - start
    if len(verdicts) != len(scenario.checks) * copies or any(v.verdict.value != "pass" for v in verdicts):
        raise RuntimeError(f"grading {scenario.id}: {[(v.check_id, v.verdict, v.detail) for v in verdicts]}")
    return elapsed


def _checks_in_process(scenario: Scenario, final: dict[str, Any]) -> float:
    start = time.perf_counter()
    for check in scenario.checks:
        verdict, detail = _child.run_check(check.source, scenario.initial_state, final, 2.0)
        if verdict != "pass":
            raise RuntimeError(f"{scenario.id}/{check.id} in process: {verdict} {detail}")
    return time.perf_counter() - start


async def investigate_grading(
    selection: list[Selected], finals: dict[str, dict[str, Any]], reps: int, batch: int
) -> dict[str, float]:
    """Medians (seconds) of the parts of one grading child, measured one at a time on a quiet machine."""
    console.rule("4a. one grading child taken apart (sequential, nothing else running)")
    scenarios = [item.scenario for item in selection if item.scenario.id in finals]
    times: dict[str, list[float]] = {"plain": [], "sandboxed": [], "grade": [], "batch": [], "inproc": []}
    grade_cpu = batch_cpu = 0.0
    with anyio.fail_after(60 + reps * len(scenarios) * (3 + batch)):
        for scenario in scenarios:  # warm the file cache; not counted
            await _grade(scenario, finals[scenario.id])
        await _spawn_sandboxed_noop()
        for _ in range(reps):
            for scenario in scenarios:
                final = finals[scenario.id]
                times["plain"].append(await _spawn_plain("pass", "-I", "-S"))
                times["sandboxed"].append(await _spawn_sandboxed_noop())
                cpu = cpu_seconds()
                times["grade"].append(await _grade(scenario, final))
                grade_cpu += cpu_seconds() - cpu
                cpu = cpu_seconds()
                times["batch"].append(await _grade(scenario, final, copies=batch) / batch)
                batch_cpu += (cpu_seconds() - cpu) / batch
                times["inproc"].append(_checks_in_process(scenario, final))
        import_mcp = statistics.median([await _spawn_plain("import mcp", "-I") for _ in range(2 if reps < 4 else 3)])
    med = {name: statistics.median(values) for name, values in times.items()}
    med["grade_cpu"] = grade_cpu / len(times["grade"])  # means: /proc/stat counts in 10 ms ticks
    med["batch_cpu"] = batch_cpu / len(times["batch"])
    med["import_mcp"] = import_mcp
    checks = statistics.fmean(len(s.checks) for s in scenarios)
    console.print(f"{reps} repetitions of each of {len(scenarios)} scenarios ({checks:.2f} checks per scenario)")
    console.print(f"python -I -S -c pass, plain subprocess:                 median {ms(med['plain'])}")
    console.print(f"python -I -S -c pass under run_sandboxed (bwrap, launcher): median {ms(med['sandboxed'])}")
    console.print(
        f"grade_checks, one scenario's checks in one child:       median {ms(med['grade'])}  "
        f"(machine CPU per call, mean: {ms(med['grade_cpu'])})"
    )
    console.print(f"the same checks in this process (_child.run_check):    median {ms(med['inproc'])}")
    console.print(
        f"{batch} copies of the checks in one child, per copy:        median {ms(med['batch'])}  (CPU, mean: "
        f"{ms(med['batch_cpu'])}; what grading {batch} episodes per child would cost, though with the same final "
        "state each time: no such API exists)"
    )
    console.print(
        f"=> starting a sandboxed interpreter is {med['sandboxed'] / med['grade']:.0%} of a grading call; "
        f"the checks themselves are {med['inproc'] / med['grade']:.1%} of it."
    )
    console.print(f"for the server cold start: python -I -c 'import mcp' takes {ms(med['import_mcp'])} (median)")
    return med


async def what_if_concurrency(
    selection: list[Selected], servers_dir: Path, out: Path, trials: int, levels: Sequence[int]
) -> list[tuple[int, RunStats, float]]:
    console.rule("4b. what-if: more workers than cores, so one episode's grading overlaps another's calls")
    results = []
    cores = os.cpu_count() or 1
    for level in levels:
        stats, phases = await instrumented_run(selection, servers_dir, out / f"c{level}", trials, level)
        steady = steady_calls_per_s(stats, phases, level)
        results.append((level, stats, steady))
        console.print(
            f"concurrency {level}: {stats.episodes} episodes in {stats.wall:.2f} s: {stats.calls_per_s:.1f} calls/s "
            f"for the whole run, {steady:.1f} calls/s in steady state; server start mean {ms(mean(phases.start))}; "
            f"grading mean {ms(mean(phases.grade))}; machine CPU {stats.cpu / stats.wall / cores:.0%} busy"
        )
    return results


# -- main --------------------------------------------------------------------------------------------


def _round_line(label: str, stats: RunStats) -> str:
    cores = os.cpu_count() or 1
    return (
        f"{label}: {stats.episodes} episodes, {stats.calls} calls in {stats.wall:.3f} s -> "
        f"{stats.episodes_per_s:.1f} episodes/s, {stats.calls_per_s:.1f} calls/s; "
        f"machine CPU {stats.cpu / stats.wall / cores:.0%} busy"
    )


async def run(args: argparse.Namespace) -> None:
    quick = args.quick
    trials = 4 if quick else 13
    rounds = 1 if quick else 3
    ceiling_trials = trials * (2 if quick else 4)
    rows: list[Row] = []
    started = time.perf_counter()
    cores = os.cpu_count() or 1
    console.print(
        f"python {sys.version.split()[0]} at {sys.executable}; {'quick' if quick else 'normal'} mode; "
        f"{cores} CPUs; load average {_load()}; sandbox {sandbox.sandbox_mode()}"
    )
    with tempfile.TemporaryDirectory(prefix="envmint-bench-harness-") as temp:
        directory = Path(temp)
        servers_dir, selection = load_fixture(directory)
        episodes = trials * len(selection)
        calls_per_episode = statistics.fmean(len(item.scenario.reference_solution) for item in selection)
        console.print(
            f"{len(selection)} scenarios, {calls_per_episode:.2f} reference tool calls per episode; harness: "
            f"{trials} trials = {episodes} episodes per run; ceiling: {ceiling_trials * len(selection)} episodes "
            f"per run; concurrency {CONCURRENCY}; {rounds} round(s)"
        )

        console.rule("1 + 2. harness runs (plain) and ceiling runs, alternating")
        await harness_run(selection, servers_dir, RunDirectory(directory / "runs" / "warmup"), 1)  # not counted
        harness: list[RunStats] = []
        ceiling: list[CeilingStats] = []
        for r in range(rounds):
            order = ["harness", "ceiling"] if r % 2 == 0 else ["ceiling", "harness"]
            for what in order:
                if what == "harness":
                    out = RunDirectory(directory / "runs" / f"plain{r}")
                    harness.append(await harness_run(selection, servers_dir, out, trials))
                    console.print(_round_line(f"round {r + 1} harness", harness[-1]))
                else:
                    ceiling.append(await ceiling_run(selection, servers_dir, ceiling_trials))
                    console.print(_round_line(f"round {r + 1} ceiling", ceiling[-1].run))
        h_eps = statistics.median(s.episodes_per_s for s in harness)
        h_calls = statistics.median(s.calls_per_s for s in harness)
        c_calls = statistics.median(c.run.calls_per_s for c in ceiling)
        round_ratio = statistics.median(
            h.calls_per_s / c.run.calls_per_s for h, c in zip(harness, ceiling, strict=True)
        )
        c_call_times = [t for c in ceiling for t in c.calls]
        c_resets = [t for c in ceiling for t in c.resets]
        c_loads = [t for c in ceiling for t in c.loads]
        h_cpu = statistics.median(s.cpu / s.episodes for s in harness)
        c_cpu = statistics.median(c.run.cpu / c.run.episodes for c in ceiling)
        console.print(
            f"harness (median of {rounds}): {h_eps:.1f} episodes/s, {h_calls:.1f} tool calls/s, "
            f"machine CPU {ms(h_cpu)} per episode (server start-up included)"
        )
        console.print(
            f"ceiling (median of {rounds}): {c_calls:.1f} calls/s, machine CPU {ms(c_cpu)} per episode; "
            f"call p50 {ms(pct(c_call_times, 50))}; reset mean {ms(mean(c_resets))}; load mean {ms(mean(c_loads))}"
        )
        console.print(f"harness / ceiling tool calls per second: {h_calls / c_calls:.3f} (goal ≥ {RATIO_GOAL})")

        console.rule("3. one instrumented harness run: reset cost and where the time goes")
        i_stats, phases = await instrumented_run(selection, servers_dir, directory / "runs" / "instrumented", trials)
        steady = steady_calls_per_s(i_stats, phases, CONCURRENCY)
        console.print(_round_line("instrumented harness", i_stats) + "  (compare with the plain runs above)")
        console.print(
            "Reset and load are timed around WarmServer.prepare in this harness run (a WarmServer subclass), "
            "without the server start, so they include what the other worker's grading child costs them on "
            f"{cores} cores. The ceiling runs time the same prepare calls with no grading beside them."
        )
        console.print(
            f"reset: mean {ms(mean(phases.reset))}  p50 {ms(pct(phases.reset, 50))}  p90 {ms(pct(phases.reset, 90))}"
            f"  (n={len(phases.reset)});  load: mean {ms(mean(phases.load))} (n={len(phases.load)});  "
            f"server start: mean {ms(mean(phases.start))} (n={len(phases.start)})"
        )
        console.print(
            f"tool call in the harness: p50 {ms(pct(phases.call, 50))}  p90 {ms(pct(phases.call, 90))}; "
            f"in the ceiling: p50 {ms(pct(c_call_times, 50))}  p90 {ms(pct(c_call_times, 90))}"
        )
        console.print(
            f"steady state (workers' busy time minus server starts): {steady:.1f} calls/s, "
            f"{steady / c_calls:.3f} of the ceiling"
        )
        breakdown(i_stats, phases, CONCURRENCY)

        med = await investigate_grading(selection, phases.finals, reps=2 if quick else 5, batch=4)
        levels = [4] if quick else [3, 4]
        more = await what_if_concurrency(selection, servers_dir, directory / "runs", trials, levels)

    console.rule("5. why the ratio is what it is")
    n = i_stats.episodes
    c_episodes = sum(c.run.episodes for c in ceiling)
    c_worker = sum(CONCURRENCY * c.run.wall for c in ceiling) / c_episodes
    c_prepare = (sum(c_loads) + sum(c_resets)) / c_episodes
    c_calls_time = sum(c_call_times) / c_episodes
    h_worker = CONCURRENCY * i_stats.wall / n
    h_idle = h_worker - (sum(phases.play) + sum(phases.append)) / n
    h_parts = {
        "start": sum(phases.start) / n,
        "prepare": (sum(phases.load) + sum(phases.reset)) / n,
        "calls": sum(phases.call) / n,
        "agent": (sum(phases.agent) - sum(phases.call)) / n,
        "state": sum(phases.state) / n,
        "grade": sum(phases.grade) / n,
        "write": (sum(phases.diff) + sum(phases.trajectory) + sum(phases.append)) / n,
    }
    h_parts["rest"] = h_worker - h_idle - sum(h_parts.values())
    compare = Table(
        title=f"per episode: a harness worker (instrumented run) against a ceiling worker ({c_episodes} episodes)",
        title_justify="left",
    )
    for column in ("phase", "harness", "ceiling", "difference"):
        compare.add_column(column, justify="left" if column == "phase" else "right")
    lines = [
        ("server cold start, amortised (ceiling: started before the clock)", h_parts["start"], 0.0),
        ("prepare: load or reset", h_parts["prepare"], c_prepare),
        ("tool call round trips", h_parts["calls"], c_calls_time),
        ("agent bookkeeping", h_parts["agent"], 0.0),
        ("reading the final state", h_parts["state"], 0.0),
        ("grading", h_parts["grade"], 0.0),
        ("state diff, trajectory, results.jsonl", h_parts["write"], 0.0),
        ("everything else (ceiling: its loop and queue)", h_parts["rest"], c_worker - c_prepare - c_calls_time),
        ("workers idle at the ends of the run", h_idle, 0.0),
        ("[bold]worker time per episode[/bold]", h_worker, c_worker),
    ]
    for name, h_value, c_value in lines:
        compare.add_row(name, ms(h_value), ms(c_value), ms(h_value - c_value))
    console.print(compare)

    steady_episode = CONCURRENCY * calls_per_episode / steady
    grade = mean(phases.grade)
    load_factor = grade / med["grade"]  # grading under load against grading on a quiet machine
    busy = statistics.median(s.cpu / s.wall for s in harness) / cores
    gap = h_worker - c_worker
    rest = gap - h_parts["grade"] - h_parts["start"] - h_idle
    console.print(
        f"Whole run: {h_calls / c_calls:.2f} of the ceiling. Of the {ms(gap)} a harness episode costs a worker "
        f"beyond a ceiling episode, grading is {ms(h_parts['grade'])} ({h_parts['grade'] / gap:.0%}), the server "
        f"cold start amortised over {n} episodes {ms(h_parts['start'])} ({h_parts['start'] / gap:.0%}; one start "
        f"takes {ms(mean(phases.start))}, and for scale `python -I -c 'import mcp'` takes "
        f"{ms(med['import_mcp'])}), idle workers at the ends of the run {ms(h_idle)} ({h_idle / gap:.0%}), and "
        f"everything else (state read, writes, slower prepare) {ms(rest)} ({rest / gap:.0%}). Without the start "
        f"and the idle ends (steady state) the harness reaches {steady / c_calls:.2f} of the ceiling, and "
        f"grading is {grade / steady_episode:.0%} of a worker's time per episode ({ms(grade)} of "
        f"{ms(steady_episode)})."
    )
    console.print(
        f"A grading call takes {ms(med['grade'])} on a quiet machine, of which {ms(med['sandboxed'])} is starting "
        f"bwrap, the launcher and the child interpreter (a no-op child) and {ms(med['inproc'])} the checks "
        f"themselves (in process). It also costs {ms(med['grade_cpu'])} of machine CPU, more than its wall time "
        f"(bwrap and the interpreters overlap on both cores), against {ms(c_cpu)} for a whole ceiling episode "
        f"({calls_per_episode:.1f} calls and a load or reset, client and server). The machine (all processes) "
        f"was {busy:.0%} busy during the plain harness runs."
    )

    # A two-bound model per option: workers' latency (the steady-state episode with grading replaced) and
    # the machine's CPU (cores / CPU per episode). The lower bound is the estimate.
    c_episode_cpu = c_cpu
    warm_grader = med["inproc"] + mean(c_resets)  # the checks plus one round trip to a warm sandboxed process
    options = [
        ("today: one sandboxed child per episode", grade, med["grade_cpu"]),
        ("(a) grading off the worker's path (same children)", 0.0, med["grade_cpu"]),
        ("(b) 4 episodes' checks per sandboxed child", med["batch"] * load_factor, med["batch_cpu"]),
        ("(c) a warm sandboxed grading process per worker", warm_grader, warm_grader),
    ]
    model = Table(
        title="estimates (not runs): steady-state calls/s = min(latency bound, CPU bound)", title_justify="left"
    )
    for column in ("grading", "worker ms/episode", "CPU ms/episode", "latency bound", "CPU bound", "of ceiling"):
        model.add_column(column, justify="left" if column == "grading" else "right")
    estimates: dict[str, float] = {}
    for name, on_path, cpu in options:
        latency = steady_episode - grade + on_path
        cpu_episode = c_episode_cpu + cpu
        by_latency = CONCURRENCY / latency * calls_per_episode
        by_cpu = cores / cpu_episode * calls_per_episode
        estimates[name] = min(by_latency, by_cpu)
        model.add_row(
            name,
            f"{latency * 1e3:.1f}",
            f"{cpu_episode * 1e3:.1f}",
            f"{by_latency:.0f}",
            f"{by_cpu:.0f}",
            f"{estimates[name] / c_calls:.2f}",
        )
    console.print(model)
    console.print(
        "The model leaves out the state read, trajectory and results writes (a few ms each) from the CPU "
        f"bound, and (c) takes a reset round trip ({ms(mean(c_resets))}) plus the checks as its cost. Checked "
        f"against runs: steady state measured {steady:.0f} calls/s at concurrency {CONCURRENCY}; "
        + ", ".join(f"{value:.0f} at concurrency {level}" for level, _, value in more)
        + " (whole runs: "
        + ", ".join(f"{s.calls_per_s:.0f} at {level}" for level, s, _ in more)
        + f", {h_calls:.0f} at {CONCURRENCY}: every extra worker pays its own server cold start)."
    )
    console.print(
        "Grading runs in warm sandboxed grading processes (envmint.grading.zygote): each request is a fresh "
        "fork with strict limits, so episodes stay isolated while the per-episode cost drops to a few ms. What "
        "remains between a whole run and the ceiling is mostly each worker's server cold start (importing the "
        "MCP SDK, ~1 s): it fades over long runs, and starting servers before the first episode would remove it.\n"
    )

    rows += [
        Row("harness episodes/s (median of runs, wall incl. start-up)", h_eps, f"{h_eps:.1f}"),
        Row("harness tool calls/s", h_calls, f"{h_calls:.1f}"),
        Row("ceiling calls/s, warm servers, bare call_tool", c_calls, f"{c_calls:.1f}"),
        Row(
            "harness / ceiling tool calls/s",
            h_calls / c_calls,
            f"{h_calls / c_calls:.3f}",
            RATIO_GOAL,
            f"≥ {RATIO_GOAL}",
            higher_is_better=True,
        ),
        Row("  median of per-round ratios", round_ratio, f"{round_ratio:.3f}"),
        Row("  steady-state ratio (no server start, no idle ends)", steady / c_calls, f"{steady / c_calls:.3f}"),
        *[
            Row(f"  estimate, {name.split(':')[0]}", value / c_calls, f"{value / c_calls:.3f}")
            for name, value in estimates.items()
        ],
        Row(
            "reset mean per episode, harness run (prepare)",
            mean(phases.reset),
            ms(mean(phases.reset)),
            RESET_GOAL,
            "≤ 5 ms",
        ),
        Row("  reset p90, harness run", pct(phases.reset, 90), ms(pct(phases.reset, 90))),
        Row("  reset mean, ceiling runs (no grading beside it)", mean(c_resets), ms(mean(c_resets))),
        Row("  load mean, first episode of a scenario, harness", mean(phases.load), ms(mean(phases.load))),
        Row("  load mean, ceiling runs", mean(c_loads), ms(mean(c_loads))),
        Row("  server cold start mean, harness run", mean(phases.start), ms(mean(phases.start))),
        Row(
            "  tool call p50, harness / ceiling",
            pct(phases.call, 50),
            ms(pct(phases.call, 50)) + " / " + ms(pct(c_call_times, 50)),
        ),
        Row("  grading per episode, harness run", grade, ms(grade)),
        Row(
            "  grading share of worker time",
            sum(phases.grade) / (CONCURRENCY * i_stats.wall),
            f"{sum(phases.grade) / (CONCURRENCY * i_stats.wall):.1%}",
        ),
        Row("  grade_checks, quiet machine", med["grade"], ms(med["grade"])),
        Row("  sandboxed no-op child, quiet machine", med["sandboxed"], ms(med["sandboxed"])),
        Row("  checks in process, per scenario", med["inproc"], ms(med["inproc"])),
        Row("  grading per episode, 4 episodes per child", med["batch"], ms(med["batch"])),
        *[Row(f"  steady-state calls/s at concurrency {level}", value, f"{value:.1f}") for level, _, value in more],
    ]
    console.rule()
    summary(rows)
    console.print(
        f"total wall time {time.perf_counter() - started:.1f} s; load average {_load()} "
        "(other processes on the machine add noise: harness and ceiling runs alternate to share it)"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer episodes and rounds (a smoke run)")
    args = parser.parse_args(argv)
    anyio.run(run, args)


if __name__ == "__main__":
    main()
