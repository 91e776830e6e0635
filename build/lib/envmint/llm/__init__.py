"""Talking to model services: price table, retry policy, and the plain text-completion interface."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from envmint.llm.prices import FREE, Price, cost, lookup, unpriced
from envmint.llm.retry import Retrier, StatusError, Verdict, classify, parse_retry_after


@dataclass(frozen=True)
class Completion:
    """One text completion and what it cost."""

    text: str
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0


TextCompleter = Callable[[str, list[dict[str, str]]], Awaitable[Completion]]
"""``await complete(system, messages)``: messages alternate ``{"role": "user"|"assistant", "content": str}``."""

__all__ = [
    "FREE",
    "Completion",
    "Price",
    "Retrier",
    "StatusError",
    "TextCompleter",
    "Verdict",
    "classify",
    "cost",
    "lookup",
    "parse_retry_after",
    "unpriced",
]
