"""Agent names on the command line -> agents: ``reference``, ``null``, ``random``, ``anthropic:<model>``,
``openai:<base_url>#<model>``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from envmint.contract import Scenario
from envmint.harness.agents.baselines import NullAgent, RandomAgent, ReferenceAgent
from envmint.harness.episode import Agent

AgentFactory = Callable[[Scenario, int], Agent]
BASELINES = ("reference", "null", "random")


def agent_factory(spec: str, **options: Any) -> AgentFactory:
    """A factory making one fresh agent per episode from its command-line name."""
    if spec == "reference":
        return lambda scenario, trial: ReferenceAgent(scenario)
    if spec == "null":
        return lambda scenario, trial: NullAgent()
    if spec == "random":
        return lambda scenario, trial: RandomAgent(seed=hash_seed(scenario.id, trial))
    if spec.startswith("anthropic:"):
        from envmint.harness.agents.anthropic_agent import AnthropicAgent

        model = spec.removeprefix("anthropic:")
        return lambda scenario, trial: AnthropicAgent(model=model, **options)
    if spec.startswith("openai:"):
        from envmint.harness.agents.openai_agent import OpenAIAgent

        base_url, _, model = spec.removeprefix("openai:").partition("#")
        if not base_url or not model:
            raise ValueError("an OpenAI-compatible agent is named openai:<base_url>#<model>")
        return lambda scenario, trial: OpenAIAgent(base_url=base_url, model=model, **options)
    raise ValueError(f"unknown agent {spec!r}; use reference, null, random, anthropic:<model> or openai:<url>#<model>")


def hash_seed(text: str, trial: int) -> int:
    """A seed that is stable across processes (unlike hash())."""
    value = 2166136261
    for byte in f"{text}#{trial}".encode():
        value = ((value ^ byte) * 16777619) & 0xFFFFFFFF
    return value
