"""The emitter: spec in, standalone server folder out, deterministic to the byte."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from envmint.cli import app
from envmint.contract import EnvironmentSpec, model_json
from envmint.emit import RUNTIME_SOURCE, emit

EXPECTED_FILES = {"server.py", "environment.py", "spec.json", "default_state.json", "README.md", "manifest.json"}


def _tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }


def test_emit_writes_the_server_folder_and_a_runtime_copy_beside_it(
    tmp_path: Path, library_spec: EnvironmentSpec
) -> None:
    folder = emit(library_spec, tmp_path)
    assert folder == tmp_path / "library_desk"
    assert {p.name for p in folder.iterdir()} == EXPECTED_FILES
    runtime = tmp_path / "_runtime" / "envmint_runtime"
    assert sorted(p.name for p in runtime.glob("*.py")) == sorted(p.name for p in RUNTIME_SOURCE.glob("*.py"))
    assert json.loads((folder / "spec.json").read_text()) == library_spec.model_dump(mode="json", exclude_none=True)
    assert json.loads((folder / "default_state.json").read_text()) == library_spec.default_state
    assert (folder / "environment.py").read_text() == library_spec.code.source


def test_emitting_twice_gives_byte_identical_folders(tmp_path: Path, library_spec: EnvironmentSpec) -> None:
    emit(library_spec, tmp_path / "a")
    emit(library_spec, tmp_path / "b")
    emit(library_spec, tmp_path / "b")
    assert _tree(tmp_path / "a") == _tree(tmp_path / "b")


def test_the_manifest_lists_exactly_the_spec_tools_and_runs_server_py(
    tmp_path: Path, library_spec: EnvironmentSpec
) -> None:
    manifest = json.loads((emit(library_spec, tmp_path) / "manifest.json").read_text())
    assert manifest["manifest_version"] == "0.3"
    assert [t["name"] for t in manifest["tools"]] == [t.name for t in library_spec.tools]
    assert manifest["server"]["entry_point"] == "server.py"
    assert manifest["server"]["mcp_config"]["args"] == ["${__dirname}/server.py"]


def test_the_readme_card_shows_every_tool_and_how_to_add_the_server_to_claude(
    tmp_path: Path, library_spec: EnvironmentSpec
) -> None:
    card = (emit(library_spec, tmp_path) / "README.md").read_text()
    for tool in library_spec.tools:
        assert f"| `{tool.name}` | {tool.kind} |" in card
    assert "claude mcp add library_desk -e PYTHONUNBUFFERED=1 -- python3" in card
    assert '"mcpServers"' in card
    assert "Created by: hand" in card
    for entity in library_spec.state_schema["properties"]:
        assert f"- `{entity}`" in card


def test_envmint_emit_writes_the_folder_from_a_spec_file(tmp_path: Path, library_spec: EnvironmentSpec) -> None:
    spec_path = tmp_path / "spec.json"
    spec_path.write_text(model_json(library_spec))
    result = CliRunner().invoke(app, ["emit", str(spec_path), "--out", str(tmp_path / "servers")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "servers" / "library_desk" / "server.py").is_file()


@pytest.mark.parametrize("command", ["emit", "validate"])
def test_the_cli_reports_a_bad_spec_file_with_its_path_and_exits_nonzero(
    tmp_path: Path, library_spec: EnvironmentSpec, command: str
) -> None:
    data = library_spec.model_dump(mode="json")
    data["tools"][2]["kind"] = "write"
    spec_path = tmp_path / "bad.json"
    spec_path.write_text(json.dumps(data))
    result = CliRunner().invoke(app, [command, str(spec_path)])
    assert result.exit_code == 1
    assert "bad.json" in result.output and "$.tools[2].kind" in result.output


def test_envmint_validate_accepts_the_fixture_scenarios() -> None:
    from tests.fixtures import library

    result = CliRunner().invoke(app, ["validate", *map(str, library.scenario_paths())])
    assert result.exit_code == 0, result.output
    assert result.output.count("(Scenario)") == len(library.scenario_paths())


def test_the_card_describes_boolean_subschemas_such_as_closed_tuples(library_spec: EnvironmentSpec) -> None:
    from envmint.emit.card import _type_of

    assert _type_of({"type": "array", "prefixItems": [{"type": "string"}], "items": False}) == "array of nothing"
    assert _type_of(True) == "any"
