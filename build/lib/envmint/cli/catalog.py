"""``envmint catalog``: what the catalog holds, and (with --quality) how sound it is."""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from envmint.cli.app import app, console, errors


def _pct(value: float | None) -> str:
    return "-" if value is None or math.isnan(value) else f"{100 * value:.0f}%"


@app.command()
def catalog(
    servers: Annotated[Path, typer.Option(help="Servers folder.")] = Path("mcp_servers"),
    scenarios: Annotated[Path, typer.Option(help="Scenarios folder.")] = Path("scenarios"),
    quality: Annotated[bool, typer.Option(help="Re-run the gates and the baseline agents over the catalog.")] = False,
    out: Annotated[Path | None, typer.Option(help="Write the listing (and quality report) as JSON here.")] = None,
) -> None:
    """List the catalog's environments; with --quality, write its quality report."""
    from envmint import catalog as catalog_module

    if not servers.is_dir():
        errors.print(f"[red]error[/red] no servers folder {servers}", highlight=False)
        raise typer.Exit(code=1)
    rows = catalog_module.entries(servers, scenarios)
    table = Table(title=f"{len(rows)} environments in {servers}")
    for column in ("environment", "domain", "tools (q/m)", "entity types", "scenarios (conv.)"):
        table.add_column(column)
    for row in rows:
        table.add_row(
            f"{row.id}\n{row.name}", row.domain, f"{row.tools} ({row.queries}/{row.mutations})",
            str(row.entity_types), f"{row.scenarios} ({row.conversations})",
        )  # fmt: skip
    console.print(table)
    total = sum(r.scenarios for r in rows)
    mean_tools = sum(r.tools for r in rows) / len(rows) if rows else 0
    console.print(f"{total} scenarios; {mean_tools:.1f} tools per environment on average")
    report: dict[str, object] = {"environments": [row.__dict__ for row in rows]}
    if quality:
        with tempfile.TemporaryDirectory(prefix="envmint-catalog-") as work:
            assessed = catalog_module.run_assessment(servers, scenarios, Path(work))
        quality_table = Table(title="Catalog quality")
        for column in ("environment", "sound", "kill rate", "reference", "null", "random", "tool coverage"):
            quality_table.add_column(column)
        for item in assessed:
            quality_table.add_row(
                item.id, f"{item.scenarios_sound}/{item.scenarios_sound + len(item.scenarios_unsound)}",
                _pct(item.kill_rate), _pct(item.success.get("reference")), _pct(item.success.get("null")),
                _pct(item.success.get("random")), _pct(item.tool_coverage),
            )  # fmt: skip
        console.print(quality_table)
        report["quality"] = catalog_module.quality_json(assessed)
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(report, indent=2) + "\n")
        console.print(f"wrote {out}")
