"""What an agent sees of an episode, and the trajectory recorded while it acts.

An agent gets an :class:`EpisodeContext`: the instructions, the tools as the server lists them,
``call_tool`` to act, and in a conversation ``say`` to talk to the simulated user. Everything it
does is recorded in the OpenAI chat format (the de facto standard that SFT trainers read), so a
trajectory looks the same whichever agent produced it.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from mcp.shared.exceptions import MCPError
from mcp_types import CallToolResult, TextContent, Tool

INVALID_PARAMS = -32602


class EpisodeOver(Exception):
    """Raised by the context when the episode must stop (turn limit, user said stop)."""


@dataclass(frozen=True)
class ToolOutcome:
    """What one tool call returned, as an agent reads it."""

    text: str
    is_error: bool
    structured: dict[str, Any] | None = None

    @classmethod
    def from_result(cls, result: CallToolResult) -> ToolOutcome:
        text = "\n".join(block.text for block in result.content if isinstance(block, TextContent))
        structured = result.structured_content if isinstance(result.structured_content, dict) else None
        return cls(text=text, is_error=bool(result.is_error), structured=structured)


@dataclass
class Usage:
    """Tokens and dollars an agent (or the user simulator) spent."""

    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0

    def add(self, input_tokens: int, output_tokens: int, cost_usd: float) -> None:
        self.input_tokens += input_tokens
        self.output_tokens += output_tokens
        self.cost_usd += cost_usd


class UserSimulator(Protocol):
    """The person in a conversational scenario. ``reply`` returns None when the user is done."""

    usage: Usage

    async def opening(self) -> str: ...

    async def reply(self, agent_message: str) -> str | None: ...


ToolCaller = Callable[[str, dict[str, Any]], Awaitable[CallToolResult]]


@dataclass
class EpisodeContext:
    """The agent's window on one episode."""

    instructions: str
    tools: list[Tool]
    kind: str
    max_turns: int
    caller: ToolCaller
    user: UserSimulator | None = None
    system_prompt: str = ""
    messages: list[dict[str, Any]] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    turns: int = 0
    tool_calls: int = 0
    finished: bool = False
    user_stopped: bool = False
    _call_ids: int = 0

    @property
    def opening(self) -> str:
        """The first user message: the instructions for a task, the user's first words in a conversation."""
        for message in self.messages:
            if message["role"] == "user":
                return str(message["content"])
        return self.instructions

    def begin_turn(self) -> None:
        """Count one agent turn (one model response); raise EpisodeOver past the limit."""
        if self.turns >= self.max_turns:
            raise EpisodeOver(f"turn limit of {self.max_turns} reached")
        self.turns += 1

    async def act(self, text: str | None, calls: list[tuple[str | None, str, dict[str, Any]]]) -> list[ToolOutcome]:
        """Record one assistant message (text and tool calls), run the calls in order, record results.

        A call the server rejects as a protocol error (an unknown tool) comes back as an error outcome,
        as it would to any MCP client; a broken connection propagates.
        """
        recorded = []
        for call_id, name, arguments in calls:
            self._call_ids += 1
            recorded.append((call_id or f"call_{self._call_ids}", name, arguments))
        message: dict[str, Any] = {"role": "assistant", "content": text or None}
        if recorded:
            message["tool_calls"] = [
                {"id": cid, "type": "function", "function": {"name": name, "arguments": json.dumps(args)}}
                for cid, name, args in recorded
            ]
        self.messages.append(message)
        outcomes = []
        for call_id, name, arguments in recorded:
            self.tool_calls += 1
            try:
                outcome = ToolOutcome.from_result(await self.caller(name, arguments))
            except MCPError as exc:
                if exc.code != INVALID_PARAMS:
                    raise
                outcome = ToolOutcome(text=exc.error.message, is_error=True)
            self.messages.append({"role": "tool", "tool_call_id": call_id, "name": name, "content": outcome.text})
            outcomes.append(outcome)
        return outcomes

    async def call_tool(self, name: str, arguments: dict[str, Any]) -> ToolOutcome:
        """One tool call as its own assistant message."""
        return (await self.act(None, [(None, name, arguments)]))[0]

    async def say(self, text: str) -> str | None:
        """Send text to the user. Returns the reply, or None when the episode's dialogue is over."""
        self.messages.append({"role": "assistant", "content": text})
        if self.user is None:
            self.finished = True
            return None
        reply = await self.user.reply(text)
        if reply is None:
            self.user_stopped = True
            self.finished = True
            return None
        self.messages.append({"role": "user", "content": reply})
        return reply

    def tool_specs_openai(self) -> list[dict[str, Any]]:
        """The tools in the OpenAI ``tools`` format (also what SFT exports carry)."""
        return [
            {
                "type": "function",
                "function": {"name": t.name, "description": t.description or "", "parameters": t.input_schema},
            }
            for t in self.tools
        ]


class Agent(Protocol):
    """Anything that can play an episode."""

    name: str

    async def run(self, ctx: EpisodeContext) -> None: ...
