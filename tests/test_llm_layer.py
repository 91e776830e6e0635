"""The pipeline's model layer: recording and replay, the repair loop, limits, the inbox, backends, costs.

No test touches the network: backends are scripted fakes or real SDK clients over
``httpx2.MockTransport``.
"""

from __future__ import annotations

import io
import json
import os
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anthropic
import anyio
import httpx2
import pytest
from rich.console import Console

from envmint.llm.retry import Retrier
from generator.llm.backends import DEFAULT_ANTHROPIC_MODEL, AnthropicBackend, OpenAIBackend, parse_backend
from generator.llm.client import LLM, RateLimiter, RepairExhausted
from generator.llm.inbox import InboxBackend, InboxTimeout, inbox_status, render_prompt
from generator.llm.ledger import Ledger
from generator.llm.recording import Exchange, Recording, RecordingError
from generator.llm.replay import MissingExchange, ReplayBackend
from generator.llm.types import GateError, Message, ParseError, Request, Response

pytestmark = pytest.mark.anyio

MODEL = "claude-sonnet-4-6"


def request(
    text: str = "Design a library system.", *, stage: str = "design", env: str = "library", **kw: Any
) -> Request:
    return Request(stage=stage, system="You design systems.", messages=(Message("user", text),), env=env, **kw)


class ScriptedBackend:
    """Answers from a list (or a function of the request), keeping every request and the peak concurrency."""

    name = "scripted"

    def __init__(self, answers: list[str] | Callable[[Request], str], *, delay: float = 0.0) -> None:
        self.answers = answers
        self.delay = delay
        self.requests: list[Request] = []
        self.in_flight = 0
        self.max_in_flight = 0

    async def complete(self, request: Request) -> Response:
        self.requests.append(request)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await anyio.sleep(self.delay)
            text = self.answers(request) if callable(self.answers) else self.answers.pop(0)
        finally:
            self.in_flight -= 1
        return Response(text=text, model=MODEL, input_tokens=1000, output_tokens=200, stop_reason="end_turn")


def parse_number(text: str) -> int:
    if not text.strip().isdigit():
        raise ParseError(f"expected a whole number, got {text.strip()!r}")
    value = int(text)
    if value > 100:
        raise GateError(f"{value} is above the limit of 100")
    return value


# -- recording and replay ----------------------------------------------------------------------


async def test_recording_then_replaying_gives_identical_responses_and_makes_no_model_calls(tmp_path: Path) -> None:
    requests = [request(f"question {n}", scenario=f"library/s{n}") for n in range(3)]
    live = ScriptedBackend(lambda r: f"answer to {r.messages[0].content}")
    recorder = LLM(live, recording=Recording(tmp_path / "rec"))
    with anyio.fail_after(5):
        first = [await recorder.complete(r) for r in requests]
    assert (recorder.model_calls, recorder.cache_hits) == (3, 0)
    assert len(Recording(tmp_path / "rec")) == 3

    replayer = LLM(ReplayBackend(Recording(tmp_path / "rec")))
    cached = LLM(ScriptedBackend([]), recording=Recording(tmp_path / "rec"))
    with anyio.fail_after(5):
        replayed = [await replayer.complete(r) for r in requests]
        from_cache = [await cached.complete(r) for r in requests]

    assert replayed == first == from_cache
    assert (replayer.model_calls, replayer.cache_hits) == (0, 3)
    assert (cached.model_calls, cached.cache_hits) == (0, 3)
    assert cached.backend.requests == []  # type: ignore[attr-defined]
    assert all(e.cached for e in cached.ledger.entries)
    assert cached.ledger.total().dollars == 0 and cached.ledger.total().saved_dollars > 0


async def test_a_missing_exchange_in_replay_fails_naming_the_stage_env_scenario_and_prompt_hash(tmp_path: Path) -> None:
    recording = Recording(tmp_path / "rec")
    recording.put(Exchange(request("an older prompt"), Response("old", MODEL)))
    backend = ReplayBackend(recording)
    missing = request("a changed prompt", scenario="library/late_return")
    with anyio.fail_after(5), pytest.raises(MissingExchange) as caught:
        await LLM(backend).complete(missing)
    message = str(caught.value)
    for part in ("'design'", "'library'", "'library/late_return'", missing.key(), "prompt probably changed", "Hint"):
        assert part in message
    assert caught.value.key == missing.key()


async def test_recording_files_are_canonical_and_byte_identical_when_written_twice(tmp_path: Path) -> None:
    exchange = Exchange(request("Ünïcode prompt"), Response("é answer", MODEL, 10, 5, "end_turn"))
    times = iter(["2026-01-01T00:00:00Z", "2026-06-01T00:00:00Z"])
    one = Recording(tmp_path / "one", clock=lambda: next(times))
    stored = one.put(exchange)
    path = one.path(exchange.key)
    before = path.read_bytes()
    again = one.put(exchange)  # a second write keeps the first file and its recorded_at

    assert path.read_bytes() == before
    assert stored.recorded_at == again.recorded_at == "2026-01-01T00:00:00Z"
    assert path == tmp_path / "one" / exchange.key[:2] / f"{exchange.key}.json"
    two = Recording(tmp_path / "two", clock=lambda: "2026-01-01T00:00:00Z")
    two.put(exchange)
    assert two.path(exchange.key).read_bytes() == before

    text = before.decode("utf-8")
    assert text.endswith("}\n") and '\n "key"' in text and "Ünïcode" in text
    data = json.loads(text)
    assert list(data) == sorted(data)
    assert data["request"]["stage"] == "design" and data["response"]["output_tokens"] == 5
    assert [e.key for e in one] == [exchange.key] and one.get(exchange.key) == stored
    assert not list(path.parent.glob("*.tmp"))


async def test_a_recorded_file_whose_request_was_edited_is_refused(tmp_path: Path) -> None:
    recording = Recording(tmp_path)
    exchange = recording.put(Exchange(request(), Response("ok", MODEL)))
    path = recording.path(exchange.key)
    path.write_text(path.read_text().replace("Design a library", "Design a zoo"))
    with pytest.raises(RecordingError, match="was the request edited"):
        recording.get(exchange.key)


# -- the repair loop ---------------------------------------------------------------------------


async def test_the_repair_loop_sends_the_parse_error_and_the_first_answer_back_and_then_succeeds(
    tmp_path: Path,
) -> None:
    backend = ScriptedBackend(["forty-two", "42"])
    llm = LLM(backend, recording=Recording(tmp_path))
    with anyio.fail_after(5):
        value = await llm.ask(request(output="a whole number"), parse_number)

    assert value == 42
    first, second = backend.requests
    assert second.key() != first.key()
    assert [m.role for m in second.messages] == ["user", "assistant", "user"]
    assert second.messages[1].content == "forty-two"
    feedback = second.messages[2].content
    assert "expected a whole number, got 'forty-two'" in feedback
    assert "complete corrected answer" in feedback and "a whole number" in feedback
    assert llm.model_calls == 2 and len(llm.ledger.entries) == 2 and len(Recording(tmp_path)) == 2

    replayed = LLM(ReplayBackend(Recording(tmp_path)))
    with anyio.fail_after(5):
        assert await replayed.ask(request(output="a whole number"), parse_number) == 42
    assert replayed.cache_hits == 2


async def test_the_repair_loop_gives_up_after_the_allowed_attempts_reporting_every_error() -> None:
    backend = ScriptedBackend(["none", "500", "seven"])
    llm = LLM(backend)
    with anyio.fail_after(5), pytest.raises(RepairExhausted) as caught:
        await llm.ask(request(scenario="library/s1"), parse_number, attempts=3)

    error = caught.value
    assert error.errors == [
        "expected a whole number, got 'none'",
        "500 is above the limit of 100",
        "expected a whole number, got 'seven'",
    ]
    assert (error.stage, error.env, error.scenario) == ("design", "library", "library/s1")
    assert "after 3 attempt(s)" in str(error) and "500 is above the limit" in str(error)
    assert len(backend.requests) == 3 and len({r.key() for r in backend.requests}) == 3
    assert "failed a check" in backend.requests[2].messages[-1].content


async def test_a_truncated_answer_is_repaired_with_a_note_about_the_token_limit() -> None:
    class Truncating(ScriptedBackend):
        async def complete(self, request: Request) -> Response:
            response = await super().complete(request)
            stop = "max_tokens" if len(self.requests) == 1 else "end_turn"
            return Response(response.text, MODEL, stop_reason=stop)

    def closed_list(text: str) -> str:
        if not text.endswith("]"):
            raise ParseError("the list is not closed with ']'")
        return text

    backend = Truncating(["[1, 2", "[1, 2]"])
    with anyio.fail_after(5):
        assert await LLM(backend).ask(request(max_tokens=50), closed_list) == "[1, 2]"
    assert "cut off at the 50-token limit" in backend.requests[1].messages[-1].content


async def test_an_unexpected_parser_exception_propagates_without_a_repair() -> None:
    backend = ScriptedBackend(["1", "2"])

    def broken(text: str) -> int:
        raise KeyError("bug")

    with anyio.fail_after(5), pytest.raises(KeyError):
        await LLM(backend).ask(request(), broken)
    assert len(backend.requests) == 1


# -- limits ------------------------------------------------------------------------------------


async def test_no_more_requests_run_at_once_than_the_concurrency_limit() -> None:
    backend = ScriptedBackend(lambda r: "ok", delay=0.01)
    llm = LLM(backend, concurrency=3)
    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            for n in range(12):
                tg.start_soon(llm.complete, request(f"q{n}"))
    assert backend.max_in_flight == 3
    assert llm.model_calls == 12


async def test_the_rate_limiter_spaces_call_starts_evenly() -> None:
    now = [100.0]
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    limiter = RateLimiter(120, clock=lambda: now[0], sleep=sleep)
    with anyio.fail_after(5):
        for _ in range(3):
            await limiter.wait()
        now[0] += 5.0
        await limiter.wait()
    assert waits == [0.5, 1.0]


# -- the inbox ---------------------------------------------------------------------------------


async def test_inbox_prompts_wait_side_by_side_and_reverse_order_answers_resolve_the_right_requests(
    tmp_path: Path,
) -> None:
    inbox_dir = tmp_path / "inbox"
    status = io.StringIO()
    backend = InboxBackend(inbox_dir, poll_seconds=0.01, stream=status)
    llm = LLM(backend, recording=Recording(tmp_path / "rec"))
    first = request("Design a library.", output="a JSON object", scenario="library/s1")
    second = request("Design a clinic.", stage="code", env="clinic")
    results: dict[str, str] = {}

    async def ask(name: str, req: Request) -> None:
        results[name] = (await llm.complete(req)).text

    def answer_path(req: Request) -> Path:
        return inbox_dir / "answers" / f"{req.key()}.md"

    async def answer() -> None:
        while len(inbox_status(inbox_dir)) < 2:
            await anyio.sleep(0.01)
        waiting = (inbox_dir / "WAITING.md").read_text()
        assert "design (env library, scenario library/s1)" in waiting and "code (env clinic)" in waiting
        prompt = (inbox_dir / "pending" / f"{first.key()}.md").read_text()
        for part in ("- stage: design", "- scenario: library/s1", "a JSON object", str(answer_path(first))):
            assert part in prompt
        assert "You design systems." in prompt and "Design a library." in prompt

        for req, text in ((second, "clinic answer"), (first, "library answer")):
            temp = answer_path(req).with_suffix(".md.tmp")
            temp.write_text("partial")
            await anyio.sleep(0.05)  # many polls: a .tmp file is never taken for the answer
            assert req.key() in {p.key for p in inbox_status(inbox_dir)}
            temp.write_text(text)
            os.replace(temp, answer_path(req))

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            tg.start_soon(ask, "first", first)
            tg.start_soon(ask, "second", second)
            tg.start_soon(answer)

    assert results == {"first": "library answer", "second": "clinic answer"}
    assert inbox_status(inbox_dir) == []
    assert sorted(p.name for p in (inbox_dir / "done").iterdir()) == sorted([f"{first.key()}.md", f"{second.key()}.md"])
    assert "Nothing is waiting" in (inbox_dir / "WAITING.md").read_text()
    lines = status.getvalue().splitlines()
    assert any("2 prompt(s) waiting" in line for line in lines) and "0 prompt(s) waiting" in lines[-1]
    stored = Recording(tmp_path / "rec").get(first.key())
    assert stored is not None and stored.response.model == "inbox"
    assert llm.ledger.total().dollars == 0 and llm.ledger.unpriced() == []


async def test_an_inbox_repair_prompt_shows_the_earlier_answer_and_our_feedback(tmp_path: Path) -> None:
    repair = request().followed_by("my first try", "The JSON is invalid: line 1. Send it again.")
    text = render_prompt(repair, tmp_path / "answers" / "x.md")
    assert text.index("Turn 1: user") < text.index("Turn 2: assistant") < text.index("Turn 3: user (feedback")
    assert "my first try" in text and "The JSON is invalid: line 1." in text


async def test_an_answer_already_in_the_inbox_is_used_without_waiting(tmp_path: Path) -> None:
    (tmp_path / "answers").mkdir()
    (tmp_path / "answers" / f"{request().key()}.md").write_text("answered last run")
    backend = InboxBackend(tmp_path, poll_seconds=60, stream=io.StringIO())
    with anyio.fail_after(5):
        response = await backend.complete(request())
    assert (response.text, response.model) == ("answered last run", "inbox")
    assert inbox_status(tmp_path) == []


async def test_an_unanswered_inbox_prompt_times_out_and_stays_pending(tmp_path: Path) -> None:
    backend = InboxBackend(tmp_path, poll_seconds=0.01, timeout=0.05, stream=io.StringIO())
    with anyio.fail_after(5), pytest.raises(InboxTimeout, match="no answer after"):
        await backend.complete(request())
    assert [p.key for p in inbox_status(tmp_path)] == [request().key()]


# -- live backends over a mocked transport -----------------------------------------------------


def sse(*events: dict[str, Any]) -> bytes:
    return "".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in events).encode()


def anthropic_reply(body: dict[str, Any], text: str) -> httpx2.Response:
    usage = {"input_tokens": 120, "output_tokens": 30, "cache_read_input_tokens": 80}
    message = {"id": "msg_1", "type": "message", "role": "assistant", "model": MODEL, "stop_sequence": None}
    if not body.get("stream"):
        content = [{"type": "text", "text": text}]
        return httpx2.Response(200, json={**message, "content": content, "stop_reason": "end_turn", "usage": usage})
    events = sse(
        {"type": "message_start", "message": {**message, "content": [], "stop_reason": None, "usage": usage}},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": text}},
        {"type": "content_block_stop", "index": 0},
        {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None}, "usage": usage},
        {"type": "message_stop"},
    )
    return httpx2.Response(200, content=events, headers={"content-type": "text/event-stream"})


def quiet_retrier() -> tuple[Retrier, list[float]]:
    slept: list[float] = []

    async def sleep(seconds: float) -> None:
        slept.append(seconds)

    return Retrier(sleep=sleep, rng=random.Random(0)), slept


@pytest.mark.parametrize("stream", [True, False])
async def test_the_anthropic_backend_retries_an_overload_then_returns_the_text_and_usage(stream: bool) -> None:
    bodies: list[dict[str, Any]] = []

    def handler(http_request: httpx2.Request) -> httpx2.Response:
        body = json.loads(http_request.content)
        bodies.append(body)
        if len(bodies) == 1:
            return httpx2.Response(529, json={"type": "error", "error": {"type": "overloaded_error", "message": "x"}})
        return anthropic_reply(body, "the answer")

    http = httpx2.AsyncClient(transport=httpx2.MockTransport(handler))
    client = anthropic.AsyncAnthropic(api_key="test", base_url="http://fake.invalid", max_retries=0, http_client=http)
    retrier, slept = quiet_retrier()
    backend = AnthropicBackend(MODEL, client=client, retrier=retrier, stream=stream)
    ledger = Ledger()
    req = request().followed_by("draft", "fix it")
    with anyio.fail_after(5):
        response = await LLM(backend, ledger=ledger).complete(req)

    assert len(bodies) == 2 and len(slept) == 1
    body = bodies[1]
    assert body["system"] == "You design systems." and body["max_tokens"] == 16000 and body["model"] == MODEL
    assert body.get("stream", False) is stream
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]
    assert body["messages"][2]["content"] == "fix it"
    assert (response.text, response.model, response.stop_reason) == ("the answer", MODEL, "end_turn")
    assert (response.input_tokens, response.output_tokens) == (200, 30)
    assert ledger.entries[0].input_tokens == 200
    assert ledger.total().dollars == pytest.approx((120 * 3 + 80 * 0.3 + 30 * 15) / 1e6)


async def test_the_openai_backend_retries_a_server_error_then_returns_the_text_and_usage() -> None:
    bodies: list[dict[str, Any]] = []
    headers: list[str | None] = []

    def handler(http_request: httpx2.Request) -> httpx2.Response:
        assert str(http_request.url) == "http://vllm.invalid/v1/chat/completions"
        bodies.append(json.loads(http_request.content))
        headers.append(http_request.headers.get("authorization"))
        if len(bodies) == 1:
            return httpx2.Response(503, json={"error": {"message": "busy"}})
        choice = {"message": {"role": "assistant", "content": "hello"}, "finish_reason": "stop"}
        usage = {"prompt_tokens": 40, "completion_tokens": 9}
        return httpx2.Response(200, json={"model": "qwen3", "choices": [choice], "usage": usage})

    retrier, slept = quiet_retrier()
    http = httpx2.AsyncClient(transport=httpx2.MockTransport(handler))
    backend = OpenAIBackend("http://vllm.invalid/v1/", "qwen3", api_key="sk-test", http_client=http, retrier=retrier)
    with anyio.fail_after(5):
        response = await backend.complete(request(max_tokens=500))

    assert len(slept) == 1 and headers[1] == "Bearer sk-test"
    assert bodies[1] == {
        "model": "qwen3",
        "max_tokens": 500,
        "messages": [
            {"role": "system", "content": "You design systems."},
            {"role": "user", "content": "Design a library system."},
        ],
    }
    assert response == Response("hello", "qwen3", 40, 9, "stop")


def test_llm_values_name_backends(tmp_path: Path) -> None:
    default = parse_backend("anthropic", recording_dir=tmp_path)
    assert isinstance(default, AnthropicBackend) and default.model == DEFAULT_ANTHROPIC_MODEL
    assert parse_backend("anthropic:claude-haiku-4-5", recording_dir=tmp_path).name == "anthropic:claude-haiku-4-5"
    openai = parse_backend("openai:http://h:8000/v1#qwen", recording_dir=tmp_path)
    assert isinstance(openai, OpenAIBackend) and (openai.base_url, openai.model) == ("http://h:8000/v1", "qwen")
    replay = parse_backend("replay", recording_dir=tmp_path)
    assert isinstance(replay, ReplayBackend) and replay.recording.dir == tmp_path
    other = parse_backend(f"replay:{tmp_path / 'x'}", recording_dir=tmp_path)
    assert isinstance(other, ReplayBackend) and other.recording.dir == tmp_path / "x"
    assert isinstance(parse_backend(f"inbox:{tmp_path}", recording_dir=tmp_path), InboxBackend)
    for bad in ("scripted", "openai:http://h", "inbox", "anthropic:", "gpt"):
        with pytest.raises(ValueError):
            parse_backend(bad, recording_dir=tmp_path)


# -- the ledger --------------------------------------------------------------------------------


def test_the_ledger_totals_costs_per_stage_env_and_scenario_and_counts_cached_answers_as_saved() -> None:
    ledger = Ledger()
    priced = Response("x", MODEL, input_tokens=1_000_000, output_tokens=100_000)
    ledger.record(request(stage="design", env="library"), priced, cached=False)
    ledger.record(request(stage="code", env="library", scenario="library/s1"), priced, cached=False)
    ledger.record(request(stage="code", env="clinic"), priced, cached=True)
    ledger.record(request(stage="code", env="clinic"), Response("y", "mystery-model", 10, 10), cached=False)

    one_call = 3.0 + 1.5
    assert ledger.by_stage()["design"].dollars == pytest.approx(one_call)
    code = ledger.by_stage()["code"]
    assert (code.calls, code.cached) == (2, 1)
    assert code.dollars == pytest.approx(one_call) and code.saved_dollars == pytest.approx(one_call)
    assert ledger.by_env()["library"].dollars == pytest.approx(2 * one_call)
    assert ledger.by_env()["clinic"].input_tokens == 10
    assert list(ledger.by_scenario()) == ["library/s1"]
    total = ledger.total()
    assert (total.calls, total.cached, total.output_tokens) == (3, 1, 200_010)
    assert ledger.unpriced() == ["mystery-model"]

    dumped = json.loads(json.dumps(ledger.to_json()))
    assert dumped["by_stage"]["code"]["cached"] == 1 and len(dumped["entries"]) == 4
    console = Console(file=io.StringIO(), width=160, record=True)
    console.print(ledger.table("env"))
    rendered = console.export_text()
    assert "clinic" in rendered and "library" in rendered and "total" in rendered and "mystery-model" in rendered
