"""The main job: the baseline agents over the shipped catalog, with the summary table.

Reference (the oracle) must reach 100%, null (does nothing) 0%, random (seeded schema-valid calls)
next to nothing. Without a catalog (a checkout that has none yet), it emits the test fixture
environment and drives it over stdio with a scripted client instead.
"""

from __future__ import annotations

import importlib.util
import sys
import tempfile
import time
from functools import partial
from pathlib import Path
from types import ModuleType
from typing import Any

import anyio
from mcp import Client
from mcp.shared.exceptions import MCPError
from rich.console import Console
from rich.table import Table

from envmint.emit import emit
from envmint.harness.control import Controller, stdio_parameters, text_of

FIXTURE = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "library"


def _fixture() -> ModuleType:
    spec = importlib.util.spec_from_file_location("envmint_demo_fixture", FIXTURE / "__init__.py")
    if spec is None or spec.loader is None:
        raise FileNotFoundError(FIXTURE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def _drive(folder: Path, console: Console) -> int:
    fixture = _fixture()
    scenarios = fixture.load_scenarios()
    started = time.perf_counter()
    async with Client(stdio_parameters(folder)) as client:
        listing = await client.list_tools()
        console.print(f"server up over stdio in {time.perf_counter() - started:.2f} s: {len(listing.tools)} tools\n")
        tools = Table(title="Tools served", show_lines=False)
        tools.add_column("tool")
        tools.add_column("read-only")
        tools.add_column("parameters")
        for tool in listing.tools:
            read_only = bool(tool.annotations and tool.annotations.read_only_hint)
            tools.add_row(tool.name, "yes" if read_only else "", ", ".join(tool.input_schema.get("properties", {})))
        console.print(tools)

        control = Controller(client)
        steps = Table(title="Scripted calls (every failure leaves the state as it was)")
        steps.add_column("scenario", no_wrap=True)
        steps.add_column("call", no_wrap=True, min_width=21)
        steps.add_column("result", no_wrap=True, overflow="ellipsis", max_width=60)
        steps.add_column("state", no_wrap=True, min_width=9)
        failures = 0
        for scenario in scenarios:
            await control.load(scenario.initial_state, now=scenario.now, seed=scenario.seed)
            for call in scenario.reference_solution:
                before = await control.hash()
                result = await client.call_tool(call.tool, call.arguments)
                changed = "changed" if await control.hash() != before else "unchanged"
                failures += bool(result.is_error)
                text = text_of(result)
                steps.add_row(scenario.id.split("/")[1], call.tool, _short(text, result.is_error), changed)
        failures += await _misuse(client, control, steps)
        console.print(steps)

        timings = []
        for _ in range(50):
            begin = time.perf_counter()
            await control.reset()
            timings.append(time.perf_counter() - begin)
        timings.sort()
        console.print(f"\nreset over stdio: p50 {timings[len(timings) // 2] * 1000:.2f} ms over 50 resets")
    if failures:
        console.print(f"[red]{failures} step(s) did not behave as expected[/red]")
    return 1 if failures else 0


async def _misuse(client: Client, control: Controller, steps: Table) -> int:
    """Calls an agent gets wrong; each must be refused with the state untouched."""
    failures = 0
    bad_calls: list[tuple[str, dict[str, Any]]] = [
        ("checkout_book", {"member_id": 42}),
        ("checkout_book", {}),
        ("get_member", {"member_id": "M-0000", "verbose": True}),
        ("teleport_book", {}),
    ]
    for name, arguments in bad_calls:
        before = await control.hash()
        try:
            result = await client.call_tool(name, arguments)
            refused, text = result.is_error, text_of(result)
        except MCPError as exc:
            refused, text = True, f"protocol error {exc.code}: {exc.error.message}"
        unchanged = await control.hash() == before
        failures += not (refused and unchanged)
        steps.add_row("(misuse)", name, _short(text, refused), "unchanged" if unchanged else "[red]changed[/red]")
    return failures


def _short(text: str, is_error: bool | None) -> str:
    text = text if len(text) <= 90 else text[:87] + "..."
    return f"[yellow]refused:[/yellow] {text}" if is_error else text


def run_catalog_demo(console: Console, servers: Path, scenarios: Path) -> int:
    """reference, null and random over every catalog scenario; returns non-zero if the oracle fails."""
    from envmint.harness import runner
    from envmint.harness.agents.registry import agent_factory
    from envmint.harness.results import RunDirectory
    from envmint.harness.selection import select
    from envmint.harness.summary import summarize
    from envmint.harness.tables import summary_table

    selection = select(scenarios)
    console.print(f"running the reference, null and random agents on {len(selection)} scenarios from {scenarios}/")
    records = []
    with tempfile.TemporaryDirectory(prefix="envmint-demo-") as temp:
        for agent in ("reference", "null", "random"):
            options = runner.RunOptions(agent=agent, concurrency=2)
            started = time.perf_counter()
            run = partial(runner.run, selection, servers, RunDirectory(Path(temp) / agent), options)
            done = anyio.run(run, agent_factory(agent), _no_user)
            console.print(f"  {agent}: {len(done)} episodes in {time.perf_counter() - started:.1f} s")
            records += done
    console.print(summary_table(summarize(records), 1))
    reference = [r for r in records if r.agent == "reference"]
    return 0 if reference and all(r.success for r in reference) else 1


def _no_user(scenario: object) -> None:
    return None


def run_demo(console: Console, servers: Path = Path("mcp_servers"), scenarios: Path = Path("scenarios")) -> int:
    if not console.is_terminal:
        console.width = max(console.width, 132)
    if scenarios.is_dir() and any(scenarios.glob("*/*.json")):
        return run_catalog_demo(console, servers, scenarios)
    console.print("no catalog under scenarios/ yet: showing the runtime on the test fixture instead\n")
    fixture = _fixture()
    with tempfile.TemporaryDirectory(prefix="envmint-demo-") as temp:
        folder = emit(fixture.build_spec(), Path(temp))
        console.print(f"emitted the fixture environment to {folder}/")
        code: int = anyio.run(_drive, folder, console)
    sys.stdout.flush()
    return code
