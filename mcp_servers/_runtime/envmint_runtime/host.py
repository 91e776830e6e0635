"""EnvironmentHost: runs one environment's tools as validated, time-limited transactions.

Independent of MCP: the server adapts it to the protocol, tests and benchmarks may drive it
directly. Tool code is synchronous and runs to completion without yielding, so calls on one
host never interleave.
"""

from __future__ import annotations

import contextlib
import random
import re
import signal
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from jsonschema import Draft202012Validator

from envmint_runtime.arguments import ArgumentChecker
from envmint_runtime.environment import JSON, Clock, Environment, ToolError, parse_instant
from envmint_runtime.journal import to_plain
from envmint_runtime.state import StateError, StateStore, check_json_value

MAX_MESSAGE = 300
_PATH = re.compile(r"(?:[A-Za-z]:)?(?:[/\\][\w.@+-]+){2,}[/\\]?")


class UnknownTool(LookupError):
    """The caller named a tool the environment does not have."""


class CallTimeout(BaseException):
    """Raised inside a tool that ran past its time limit (a BaseException so tools cannot swallow it)."""


@dataclass(frozen=True)
class Outcome:
    """The result of one tool call: a JSON object on success, a message on failure."""

    ok: bool
    value: dict[str, JSON] | None = None
    message: str = ""


def clean_message(text: str) -> str:
    """A short, single-paragraph message with no file system paths."""
    text = _PATH.sub("<path>", " ".join(str(text).split()))
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 3] + "..."


@dataclass(frozen=True)
class Tool:
    name: str
    kind: str
    spec: dict[str, Any]
    checker: ArgumentChecker
    output: Draft202012Validator | None

    def listing(self) -> dict[str, Any]:
        """The tool as ``tools/list`` serves it (wire field names)."""
        entry: dict[str, Any] = {
            "name": self.name,
            "description": self.spec["description"],
            "inputSchema": self.spec["input_schema"],
            "annotations": {"readOnlyHint": self.kind == "query", "openWorldHint": False},
        }
        if self.spec.get("output_schema"):
            entry["outputSchema"] = self.spec["output_schema"]
        return entry


@contextlib.contextmanager
def _time_limit(seconds: float) -> Iterator[None]:
    usable = seconds > 0 and threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer")
    if not usable:
        yield
        return

    def _expire(signum: int, frame: Any) -> None:
        raise CallTimeout

    previous = signal.signal(signal.SIGALRM, _expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class EnvironmentHost:
    """One live environment: its state, clock, random source and tools."""

    def __init__(
        self,
        spec: dict[str, Any],
        env_class: type[Environment],
        *,
        state: dict[str, JSON] | None = None,
        now: str | None = None,
        seed: int = 0,
        call_timeout: float = 10.0,
        check_state: bool = False,
    ) -> None:
        self.spec = spec
        self.call_timeout = call_timeout
        self.check_state = check_state
        self.store = StateStore(spec["state_schema"])
        self.tools: dict[str, Tool] = {}
        for tool_spec in spec["tools"]:
            name = tool_spec["name"]
            if not callable(getattr(env_class, name, None)) or name.startswith("_"):
                raise TypeError(f"{env_class.__name__} has no public method for tool {name!r}")
            output = tool_spec.get("output_schema")
            self.tools[name] = Tool(
                name=name,
                kind=tool_spec["kind"],
                spec=tool_spec,
                checker=ArgumentChecker(tool_spec["input_schema"]),
                output=Draft202012Validator(output) if output else None,
            )
        self._now = now or spec["default_now"]
        self._seed = seed
        self._rng = random.Random(seed)
        self.env = env_class(self.store.state, Clock(parse_instant(self._now)), self._rng)
        self.load(spec["default_state"] if state is None else state, now=self._now, seed=seed)

    # -- control -----------------------------------------------------------------------------
    def load(self, state: dict[str, JSON], *, now: str | None = None, seed: int | None = None, validate: bool = True) -> None:
        """Make ``state`` the current state and the baseline for :meth:`reset`. Raises StateError."""
        self.store.load(state, validate=validate)
        if now is not None:
            self._now = now
        if seed is not None:
            self._seed = seed
        self.reset()

    def reset(self) -> None:
        """Back to the last loaded state, clock and seed."""
        self.store.reset()
        self.env.state = self.store.state
        self.env.clock = Clock(parse_instant(self._now))
        self._rng.seed(self._seed)

    @property
    def state(self) -> dict[str, JSON]:
        return self.store.state

    def listing(self) -> list[dict[str, Any]]:
        return [tool.listing() for tool in self.tools.values()]

    # -- calls -------------------------------------------------------------------------------
    def call(self, name: str, arguments: dict[str, Any] | None) -> Outcome:
        """Run one tool call as a transaction. Raises UnknownTool; every other failure is an Outcome."""
        tool = self.tools.get(name)
        if tool is None:
            raise UnknownTool(name)
        arguments = {} if arguments is None else arguments
        problems = tool.checker.problems(arguments)
        if problems:
            return Outcome(False, message=clean_message(f"Invalid arguments for `{name}`: " + "; ".join(problems)))
        mark = self.store.mark()
        rng_state = self._rng.getstate()
        journal = self.store.journal
        journal.activate()
        try:
            outcome = self._run(tool, arguments)
        except CallTimeout:
            outcome = Outcome(False, message=f"`{name}` did not finish within {self.call_timeout:g} s.")
        finally:
            journal.deactivate()
        if outcome.ok and self.check_state:
            problem = self._state_problem(tool, mark)
            if problem:
                outcome = Outcome(False, message=clean_message(problem))
        if outcome.ok:
            self.store.settle()
        else:
            self.store.rollback(mark)
            self._rng.setstate(rng_state)
        return outcome

    def _run(self, tool: Tool, arguments: dict[str, Any]) -> Outcome:
        method = getattr(self.env, tool.name)
        try:
            with _time_limit(self.call_timeout), contextlib.redirect_stdout(sys.stderr):
                value = method(**arguments)
                self.store.journal.sync_stored()  # records changed after they were stored
        except ToolError as exc:
            return Outcome(False, message=clean_message(str(exc) or f"`{tool.name}` refused the request."))
        except Exception as exc:
            detail = clean_message(f"{type(exc).__name__}: {exc}")
            return Outcome(False, message=f"`{tool.name}` failed unexpectedly ({detail}); the state is unchanged.")
        return self._finish(tool, value)

    def _finish(self, tool: Tool, value: Any) -> Outcome:
        # A plain copy: the result must not change if later calls write to the state it came from.
        structured: dict[str, JSON] = to_plain(value if isinstance(value, dict) else {"result": value})
        try:
            check_json_value(structured)
        except StateError as exc:
            return Outcome(False, message=clean_message(f"`{tool.name}` returned a non-JSON result: {exc}"))
        if tool.output is not None:
            error = next(iter(tool.output.iter_errors(structured)), None)
            if error is not None:
                return Outcome(False, message=clean_message(f"`{tool.name}` returned a malformed result: {error.message}"))
        return Outcome(True, value=structured)

    def _state_problem(self, tool: Tool, mark: int) -> str:
        if tool.kind == "query" and self.store.mark() != mark:
            return f"query tool `{tool.name}` changed the state"
        try:
            self.store.validate(self.store.state)
        except StateError as exc:
            return f"`{tool.name}` left the state invalid: {exc}"
        return ""
