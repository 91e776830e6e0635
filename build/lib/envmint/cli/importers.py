"""``envmint import``: classes and seed-format environments as MCP servers and scenarios."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import anyio
import typer

from envmint.cli.app import app, console, errors
from envmint.importers import ImportReport, import_class_file, import_envscaler
from envmint.importers.classes import ImportError_
from envmint.importers.snapshots import SnapshotError

import_app = typer.Typer(help="Import environments written elsewhere as MCP servers.", no_args_is_help=True)
app.add_typer(import_app, name="import")


def module_file(name: str) -> Path | None:
    """The source file of a module, found on the path without importing (so no code runs here)."""
    if name.endswith(".py") or "/" in name:
        return Path(name) if Path(name).is_file() else None
    parts = name.split(".")
    for root in [Path.cwd(), *(Path(p) for p in sys.path if p)]:
        for candidate in (root.joinpath(*parts).with_suffix(".py"), root.joinpath(*parts, "__init__.py")):
            if candidate.is_file():
                return candidate
    return None


def _read_json(path: Path) -> object:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        errors.print(f"[red]error[/red] {path}: {exc}", highlight=False)
        raise typer.Exit(code=1) from None


def _print(report: ImportReport) -> None:
    for env_id in report.environments:
        console.print(f"server {env_id}", highlight=False)
        for name, reason in sorted(report.skipped_tools.get(env_id, {}).items()):
            console.print(f"  skipped method {name}: {reason}", highlight=False, soft_wrap=True)
        for note in report.notes.get(env_id, []):
            console.print(f"  note {note}", highlight=False, soft_wrap=True)
    graded = len(report.scenarios) - len(report.ungraded)
    if report.scenarios:
        console.print(f"{len(report.scenarios)} scenarios written ({graded} graded)", highlight=False)
    for scenario_id in report.ungraded:
        console.print(f"  ungraded (no checks): {scenario_id}", highlight=False)
    for scenario_id in report.ungated:
        console.print(f"  not gated (no ground-truth calls): {scenario_id}", highlight=False)
    for what, problems in sorted(report.failed.items()):
        errors.print(f"[yellow]failed[/yellow] {what}: " + "; ".join(problems), highlight=False, soft_wrap=True)


@import_app.command("class")
def import_class(
    target: Annotated[
        str, typer.Argument(metavar="MODULE:CLASS", help="An importable module (or a PATH.py file) and its class.")
    ],
    state: Annotated[Path | None, typer.Option(help="JSON object: attribute values, or the --init argument.")] = None,
    init: Annotated[str | None, typer.Option(help="A method that loads the state, e.g. load_scenario.")] = None,
    env_id: Annotated[
        str | None, typer.Option("--id", help="The environment id (default: from the class name).")
    ] = None,
    out: Annotated[Path, typer.Option(help="The servers directory.")] = Path("mcp_servers"),
) -> None:
    """Wrap a plain class (public methods = tools, public attributes = state); nothing is imported here."""
    file_name, _, class_name = target.rpartition(":")
    if not file_name or not class_name:
        errors.print("[red]error[/red] give the class as MODULE:CLASS or PATH.py:CLASS", highlight=False)
        raise typer.Exit(code=2)
    located = module_file(file_name)
    if located is None:
        errors.print(f"[red]error[/red] no module or file {file_name!r} on the Python path", highlight=False)
        raise typer.Exit(code=2)
    file_name = str(located)
    initial = _read_json(state) if state else None
    if initial is not None and not isinstance(initial, dict):
        errors.print("[red]error[/red] --state must hold a JSON object", highlight=False)
        raise typer.Exit(code=2)

    async def run() -> ImportReport:
        _, report = await import_class_file(Path(file_name), class_name, out, state=initial, init=init, env_id=env_id)
        return report

    try:
        report = anyio.run(run)
    except (OSError, ValueError, ImportError_, SnapshotError) as exc:
        errors.print(f"[red]error[/red] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(code=1) from None
    _print(report)


@import_app.command("envscaler")
def import_seed(
    metadata: Annotated[Path, typer.Argument(metavar="ENV_METADATA.json")],
    scenario_files: Annotated[list[Path] | None, typer.Argument(metavar="[SCENARIOS.json ...]")] = None,
    out: Annotated[Path, typer.Option(help="The servers directory.")] = Path("mcp_servers"),
    scenarios: Annotated[Path, typer.Option(help="The scenarios directory.")] = Path("scenarios"),
    keep_unsound: Annotated[bool, typer.Option(help="Also write scenarios that fail a soundness gate.")] = False,
    calls: Annotated[
        Path | None, typer.Option(help="JSON object: task_id -> ground-truth calls [{name, arguments}].")
    ] = None,
) -> None:
    """Convert seed-format environments (and scenarios) into server folders and scenario files."""
    data = _read_json(metadata)
    scenario_data = [_read_json(path) for path in scenario_files or []]
    by_task = _read_json(calls) if calls else None
    if by_task is not None and not isinstance(by_task, dict):
        errors.print("[red]error[/red] --calls must hold a JSON object keyed by task_id", highlight=False)
        raise typer.Exit(code=2)

    async def run() -> ImportReport:
        return await import_envscaler(data, scenario_data, out, scenarios, keep_unsound=keep_unsound, calls=by_task)

    try:
        report = anyio.run(run)
    except (ValueError, SnapshotError) as exc:
        errors.print(f"[red]error[/red] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(code=1) from None
    _print(report)
    if report.failed:
        raise typer.Exit(code=1)
