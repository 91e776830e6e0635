"""The shipped catalog at a glance, and its quality report.

Quality per environment: the soundness gates re-checked on every scenario (reference replay, checks
pass on its final state and fail on the initial one, mutation kill rate), the success rates of the
reference, null and random agents, and tool coverage (the share of tools that at least one
reference solution uses).
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import anyio

from envmint.contract import EnvironmentSpec, Scenario, load_environment_spec
from envmint.harness import runner
from envmint.harness.agents.registry import agent_factory
from envmint.harness.results import RunDirectory
from envmint.harness.selection import select

BASELINES = ("reference", "null", "random")


@dataclass
class EnvironmentEntry:
    id: str
    name: str
    domain: str
    tools: int
    queries: int
    mutations: int
    entity_types: int
    scenarios: int
    conversations: int


@dataclass
class EnvironmentQuality:
    id: str
    scenarios_sound: int = 0
    scenarios_unsound: list[str] = field(default_factory=list)
    perturbations: int = 0
    killed: int = 0
    success: dict[str, float] = field(default_factory=dict)
    tool_coverage: float = 0.0
    unused_tools: list[str] = field(default_factory=list)

    @property
    def kill_rate(self) -> float:
        return self.killed / self.perturbations if self.perturbations else math.nan


def environments(servers: Path) -> list[EnvironmentSpec]:
    return [load_environment_spec(p) for p in sorted(servers.glob("*/spec.json")) if not p.parent.name.startswith("_")]


def entries(servers: Path, scenarios_dir: Path) -> list[EnvironmentEntry]:
    by_env: dict[str, list[Scenario]] = defaultdict(list)
    for item in select(scenarios_dir) if scenarios_dir.exists() else []:
        by_env[item.scenario.env_id].append(item.scenario)
    rows = []
    for spec in environments(servers):
        queries = sum(t.kind == "query" for t in spec.tools)
        scenarios = by_env.get(spec.id, [])
        rows.append(
            EnvironmentEntry(
                id=spec.id, name=spec.name, domain=spec.domain, tools=len(spec.tools), queries=queries,
                mutations=len(spec.tools) - queries, entity_types=len(spec.state_schema.get("properties", {})),
                scenarios=len(scenarios), conversations=sum(s.kind == "conversation" for s in scenarios),
            )
        )  # fmt: skip
    return rows


async def _soundness(spec: EnvironmentSpec, scenarios: list[Scenario], quality: EnvironmentQuality) -> None:
    from generator.probe import candidate
    from generator.soundness import check_soundness

    async with candidate(spec) as server:
        for scenario in scenarios:
            sound = await check_soundness(
                server, scenario.initial_state, scenario.now, scenario.reference_solution, scenario.checks,
                seed=scenario.seed,
            )  # fmt: skip
            quality.perturbations += sound.perturbations
            quality.killed += sound.killed
            if sound.problems:
                quality.scenarios_unsound.append(f"{scenario.id}: {sound.problems[0]}")
            else:
                quality.scenarios_sound += 1


async def assess(servers: Path, scenarios_dir: Path, work: Path, *, concurrency: int = 2) -> list[EnvironmentQuality]:
    """Run the gates and the baseline agents over the whole catalog."""
    selection = select(scenarios_dir)
    by_env: dict[str, list[Scenario]] = defaultdict(list)
    for item in selection:
        by_env[item.scenario.env_id].append(item.scenario)
    specs = environments(servers)
    report = {spec.id: EnvironmentQuality(spec.id) for spec in specs}
    for spec in specs:
        quality = report[spec.id]
        used = {call.tool for s in by_env.get(spec.id, []) for call in s.reference_solution}
        names = [t.name for t in spec.tools]
        quality.tool_coverage = len(used & set(names)) / len(names) if names else 0.0
        quality.unused_tools = sorted(set(names) - used)
        await _soundness(spec, by_env.get(spec.id, []), quality)
    for agent in BASELINES:
        options = runner.RunOptions(agent=agent, concurrency=concurrency)
        records = await runner.run(
            selection, servers, RunDirectory(work / agent), options, agent_factory(agent), lambda s: None
        )
        wins: dict[str, list[bool]] = defaultdict(list)
        for record in records:
            wins[record.env].append(record.success)
        for env_id, results in wins.items():
            if env_id in report:
                report[env_id].success[agent] = sum(results) / len(results)
    return list(report.values())


def quality_json(rows: list[EnvironmentQuality]) -> dict[str, Any]:
    environments_out = []
    for row in rows:
        data = asdict(row)
        data["kill_rate"] = None if math.isnan(row.kill_rate) else round(row.kill_rate, 4)
        environments_out.append(data)
    killed = sum(r.killed for r in rows)
    perturbations = sum(r.perturbations for r in rows)
    return {
        "environments": environments_out,
        "overall": {
            "kill_rate": round(killed / perturbations, 4) if perturbations else None,
            "scenarios_sound": sum(r.scenarios_sound for r in rows),
            "scenarios_unsound": sum(len(r.scenarios_unsound) for r in rows),
        },
    }


def run_assessment(servers: Path, scenarios_dir: Path, work: Path) -> list[EnvironmentQuality]:
    return anyio.run(assess, servers, scenarios_dir, work)
