"""Simulated users for conversational scenarios.

:class:`ScriptedUser` is deterministic (tests, smoke runs): a fixed opening line and either
trigger rules or a function. :class:`LLMUser` has a model play the scenario's
:class:`~envmint.contract.SimulatedUser` (persona, goal, private facts) and ends the
conversation by answering with :data:`STOP_TOKEN`. Both follow the ``UserSimulator`` protocol:
``await opening()``, ``await reply(agent_message)`` (None when the user is done), ``usage``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from envmint.contract import Scenario, SimulatedUser
from envmint.harness.episode import Usage, UserSimulator
from envmint.llm import Price, Retrier, TextCompleter

STOP_TOKEN = "###STOP###"
GREETING = "Hello, how can I help you today?"

Rule = tuple[str | None, str]
"""(trigger, reply): the reply fits an agent message containing ``trigger`` (any message if None)."""

Responder = Callable[[str], str | None]


class ScriptedUser:
    """A user who follows a script.

    With rules, each agent message is answered by the first unused rule whose trigger occurs in it
    (case-insensitively; a None trigger matches anything), and that rule is used up. When no rule
    is left the user is done (``reply`` returns None); when rules are left but none matches, the
    user says ``fallback`` (None: the user is done). With a function, its return value is the
    reply. Either way the user is done as soon as an agent message contains ``done_marker``, or
    after ``max_replies`` replies. ``heard`` and ``said`` keep both sides of the conversation.
    """

    def __init__(
        self,
        opening: str,
        script: Sequence[Rule] | Responder = (),
        *,
        done_marker: str | None = None,
        fallback: str | None = None,
        max_replies: int | None = None,
    ) -> None:
        self._opening = opening
        self._responder: Responder | None = script if callable(script) else None
        self._rules: list[Rule] = [] if callable(script) else list(script)
        self.done_marker = done_marker
        self.fallback = fallback
        self.max_replies = max_replies
        self.usage = Usage()
        self.heard: list[str] = []
        self.said: list[str] = []
        self.done = False

    @property
    def rules_left(self) -> list[Rule]:
        return list(self._rules)

    async def opening(self) -> str:
        return self._opening

    async def reply(self, agent_message: str) -> str | None:
        self.heard.append(agent_message)
        answer = None if self.done else self._answer(agent_message)
        if answer is None:
            self.done = True
            return None
        self.said.append(answer)
        return answer

    def _answer(self, message: str) -> str | None:
        if self.done_marker is not None and self.done_marker.lower() in message.lower():
            return None
        if self.max_replies is not None and len(self.said) >= self.max_replies:
            return None
        if self._responder is not None:
            return self._responder(message)
        if not self._rules:
            return None
        lowered = message.lower()
        for index, (trigger, text) in enumerate(self._rules):
            if trigger is None or trigger.lower() in lowered:
                del self._rules[index]
                return text
        return self.fallback


def user_system_prompt(user: SimulatedUser) -> str:
    """The simulator's instructions for playing ``user``."""
    if user.facts:
        facts = "\n".join(f"- {key}: {value}" for key, value in user.facts.items())
    else:
        facts = "- (no particular details beyond the description above)"
    return f"""\
You are playing a person who has come to a service agent for help. The agent's messages arrive as \
the other side of this chat, and everything you write is said by the person. Stay in character \
for the whole conversation.

# Who you are
{user.persona}

# What you want
{user.goal}

# What you know
These details are private. Give one only when the agent asks for it, or when you cannot answer \
the agent's question without it:
{facts}

# How to talk
- Write only what the person says out loud: usually one or two short sentences, with no \
narration, stage directions, name labels or quotation marks.
- Begin by saying what you want in your own words, without reciting every detail at once.
- Give details only when asked, one at a time, and copy ids, names, emails, numbers and titles \
exactly as written above.
- Never make up a detail that is not in this brief. If the agent asks for something you do not \
know, say that you don't know.
- You are not the staff: do not tell the agent which steps to take or which tools to use.
- Turn down offers that do not fit what you want, and do not ask for anything beyond your goal.
- Do not repeat yourself.
- Once your goal has been fully met, or it is clear that it cannot be met, answer with exactly \
{STOP_TOKEN} on its own and nothing else."""


class LLMUser:
    """A model playing the scenario's user through a text-completion callable.

    From the model's side of the chat the agent speaks as ``user`` and the person as
    ``assistant``; the exchange starts from a short agent greeting. A reply containing
    :data:`STOP_TOKEN` ends the conversation (``reply`` returns None), as does reaching
    ``max_replies`` replies or ``empty_retries`` + 1 empty answers in a row.
    """

    def __init__(
        self,
        user: SimulatedUser,
        complete: TextCompleter,
        *,
        max_replies: int = 30,
        greeting: str = GREETING,
        empty_retries: int = 2,
        fallback_opening: str = "Hello.",
    ) -> None:
        self.user = user
        self.complete = complete
        self.max_replies = max_replies
        self.greeting = greeting
        self.empty_retries = empty_retries
        self.fallback_opening = fallback_opening
        self.system_prompt = user_system_prompt(user)
        self.history: list[dict[str, str]] = []
        self.usage = Usage()
        self.replies = 0
        self.stopped = False

    @classmethod
    def with_anthropic(
        cls,
        user: SimulatedUser,
        model: str,
        *,
        client: Any = None,
        max_tokens: int = 512,
        temperature: float | None = None,
        retrier: Retrier | None = None,
        price: Price | None = None,
        **options: Any,
    ) -> LLMUser:
        """A user played by a Claude model (``client``: an ``anthropic.AsyncAnthropic``)."""
        from envmint.harness.agents.anthropic_agent import AnthropicCompleter

        completer = AnthropicCompleter(
            model, client=client, max_tokens=max_tokens, temperature=temperature, retrier=retrier, price=price
        )
        return cls(user, completer, **options)

    @classmethod
    def with_openai(
        cls,
        user: SimulatedUser,
        model: str,
        *,
        base_url: str = "http://localhost:8000/v1",
        api_key: str | None = None,
        http_client: Any = None,
        max_tokens: int = 512,
        temperature: float | None = None,
        retrier: Retrier | None = None,
        price: Price | None = None,
        **options: Any,
    ) -> LLMUser:
        """A user played by a model behind an OpenAI-compatible endpoint (``http_client``: ``httpx2.AsyncClient``)."""
        from envmint.harness.agents.openai_agent import OpenAICompleter

        completer = OpenAICompleter(
            model,
            base_url=base_url,
            api_key=api_key,
            http_client=http_client,
            max_tokens=max_tokens,
            temperature=temperature,
            retrier=retrier,
            price=price,
        )
        return cls(user, completer, **options)

    async def opening(self) -> str:
        self.history = [{"role": "user", "content": self.greeting}]
        text = await self._next()
        if text is None:
            # A user who "stops" before saying anything still has to open the conversation.
            if self.history[-1]["role"] == "assistant":
                self.history.pop()
            self.history.append({"role": "assistant", "content": self.fallback_opening})
            return self.fallback_opening
        return text

    async def reply(self, agent_message: str) -> str | None:
        if self.stopped:
            return None
        if self.replies >= self.max_replies:
            self.stopped = True
            return None
        if not self.history:
            self.history = [{"role": "user", "content": self.greeting}]
        if self.history[-1]["role"] == "user":  # two agent messages in a row: merge them
            self.history[-1] = {"role": "user", "content": self.history[-1]["content"] + "\n\n" + agent_message}
        else:
            self.history.append({"role": "user", "content": agent_message})
        text = await self._next()
        if text is None:
            self.stopped = True
            return None
        self.replies += 1
        return text

    async def _next(self) -> str | None:
        """The person's next line, recorded in the history; None when they stop."""
        for _ in range(self.empty_retries + 1):
            completion = await self.complete(self.system_prompt, list(self.history))
            self.usage.add(completion.input_tokens, completion.output_tokens, completion.cost_usd)
            text = completion.text.strip()
            if STOP_TOKEN in text:
                self.history.append({"role": "assistant", "content": STOP_TOKEN})
                return None
            if text:
                self.history.append({"role": "assistant", "content": text})
                return text
        return None


def user_factory(
    spec: str, *, max_replies: int = 30, max_tokens: int = 512, retrier: Retrier | None = None
) -> Callable[[Scenario], UserSimulator | None]:
    """One fresh :class:`LLMUser` per conversational scenario, played by the model named like an
    agent: ``anthropic:<model>`` or ``openai:<base_url>#<model>``. The users of one factory share
    one completer (and so one HTTP client). Task scenarios get no user."""
    completer: TextCompleter
    if spec.startswith("anthropic:") and spec.removeprefix("anthropic:"):
        from envmint.harness.agents.anthropic_agent import AnthropicCompleter

        completer = AnthropicCompleter(spec.removeprefix("anthropic:"), max_tokens=max_tokens, retrier=retrier)
    elif spec.startswith("openai:"):
        from envmint.harness.agents.openai_agent import OpenAICompleter

        base_url, _, model = spec.removeprefix("openai:").partition("#")
        if not base_url or not model:
            raise ValueError("an OpenAI-compatible user model is named openai:<base_url>#<model>")
        completer = OpenAICompleter(model, base_url=base_url, max_tokens=max_tokens, retrier=retrier)
    else:
        raise ValueError(f"unknown user model {spec!r}; use anthropic:<model> or openai:<base_url>#<model>")

    def make(scenario: Scenario) -> UserSimulator | None:
        if scenario.user is None:
            return None
        return LLMUser(scenario.user, completer, max_replies=max_replies)

    return make


__all__ = [
    "GREETING",
    "STOP_TOKEN",
    "LLMUser",
    "Responder",
    "Rule",
    "ScriptedUser",
    "user_factory",
    "user_system_prompt",
]
