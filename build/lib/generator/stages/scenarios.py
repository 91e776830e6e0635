"""Scenario stages: initial states, tasks and conversations, validators, reference solutions, gates.

Per batch: one rich initial state; one prompt writing several scenarios on it (instructions, simulated
user, reference solution, checklist); the reference solutions replay through the real server; one
prompt writing the validators from the changes each replay made; then every soundness gate. A
scenario that fails a gate goes back to the model with the concrete problems, or is dropped with
its reason.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import anyio

from envmint.contract import Check, EnvironmentSpec, Provenance, Scenario, SimulatedUser, ToolCall
from generator import __version__, templates
from generator.codecheck import lint_validator
from generator.llm.client import RepairExhausted
from generator.llm.types import GateError, ParseError
from generator.parsing import json_object
from generator.probe import candidate
from generator.soundness import ABSENT, Soundness, check_soundness, leaf_changes
from generator.stages.code import initial_state, tool_lines
from generator.stages.common import Context, bullet, pretty
from generator.stages.design import Design

NAME = re.compile(r"^[a-z0-9][a-z0-9_]{2,60}$")
FLAVORS = [
    "an ordinary busy working day with a mix of everything",
    "the end of a month: deadlines, renewals and balances coming due",
    "a period after a disruption (a closure, an outage or a supplier problem) with backlogs to clear",
    "a quiet week with some records in unusual or borderline states",
    "peak season: capacity nearly exhausted and many pending requests",
]
PROMPTS = ("state", "scenarios", "checks", "repair_scenario")


@dataclass
class Draft:
    name: str
    kind: str
    instructions: str
    user: dict[str, Any] | None
    reference: list[ToolCall]
    checklist: list[dict[str, str]]
    checks: list[Check] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.name, "kind": self.kind, "instructions": self.instructions}
        if self.user is not None:
            data["user"] = self.user
        data["reference_solution"] = [c.model_dump() for c in self.reference]
        data["checklist"] = self.checklist
        data["checks"] = [{"id": c.id, "source": c.source} for c in self.checks]
        return data


def plan_of(spec: EnvironmentSpec) -> Design:
    return Design(spec.id, spec.name, spec.domain, spec.description, list(spec.rules), [], spec.state_schema)


def _draft(item: Any, tools: set[str], *, with_checks: bool) -> Draft:
    if not isinstance(item, dict):
        raise ParseError("every scenario must be a JSON object.")
    name = str(item.get("name", ""))
    if not NAME.match(name):
        raise GateError(f"scenario name {name!r} must be snake_case, 3 to 61 characters.")
    kind = item.get("kind")
    if kind not in ("task", "conversation"):
        raise GateError(f"scenario {name}: kind must be task or conversation.")
    user = item.get("user")
    if kind == "conversation":
        if not isinstance(user, dict) or not all(isinstance(user.get(k), str) and user[k] for k in ("persona", "goal")):
            raise GateError(f"scenario {name}: a conversation needs user.persona and user.goal.")
        facts = user.get("facts", {})
        if not isinstance(facts, dict) or not facts:
            raise GateError(f"scenario {name}: a conversation needs user.facts the agent must ask for.")
        user = {"persona": user["persona"], "goal": user["goal"], "facts": {str(k): str(v) for k, v in facts.items()}}
    else:
        user = None
    reference = []
    for index, call in enumerate(item.get("reference_solution") or [], 1):
        if (
            not isinstance(call, dict)
            or call.get("tool") not in tools
            or not isinstance(call.get("arguments", {}), dict)
        ):
            raise GateError(
                f"scenario {name}: reference call {index} must name a tool of the system with an arguments object."
            )
        reference.append(ToolCall(tool=call["tool"], arguments=call.get("arguments", {})))
    if not reference:
        raise GateError(f"scenario {name}: the reference solution is empty.")
    checklist = []
    for entry in item.get("checklist") or []:
        if not isinstance(entry, dict) or not re.match(r"^[a-z0-9][a-z0-9_-]{0,63}$", str(entry.get("id", ""))):
            raise GateError(f"scenario {name}: every checklist item needs a snake_case id and a description.")
        checklist.append({"id": str(entry["id"]), "description": str(entry.get("description", ""))})
    if not 1 <= len(checklist) <= 6:
        raise GateError(f"scenario {name}: the checklist needs 1 to 6 items.")
    draft = Draft(name, kind, str(item.get("instructions", "")).strip(), user, reference, checklist)
    if not draft.instructions:
        raise GateError(f"scenario {name}: instructions are empty.")
    if with_checks:
        draft.checks = _checks_for(draft, item.get("checks"))
    return draft


def _checks_for(draft: Draft, items: Any) -> list[Check]:
    by_id = {str(c.get("id")): c for c in items or [] if isinstance(c, dict)}
    checks = []
    for entry in draft.checklist:
        found = by_id.get(entry["id"])
        if found is None or not isinstance(found.get("source"), str):
            raise GateError(f"scenario {draft.name}: no validator for checklist item {entry['id']}.")
        findings = lint_validator(found["source"])
        if findings:
            raise GateError(f"scenario {draft.name}, check {entry['id']}: " + "; ".join(f.message for f in findings))
        try:
            checks.append(
                Check(id=entry["id"], description=entry["description"] or entry["id"], source=found["source"])
            )
        except ValueError as exc:
            raise GateError(f"scenario {draft.name}, check {entry['id']}: {exc}") from None
    return checks


def _parse_drafts(text: str, tools: set[str], count: int, conversations: int) -> list[Draft]:
    items = json_object(text, "scenarios")
    if not isinstance(items, list):
        raise ParseError('"scenarios" must be a list.')
    drafts = [_draft(item, tools, with_checks=False) for item in items]
    if len(drafts) != count:
        raise GateError(f"write exactly {count} scenarios; there are {len(drafts)}.")
    if sum(d.kind == "conversation" for d in drafts) < conversations:
        raise GateError(f"at least {conversations} scenarios must be conversations.")
    if len({d.name for d in drafts}) != len(drafts):
        raise GateError("scenario names must be unique.")
    return drafts


def _parse_checks(text: str, drafts: list[Draft]) -> dict[str, list[Check]]:
    items = json_object(text, "scenarios")
    if not isinstance(items, list):
        raise ParseError('"scenarios" must be a list.')
    by_name = {str(i.get("name")): i for i in items if isinstance(i, dict)}
    out = {}
    for draft in drafts:
        if draft.name not in by_name:
            raise GateError(f"no validators for scenario {draft.name}.")
        out[draft.name] = _checks_for(draft, by_name[draft.name].get("checks"))
    return out


def _changes_text(sound: Soundness, initial: dict[str, Any]) -> str:
    lines = [f"  {i}. {r.tool}({json.dumps(r.arguments)}) -> {r.text[:300]}" for i, r in enumerate(sound.records, 1)]
    for path, before, after in leaf_changes(initial, sound.final_state)[:40]:
        shown_before = "(absent)" if before is ABSENT else json.dumps(before)
        shown_after = "(removed)" if after is ABSENT else json.dumps(after)
        lines.append(f"  $.{'.'.join(path)}: {shown_before[:200]} -> {shown_after[:200]}")
    return "\n".join(lines)


def _scenario_section(draft: Draft, sound: Soundness, initial: dict[str, Any]) -> str:
    checklist = "\n".join(f"  - {c['id']}: {c['description']}" for c in draft.checklist)
    return (
        f"## Scenario {draft.name} ({draft.kind})\nInstructions: {draft.instructions}\nChecklist:\n{checklist}\n"
        f"Reference solution and the changes it made (path: before -> after):\n{_changes_text(sound, initial)}"
    )


def to_scenario(spec: EnvironmentSpec, draft: Draft, initial: dict[str, Any], ctx: Context, tag: str) -> Scenario:
    return Scenario(
        id=f"{spec.id}/{draft.name}",
        env_id=spec.id,
        kind=draft.kind,  # type: ignore[arg-type]
        instructions=draft.instructions,
        user=SimulatedUser(**draft.user) if draft.user else None,
        initial_state=initial,
        now=ctx.settings.default_now,
        seed=0,
        checks=draft.checks,
        reference_solution=draft.reference,
        max_turns=max(12, 2 * len(draft.reference) + 8),
        provenance=Provenance(
            created_by="pipeline",
            generator_version=__version__,
            model=ctx.model,
            prompt_hashes={name: templates.prompt_hash(name) for name in PROMPTS},
            source=f"{spec.id}#{tag}",
        ),
    )


async def batch(ctx: Context, spec: EnvironmentSpec, index: int, count: int, conversations: int) -> list[Scenario]:
    """One batch: a state, ``count`` scenarios on it, validated and gated."""
    plan, tag = plan_of(spec), f"batch-{index:02d}"
    names = {t.name for t in spec.tools}
    initial = await initial_state(
        ctx, plan, spec.tools, flavor=FLAVORS[index % len(FLAVORS)], env=spec.id, scenario=tag
    )
    drafts = await ctx.ask(
        "scenarios",
        "scenarios",
        lambda text: _parse_drafts(text, names, count, conversations),
        env=spec.id,
        scenario=tag,
        output='a ```json block {"scenarios": [...]}',
        name=spec.name,
        domain=spec.domain,
        description=spec.description,
        rules=bullet(spec.rules),
        tools=tool_lines(spec.tools),
        state=pretty(initial),
        now=ctx.settings.default_now,
        count=count,
        conversations=conversations,
    )
    accepted: list[Scenario] = []
    async with candidate(spec) as server:
        replays: dict[str, Soundness] = {}
        for draft in drafts:
            sound = await check_soundness(server, initial, ctx.settings.default_now, draft.reference, None)
            fixed = await _settle(ctx, spec, server, initial, draft, sound) if sound.problems else (draft, sound)
            if fixed is not None:
                replays[fixed[0].name] = fixed[1]
                drafts[drafts.index(draft)] = fixed[0]
        ready = [d for d in drafts if d.name in replays]
        if not ready:
            return accepted
        sections = "\n\n".join(_scenario_section(d, replays[d.name], initial) for d in ready)
        try:
            checks = await ctx.ask(
                "checks",
                "checks",
                lambda text: _parse_checks(text, ready),
                env=spec.id,
                scenario=tag,
                output='a ```json block {"scenarios": [{"name", "checks": [...]}]}',
                name=spec.name,
                description=spec.description,
                scenarios=sections,
            )
        except RepairExhausted as exc:
            for draft in ready:
                ctx.report.drop(f"{spec.id}/{draft.name}", "checks", str(exc))
            return accepted
        for draft in ready:
            draft.checks = checks[draft.name]
            sound = await check_soundness(server, initial, ctx.settings.default_now, draft.reference, draft.checks)
            fixed = await _settle(ctx, spec, server, initial, draft, sound) if sound.problems else (draft, sound)
            if fixed is None:
                continue
            final_draft, final_sound = fixed
            ctx.report.notes.setdefault("kill", {})[f"{spec.id}/{final_draft.name}"] = [
                final_sound.killed,
                final_sound.perturbations,
            ]
            accepted.append(to_scenario(spec, final_draft, initial, ctx, tag))
    return accepted


async def _settle(
    ctx: Context, spec: EnvironmentSpec, server: Any, initial: dict[str, Any], draft: Draft, sound: Soundness
) -> tuple[Draft, Soundness] | None:
    """Repair a draft that failed a gate until it passes, or drop it with its reason."""
    with_checks = bool(draft.checks)
    names = {t.name for t in spec.tools}
    for _ in range(ctx.settings.repair_rounds):
        ctx.report.gate("scenario.soundness", False)
        problems = bullet(sound.problems[:12])
        try:
            draft = await ctx.ask(
                "repair_scenario",
                "repair_scenario",
                lambda text: _draft(json_object(text), names, with_checks=with_checks),
                env=spec.id,
                scenario=draft.name,
                output="the whole corrected scenario in one ```json block",
                scenario_name=draft.name,
                problems=problems,
                current=pretty(draft.as_json()),
            )
        except RepairExhausted as exc:
            ctx.report.drop(f"{spec.id}/{draft.name}", "repair_scenario", str(exc))
            return None
        sound = await check_soundness(
            server, initial, ctx.settings.default_now, draft.reference, draft.checks if with_checks else None
        )
        if not sound.problems:
            ctx.report.gate("scenario.soundness", True)
            return draft, sound
    ctx.report.gate("scenario.soundness", False)
    ctx.report.drop(f"{spec.id}/{draft.name}", "soundness", "; ".join(sound.problems)[:500])
    return None


def batch_of(scenario: Scenario) -> int | None:
    """The batch a scenario came from (its provenance source ends with ``#batch-NN``)."""
    _, _, tag = scenario.provenance.source.rpartition("#batch-")
    return int(tag) if tag.isdigit() else None


async def generate(ctx: Context, spec: EnvironmentSpec, batches: list[tuple[int, int]]) -> list[Scenario]:
    """Run ``(batch index, scenario count)`` batches concurrently; results in batch order."""
    talk = ctx.settings.conversations_per_batch
    results: list[list[Scenario]] = [[] for _ in batches]

    async def run(position: int, index: int, amount: int) -> None:
        try:
            results[position] = await batch(ctx, spec, index, amount, min(talk, amount))
        except RepairExhausted as exc:
            ctx.report.drop(f"{spec.id}/batch-{index:02d}", "scenarios", str(exc))

    async with anyio.create_task_group() as group:
        for position, (index, amount) in enumerate(batches):
            group.start_soon(run, position, index, amount)
    scenarios = [scenario for result in results for scenario in result]
    ctx.report.made("scenarios", len(scenarios))
    return scenarios
