"""Scenario: one task (or conversation) on one environment, with the means to grade it."""

from __future__ import annotations

import ast
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from envmint.contract.common import (
    ENV_ID_PATTERN,
    SCENARIO_ID_PATTERN,
    TOOL_NAME_PATTERN,
    ContractModel,
    Instant,
    Provenance,
)

CHECK_FUNCTION = "check"
"""Every validator defines ``def check(initial_state, final_state) -> bool``."""


class SimulatedUser(ContractModel):
    """The person an agent serves in a conversational scenario."""

    persona: str = Field(min_length=1, description="Who the user is and how they talk.")
    goal: str = Field(min_length=1, description="What the user wants done, in their own terms.")
    facts: dict[str, str] = Field(
        default_factory=dict,
        description="Private facts the user reveals only when asked (e.g. member id, dates).",
    )


class Check(ContractModel):
    """One checklist item and the validator that decides it from the states alone."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")
    description: str = Field(min_length=1, description="The item, e.g. 'Has the loan L-1 been returned?'")
    source: str = Field(
        min_length=1, description=f"Python defining `def {CHECK_FUNCTION}(initial_state, final_state)`."
    )

    @field_validator("source")
    @classmethod
    def _defines_check(cls, source: str) -> str:
        try:
            tree = ast.parse(source)
        except SyntaxError as exc:
            raise ValueError(f"validator source does not parse: line {exc.lineno}: {exc.msg}") from None
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and node.name == CHECK_FUNCTION:
                params = [a.arg for a in node.args.args]
                if len(params) != 2:
                    raise ValueError(f"{CHECK_FUNCTION}() must take (initial_state, final_state), not {params}")
                return source
        raise ValueError(f"validator source must define a top-level function `{CHECK_FUNCTION}`")


class ToolCall(ContractModel):
    """One call in a reference solution."""

    tool: str = Field(pattern=TOOL_NAME_PATTERN)
    arguments: dict[str, Any] = Field(default_factory=dict)


class Scenario(ContractModel):
    """A graded episode: start state, what the agent is told, and how success is decided."""

    spec_version: Literal[1] = 1
    id: str = Field(pattern=SCENARIO_ID_PATTERN, description="`<env_id>/<name>`, unique in the catalog.")
    env_id: str = Field(pattern=ENV_ID_PATTERN)
    kind: Literal["task", "conversation"]
    instructions: str = Field(min_length=1, description="What the agent is told at the start.")
    user: SimulatedUser | None = Field(default=None, description="Required for conversations, absent for tasks.")
    initial_state: dict[str, Any]
    now: Instant = Field(description="The environment clock's instant for this episode.")
    seed: int = Field(default=0, ge=0, description="Seed of the environment's id and random source.")
    checks: list[Check] = Field(
        default_factory=list, description="The checklist. An empty list marks an ungraded scenario."
    )
    reference_solution: list[ToolCall] = Field(default_factory=list)
    max_turns: int = Field(default=30, ge=1, le=500)
    provenance: Provenance

    @model_validator(mode="after")
    def _consistent(self) -> Scenario:
        if not self.id.startswith(self.env_id + "/"):
            raise ValueError(f"id {self.id!r} must start with the env_id {self.env_id!r} and a slash")
        if self.kind == "conversation" and self.user is None:
            raise ValueError("a conversation scenario needs a simulated user")
        if self.kind == "task" and self.user is not None:
            raise ValueError("a task scenario has no simulated user")
        ids = [c.id for c in self.checks]
        if len(ids) != len(set(ids)):
            raise ValueError("check ids must be unique within a scenario")
        return self

    @property
    def graded(self) -> bool:
        return bool(self.checks)
