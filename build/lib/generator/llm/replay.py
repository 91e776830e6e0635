"""Replaying a recording: every answer comes from disk, and a missing one is an error, never a call."""

from __future__ import annotations

from generator.llm.recording import Recording, RecordingError
from generator.llm.types import Request, Response


def describe(request: Request) -> str:
    """``stage 'spec', env 'library', scenario 'library/s1'``: which request, in words."""
    parts = [f"stage {request.stage!r}", f"env {request.env!r}" if request.env else "no env"]
    if request.scenario:
        parts.append(f"scenario {request.scenario!r}")
    return ", ".join(parts)


class MissingExchange(LookupError):
    """The recording holds no answer for a request; the message says which request and what to do."""

    def __init__(self, request: Request, recording: Recording) -> None:
        self.request = request
        self.key = request.key()
        self.path = recording.path(self.key)
        turns = len(request.messages)
        same_place = _count_like(recording, request)
        if same_place:
            why = (
                f"the recording holds {same_place} other exchange(s) for this stage and env, so the prompt "
                "probably changed (a new prompt text, template, input file or max_tokens gives a new hash)"
            )
        else:
            why = "the recording holds nothing for this stage and env"
        repair = f" (a repair turn: {turns} messages)" if turns > 1 else ""
        super().__init__(
            f"no recorded exchange for {describe(request)}{repair}: prompt hash {self.key} "
            f"(expected at {self.path}); {why}. Hint: run this stage again with a live backend "
            "(--llm anthropic:<model>, openai:<url>#<model> or inbox:<dir>) to record it, "
            "or replay the recording that was made from the same inputs."
        )


def _count_like(recording: Recording, request: Request) -> int:
    """How many recorded exchanges share the request's stage and env (unreadable files are skipped)."""
    count = 0
    for key in recording.keys():  # noqa: SIM118 (iterating a Recording yields exchanges, not keys)
        try:
            exchange = recording.get(key)
        except RecordingError:
            continue
        if exchange is not None and (exchange.request.stage, exchange.request.env) == (request.stage, request.env):
            count += 1
    return count


class ReplayBackend:
    """A strict backend over a :class:`Recording`: it answers only what was recorded."""

    def __init__(self, recording: Recording) -> None:
        self.recording = recording
        self.name = f"replay:{recording.dir}"
        self.calls = 0

    async def complete(self, request: Request) -> Response:
        self.calls += 1
        exchange = self.recording.get(request.key())
        if exchange is None:
            raise MissingExchange(request, self.recording)
        return exchange.response


__all__ = ["MissingExchange", "ReplayBackend", "describe"]
