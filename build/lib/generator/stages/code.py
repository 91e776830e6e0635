"""Skeleton stages (d) and (e): the environment class, its tool schemas, and its default state."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from jsonschema import Draft202012Validator
from pydantic import ValidationError

from envmint.contract import ToolSpec
from generator.codecheck import derive_tools, lint_description, lint_environment
from generator.llm.types import GateError
from generator.parsing import json_block, python_block
from generator.stages.common import Context, bullet, pretty
from generator.stages.design import Design, Operation

CLASS = re.compile(r"^class\s+([A-Z][A-Za-z0-9]*)\s*\(\s*Environment\s*\)", re.MULTILINE)


@dataclass(frozen=True)
class Implementation:
    source: str
    class_name: str
    tools: list[ToolSpec]


def class_name_for(plan: Design) -> str:
    words = re.findall(r"[A-Za-z0-9]+", plan.name) or ["Environment"]
    name = "".join(w[:1].upper() + w[1:] for w in words)
    return name if name[:1].isalpha() else f"Env{name}"


def _findings(findings: Sequence[Any]) -> str:
    return "\n".join(f"- line {f.line}: {f.message}" for f in findings)


def check_implementation(source: str, class_name: str, names: Sequence[str]) -> Implementation:
    """Gate a class: the static lint, derivable schemas for exactly ``names``, valid ToolSpecs."""
    findings = lint_environment(source, class_name, list(names))
    if findings:
        raise GateError("The code breaks these rules:\n" + _findings(findings))
    derived = derive_tools(source, class_name)
    if derived.findings:
        raise GateError("The tool schemas cannot be derived from the code:\n" + _findings(derived.findings))
    tools = []
    for entry in derived.tools:
        problems = lint_description(entry["description"])
        if problems:
            raise GateError(f"The docstring of {entry['name']} is not acceptable:\n" + _findings(problems))
        try:
            tools.append(ToolSpec.model_validate(entry))
        except ValidationError as exc:
            first = exc.errors()[0]
            raise GateError(f"Tool {entry['name']}: {first['msg']} (at {'.'.join(map(str, first['loc']))}).") from None
    order = {name: i for i, name in enumerate(names)}
    tools.sort(key=lambda t: order.get(t.name, len(order)))
    return Implementation(source, class_name, tools)


def parse_code(text: str, class_name: str, names: Sequence[str]) -> Implementation:
    return check_implementation(python_block(text), class_name, names)


async def implement(ctx: Context, plan: Design, ops: list[Operation]) -> Implementation:
    class_name = class_name_for(plan)
    names = [o.name for o in ops]
    return await ctx.ask(
        "code",
        "code",
        lambda text: parse_code(text, class_name, names),
        env=plan.id,
        output="a short analysis, then the whole module in one ```python block",
        name=plan.name,
        domain=plan.domain,
        description=plan.description,
        rules=bullet(plan.rules),
        state_schema=pretty(plan.state_schema),
        operations="\n".join(o.line() for o in ops),
        class_name=class_name,
    )


def state_problems(schema: dict[str, Any], state: Any, limit: int = 8) -> list[str]:
    validator = Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(state), key=lambda e: [str(p) for p in e.absolute_path])
    out = []
    for error in errors[:limit]:
        path = "$" + "".join(f"[{p!r}]" if isinstance(p, str) else f"[{p}]" for p in error.absolute_path)
        out.append(f"{path}: {error.message[:200]}")
    return out


def parse_state(text: str, schema: dict[str, Any]) -> dict[str, Any]:
    state = json_block(text)
    if not isinstance(state, dict):
        raise GateError("The state must be a JSON object.")
    problems = state_problems(schema, state)
    if problems:
        raise GateError("The state does not match the state schema:\n" + bullet(problems))
    return state


def tool_lines(tools: Sequence[ToolSpec]) -> str:
    lines = []
    for tool in tools:
        properties = tool.input_schema.get("properties", {})
        required = set(tool.input_schema.get("required", []))
        params = ", ".join(f"{n}{'' if n in required else '?'}: {s.get('type', 'any')}" for n, s in properties.items())
        lines.append(f"- {tool.name} [{tool.kind}]({params}): {tool.description}")
    return "\n".join(lines)


async def initial_state(
    ctx: Context, plan: Design, tools: Sequence[ToolSpec], *, flavor: str, env: str, scenario: str = ""
) -> dict[str, Any]:
    return await ctx.ask(
        "state",
        "state",
        lambda text: parse_state(text, plan.state_schema),
        env=env,
        scenario=scenario,
        output="one ```json block holding the state object",
        name=plan.name,
        domain=plan.domain,
        description=plan.description,
        rules=bullet(plan.rules),
        state_schema=pretty(plan.state_schema),
        tools=tool_lines(tools),
        now=ctx.settings.default_now,
        flavor=flavor,
    )
