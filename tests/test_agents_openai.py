"""The OpenAI-compatible agent against a scripted fake Chat Completions endpoint and the real library server."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx2
import pytest
from mcp_types import CallToolResult

from envmint.harness.agents.anthropic_agent import TASK_PROMPT
from envmint.harness.agents.openai_agent import OpenAIAgent
from envmint.harness.episode import EpisodeContext
from envmint.harness.users import ScriptedUser
from envmint.llm import FREE, StatusError
from tests.conftest import HostFactory
from tests.test_agents_anthropic import check_results, open_episode, quiet_retrier, scenario

pytestmark = pytest.mark.anyio

BASE_URL = "http://vllm.invalid/v1"
MODEL = "Qwen/Qwen3-8B"

Step = Callable[[dict[str, Any]], httpx2.Response]


def completion(
    content: str | None,
    tool_calls: list[dict[str, Any]] | None = None,
    *,
    finish: str | None = None,
    usage: tuple[int, int] = (120, 30),
) -> httpx2.Response:
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if tool_calls:
        message["tool_calls"] = tool_calls
    return httpx2.Response(
        200,
        json={
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "created": 1767225600,
            "model": MODEL,
            "choices": [
                {"index": 0, "message": message, "finish_reason": finish or ("tool_calls" if tool_calls else "stop")}
            ],
            "usage": {"prompt_tokens": usage[0], "completion_tokens": usage[1], "total_tokens": sum(usage)},
        },
    )


def text(value: str, **options: Any) -> Step:
    return lambda body: completion(value, **options)


def calls(*requested: tuple[str, str, dict[str, Any] | str], say: str | None = None, **options: Any) -> Step:
    tool_calls = [
        {
            "id": cid,
            "type": "function",
            "function": {"name": name, "arguments": args if isinstance(args, str) else json.dumps(args)},
        }
        for cid, name, args in requested
    ]
    return lambda body: completion(say, tool_calls, **options)


def failure(status: int, headers: dict[str, str] | None = None) -> Step:
    return lambda body: httpx2.Response(status, json={"error": {"message": "busy", "code": status}}, headers=headers)


class FakeEndpoint:
    """Serves scripted Chat Completions responses in order and keeps every request."""

    def __init__(self, *steps: Step) -> None:
        self.steps = list(steps)
        self.requests: list[dict[str, Any]] = []
        self.headers: list[httpx2.Headers] = []

    def handler(self, request: httpx2.Request) -> httpx2.Response:
        assert str(request.url) == f"{BASE_URL}/chat/completions"
        body = json.loads(request.content)
        self.requests.append(body)
        self.headers.append(request.headers)
        if not self.steps:
            raise AssertionError("the agent called the model more often than scripted")
        return self.steps.pop(0)(body)

    def agent(self, **options: Any) -> OpenAIAgent:
        retrier, _ = quiet_retrier()
        options.setdefault("retrier", retrier)
        options.setdefault("api_key", "sk-test")
        http = httpx2.AsyncClient(transport=httpx2.MockTransport(self.handler))
        return OpenAIAgent(MODEL, base_url=BASE_URL + "/", http_client=http, **options)


def tool_messages(body: dict[str, Any]) -> list[dict[str, Any]]:
    tail: list[dict[str, Any]] = []
    for message in reversed(body["messages"]):
        if message["role"] != "tool":
            break
        tail.insert(0, message)
    return tail


async def test_a_task_episode_runs_parallel_calls_in_order_and_ends_on_text(library_host_factory: HostFactory) -> None:
    scn = scenario("pickup_and_borrow")

    def turn2(body: dict[str, Any]) -> httpx2.Response:
        results = tool_messages(body)
        assert [r["tool_call_id"] for r in results] == ["call_a", "call_b"]
        assert "HOLD-0B2003" in results[0]["content"] and "9780547928227" in results[1]["content"]
        return calls(
            ("call_c", "checkout_book", {"member_id": "M-1006", "book_id": "9780451524935"}),
            ("call_d", "cancel_hold", {"hold_id": "HOLD-0B9999"}),
        )(body)

    def turn3(body: dict[str, Any]) -> httpx2.Response:
        results = tool_messages(body)
        assert [r["tool_call_id"] for r in results] == ["call_c", "call_d"]
        assert "HOLD-0B9999" in results[1]["content"]  # the error text reaches the model
        return calls(
            ("call_e", "cancel_hold", {"hold_id": "HOLD-0B2001"}),
            ("call_f", "checkout_book", {"member_id": "M-1006", "book_id": "9780547928227"}),
        )(body)

    fake = FakeEndpoint(
        calls(
            ("call_a", "list_member_holds", {"member_id": "M-1006"}),
            ("call_b", "search_books", {"query": "Hobbit"}),
            say="Let me look up the holds and the book.",
        ),
        turn2,
        turn3,
        text("Both books are checked out to Farid and the Sapiens hold is cancelled."),
    )
    agent = fake.agent()
    assert agent.name == f"openai:{BASE_URL}#{MODEL}"
    async with open_episode(library_host_factory, scn) as (ctx, control):
        await agent.run(ctx)
        final = await control.state()

    assert all(check_results(scn, final).values())
    assert ctx.turns == 4 and ctx.tool_calls == 6 and ctx.finished
    errors = [m for m in ctx.messages if m["role"] == "tool" and "HOLD-0B9999" in m["content"]]
    assert len(errors) == 1

    for number, body in enumerate(fake.requests):
        assert body["model"] == MODEL and body["tool_choice"] == "auto"
        assert {t["function"]["name"] for t in body["tools"]} >= {"checkout_book", "cancel_hold"}
        assert all(t["type"] == "function" and t["function"]["parameters"]["type"] == "object" for t in body["tools"])
        assert body["messages"][0] == {"role": "system", "content": ctx.system_prompt}
        assert body["messages"][1] == {"role": "user", "content": scn.instructions}
        assert len(body["messages"]) == 2 + 3 * number  # assistant + two tool messages per turn
    last = fake.requests[-1]["messages"]
    assert last[2]["content"] == "Let me look up the holds and the book."
    assert [c["id"] for c in last[2]["tool_calls"]] == ["call_a", "call_b"]
    assert all(h["authorization"] == "Bearer sk-test" for h in fake.headers)


async def test_a_conversation_asks_for_the_member_id_then_acts_until_the_user_stops(
    library_host_factory: HostFactory,
) -> None:
    scn = scenario("pay_and_borrow_conversation")
    user = ScriptedUser(
        "Hi, I want to borrow To Kill a Mockingbird.",
        [("member id", "M-1005"), ("pay", "Yes please, the whole 750.")],
        done_marker="Goodbye",
    )

    def after_id(body: dict[str, Any]) -> httpx2.Response:
        assert body["messages"][-1] == {"role": "user", "content": "M-1005"}
        return calls(("c1", "get_member", {"member_id": "M-1005"}))(body)

    fake = FakeEndpoint(
        text("Sure. What is your member id?"),
        after_id,
        text("You owe 750 cents. Shall I take the payment now?"),
        calls(("c2", "pay_fine", {"member_id": "M-1005", "amount_cents": 750})),
        calls(("c3", "checkout_book", {"member_id": "M-1005", "book_id": "9780061120084"})),
        text("It is checked out to you. Goodbye!"),
    )
    async with open_episode(library_host_factory, scn, user) as (ctx, control):
        await fake.agent().run(ctx)
        final = await control.state()

    assert all(check_results(scn, final).values())
    assert ctx.user_stopped and ctx.turns == 6 and user.said == ["M-1005", "Yes please, the whole 750."]
    assert fake.requests[0]["messages"][0] == {"role": "system", "content": ctx.system_prompt}
    looked_up = fake.requests[2]["messages"][-1]
    assert looked_up["role"] == "tool" and looked_up["tool_call_id"] == "c1"
    assert json.loads(looked_up["content"])["member"]["fines_cents"] == 750


async def test_server_errors_and_rate_limits_are_retried_then_succeed(library_host_factory: HostFactory) -> None:
    retrier, sleeps = quiet_retrier(base_delay=0.5)

    def dropped(body: dict[str, Any]) -> httpx2.Response:
        raise httpx2.ReadError("connection reset")

    fake = FakeEndpoint(failure(503), failure(429, {"retry-after": "4"}), dropped, text("Done."))
    async with open_episode(library_host_factory, scenario("renew_what_is_allowed")) as (ctx, _):
        await fake.agent(retrier=retrier).run(ctx)
    assert len(fake.requests) == 4 and ctx.turns == 1 and ctx.finished
    first, second, third = sleeps.waits
    assert 0.375 <= first <= 0.625 and second == 4.0 and 1.5 <= third <= 2.5


async def test_a_client_error_is_raised_at_once_with_the_body(library_host_factory: HostFactory) -> None:
    retrier, sleeps = quiet_retrier()
    fake = FakeEndpoint(lambda body: httpx2.Response(400, text="tools are not supported by this model"))
    async with open_episode(library_host_factory, scenario("renew_what_is_allowed")) as (ctx, _):
        with pytest.raises(StatusError) as raised:
            await fake.agent(retrier=retrier).run(ctx)
    assert raised.value.status_code == 400 and "not supported" in str(raised.value)
    assert sleeps.waits == []


async def test_usage_and_cost_are_accumulated_from_the_response_usage(library_host_factory: HostFactory) -> None:
    fake = FakeEndpoint(
        calls(("c1", "get_member", {"member_id": "M-1004"}), usage=(1000, 50)), text("ok", usage=(1400, 10))
    )
    async with open_episode(library_host_factory, scenario("renew_what_is_allowed")) as (ctx, _):
        await fake.agent().run(ctx)
    assert (ctx.usage.input_tokens, ctx.usage.output_tokens, ctx.usage.cost_usd) == (2400, 60, 0.0)

    priced = FakeEndpoint(text("ok", usage=(1_000_000, 1_000_000)))
    async with open_episode(library_host_factory, scenario("renew_what_is_allowed")) as (ctx, _):
        agent = priced.agent()
        agent.model = "claude-haiku-4-5"
        await agent.run(ctx)
    assert ctx.usage.cost_usd == pytest.approx(6.0)


async def test_the_turn_limit_stops_the_loop_cleanly(library_host_factory: HostFactory) -> None:
    fake = FakeEndpoint(*[calls(("c", "get_member", {"member_id": "M-1004"}))] * 4)
    async with open_episode(library_host_factory, scenario("renew_what_is_allowed"), max_turns=2) as (ctx, _):
        await fake.agent(price=FREE).run(ctx)
    assert len(fake.requests) == 2 and ctx.turns == 2 and not ctx.finished


async def test_bad_arguments_and_unknown_tools_get_error_messages_without_reaching_the_server(
    library_host_factory: HostFactory,
) -> None:
    def check(body: dict[str, Any]) -> httpx2.Response:
        results = tool_messages(body)
        assert [r["tool_call_id"] for r in results] == ["c1", "c2", "c3"]
        assert "not valid JSON" in results[0]["content"]
        assert "Unknown tool 'teleport'" in results[1]["content"]
        assert json.loads(results[2]["content"])["member"]["id"] == "M-1004"
        return text("Done.")(body)

    fake = FakeEndpoint(
        calls(
            ("c1", "get_member", '{"member_id": "M-10'),
            ("c2", "teleport", {}),
            ("c3", "get_member", {"member_id": "M-1004"}),
        ),
        check,
    )
    async with open_episode(library_host_factory, scenario("renew_what_is_allowed")) as (ctx, _):
        await fake.agent().run(ctx)
    assert ctx.tool_calls == 1 and ctx.finished


async def test_a_bare_context_gets_the_built_in_task_prompt() -> None:
    fake = FakeEndpoint(text("Nothing to do."))
    ctx = EpisodeContext(instructions="Check the desk.", tools=[], kind="task", max_turns=1, caller=_no_calls)
    await fake.agent().run(ctx)
    assert fake.requests[0]["messages"] == [
        {"role": "system", "content": TASK_PROMPT},
        {"role": "user", "content": "Check the desk."},
    ]
    assert "tools" not in fake.requests[0] and "tool_choice" not in fake.requests[0]


async def _no_calls(name: str, arguments: dict[str, Any]) -> CallToolResult:
    raise AssertionError("no tool call expected")


async def test_a_length_cut_reply_without_tool_calls_is_the_final_message(library_host_factory: HostFactory) -> None:
    fake = FakeEndpoint(text("I renewed LOAN-0A10", finish="length"))
    async with open_episode(library_host_factory, scenario("renew_what_is_allowed")) as (ctx, _):
        await fake.agent(temperature=0.2, max_tokens=64, extra_body={"top_p": 0.9}).run(ctx)
    assert ctx.finished and ctx.messages[-1]["content"] == "I renewed LOAN-0A10"
    body = fake.requests[0]
    assert (body["temperature"], body["max_tokens"], body["top_p"]) == (0.2, 64, 0.9)
