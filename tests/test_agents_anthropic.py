"""The Anthropic agent against a scripted fake Messages API and the real library environment server.

Also covers the shared pieces under it: the price table and the retry policy.
"""

from __future__ import annotations

import json
import random
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import anthropic
import anyio
import httpx2
import pytest
from envmint_runtime.server import build_server
from mcp import Client
from mcp_types import CallToolResult, TextContent, Tool

from envmint.contract import Scenario
from envmint.harness.agents.anthropic_agent import (
    CONVERSATION_PROMPT,
    TASK_PROMPT,
    AnthropicAgent,
    ToolNames,
)
from envmint.harness.control import Controller
from envmint.harness.episode import EpisodeContext, UserSimulator
from envmint.harness.users import ScriptedUser
from envmint.llm import FREE, Price, Retrier, StatusError, classify, cost, lookup, parse_retry_after, unpriced
from tests.conftest import HostFactory
from tests.fixtures.library import load_scenarios

pytestmark = pytest.mark.anyio

MODEL = "claude-sonnet-4-6"


# -- shared helpers (the OpenAI tests import these) --------------------------------------------


def scenario(name: str) -> Scenario:
    return next(s for s in load_scenarios() if s.id.endswith("/" + name))


@asynccontextmanager
async def open_episode(
    host_factory: HostFactory, scn: Scenario, user: UserSimulator | None = None, *, max_turns: int | None = None
) -> AsyncIterator[tuple[EpisodeContext, Controller]]:
    """An EpisodeContext on a real in-memory server loaded with the scenario's initial state."""
    async with Client(build_server(host_factory())) as client:
        control = Controller(client)
        dumped = scn.model_dump(mode="json")
        await control.load(dumped["initial_state"], now=dumped["now"], seed=scn.seed)
        tools = (await client.list_tools()).tools
        ctx = EpisodeContext(
            instructions=scn.instructions,
            tools=tools,
            kind=scn.kind,
            max_turns=max_turns or scn.max_turns,
            caller=client.call_tool,
            user=user,
            system_prompt=harness_prompt(scn, client.instructions or ""),
        )
        opening = await user.opening() if user is not None else scn.instructions
        ctx.messages += [{"role": "system", "content": ctx.system_prompt}, {"role": "user", "content": opening}]
        with anyio.fail_after(20):
            yield ctx, control


def harness_prompt(scn: Scenario, server_instructions: str) -> str:
    """A system prompt as the runner builds one (its wording does not matter here)."""
    parts = [f"[harness guide for a {scn.kind}]", "About the system:\n" + server_instructions]
    if scn.kind == "conversation":
        parts.append("Your instructions:\n" + scn.instructions)
    return "\n\n".join(parts)


def check_results(scn: Scenario, final: dict[str, Any]) -> dict[str, bool]:
    results = {}
    for check in scn.checks:
        namespace: dict[str, Any] = {}
        exec(check.source, namespace)
        results[check.id] = bool(namespace["check"](scn.initial_state, final))
    return results


class Recorder:
    """Records sleeps instead of sleeping."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def quiet_retrier(**options: Any) -> tuple[Retrier, Recorder]:
    sleeps = Recorder()
    return Retrier(rng=random.Random(7), sleep=sleeps, **options), sleeps


# -- fake Messages API -------------------------------------------------------------------------

Step = Callable[[dict[str, Any]], httpx2.Response]


def text(value: str, *, stop: str = "end_turn", usage: tuple[int, int] = (100, 20)) -> Step:
    def step(body: dict[str, Any]) -> httpx2.Response:
        return message([{"type": "text", "text": value}], stop, usage)

    return step


def tool_use(
    *calls: tuple[str, str, dict[str, Any]], say: str | None = None, usage: tuple[int, int] = (100, 20)
) -> Step:
    def step(body: dict[str, Any]) -> httpx2.Response:
        content: list[dict[str, Any]] = [{"type": "text", "text": say}] if say else []
        content += [{"type": "tool_use", "id": cid, "name": name, "input": args} for cid, name, args in calls]
        return message(content, "tool_use", usage)

    return step


def message(content: list[dict[str, Any]], stop: str, usage: tuple[int, int] | dict[str, int]) -> httpx2.Response:
    counts = usage if isinstance(usage, dict) else {"input_tokens": usage[0], "output_tokens": usage[1]}
    return httpx2.Response(
        200,
        json={
            "id": "msg_fake",
            "type": "message",
            "role": "assistant",
            "model": MODEL,
            "content": content,
            "stop_reason": stop,
            "stop_sequence": None,
            "usage": counts,
        },
    )


def failure(status: int, headers: dict[str, str] | None = None) -> Step:
    kind = {429: "rate_limit_error", 529: "overloaded_error"}.get(status, "api_error")

    def step(body: dict[str, Any]) -> httpx2.Response:
        return httpx2.Response(
            status, json={"type": "error", "error": {"type": kind, "message": "try later"}}, headers=headers
        )

    return step


class FakeAnthropic:
    """Serves scripted responses in order and keeps every request body."""

    def __init__(self, *steps: Step) -> None:
        self.steps = list(steps)
        self.requests: list[dict[str, Any]] = []

    def handler(self, request: httpx2.Request) -> httpx2.Response:
        assert request.url.path == "/v1/messages"
        body = json.loads(request.content)
        self.requests.append(body)
        if not self.steps:
            raise AssertionError("the agent called the model more often than scripted")
        return self.steps.pop(0)(body)

    def client(self) -> anthropic.AsyncAnthropic:
        return anthropic.AsyncAnthropic(
            api_key="test",
            base_url="http://fake.invalid",
            max_retries=0,
            http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(self.handler)),
        )


def agent_for(fake: FakeAnthropic, **options: Any) -> AnthropicAgent:
    retrier, _ = quiet_retrier()
    options.setdefault("retrier", retrier)
    return AnthropicAgent(MODEL, client=fake.client(), **options)


def tool_results(body: dict[str, Any]) -> list[dict[str, Any]]:
    last = body["messages"][-1]
    assert last["role"] == "user"
    return [block for block in last["content"] if block["type"] == "tool_result"]


# -- episodes ----------------------------------------------------------------------------------


async def test_a_task_episode_runs_tools_across_turns_feeds_back_errors_and_ends_on_text(
    library_host_factory: HostFactory,
) -> None:
    scn = scenario("pickup_and_borrow")
    seen: list[dict[str, Any]] = []

    def turn2(body: dict[str, Any]) -> httpx2.Response:
        results = tool_results(body)
        assert [r["tool_use_id"] for r in results] == ["toolu_1", "toolu_2"]
        assert not any(r["is_error"] for r in results)
        holds = json.loads(results[0]["content"])
        assert [h["id"] for h in holds["holds"]] == ["HOLD-0B2001", "HOLD-0B2003"]
        assert "9780547928227" in results[1]["content"]
        seen.append(body)
        return tool_use(
            ("toolu_3", "checkout_book", {"member_id": "M-1006", "book_id": "9780451524935"}),
            ("toolu_4", "cancel_hold", {"hold_id": "HOLD-0B9999"}),
            say="Collecting the ready hold first.",
        )(body)

    def turn3(body: dict[str, Any]) -> httpx2.Response:
        results = tool_results(body)
        assert [(r["tool_use_id"], r["is_error"]) for r in results] == [("toolu_3", False), ("toolu_4", True)]
        assert "HOLD-0B9999" in results[1]["content"]
        seen.append(body)
        return tool_use(
            ("toolu_5", "cancel_hold", {"hold_id": "HOLD-0B2001"}),
            ("toolu_6", "checkout_book", {"member_id": "M-1006", "book_id": "9780547928227"}),
        )(body)

    fake = FakeAnthropic(
        tool_use(
            ("toolu_1", "list_member_holds", {"member_id": "M-1006"}),
            ("toolu_2", "search_books", {"query": "Hobbit", "field": "title"}),
        ),
        turn2,
        turn3,
        text("Farid now has Nineteen Eighty-Four and The Hobbit on loan, and his Sapiens hold is cancelled."),
    )
    async with open_episode(library_host_factory, scn) as (ctx, control):
        await agent_for(fake).run(ctx)
        final = await control.state()

    assert check_results(scn, final) == {
        "collected_hold": True,
        "borrowed_hobbit": True,
        "sapiens_hold_cancelled": True,
    }
    assert ctx.turns == 4 and ctx.tool_calls == 6 and ctx.finished

    # Every request carries the system prompt, the tools and the whole history so far.
    assert len(fake.requests) == 4
    for number, body in enumerate(fake.requests):
        assert body["model"] == MODEL
        assert body["system"] == ctx.system_prompt and "circulation desk" in body["system"]
        assert {t["name"] for t in body["tools"]} >= {"checkout_book", "cancel_hold", "list_member_holds"}
        assert all(t["input_schema"]["type"] == "object" for t in body["tools"])
        assert body["messages"][0] == {"role": "user", "content": scn.instructions}
        assert len(body["messages"]) == 1 + 2 * number
    last = fake.requests[-1]["messages"]
    assert [m["role"] for m in last] == ["user", "assistant", "user", "assistant", "user", "assistant", "user"]
    uses = [b["id"] for m in last if m["role"] == "assistant" for b in m["content"] if b["type"] == "tool_use"]
    answered = [
        b["tool_use_id"] for m in last if m["role"] == "user" and isinstance(m["content"], list) for b in m["content"]
    ]
    assert uses == answered == [f"toolu_{n}" for n in range(1, 7)]
    assert last[3]["content"][0] == {"type": "text", "text": "Collecting the ready hold first."}

    # The trajectory is recorded in the OpenAI format, with the model's call ids.
    assistant = [m for m in ctx.messages if m["role"] == "assistant"]
    assert [len(m.get("tool_calls", [])) for m in assistant] == [2, 2, 2, 0]
    assert assistant[1]["content"] == "Collecting the ready hold first."
    assert assistant[-1]["content"].startswith("Farid now has")
    tool_messages = [m for m in ctx.messages if m["role"] == "tool"]
    assert [m["tool_call_id"] for m in tool_messages] == uses


async def test_a_conversation_asks_the_user_for_their_id_acts_and_ends_when_the_user_stops(
    library_host_factory: HostFactory,
) -> None:
    scn = scenario("pay_and_borrow_conversation")
    assert scn.user is not None
    user = ScriptedUser(
        "Hello. I'd like to borrow To Kill a Mockingbird today, please.",
        [("card number", f"It's {scn.user.facts['member_id']}."), ("750", "Yes, I'll pay all of it by card.")],
    )

    def after_answer(body: dict[str, Any]) -> httpx2.Response:
        assert body["messages"][-1] == {"role": "user", "content": "It's M-1005."}
        return tool_use(("toolu_1", "get_member", {"member_id": "M-1005"}))(body)

    def after_lookup(body: dict[str, Any]) -> httpx2.Response:
        member = json.loads(tool_results(body)[0]["content"])
        assert member["member"]["fines_cents"] == 750 and not member["can_borrow"]
        return text("You have 750 cents in fines, which blocks borrowing. Would you like to pay the 750 now?")(body)

    fake = FakeAnthropic(
        text("Happy to help. What is your library card number?"),
        after_answer,
        after_lookup,
        tool_use(
            ("toolu_2", "pay_fine", {"member_id": "M-1005", "amount_cents": 750}),
            ("toolu_3", "search_books", {"query": "Mockingbird"}),
        ),
        tool_use(("toolu_4", "checkout_book", {"member_id": "M-1005", "book_id": "9780061120084"})),
        text("Paid, and To Kill a Mockingbird is checked out to you until 23 March. Anything else?"),
    )
    async with open_episode(library_host_factory, scn, user) as (ctx, control):
        await agent_for(fake).run(ctx)
        final = await control.state()

    assert all(check_results(scn, final).values())
    assert ctx.user_stopped and ctx.finished and ctx.turns == 6
    assert user.heard == [
        "Happy to help. What is your library card number?",
        "You have 750 cents in fines, which blocks borrowing. Would you like to pay the 750 now?",
        "Paid, and To Kill a Mockingbird is checked out to you until 23 March. Anything else?",
    ]
    assert fake.requests[0]["system"] == ctx.system_prompt
    assert fake.requests[0]["messages"] == [{"role": "user", "content": await user.opening()}]
    roles = [m["role"] for m in ctx.messages]
    assert roles == [
        "system", "user", "assistant", "user", "assistant", "tool", "assistant", "user",
        "assistant", "tool", "tool", "assistant", "tool", "assistant",
    ]  # fmt: skip


async def test_overloaded_and_rate_limited_calls_are_retried_with_backoff_and_retry_after(
    library_host_factory: HostFactory,
) -> None:
    retrier, sleeps = quiet_retrier(base_delay=2.0)
    fake = FakeAnthropic(failure(529), failure(429, {"retry-after": "7"}), failure(500), text("Nothing to do."))
    agent = AnthropicAgent(MODEL, client=fake.client(), retrier=retrier)
    async with open_episode(library_host_factory, scenario("renew_what_is_allowed")) as (ctx, _):
        await agent.run(ctx)
    assert len(fake.requests) == 4 and ctx.turns == 1 and ctx.finished
    assert sleeps.waits == retrier.waits
    first, second, third = sleeps.waits
    assert 1.5 <= first <= 2.5  # 2s, +-25% jitter
    assert second == 7.0  # the server's retry-after wins
    assert 6.0 <= third <= 10.0  # 2 * 2**2 = 8s, +-25%
    assert fake.requests[0] == fake.requests[3]


async def test_a_connection_error_is_retried_but_a_bad_request_is_not(library_host_factory: HostFactory) -> None:
    def broken(body: dict[str, Any]) -> httpx2.Response:
        raise httpx2.ConnectError("refused")

    fake = FakeAnthropic(broken, text("ok"))
    retrier, sleeps = quiet_retrier()
    async with open_episode(library_host_factory, scenario("renew_what_is_allowed")) as (ctx, _):
        await AnthropicAgent(MODEL, client=fake.client(), retrier=retrier).run(ctx)
    assert len(sleeps.waits) == 1 and ctx.finished

    fake = FakeAnthropic(failure(400), text("never"))
    retrier, sleeps = quiet_retrier()
    async with open_episode(library_host_factory, scenario("renew_what_is_allowed")) as (ctx, _):
        with pytest.raises(anthropic.BadRequestError):
            await AnthropicAgent(MODEL, client=fake.client(), retrier=retrier).run(ctx)
    assert sleeps.waits == [] and len(fake.requests) == 1


async def test_retries_stop_after_max_attempts_and_raise_the_last_error(library_host_factory: HostFactory) -> None:
    fake = FakeAnthropic(*[failure(529)] * 3)
    retrier, sleeps = quiet_retrier(max_attempts=3)
    async with open_episode(library_host_factory, scenario("renew_what_is_allowed")) as (ctx, _):
        with pytest.raises(anthropic.APIStatusError) as raised:
            await AnthropicAgent(MODEL, client=fake.client(), retrier=retrier).run(ctx)
    assert raised.value.status_code == 529
    assert len(sleeps.waits) == 2 and len(fake.requests) == 3


async def test_usage_and_cost_accumulate_over_turns_including_cache_tokens(library_host_factory: HostFactory) -> None:
    def cached_text(body: dict[str, Any]) -> httpx2.Response:
        usage = {"input_tokens": 1500, "output_tokens": 100, "cache_read_input_tokens": 500}
        return message([{"type": "text", "text": "Done."}], "end_turn", usage)

    fake = FakeAnthropic(
        tool_use(("toolu_1", "get_member", {"member_id": "M-1004"}), usage=(1000, 200)),
        cached_text,
    )
    async with open_episode(library_host_factory, scenario("renew_what_is_allowed")) as (ctx, _):
        await agent_for(fake).run(ctx)
    assert (ctx.usage.input_tokens, ctx.usage.output_tokens) == (3000, 300)
    expected = (1000 * 3 + 200 * 15) / 1e6 + (1500 * 3 + 500 * 0.3 + 100 * 15) / 1e6
    assert ctx.usage.cost_usd == pytest.approx(expected)


async def test_the_turn_limit_stops_the_loop_cleanly(library_host_factory: HostFactory) -> None:
    looping = tool_use(("toolu_x", "get_member", {"member_id": "M-1004"}))
    fake = FakeAnthropic(*[looping] * 5)
    async with open_episode(library_host_factory, scenario("renew_what_is_allowed"), max_turns=3) as (ctx, _):
        await agent_for(fake).run(ctx)
    assert len(fake.requests) == 3 and ctx.turns == 3 and ctx.tool_calls == 3
    assert not ctx.finished


async def test_a_max_tokens_text_reply_counts_as_the_final_message(library_host_factory: HostFactory) -> None:
    fake = FakeAnthropic(text("I renewed the loans that were eligib", stop="max_tokens"))
    async with open_episode(library_host_factory, scenario("renew_what_is_allowed")) as (ctx, _):
        await agent_for(fake).run(ctx)
    assert ctx.finished and ctx.messages[-1] == {"role": "assistant", "content": "I renewed the loans that were eligib"}


async def test_an_unknown_tool_gets_an_error_result_without_reaching_the_server(
    library_host_factory: HostFactory,
) -> None:
    def check(body: dict[str, Any]) -> httpx2.Response:
        results = tool_results(body)
        assert results[0]["is_error"] and "Unknown tool 'delete_everything'" in results[0]["content"]
        assert not results[1]["is_error"]
        return text("Done.")(body)

    fake = FakeAnthropic(
        tool_use(("toolu_1", "delete_everything", {}), ("toolu_2", "get_member", {"member_id": "M-1004"})), check
    )
    async with open_episode(library_host_factory, scenario("renew_what_is_allowed")) as (ctx, _):
        await agent_for(fake).run(ctx)
    assert ctx.tool_calls == 1 and ctx.finished


async def test_tool_names_are_sanitized_for_the_api_and_mapped_back_for_the_server() -> None:
    names = ToolNames.of(["loans.search", "loans_search", "x" * 70, "ok-name"])
    assert names.to_api == {
        "loans.search": "loans_search",
        "loans_search": "loans_search_2",
        "x" * 70: "x" * 64,
        "ok-name": "ok-name",
    }
    assert names.resolve("loans_search_2") == "loans_search"
    assert names.resolve("loans.search") == "loans.search"
    assert names.resolve("nope") is None

    called: list[tuple[str, dict[str, Any]]] = []

    async def caller(name: str, arguments: dict[str, Any]) -> CallToolResult:
        called.append((name, arguments))
        return CallToolResult(content=[TextContent(type="text", text='{"hits": 0}')])

    schema = {"type": "object", "properties": {"q": {"type": "string"}}}
    ctx = EpisodeContext(
        instructions="Search the loans.",
        tools=[Tool(name="loans.search", description="Search loans.", input_schema=schema)],
        kind="task",
        max_turns=5,
        caller=caller,
    )
    fake = FakeAnthropic(tool_use(("toolu_1", "loans_search", {"q": "x"})), text("No loans."))
    await agent_for(fake).run(ctx)
    assert fake.requests[0]["tools"] == [
        {"name": "loans_search", "description": "Search loans.", "input_schema": schema}
    ]
    assert called == [("loans.search", {"q": "x"})]
    assert ctx.messages[0]["tool_calls"][0]["function"]["name"] == "loans.search"


async def test_without_a_harness_prompt_the_built_in_prompts_are_used() -> None:
    fake = FakeAnthropic(text("Done."), text("Hello! What can I do for you?"))
    task = EpisodeContext(instructions="Renew my loans.", tools=[], kind="task", max_turns=2, caller=_no_calls)
    await agent_for(fake).run(task)
    assert fake.requests[0]["system"] == TASK_PROMPT
    assert fake.requests[0]["messages"] == [{"role": "user", "content": "Renew my loans."}]

    chat = EpisodeContext(
        instructions="Staff the loans desk.",
        tools=[],
        kind="conversation",
        max_turns=2,
        caller=_no_calls,
        user=ScriptedUser("Hi."),
    )
    chat.messages.append({"role": "user", "content": "Hi."})
    await agent_for(fake).run(chat)
    assert fake.requests[1]["system"] == CONVERSATION_PROMPT + "\n\n# Your instructions\n\nStaff the loans desk."
    assert chat.user_stopped

    override = FakeAnthropic(text("ok"))
    await agent_for(override, system_prompt="Be brief.").run(
        EpisodeContext(instructions="x", tools=[], kind="task", max_turns=1, caller=_no_calls, system_prompt="ignored")
    )
    assert override.requests[0]["system"] == "Be brief."


async def test_the_agent_name_and_temperature_are_passed_through() -> None:
    fake = FakeAnthropic(text("Hi."))
    agent = agent_for(fake, temperature=0.3, max_tokens=77)
    assert agent.name == f"anthropic:{MODEL}"
    ctx = EpisodeContext(instructions="Say hi.", tools=[], kind="task", max_turns=2, caller=_no_calls)
    await agent.run(ctx)
    body = fake.requests[0]
    assert body["temperature"] == 0.3 and body["max_tokens"] == 77 and "tools" not in body


async def _no_calls(name: str, arguments: dict[str, Any]) -> CallToolResult:
    raise AssertionError("no tool call expected")


# -- prices ------------------------------------------------------------------------------------


def test_prices_match_by_longest_prefix_without_crossing_versions() -> None:
    assert lookup("claude-opus-4-20250514") == Price(15.0, 75.0)
    assert lookup("claude-opus-4-1-20250805") == Price(15.0, 75.0)
    assert lookup("claude-opus-4-6") == Price(5.0, 25.0)
    assert lookup("claude-sonnet-4-6") == Price(3.0, 15.0)
    assert lookup("claude-haiku-4-5@20251001") == Price(1.0, 5.0)
    assert lookup("us.anthropic.claude-sonnet-4-20250514-v1:0") == Price(3.0, 15.0)
    assert lookup("claude-opus-4-9") is None  # a newer version is not priced as Opus 4
    assert lookup("gpt-oss-120b") is None


def test_cost_of_known_unknown_and_overridden_models(caplog: pytest.LogCaptureFixture) -> None:
    assert cost("claude-sonnet-4-6", 1_000_000, 1_000_000) == pytest.approx(18.0)
    assert cost("claude-haiku-4-5", 2000, 1000) == pytest.approx(0.007)
    assert cost("claude-opus-4-6", 0, 0, cache_write_tokens=1_000_000, cache_read_tokens=1_000_000) == pytest.approx(
        5 * 1.25 + 5 * 0.1
    )
    with caplog.at_level("WARNING"):
        assert cost("acme-unknown-model-x", 10_000, 10_000) == 0.0
        assert cost("acme-unknown-model-x", 10_000, 10_000) == 0.0
    assert "acme-unknown-model-x" in unpriced()
    assert sum("acme-unknown-model-x" in r.getMessage() for r in caplog.records) == 1
    assert cost("Qwen/Qwen3-8B", 10_000, 10_000, price=FREE) == 0.0
    assert "Qwen/Qwen3-8B" not in unpriced()


# -- retry policy ------------------------------------------------------------------------------


def test_retry_classification_and_retry_after_parsing() -> None:
    assert classify(StatusError(529, "overloaded")).retry
    assert classify(StatusError(503, "", {"Retry-After": "3"})).retry_after == 3.0
    assert classify(StatusError(429, "", {"retry-after-ms": "1500"})).retry_after == 1.5
    assert not classify(StatusError(400, "bad")).retry
    assert not classify(StatusError(503, "", {"x-should-retry": "false"})).retry
    assert classify(StatusError(400, "", {"x-should-retry": "true"})).retry
    assert classify(httpx2.ReadTimeout("slow")).retry
    assert not classify(ValueError("bug")).retry
    try:
        raise RuntimeError("wrapped") from httpx2.ConnectError("refused")
    except RuntimeError as wrapped:
        assert classify(wrapped).retry
    assert parse_retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:10 GMT"}, now=lambda: 1445412480.0) == 10.0
    assert parse_retry_after({"retry-after": "soon"}) is None


def test_backoff_grows_exponentially_is_capped_and_jittered_from_the_injected_rng() -> None:
    steady = Retrier(base_delay=1.0, max_delay=10.0, jitter=0.0)
    assert [steady.delay(n) for n in range(1, 7)] == [1.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    assert steady.delay(1, retry_after=1000.0) == steady.max_retry_after
    a, b = Retrier(rng=random.Random(1)), Retrier(rng=random.Random(1))
    delays = [a.delay(n) for n in range(1, 5)]
    assert delays == [b.delay(n) for n in range(1, 5)]
    assert all(0.75 * 2 ** (n - 1) <= d <= 1.25 * 2 ** (n - 1) for n, d in enumerate(delays, start=1))
    with pytest.raises(ValueError):
        Retrier(max_attempts=0)
