"""What the pipeline asks a model and what it gets back, independent of any backend."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Literal, Protocol

Role = Literal["user", "assistant"]


@dataclass(frozen=True)
class Message:
    role: Role
    content: str


@dataclass(frozen=True)
class Request:
    """One prompt. Its :meth:`key` (a content hash) identifies the exchange in recordings."""

    stage: str
    system: str
    messages: tuple[Message, ...]
    output: str = ""
    env: str = ""
    scenario: str = ""
    max_tokens: int = 16000

    def key(self) -> str:
        """sha256 of what determines the answer: stage, system prompt, messages and token limit.

        Backend and model are not part of it, so a recording made with one backend replays
        under any other, and ``env``/``scenario``/``output`` are labels, not content.
        """
        payload = {
            "stage": self.stage,
            "system": self.system,
            "messages": [[m.role, m.content] for m in self.messages],
            "max_tokens": self.max_tokens,
        }
        text = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        return hashlib.sha256(text.encode()).hexdigest()

    def followed_by(self, answer: str, feedback: str) -> Request:
        """The same conversation continued: the model's answer, then our feedback on it."""
        messages = (*self.messages, Message("assistant", answer), Message("user", feedback))
        return Request(self.stage, self.system, messages, self.output, self.env, self.scenario, self.max_tokens)


@dataclass(frozen=True)
class Response:
    text: str
    model: str
    input_tokens: int = 0
    output_tokens: int = 0
    stop_reason: str = ""
    extra: dict[str, str] = field(default_factory=dict)


class Backend(Protocol):
    """A model service (or a stand-in for one)."""

    name: str

    async def complete(self, request: Request) -> Response: ...


class ParseError(ValueError):
    """The answer is not in the requested form; the message says what is wrong, for the model."""


class GateError(ValueError):
    """The answer parsed but failed a gate; the message says what failed, for the model."""
