"""The synthesis pipeline end to end with a scripted model: gates, repairs, soundness, replay."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import pytest

from envmint import sandbox
from envmint.contract import EnvironmentSpec, load_scenario
from envmint.harness import runner
from envmint.harness.agents.registry import agent_factory
from envmint.harness.results import RunDirectory
from envmint.harness.selection import select
from generator import pipeline
from generator.llm.client import LLM
from generator.llm.recording import Recording
from generator.llm.replay import ReplayBackend
from generator.stages.common import Context, Settings
from generator.stages.topics import Topic
from tests.conftest import need
from tests.pipeline.scripted_model import ScriptedModel

TOPIC = Topic(name="Library Loans Desk", domain="public services", description="A library's loans desk.")


def _settings() -> Settings:
    return Settings(min_tools=10, min_queries=4, min_mutations=4, scenario_batch=3, conversations_per_batch=1)


def _context(model: Any, recording: Recording | None = None) -> Context:
    return Context(llm=LLM(model, recording=recording), settings=_settings(), model="fixture-model")


async def _produce(ctx: Context, servers: Path, scenarios: Path, count: int = 3) -> EnvironmentSpec | None:
    spec = await pipeline.environment(ctx, TOPIC, servers)
    if spec is not None:
        await pipeline.environment_scenarios(ctx, spec, scenarios, count)
    return spec


def _no_user(scenario: Any) -> None:
    return None


async def _run_agent(scenarios: Path, servers: Path, out: Path, agent: str) -> list[Any]:
    options = runner.RunOptions(agent=agent, sandboxed=True)
    with anyio.fail_after(300):
        return await runner.run(select(scenarios), servers, RunDirectory(out), options, agent_factory(agent), _no_user)


def _tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }


@pytest.fixture(scope="module")
def produced(tmp_path_factory: pytest.TempPathFactory) -> tuple[Context, ScriptedModel, Path, Path, Path]:
    need(sandbox.sandbox_available(), "bubblewrap is needed: every gate runs generated code in the sandbox")
    root = tmp_path_factory.mktemp("pipeline")
    model = ScriptedModel()
    ctx = _context(model, Recording(root / "recording"))
    spec = anyio.run(_produce, ctx, root / "mcp_servers", root / "scenarios")
    assert spec is not None, ctx.report.to_json()
    return ctx, model, root / "mcp_servers", root / "scenarios", root / "recording"


def test_the_pipeline_emits_an_environment_whose_tools_come_from_the_code(produced: Any) -> None:
    ctx, model, servers, _, _ = produced
    spec = EnvironmentSpec.model_validate_json((servers / "library_desk" / "spec.json").read_text())
    assert [t.name for t in spec.tools] == [t.name for t in model.spec.tools]
    assert {t.name: t.kind for t in spec.tools} == {t.name: t.kind for t in model.spec.tools}
    assert spec.provenance.created_by == "pipeline" and set(spec.provenance.prompt_hashes) >= {"design", "code"}
    assert (servers / "_runtime" / "envmint_runtime" / "host.py").exists()
    report = ctx.report.to_json()
    assert report["gates"]["quality.not_fail"]["passed"] == 1
    assert report["produced"] == {"environments": 1, "scenarios": 3}


def test_every_produced_scenario_passes_every_soundness_gate_and_grades_through_the_real_runtime(
    produced: Any, tmp_path: Path
) -> None:
    ctx, _, servers, scenarios, _ = produced
    files = sorted((scenarios / "library_desk").glob("*.json"))
    assert len(files) == 3
    loaded = [load_scenario(f) for f in files]
    assert {s.kind for s in loaded} == {"task", "conversation"}
    kills = ctx.report.notes["kill"]
    assert all(perturbed > 0 and killed == perturbed for killed, perturbed in kills.values())
    for agent, expected in (("reference", 1.0), ("null", 0.0)):
        records = anyio.run(_run_agent, scenarios, servers, tmp_path / agent, agent)
        assert [r.reward for r in records] == [expected] * 3, [r.error for r in records]


def test_replaying_the_recording_regenerates_byte_identical_outputs_with_no_model_calls(
    produced: Any, tmp_path: Path
) -> None:
    _, _, servers, scenarios, recording = produced
    replayed = Context(llm=LLM(ReplayBackend(Recording(recording))), settings=_settings(), model="fixture-model")
    spec = anyio.run(_produce, replayed, tmp_path / "mcp_servers", tmp_path / "scenarios")
    assert spec is not None
    assert replayed.llm.model_calls == 0
    assert _tree(tmp_path / "mcp_servers" / "library_desk") == _tree(servers / "library_desk")
    assert _tree(tmp_path / "scenarios") == _tree(scenarios)


def test_a_rerun_skips_finished_work(produced: Any) -> None:
    _, _, servers, scenarios, recording = produced
    model = ScriptedModel()
    ctx = _context(model, Recording(recording))
    anyio.run(_produce, ctx, servers, scenarios)
    assert model.asked == {}
    assert ctx.report.notes["skipped"] == ["library_desk"]
    assert ctx.report.to_json()["produced"] == {}


def test_a_buggy_tool_is_caught_in_the_sandbox_and_fixed_through_the_repair_loop(tmp_path: Path) -> None:
    need(sandbox.sandbox_available(), "bubblewrap is needed")
    model = ScriptedModel(buggy_tool=True)
    ctx = _context(model)
    spec = anyio.run(pipeline.environment, ctx, TOPIC, tmp_path / "servers")
    assert spec is not None
    assert model.asked["repair_code"] == 1
    repair_prompt = next(r for r in model.requests if r.stage == "repair_code").messages[0].content
    assert "pay_fine" in repair_prompt and "KeyError" in repair_prompt
    assert "raise KeyError" not in spec.code.source
    assert "pay_fine" in [t.name for t in spec.tools]


def test_a_validator_that_already_passes_on_the_initial_state_is_rejected_and_repaired(tmp_path: Path) -> None:
    need(sandbox.sandbox_available(), "bubblewrap is needed")
    model = ScriptedModel(leaky_check=True)
    ctx = _context(model)
    anyio.run(_produce, ctx, tmp_path / "servers", tmp_path / "scenarios", 1)
    repairs = [r for r in model.requests if r.stage == "repair_scenario"]
    assert repairs and "already passes on the initial state" in repairs[0].messages[0].content
    scenario = load_scenario(next((tmp_path / "scenarios" / "library_desk").glob("*.json")))
    assert all("return True" not in check.source for check in scenario.checks)


def test_a_class_that_imports_os_is_rejected_by_the_gate_with_the_line_and_repaired(tmp_path: Path) -> None:
    need(sandbox.sandbox_available(), "bubblewrap is needed")
    model = ScriptedModel(forbidden_import=True)
    ctx = _context(model)
    spec = anyio.run(pipeline.environment, ctx, TOPIC, tmp_path / "servers")
    assert spec is not None and "import os" not in spec.code.source
    code_requests = [r for r in model.requests if r.stage == "code"]
    assert len(code_requests) == 2
    feedback = code_requests[1].messages[-1].content
    assert "line 1" in feedback and "os" in feedback


def test_a_rejected_exchange_is_recorded_as_json_that_names_its_stage(produced: Any) -> None:
    _, _, _, _, recording = produced
    stages = {json.loads(p.read_text())["request"]["stage"] for p in Path(recording).rglob("*.json")}
    assert {"design", "operations", "code", "state", "explore", "judge", "scenarios", "checks"} <= stages
