"""The pipeline's one way to ask a model: recorded, rate-limited, costed, and repaired with feedback.

:meth:`LLM.complete` answers from the recording when it can (a cache hit: no model call) and
otherwise calls the backend under a concurrency limit and a rate limit, then records and ledgers
the exchange. :meth:`LLM.ask` adds the repair loop: an answer that fails to parse or fails a gate
goes back to the model with the concrete error, as a continuation of the same conversation, and
never as the same prompt again. Because a repair turn's prompt holds the earlier answer, a
replayed run follows exactly the recorded path.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from typing import TypeVar

import anyio

from generator.llm.ledger import Ledger
from generator.llm.recording import Exchange, Recording
from generator.llm.replay import ReplayBackend, describe
from generator.llm.types import Backend, GateError, ParseError, Request, Response

T = TypeVar("T")

TRUNCATED = frozenset({"max_tokens", "length"})
"""Stop reasons meaning the answer was cut off at the token limit (Anthropic, OpenAI)."""


class RepairExhausted(Exception):
    """Every attempt's answer failed to parse or failed a gate; ``errors`` holds each one's error."""

    def __init__(self, request: Request, errors: list[str]) -> None:
        self.request = request
        self.stage = request.stage
        self.env = request.env
        self.scenario = request.scenario
        self.errors = list(errors)
        listed = "\n".join(f"  attempt {n}: {error}" for n, error in enumerate(self.errors, 1))
        super().__init__(f"no usable answer for {describe(request)} after {len(self.errors)} attempt(s):\n{listed}")


def feedback(error: ParseError | GateError, request: Request, response: Response) -> str:
    """What we tell the model about its unusable answer: the concrete error, and what to send instead."""
    problem = "could not be read" if isinstance(error, ParseError) else "was read but failed a check"
    lines = [f"Your answer {problem}:", "", str(error).strip() or type(error).__name__, ""]
    if response.stop_reason in TRUNCATED:
        lines += [
            f"It was also cut off at the {request.max_tokens}-token limit, so keep the new answer shorter.",
            "",
        ]
    lines.append(
        "Reply with the complete corrected answer, in the same format as asked"
        + (f" ({request.output.strip()})" if request.output.strip() else "")
        + ": the whole answer, not only the changed part, and nothing else."
    )
    return "\n".join(lines)


class RateLimiter:
    """Spaces call starts at least ``60 / per_minute`` seconds apart (a slot is reserved, then awaited)."""

    def __init__(
        self,
        per_minute: float,
        *,
        clock: Callable[[], float] = anyio.current_time,
        sleep: Callable[[float], Awaitable[None]] = anyio.sleep,
    ) -> None:
        if not per_minute > 0 or math.isinf(per_minute):
            raise ValueError("requests_per_minute must be a positive number")
        self.interval = 60.0 / per_minute
        self.clock = clock
        self.sleep = sleep
        self._next = -math.inf

    async def wait(self) -> None:
        now = self.clock()
        start = max(now, self._next)
        self._next = start + self.interval
        if start > now:
            await self.sleep(start - now)


class LLM:
    """Answers :class:`Request` objects through a backend, a recording and a ledger."""

    def __init__(
        self,
        backend: Backend,
        *,
        recording: Recording | None = None,
        concurrency: int = 8,
        requests_per_minute: float | None = None,
        ledger: Ledger | None = None,
    ) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.backend = backend
        self.recording = recording
        self.ledger = ledger if ledger is not None else Ledger()
        self.limiter = anyio.CapacityLimiter(concurrency)
        self.rate = RateLimiter(requests_per_minute) if requests_per_minute is not None else None
        self.model_calls = 0
        self.cache_hits = 0

    def _cached(self, request: Request) -> Response | None:
        exchange = self.recording.get(request.key()) if self.recording is not None else None
        if exchange is None:
            return None
        self.cache_hits += 1
        self.ledger.record(request, exchange.response, cached=True)
        return exchange.response

    async def complete(self, request: Request) -> Response:
        """The answer to ``request``: recorded if possible, else from the backend (and then recorded)."""
        cached = self._cached(request)
        if cached is not None:
            return cached
        async with self.limiter:
            cached = self._cached(request)  # a concurrent task may have asked the same while we waited
            if cached is not None:
                return cached
            if self.rate is not None:
                await self.rate.wait()
            response = await self.backend.complete(request)
        if isinstance(self.backend, ReplayBackend):
            self.cache_hits += 1
            self.ledger.record(request, response, cached=True)
            return response
        self.model_calls += 1
        self.ledger.record(request, response, cached=False)
        if self.recording is not None:
            # When a concurrent call for the same prompt was stored first, answer as the recording
            # does, so that this run and its replay agree.
            response = self.recording.put(Exchange(request, response)).response
        return response

    async def ask(self, request: Request, parse: Callable[[str], T], *, attempts: int = 3) -> T:
        """``parse(text)`` of an answer to ``request``, repairing through the model (see the module docstring).

        ``parse`` raises :class:`ParseError` or :class:`GateError` with a message written for the
        model; any other exception propagates at once. After ``attempts`` unusable answers,
        :class:`RepairExhausted` carries every error.
        """

        async def check(text: str) -> T:
            return parse(text)

        return await self.ask_async(request, check, attempts=attempts)

    async def ask_async(self, request: Request, check: Callable[[str], Awaitable[T]], *, attempts: int = 3) -> T:
        """:meth:`ask` with an async check (for gates that run code in a sandboxed child, say)."""
        if attempts < 1:
            raise ValueError("attempts must be at least 1")
        errors: list[str] = []
        current = request
        for attempt in range(1, attempts + 1):
            response = await self.complete(current)
            try:
                return await check(response.text)
            except (ParseError, GateError) as error:
                errors.append(str(error))
                if attempt < attempts:
                    current = current.followed_by(response.text, feedback(error, current, response))
        raise RepairExhausted(request, errors)


__all__ = ["LLM", "TRUNCATED", "RateLimiter", "RepairExhausted", "feedback"]
