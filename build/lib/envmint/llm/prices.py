"""What model calls cost: USD per million input and output tokens, looked up by model-id prefix.

Prices are list prices for the standard tier, as published by each model's overview page. A model
id matches the longest known id it starts with, provided what follows is not another version
number: ``claude-opus-4-20250514`` and ``claude-opus-4-6-thinking`` match ``claude-opus-4`` and
``claude-opus-4-6``, but ``claude-opus-4-9`` matches nothing rather than being priced as Opus 4.
Provider prefixes (``anthropic.``, ``us.anthropic.``, ``anthropic/``) are ignored.

An unknown model costs 0.0 and is *flagged*: it is logged once and listed by :func:`unpriced`,
so a report can say "cost unknown" instead of silently showing $0.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

log = logging.getLogger(__name__)

MILLION = 1_000_000


@dataclass(frozen=True)
class Price:
    """USD per million tokens. Cache writes and reads are priced as multiples of ``input``."""

    input: float
    output: float
    cache_write_factor: float = 1.25
    cache_read_factor: float = 0.1

    def cost(
        self, input_tokens: int, output_tokens: int, *, cache_write_tokens: int = 0, cache_read_tokens: int = 0
    ) -> float:
        """Dollars for one call. ``input_tokens`` excludes the cache writes and reads given separately."""
        dollars = (
            input_tokens * self.input
            + cache_write_tokens * self.input * self.cache_write_factor
            + cache_read_tokens * self.input * self.cache_read_factor
            + output_tokens * self.output
        )
        return dollars / MILLION


FREE = Price(0.0, 0.0)
"""For self-hosted endpoints: known to cost nothing per token, so not flagged."""

# Model id (or id prefix) -> list price per million tokens (input, output).
PRICES: dict[str, Price] = {
    # Claude 5 generation
    "claude-fable-5": Price(10.0, 50.0),
    "claude-fable-5-1": Price(10.0, 50.0),
    "claude-opus-5": Price(5.0, 25.0),
    "claude-opus-5-5": Price(4.0, 20.0),
    "claude-sonnet-5": Price(2.0, 10.0),
    "claude-sonnet-5-5": Price(2.0, 10.0),
    # Claude 4 generation
    "claude-opus-4-8": Price(5.0, 25.0),
    "claude-opus-4-7": Price(5.0, 25.0),
    "claude-opus-4-6": Price(5.0, 25.0),
    "claude-opus-4-5": Price(5.0, 25.0),
    "claude-opus-4-1": Price(15.0, 75.0),
    "claude-opus-4": Price(15.0, 75.0),
    "claude-sonnet-4-6": Price(3.0, 15.0),
    "claude-sonnet-4-5": Price(3.0, 15.0),
    "claude-sonnet-4": Price(3.0, 15.0),
    "claude-haiku-4-5": Price(1.0, 5.0),
    # Claude 3 generation
    "claude-3-7-sonnet": Price(3.0, 15.0),
    "claude-3-5-sonnet": Price(3.0, 15.0),
    "claude-3-5-haiku": Price(0.8, 4.0),
    "claude-3-opus": Price(15.0, 75.0),
    "claude-3-haiku": Price(0.25, 1.25),
}

_PROVIDER_PREFIX = re.compile(r"^(?:[a-z]{2,4}\.)?anthropic[./]")
# After the matched id: nothing, or anything that does not start another version number
# (a date snapshot like -20250514 or @20251001, or a suffix like -thinking or -v1:0).
_VERSION_NEXT = re.compile(r"^-\d{1,2}(?!\d)")

_flagged: set[str] = set()


def lookup(model: str) -> Price | None:
    """The price of ``model``, or None when no known id prefixes it."""
    name = _PROVIDER_PREFIX.sub("", model.strip().lower())
    best: str | None = None
    for key in PRICES:
        if (
            name.startswith(key)
            and not _VERSION_NEXT.match(name[len(key) :])
            and (best is None or len(key) > len(best))
        ):
            best = key
    return PRICES[best] if best is not None else None


def cost(
    model: str,
    input_tokens: int,
    output_tokens: int,
    *,
    cache_write_tokens: int = 0,
    cache_read_tokens: int = 0,
    price: Price | None = None,
) -> float:
    """USD for one call to ``model``; 0.0 (and flagged) when the model's price is unknown.

    ``price`` overrides the table (e.g. :data:`FREE` for a self-hosted model).
    """
    found = price if price is not None else lookup(model)
    if found is None:
        if model not in _flagged:
            _flagged.add(model)
            log.warning("no price known for model %r; its cost is counted as $0", model)
        return 0.0
    return found.cost(
        input_tokens, output_tokens, cache_write_tokens=cache_write_tokens, cache_read_tokens=cache_read_tokens
    )


def unpriced() -> set[str]:
    """Models costed so far in this process whose price was unknown (their cost was counted as 0)."""
    return set(_flagged)


__all__ = ["FREE", "PRICES", "Price", "cost", "lookup", "unpriced"]
