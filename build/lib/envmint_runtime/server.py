"""The MCP face of an EnvironmentHost, built on the low-level ``mcp.server.Server``.

Schemas are served exactly as the spec states them. Arguments are validated before any tool
code runs. A failed call is an ``isError`` result with a short message and the state rolled
back; an unknown tool is a JSON-RPC error (-32602), as the MCP specification asks.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import mcp_types as types
from mcp.server import Server
from mcp.shared.exceptions import MCPError

from envmint_runtime import __version__, control
from envmint_runtime.host import EnvironmentHost, UnknownTool
from envmint_runtime.state import StateError

INVALID_PARAMS = -32602
UNAUTHORIZED = -32010


def instructions_for(spec: dict[str, Any]) -> str:
    text = str(spec["description"]).strip()
    rules = spec.get("rules") or []
    if rules:
        text += "\n\nRules:\n" + "\n".join(f"- {rule}" for rule in rules)
    return text


def _text(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


@dataclass(frozen=True)
class TaskPrompt:
    """A scenario's instructions, offered as an MCP prompt so a client can start the task from it."""

    name: str
    description: str
    text: str


def build_server(
    host: EnvironmentHost,
    *,
    instructions: str | None = None,
    control_enabled: bool = True,
    control_token: str | None = None,
    prompt: TaskPrompt | None = None,
    after_write: Callable[[], None] | None = None,
) -> Server[Any]:
    """An MCP server for ``host``. The control channel is registered only when enabled.

    ``after_write`` runs after every successful call that changed the state.
    """
    spec = host.spec
    tools = [types.Tool.model_validate(entry) for entry in host.listing()]

    async def list_tools(ctx: Any, params: types.PaginatedRequestParams | None) -> types.ListToolsResult:
        return types.ListToolsResult(tools=tools)

    async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        before = host.store.mark()
        try:
            outcome = host.call(params.name, params.arguments)
        except UnknownTool:
            raise MCPError(INVALID_PARAMS, f"Unknown tool: {params.name}") from None
        if after_write is not None and host.store.mark() != before:
            after_write()
        if not outcome.ok:
            return types.CallToolResult(content=[types.TextContent(type="text", text=outcome.message)], is_error=True)
        return types.CallToolResult(
            content=[types.TextContent(type="text", text=_text(outcome.value))],
            structured_content=outcome.value,
            is_error=False,
        )

    prompt_handlers: dict[str, Any] = {}
    if prompt is not None:
        listed = types.Prompt(name=prompt.name, description=prompt.description, arguments=[])

        async def list_prompts(ctx: Any, params: types.PaginatedRequestParams | None) -> types.ListPromptsResult:
            return types.ListPromptsResult(prompts=[listed])

        async def get_prompt(ctx: Any, params: types.GetPromptRequestParams) -> types.GetPromptResult:
            if params.name != prompt.name:
                raise MCPError(INVALID_PARAMS, f"Unknown prompt: {params.name}")
            message = types.PromptMessage(role="user", content=types.TextContent(type="text", text=prompt.text))
            return types.GetPromptResult(description=prompt.description, messages=[message])

        prompt_handlers = {"on_list_prompts": list_prompts, "on_get_prompt": get_prompt}

    server: Server[Any] = Server(
        spec["id"],
        version=__version__,
        title=spec["name"],
        description=spec["description"][:300],
        instructions=instructions if instructions is not None else instructions_for(spec),
        on_list_tools=list_tools,
        on_call_tool=call_tool,
        **prompt_handlers,
    )
    if control_enabled:
        _add_control(server, host, control_token)
    return server


def _add_control(server: Server[Any], host: EnvironmentHost, token: str | None) -> None:
    def authorize(params: control.ControlParams) -> None:
        if token is not None and not hmac.compare_digest(params.token or "", token):
            raise MCPError(UNAUTHORIZED, "control token missing or wrong")

    async def load(ctx: Any, params: control.ControlParams) -> control.ControlResult:
        authorize(params)
        if params.state is None:
            raise MCPError(INVALID_PARAMS, "envmint/load needs a state")
        try:
            host.load(params.state, now=params.now, seed=params.seed, validate=params.validate_state)
        except StateError as exc:
            raise MCPError(INVALID_PARAMS, f"state does not match the state schema: {exc}") from None
        except ValueError as exc:
            raise MCPError(INVALID_PARAMS, f"cannot load state: {exc}") from None
        return control.ControlResult()

    async def reset(ctx: Any, params: control.ControlParams) -> control.ControlResult:
        authorize(params)
        host.reset()
        return control.ControlResult()

    async def state(ctx: Any, params: control.ControlParams) -> control.ControlResult:
        authorize(params)
        return control.ControlResult(state=host.state)

    async def state_hash(ctx: Any, params: control.ControlParams) -> control.ControlResult:
        authorize(params)
        return control.ControlResult(hash=host.store.hash())

    server.add_request_handler(control.LOAD, control.ControlParams, load)
    server.add_request_handler(control.RESET, control.ControlParams, reset)
    server.add_request_handler(control.STATE, control.ControlParams, state)
    server.add_request_handler(control.HASH, control.ControlParams, state_hash)
