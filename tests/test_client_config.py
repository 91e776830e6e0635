"""`envmint config`: configuration a client can use as printed, with absolute paths that work."""

from __future__ import annotations

import json
import shlex
import shutil
from pathlib import Path

import anyio
import pytest
from mcp import Client, StdioServerParameters
from typer.testing import CliRunner

from envmint.cli import app
from envmint.publish.clientconfig import CARD_PYTHON, CARD_ROOT


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


@pytest.mark.parametrize("client", ["claude-code", "claude-desktop", "mcp-json"])
def test_each_catalog_card_shows_what_envmint_config_prints(client: str) -> None:
    root = Path(__file__).resolve().parents[1] / "mcp_servers"
    folders = sorted(p for p in root.iterdir() if (p / "spec.json").is_file())
    assert folders
    for folder in folders:
        printed = _config(client, folder.name, "--servers", str(root), "--python", "python3")
        python = shutil.which("python3")
        assert python is not None
        as_on_card = printed.replace(str(root.resolve()), CARD_ROOT).replace(python, CARD_PYTHON)
        card = (folder / "README.md").read_text(encoding="utf-8")
        assert as_on_card.strip() in card, f"{folder.name}: its card does not show `envmint config {client}`"


def test_a_bare_python_name_is_looked_up_on_the_path(library_folder: Path) -> None:
    entry = json.loads(_config("claude-desktop", "library_desk", "--servers", str(library_folder.parent), "--python",
                               "python3"))["mcpServers"]["library_desk"]  # fmt: skip
    assert entry["command"] == shutil.which("python3")
