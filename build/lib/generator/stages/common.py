"""What every stage shares: the model, the report, and how a prompt is asked and repaired."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from generator import templates
from generator.llm.client import LLM, RepairExhausted
from generator.llm.types import Message, Request
from generator.report import Report

T = TypeVar("T")

SYSTEM = (
    "You are a senior software engineer and domain expert who builds realistic, rule-abiding "
    "simulations of business software for training and evaluating AI agents. Follow the requested "
    "output format exactly."
)


@dataclass
class Settings:
    """Knobs of a pipeline run (all of them change what is produced, so they are explicit)."""

    min_entities: int = 4
    min_tools: int = 14
    min_queries: int = 6
    min_mutations: int = 6
    attempts: int = 3
    not_fail_threshold: float = 0.85
    repair_rounds: int = 2
    scenario_batch: int = 5
    conversations_per_batch: int = 2
    default_now: str = "2026-03-02T09:30:00Z"


@dataclass
class Context:
    llm: LLM
    report: Report = field(default_factory=Report)
    settings: Settings = field(default_factory=Settings)
    model: str = ""

    async def ask(
        self,
        stage: str,
        template: str,
        parse: Callable[[str], T],
        *,
        env: str = "",
        scenario: str = "",
        output: str = "",
        **values: Any,
    ) -> T:
        """Render ``template``, ask, parse and gate with repairs; RepairExhausted if it never passes."""
        request = Request(
            stage=stage,
            system=SYSTEM,
            messages=(Message("user", templates.render(template, **values)),),
            output=output,
            env=env,
            scenario=scenario,
        )
        try:
            result = await self.llm.ask(request, self._counting(stage, parse), attempts=self.settings.attempts)
        except RepairExhausted:
            self.report.gate(stage, False)
            raise
        self.report.gate(stage, True)
        return result

    def _counting(self, stage: str, parse: Callable[[str], T]) -> Callable[[str], T]:
        calls = 0

        def counted(text: str) -> T:
            nonlocal calls
            calls += 1
            if calls > 1:
                self.report.repaired(stage)
            return parse(text)

        return counted


def pretty(value: Any) -> str:
    return json.dumps(value, indent=1, ensure_ascii=False)


def bullet(lines: list[str]) -> str:
    return "\n".join(f"- {line}" for line in lines)
