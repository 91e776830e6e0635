"""The pipeline end to end: topics -> environments (emitted to mcp_servers/) -> scenarios (scenarios/).

Everything a run writes is a function of its inputs and the model's answers, which the recording
keeps; so a rerun skips finished work, and a replay of the recording regenerates the same bytes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import anyio
from pydantic import ValidationError

from envmint.contract import (
    ContractError,
    EnvironmentSpec,
    Provenance,
    load_environment_spec,
    load_scenario,
    model_json,
)
from envmint.emit import emit
from envmint.emit.folder import write_text
from generator import __version__, templates
from generator.llm.client import RepairExhausted
from generator.stages import code, design, quality, scenarios
from generator.stages.common import Context
from generator.stages.topics import Topic

ENV_PROMPTS = ("design", "operations", "code", "state", "explore", "judge", "repair_code")


def build_spec(
    ctx: Context, plan: design.Design, impl: code.Implementation, state: dict[str, Any], topic: Topic
) -> EnvironmentSpec:
    return EnvironmentSpec(
        id=plan.id,
        name=plan.name,
        domain=plan.domain,
        description=plan.description,
        rules=plan.rules,
        state_schema=plan.state_schema,
        tools=impl.tools,
        code={"class_name": impl.class_name, "source": impl.source},  # type: ignore[arg-type]
        default_state=state,
        default_now=ctx.settings.default_now,
        provenance=Provenance(
            created_by="pipeline",
            generator_version=__version__,
            model=ctx.model,
            prompt_hashes={name: templates.prompt_hash(name) for name in ENV_PROMPTS},
            source=f"topic: {topic.name}" + (f"; seed task: {topic.examples[0]}" if topic.examples else ""),
        ),
    )


def _existing(servers_dir: Path, env_id: str) -> EnvironmentSpec | None:
    path = servers_dir / env_id / "spec.json"
    if not path.exists():
        return None
    try:
        return load_environment_spec(path)
    except ContractError:
        return None


async def environment(ctx: Context, topic: Topic, servers_dir: Path) -> EnvironmentSpec | None:
    """Synthesize, test, repair and emit one environment; None (with the reason reported) if dropped."""
    try:
        plan = await design.design(ctx, topic)
        done = _existing(servers_dir, plan.id)
        if done is not None and done.provenance.source.startswith(f"topic: {topic.name}"):
            ctx.report.notes.setdefault("skipped", []).append(plan.id)
            return done
        ops = await design.operations(ctx, plan)
        impl = await code.implement(ctx, plan, ops)
        state = await code.initial_state(
            ctx, plan, impl.tools, flavor="an ordinary working day with a realistic mix of records", env=plan.id
        )
        impl, result = await quality.assure(ctx, plan, impl, state, lambda i: build_spec(ctx, plan, i, state, topic))
    except RepairExhausted as exc:
        ctx.report.drop(topic.name, "environment", str(exc))
        return None
    if result.not_fail < ctx.settings.not_fail_threshold:
        ctx.report.drop(plan.id, "quality", f"not-fail rate {result.not_fail:.2f} is below the threshold")
        return None
    try:
        spec = build_spec(ctx, plan, impl, state, topic)
    except ValidationError as exc:
        ctx.report.drop(plan.id, "assemble", str(exc)[:500])
        return None
    ctx.report.notes.setdefault("quality", {})[plan.id] = {
        "not_fail": round(result.not_fail, 4),
        "rounds": result.rounds,
        "verdicts": result.verdicts,
        "withdrawn": result.withdrawn,
    }
    emit(spec, servers_dir)
    ctx.report.made("environments")
    return spec


async def environments(ctx: Context, topics: Sequence[Topic], servers_dir: Path) -> list[EnvironmentSpec]:
    results: list[EnvironmentSpec | None] = [None] * len(topics)

    async def one(index: int, topic: Topic) -> None:
        results[index] = await environment(ctx, topic, servers_dir)

    async with anyio.create_task_group() as group:
        for index, topic in enumerate(topics):
            group.start_soon(one, index, topic)
    return [spec for spec in results if spec is not None]


async def environment_scenarios(ctx: Context, spec: EnvironmentSpec, scenarios_dir: Path, count: int) -> list[Path]:
    """Bring ``scenarios/<env>/`` to ``count`` scenarios. Finished batches are kept, and a batch that
    lost scenarios to the gates is made up for by further batches (at most two more)."""
    folder = scenarios_dir / spec.id
    existing = [load_scenario(p) for p in sorted(folder.glob("*.json"))] if folder.exists() else []
    taken = {s.id for s in existing}
    done = {b for b in map(scenarios.batch_of, existing) if b is not None}
    size = ctx.settings.scenario_batch
    have, written = len(existing), []
    planned = math.ceil(count / size)
    index = 0
    while have < count and index < planned + 2:
        wave: list[tuple[int, int]] = []
        needed = count - have
        while needed > 0 and index < planned + 2:
            if index not in done:
                wave.append((index, min(size, needed)))
                needed -= min(size, needed)
            index += 1
        if not wave:
            break
        for scenario in await scenarios.generate(ctx, spec, wave):
            if scenario.id in taken:
                scenario = scenario.model_copy(update={"id": f"{scenario.id}_b{scenarios.batch_of(scenario)}"})
            taken.add(scenario.id)
            path = folder / f"{scenario.id.split('/', 1)[1]}.json"
            write_text(path, model_json(scenario))
            written.append(path)
            have += 1
    return written
