"""Grading benchmark: ``grade_checks`` latency and CPU with a warm zygote against a fresh sandboxed child.

    .venv/bin/python benchmarks/grading.py            # normal run (about 20 s)
    .venv/bin/python benchmarks/grading.py --quick    # fewer calls

Everything is measured in one run and printed side by side with its goal. Nothing here asserts on
timing: the script measures, prints ratios against the goals and exits 0 (it stops if a verdict is
an error, because then the numbers would not describe working grading).

The workload is the checks of the library fixture's scenarios (``tests/fixtures/library``), graded
against each scenario's initial state (the verdicts are passes and fails; which does not matter).

1. Latency: ``grade_checks`` one call at a time, alternating between the two ways in rounds: a
   child forked from a warm grading zygote (the default) and a fresh sandboxed child per call
   (``ENVMINT_GRADING_ZYGOTE=0``, the fallback and the way before zygotes). The zygote's first
   call, which starts it, is reported apart.
2. CPU per call, machine-wide (``/proc/stat``: bwrap's children are reaped inside their pid
   namespace and never show up in this process's ``os.times``), so other load on the machine adds
   to both ways alike; and for the zygote alone, precisely: this process (``os.times``) plus the
   zygote with its reaped children (``/proc/PID/stat``: utime, stime, cutime, cstime).
3. Throughput: two concurrent callers (the harness's default concurrency), calls per second.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import anyio
from rich.console import Console
from rich.table import Table

from envmint import sandbox
from envmint.contract import Scenario, load_scenario
from envmint.grading import Verdict, grade_checks, zygote

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # for tests.fixtures.library

console = Console(highlight=False, width=max(110, Console().width))

LATENCY_GOAL = 10e-3
SPEEDUP_GOAL = 5.0


def scenarios() -> list[Scenario]:
    from tests.fixtures import library

    return [load_scenario(path) for path in library.scenario_paths()]


def use_zygote(on: bool) -> None:
    zygote.shutdown()
    if on:
        os.environ.pop(zygote.ENV_VAR, None)
    else:
        os.environ[zygote.ENV_VAR] = "0"


async def grade(scenario: Scenario) -> float:
    start = time.perf_counter()
    verdicts = await grade_checks(scenario.checks, scenario.initial_state, scenario.initial_state)
    elapsed = time.perf_counter() - start
    if any(v.verdict is Verdict.ERROR for v in verdicts):
        raise RuntimeError(f"{scenario.id}: {[(v.check_id, v.detail) for v in verdicts if v.detail]}")
    return elapsed


def zygote_cpu() -> float:
    """CPU seconds of this thread's idle zygotes and their reaped children, from /proc."""
    total = 0
    for pid in zygote.idle_pids():
        for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
            fields = Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()
            total += sum(int(value) for value in fields[11:15])  # utime stime cutime cstime
    return total / os.sysconf("SC_CLK_TCK")


def own_cpu() -> float:
    times = os.times()
    return times.user + times.system


def machine_cpu() -> float:
    """Busy CPU seconds of the whole machine so far, summed over cores."""
    with open("/proc/stat", encoding="ascii") as handle:
        ticks = [int(value) for value in handle.readline().split()[1:9]]
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")


async def latency(work: list[Scenario], calls: int, rounds: int) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {name: [] for name in ("zygote", "fresh", "machine zygote", "machine fresh")}
    out |= {"first": [], "own zygote": []}
    for r in range(rounds):
        for way in ("zygote", "fresh") if r % 2 == 0 else ("fresh", "zygote"):
            use_zygote(way == "zygote")
            own = 0.0
            if way == "zygote":
                out["first"].append(await grade(work[0]))  # starts the zygote
                own = own_cpu() + zygote_cpu()
            machine = machine_cpu()
            for n in range(calls):
                out[way].append(await grade(work[n % len(work)]))
            out[f"machine {way}"].append((machine_cpu() - machine) / calls)
            if way == "zygote":
                out["own zygote"].append((own_cpu() + zygote_cpu() - own) / calls)
    use_zygote(True)
    return out


async def throughput(work: list[Scenario], calls: int, on: bool, concurrency: int = 2) -> float:
    use_zygote(on)
    await grade(work[0])  # warm
    remaining = list(range(calls))

    async def worker() -> None:
        while remaining:
            await grade(work[remaining.pop() % len(work)])

    start = time.perf_counter()
    async with anyio.create_task_group() as group:
        for _ in range(concurrency):
            group.start_soon(worker)
    elapsed = time.perf_counter() - start
    use_zygote(True)
    return calls / elapsed


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:.2f} ms"


def p(values: list[float], q: float) -> float:
    data = sorted(values)
    return data[min(len(data) - 1, round((len(data) - 1) * q))]


async def run(args: argparse.Namespace) -> None:
    calls, rounds = (20, 2) if args.quick else (60, 4)
    work = scenarios()
    checks = statistics.fmean(len(s.checks) for s in work)
    try:
        load = " ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        load = "n/a"
    console.print(
        f"python {sys.version.split()[0]}; {os.cpu_count()} CPUs; load average {load}; "
        f"sandbox {sandbox.sandbox_mode()}; {len(work)} scenarios, {checks:.2f} checks each; "
        f"{calls} calls x {rounds} rounds per way"
    )
    with anyio.fail_after(600):
        lat = await latency(work, calls, rounds)
        tput: dict[str, float] = {}
        for name, on in (("zygote", True), ("fresh", False)):
            tput[name] = await throughput(work, calls * 2, on)
    zyg, fresh = statistics.median(lat["zygote"]), statistics.median(lat["fresh"])
    cpu_z, cpu_f = statistics.median(lat["machine zygote"]), statistics.median(lat["machine fresh"])
    own_z = statistics.median(lat["own zygote"])
    table = Table(title="grade_checks: warm zygote against a fresh sandboxed child", title_justify="left")
    for column in ("measure", "zygote", "fresh child", "fresh / zygote", "goal", "meets goal"):
        table.add_column(column, justify="left" if column == "measure" else "right")
    rows: list[tuple[str, str, str, str, str, str]] = [
        (
            "latency p50",
            ms(zyg),
            ms(fresh),
            f"{fresh / zyg:.1f}x",
            f"zygote ≤ {ms(LATENCY_GOAL)}, ≥ {SPEEDUP_GOAL:g}x",
            "[green]yes[/green]" if zyg <= LATENCY_GOAL and fresh / zyg >= SPEEDUP_GOAL else "[red]no[/red]",
        ),
        ("latency p90", ms(p(lat["zygote"], 0.9)), ms(p(lat["fresh"], 0.9)), "", "", "[dim]context[/dim]"),
        ("machine CPU per call", ms(cpu_z), ms(cpu_f), f"{cpu_f / cpu_z:.1f}x", "", "[dim]context[/dim]"),
        ("  zygote: this process + the zygote", ms(own_z), "—", "", "", "[dim]context[/dim]"),
        (
            "calls/s, 2 concurrent callers",
            f"{tput['zygote']:.0f}",
            f"{tput['fresh']:.0f}",
            "",
            "",
            "[dim]context[/dim]",
        ),
        ("first call (starts the zygote)", ms(statistics.median(lat["first"])), "—", "", "", "[dim]context[/dim]"),
    ]
    for row in rows:
        table.add_row(*row)
    console.print(table)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer calls (a smoke run)")
    args = parser.parse_args(argv)
    anyio.run(run, args)


if __name__ == "__main__":
    main()
