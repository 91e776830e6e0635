"""The shipped catalog: produced by the pipeline only (replay proves it), sound, and good enough to ship."""

from __future__ import annotations

import json
import subprocess
from collections import defaultdict
from pathlib import Path
from typing import Any

import anyio
import pytest

from envmint.catalog import environments
from envmint.contract import Scenario
from envmint.harness import runner
from envmint.harness.agents.registry import agent_factory
from envmint.harness.results import EpisodeRecord, RunDirectory
from envmint.harness.selection import select
from generator.probe import candidate
from generator.soundness import check_soundness
from tests.conftest import REPO

SERVERS = REPO / "mcp_servers"
SCENARIOS = REPO / "scenarios"
HAS_CATALOG = any(SCENARIOS.glob("*/*.json"))

pytestmark = pytest.mark.skipif(not HAS_CATALOG, reason="no catalog has been produced yet")


def _tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }


def _scenarios() -> dict[str, list[Scenario]]:
    by_env: dict[str, list[Scenario]] = defaultdict(list)
    for item in select(SCENARIOS):
        by_env[item.scenario.env_id].append(item.scenario)
    return by_env


def test_replaying_the_recorded_exchanges_regenerates_the_catalog_byte_for_byte(tmp_path: Path) -> None:
    result = subprocess.run(
        ["bash", "scripts/catalog", "--out", str(tmp_path)], cwd=REPO, capture_output=True, text=True, timeout=1200
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "model calls: 0" in result.stdout
    assert _tree(tmp_path / "mcp_servers") == _tree(SERVERS)
    assert _tree(tmp_path / "scenarios") == _tree(SCENARIOS)


def test_the_catalog_has_eight_distinct_domains_rich_tools_and_enough_scenarios() -> None:
    specs = environments(SERVERS)
    by_env = _scenarios()
    assert len(specs) >= 8
    assert len({s.domain for s in specs}) >= 8
    assert all(len(s.tools) >= 14 for s in specs)
    assert sum(len(s.tools) for s in specs) / len(specs) >= 16
    for spec in specs:
        # Kinds are derived from the code: a tool that writes anything (an audit entry, a lazy expiry)
        # is a mutation. Every environment must change state, and offer look-ups by purpose.
        assert any(t.kind == "mutation" for t in spec.tools), spec.id
        lookups = [t for t in spec.tools if t.name.split("_")[0] in {"get", "list", "search", "find", "check"}]
        assert len(lookups) >= 3, spec.id
        assert len(spec.state_schema["properties"]) >= 4, spec.id
        scenarios = by_env[spec.id]
        assert len(scenarios) >= 10, spec.id
        assert sum(s.kind == "conversation" for s in scenarios) >= 3, spec.id
    assert sum(len(v) for v in by_env.values()) >= 80


def test_reference_solutions_cover_most_tools_of_every_environment() -> None:
    by_env = _scenarios()
    for spec in environments(SERVERS):
        used = {c.tool for s in by_env[spec.id] for c in s.reference_solution}
        assert len(used) / len(spec.tools) >= 0.6, (spec.id, sorted({t.name for t in spec.tools} - used))


def _run(agent: str, out: Path) -> list[EpisodeRecord]:
    async def go() -> list[EpisodeRecord]:
        with anyio.fail_after(900):
            return await runner.run(
                select(SCENARIOS), SERVERS, RunDirectory(out), runner.RunOptions(agent=agent, concurrency=2),
                agent_factory(agent), lambda s: None,
            )  # fmt: skip

    return anyio.run(go)


def test_the_reference_agent_solves_all_the_null_agent_none_and_the_random_agent_almost_none(tmp_path: Path) -> None:
    rates: dict[str, float] = {}
    for agent in ("reference", "null", "random"):
        records = _run(agent, tmp_path / agent)
        assert all(r.status == "ok" for r in records), [
            (r.episode, r.status, r.error) for r in records if r.status != "ok"
        ]
        rates[agent] = sum(r.success for r in records) / len(records)
    assert rates["reference"] == 1.0
    assert rates["null"] == 0.0
    assert rates["random"] <= 0.05


def test_every_scenario_still_passes_its_soundness_gates_with_a_high_mutation_kill_rate() -> None:
    by_env = _scenarios()
    totals: dict[str, Any] = {"killed": 0, "perturbed": 0, "problems": []}

    async def check_env(spec: Any) -> None:
        async with candidate(spec) as server:
            for scenario in by_env[spec.id]:
                sound = await check_soundness(
                    server, scenario.initial_state, scenario.now, scenario.reference_solution, scenario.checks,
                    seed=scenario.seed,
                )  # fmt: skip
                totals["killed"] += sound.killed
                totals["perturbed"] += sound.perturbations
                totals["problems"] += [f"{scenario.id}: {p}" for p in sound.problems]

    async def go() -> None:
        with anyio.fail_after(900):
            for spec in environments(SERVERS):
                await check_env(spec)

    anyio.run(go)
    assert totals["problems"] == []
    assert totals["perturbed"] > 0
    assert totals["killed"] / totals["perturbed"] >= 0.95, json.dumps(totals)[:500]


def test_a_cart_created_by_one_call_keeps_every_item_later_calls_add() -> None:
    """The store's code fills a new cart after storing it (plain Python aliasing); the runtime must keep that."""
    [spec] = [s for s in environments(SERVERS) if s.id == "sporting_goods_store"]
    state = spec.default_state
    with_cart = {cart["customer_id"] for cart in state["carts"].values() if cart["status"] == "active"}
    shoppers = [c["id"] for c in state["customers"].values() if c["status"] == "active"]
    customer = next(c for c in shoppers if c not in with_cart)
    variants = list(state["variants"])[:2]

    async def go() -> list[str]:
        with anyio.fail_after(120):
            async with candidate(spec) as server:
                for variant in variants:
                    added = await server.call(
                        "add_cart_item", {"customer_id": customer, "variant_id": variant, "quantity": 1}
                    )
                    assert not added.is_error, added
                cart = await server.call("get_cart", {"customer_id": customer})
                return [line["variant_id"] for line in json.loads(cart.content[0].text)["cart"]["items"]]

    assert anyio.run(go) == variants
