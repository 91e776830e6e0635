"""Importing a plain Python class: schemas from source, faithful state and results, errors, replay."""

from __future__ import annotations

import datetime
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import pytest
from typer.testing import CliRunner

from envmint.cli import app
from envmint.contract import EnvironmentSpec, ToolCall, load_environment_spec
from envmint.harness.episode import ToolOutcome
from envmint.importers import derive_class_tools, import_class_file
from envmint.importers.adapter_source import HELPERS
from generator.probe import candidate, run_calls

MESSY = Path(__file__).parent / "fixtures" / "import_class" / "messy_store.py"
SOURCE = MESSY.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def spec(tmp_path_factory: pytest.TempPathFactory) -> EnvironmentSpec:
    servers = tmp_path_factory.mktemp("servers")

    async def go() -> EnvironmentSpec:
        with anyio.fail_after(120):
            built, _ = await import_class_file(MESSY, "MessyStore", servers)
            return built

    return anyio.run(go)


def _in_process() -> dict[str, Any]:
    """The fixture module plus the adapter's helpers, run here: trusted test data only."""
    scope: dict[str, Any] = {"__name__": "messy_in_process"}
    exec(SOURCE + "\n" + HELPERS, scope)
    return scope


def _calls(spec: EnvironmentSpec, calls: list[tuple[str, dict[str, Any]]]) -> list[ToolOutcome]:
    async def go() -> list[ToolOutcome]:
        with anyio.fail_after(120):
            async with candidate(spec) as server:
                await server.prepare("t", spec.default_state, spec.default_now, 0)
                return [ToolOutcome.from_result(await server.call(name, args)) for name, args in calls]

    return anyio.run(go)


def test_schemas_come_from_hints_and_numpy_docs_with_defaults_optional_and_helpers_hidden() -> None:
    derived = derive_class_tools(SOURCE, "MessyStore")
    tools = {t["name"]: t for t in derived.tools}
    assert "_helper" not in tools and "bulk" not in tools
    assert "cannot be described" in derived.skipped["bulk"]
    sell = tools["sell"]["input_schema"]
    assert sell["required"] == ["sku"]
    assert sell["properties"]["quantity"] == {"type": "integer", "default": 1, "description": "How many units."}
    assert sell["properties"]["tier"]["enum"] == ["basic", "gold", None]
    plan = tools["plan"]["input_schema"]["properties"]
    assert plan["items"]["type"] == "array" and plan["limits"]["type"] == "object"
    assert plan["span"]["prefixItems"] == [{"type": "integer"}, {"type": "integer"}]
    assert tools["tag_set"]["kind"] == "query" and tools["sell"]["kind"] == "mutation"


def test_untyped_parameters_get_a_permissive_schema_and_still_work(spec: EnvironmentSpec) -> None:
    schema = spec.tool("restock").input_schema
    assert schema["required"] == ["sku"]
    assert "type" not in schema["properties"]["sku"] and schema["properties"]["amount"]["default"] == 1
    [outcome] = _calls(spec, [("restock", {"sku": "pear", "amount": 4})])
    assert outcome.structured == {"success": True, "stock": 4}


def test_a_set_a_tuple_and_a_datetime_come_back_as_sorted_list_list_and_iso_text(spec: EnvironmentSpec) -> None:
    tags, where, opened = _calls(spec, [("tag_set", {}), ("where", {}), ("opened_at", {})])
    assert tags.structured == {"result": ["new"]}
    assert where.structured == {"result": [1.5, 2.5]}
    assert opened.structured == {"result": "2024-05-01T09:30:00"}


def test_date_set_and_datetime_parameters_are_converted_from_json_before_the_method_runs(
    spec: EnvironmentSpec,
) -> None:
    schema = spec.tool("schedule").input_schema["properties"]
    assert schema["day"]["format"] == "date" and schema["tags"]["uniqueItems"] is True
    moved, bad = _calls(
        spec,
        [
            ("schedule", {"day": "2025-01-06", "tags": ["b", "a"], "at": "2025-01-06T10:00:00Z"}),
            ("schedule", {"day": "not a date", "tags": []}),
        ],
    )
    assert moved.structured == {"weekday": 0, "tags": ["a", "b"], "at": "2025-01-06T10:00:00+00:00"}
    assert bad.is_error and "Invalid argument for `schedule`" in bad.text


def test_a_method_that_raises_after_writing_is_an_error_and_leaves_the_state_unchanged(spec: EnvironmentSpec) -> None:
    async def go() -> tuple[ToolOutcome, dict[str, Any]]:
        with anyio.fail_after(120):
            async with candidate(spec) as server:
                await server.prepare("t", spec.default_state, spec.default_now, 0)
                outcome = ToolOutcome.from_result(await server.call("explode", {"sku": "apple"}))
                return outcome, await server.state()

    outcome, state = anyio.run(go)
    assert outcome.is_error and "boom after writing" in outcome.text
    assert state == spec.default_state


def test_non_json_state_is_snapshotted_with_type_tags_and_survives_later_calls(spec: EnvironmentSpec) -> None:
    state = spec.default_state
    assert state["tags"] == {"$type": "set", "items": ["new"]}
    assert state["location"] == {"$type": "tuple", "items": [1.5, 2.5]}
    assert state["holiday"] == {"$type": "date", "value": "2024-12-25"}
    assert state["tier"] == {"$type": "enum", "class": "Tier", "value": "basic"}
    assert state["balance"] == {"$type": "decimal", "value": "10.50"}
    assert "_cache" not in state
    sold, tags = _calls(spec, [("sell", {"sku": "apple", "quantity": 2, "tier": "gold"}), ("tag_set", {})])
    assert sold.structured == {"success": True, "receipt": {"sku": "apple", "total": "2.50"}, "tier": "gold"}
    assert tags.structured == {"result": ["new"]}


def test_replaying_calls_through_mcp_reaches_the_state_of_calling_the_methods_in_process(spec: EnvironmentSpec) -> None:
    calls = [
        ("add_tag", {"tag": "sale"}),
        ("sell", {"sku": "apple", "quantity": 2, "tier": "gold"}),
        ("restock", {"sku": "kiwi"}),
        ("explode", {"sku": "apple"}),
        ("sell", {"sku": "kiwi"}),
    ]
    scope = _in_process()
    instance = scope["MessyStore"]()
    before = scope["_em_snapshot"](instance)
    for name, arguments in calls:
        try:
            getattr(instance, name)(**arguments)
        except RuntimeError:  # the runtime rolls a failed call back: mirror that in-process
            instance = scope["_em_rebuild"](scope["MessyStore"], before)
            continue
        before = scope["_em_snapshot"](instance)
    expected = json.loads(json.dumps(scope["_em_snapshot"](instance)))

    async def go() -> dict[str, Any]:
        with anyio.fail_after(120):
            async with candidate(spec) as server:
                _, final = await run_calls(
                    server, spec.default_state, spec.default_now, [ToolCall(tool=n, arguments=a) for n, a in calls]
                )
                return final

    assert anyio.run(go) == expected


def test_a_class_loaded_through_an_init_method_takes_its_state_from_the_config_and_resets_to_it(tmp_path: Path) -> None:
    config = tmp_path / "state.json"
    config.write_text(json.dumps({"stock": {"fig": 2}, "tags": ["b", "a"]}), encoding="utf-8")
    result = CliRunner().invoke(
        app,
        [
            *("import", "class", f"{MESSY}:MessyStore", "--state", str(config), "--init", "load_scenario"),
            *("--id", "messy", "--out", str(tmp_path / "servers")),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "skipped method bulk" in result.output
    spec = load_environment_spec(tmp_path / "servers" / "messy" / "spec.json")
    assert "load_scenario" not in [t.name for t in spec.tools]
    assert spec.default_state["stock"] == {"fig": 2}
    assert spec.default_state["tags"] == {"$type": "set", "items": ["a", "b"]}

    async def go() -> tuple[dict[str, Any], dict[str, Any]]:
        with anyio.fail_after(120):
            async with candidate(spec) as server:
                await server.prepare("t", spec.default_state, spec.default_now, 0)
                await server.call("sell", {"sku": "fig"})
                changed = await server.state()
                await server.prepare("t", spec.default_state, spec.default_now, 0)
                return changed, await server.state()

    changed, after_reset = anyio.run(go)
    assert changed["stock"] == {"fig": 1}
    assert after_reset == spec.default_state


def test_the_state_encoding_round_trips_values_json_cannot_hold() -> None:
    scope: dict[str, Any] = {"__name__": "encoding_round_trip"}
    exec(
        "import collections, datetime, decimal, enum\n"
        "P = collections.namedtuple('P', 'x y')\n"
        "class Level(enum.IntEnum):\n    LOW = 1\n" + HELPERS,
        scope,
    )
    values = [
        scope["P"](1, (2, 3)),
        scope["Level"].LOW,
        {1: {2}},
        {"$type": "a key that looks like a tag"},
        b"bytes",
        frozenset({"a"}),
        datetime.datetime(2024, 1, 2, 3, 4, tzinfo=datetime.UTC),
        datetime.timedelta(seconds=90),
        Decimal("1.10"),
        float("inf"),
    ]
    for value in values:
        encoded = json.loads(json.dumps(scope["_em_encode"](value), allow_nan=False))
        decoded = scope["_em_decode"](encoded)
        assert decoded == value and type(decoded) is type(value), value


def test_a_class_can_be_named_by_its_module_without_importing_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from envmint.cli.importers import module_file

    package = tmp_path / "acme" / "envs"
    package.mkdir(parents=True)
    (tmp_path / "acme" / "__init__.py").write_text("raise RuntimeError('importing is not allowed')\n")
    (package / "__init__.py").write_text("")
    (package / "store.py").write_text("class Store:\n    pass\n")
    monkeypatch.chdir(tmp_path)
    assert module_file("acme.envs.store") == tmp_path / "acme" / "envs" / "store.py"
    assert module_file("acme.missing") is None
