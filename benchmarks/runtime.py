"""Runtime benchmark: reset latency, per-call stdio overhead and cold start of an emitted server.

    .venv/bin/python benchmarks/runtime.py            # normal run (well under 2 minutes)
    .venv/bin/python benchmarks/runtime.py --quick    # fewer iterations

Everything is measured in one run and printed side by side with its goal. Nothing here asserts on
timing: the script measures, prints ratios against the goals and exits 0.

1. Reset: an inventory environment (defined below) is emitted, started over stdio and given a
   ~1 MB state once with ``Controller.load``. Each episode makes a few mutating tool calls that
   change 1-3 containers, then ``Controller.reset()`` is timed end to end. The in-process cost of
   ``StateStore.reset()`` for the same state and episodes is shown for context.
2. Per-call latency: ``echo(x)`` on the envmint runtime (small state) against a bare low-level
   ``mcp.server.Server`` with the same tool listing and the same result payload but no validation,
   snapshots or time limits. Both are stdio subprocesses of the same Python, driven by the same
   client code, alternately, in several rounds.
3. Cold start: spawn ``python server.py`` -> first ``tools/list`` result, median over several runs,
   for both servers, interleaved.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import anyio
import mcp_types
from envmint_runtime import control
from envmint_runtime.host import EnvironmentHost
from envmint_runtime.loader import load_environment_class, read_spec
from envmint_runtime.state import canonical_json
from mcp import Client, StdioServerParameters
from rich.console import Console

from envmint.emit import emit
from envmint.harness.control import Controller, stdio_parameters

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script: make `benchmarks` importable
from benchmarks.inventory import NOW, TOOLS, big_state, episode_calls, inventory_spec
from benchmarks.measures import Row, load_average, ms, pct, summary, us

console = Console(highlight=False, width=max(110, Console().width))

# -- the bare comparison server ----------------------------------------------------------------------

BARE_SERVER = """
import json

import anyio
import mcp_types as types
from mcp.server import Server
from mcp.server.stdio import stdio_server

TOOL = types.Tool.model_validate({
    "name": "echo",
    "description": "Return x unchanged.",
    "inputSchema": %(schema)r,
    "annotations": {"readOnlyHint": True, "openWorldHint": False},
})


async def list_tools(ctx, params):
    return types.ListToolsResult(tools=[TOOL])


async def call_tool(ctx, params):
    value = {"x": (params.arguments or {}).get("x")}
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=json.dumps(value))], structured_content=value, is_error=False
    )


server = Server("bare-echo", version="0.0.0", on_list_tools=list_tools, on_call_tool=call_tool)


async def main():
    async with stdio_server() as (read, write):
        await server.run(read, write, server.create_initialization_options())


anyio.run(main)
"""


def write_bare_server(directory: Path) -> Path:
    path = directory / "bare_server.py"
    path.write_text(BARE_SERVER % {"schema": TOOLS[0]["input_schema"]}, encoding="utf-8")
    return path


def bare_parameters(path: Path) -> StdioServerParameters:
    # Same interpreter and the same environment variables as stdio_parameters() gives the envmint server.
    return StdioServerParameters(
        command=sys.executable, args=[str(path)], env={"PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": "1"}
    )


async def timed_ok(client: Client, name: str, arguments: dict[str, Any]) -> float:
    start = time.perf_counter()
    result = await client.call_tool(name, arguments)
    elapsed = time.perf_counter() - start
    if result.is_error:
        text = result.content[0].text if result.content else ""  # type: ignore[union-attr]
        raise RuntimeError(f"{name}({arguments}) failed: {text}")
    return elapsed


# -- 1. reset ----------------------------------------------------------------------------------------


async def bench_reset(folder: Path, state: dict[str, Any], episodes: int, rows: list[Row]) -> None:
    console.rule("1. reset of a ~1 MB state over stdio")
    size = len(canonical_json(state).encode())
    counts = {k: len(v) for k, v in state.items()}
    console.print(f"state: {size:,} bytes of canonical JSON ({size / 1e6:.2f} MB); containers {counts}")
    rng = random.Random(1)
    resets: list[float] = []
    idle_resets: list[float] = []
    mutating: list[float] = []
    with anyio.fail_after(60 + episodes * 2):
        async with Client(stdio_parameters(folder)) as client:
            control = Controller(client)
            with anyio.fail_after(30):
                start = time.perf_counter()
                await control.load(state, now=NOW, seed=0)
                load_time = time.perf_counter() - start
                start = time.perf_counter()
                baseline = await control.hash()
                hash_time = time.perf_counter() - start
            console.print(f"Controller.load (validated, once): {load_time * 1e3:.0f} ms; hash: {ms(hash_time)}")
            with anyio.fail_after(30):
                for i in range(20):  # warm-up: client tool cache, code paths
                    for name, args in episode_calls(i, rng, state):
                        await timed_ok(client, name, args)
                    await control.reset()
            with anyio.fail_after(30 + episodes * 1):
                for i in range(episodes):
                    for name, args in episode_calls(i, rng, state):
                        mutating.append(await timed_ok(client, name, args))
                    start = time.perf_counter()
                    await control.reset()
                    resets.append(time.perf_counter() - start)
            with anyio.fail_after(30):
                for _ in range(max(20, episodes // 4)):
                    start = time.perf_counter()
                    await control.reset()
                    idle_resets.append(time.perf_counter() - start)
                echo_big = [await timed_ok(client, "echo", {"x": i}) for i in range(max(50, episodes // 2))]
                restored = await control.hash() == baseline
    console.print(
        f"Controller.reset after 1-3 changed containers: p50 {ms(pct(resets, 50))}  p90 {ms(pct(resets, 90))}"
        f"  (n={len(resets)}); restores the loaded state: {'yes' if restored else 'NO'}"
    )
    console.print(f"Controller.reset with nothing changed: p50 {ms(pct(idle_resets, 50))}")
    console.print(f"mutating tool call on the 1 MB state: p50 {ms(pct(mutating, 50))}  p90 {ms(pct(mutating, 90))}")
    console.print(f"echo on the 1 MB state (stdio): p50 {ms(pct(echo_big, 50))}  p90 {ms(pct(echo_big, 90))}")
    rows += [
        Row("reset p50, 1 MB state, stdio", pct(resets, 50), ms(pct(resets, 50)), 5e-3, "≤ 5 ms"),
        Row("reset p90, 1 MB state, stdio", pct(resets, 90), ms(pct(resets, 90)), 5e-3, "≤ 5 ms"),
        Row("  reset p50, nothing changed", pct(idle_resets, 50), ms(pct(idle_resets, 50))),
        Row("  echo p50 on the 1 MB state, stdio", pct(echo_big, 50), ms(pct(echo_big, 50))),
        Row("  mutating call p50 on the 1 MB state", pct(mutating, 50), ms(pct(mutating, 50))),
    ]


def as_received(state: dict[str, Any]) -> dict[str, Any]:
    """``state`` as the server holds it after ``envmint/load``: parsed from JSON-RPC text the way the SDK does.

    This keeps the in-process measurement honest: the server never sees the Python objects the
    benchmark built, only what the SDK parsed from the wire.
    """
    line = json.dumps({"jsonrpc": "2.0", "id": 1, "method": control.LOAD, "params": {"state": state}})
    adapter = getattr(mcp_types, "jsonrpc_message_adapter", None)
    if adapter is None:
        return dict(json.loads(line)["params"]["state"])
    message = adapter.validate_json(line, by_name=False)
    parsed = control.ControlParams.model_validate(message.params).state
    return parsed if parsed is not None else {}


def bench_reset_in_process(folder: Path, state: dict[str, Any], episodes: int, rows: list[Row]) -> None:
    console.rule("1b. the same resets in process (StateStore.reset alone)")
    spec = read_spec(folder)
    env_class = load_environment_class(folder, spec)
    host = EnvironmentHost(spec, env_class)
    state = as_received(state)
    start = time.perf_counter()
    host.load(state, now=NOW, seed=0)
    console.print(f"EnvironmentHost.load (validated): {(time.perf_counter() - start) * 1e3:.0f} ms")
    rng = random.Random(1)
    store_resets: list[float] = []
    idle: list[float] = []
    calls: list[float] = []
    undone: Counter[int] = Counter()
    for i in range(episodes):
        for name, args in episode_calls(i, rng, state):
            start = time.perf_counter()
            outcome = host.call(name, args)
            calls.append(time.perf_counter() - start)
            if not outcome.ok:
                raise RuntimeError(f"{name}({args}) failed in process: {outcome.message}")
        start = time.perf_counter()
        undone[host.store.reset()] += 1
        store_resets.append(time.perf_counter() - start)
        start = time.perf_counter()
        host.store.reset()
        idle.append(time.perf_counter() - start)
    echo_big = _time_host_echo(host, 500)
    console.print(
        f"StateStore.reset after an episode: p50 {ms(pct(store_resets, 50))}  p90 {ms(pct(store_resets, 90))}"
        f"; writes undone per reset {dict(sorted(undone.items()))}"
    )
    console.print(f"StateStore.reset with nothing changed: p50 {ms(pct(idle, 50))}")
    console.print(f"EnvironmentHost.call, mutating, 1 MB state: p50 {ms(pct(calls, 50))}")
    console.print(f"EnvironmentHost.call('echo'), 1 MB state: p50 {us(pct(echo_big, 50))}")
    rows += [
        Row("  StateStore.reset p50, in process", pct(store_resets, 50), ms(pct(store_resets, 50))),
    ]


def _time_host_echo(host: EnvironmentHost, n: int) -> list[float]:
    out = []
    for i in range(n):
        start = time.perf_counter()
        host.call("echo", {"x": i})
        out.append(time.perf_counter() - start)
    return out


# -- 2. per-call latency -----------------------------------------------------------------------------


async def _calls(client: Client, n: int) -> list[float]:
    out = []
    for i in range(n):
        start = time.perf_counter()
        await client.call_tool("echo", {"x": i})
        out.append(time.perf_counter() - start)
    return out


async def bench_per_call(folder: Path, bare: Path, rounds: int, per_round: int, rows: list[Row]) -> None:
    console.rule("2. per-call stdio latency: envmint runtime vs bare low-level Server")
    lat: dict[str, list[float]] = {"envmint": [], "bare": []}
    per_round_p50: list[tuple[float, float]] = []
    with anyio.fail_after(60 + rounds * per_round * 0.02):
        async with Client(stdio_parameters(folder)) as env_client, Client(bare_parameters(bare)) as bare_client:
            clients = {"envmint": env_client, "bare": bare_client}
            with anyio.fail_after(30):
                for name, client in clients.items():
                    first = await client.call_tool("echo", {"x": 41})
                    if first.is_error or first.structured_content != {"x": 41}:
                        raise RuntimeError(f"{name} echo returned {first}")
                    await _calls(client, 200)  # warm-up
                control = Controller(env_client)
                floor = []
                for _ in range(200):
                    start = time.perf_counter()
                    await control.reset()
                    floor.append(time.perf_counter() - start)
            for r in range(rounds):
                order = ["envmint", "bare"] if r % 2 == 0 else ["bare", "envmint"]
                got: dict[str, list[float]] = {}
                for name in order:
                    with anyio.fail_after(30 + per_round * 0.02):
                        got[name] = await _calls(clients[name], per_round)
                    lat[name] += got[name]
                per_round_p50.append((pct(got["envmint"], 50), pct(got["bare"], 50)))
    env50, bare50 = pct(lat["envmint"], 50), pct(lat["bare"], 50)
    env90, bare90 = pct(lat["envmint"], 90), pct(lat["bare"], 90)
    for i, (e, b) in enumerate(per_round_p50):
        console.print(f"round {i + 1}: envmint p50 {us(e)}  bare p50 {us(b)}  ratio {e / b:.3f}")
    console.print(f"envmint echo: p50 {us(env50)}  p90 {us(env90)}  (n={len(lat['envmint'])})")
    console.print(f"bare echo:    p50 {us(bare50)}  p90 {us(bare90)}  (n={len(lat['bare'])})")
    round_ratio = statistics.median(e / b for e, b in per_round_p50)
    console.print(f"ratio p50 {env50 / bare50:.3f}   ratio p90 {env90 / bare90:.3f}   (goal ≤ 1.25)")
    console.print(f"median of the per-round p50 ratios (robust to drift between rounds): {round_ratio:.3f}")
    console.print(f"control round trip floor (Controller.reset, small state): p50 {us(pct(floor, 50))}")
    rows += [
        Row("per-call p50 ratio envmint/bare", env50 / bare50, f"{env50 / bare50:.3f}", 1.25, "≤ 1.25"),
        Row("  per-call p90 ratio envmint/bare", env90 / bare90, f"{env90 / bare90:.3f}"),
        Row("  median of per-round p50 ratios", round_ratio, f"{round_ratio:.3f}"),
        Row("  envmint echo p50, stdio", env50, us(env50)),
        Row("  bare echo p50, stdio", bare50, us(bare50)),
        Row("  Controller.reset p50, small state", pct(floor, 50), us(pct(floor, 50))),
    ]


def bench_call_in_process(folder: Path, rows: list[Row]) -> None:
    spec = read_spec(folder)
    host = EnvironmentHost(spec, load_environment_class(folder, spec))
    _time_host_echo(host, 500)
    times = _time_host_echo(host, 5000)
    console.print(f"EnvironmentHost.call('echo') in process, small state: p50 {us(pct(times, 50))}")
    rows.append(Row("  EnvironmentHost.call(echo) p50, in process", pct(times, 50), us(pct(times, 50))))


# -- 3. cold start -----------------------------------------------------------------------------------


async def _cold_start(parameters: StdioServerParameters) -> float:
    with anyio.fail_after(30):
        start = time.perf_counter()
        async with Client(parameters) as client:
            with anyio.fail_after(20):
                listing = await client.list_tools(cache_mode="refresh")
            elapsed = time.perf_counter() - start
            if not any(tool.name == "echo" for tool in listing.tools):
                raise RuntimeError("tools/list did not list echo")
    return elapsed


async def bench_cold_start(folder: Path, bare: Path, runs: int, rows: list[Row]) -> None:
    console.rule("3. cold start: spawn -> first tools/list result")
    params = {"envmint": stdio_parameters(folder), "bare": bare_parameters(bare)}
    times: dict[str, list[float]] = {"envmint": [], "bare": []}
    for name in params:  # warm the file cache; not counted
        await _cold_start(params[name])
    for r in range(runs):
        order = ["envmint", "bare"] if r % 2 == 0 else ["bare", "envmint"]
        for name in order:
            times[name].append(await _cold_start(params[name]))
    env, bare_median = statistics.median(times["envmint"]), statistics.median(times["bare"])
    for name, values in times.items():
        shown = " ".join(f"{v * 1e3:.0f}" for v in values)
        console.print(f"{name:8s} median {statistics.median(values) * 1e3:.0f} ms   runs (ms): {shown}")
    rows += [
        Row("cold start median, envmint", env, f"{env * 1e3:.0f} ms", 0.8, "≤ 0.8 s"),
        Row("  cold start median, bare Server", bare_median, f"{bare_median * 1e3:.0f} ms"),
    ]


# -- main --------------------------------------------------------------------------------------------


async def run(args: argparse.Namespace) -> None:
    quick = args.quick
    rows: list[Row] = []
    started = time.perf_counter()
    console.print(
        f"python {sys.version.split()[0]} at {sys.executable}; {'quick' if quick else 'normal'} mode; "
        f"{os.cpu_count()} CPUs; load average {load_average()}"
    )
    with tempfile.TemporaryDirectory(prefix="envmint-bench-") as temp:
        directory = Path(temp)
        folder = emit(inventory_spec(), directory / "servers")
        bare = write_bare_server(directory)
        state = big_state()
        await bench_reset(folder, state, episodes=60 if quick else 300, rows=rows)
        bench_reset_in_process(folder, state, episodes=30 if quick else 100, rows=rows)
        await bench_per_call(folder, bare, rounds=3 if quick else 6, per_round=100 if quick else 200, rows=rows)
        bench_call_in_process(folder, rows)
        await bench_cold_start(folder, bare, runs=3 if quick else 7, rows=rows)
    console.rule()
    summary(console, "envmint runtime benchmark", rows)
    console.print(
        f"total wall time {time.perf_counter() - started:.1f} s; load average {load_average()} "
        "(other processes on the machine add noise: compare envmint with bare, which ran interleaved)"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer iterations (a smoke run)")
    args = parser.parse_args(argv)
    gc.collect()
    anyio.run(run, args)


if __name__ == "__main__":
    main()
