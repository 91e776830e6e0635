"""MCP Registry entries (server.json): what `envmint bundle` writes passes the registry's published schema and
publish rules, and the validator rejects what the registry rejects."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from envmint.cli import app
from envmint.publish.bundle import bundle_name
from envmint.publish.registry import SCHEMA_FILE, SCHEMA_URL, problems, server_entry

CATALOG = Path(__file__).resolve().parents[1] / "mcp_servers"
SHA = "ab" * 32


def _catalog() -> list[Path]:
    return sorted(p for p in CATALOG.iterdir() if (p / "spec.json").is_file())


@pytest.fixture
def entry(library_folder: Path) -> dict[str, Any]:
    return server_entry(library_folder, bundle_name=bundle_name(library_folder), bundle_sha256=SHA)


def test_the_vendored_schema_is_the_registry_schema_the_entries_name() -> None:
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    assert schema["$id"] == SCHEMA_URL and schema["$ref"] == "#/definitions/ServerDetail"


@pytest.mark.parametrize("folder", _catalog(), ids=lambda p: p.name)
def test_every_catalog_server_gets_an_entry_the_registry_accepts(folder: Path) -> None:
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    entry = server_entry(
        folder,
        bundle_name=bundle_name(folder),
        bundle_sha256=SHA,
        namespace="io.github.acme",
        release_url="https://github.com/acme/envs/releases/download/v1",
        repository="https://github.com/acme/envs",
    )
    assert problems(entry) == []
    assert entry["name"] == f"io.github.acme/{manifest['name']}" and entry["version"] == manifest["version"]
    (package,) = entry["packages"]
    assert package["identifier"] == f"https://github.com/acme/envs/releases/download/v1/{bundle_name(folder)}"
    assert package["registryType"] == "mcpb" and package["transport"] == {"type": "stdio"}
    tools = entry["_meta"]["io.modelcontextprotocol.registry/publisher-provided"]["envmint"]["tools"]
    assert tools == [tool["name"] for tool in manifest["tools"]]
    assert entry["repository"] == {"url": "https://github.com/acme/envs", "source": "github",
                                   "subfolder": f"mcp_servers/{folder.name}"}  # fmt: skip


def test_the_default_entry_is_accepted_too(entry: dict[str, Any]) -> None:
    assert problems(entry) == []
    assert entry["name"] == "io.github.envmint/library-desk"


def _broken(entry: dict[str, Any], change: str) -> dict[str, Any]:
    broken = copy.deepcopy(entry)
    package = broken["packages"][0]
    if change == "no name":
        del broken["name"]
    elif change == "no slash in the name":
        broken["name"] = "library-desk"
    elif change == "a namespace ending in a dash":
        broken["name"] = "io.github.acme-/library-desk"
    elif change == "a 101-character description":
        broken["description"] = "x" * 101
    elif change == "a version range":
        broken["version"] = "^1.0.0"
    elif change == "the package version latest":
        package["version"] = "latest"
    elif change == "a positional argument without value or hint":
        package["packageArguments"] = [{"type": "positional"}]
    elif change == "an mcpb package without its hash":
        del package["fileSha256"]
    elif change == "an mcpb package over plain http":
        package["identifier"] = package["identifier"].replace("https://", "http://")
    elif change == "an upper-case hash":
        package["fileSha256"] = SHA.upper()
    elif change == "a stdio transport with a url":
        package["transport"] = {"type": "stdio", "url": "https://example.com/mcp"}
    elif change == "a package without a transport":
        del package["transport"]
    return broken


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ("no name", "(top level)"),
        ("no slash in the name", "name"),
        ("a namespace ending in a dash", "name"),
        ("a 101-character description", "description"),
        ("a version range", "version"),
        ("the package version latest", "packages[0].version"),
        ("a positional argument without value or hint", "packages[0].packageArguments[0]"),
        ("an mcpb package without its hash", "packages[0].fileSha256"),
        ("an mcpb package over plain http", "packages[0].identifier"),
        ("an upper-case hash", "packages[0].fileSha256"),
        ("a stdio transport with a url", "packages[0].transport.url"),
        ("a package without a transport", "packages[0]"),
    ],
)
def test_the_validator_rejects_what_the_registry_rejects(entry: dict[str, Any], change: str, where: str) -> None:
    found = problems(_broken(entry, change))
    assert found, f"{change} was accepted"
    assert any(problem.startswith(f"{where}:") for problem in found), found


def test_bundle_refuses_a_namespace_the_registry_rejects_before_building(library_folder: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["bundle", "library_desk", "--servers", str(library_folder.parent), "--out", str(tmp_path),
         "--namespace", "io github acme"],
    )  # fmt: skip
    assert result.exit_code == 1
    assert "would reject" in result.output and "name:" in result.output
    assert list(tmp_path.iterdir()) == []


def test_bundle_without_a_server_is_a_usage_error(library_folder: Path) -> None:
    result = CliRunner().invoke(app, ["bundle", "--servers", str(library_folder.parent / "nothing-here")])
    assert result.exit_code == 2 and "ENV_ID" in result.output
