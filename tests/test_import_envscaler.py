"""Importing the seed system's format: servers, scenarios, verdict parity, replay parity, gates."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import anyio
import pytest
from typer.testing import CliRunner

from envmint.cli import app
from envmint.contract import Check, Scenario, load_environment_spec, load_scenario
from envmint.grading import Verdict, grade_checks, grade_checks_sync
from envmint.importers import ImportReport, import_envscaler
from envmint.importers.envscaler import metadata_records, wrap_check
from generator.probe import candidate, run_calls

FIXTURES = Path(__file__).parent / "fixtures" / "envscaler"


def _json(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, ImportReport]:
    root = tmp_path_factory.mktemp("seed")
    servers, scenarios = root / "servers", root / "scenarios"

    async def go() -> ImportReport:
        with anyio.fail_after(600):
            return await import_envscaler(
                _json("env_metadata.json"),
                [_json("rl_scenarios.json"), _json("sft_scenarios.json")],
                servers,
                scenarios,
                keep_unsound=True,
            )

    return servers, scenarios, anyio.run(go)


def _seed_verdict(check_func: str, initial: dict[str, Any], final: dict[str, Any]) -> bool | None:
    """The seed's own ``run_check_function``: exec with a global ``initial_state`` (trusted fixture code)."""
    scope: dict[str, Any] = {"initial_state": copy.deepcopy(initial)}
    try:
        exec(check_func, scope)
        result = scope["check_func"](copy.deepcopy(final))
    except Exception:
        return None
    return result if isinstance(result, bool) else None


def _seed_final_state(record: dict[str, Any], metadata: dict[str, Any]) -> dict[str, Any]:
    """The fixture class run in-process the seed's way (trusted test data): init, then the calls."""
    env = metadata[record["env_id"]]
    module: dict[str, Any] = {}
    exec(env["env_class_code"], module)
    cls = module[env["env_class_name"]]
    config = copy.deepcopy(record["init_config"])
    try:
        instance = cls(config)
    except TypeError:
        instance = cls()
    for key, value in config.items():
        setattr(instance, key, value)
    for call in record["ground_truth"]:
        getattr(instance, call["name"])(**call["arguments"])
    return copy.deepcopy({k: v for k, v in vars(instance).items() if not k.startswith("_")})


def test_metadata_loads_from_both_the_dict_keyed_and_the_list_forms() -> None:
    data = _json("env_metadata.json")
    by_key = metadata_records(data)
    as_list = metadata_records(list(data.values()))
    assert [r["env_id"] for r in by_key] == [r["env_id"] for r in as_list] == ["env_1", "env_2", "env_3"]


def test_three_seed_environments_become_server_folders_with_tools_from_their_docstrings(
    imported: tuple[Path, Path, ImportReport],
) -> None:
    servers, _, report = imported
    assert report.environments == ["env_1", "env_2", "env_3"]
    spec = load_environment_spec(servers / "env_2" / "spec.json")
    send = spec.tool("send_message")
    assert send.input_schema["required"] == ["sender_id", "receiver_id", "content"]
    assert send.input_schema["properties"]["content"]["description"] == "The text."
    assert spec.tool("list_unread").kind == "query"
    assert spec.tool("mark_message_as_read").kind == "mutation"
    library = load_environment_spec(servers / "env_1" / "spec.json")
    assert "_open_loans" not in [t.name for t in library.tools]
    assert "genre" not in library.tool("list_available").input_schema.get("required", [])
    assert library.rules[0].startswith("A member may not exceed")


def test_a_scenario_without_a_checklist_imports_as_ungraded_and_is_reported(
    imported: tuple[Path, Path, ImportReport],
) -> None:
    _, scenarios, report = imported
    assert report.ungraded == ["env_3/1700000000011"]
    assert load_scenario(scenarios / "env_3" / "1700000000011.json").graded is False


def test_imported_checks_give_the_seed_codes_verdicts_on_the_state_the_mcp_replay_reaches(
    imported: tuple[Path, Path, ImportReport],
) -> None:
    servers, scenarios, _ = imported
    metadata = _json("env_metadata.json")
    records = {r["task_id"]: r for r in _json("rl_scenarios.json")}
    compared: list[tuple[str, list[bool], list[bool]]] = []

    async def go() -> None:
        with anyio.fail_after(600):
            for env_id in ("env_1", "env_2", "env_3"):
                spec = load_environment_spec(servers / env_id / "spec.json")
                async with candidate(spec) as server:
                    for path in sorted((scenarios / env_id).glob("*.json")):
                        scenario: Scenario = load_scenario(path)
                        if not scenario.graded:
                            continue
                        record = records[scenario.id.split("/")[1]]
                        _, final = await run_calls(
                            server, scenario.initial_state, scenario.now, scenario.reference_solution
                        )
                        assert final == _seed_final_state(record, metadata), scenario.id
                        ours = await grade_checks(scenario.checks, scenario.initial_state, final)
                        seed = [
                            _seed_verdict(item["check_func"], scenario.initial_state, final)
                            for item in record["checklist_with_func"]
                        ]
                        on_initial = await grade_checks(scenario.checks, scenario.initial_state, scenario.initial_state)
                        seed_initial = [
                            _seed_verdict(item["check_func"], scenario.initial_state, scenario.initial_state)
                            for item in record["checklist_with_func"]
                        ]
                        compared.append(
                            (
                                scenario.id,
                                [v.verdict is Verdict.PASS for v in [*ours, *on_initial]],
                                [s is True for s in [*seed, *seed_initial]],
                            )
                        )

    anyio.run(go)
    assert len(compared) == 10
    for scenario_id, ours, seed in compared:
        assert ours == seed, scenario_id
    assert any(not all(ours[: len(ours) // 2]) for _, ours, _ in compared), "the fixtures include a failing check"


def test_a_scenario_that_fails_a_soundness_gate_is_reported_and_not_written(tmp_path: Path) -> None:
    metadata = {"env_1": _json("env_metadata.json")["env_1"]}
    records = [r for r in _json("rl_scenarios.json") if r["env_id"] == "env_1"]

    async def go() -> ImportReport:
        with anyio.fail_after(300):
            return await import_envscaler(metadata, [records], tmp_path / "servers", tmp_path / "scenarios")

    report = anyio.run(go)
    assert list(report.failed) == ["env_1/1700000000004"]
    assert "does not pass on the reference's final state" in report.failed["env_1/1700000000004"][0]
    assert not (tmp_path / "scenarios" / "env_1" / "1700000000004.json").exists()
    assert sorted(report.scenarios) == ["env_1/1700000000001", "env_1/1700000000002", "env_1/1700000000003"]


def test_a_check_func_that_does_not_parse_is_reported_and_the_rest_still_import(tmp_path: Path) -> None:
    metadata = {"env_3": _json("env_metadata.json")["env_3"]}
    records = [r for r in _json("rl_scenarios.json") if r["env_id"] == "env_3"]
    records[0] = {**records[0], "checklist_with_func": [{"check_item": "x", "check_func": "def check_func(:"}]}

    async def go() -> ImportReport:
        with anyio.fail_after(300):
            return await import_envscaler(metadata, [records], tmp_path / "servers", tmp_path / "scenarios")

    report = anyio.run(go)
    assert list(report.failed) == ["env_3/1700000000008"]
    assert "not a valid scenario" in report.failed["env_3/1700000000008"][0]
    assert sorted(report.scenarios) == ["env_3/1700000000009", "env_3/1700000000010"]


def test_the_import_envscaler_command_takes_ground_truth_from_calls_and_marks_ungraded_scenarios(
    tmp_path: Path,
) -> None:
    metadata = tmp_path / "meta.json"
    metadata.write_text(json.dumps([_json("env_metadata.json")["env_3"]]), encoding="utf-8")
    [record] = [r for r in _json("rl_scenarios.json") if r["task_id"] == "1700000000008"]
    calls = {record["task_id"]: record.pop("ground_truth")}
    rl, calls_file = tmp_path / "rl.json", tmp_path / "calls.json"
    rl.write_text(json.dumps([record]), encoding="utf-8")
    calls_file.write_text(json.dumps(calls), encoding="utf-8")
    result = CliRunner().invoke(
        app,
        [
            *("import", "envscaler", str(metadata), str(rl), str(FIXTURES / "sft_scenarios.json")),
            *("--calls", str(calls_file), "--out", str(tmp_path / "servers"), "--scenarios", str(tmp_path / "sc")),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "2 scenarios written (1 graded)" in result.output
    assert "ungraded (no checks): env_3/1700000000011" in result.output
    assert (tmp_path / "servers" / "env_3" / "server.py").exists()
    graded = load_scenario(tmp_path / "sc" / "env_3" / "1700000000008.json")
    assert [c.tool for c in graded.reference_solution] == ["restock"]


def test_a_repeated_task_id_gets_its_own_file_instead_of_overwriting_the_first(tmp_path: Path) -> None:
    metadata = {"env_3": _json("env_metadata.json")["env_3"]}
    records = [r for r in _json("rl_scenarios.json") if r["env_id"] == "env_3"]
    first, second = records[1], records[2]
    repeated = [first, {**second, "task_id": first["task_id"]}]

    async def go() -> ImportReport:
        with anyio.fail_after(300):
            return await import_envscaler(metadata, [repeated], tmp_path / "servers", tmp_path / "scenarios")

    report = anyio.run(go)
    name = first["task_id"]
    assert sorted(report.scenarios) == [f"env_3/{name}", f"env_3/{name}-2"]
    assert load_scenario(tmp_path / "scenarios" / "env_3" / f"{name}.json").instructions == first["task"]
    assert load_scenario(tmp_path / "scenarios" / "env_3" / f"{name}-2.json").instructions == second["task"]
    assert any(f"{name}-2" in note for note in report.notes["env_3"])


def test_seed_checks_see_sets_tuples_and_dates_as_the_seed_did_not_as_their_json_encoding() -> None:
    initial = {"tags": {"$type": "set", "items": ["a"]}, "opened": {"$type": "date", "value": "2026-01-01"}}
    final = {
        "tags": {"$type": "set", "items": ["a", "vip"]},
        "opened": {"$type": "date", "value": "2026-01-02"},
        "where": {"$type": "tuple", "items": [1, 2]},
        "by_id": {"$type": "dict", "items": [[7, "x"]]},
    }
    seed_checks = [
        "def check_func(final_state):\n    return 'vip' in final_state['tags'] and 'vip' not in initial_state['tags']",
        "def check_func(final_state):\n    return final_state['opened'] > initial_state['opened']",
        "def check_func(final_state):\n    return final_state['where'] == (1, 2) and final_state['by_id'][7] == 'x'",
        "def check_func(final_state):\n    return 'items' in final_state['tags']",  # the encoding must not show
    ]
    checks = [Check(id=f"c{i}", description="d", source=wrap_check(src)) for i, src in enumerate(seed_checks)]
    verdicts = grade_checks_sync(checks, initial, final)
    assert [v.verdict for v in verdicts] == [Verdict.PASS, Verdict.PASS, Verdict.PASS, Verdict.FAIL], verdicts
