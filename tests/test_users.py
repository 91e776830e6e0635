"""Simulated users: the deterministic scripted user and the model-backed one (with fake completions)."""

from __future__ import annotations

import json
from typing import Any

import anthropic
import httpx2
import pytest

from envmint.contract import SimulatedUser
from envmint.harness.episode import UserSimulator
from envmint.harness.users import GREETING, STOP_TOKEN, LLMUser, ScriptedUser, user_factory, user_system_prompt
from envmint.llm import Completion
from tests.test_agents_anthropic import quiet_retrier, scenario

pytestmark = pytest.mark.anyio


def elena() -> SimulatedUser:
    user = scenario("pay_and_borrow_conversation").user
    assert user is not None
    return user


class FakeCompleter:
    """Answers with scripted lines and keeps what it was asked."""

    def __init__(self, *lines: str) -> None:
        self.lines = list(lines)
        self.calls: list[tuple[str, list[dict[str, str]]]] = []

    async def __call__(self, system: str, messages: list[dict[str, str]]) -> Completion:
        self.calls.append((system, [dict(m) for m in messages]))
        return Completion(self.lines.pop(0), input_tokens=200, output_tokens=10, cost_usd=0.001)


# -- ScriptedUser ------------------------------------------------------------------------------


async def test_a_scripted_user_answers_by_trigger_and_stops_when_the_script_is_used_up() -> None:
    user = ScriptedUser(
        "I'd like to borrow a book.",
        [("member id", "M-1005"), ("email", "elena.rossi@example.org"), (None, "Thanks!")],
    )
    assert await user.opening() == "I'd like to borrow a book."
    assert await user.reply("What is your EMAIL address?") == "elena.rossi@example.org"
    assert await user.reply("And your member ID?") == "M-1005"
    assert await user.reply("All done.") == "Thanks!"
    assert user.rules_left == []
    assert await user.reply("Anything else?") is None
    assert user.done and await user.reply("Hello?") is None
    assert user.said == ["elena.rossi@example.org", "M-1005", "Thanks!"]
    assert len(user.heard) == 5


async def test_a_scripted_user_uses_the_fallback_when_nothing_matches_and_stops_on_the_done_marker() -> None:
    user = ScriptedUser("Hi.", [("member id", "M-1005")], fallback="Sorry, what do you mean?", done_marker="[done]")
    assert await user.reply("How is the weather?") == "Sorry, what do you mean?"
    assert await user.reply("Your member id, please.") == "M-1005"
    user = ScriptedUser("Hi.", [(None, "a"), (None, "b")], done_marker="[done]")
    assert await user.reply("Finished. [DONE]") is None

    strict = ScriptedUser("Hi.", [("member id", "M-1005")])
    assert await strict.reply("How is the weather?") is None


async def test_a_scripted_user_can_be_a_function_and_is_bounded_by_max_replies() -> None:
    user = ScriptedUser("Hi.", lambda message: None if "bye" in message else f"You said: {message}", max_replies=2)
    assert await user.reply("one") == "You said: one"
    assert await user.reply("bye") is None

    user = ScriptedUser("Hi.", lambda message: "again", max_replies=2)
    assert [await user.reply("x") for _ in range(3)] == ["again", "again", None]


def test_both_users_satisfy_the_user_simulator_protocol() -> None:
    users: list[UserSimulator] = [ScriptedUser("Hi."), LLMUser(elena(), FakeCompleter())]
    assert all(u.usage.cost_usd == 0.0 for u in users)


# -- LLMUser -----------------------------------------------------------------------------------


def test_the_user_prompt_carries_persona_goal_and_every_fact_verbatim() -> None:
    brief = elena()
    prompt = user_system_prompt(brief)
    assert brief.persona in prompt and brief.goal in prompt
    for key, value in brief.facts.items():
        assert f"- {key}: {value}" in prompt
    assert STOP_TOKEN in prompt
    assert "(no particular details" in user_system_prompt(SimulatedUser(persona="P.", goal="G."))


async def test_the_llm_user_opens_replies_and_stop_token_ends_the_conversation() -> None:
    fake = FakeCompleter(
        "Hello, I'd like to borrow To Kill a Mockingbird.",
        "It's M-1005.",
        "Thank you! ###STOP###",
    )
    user = LLMUser(elena(), fake)
    assert await user.opening() == "Hello, I'd like to borrow To Kill a Mockingbird."
    assert await user.reply("Could I have your member id?") == "It's M-1005."
    assert await user.reply("All done, the book is yours.") is None
    assert user.stopped and await user.reply("Anything else?") is None
    assert len(fake.calls) == 3

    system, messages = fake.calls[-1]
    assert system == user.system_prompt and "M-1005" in system and elena().goal in system
    assert messages == [
        {"role": "user", "content": GREETING},
        {"role": "assistant", "content": "Hello, I'd like to borrow To Kill a Mockingbird."},
        {"role": "user", "content": "Could I have your member id?"},
        {"role": "assistant", "content": "It's M-1005."},
        {"role": "user", "content": "All done, the book is yours."},
    ]
    assert user.history[-1] == {"role": "assistant", "content": STOP_TOKEN}
    assert (user.usage.input_tokens, user.usage.output_tokens) == (600, 30)
    assert user.usage.cost_usd == pytest.approx(0.003)


async def test_the_llm_user_retries_empty_answers_and_respects_max_replies() -> None:
    user = LLMUser(elena(), FakeCompleter("Hi there.", "", "  ", "Yes."), max_replies=1)
    await user.opening()
    assert await user.reply("Question?") == "Yes."
    assert await user.reply("Another?") is None  # max_replies reached, no model call
    assert user.usage.input_tokens == 4 * 200

    silent = LLMUser(elena(), FakeCompleter("Hi.", "", ""), empty_retries=1)
    await silent.opening()
    assert await silent.reply("Question?") is None

    stops_at_once = LLMUser(elena(), FakeCompleter(STOP_TOKEN))
    assert await stops_at_once.opening() == "Hello."
    assert stops_at_once.history == [{"role": "user", "content": GREETING}, {"role": "assistant", "content": "Hello."}]


async def test_the_llm_user_runs_on_the_anthropic_client() -> None:
    requests: list[dict[str, Any]] = []
    lines = ["Hi, I'm here to borrow a book.", STOP_TOKEN]

    def handler(request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        requests.append(body)
        return httpx2.Response(
            200,
            json={
                "id": "msg_u",
                "type": "message",
                "role": "assistant",
                "model": "claude-haiku-4-5",
                "content": [{"type": "text", "text": lines.pop(0)}],
                "stop_reason": "end_turn",
                "stop_sequence": None,
                "usage": {"input_tokens": 1000, "output_tokens": 100},
            },
        )

    client = anthropic.AsyncAnthropic(
        api_key="test",
        base_url="http://fake.invalid",
        max_retries=0,
        http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(handler)),
    )
    retrier, _ = quiet_retrier()
    user = LLMUser.with_anthropic(elena(), "claude-haiku-4-5", client=client, retrier=retrier, max_replies=5)
    assert await user.opening() == "Hi, I'm here to borrow a book."
    assert await user.reply("Done, it's yours.") is None
    assert requests[0]["system"] == user.system_prompt and "tools" not in requests[0]
    assert requests[1]["messages"][-1] == {"role": "user", "content": "Done, it's yours."}
    assert user.usage.cost_usd == pytest.approx(2 * (1000 * 1 + 100 * 5) / 1e6)


async def test_the_llm_user_runs_on_an_openai_compatible_endpoint() -> None:
    requests: list[dict[str, Any]] = []

    def handler(request: httpx2.Request) -> httpx2.Response:
        requests.append(json.loads(request.content))
        return httpx2.Response(
            200,
            json={
                "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": "M-1005"}, "finish_reason": "stop"}
                ],
                "usage": {"prompt_tokens": 50, "completion_tokens": 3},
            },
        )

    retrier, _ = quiet_retrier()
    user = LLMUser.with_openai(
        elena(),
        "user-model",
        base_url="http://vllm.invalid/v1",
        http_client=httpx2.AsyncClient(transport=httpx2.MockTransport(handler)),
        retrier=retrier,
    )
    assert await user.reply("Your member id?") == "M-1005"
    assert requests[0]["messages"][0] == {"role": "system", "content": user.system_prompt}
    # Without an opening, the greeting and the agent's message form one user turn.
    assert requests[0]["messages"][1:] == [{"role": "user", "content": f"{GREETING}\n\nYour member id?"}]
    assert "tools" not in requests[0]
    assert (user.usage.input_tokens, user.usage.output_tokens) == (50, 3)


def test_the_user_factory_makes_llm_users_for_conversations_only() -> None:
    make = user_factory("anthropic:claude-haiku-4-5", max_replies=4)
    conversation = scenario("pay_and_borrow_conversation")
    user = make(conversation)
    assert isinstance(user, LLMUser) and user.max_replies == 4 and user.user == conversation.user
    assert make(scenario("pickup_and_borrow")) is None
    assert isinstance(user_factory("openai:http://localhost:8000/v1#qwen")(conversation), LLMUser)
    for bad in ("openai:http://localhost:8000/v1", "anthropic:", "gpt-4o"):
        with pytest.raises(ValueError):
            user_factory(bad)
