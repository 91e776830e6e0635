"""``envmint run``: episodes of (scenario, agent, trial) on warm servers, graded, written as they finish."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
from anyio.abc import TaskGroup
from mcp.shared.exceptions import MCPError

from envmint import sandbox
from envmint.contract import Scenario
from envmint.grading import Verdict, grade_checks, reward
from envmint.harness.agents.registry import AgentFactory
from envmint.harness.diff import state_diff
from envmint.harness.episode import EpisodeContext, EpisodeOver, UserSimulator
from envmint.harness.prompts import system_prompt
from envmint.harness.results import (
    RERUN_ON_RESUME,
    CheckRecord,
    EpisodeRecord,
    RunDirectory,
    Status,
    episode_key,
)
from envmint.harness.schedule import Scheduler
from envmint.harness.selection import Selected
from envmint.harness.servers import WarmServer

UserFactory = Callable[[Scenario], UserSimulator | None]
CONNECTION_CLOSED = -32000
REQUEST_TIMEOUT = -32001
SERVER_GONE = (anyio.ClosedResourceError, anyio.BrokenResourceError, anyio.EndOfStream, BrokenPipeError, OSError)


@dataclass
class RunOptions:
    agent: str
    trials: int = 1
    concurrency: int = 2
    max_turns: int | None = None
    call_timeout: float = 30.0
    episode_timeout: float = 600.0
    sandboxed: bool = True


@dataclass(frozen=True)
class Job:
    selected: Selected
    trial: int
    key: str


@dataclass
class Worker:
    servers_dir: Path
    options: RunOptions
    group: TaskGroup
    servers: dict[str, WarmServer] = field(default_factory=dict)

    def server(self, env_id: str) -> WarmServer:
        if env_id not in self.servers:
            folder = self.servers_dir / env_id
            if not (folder / "server.py").is_file():
                raise FileNotFoundError(f"no server for environment {env_id!r} in {self.servers_dir}")
            self.servers[env_id] = WarmServer(
                env_id, folder, self.group, call_timeout=self.options.call_timeout, sandboxed=self.options.sandboxed
            )
        return self.servers[env_id]

    async def release(self, env_id: str) -> None:
        server = self.servers.pop(env_id, None)
        if server is not None:
            await server.stop()

    async def close(self) -> None:
        for server in self.servers.values():
            await server.stop()


class _SetupFailed(Exception):
    """The episode could not start: no agent, or no server for its environment."""

    def __init__(self, status: Status, message: str) -> None:
        super().__init__(message)
        self.status: Status = status
        self.message = message


def _is_server_failure(exc: BaseException) -> bool:
    if isinstance(exc, MCPError):
        return exc.code == CONNECTION_CLOSED
    return isinstance(exc, SERVER_GONE)


async def play(
    job: Job,
    worker: Worker,
    agent_factory: AgentFactory,
    user_factory: UserFactory,
    run_dir: RunDirectory,
) -> EpisodeRecord:
    """Play and grade one episode. Never raises for an episode-level failure: it is a status."""
    scenario, options = job.selected.scenario, worker.options
    started = time.perf_counter()
    status: Status = "ok"
    error = ""
    ctx: EpisodeContext | None = None
    final: dict[str, Any] | None = None
    server: WarmServer | None = None
    try:
        # Setting up is part of the episode: a failure here is this episode's status, not the run's.
        try:
            agent = agent_factory(scenario, job.trial)
        except Exception as exc:
            raise _SetupFailed("agent_error", f"could not create the agent: {type(exc).__name__}: {exc}") from exc
        try:
            server = worker.server(scenario.env_id)
        except Exception as exc:
            raise _SetupFailed("server_crashed", f"no server: {type(exc).__name__}: {exc}") from exc
        await server.prepare(scenario.id, scenario.initial_state, scenario.now, scenario.seed)
        user = user_factory(scenario) if scenario.kind == "conversation" else None
        ctx = EpisodeContext(
            instructions=scenario.instructions,
            tools=server.tools,
            kind=scenario.kind,
            max_turns=options.max_turns or scenario.max_turns,
            caller=server.call,
            user=user,
            system_prompt=system_prompt(scenario, server.instructions),
        )
        opening = await user.opening() if user is not None else _opening(scenario)
        ctx.messages += [{"role": "system", "content": ctx.system_prompt}, {"role": "user", "content": opening}]
        with anyio.fail_after(options.episode_timeout):
            with contextlib.suppress(EpisodeOver):
                await agent.run(ctx)
        final = await server.state()
    except _SetupFailed as exc:
        status, error = exc.status, exc.message[:500]
    except TimeoutError:
        status, error = "timeout", f"episode exceeded {options.episode_timeout:g} s"
    except MCPError as exc:
        if exc.code == REQUEST_TIMEOUT:
            status, error = "timeout", f"a tool call exceeded {options.call_timeout:g} s"
        elif _is_server_failure(exc):
            status, error = "server_crashed", f"server connection lost: {exc.error.message}"
        else:
            status, error = "agent_error", f"protocol error {exc.code}: {exc.error.message}"
    except Exception as exc:
        if _is_server_failure(exc):
            status, error = "server_crashed", f"server connection lost ({type(exc).__name__})"
        else:
            status, error = "agent_error", f"{type(exc).__name__}: {exc}"[:500]
    if server is None:
        pass  # the episode never got a server: nothing to stop, no state to grade
    elif status in ("timeout", "server_crashed"):
        await server.stop()
    elif status == "agent_error" and final is None:
        final = await _try_state(server)

    checks: list[CheckRecord] = []
    if final is not None and scenario.checks:
        verdicts = await grade_checks(scenario.checks, scenario.initial_state, final)
        checks = [CheckRecord(id=v.check_id, verdict=v.verdict.value, detail=v.detail) for v in verdicts]
        if status == "ok" and any(v.verdict is Verdict.ERROR for v in verdicts):
            status = "validator_error"
        score = reward(verdicts)
    else:
        score = 0.0
    usage = ctx.usage if ctx else None
    user_usage = ctx.user.usage if ctx and ctx.user else None
    trajectory = ""
    if ctx is not None:
        trajectory = run_dir.save_trajectory(
            job.key,
            {
                "episode": job.key,
                "scenario": scenario.id,
                "agent": options.agent,
                "trial": job.trial,
                "status": status,
                "tools": ctx.tool_specs_openai(),
                "messages": ctx.messages,
                "state_diff": state_diff(scenario.initial_state, final) if final is not None else [],
                "checks": [c.model_dump() for c in checks],
            },
        )
    return EpisodeRecord(
        episode=job.key,
        scenario=scenario.id,
        env=scenario.env_id,
        kind=scenario.kind,
        agent=options.agent,
        trial=job.trial,
        status=status,
        graded=scenario.graded,
        checks=checks,
        success=bool(checks) and all(c.verdict == "pass" for c in checks),
        reward=round(score, 6),
        turns=ctx.turns if ctx else 0,
        tool_calls=ctx.tool_calls if ctx else 0,
        input_tokens=(usage.input_tokens if usage else 0) + (user_usage.input_tokens if user_usage else 0),
        output_tokens=(usage.output_tokens if usage else 0) + (user_usage.output_tokens if user_usage else 0),
        cost_usd=round((usage.cost_usd if usage else 0.0) + (user_usage.cost_usd if user_usage else 0.0), 6),
        duration_s=round(time.perf_counter() - started, 4),
        error=error,
        trajectory=trajectory,
        sandbox=sandbox.sandbox_mode() if options.sandboxed else "off",
    )


async def _try_state(server: WarmServer) -> dict[str, Any] | None:
    try:
        return await server.state()
    except Exception:
        await server.stop()
        return None


def _opening(scenario: Scenario) -> str:
    if scenario.kind == "conversation" and scenario.user is not None:
        return scenario.user.goal
    return scenario.instructions


def plan(selection: Sequence[Selected], agent: str, trials: int) -> list[Job]:
    return [
        Job(item, trial, episode_key(item.scenario.id, agent, trial)) for item in selection for trial in range(trials)
    ]


async def run(
    selection: Sequence[Selected],
    servers_dir: Path,
    run_dir: RunDirectory,
    options: RunOptions,
    agent_factory: AgentFactory,
    user_factory: UserFactory,
    *,
    resume: bool = False,
    on_done: Callable[[EpisodeRecord], None] | None = None,
) -> list[EpisodeRecord]:
    """Run every planned episode not already in the run directory; return all of the run's records."""
    if resume:
        finished = {r.episode for r in run_dir.repair(drop=RERUN_ON_RESUME)}
    else:
        if run_dir.read():
            raise FileExistsError(f"{run_dir.root} already holds results; pass --resume to continue that run")
        finished = set()
    jobs = [job for job in plan(selection, options.agent, options.trials) if job.key not in finished]
    scheduler = Scheduler(jobs, lambda job: job.selected.scenario.env_id)

    async def work() -> None:
        async with anyio.create_task_group() as servers:
            worker = Worker(servers_dir, options, servers)
            env: str | None = None
            try:
                while (handed := scheduler.next(env)) is not None:
                    if env is not None and handed[0] != env:
                        await worker.release(env)  # its jobs are done: free the server
                    env, job = handed
                    record = await play(job, worker, agent_factory, user_factory, run_dir)
                    run_dir.append(record)
                    if on_done is not None:
                        on_done(record)
            finally:
                await worker.close()

    async with anyio.create_task_group() as group:
        for _ in range(max(1, min(options.concurrency, len(jobs)))):
            group.start_soon(work)
    return run_dir.repair()
