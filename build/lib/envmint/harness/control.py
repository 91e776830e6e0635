"""The harness side of a server's hidden control channel (load, reset, read state, hash)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from envmint_runtime import control
from mcp import Client, StdioServerParameters
from mcp_types import CallToolResult, Request, TextContent


def stdio_parameters(folder: Path, *args: str, python: str = sys.executable) -> StdioServerParameters:
    """How to start the server in ``folder`` as a stdio subprocess."""
    return StdioServerParameters(
        command=python,
        args=[str(Path(folder) / "server.py"), *args],
        env={"PYTHONUNBUFFERED": "1"},
    )


class Controller:
    """Load, reset and read the state of the environment behind an open ``mcp.Client``."""

    def __init__(self, client: Client, token: str | None = None) -> None:
        self.client = client
        self.token = token

    def _params(self, **params: Any) -> control.ControlParams:
        return control.ControlParams(token=self.token, **params)

    async def _send(self, request: Request[Any, Any]) -> control.ControlResult:
        result: control.ControlResult = await self.client.session.send_request(request, control.ControlResult)
        return result

    async def load(
        self, state: dict[str, Any], *, now: str | None = None, seed: int | None = None, validate: bool = True
    ) -> None:
        await self._send(
            control.LoadRequest(params=self._params(state=state, now=now, seed=seed, validate_state=validate))
        )

    async def reset(self) -> None:
        await self._send(control.ResetRequest(params=self._params()))

    async def state(self) -> dict[str, Any]:
        result = await self._send(control.StateRequest(params=self._params()))
        return result.state or {}

    async def hash(self) -> str:
        result = await self._send(control.HashRequest(params=self._params()))
        return result.hash or ""


def text_of(result: CallToolResult) -> str:
    """The text an agent reads from a tool result."""
    return "\n".join(block.text for block in result.content if isinstance(block, TextContent))


__all__ = ["Controller", "stdio_parameters", "text_of"]
