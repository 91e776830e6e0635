"""Model services behind the pipeline's :class:`~generator.llm.types.Backend` protocol, and ``--llm``.

* ``anthropic[:<model>]``: the Anthropic Messages API (key from ``ANTHROPIC_API_KEY``).
* ``openai:<base_url>#<model>``: any OpenAI-compatible Chat Completions endpoint (key from
  ``OPENAI_API_KEY`` when set).
* ``replay[:<dir>]``: answers only from a recording (default: the run's recording directory).
* ``inbox:<dir>``: a person or another agent answers prompt files (see :mod:`generator.llm.inbox`).

Live backends retry transient failures (429, 5xx, 529 "overloaded", connection errors) with
:class:`envmint.llm.retry.Retrier`; anything else is raised, never turned into an empty answer.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import anthropic
import httpx2
from anthropic.types import Message

from envmint.harness.agents.openai_agent import ChatResponse
from envmint.llm.retry import Retrier, StatusError
from generator.llm.inbox import InboxBackend
from generator.llm.recording import Recording
from generator.llm.replay import ReplayBackend
from generator.llm.types import Backend, Request, Response

DEFAULT_ANTHROPIC_MODEL = "claude-opus-5-5"

LLM_SPECS = "anthropic[:<model>] | openai:<base_url>#<model> | replay[:<dir>] | inbox:<dir>"


class AnthropicBackend:
    """The Messages API: the request's system prompt, messages and ``max_tokens``; the text blocks back.

    Responses are streamed by default (``stream=False`` for one plain request): the SDK refuses a
    non-streaming request whose ``max_tokens`` could take over ten minutes to generate.
    """

    def __init__(
        self,
        model: str = DEFAULT_ANTHROPIC_MODEL,
        *,
        client: anthropic.AsyncAnthropic | None = None,
        retrier: Retrier | None = None,
        stream: bool = True,
    ) -> None:
        """``client`` defaults to one built from ``ANTHROPIC_API_KEY`` with the SDK's own retries off."""
        self.model = model
        self.name = f"anthropic:{model}"
        self.retrier = retrier or Retrier()
        self.stream = stream
        self._client = client

    @property
    def client(self) -> anthropic.AsyncAnthropic:
        if self._client is None:
            self._client = anthropic.AsyncAnthropic(max_retries=0)
        return self._client

    def params(self, request: Request) -> dict[str, Any]:
        params: dict[str, Any] = {
            "model": self.model,
            "max_tokens": request.max_tokens,
            "messages": [{"role": m.role, "content": m.content} for m in request.messages],
        }
        if request.system:
            params["system"] = request.system
        return params

    async def complete(self, request: Request) -> Response:
        params = self.params(request)

        async def call() -> Message:
            if self.stream:
                async with self.client.messages.stream(**params) as stream:
                    return await stream.get_final_message()
            message: Message = await self.client.messages.create(**params)
            return message

        message = await self.retrier.run(call)
        usage = message.usage
        written = usage.cache_creation_input_tokens or 0
        read = usage.cache_read_input_tokens or 0
        extra = {"cache_write_tokens": str(written), "cache_read_tokens": str(read)} if written or read else {}
        return Response(
            text="".join(block.text for block in message.content if block.type == "text"),
            model=message.model or self.model,
            input_tokens=usage.input_tokens + written + read,
            output_tokens=usage.output_tokens,
            stop_reason=message.stop_reason or "",
            extra=extra,
        )


class OpenAIBackend:
    """An OpenAI-compatible Chat Completions endpoint over ``httpx2`` (vLLM, SGLang, hosted APIs)."""

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        http_client: httpx2.AsyncClient | None = None,
        retrier: Retrier | None = None,
        timeout: float = 900.0,
        extra_body: dict[str, Any] | None = None,
    ) -> None:
        """``api_key`` defaults to ``OPENAI_API_KEY`` (sent as a bearer token when set); ``extra_body``
        is merged into every request body (e.g. ``{"temperature": 0}``)."""
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.name = f"openai:{self.base_url}#{model}"
        self.api_key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY")
        self.retrier = retrier or Retrier()
        self.timeout = timeout
        self.extra_body = dict(extra_body or {})
        self._http = http_client

    def body(self, request: Request) -> dict[str, Any]:
        messages = [{"role": "system", "content": request.system}] if request.system else []
        messages += [{"role": m.role, "content": m.content} for m in request.messages]
        return {"model": self.model, "messages": messages, "max_tokens": request.max_tokens, **self.extra_body}

    async def _post(self, http: httpx2.AsyncClient, body: dict[str, Any]) -> ChatResponse:
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        url = f"{self.base_url}/chat/completions"
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

    async def complete(self, request: Request) -> Response:
        body = self.body(request)

        async def call() -> ChatResponse:
            if self._http is not None:
                return await self._post(self._http, body)
            async with httpx2.AsyncClient(timeout=self.timeout) as http:
                return await self._post(http, body)

        chat = await self.retrier.run(call)
        return Response(
            text=chat.content,
            model=str(chat.data.get("model") or self.model),
            input_tokens=chat.input_tokens,
            output_tokens=chat.output_tokens,
            stop_reason=chat.finish_reason or "",
        )


def parse_backend(spec: str, *, recording_dir: Path | str) -> Backend:
    """The backend named by an ``--llm`` value (see the module docstring)."""
    kind, sep, rest = spec.strip().partition(":")
    if kind == "anthropic":
        if sep and not rest:
            raise ValueError("anthropic:<model> needs a model name (or use plain 'anthropic' for the default)")
        return AnthropicBackend(rest or DEFAULT_ANTHROPIC_MODEL)
    if kind == "openai":
        base_url, _, model = rest.partition("#")
        if not base_url or not model:
            raise ValueError("an OpenAI-compatible backend is named openai:<base_url>#<model>")
        return OpenAIBackend(base_url, model)
    if kind == "replay":
        return ReplayBackend(Recording(rest or recording_dir))
    if kind == "inbox":
        if not rest:
            raise ValueError("the inbox backend needs a folder: inbox:<dir>")
        return InboxBackend(rest)
    if kind == "scripted":
        raise ValueError("scripted backends exist only in tests; use one of: " + LLM_SPECS)
    raise ValueError(f"unknown --llm value {spec!r}; use one of: {LLM_SPECS}")


__all__ = ["DEFAULT_ANTHROPIC_MODEL", "LLM_SPECS", "AnthropicBackend", "OpenAIBackend", "parse_backend"]
