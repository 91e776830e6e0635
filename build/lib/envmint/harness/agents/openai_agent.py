"""An agent for any OpenAI-compatible Chat Completions endpoint (vLLM, SGLang, ...), over plain HTTP.

No ``openai`` package: requests go through an ``httpx2.AsyncClient`` (injectable, for tests and
connection reuse) to ``<base_url>/chat/completions`` with the episode's tools in the ``tools``
field. The loop and its ending rules are the Anthropic agent's: every call sends the full
history, all ``tool_calls`` of one response run in order through one ``ctx.act`` and go back as
``tool`` messages carrying their ``tool_call_id``, and a response without tool calls goes to the
user (ending a task).
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx2

from envmint.harness.agents.anthropic_agent import ToolNames, build_system_prompt, plan_call, run_tool_calls
from envmint.harness.episode import EpisodeContext, EpisodeOver
from envmint.llm import Completion, Price, Retrier, StatusError, cost


class ChatResponse:
    """The parts of a Chat Completions response the loop uses."""

    def __init__(self, data: dict[str, Any]) -> None:
        choices = data.get("choices") or []
        if not choices:
            raise ValueError(f"the response has no choices: {str(data)[:300]}")
        choice = choices[0]
        message = choice.get("message") or {}
        self.data = data
        self.finish_reason: str | None = choice.get("finish_reason")
        self.content: str = message.get("content") or ""
        self.tool_calls: list[dict[str, Any]] = list(message.get("tool_calls") or [])
        usage = data.get("usage") or {}
        self.input_tokens = int(usage.get("prompt_tokens") or 0)
        self.output_tokens = int(usage.get("completion_tokens") or 0)


class OpenAIAgent:
    """Plays an episode with a model served behind an OpenAI-compatible Chat Completions API."""

    def __init__(
        self,
        model: str,
        *,
        base_url: str = "http://localhost:8000/v1",
        api_key: str | None = None,
        http_client: httpx2.AsyncClient | None = None,
        max_tokens: int = 4096,
        temperature: float | None = None,
        retrier: Retrier | None = None,
        system_prompt: str | None = None,
        price: Price | None = None,
        timeout: float = 600.0,
        extra_body: dict[str, Any] | None = None,
    ) -> None:
        """``api_key`` defaults to ``OPENAI_API_KEY`` (sent as a bearer token when set).
        ``extra_body`` is merged into every request (e.g. ``{"top_p": 0.95}`` or vLLM's
        ``chat_template_kwargs``). ``price`` overrides the price table (``envmint.llm.FREE`` for a
        self-hosted model, which is otherwise flagged as unpriced)."""
        self.model = model
        self.base_url = base_url.rstrip("/")
        self.name = f"openai:{self.base_url}#{model}"
        self.api_key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY")
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.retrier = retrier or Retrier()
        self.system_prompt = system_prompt
        self.price = price
        self.timeout = timeout
        self.extra_body = dict(extra_body or {})
        self._http = http_client

    @asynccontextmanager
    async def session(self) -> AsyncIterator[httpx2.AsyncClient]:
        """The injected client, or a new one closed on exit."""
        if self._http is not None:
            yield self._http
            return
        async with httpx2.AsyncClient(timeout=self.timeout) as http:
            yield http

    async def chat(
        self, http: httpx2.AsyncClient, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None
    ) -> ChatResponse:
        """One Chat Completions call with retries."""
        body: dict[str, Any] = {"model": self.model, "messages": messages, "max_tokens": self.max_tokens}
        if tools:
            body["tools"] = tools
            body["tool_choice"] = "auto"
        if self.temperature is not None:
            body["temperature"] = self.temperature
        body.update(self.extra_body)
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        url = f"{self.base_url}/chat/completions"

        async def call() -> ChatResponse:
            response = await http.post(url, json=body, headers=headers, timeout=self.timeout)
            if response.status_code >= 400:
                raise StatusError(response.status_code, response.text, dict(response.headers))
            data = response.json()
            if not isinstance(data, dict):
                raise ValueError("the response is not a JSON object")
            error = data.get("error")
            if error and not data.get("choices"):
                code = error.get("code") if isinstance(error, dict) else None
                raise StatusError(code if isinstance(code, int) else 500, str(error), dict(response.headers))
            return ChatResponse(data)

        return await self.retrier.run(call)

    def _record_usage(self, ctx: EpisodeContext | None, response: ChatResponse) -> float:
        dollars = cost(self.model, response.input_tokens, response.output_tokens, price=self.price)
        if ctx is not None:
            ctx.usage.add(response.input_tokens, response.output_tokens, dollars)
        return dollars

    async def run(self, ctx: EpisodeContext) -> None:
        try:
            async with self.session() as http:
                await self._loop(ctx, http)
        except EpisodeOver:
            return

    async def _loop(self, ctx: EpisodeContext, http: httpx2.AsyncClient) -> None:
        names = ToolNames.of(tool.name for tool in ctx.tools)
        tools = [
            {
                "type": "function",
                "function": {
                    "name": names.to_api[t.name],
                    "description": t.description or "",
                    "parameters": t.input_schema,
                },
            }
            for t in ctx.tools
        ]
        messages: list[dict[str, Any]] = [
            {"role": "system", "content": build_system_prompt(ctx, self.system_prompt)},
            {"role": "user", "content": ctx.opening},
        ]
        while True:
            ctx.begin_turn()
            response = await self.chat(http, messages, tools)
            self._record_usage(ctx, response)
            text = response.content.strip()

            if response.tool_calls:
                calls: list[dict[str, Any]] = []
                for index, raw in enumerate(response.tool_calls):
                    function = raw.get("function") or {}
                    call_id = str(raw.get("id") or f"call_{ctx.turns}_{index}")
                    name = str(function.get("name") or "")
                    arguments = function.get("arguments")
                    if not isinstance(arguments, str):
                        arguments = "{}" if arguments is None else json.dumps(arguments)
                    calls.append(
                        {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}
                    )
                messages.append({"role": "assistant", "content": response.content or None, "tool_calls": calls})
                planned = [plan_call(names, c["id"], c["function"]["name"], c["function"]["arguments"]) for c in calls]
                outcomes = await run_tool_calls(ctx, text or None, planned)
                for call, outcome in zip(calls, outcomes, strict=True):
                    messages.append({"role": "tool", "tool_call_id": call["id"], "content": outcome.text})
                continue

            messages.append({"role": "assistant", "content": response.content})
            reply = await ctx.say(text)
            if reply is None:
                return
            messages.append({"role": "user", "content": reply})


class OpenAICompleter:
    """Plain text completion through a Chat Completions endpoint (for the simulated user)."""

    def __init__(
        self,
        model: str,
        *,
        base_url: str = "http://localhost:8000/v1",
        api_key: str | None = None,
        http_client: httpx2.AsyncClient | None = None,
        max_tokens: int = 1024,
        temperature: float | None = None,
        retrier: Retrier | None = None,
        price: Price | None = None,
        extra_body: dict[str, Any] | None = None,
    ) -> None:
        self._agent = OpenAIAgent(
            model,
            base_url=base_url,
            api_key=api_key,
            http_client=http_client,
            max_tokens=max_tokens,
            temperature=temperature,
            retrier=retrier,
            price=price,
            extra_body=extra_body,
        )

    async def __call__(self, system: str, messages: list[dict[str, str]]) -> Completion:
        async with self._agent.session() as http:
            response = await self._agent.chat(http, [{"role": "system", "content": system}, *messages])
        dollars = self._agent._record_usage(None, response)
        return Completion(
            text=response.content,
            input_tokens=response.input_tokens,
            output_tokens=response.output_tokens,
            cost_usd=dollars,
        )


__all__ = ["ChatResponse", "OpenAIAgent", "OpenAICompleter"]
