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
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import anyio
from rich.table import Table

from envmint import sandbox
from envmint.harness.results import RunDirectory

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script: make `benchmarks` importable
from benchmarks.harness_phases import breakdown, instrumented_run, steady_calls_per_s
from benchmarks.harness_whatif import investigate_grading, what_if_concurrency
from benchmarks.harness_workload import (
    CONCURRENCY,
    RATIO_GOAL,
    RESET_GOAL,
    CeilingStats,
    RunStats,
    ceiling_run,
    console,
    harness_run,
    load_fixture,
)
from benchmarks.measures import Row, load_average, mean, ms, pct, summary

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
        f"{cores} CPUs; load average {load_average()}; sandbox {sandbox.sandbox_mode()}"
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
    summary(console, "envmint harness benchmark", rows)
    console.print(
        f"total wall time {time.perf_counter() - started:.1f} s; load average {load_average()} "
        "(other processes on the machine add noise: harness and ceiling runs alternate to share it)"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer episodes and rounds (a smoke run)")
    args = parser.parse_args(argv)
    anyio.run(run, args)


if __name__ == "__main__":
    main()
