"""Client configuration for emitted servers: Claude Code, Claude Desktop and ``.mcp.json``.

``render`` fills in absolute paths, so the printed configuration works from any directory. The
Python that runs a server must have ``mcp`` installed; by default it is the one running envmint.
Environment cards show the same text with placeholders (``card_config``).
"""

from __future__ import annotations

import json
import shlex
import shutil
import sys
from pathlib import Path
from typing import Any, Literal

Client = Literal["claude-code", "claude-desktop", "mcp-json"]
CLIENTS: tuple[Client, ...] = ("claude-code", "claude-desktop", "mcp-json")
CARD_PYTHON = "python3"
CARD_ROOT = "/absolute/path/to/mcp_servers"


def server_entry(server_py: str, python: str) -> dict[str, Any]:
    return {"command": python, "args": [server_py], "env": {"PYTHONUNBUFFERED": "1"}}


def render_entries(client: Client, entries: dict[str, dict[str, Any]]) -> str:
    if client == "claude-code":
        lines = []
        for name, entry in entries.items():
            command = " ".join(shlex.quote(part) for part in [entry["command"], *entry["args"]])
            lines.append(f"claude mcp add {shlex.quote(name)} -e PYTHONUNBUFFERED=1 -- {command}")
        return "\n".join(lines) + "\n"
    if client == "claude-desktop":
        return json.dumps({"mcpServers": entries}, indent=2) + "\n"
    typed = {name: {"type": "stdio", **entry} for name, entry in entries.items()}
    return json.dumps({"mcpServers": typed}, indent=2) + "\n"


def absolute_python(python: str) -> str:
    """``python`` as an absolute path: a bare name is looked up on PATH, a relative path made absolute."""
    if "/" not in python:
        found = shutil.which(python)
        return found if found else python
    return str(Path(python).absolute())


def render(client: Client, folders: list[Path], python: str = sys.executable) -> str:
    interpreter = absolute_python(python)
    entries = {folder.name: server_entry(str((folder / "server.py").resolve()), interpreter) for folder in folders}
    return render_entries(client, entries)


def card_config(client: Client, env_id: str) -> str:
    """What ``envmint config CLIENT ENV_ID --python python3`` prints, with the folder's path left as a placeholder."""
    return render_entries(client, {env_id: server_entry(f"{CARD_ROOT}/{env_id}/server.py", CARD_PYTHON)})
