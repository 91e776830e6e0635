"""Which episode a worker plays next: environment affinity, so each server starts on as few workers as possible.

A worker's first episode in an environment pays for starting that environment's server (about a
second of CPU, most of it importing the mcp SDK), while every later one costs a reset of a few
milliseconds. Handing out jobs in plan order sends every worker through every environment; here a
worker stays with its environment until that environment's jobs run out, then claims an
environment nobody has started. Only when every environment with jobs left is taken does it join
the one with the most jobs per worker, so no worker sits idle while jobs remain.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from typing import Generic, TypeVar

J = TypeVar("J")


class Scheduler(Generic[J]):
    """Jobs grouped by environment, handed out by :meth:`next`. Not thread-safe; anyio tasks are fine."""

    def __init__(self, jobs: Iterable[J], env_of: Callable[[J], str]) -> None:
        self.pending: dict[str, deque[J]] = {}
        for job in jobs:
            self.pending.setdefault(env_of(job), deque()).append(job)
        self.workers_on: dict[str, int] = dict.fromkeys(self.pending, 0)

    def __len__(self) -> int:
        return sum(len(queue) for queue in self.pending.values())

    def next(self, current: str | None) -> tuple[str, J] | None:
        """The next job for a worker now in environment ``current`` (None at start), with its environment."""
        if current is not None and self.pending.get(current):
            return current, self.pending[current].popleft()
        if current is not None:
            self.workers_on[current] -= 1
        left = [env for env, queue in self.pending.items() if queue]
        if not left:
            return None
        unclaimed = [env for env in left if self.workers_on[env] == 0]  # in plan order
        env = unclaimed[0] if unclaimed else max(left, key=lambda e: len(self.pending[e]) / (self.workers_on[e] + 1))
        self.workers_on[env] += 1
        return env, self.pending[env].popleft()
