"""`envmint config`: configuration a client can use as printed, with absolute paths that work."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import anyio
import pytest
from mcp import Client, StdioServerParameters
from typer.testing import CliRunner

from envmint.cli import app


def _config(*args: str) -> str:
    result = CliRunner().invoke(app, ["config", *args])
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.anyio
async def test_the_claude_desktop_entry_starts_the_server_from_any_directory(library_folder: Path) -> None:
    output = _config("claude-desktop", "library_desk", "--servers", str(library_folder.parent))
    entry = json.loads(output)["mcpServers"]["library_desk"]
    assert Path(entry["command"]).is_absolute() and Path(entry["args"][0]).is_absolute()
    params = StdioServerParameters(command=entry["command"], args=entry["args"], env=entry["env"], cwd="/")
    with anyio.fail_after(30):
        async with Client(params) as client:
            assert len((await client.list_tools()).tools) == 12


def test_the_claude_code_command_names_the_server_and_its_absolute_script(library_folder: Path) -> None:
    line = _config("claude-code", "library_desk", "--servers", str(library_folder.parent)).strip()
    words = shlex.split(line)
    assert words[:4] == ["claude", "mcp", "add", "library_desk"]
    assert words[words.index("--") + 2] == str((library_folder / "server.py").resolve())


def test_mcp_json_entries_are_typed_stdio(library_folder: Path) -> None:
    config = json.loads(_config("mcp-json", "library_desk", "--servers", str(library_folder.parent)))
    assert config["mcpServers"]["library_desk"]["type"] == "stdio"


def test_an_unknown_server_is_an_error(library_folder: Path) -> None:
    result = CliRunner().invoke(app, ["config", "claude-code", "nope", "--servers", str(library_folder.parent)])
    assert result.exit_code == 1 and "no server for nope" in result.output
