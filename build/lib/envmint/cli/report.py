"""``envmint report``: a self-contained HTML report of one or more run directories."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from envmint.cli.app import app, console, errors


@app.command()
def report(
    run_dirs: Annotated[list[Path], typer.Argument(help="Run directories (runs/<id>/) to show together.")],
    out: Annotated[Path | None, typer.Option(help="The HTML file (default: <first run>/report.html).")] = None,
) -> None:
    """Write one static HTML file (no server, no network): success chart, check failures, costs, trajectories."""
    from envmint.harness.report import write_report

    try:
        path = write_report(run_dirs, out)
    except (FileNotFoundError, ValueError) as exc:
        errors.print(f"[red]error[/red] {exc}")
        raise typer.Exit(code=1) from None
    console.print(f"report: {path}")
