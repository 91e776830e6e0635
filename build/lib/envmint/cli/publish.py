"""Commands that put servers in users' hands: client configuration, bundles and registry entries."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from envmint.cli.app import app, console, errors

CLIENTS = ("claude-code", "claude-desktop", "mcp-json")


def _folders(servers: Path, env_ids: list[str], every: bool = False) -> list[Path]:
    if every:
        env_ids = sorted(p.name for p in servers.iterdir() if (p / "server.py").is_file()) if servers.is_dir() else []
    if not env_ids:
        errors.print("[red]error[/red] name at least one ENV_ID (or pass --all)")
        raise typer.Exit(code=2)
    folders = [servers / env for env in env_ids]
    missing = [f.name for f in folders if not (f / "server.py").is_file() or not (f / "manifest.json").is_file()]
    if missing:
        errors.print(f"[red]error[/red] no server for {', '.join(missing)} in {servers}", highlight=False)
        raise typer.Exit(code=1)
    return folders


@app.command()
def config(
    client: Annotated[str, typer.Argument(help="claude-code | claude-desktop | mcp-json")],
    env_ids: Annotated[list[str], typer.Argument(metavar="ENV_ID...", help="Servers to configure.")],
    servers: Annotated[Path, typer.Option(help="Servers folder.")] = Path("mcp_servers"),
    python: Annotated[str | None, typer.Option(help="Python with `mcp` installed (default: envmint's).")] = None,
) -> None:
    """Print the configuration (or `claude mcp add` commands) that adds these servers to a client."""
    from envmint.publish.clientconfig import render

    if client not in CLIENTS:
        errors.print(f"[red]error[/red] the client is one of {', '.join(CLIENTS)}")
        raise typer.Exit(code=2)
    print(render(client, _folders(servers, env_ids), python or sys.executable), end="")  # type: ignore[arg-type]


@app.command()
def bundle(
    env_ids: Annotated[list[str] | None, typer.Argument(metavar="ENV_ID...", help="Servers to bundle.")] = None,
    every: Annotated[bool, typer.Option("--all", help="Bundle every server in the servers folder.")] = False,
    out: Annotated[Path, typer.Option(help="Folder for the .mcpb and .server.json files.")] = Path("dist"),
    servers: Annotated[Path, typer.Option(help="Servers folder.")] = Path("mcp_servers"),
    namespace: Annotated[
        str, typer.Option(help="MCP Registry namespace you own, e.g. io.github.<your GitHub user>.")
    ] = "io.github.envmint",
    release_url: Annotated[
        str | None,
        typer.Option(help="HTTPS folder the .mcpb files will be downloadable from (e.g. a GitHub release)."),
    ] = None,
    repository: Annotated[str | None, typer.Option(help="Source repository URL for the registry entry.")] = None,
    deps_from: Annotated[
        Path | None, typer.Option(help="Copy mcp and its dependencies from this site-packages (default: pip install).")
    ] = None,
) -> None:
    """Build an MCP Bundle (.mcpb) of each server, with its runtime and Python dependencies vendored, and the
    MCP Registry entry (server.json) that publishes it."""
    from envmint.publish.bundle import build, bundle_name
    from envmint.publish.registry import problems, server_entry, write_entry

    folders = _folders(servers, env_ids or [], every)
    if deps_from is not None and not (deps_from / "mcp").is_dir():
        errors.print(f"[red]error[/red] --deps-from {deps_from} is not a site-packages folder holding mcp")
        raise typer.Exit(code=2)
    options: dict[str, Any] = {"namespace": namespace, "release_url": release_url, "repository": repository}
    for folder in folders:  # refuse before spending time on any bundle
        found = problems(server_entry(folder, bundle_name=bundle_name(folder), bundle_sha256="0" * 64, **options))
        if found:
            reason = "the MCP Registry would reject its server.json:"
            errors.print(f"[red]error[/red] {folder.name}: {reason}", highlight=False)
            for problem in found:
                errors.print(f"  {problem}", highlight=False, markup=False)
            raise typer.Exit(code=1)
    for folder in folders:
        try:
            path = build(folder, out, deps_from=deps_from)
        except (OSError, subprocess.CalledProcessError) as exc:
            errors.print(f"[red]error[/red] {folder.name}: the bundle could not be built: {exc}", highlight=False)
            raise typer.Exit(code=1) from None
        entry = write_entry(folder, path, **options)
        console.print(
            f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB) and {entry.name}", highlight=False, soft_wrap=True
        )
