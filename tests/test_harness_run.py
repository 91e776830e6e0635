"""`envmint run`: baselines on the fixtures, crash handling, atomic results and resume."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import pytest

from envmint import sandbox
from envmint.contract import Scenario
from envmint.harness import runner
from envmint.harness.agents.registry import agent_factory
from envmint.harness.episode import EpisodeContext
from envmint.harness.results import EpisodeRecord, RunDirectory
from envmint.harness.selection import select
from tests.conftest import REPO, need
from tests.fixtures import library


@pytest.fixture(scope="session")
def scenarios_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("scenarios")
    target = root / "library_desk"
    target.mkdir()
    for path in library.scenario_paths():
        shutil.copy(path, target / path.name)
    return root


@pytest.fixture(scope="session")
def servers(library_folder: Path) -> Path:
    return library_folder.parent


def _sandboxed() -> bool:
    need(sandbox.sandbox_available(), "bubblewrap (bwrap) is needed to run servers in the sandbox")
    return True


def _run(
    scenarios_dir: Path,
    servers: Path,
    out: Path,
    agent: str,
    factory: Any = None,
    *,
    resume: bool = False,
    **options: Any,
) -> list[EpisodeRecord]:
    selection = select(scenarios_dir)
    run_options = runner.RunOptions(agent=agent, sandboxed=_sandboxed(), **options)

    async def go() -> list[EpisodeRecord]:
        with anyio.fail_after(180):
            return await runner.run(
                selection,
                servers,
                RunDirectory(out),
                run_options,
                factory or agent_factory(agent),
                lambda s: None,
                resume=resume,
            )

    return anyio.run(go)


def test_the_reference_agent_succeeds_on_every_fixture_scenario(
    scenarios_dir: Path, servers: Path, tmp_path: Path
) -> None:
    records = _run(scenarios_dir, servers, tmp_path / "run", "reference", trials=2, concurrency=2)
    assert len(records) == 2 * len(library.scenario_paths())
    assert all(r.status == "ok" and r.success and r.reward == 1.0 for r in records), [r.error for r in records]
    assert {r.sandbox for r in records} == {"bwrap"}


@pytest.mark.parametrize("agent", ["null", "random"])
def test_the_null_and_random_agents_succeed_on_no_fixture_scenario(
    scenarios_dir: Path, servers: Path, tmp_path: Path, agent: str
) -> None:
    records = _run(scenarios_dir, servers, tmp_path / "run", agent)
    assert len(records) == len(library.scenario_paths())
    assert all(r.status == "ok" for r in records), [r.error for r in records]
    assert not any(r.success for r in records)
    assert all(r.reward < 1.0 for r in records)


def test_each_result_line_parses_and_points_to_a_trajectory_in_chat_format(
    scenarios_dir: Path, servers: Path, tmp_path: Path
) -> None:
    _run(scenarios_dir, servers, tmp_path / "run", "reference")
    run_dir = RunDirectory(tmp_path / "run")
    lines = run_dir.results_path.read_text().splitlines()
    assert len(lines) == len(library.scenario_paths())
    for line in lines:
        record = EpisodeRecord.model_validate_json(line)
        trajectory = run_dir.load_trajectory(record.trajectory)
        roles = [m["role"] for m in trajectory["messages"]]
        assert roles[:2] == ["system", "user"] and "tool" in roles and roles[-1] == "assistant"
        calls = [c for m in trajectory["messages"] if m["role"] == "assistant" for c in m.get("tool_calls", [])]
        assert len(calls) == record.tool_calls and all(
            json.loads(c["function"]["arguments"]) is not None for c in calls
        )
        assert trajectory["tools"][0]["type"] == "function"
        assert trajectory["state_diff"], "a successful episode changes the state"


class _KillsItsServer:
    """Calls a tool, kills -9 the server processes of its environment, then tries again."""

    name = "killer"

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    async def run(self, ctx: EpisodeContext) -> None:
        await ctx.call_tool("search_books", {"query": "the"})
        for pid in _server_pids(self.folder):
            os.kill(pid, signal.SIGKILL)
        await anyio.sleep(0.2)
        await ctx.call_tool("search_books", {"query": "the"})


def _server_pids(folder: Path) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if str(folder / "server.py").encode() in cmdline:
                pids.append(int(entry.name))
    return pids


def test_a_server_killed_mid_episode_is_reported_as_crashed_and_the_run_goes_on(
    scenarios_dir: Path, servers: Path, tmp_path: Path, library_folder: Path
) -> None:
    killed: set[str] = set()
    reference = agent_factory("reference")

    def factory(scenario: Scenario, trial: int) -> Any:
        if scenario.id.endswith("return_and_settle") and scenario.id not in killed:
            killed.add(scenario.id)
            return _KillsItsServer(library_folder.resolve())
        return reference(scenario, trial)

    records = _run(scenarios_dir, servers, tmp_path / "run", "reference", factory, concurrency=1)
    by_scenario = {r.scenario: r for r in records}
    crashed = by_scenario["library_desk/return_and_settle"]
    assert crashed.status == "server_crashed" and not crashed.success and "connection" in crashed.error
    others = [r for r in records if r is not crashed]
    assert others and all(r.status == "ok" and r.success for r in others)
    resumed = anyio.run(
        lambda: runner.run(
            select(scenarios_dir),
            servers,
            RunDirectory(tmp_path / "run"),
            runner.RunOptions(agent="reference", sandboxed=True),
            reference,
            lambda s: None,
            resume=True,
        )
    )
    assert len(resumed) == len(records)
    assert all(r.status == "ok" and r.success for r in resumed)
    assert len({r.episode for r in resumed}) == len(resumed)


def test_a_missing_server_folder_is_an_episode_status_that_resume_retries_not_an_aborted_run(
    scenarios_dir: Path, servers: Path, tmp_path: Path
) -> None:
    empty = tmp_path / "no_servers"
    empty.mkdir()

    records = _run(scenarios_dir, empty, tmp_path / "run", "reference")

    assert len(records) == len(library.scenario_paths())
    for record in records:
        assert record.status == "server_crashed" and not record.success and record.reward == 0.0
        assert record.error.startswith("no server: FileNotFoundError: no server for environment 'library_desk'")
        assert record.checks == [] and record.tool_calls == 0
    resumed = _run(scenarios_dir, servers, tmp_path / "run", "reference", resume=True)
    assert len(resumed) == len(records) and all(r.status == "ok" and r.success for r in resumed)


def test_an_agent_that_cannot_be_created_is_an_agent_error_for_its_episodes_and_the_others_run(
    scenarios_dir: Path, servers: Path, tmp_path: Path
) -> None:
    reference = agent_factory("reference")

    def factory(scenario: Scenario, trial: int) -> Any:
        if scenario.id.endswith("return_and_settle"):
            raise RuntimeError("no API key for this agent")
        return reference(scenario, trial)

    records = _run(scenarios_dir, servers, tmp_path / "run", "reference", factory)

    by_scenario = {r.scenario: r for r in records}
    failed = by_scenario.pop("library_desk/return_and_settle")
    assert failed.status == "agent_error" and not failed.success and failed.checks == []
    assert failed.error == "could not create the agent: RuntimeError: no API key for this agent"
    assert by_scenario and all(r.status == "ok" and r.success for r in by_scenario.values())


def test_a_harness_killed_mid_run_leaves_valid_jsonl_and_resume_finishes_without_duplicates(
    scenarios_dir: Path, servers: Path, tmp_path: Path
) -> None:
    _sandboxed()
    out = tmp_path / "run"
    command = [
        sys.executable, "-m", "envmint.cli", "run", "--agent", "reference", "--trials", "12", "--concurrency", "2",
        "--scenarios", str(scenarios_dir), "--servers", str(servers), "--out", str(out),
    ]  # fmt: skip
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    results = out / "results.jsonl"
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            if results.exists() and len(results.read_bytes().splitlines()) >= 5:
                break
            time.sleep(0.02)
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait(timeout=30)
    for line in results.read_text().splitlines():
        EpisodeRecord.model_validate_json(line)
    before = len(results.read_text().splitlines())
    total = 12 * len(library.scenario_paths())
    assert 5 <= before < total
    resumed = subprocess.run([*command, "--resume"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    episodes = [json.loads(line)["episode"] for line in results.read_text().splitlines()]
    assert len(episodes) == total == len(set(episodes))
