"""``envmint export``: turning a run's episodes into training data."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from envmint.cli.app import app, console, errors

export_app = typer.Typer(help="Export a run's episodes as training data.", no_args_is_help=True)
app.add_typer(export_app, name="export")


@export_app.command()
def sft(
    run_dir: Annotated[Path, typer.Argument(metavar="RUN_DIR", help="A run directory (holding results.jsonl).")],
    out: Annotated[Path | None, typer.Option(help="Output JSONL file (default RUN_DIR/sft.jsonl).")] = None,
    only_success: Annotated[
        bool, typer.Option("--only-success", help="Keep only episodes whose checks all passed.")
    ] = False,
    min_reward: Annotated[float | None, typer.Option(help="Keep only episodes with at least this reward.")] = None,
    metadata: Annotated[
        bool, typer.Option(help="Add a metadata key per line (leave it out for OpenAI's upload, which rejects it).")
    ] = True,
) -> None:
    """Write the run's ok episodes as chat fine-tuning examples (OpenAI format with tools), one per line."""
    from envmint.harness.export import ExportOptions, export_sft

    options = ExportOptions(only_success=only_success, min_reward=min_reward, metadata=metadata)
    try:
        report = export_sft(run_dir, out, options)
    except FileNotFoundError as exc:
        errors.print(f"[red]error[/red] {exc}", highlight=False)
        raise typer.Exit(code=1) from None
    if report.skipped:
        errors.print(report.skipped_summary(), highlight=False, soft_wrap=True)
    console.print(f"wrote {report.written} examples to {report.path}", highlight=False, soft_wrap=True)
