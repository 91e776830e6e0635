"""The harness's control channel: custom JSON-RPC methods that agents never see.

They are not tools, resources or prompts, so no ``*/list`` result and nothing an MCP client
shows a model mentions them. When the server's environment holds ``ENVMINT_CONTROL_TOKEN``,
every control request must carry that token; over HTTP the channel is off unless a token is set.
"""

from __future__ import annotations

from typing import Any, Literal

import mcp_types as types
from pydantic import ConfigDict

LOAD = "envmint/load"
RESET = "envmint/reset"
STATE = "envmint/state"
HASH = "envmint/hash"
TOKEN_ENV = "ENVMINT_CONTROL_TOKEN"


class ControlParams(types.RequestParams):
    """Parameters of every control method (unused fields are ignored)."""

    token: str | None = None
    state: dict[str, Any] | None = None
    now: str | None = None
    seed: int | None = None
    validate_state: bool = True


class ControlResult(types.Result):
    model_config = ConfigDict(extra="allow")
    state: dict[str, Any] | None = None
    hash: str | None = None


class LoadRequest(types.Request[ControlParams, Literal["envmint/load"]]):
    method: Literal["envmint/load"] = "envmint/load"


class ResetRequest(types.Request[ControlParams, Literal["envmint/reset"]]):
    method: Literal["envmint/reset"] = "envmint/reset"


class StateRequest(types.Request[ControlParams, Literal["envmint/state"]]):
    method: Literal["envmint/state"] = "envmint/state"


class HashRequest(types.Request[ControlParams, Literal["envmint/hash"]]):
    method: Literal["envmint/hash"] = "envmint/hash"
