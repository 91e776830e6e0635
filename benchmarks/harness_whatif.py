"""What one grading costs and what-if measurements for benchmarks/harness.py."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anyio

from benchmarks.harness_phases import instrumented_run, steady_calls_per_s
from benchmarks.harness_workload import RunStats, console, cpu_seconds
from benchmarks.measures import mean, ms
from envmint import sandbox
from envmint.contract import Scenario
from envmint.grading import _child, default_limits, grade_checks
from envmint.harness.selection import Selected

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
