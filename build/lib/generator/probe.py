"""Running a candidate environment for real: emitted to a temporary folder, served in the sandbox.

Every gate that executes generated code goes through here, so the code never runs in the
pipeline's own process.
"""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
from mcp.shared.exceptions import MCPError

from envmint.contract import EnvironmentSpec, ToolCall
from envmint.emit import emit
from envmint.harness.diff import state_diff
from envmint.harness.episode import ToolOutcome
from envmint.harness.servers import WarmServer

CALL_TIMEOUT = 5.0


@dataclass
class CallRecord:
    tool: str
    arguments: dict[str, Any]
    ok: bool
    text: str
    changes: list[dict[str, Any]] = field(default_factory=list)
    crashed: bool = False

    @property
    def unexpected(self) -> bool:
        """The tool broke rather than refused: an exception, a timeout, a bad result or state."""
        markers = (
            "failed unexpectedly",
            "did not finish within",
            "non-JSON result",
            "malformed result",
            "left the state invalid",
            "changed the state",
        )
        return self.crashed or (not self.ok and any(m in self.text for m in markers))


@asynccontextmanager
async def candidate(spec: EnvironmentSpec) -> AsyncIterator[WarmServer]:
    """A sandboxed server for ``spec`` with state checks on (a query that writes is an error)."""
    with tempfile.TemporaryDirectory(prefix=f"envmint-probe-{spec.id}-") as temp:
        folder = emit(spec, Path(temp))
        async with anyio.create_task_group() as group:
            server = WarmServer(
                spec.id,
                folder,
                group,
                call_timeout=CALL_TIMEOUT + 5,
                server_args=("--check-state", "--call-timeout", str(CALL_TIMEOUT)),
            )
            await server.start()
            try:
                yield server
            finally:
                await server.stop()


async def run_calls(
    server: WarmServer, state: dict[str, Any], now: str, calls: Sequence[ToolCall], *, seed: int = 0
) -> tuple[list[CallRecord], dict[str, Any]]:
    """Load ``state`` and make ``calls`` in order; each record carries the changes it made."""
    await server.prepare(f"probe-{id(calls)}", state, now, seed)
    server.loaded = None
    records: list[CallRecord] = []
    before = await server.state()
    for call in calls:
        try:
            outcome = ToolOutcome.from_result(await server.call(call.tool, dict(call.arguments)))
        except MCPError as exc:
            if exc.code == -32602:
                records.append(CallRecord(call.tool, dict(call.arguments), False, exc.error.message))
                continue
            records.append(CallRecord(call.tool, dict(call.arguments), False, exc.error.message, crashed=True))
            await server.restart()
            return records, before
        after = await server.state()
        records.append(
            CallRecord(call.tool, dict(call.arguments), not outcome.is_error, outcome.text, state_diff(before, after))
        )
        before = after
    return records, before
