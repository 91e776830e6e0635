"""Commands on contract files: emit, validate, schema; and the demo."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from envmint.cli.app import app, console, errors
from envmint.contract import ContractError, EnvironmentSpec, Scenario, load_environment_spec, parse_model
from envmint.contract import schemas as published
from envmint.contract.io import read_json


def _report(exc: ContractError) -> None:
    for where, what in exc.problems:
        errors.print(f"[red]error[/red] {exc.path}: {where}: {what}", highlight=False)


def _contract_failure(exc: ContractError) -> typer.Exit:
    _report(exc)
    return typer.Exit(code=1)


@app.command()
def emit(
    spec_path: Annotated[Path, typer.Argument(metavar="SPEC.json", help="An EnvironmentSpec file.")],
    out: Annotated[Path, typer.Option(help="Folder that receives <env_id>/ (and _runtime/ if missing).")] = Path(
        "mcp_servers"
    ),
) -> None:
    """Write the standalone MCP server folder for an environment spec."""
    from envmint.emit import emit as emit_folder

    try:
        spec = load_environment_spec(spec_path)
    except ContractError as exc:
        raise _contract_failure(exc) from None
    folder = emit_folder(spec, out)
    console.print(f"wrote {folder}/ ({len(spec.tools)} tools). Run it: python {folder}/server.py --help")


@app.command()
def validate(
    paths: Annotated[list[Path], typer.Argument(help="EnvironmentSpec or Scenario JSON files.")],
) -> None:
    """Check contract files; report every problem with its file and JSON path."""
    failed = False
    for path in paths:
        try:
            data = read_json(path)
            model = Scenario if isinstance(data, dict) and "env_id" in data else EnvironmentSpec
            parse_model(model, data, path)
            console.print(f"[green]ok[/green] {path} ({model.__name__})", highlight=False)
        except ContractError as exc:
            failed = True
            _report(exc)
    if failed:
        raise typer.Exit(code=1)


@app.command()
def schema(
    out: Annotated[Path, typer.Option(help="Where to write the JSON Schemas.")] = published.SCHEMA_DIR,
) -> None:
    """Write the published JSON Schemas of the contract."""
    for path in published.write_all(out):
        console.print(f"wrote {path}")


@app.command()
def demo() -> None:
    """Emit the test fixture environment and drive it over stdio with a scripted client."""
    from envmint.demo import run_demo

    raise typer.Exit(code=run_demo(console))
