"""Skeleton stage (f): exploratory testing in the sandbox, an LLM judge, and repair of failing tools.

A tester proposes positive and negative calls; they run against the real server (emitted to a
temporary folder, sandboxed, with state checks on); a crash, timeout, bad result or a query that
writes is a failure by itself, and a judge grades the rest against the rules. Failing tools go back
to the model with the concrete failures; tools that still fail are withdrawn rather than the whole
environment discarded.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from envmint.contract import EnvironmentSpec, ToolCall
from generator.llm.types import GateError, ParseError
from generator.parsing import json_object
from generator.probe import CallRecord, candidate, run_calls
from generator.stages.code import Implementation, parse_code, tool_lines
from generator.stages.common import Context, bullet, pretty
from generator.stages.design import Design


@dataclass
class Quality:
    not_fail: float
    rounds: int
    withdrawn: list[str] = field(default_factory=list)
    verdicts: dict[str, int] = field(default_factory=dict)


def _parse_cases(text: str, tools: set[str]) -> list[tuple[ToolCall, str, str]]:
    items = json_object(text, "cases")
    if not isinstance(items, list) or not items:
        raise ParseError('"cases" must be a non-empty list.')
    cases = []
    for index, item in enumerate(items, 1):
        if not isinstance(item, dict) or item.get("tool") not in tools or not isinstance(item.get("arguments"), dict):
            raise GateError(f"case {index} must name one of the tools and give an arguments object.")
        cases.append(
            (
                ToolCall(tool=item["tool"], arguments=item["arguments"]),
                str(item.get("case", "")),
                str(item.get("expect", "")),
            )
        )
    missing = sorted(tools - {c.tool for c, _, _ in cases})
    if missing:
        raise GateError(f"Every tool needs test calls; none for: {', '.join(missing)}.")
    return cases


def _parse_verdicts(text: str, count: int) -> list[tuple[str, str]]:
    items = json_object(text, "verdicts")
    if not isinstance(items, list):
        raise ParseError('"verdicts" must be a list.')
    found: dict[int, tuple[str, str]] = {}
    for item in items:
        if not isinstance(item, dict) or item.get("verdict") not in ("pass", "warning", "fail"):
            raise GateError("every verdict is an object with verdict pass, warning or fail.")
        found[int(item.get("index", 0))] = (item["verdict"], str(item.get("reason", "")))
    missing = sorted(set(range(1, count + 1)) - set(found))
    if missing:
        raise GateError(f"judge every case; missing: {', '.join(map(str, missing))}.")
    return [found[i] for i in range(1, count + 1)]


MAX_CHANGES_SHOWN = 40
"""State changes listed per call in the judge's prompt (a bulk operation can change dozens of records)."""


def _clip(value: Any, limit: int = 400) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _results(records: list[CallRecord], cases: list[tuple[ToolCall, str, str]]) -> str:
    blocks = []
    for index, (record, (_, kind, expect)) in enumerate(zip(records, cases, strict=False), 1):
        outcome = "returned" if record.ok else "refused/failed with"
        changes = "; ".join(
            f"{c['path']}: {_clip(c.get('before', '(absent)'), 80)} -> {_clip(c.get('after', '(removed)'), 80)}"
            for c in record.changes[:MAX_CHANGES_SHOWN]
        )
        if len(record.changes) > MAX_CHANGES_SHOWN:
            changes += f"; and {len(record.changes) - MAX_CHANGES_SHOWN} more changes"
        blocks.append(
            f"{index}. {record.tool}({_clip(record.arguments, 200)}) [{kind}; expected: {expect}]\n"
            f"   {outcome}: {_clip(record.text)}\n   state changes: {changes or 'none'}"
        )
    return "\n".join(blocks)


async def assure(
    ctx: Context, plan: Design, impl: Implementation, state: dict[str, Any], build: Any
) -> tuple[Implementation, Quality]:
    """Test, judge and repair ``impl``; ``build(impl)`` makes the candidate EnvironmentSpec."""
    names = [t.name for t in impl.tools]
    spec: EnvironmentSpec = build(impl)
    cases = await ctx.ask(
        "explore",
        "explore",
        lambda text: _parse_cases(text, set(names)),
        env=plan.id,
        output='a ```json block {"cases": [...]}',
        name=plan.name,
        description=plan.description,
        rules=bullet(plan.rules),
        tools=tool_lines(impl.tools),
        state=pretty(state),
        count=2 * len(names) + 4,
    )
    calls = [call for call, _, _ in cases]
    quality = Quality(not_fail=0.0, rounds=0)
    failing: dict[str, list[str]] = {}
    for round_ in range(ctx.settings.repair_rounds + 1):
        quality.rounds = round_ + 1
        async with candidate(spec) as server:
            records, _ = await run_calls(server, state, ctx.settings.default_now, calls)
        judged = await ctx.ask(
            "judge",
            "judge",
            partial(_parse_verdicts, count=len(records)),
            env=plan.id,
            output='a ```json block {"verdicts": [...]}',
            name=plan.name,
            description=plan.description,
            rules=bullet(plan.rules),
            results=_results(records, cases),
        )
        failing = defaultdict(list)
        counts: dict[str, int] = defaultdict(int)
        for index, (record, (verdict, reason)) in enumerate(zip(records, judged, strict=False), 1):
            if record.unexpected:
                verdict, reason = "fail", f"the tool broke: {record.text}"
            counts[verdict] += 1
            ctx.report.gate("quality.call", verdict != "fail")
            if verdict == "fail":
                call = f"{record.tool}({_clip(record.arguments, 200)})"
                failing[record.tool].append(f"case {index}: {call} -> {_clip(record.text, 300)}; {reason}")
        quality.verdicts = dict(sorted(counts.items()))
        quality.not_fail = (counts["pass"] + counts["warning"]) / max(1, len(records))
        if not failing or round_ == ctx.settings.repair_rounds:
            break
        failures = "\n".join(f"- {line}" for tool in sorted(failing) for line in failing[tool])
        impl = await ctx.ask(
            "repair_code",
            "repair_code",
            partial(parse_code, class_name=impl.class_name, names=names),
            env=plan.id,
            output="the whole corrected module in one ```python block",
            source=impl.source,
            failures=failures,
        )
        spec = build(impl)
    if failing:
        quality.withdrawn = sorted(failing)
        for tool in quality.withdrawn:
            ctx.report.drop(f"{plan.id}.{tool}", "quality", "; ".join(failing[tool])[:500])
        impl = Implementation(impl.source, impl.class_name, [t for t in impl.tools if t.name not in failing])
    ctx.report.gate("quality.not_fail", quality.not_fail >= ctx.settings.not_fail_threshold)
    return impl, quality
