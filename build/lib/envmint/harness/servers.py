"""Warm environment servers: one stdio subprocess per environment per worker, reset between episodes.

Servers run the environment code, which is untrusted, so each runs inside the OS sandbox
(:mod:`envmint.sandbox`) with only its folder and the runtime readable.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anyio
from anyio.abc import TaskGroup, TaskStatus
from mcp import Client, StdioServerParameters
from mcp_types import CallToolResult, Tool

from envmint import sandbox
from envmint.harness.control import Controller

SERVER_LIMITS = sandbox.Limits(
    wall_seconds=0, cpu_seconds=0, memory_mb=2048, max_output_bytes=1 << 20, max_processes=64, max_file_bytes=0
)


class ServerCrashed(RuntimeError):
    """The server process died or its connection broke."""


def server_parameters(
    folder: Path, *, python: str = sys.executable, sandboxed: bool = True, server_args: Sequence[str] = ()
) -> StdioServerParameters:
    folder = folder.resolve()
    argv = [python, "-I", str(folder / "server.py"), *server_args]
    if sandboxed:
        readable = [folder, folder.parent / "_runtime"]
        argv = sandbox.sandboxed_argv(argv, readable=[p for p in readable if p.exists()], limits=SERVER_LIMITS)
    return StdioServerParameters(command=argv[0], args=argv[1:], env={"PYTHONUNBUFFERED": "1"})


class WarmServer:
    """A running server for one environment, with the scenario it currently holds.

    The connection lives in its own task (started in the task group the worker owns), so the SDK's
    cancel scopes stay properly nested however the server ends: stopped, crashed or killed.
    """

    def __init__(
        self,
        env_id: str,
        folder: Path,
        group: TaskGroup,
        *,
        call_timeout: float = 30.0,
        sandboxed: bool = True,
        server_args: Sequence[str] = (),
    ) -> None:
        self.env_id = env_id
        self.server_args = tuple(server_args)
        self.folder = folder
        self.group = group
        self.call_timeout = call_timeout
        self.sandboxed = sandboxed
        self.client: Client | None = None
        self.controller: Controller | None = None
        self.tools: list[Tool] = []
        self.instructions = ""
        self.loaded: str | None = None
        self._stop = anyio.Event()
        self._finished = anyio.Event()

    async def start(self) -> None:
        self._stop, self._finished = anyio.Event(), anyio.Event()
        with anyio.fail_after(90):
            await self.group.start(self._lifetime)

    async def _lifetime(self, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        started = False
        try:
            params = server_parameters(self.folder, sandboxed=self.sandboxed, server_args=self.server_args)
            async with Client(params, read_timeout_seconds=60) as client:
                self.tools = list((await client.list_tools()).tools)
                self.instructions = client.instructions or ""
                self.client, self.controller, self.loaded = client, Controller(client), None
                started = True
                task_status.started()
                await self._stop.wait()
        except Exception:
            if not started:
                raise
            # A crashed server's connection fails on its way down; the episode already saw the crash.
        finally:
            self.client, self.controller, self.loaded = None, None, None
            self._finished.set()

    async def stop(self) -> None:
        if self.client is None and self._finished.is_set():
            return
        self._stop.set()
        with anyio.move_on_after(15):
            await self._finished.wait()

    async def restart(self) -> None:
        await self.stop()
        await self.start()

    @property
    def running(self) -> bool:
        return self.client is not None

    async def prepare(self, scenario_id: str, state: dict[str, Any], now: str, seed: int) -> None:
        """Put the scenario's initial state in place: a fresh load the first time, a reset after."""
        if not self.running:
            await self.start()
        assert self.controller is not None
        with anyio.fail_after(60):
            if self.loaded == scenario_id:
                await self.controller.reset()
            else:
                self.loaded = None
                await self.controller.load(state, now=now, seed=seed)
                self.loaded = scenario_id

    async def call(self, name: str, arguments: dict[str, Any]) -> CallToolResult:
        if self.client is None:
            raise anyio.ClosedResourceError("the server is not running")
        return await self.client.call_tool(name, arguments, read_timeout_seconds=self.call_timeout)

    async def state(self) -> dict[str, Any]:
        if self.controller is None:
            raise anyio.ClosedResourceError("the server is not running")
        with anyio.fail_after(60):
            return await self.controller.state()
