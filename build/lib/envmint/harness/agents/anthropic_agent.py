"""An agent backed by the Anthropic Messages API: an explicit tool-use loop over the episode's tools.

Every model call sends the full history and the tools. All ``tool_use`` blocks of one response
run in order through one :meth:`EpisodeContext.act` and go back as ``tool_result`` blocks in one
user message. A response without tool use is a message to the user: in a task it ends the
episode, in a conversation it is sent with :meth:`EpisodeContext.say` and the reply becomes the
next user message (no reply ends the episode).

The tool-name mapping, the prompts and :func:`run_tool_calls` are shared with the OpenAI agent.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import anthropic
from anthropic.types import Message

from envmint.harness.episode import EpisodeContext, EpisodeOver, ToolOutcome
from envmint.llm import Completion, Price, Retrier, cost

TASK_PROMPT = """\
You operate a software system through the tools provided, on behalf of the person who wrote the \
task in the first message. Carry the task out by calling tools.

- Read before you write: look records up before changing them, and use ids exactly as the tools \
return them. Never guess or invent an id.
- Follow the system's rules. When a tool returns an error, read it and change your approach \
rather than repeating the same call.
- Do everything the task asks, and nothing it does not ask.
- Nobody can answer questions while you work: rely on the task text and on what the tools tell you.
- When the task is done, or you have established that it cannot be done, stop calling tools and \
reply with a short plain-text summary of what you did and what, if anything, is left undone. \
That reply ends the task."""

CONVERSATION_PROMPT = """\
You are a service agent in a live chat with a person, acting for them through the tools provided.

- Find out what the person needs. When you need a fact that only they know (who they are, which \
item they mean, what they prefer) and no tool can tell you, ask them for it, one thing at a time.
- Read before you write: look records up before changing them, and use ids exactly as the tools \
or the person give them. Never guess or invent an id.
- Follow the system's rules and explain them plainly when they affect the person. Before doing \
something the person did not clearly ask for, check with them first.
- When a tool returns an error, read it and change your approach rather than repeating the same call.
- Only a message without tool calls reaches the person; text you write next to tool calls is not \
shown to them.
- Take one step at a time. When everything they asked for is done, tell them the outcome briefly."""

TOOL_NAME_PATTERN = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_NOT_ALLOWED = re.compile(r"[^a-zA-Z0-9_-]")
EMPTY_TEXT = "(no text)"


def build_system_prompt(ctx: EpisodeContext, override: str | None = None) -> str:
    """The system prompt an agent sends.

    ``override`` wins; otherwise the harness's ``ctx.system_prompt`` is used verbatim, so the
    trajectory's system message is exactly what the model saw. Without either (a bare context),
    the built-in prompt for the episode's kind is used, followed in a conversation by the agent's
    instructions (in a task the instructions are the first user message instead).
    """
    if override is not None:
        return override
    if ctx.system_prompt.strip():
        return ctx.system_prompt
    if ctx.kind == "conversation":
        instructions = ctx.instructions.strip()
        return CONVERSATION_PROMPT + (f"\n\n# Your instructions\n\n{instructions}" if instructions else "")
    return TASK_PROMPT


@dataclass(frozen=True)
class ToolNames:
    """MCP tool names and the API-safe names (``^[a-zA-Z0-9_-]{1,64}$``) the model sees."""

    to_api: dict[str, str]
    to_mcp: dict[str, str]

    @classmethod
    def of(cls, names: Iterable[str]) -> ToolNames:
        to_api: dict[str, str] = {}
        to_mcp: dict[str, str] = {}
        for name in names:
            base = _NOT_ALLOWED.sub("_", name)[:64] or "tool"
            candidate, n = base, 1
            while candidate in to_mcp:
                n += 1
                suffix = f"_{n}"
                candidate = base[: 64 - len(suffix)] + suffix
            to_api[name] = candidate
            to_mcp[candidate] = name
        return cls(to_api, to_mcp)

    def resolve(self, api_name: str) -> str | None:
        """The MCP name behind a name the model used (its original MCP name is accepted too)."""
        if api_name in self.to_mcp:
            return self.to_mcp[api_name]
        return api_name if api_name in self.to_api else None


@dataclass(frozen=True)
class PlannedCall:
    """One tool call a model asked for; ``problem`` is set when it cannot be run at all."""

    call_id: str
    api_name: str
    tool: str | None
    arguments: dict[str, Any]
    problem: str | None = None


def plan_call(names: ToolNames, call_id: str, api_name: str, arguments: Any) -> PlannedCall:
    """Resolve a requested call's tool name and check its arguments form an object."""
    tool = names.resolve(api_name)
    if tool is None:
        known = ", ".join(sorted(names.to_mcp))
        return PlannedCall(call_id, api_name, None, {}, f"Unknown tool {api_name!r}. Available tools: {known}.")
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments) if arguments.strip() else {}
        except json.JSONDecodeError as exc:
            return PlannedCall(call_id, api_name, tool, {}, f"The arguments are not valid JSON: {exc.msg}.")
    if not isinstance(arguments, dict):
        return PlannedCall(call_id, api_name, tool, {}, "The arguments must be a JSON object.")
    return PlannedCall(call_id, api_name, tool, arguments)


async def run_tool_calls(ctx: EpisodeContext, text: str | None, planned: list[PlannedCall]) -> list[ToolOutcome]:
    """Run the runnable calls in order through one ``ctx.act``; unrunnable ones get an error outcome.

    Calls that name an unknown tool or carry unreadable arguments are answered without reaching
    the server (and so are not in the recorded trajectory). Outcomes come back in request order.
    """
    runnable: list[tuple[str | None, str, dict[str, Any]]] = [
        (c.call_id, c.tool, c.arguments) for c in planned if c.problem is None and c.tool is not None
    ]
    outcomes = iter(await ctx.act(text, runnable) if runnable else [])
    results = []
    for call in planned:
        if call.problem is not None or call.tool is None:
            results.append(ToolOutcome(text=call.problem or "The call could not be run.", is_error=True))
        else:
            results.append(next(outcomes))
    return results


def _history_block(block: Any) -> dict[str, Any] | None:
    """A response content block as it goes back into the next request (None: drop it)."""
    kind = block.type
    if kind == "text":
        return {"type": "text", "text": block.text} if block.text else None
    if kind == "tool_use":
        return {"type": "tool_use", "id": block.id, "name": block.name, "input": block.input}
    if kind == "thinking":
        return {"type": "thinking", "thinking": block.thinking, "signature": block.signature}
    if kind == "redacted_thinking":
        return {"type": "redacted_thinking", "data": block.data}
    dumped: dict[str, Any] = block.model_dump(mode="json", exclude_none=True)
    return dumped


def _usage(model: str, message: Message, price: Price | None) -> tuple[int, int, float]:
    """(input tokens including cache writes and reads, output tokens, dollars) of one response."""
    usage = message.usage
    written = usage.cache_creation_input_tokens or 0
    read = usage.cache_read_input_tokens or 0
    dollars = cost(
        model,
        usage.input_tokens,
        usage.output_tokens,
        cache_write_tokens=written,
        cache_read_tokens=read,
        price=price,
    )
    return usage.input_tokens + written + read, usage.output_tokens, dollars


class AnthropicAgent:
    """Plays an episode with a Claude model through the Messages API."""

    def __init__(
        self,
        model: str,
        *,
        client: anthropic.AsyncAnthropic | None = None,
        max_tokens: int = 4096,
        temperature: float | None = None,
        retrier: Retrier | None = None,
        system_prompt: str | None = None,
        price: Price | None = None,
    ) -> None:
        """``client`` defaults to one built from ``ANTHROPIC_API_KEY`` with the SDK's own retries off
        (``retrier`` retries instead). ``temperature`` None leaves the model's default; recent models
        reject any other value. ``system_prompt`` replaces the episode's system prompt (see
        :func:`build_system_prompt`); ``price`` overrides the price table."""
        self.model = model
        self.name = f"anthropic:{model}"
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.retrier = retrier or Retrier()
        self.system_prompt = system_prompt
        self.price = price
        self._client = client

    @property
    def client(self) -> anthropic.AsyncAnthropic:
        if self._client is None:
            self._client = anthropic.AsyncAnthropic(max_retries=0)
        return self._client

    async def create(self, **params: Any) -> Message:
        """One Messages API call with retries."""
        arguments = {"model": self.model, "max_tokens": self.max_tokens, **params}
        if self.temperature is not None:
            # The SDK no longer has a ``temperature`` argument (recent models reject non-default
            # sampling settings), so it travels in the body for the models that still take it.
            arguments["extra_body"] = {"temperature": self.temperature, **arguments.get("extra_body", {})}

        async def call() -> Message:
            response: Message = await self.client.messages.create(**arguments)
            return response

        return await self.retrier.run(call)

    async def run(self, ctx: EpisodeContext) -> None:
        try:
            await self._loop(ctx)
        except EpisodeOver:
            return

    async def _loop(self, ctx: EpisodeContext) -> None:
        names = ToolNames.of(tool.name for tool in ctx.tools)
        tools = [
            {"name": names.to_api[t.name], "description": t.description or "", "input_schema": t.input_schema}
            for t in ctx.tools
        ]
        system = build_system_prompt(ctx, self.system_prompt)
        messages: list[dict[str, Any]] = [{"role": "user", "content": ctx.opening}]
        while True:
            ctx.begin_turn()
            params: dict[str, Any] = {"system": system, "messages": messages}
            if tools:
                params["tools"] = tools
            response = await self.create(**params)
            ctx.usage.add(*_usage(self.model, response, self.price))

            blocks = [b for b in (_history_block(block) for block in response.content) if b is not None]
            messages.append({"role": "assistant", "content": blocks or [{"type": "text", "text": EMPTY_TEXT}]})
            text = "\n\n".join(b.text for b in response.content if b.type == "text" and b.text).strip()
            uses = [b for b in response.content if b.type == "tool_use"]

            if uses:
                planned = [plan_call(names, use.id, use.name, use.input) for use in uses]
                outcomes = await run_tool_calls(ctx, text or None, planned)
                results: list[dict[str, Any]] = []
                for use, outcome in zip(uses, outcomes, strict=True):
                    result: dict[str, Any] = {
                        "type": "tool_result",
                        "tool_use_id": use.id,
                        "is_error": outcome.is_error,
                    }
                    if outcome.text:
                        result["content"] = outcome.text
                    results.append(result)
                messages.append({"role": "user", "content": results})
                continue

            reply = await ctx.say(text)
            if reply is None:
                return
            messages.append({"role": "user", "content": reply})


class AnthropicCompleter:
    """Plain text completion through the Messages API (for the simulated user)."""

    def __init__(
        self,
        model: str,
        *,
        client: anthropic.AsyncAnthropic | None = None,
        max_tokens: int = 1024,
        temperature: float | None = None,
        retrier: Retrier | None = None,
        price: Price | None = None,
    ) -> None:
        self._agent = AnthropicAgent(
            model, client=client, max_tokens=max_tokens, temperature=temperature, retrier=retrier, price=price
        )

    async def __call__(self, system: str, messages: list[dict[str, str]]) -> Completion:
        response = await self._agent.create(system=system, messages=messages)
        text = "".join(b.text for b in response.content if b.type == "text")
        tokens_in, tokens_out, dollars = _usage(self._agent.model, response, self._agent.price)
        return Completion(text=text, input_tokens=tokens_in, output_tokens=tokens_out, cost_usd=dollars)


__all__ = [
    "CONVERSATION_PROMPT",
    "TASK_PROMPT",
    "AnthropicAgent",
    "AnthropicCompleter",
    "PlannedCall",
    "ToolNames",
    "build_system_prompt",
    "plan_call",
    "run_tool_calls",
]
