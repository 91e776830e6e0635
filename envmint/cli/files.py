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


@app.command()
def config(
    client: Annotated[str, typer.Argument(help="claude-code | claude-desktop | mcp-json")],
    env_ids: Annotated[list[str], typer.Argument(metavar="ENV_ID...", help="Servers to configure.")],
    servers: Annotated[Path, typer.Option(help="Servers folder.")] = Path("mcp_servers"),
    python: Annotated[str | None, typer.Option(help="Python with `mcp` installed (default: envmint's).")] = None,
) -> None:
    """Print the configuration (or `claude mcp add` commands) that adds these servers to a client."""
    import sys

    from envmint.clientconfig import render

    if client not in ("claude-code", "claude-desktop", "mcp-json"):
        errors.print("[red]error[/red] the client is claude-code, claude-desktop or mcp-json")
        raise typer.Exit(code=2)
    folders = [servers / env for env in env_ids]
    missing = [f.name for f in folders if not (f / "server.py").is_file()]
    if missing:
        errors.print(f"[red]error[/red] no server for {', '.join(missing)} in {servers}")
        raise typer.Exit(code=1)
    print(render(client, folders, python or sys.executable), end="")  # type: ignore[arg-type]


@app.command()
def bundle(
    env_id: Annotated[str, typer.Argument(help="The server to bundle.")],
    out: Annotated[Path, typer.Option(help="Folder for the .mcpb file.")] = Path("dist"),
    servers: Annotated[Path, typer.Option(help="Servers folder.")] = Path("mcp_servers"),
    deps_from: Annotated[
        Path | None, typer.Option(help="Copy mcp and its dependencies from this site-packages (default: pip install).")
    ] = None,
) -> None:
    """Build an MCP Bundle (.mcpb) of a server, with its runtime and Python dependencies vendored."""
    from envmint.bundle import build

    folder = servers / env_id
    if not (folder / "manifest.json").is_file():
        errors.print(f"[red]error[/red] no server {env_id!r} in {servers}")
        raise typer.Exit(code=1)
    path = build(folder, out, deps_from=deps_from)
    console.print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB)")
