"""The contract models and their files: strict loading, clear errors, published schemas."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from envmint.contract import ContractError, EnvironmentSpec, Scenario, load_environment_spec, load_scenario
from envmint.contract import schemas as published
from tests.fixtures import library


def _spec_data(library_spec: EnvironmentSpec) -> dict[str, Any]:
    return library_spec.model_dump(mode="json")


def _write(tmp_path: Path, data: Any, name: str = "spec.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return path


def test_the_fixture_spec_and_its_scenarios_satisfy_the_contract(library_spec: EnvironmentSpec) -> None:
    assert library_spec.id == "library_desk"
    assert len(library_spec.tools) >= 6
    assert {t.kind for t in library_spec.tools} == {"query", "mutation"}
    scenarios = library.load_scenarios()
    assert scenarios and all(s.env_id == library_spec.id for s in scenarios)
    assert {s.kind for s in scenarios} == {"task", "conversation"}


@pytest.mark.parametrize(
    ("mutate", "where", "problem"),
    [
        (
            lambda d: d["tools"][0]["input_schema"].pop("additionalProperties"),
            "$.tools[0].input_schema",
            '"additionalProperties": false',
        ),
        (lambda d: d["tools"][1].update(kind="write"), "$.tools[1].kind", "'query' or 'mutation'"),
        (lambda d: d.update(id="Library Desk"), "$.id", "should match pattern"),
        (lambda d: d.update(colour="blue"), "$.colour", "Extra inputs are not permitted"),
        (lambda d: d.pop("state_schema"), "$.state_schema", "Field required"),
        (lambda d: d.update(default_now="next tuesday"), "$.default_now", "ISO 8601"),
    ],
    ids=["open-input-schema", "bad-kind", "bad-id", "unknown-field", "missing-field", "bad-instant"],
)
def test_a_spec_file_that_does_not_match_gets_an_error_naming_file_path_and_problem(
    tmp_path: Path, library_spec: EnvironmentSpec, mutate: Any, where: str, problem: str
) -> None:
    data = _spec_data(library_spec)
    mutate(data)
    path = _write(tmp_path, data)
    with pytest.raises(ContractError) as raised:
        load_environment_spec(path)
    message = str(raised.value)
    assert str(path) in message
    assert where in message
    assert problem in message


def test_a_parameter_without_description_or_a_required_one_with_a_default_is_rejected(
    library_spec: EnvironmentSpec,
) -> None:
    data = _spec_data(library_spec)
    schema = data["tools"][0]["input_schema"]
    name = next(iter(schema["properties"]))
    schema["properties"][name].pop("description")
    with pytest.raises(ValueError, match=f"properties.{name} needs a description"):
        EnvironmentSpec.model_validate(data)
    data = _spec_data(library_spec)
    schema = data["tools"][0]["input_schema"]
    name = schema["required"][0]
    schema["properties"][name]["default"] = "x"
    with pytest.raises(ValueError, match="has a default, so it must not be required"):
        EnvironmentSpec.model_validate(data)


def test_a_default_state_that_breaks_the_state_schema_is_rejected_with_its_path(library_spec: EnvironmentSpec) -> None:
    data = _spec_data(library_spec)
    data["default_state"] = {"unexpected": True}
    with pytest.raises(ValueError, match="default_state"):
        EnvironmentSpec.model_validate(data)


def test_an_unparseable_file_is_reported_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.json"
    path.write_text('{"id": "x",\n  oops}')
    with pytest.raises(ContractError, match=r"broken.json: \$: not valid JSON: line 2"):
        load_environment_spec(path)


def _scenario_data() -> dict[str, Any]:
    return library.load_scenarios()[0].model_dump(mode="json")


def test_a_conversation_needs_a_simulated_user_and_a_task_must_not_have_one(tmp_path: Path) -> None:
    data = _scenario_data()
    data.update(kind="conversation", user=None)
    with pytest.raises(ContractError, match="needs a simulated user"):
        load_scenario(_write(tmp_path, data, "s.json"))


@pytest.mark.parametrize(
    ("source", "problem"),
    [
        ("def verify(initial_state, final_state):\n    return True\n", "must define a top-level function `check`"),
        ("def check(final_state):\n    return True\n", "must take (initial_state, final_state)"),
        ("def check(initial_state, final_state)\n    return True\n", "does not parse: line 1"),
    ],
)
def test_a_check_must_define_check_of_the_two_states(tmp_path: Path, source: str, problem: str) -> None:
    data = _scenario_data()
    data["checks"][0]["source"] = source
    with pytest.raises(ContractError) as raised:
        load_scenario(_write(tmp_path, data, "s.json"))
    assert "$.checks[0].source" in str(raised.value)
    assert problem in str(raised.value)


def test_a_scenario_id_must_belong_to_its_environment() -> None:
    data = _scenario_data()
    data["id"] = "other_env/x"
    with pytest.raises(ValueError, match="must start with the env_id"):
        Scenario.model_validate(data)


def test_instants_are_stored_in_canonical_utc() -> None:
    data = _scenario_data()
    data["now"] = "2026-03-02T10:30:00+01:00"
    assert Scenario.model_validate(data).now == "2026-03-02T09:30:00Z"


def test_the_published_json_schemas_match_the_models() -> None:
    for filename, model in published.PUBLISHED.items():
        committed = (published.SCHEMA_DIR / filename).read_text()
        assert committed == published.render(model, filename), f"run `envmint schema` to refresh {filename}"


def test_the_published_schema_accepts_the_fixture_files(library_spec: EnvironmentSpec) -> None:
    from jsonschema import Draft202012Validator

    spec_schema = json.loads((published.SCHEMA_DIR / "environment-spec.v1.schema.json").read_text())
    scenario_schema = json.loads((published.SCHEMA_DIR / "scenario.v1.schema.json").read_text())
    Draft202012Validator(spec_schema).validate(_spec_data(library_spec))
    for scenario in library.load_scenarios():
        Draft202012Validator(scenario_schema).validate(scenario.model_dump(mode="json"))
