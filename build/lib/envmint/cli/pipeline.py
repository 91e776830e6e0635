"""Commands of the synthesis pipeline: synthesize, scenarios, inbox."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any

import anyio
import typer
from rich.markup import escape
from rich.table import Table

from envmint.cli.app import app, console, errors
from envmint.llm.retry import StatusError

LLM_HELP = "anthropic[:<model>] | openai:<url>#<model> | replay:<dir> | inbox:<dir>"


def _model_label(backend: Any, recording: Any) -> str:
    """The model named in provenance. A replay names the model that made the recording."""
    from generator.llm.replay import ReplayBackend

    if isinstance(backend, ReplayBackend):
        counts = Counter(exchange.response.model for exchange in backend.recording)
        return min(counts, key=lambda m: (-counts[m], m)) if counts else "replay"
    if backend.name.startswith("inbox"):
        return "inbox"
    return str(getattr(backend, "model", backend.name))


class _Progress:
    """Wraps a backend to show each answered prompt on standard error as the run goes."""

    def __init__(self, backend: Any) -> None:
        self.backend = backend
        self.name = backend.name
        self.done = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.backend, name)

    async def complete(self, request: Any) -> Any:
        response = await self.backend.complete(request)
        self.done += 1
        where = request.env + (f"/{request.scenario}" if request.scenario else "")
        errors.print(f"[dim]model call {self.done}: {request.stage} ({where}) answered[/dim]", highlight=False)
        return response


def _context(llm_spec: str, recording_dir: Path, concurrency: int, rpm: float | None = None) -> Any:
    from generator.llm.backends import parse_backend
    from generator.llm.client import LLM
    from generator.llm.recording import Recording
    from generator.stages.common import Context

    try:
        backend = parse_backend(llm_spec, recording_dir=recording_dir)
    except (ValueError, OSError) as exc:
        errors.print(f"[red]error[/red] {escape(str(exc))}", highlight=False)
        raise typer.Exit(code=2) from None
    recording = None if llm_spec.startswith("replay") else Recording(recording_dir)
    label = _model_label(backend, getattr(backend, "recording", recording))
    wrapped = backend if llm_spec.startswith("replay") else _Progress(backend)
    llm = LLM(wrapped, recording=recording, concurrency=concurrency, requests_per_minute=rpm)
    return Context(llm=llm, model=label)


def _leaves(exc: BaseException) -> list[BaseException]:
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for inner in exc.exceptions for leaf in _leaves(inner)]
    return [exc]


def _run(go: Callable[[], Awaitable[None]]) -> None:
    """Run a pipeline coroutine; a model backend that cannot answer is an error message, not a traceback."""
    from generator.llm.client import RepairExhausted
    from generator.llm.inbox import InboxTimeout
    from generator.llm.recording import RecordingError
    from generator.llm.replay import MissingExchange

    expected = (MissingExchange, InboxTimeout, RecordingError, RepairExhausted, StatusError)
    try:
        anyio.run(go)
    except BaseException as exc:
        leaves = _leaves(exc)
        if not all(isinstance(leaf, expected) for leaf in leaves):
            raise
        for leaf in leaves:
            errors.print(f"[red]error[/red] {escape(str(leaf))}", highlight=False)
        raise typer.Exit(code=1) from None


def _finish(ctx: Any, report_path: Path | None) -> None:
    report = ctx.report.to_json()
    report["model_calls"] = ctx.llm.model_calls
    report["recorded_answers_used"] = ctx.llm.cache_hits
    report["cost"] = ctx.llm.ledger.to_json()
    table = Table(title="Pipeline report")
    table.add_column("gate")
    table.add_column("passed", justify="right")
    table.add_column("failed", justify="right")
    table.add_column("pass rate", justify="right")
    for name, tally in report["gates"].items():
        rate = "-" if tally["pass_rate"] is None else f"{100 * tally['pass_rate']:.0f}%"
        table.add_row(name, str(tally["passed"]), str(tally["failed"]), rate)
    console.print(table)
    console.print(f"produced: {report['produced']}  repairs: {report['repairs']}")
    for drop in report["drops"]:
        console.print(
            f"[yellow]dropped[/yellow] {drop['what']} at {drop['stage']}: {drop['reason'][:200]}", highlight=False
        )
    console.print(ctx.llm.ledger.table())
    console.print(f"model calls: {ctx.llm.model_calls}; recorded answers reused: {ctx.llm.cache_hits}")
    if report_path:
        report_path.parent.mkdir(parents=True, exist_ok=True)
        report_path.write_text(json.dumps(report, indent=2, default=str) + "\n")


@app.command()
def synthesize(
    llm: Annotated[str, typer.Option(help=LLM_HELP)],
    from_tasks: Annotated[Path | None, typer.Option(help="Mine topics from a task corpus (JSONL with `task`).")] = None,
    topic: Annotated[list[str] | None, typer.Option(help="Synthesize this topic (repeatable).")] = None,
    count: Annotated[int, typer.Option(min=1, help="How many environments to synthesize from mined topics.")] = 8,
    servers: Annotated[Path, typer.Option(help="Where environments are emitted.")] = Path("mcp_servers"),
    recording: Annotated[Path, typer.Option(help="Where model exchanges are recorded.")] = Path("recordings"),
    concurrency: Annotated[int, typer.Option(min=1, help="Model calls in flight at once.")] = 8,
    rpm: Annotated[float | None, typer.Option(help="At most this many model requests per minute.")] = None,
    report: Annotated[Path | None, typer.Option(help="Also write the report as JSON here.")] = None,
) -> None:
    """Synthesize environments (topic -> state and rules -> tools -> code -> tests and repairs) into mcp_servers/."""
    from generator import pipeline
    from generator.stages import topics as topic_stage

    if bool(from_tasks) == bool(topic):
        errors.print("[red]error[/red] give either --from-tasks FILE or --topic TEXT")
        raise typer.Exit(code=2)
    if from_tasks is not None and not from_tasks.is_file():
        errors.print(f"[red]error[/red] no task corpus at {from_tasks}", highlight=False)
        raise typer.Exit(code=2)
    try:
        tasks = topic_stage.read_tasks(from_tasks) if from_tasks else []
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        errors.print(f"[red]error[/red] {escape(str(exc))}", highlight=False)
        raise typer.Exit(code=2) from None
    ctx = _context(llm, recording, concurrency, rpm)

    async def go() -> None:
        if from_tasks:
            mined = await topic_stage.mine(ctx, tasks)
            chosen = topic_stage.select_diverse(mined, count)
            ctx.report.notes["chosen_topics"] = [f"{t.name} ({t.domain})" for t in chosen]
        else:
            chosen = [topic_stage.Topic(name=t) for t in topic or []]
        specs = await pipeline.environments(ctx, chosen, servers)
        ctx.report.notes["environments"] = sorted(s.id for s in specs)

    _run(go)
    _finish(ctx, report)


@app.command()
def scenarios(
    env_ids: Annotated[list[str], typer.Argument(metavar="ENV_ID...", help="Environments in --servers.")],
    llm: Annotated[str, typer.Option(help=LLM_HELP)],
    count: Annotated[int, typer.Option(min=1, help="Scenarios per environment.")] = 10,
    servers: Annotated[Path, typer.Option(help="Where the environments are.")] = Path("mcp_servers"),
    scenarios_dir: Annotated[Path, typer.Option("--scenarios", help="Where scenarios are written.")] = Path(
        "scenarios"
    ),
    recording: Annotated[Path, typer.Option(help="Where model exchanges are recorded.")] = Path("recordings"),
    concurrency: Annotated[int, typer.Option(min=1, help="Model calls in flight at once.")] = 8,
    rpm: Annotated[float | None, typer.Option(help="At most this many model requests per minute.")] = None,
    report: Annotated[Path | None, typer.Option(help="Also write the report as JSON here.")] = None,
) -> None:
    """Write sound scenarios (state, task or conversation, validators, reference solution) into scenarios/."""
    from envmint.contract import ContractError, load_environment_spec
    from generator import pipeline

    ctx = _context(llm, recording, concurrency, rpm)
    try:
        specs = [load_environment_spec(servers / env / "spec.json") for env in env_ids]
    except ContractError as exc:
        errors.print(f"[red]error[/red] {exc}")
        raise typer.Exit(code=1) from None

    async def go() -> None:
        async with anyio.create_task_group() as group:
            for spec in specs:
                group.start_soon(pipeline.environment_scenarios, ctx, spec, scenarios_dir, count)

    _run(go)
    _finish(ctx, report)


@app.command()
def inbox(folder: Annotated[Path, typer.Argument(help="The inbox folder of an `--llm inbox:<dir>` run.")]) -> None:
    """List the prompts waiting for an answer in an inbox folder."""
    from generator.llm.inbox import inbox_status

    pending = inbox_status(folder)
    if not pending:
        console.print("nothing is waiting")
        return
    table = Table(title=f"{len(pending)} prompt(s) waiting in {folder}")
    for column in ("stage", "environment", "scenario", "prompt file", "answer file"):
        table.add_column(column, overflow="fold")
    for item in pending:
        table.add_row(item.stage, item.env, item.scenario, str(item.prompt), str(item.answer))
    console.print(table)
