"""Commands that run agents on scenarios: run (and, later, serve, grade, export)."""

from __future__ import annotations

import json
import math
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from envmint.cli.app import app, console, errors
from envmint.harness.selection import select

if TYPE_CHECKING:  # the harness imports the mcp SDK (about a second); commands import it when they run
    from envmint.harness import runner


def _jsonable(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def _user_factory(agent: str, user_model: str | None) -> runner.UserFactory:
    from envmint.harness.agents.registry import BASELINES

    if agent in BASELINES:
        return lambda scenario: None
    from envmint.harness.users import user_factory

    return user_factory(user_model or agent)


@app.command()
def run(
    agent: Annotated[str, typer.Option(help="reference | null | random | anthropic:<model> | openai:<url>#<model>")],
    env: Annotated[list[str] | None, typer.Option("--env", help="Run this environment's scenarios.")] = None,
    scenario_id: Annotated[list[str] | None, typer.Option("--id", help="Run this scenario (env/name).")] = None,
    glob: Annotated[list[str] | None, typer.Option(help="Run scenarios whose path under --scenarios matches.")] = None,
    trials: Annotated[int, typer.Option(min=1, help="Episodes per scenario (for pass@k and pass^k).")] = 1,
    concurrency: Annotated[int, typer.Option(min=1, help="Parallel workers, each with warm servers.")] = 2,
    max_turns: Annotated[int | None, typer.Option(min=1, help="Override each scenario's turn limit.")] = None,
    call_timeout: Annotated[float, typer.Option(help="Seconds one tool call may take.")] = 30.0,
    episode_timeout: Annotated[float, typer.Option(help="Seconds one episode may take.")] = 600.0,
    out: Annotated[Path | None, typer.Option(help="Run directory (default runs/<time>-<agent>).")] = None,
    resume: Annotated[bool, typer.Option(help="Continue the run in --out: only missing or crashed episodes.")] = False,
    summary_json: Annotated[Path | None, typer.Option(help="Also write the summary as JSON here.")] = None,
    user_model: Annotated[str | None, typer.Option(help="Model of the simulated user (default: the agent's).")] = None,
    scenarios: Annotated[Path, typer.Option(help="Scenarios folder.")] = Path("scenarios"),
    servers: Annotated[Path, typer.Option(help="Servers folder.")] = Path("mcp_servers"),
    sandbox: Annotated[bool, typer.Option(help="Run servers in the OS sandbox (off only for debugging).")] = True,
) -> None:
    """Run an agent on scenarios, grade the final states, write runs/<id>/results.jsonl and a summary."""
    import anyio
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from envmint.harness import runner
    from envmint.harness.agents.registry import agent_factory
    from envmint.harness.results import EpisodeRecord, RunDirectory
    from envmint.harness.summary import summarize
    from envmint.harness.tables import summary_table

    try:
        selection = select(scenarios, envs=env or [], ids=scenario_id or [], globs=glob or [])
        factory = agent_factory(agent)
    except (LookupError, ValueError) as exc:
        errors.print(f"[red]error[/red] {exc}")
        raise typer.Exit(code=1) from None
    if not selection:
        errors.print(f"[red]error[/red] no scenarios selected under {scenarios}")
        raise typer.Exit(code=1)
    has_key = any(os.environ.get(name) for name in ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN"))
    if agent.startswith("anthropic") and not has_key:
        errors.print("[red]error[/red] the anthropic agent needs ANTHROPIC_API_KEY (or ANTHROPIC_AUTH_TOKEN) set")
        raise typer.Exit(code=2)
    if resume and out is None:
        errors.print("[red]error[/red] --resume needs --out, the run directory to continue")
        raise typer.Exit(code=1)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    run_dir = RunDirectory(out or Path("runs") / f"{stamp}-{agent.replace(':', '_').replace('/', '_')}")
    options = runner.RunOptions(
        agent=agent, trials=trials, concurrency=concurrency, max_turns=max_turns,
        call_timeout=call_timeout, episode_timeout=episode_timeout, sandboxed=sandbox,
    )  # fmt: skip
    if not resume:
        run_dir.write_manifest(
            {"agent": agent, "trials": trials, "scenarios": [s.scenario.id for s in selection], "started": stamp}
        )
    total = len(selection) * trials
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), console=console
    ) as progress:
        task = progress.add_task(f"{agent}", total=total)
        if resume:
            progress.update(task, completed=len(run_dir.read()))

        def done(record: EpisodeRecord) -> None:
            progress.advance(task)

        try:
            records = anyio.run(
                lambda: runner.run(
                    selection,
                    servers,
                    run_dir,
                    options,
                    factory,
                    _user_factory(agent, user_model),
                    resume=resume,
                    on_done=done,
                )
            )
        except FileExistsError as exc:
            errors.print(f"[red]error[/red] {exc}")
            raise typer.Exit(code=1) from None
    summary = summarize(records, k=trials)
    console.print(summary_table(summary, trials))
    console.print(f"results: {run_dir.results_path}")
    if summary_json:
        summary_json.parent.mkdir(parents=True, exist_ok=True)
        summary_json.write_text(json.dumps(_jsonable(summary), indent=2) + "\n")


def _find_scenario(scenarios: Path, scenario_id: str) -> Any:
    try:
        return select(scenarios, ids=[scenario_id])[0]
    except LookupError as exc:
        errors.print(f"[red]error[/red] {exc} (under {scenarios})")
        raise typer.Exit(code=1) from None


def _print_grade(grade: Any) -> None:
    for check in grade.verdicts:
        colour = {"pass": "green", "fail": "red"}.get(check.verdict.value, "yellow")
        detail = f" ({check.detail})" if check.detail else ""
        errors.print(f"[{colour}]{check.verdict.value:5}[/{colour}] {check.check_id}{detail}", highlight=False)
    verdict = "[green]success[/green]" if grade.success else "[red]not solved[/red]"
    errors.print(f"{grade.scenario}: {verdict}", highlight=False)


@app.command()
def serve(
    scenario_id: Annotated[str, typer.Argument(help="The scenario to play, e.g. library_desk/return_and_settle.")],
    transport: Annotated[str, typer.Option(help="stdio (for Claude Code, Desktop, Cursor) or http.")] = "stdio",
    port: Annotated[int, typer.Option(help="HTTP port (with --transport http).")] = 8000,
    out: Annotated[Path | None, typer.Option(help="Where final_state.json and verdict.json go.")] = None,
    scenarios: Annotated[Path, typer.Option(help="Scenarios folder.")] = Path("scenarios"),
    servers: Annotated[Path, typer.Option(help="Servers folder.")] = Path("mcp_servers"),
    sandbox: Annotated[bool, typer.Option(help="Run the server in the OS sandbox.")] = True,
) -> None:
    """Expose one scenario as an MCP server for any MCP client, and grade it when the client is done."""
    from envmint.harness.serve import serve as serve_scenario

    if transport not in ("stdio", "http"):
        errors.print("[red]error[/red] --transport is stdio or http")
        raise typer.Exit(code=2)
    chosen = _find_scenario(scenarios, scenario_id)
    folder = servers / chosen.scenario.env_id
    out = out or Path("runs") / "serve" / scenario_id.replace("/", "__")
    errors.print(f"serving {scenario_id} over {transport}; verdict will be written to {out}/verdict.json")
    grade = serve_scenario(chosen.scenario, chosen.path, folder, out, transport=transport, port=port, sandboxed=sandbox)
    if grade is None:
        errors.print("[red]error[/red] the server did not start; nothing to grade")
        raise typer.Exit(code=1)
    _print_grade(grade)


@app.command()
def grade(
    scenario_id: Annotated[str, typer.Argument(help="The scenario whose checks to apply.")],
    state: Annotated[Path, typer.Option(help="The final state to grade (e.g. runs/serve/.../final_state.json).")],
    out: Annotated[Path | None, typer.Option(help="Write the verdict as JSON here.")] = None,
    scenarios: Annotated[Path, typer.Option(help="Scenarios folder.")] = Path("scenarios"),
) -> None:
    """Grade a final state against a scenario's checks (in the sandbox). Exit 0 on success, 1 otherwise."""
    from envmint.harness.serve import grade_state

    chosen = _find_scenario(scenarios, scenario_id)
    try:
        final_state = json.loads(state.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        errors.print(f"[red]error[/red] cannot read {state}: {exc}")
        raise typer.Exit(code=2) from None
    result = grade_state(chosen.scenario, final_state)
    _print_grade(result)
    if out:
        out.write_text(json.dumps(result.as_json(), indent=2) + "\n", encoding="utf-8")
    raise typer.Exit(code=0 if result.success else 1)
