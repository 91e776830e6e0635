"""Environments for RL loops: ``reset`` / ``step`` / ``finish`` on the warm servers ``envmint run`` uses.

::

    async with EnvPool(Path("mcp_servers"), Path("scenarios"), slots=4) as pool:
        obs = await pool.reset("library_desk/return_and_settle")
        result = await pool.step(obs.session, "search_members", {"query": "Ada"})
        reward = await pool.finish(obs.session)

Concurrency model. The pool lives in one event loop and owns a task group holding its servers.
Each environment has ``slots`` server processes at most (each sandboxed, started on first use and
kept warm); a session holds one of them, alone, from ``reset`` until ``finish`` or ``close``. So up
to ``slots`` sessions per environment, and any number across environments, run at once; a
``reset`` beyond that waits (at most ``acquire_timeout`` seconds) for a session of that environment
to end. Steps of one session run one after another (a lock orders them); run sessions
concurrently, not steps within a session. ``reset`` loads the scenario's initial state (a fast
journal reset when the server last held the same scenario), so no write of an earlier session
leaks into the next.

Tool errors and protocol errors for unknown tools or bad arguments are observations
(``is_error``), never exceptions. A broken server (it died, or a call timed out) ends the session:
``step`` raises (:class:`ServerCrashed` when the server is gone, ``TimeoutError`` for a call
that hangs) and the server is restarted for the next ``reset``. Grading reads the final state
through the hidden control channel and runs the scenario's checks in the sandbox
(:func:`envmint.grading.grade_checks`).
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import anyio
from anyio.abc import TaskGroup
from mcp.shared.exceptions import MCPError

from envmint.contract import Scenario
from envmint.grading import CheckVerdict, all_passed, grade_checks, reward
from envmint.harness.episode import EpisodeContext
from envmint.harness.prompts import system_prompt
from envmint.harness.runner import REQUEST_TIMEOUT, _is_server_failure, _opening
from envmint.harness.selection import select
from envmint.harness.servers import ServerCrashed, WarmServer


@dataclass(frozen=True)
class Observation:
    """What an agent starts an episode with. Equal observations mean equal starts (sessions aside)."""

    session: Session = field(compare=False, repr=False)
    scenario_id: str
    kind: str
    instructions: str
    system_prompt: str
    user_message: str
    tools: list[dict[str, Any]]
    """The tools in the OpenAI ``tools`` format."""
    max_turns: int

    @property
    def messages(self) -> list[dict[str, Any]]:
        """The opening of the conversation in the OpenAI chat format: system, then user."""
        return [{"role": "system", "content": self.system_prompt}, {"role": "user", "content": self.user_message}]


@dataclass(frozen=True)
class StepResult:
    text: str
    is_error: bool
    structured: dict[str, Any] | None
    step: int
    """How many tool calls the session has made, this one included."""
    truncated: bool
    """True once the session has used the scenario's ``max_turns`` calls (the caller decides to stop)."""


@dataclass(frozen=True)
class Reward:
    reward: float
    """The fraction of checks that passed; 0.0 for an ungraded scenario."""
    success: bool
    checks: list[CheckVerdict]
    graded: bool


class Session:
    """One episode in progress: a scenario on a server the session holds alone."""

    def __init__(self, session_id: str, scenario: Scenario, server: WarmServer, context: EpisodeContext) -> None:
        self.id = session_id
        self.scenario = scenario
        self.server = server
        self.context = context
        self.lock = anyio.Lock()
        self.open = True

    @property
    def messages(self) -> list[dict[str, Any]]:
        """The trajectory so far, in the OpenAI chat format (as ``envmint run`` records it)."""
        return self.context.messages

    def __repr__(self) -> str:
        return f"Session({self.id!r}, {self.scenario.id!r}, open={self.open})"


@dataclass
class _Slots:
    limit: anyio.Semaphore
    idle: list[WarmServer] = field(default_factory=list)


class EnvPool:
    """Warm, sandboxed servers for RL: see the module docstring for the concurrency model."""

    def __init__(
        self,
        servers_dir: Path,
        scenarios: Path | Iterable[Scenario],
        *,
        slots: int = 1,
        sandboxed: bool = True,
        call_timeout: float = 30.0,
        acquire_timeout: float = 300.0,
        grade_timeout: float = 120.0,
    ) -> None:
        if slots < 1:
            raise ValueError("slots must be at least 1")
        self.servers_dir = Path(servers_dir)
        found = [s.scenario for s in select(scenarios)] if isinstance(scenarios, Path) else list(scenarios)
        self.scenarios = {scenario.id: scenario for scenario in found}
        self.slots = slots
        self.sandboxed = sandboxed
        self.call_timeout = call_timeout
        self.acquire_timeout = acquire_timeout
        self.grade_timeout = grade_timeout
        self._envs: dict[str, _Slots] = {}
        self._servers: list[WarmServer] = []
        self._ids = itertools.count(1)
        self._stack: contextlib.AsyncExitStack | None = None
        self._group: TaskGroup | None = None

    async def __aenter__(self) -> EnvPool:
        async with contextlib.AsyncExitStack() as stack:
            self._group = await stack.enter_async_context(anyio.create_task_group())
            stack.push_async_callback(self._stop_all)
            self._stack = stack.pop_all()
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> bool | None:
        stack, self._stack = self._stack, None
        if stack is not None:
            return await stack.__aexit__(kind, exc, tb)
        return None

    async def _stop_all(self) -> None:
        with anyio.CancelScope(shield=True):
            for server in self._servers:
                await server.stop()
        self._group = None

    def _server_for(self, env_id: str) -> WarmServer:
        if self._group is None:
            raise RuntimeError("use the pool inside `async with EnvPool(...)`")
        folder = self.servers_dir / env_id
        if not (folder / "server.py").is_file():
            raise FileNotFoundError(f"no server for environment {env_id!r} in {self.servers_dir}")
        server = WarmServer(env_id, folder, self._group, call_timeout=self.call_timeout, sandboxed=self.sandboxed)
        self._servers.append(server)
        return server

    async def _acquire(self, env_id: str) -> WarmServer:
        slots = self._envs.setdefault(env_id, _Slots(anyio.Semaphore(self.slots)))
        with anyio.fail_after(self.acquire_timeout):
            await slots.limit.acquire()
        try:
            return slots.idle.pop() if slots.idle else self._server_for(env_id)
        except BaseException:
            slots.limit.release()
            raise

    def _give_back(self, env_id: str, server: WarmServer) -> None:
        slots = self._envs[env_id]
        slots.idle.append(server)
        slots.limit.release()

    def _release(self, session: Session) -> None:
        if session.open:
            session.open = False
            self._give_back(session.scenario.env_id, session.server)

    async def reset(self, scenario_id: str) -> Observation:
        """Start an episode of the scenario on a server of its environment, in the initial state."""
        scenario = self.scenarios.get(scenario_id)
        if scenario is None:
            raise LookupError(f"no such scenario in this pool: {scenario_id!r}")
        server = await self._acquire(scenario.env_id)
        try:  # starting and loading are bounded inside WarmServer (90 s to start, 60 s to load)
            await server.prepare(scenario.id, scenario.initial_state, scenario.now, scenario.seed)
        except BaseException:
            with anyio.CancelScope(shield=True):
                await server.stop()
            self._give_back(scenario.env_id, server)
            raise
        prompt = system_prompt(scenario, server.instructions)
        opening = _opening(scenario)
        context = EpisodeContext(
            instructions=scenario.instructions,
            tools=list(server.tools),
            kind=scenario.kind,
            max_turns=scenario.max_turns,
            caller=server.call,
            system_prompt=prompt,
            messages=[{"role": "system", "content": prompt}, {"role": "user", "content": opening}],
        )
        session = Session(f"s{next(self._ids)}", scenario, server, context)
        return Observation(
            session=session,
            scenario_id=scenario.id,
            kind=scenario.kind,
            instructions=scenario.instructions,
            system_prompt=prompt,
            user_message=opening,
            tools=context.tool_specs_openai(),
            max_turns=scenario.max_turns,
        )

    async def step(self, session: Session, tool_name: str, arguments: dict[str, Any]) -> StepResult:
        """Call one tool. A refused call is an ``is_error`` result; a broken server ends the session."""
        async with session.lock:
            self._check_open(session)
            try:
                with anyio.fail_after(self.call_timeout + 5):
                    outcome = await session.context.call_tool(tool_name, dict(arguments))
            except BaseException as exc:
                # Died, timed out or cancelled mid-call: its state is unknown, so it restarts for the next reset.
                with anyio.CancelScope(shield=True):
                    await session.server.stop()
                self._release(session)
                if isinstance(exc, MCPError) and exc.code == REQUEST_TIMEOUT:
                    raise TimeoutError(f"{tool_name} took more than {self.call_timeout:g} s") from exc
                if isinstance(exc, Exception) and _is_server_failure(exc):
                    raise ServerCrashed(f"the {session.scenario.env_id} server broke during {tool_name}") from exc
                raise
        calls = session.context.tool_calls
        return StepResult(
            outcome.text, outcome.is_error, outcome.structured, calls, calls >= session.scenario.max_turns
        )

    async def state(self, session: Session) -> dict[str, Any]:
        """The session's current environment state (read through the control channel)."""
        async with session.lock:
            self._check_open(session)
            return await session.server.state()

    async def finish(self, session: Session) -> Reward:
        """End the session: read the final state, free the server, grade the scenario's checks."""
        async with session.lock:
            self._check_open(session)
            try:
                final = await session.server.state()
            except BaseException:
                with anyio.CancelScope(shield=True):
                    await session.server.stop()
                raise
            finally:
                self._release(session)
        scenario = session.scenario
        with anyio.fail_after(self.grade_timeout):
            verdicts = await grade_checks(scenario.checks, scenario.initial_state, final)
        return Reward(reward(verdicts), all_passed(verdicts), verdicts, scenario.graded)

    async def close(self, session: Session) -> None:
        """End the session without grading it (nothing happens if it already ended)."""
        async with session.lock:
            self._release(session)

    @staticmethod
    def _check_open(session: Session) -> None:
        if not session.open:
            raise RuntimeError(f"session {session.id} has ended; call reset for a new episode")
