"""Client configuration for emitted servers: Claude Code, Claude Desktop and ``.mcp.json``.

Paths are absolute, so the printed configuration works from any directory. The Python that runs a
server must have ``mcp`` installed; by default it is the one running envmint.
"""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path
from typing import Any, Literal

Client = Literal["claude-code", "claude-desktop", "mcp-json"]


def server_entry(folder: Path, python: str = sys.executable) -> dict[str, Any]:
    return {
        "command": str(Path(python).absolute()),
        "args": [str((folder / "server.py").resolve())],
        "env": {"PYTHONUNBUFFERED": "1"},
    }


def render(client: Client, folders: list[Path], python: str = sys.executable) -> str:
    entries = {folder.name: server_entry(folder, python) for folder in folders}
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
