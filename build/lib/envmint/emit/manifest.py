"""The MCP Bundle (MCPB 0.3) manifest of a server folder."""

from __future__ import annotations

from typing import Any

from envmint.contract import EnvironmentSpec

MANIFEST_VERSION = "0.3"


def first_sentence(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    cut = text.find(". ")
    sentence = text if cut < 0 else text[: cut + 1]
    return sentence if len(sentence) <= limit else sentence[: limit - 3].rstrip() + "..."


def manifest(spec: EnvironmentSpec, version: str) -> dict[str, Any]:
    long_description = spec.description
    if spec.rules:
        long_description += "\n\nRules:\n" + "\n".join(f"- {rule}" for rule in spec.rules)
    return {
        "manifest_version": MANIFEST_VERSION,
        "name": spec.id.replace("_", "-"),
        "display_name": spec.name,
        "version": version,
        "description": first_sentence(spec.description),
        "long_description": long_description,
        "author": {"name": "envmint"},
        "server": {
            "type": "python",
            "entry_point": "server.py",
            "mcp_config": {
                "command": "python3",
                "args": ["${__dirname}/server.py"],
                "env": {"PYTHONUNBUFFERED": "1", "PYTHONPATH": "${__dirname}/lib"},
            },
        },
        "tools": [{"name": t.name, "description": first_sentence(t.description)} for t in spec.tools],
        "tools_generated": False,
        "keywords": sorted({"envmint", "simulation", spec.domain.replace(" ", "-")}),
        "license": "MIT",
        "compatibility": {"platforms": ["darwin", "linux", "win32"], "runtimes": {"python": ">=3.11"}},
    }
