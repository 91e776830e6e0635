"""The base class every environment derives from, and the services it is given.

An environment keeps *all* of its state in ``self.state``: one JSON object (dicts, lists,
strings, numbers, booleans, null) that matches the environment's ``state_schema``. Its public
methods named in the spec are its tools. It never reads the wall clock, never draws from the
global random source and never does I/O: time comes from ``self.clock``, new identifiers and
random choices from ``self.ids`` and ``self.rng``. That is what makes a server deterministic and
lets the runtime snapshot, roll back and reset state cheaply.

A tool refuses a request by raising :class:`ToolError` with a message written for the agent;
the runtime then rolls the state back and returns the message as an ``isError`` result.
"""

from __future__ import annotations

import random
from collections.abc import Container
from datetime import UTC, date, datetime
from typing import Any

JSON = Any
"""A JSON value: dict, list, str, int, float, bool or None."""


class ToolError(Exception):
    """A refusal meant for the caller: bad reference, broken business rule, impossible request."""


class Clock:
    """A clock frozen at one instant (the scenario's ``now``)."""

    def __init__(self, now: datetime) -> None:
        if now.tzinfo is None:
            now = now.replace(tzinfo=UTC)
        self._now = now.astimezone(UTC)

    def now(self) -> datetime:
        """The current instant, timezone-aware (UTC)."""
        return self._now

    def today(self) -> date:
        """The current date (UTC)."""
        return self._now.date()

    def iso(self) -> str:
        """The current instant as ISO 8601 text, e.g. ``2026-03-02T09:30:00Z``."""
        return self._now.strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_instant(text: str) -> datetime:
    """Parse ISO 8601 text (``Z`` or an offset allowed) into an aware UTC datetime."""
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


class IdSource:
    """Deterministic identifiers drawn from the environment's seeded random source."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng

    def new(self, prefix: str, taken: Container[str] = (), digits: int = 6) -> str:
        """A fresh id such as ``LOAN-4F09A2`` that is not in ``taken``."""
        while True:
            candidate = f"{prefix}-{self._rng.getrandbits(4 * digits):0{digits}X}"
            if candidate not in taken:
                return candidate


class Environment:
    """Base class of generated, imported and hand-written environments.

    Subclasses define tool methods only; they do not override ``__init__``.
    """

    state: dict[str, JSON]
    clock: Clock
    rng: random.Random
    ids: IdSource

    def __init__(self, state: dict[str, JSON], clock: Clock, rng: random.Random) -> None:
        self.state = state
        self.clock = clock
        self.rng = rng
        self.ids = IdSource(rng)
