"""The workload of benchmarks/harness.py: the fixture scenarios, plain harness runs, and the raw
call_tool ceiling on the same warm sandboxed servers."""

from __future__ import annotations

import gc
import math
import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import anyio
from rich.console import Console

from envmint.contract import Scenario
from envmint.emit import emit
from envmint.harness import runner
from envmint.harness.agents.registry import agent_factory
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
