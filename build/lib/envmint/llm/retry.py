"""Retrying model calls: exponential backoff with jitter, honouring ``retry-after``.

Retried: HTTP 408, 409, 429 and every 5xx (529 "overloaded" included), and connection errors and
timeouts, whether they come from the anthropic SDK, from ``httpx2``, or as a :class:`StatusError`
raised by our own HTTP code. Everything else (a 400, a bug) is raised at once. A server's
``x-should-retry: true|false`` header overrides the status code.

The random source and the sleep are injectable, so tests can record the waits without waiting.
"""

from __future__ import annotations

import email.utils
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TypeVar

import anthropic
import anyio
import httpx2

log = logging.getLogger(__name__)

T = TypeVar("T")

RETRYABLE_STATUSES = frozenset({408, 409, 429})
"""Besides these, every status of 500 or above is retried (529 is Anthropic's "overloaded")."""


class StatusError(Exception):
    """A non-success HTTP response from an endpoint we call without an SDK."""

    def __init__(self, status_code: int, body: str, headers: Mapping[str, str] | None = None) -> None:
        self.status_code = status_code
        self.body = body
        self.headers: dict[str, str] = {k.lower(): v for k, v in (headers or {}).items()}
        snippet = body if len(body) <= 500 else body[:500] + "..."
        super().__init__(f"HTTP {status_code}: {snippet}")


@dataclass(frozen=True)
class Verdict:
    """Whether a failure is worth another attempt, and how long the server asked us to wait."""

    retry: bool
    retry_after: float | None = None


def parse_retry_after(headers: Mapping[str, str], now: Callable[[], float] = time.time) -> float | None:
    """Seconds to wait from ``retry-after-ms``, or ``retry-after`` as seconds or an HTTP date."""
    lowered = {k.lower(): v for k, v in headers.items()}
    ms = lowered.get("retry-after-ms")
    if ms is not None:
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    value = lowered.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now())


def _status_verdict(status: int, headers: Mapping[str, str]) -> Verdict:
    lowered = {k.lower(): v for k, v in headers.items()}
    should = lowered.get("x-should-retry")
    if should == "false":
        return Verdict(False)
    retry = should == "true" or status in RETRYABLE_STATUSES or status >= 500
    return Verdict(retry, parse_retry_after(lowered) if retry else None)


def classify(error: BaseException) -> Verdict:
    """Decide whether ``error`` (or an error it was raised from) is transient."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, anthropic.APIStatusError):
            return _status_verdict(current.status_code, current.response.headers)
        if isinstance(current, anthropic.APIConnectionError):
            return Verdict(True)
        if isinstance(current, StatusError):
            return _status_verdict(current.status_code, current.headers)
        if isinstance(current, httpx2.HTTPStatusError):
            return _status_verdict(current.response.status_code, current.response.headers)
        if isinstance(current, httpx2.TransportError | TimeoutError | ConnectionError):
            return Verdict(True)
        current = current.__cause__
    return Verdict(False)


Sleep = Callable[[float], Awaitable[None]]


@dataclass
class Retrier:
    """Runs an async call, retrying transient failures up to ``max_attempts`` attempts in all.

    The n-th retry waits ``min(max_delay, base_delay * 2**(n-1))``, scaled by a random factor in
    ``[1 - jitter, 1 + jitter]`` and capped at ``max_delay``. When the server sends
    ``retry-after``, that wait is used instead (capped at ``max_retry_after``).
    ``waits`` keeps every wait so far, for logs and tests.
    """

    max_attempts: int = 6
    base_delay: float = 1.0
    max_delay: float = 60.0
    jitter: float = 0.25
    max_retry_after: float = 300.0
    rng: random.Random = field(default_factory=random.Random)
    sleep: Sleep = anyio.sleep
    classifier: Callable[[BaseException], Verdict] = classify
    waits: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        if not 0 <= self.jitter <= 1:
            raise ValueError("jitter must be between 0 and 1")

    def delay(self, retry_number: int, retry_after: float | None = None) -> float:
        """How long to wait before retry number ``retry_number`` (1 for the first retry)."""
        if retry_after is not None:
            return min(retry_after, self.max_retry_after)
        backoff = min(self.max_delay, self.base_delay * 2.0 ** (retry_number - 1))
        factor = 1 + self.jitter * (2 * self.rng.random() - 1)
        return min(self.max_delay, backoff * factor)

    async def run(self, call: Callable[[], Awaitable[T]]) -> T:
        """``await call()``, retrying transient failures; the last failure is raised when attempts run out."""
        attempt = 1
        while True:
            try:
                return await call()
            except Exception as error:
                verdict = self.classifier(error)
                if not verdict.retry or attempt >= self.max_attempts:
                    raise
                wait = self.delay(attempt, verdict.retry_after)
                log.warning(
                    "model call failed (%s); retry %d of %d in %.1fs",
                    error,
                    attempt,
                    self.max_attempts - 1,
                    wait,
                )
                self.waits.append(wait)
                await self.sleep(wait)
                attempt += 1


__all__ = ["RETRYABLE_STATUSES", "Retrier", "Sleep", "StatusError", "Verdict", "classify", "parse_retry_after"]
