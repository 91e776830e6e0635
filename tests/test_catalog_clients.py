"""Every catalog server, checked by a client we did not write: the MCP Inspector CLI lists its tools
and makes one schema-valid call to each of them over HTTP (the server runs in the sandbox)."""

from __future__ import annotations

import json
import random
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from envmint import sandbox
from envmint.catalog import environments
from envmint.harness.agents.baselines import RandomAgent
from envmint.harness.selection import select
from envmint.harness.servers import SERVER_LIMITS
from envmint.publish.bundle import bundle_manifest
from tests.conftest import REPO, need
from tests.test_external_clients import INSPECTOR, MCPB, NODE_BIN, _node_env

SERVERS = REPO / "mcp_servers"
SCENARIOS = REPO / "scenarios"
SPECS = environments(SERVERS) if SERVERS.exists() else []

pytestmark = [pytest.mark.external, pytest.mark.skipif(not SPECS, reason="no catalog has been produced yet")]


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [*value.keys(), *(s for v in value.values() for s in _strings(v))]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def _arguments(spec: Any, tool: Any, known: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Arguments a reference solution used, else schema-valid ones built from the default state's values."""
    if tool.name in known:
        return known[tool.name]
    validator = Draft202012Validator(tool.input_schema)
    generator = RandomAgent(seed=0)
    generator.seen = sorted(set(_strings(spec.default_state)))
    for seed in range(200):
        generator.rng = random.Random(seed)
        candidate = generator.value(tool.input_schema, depth=0)
        if validator.is_valid(candidate):
            return dict(candidate)
    pytest.fail(f"could not build schema-valid arguments for {spec.id}.{tool.name}")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _inspect(url: str, *args: str) -> tuple[int, dict[str, Any]]:
    result = subprocess.run(
        [str(INSPECTOR), "--cli", url, *args, "--format", "json", "-q"],
        capture_output=True, text=True, timeout=60, env=_node_env(), stdin=subprocess.DEVNULL,
    )  # fmt: skip
    return result.returncode, json.loads(result.stdout) if result.stdout.strip() else {}


@pytest.mark.parametrize("spec", SPECS, ids=[s.id for s in SPECS])
def test_the_inspector_lists_every_tool_and_calls_each_one_validly(spec: Any) -> None:
    need(INSPECTOR.exists() and NODE_BIN.exists(), "run scripts/setup --with-node to install the MCP Inspector")
    need(sandbox.sandbox_available(), "bubblewrap is needed to run catalog servers")
    known: dict[str, dict[str, Any]] = {}
    for item in select(SCENARIOS, envs=[spec.id]):
        for call in item.scenario.reference_solution:
            known.setdefault(call.tool, dict(call.arguments))
    folder = (SERVERS / spec.id).resolve()
    port = _free_port()
    argv = [sys.executable, "-I", str(folder / "server.py"), "--transport", "http", "--port", str(port)]
    argv = sandbox.sandboxed_argv(
        argv, readable=[folder, folder.parent / "_runtime"], limits=SERVER_LIMITS, network=True
    )
    process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        url = f"http://127.0.0.1:{port}/mcp"
        code, listing = _inspect(url, "--method", "tools/list")
        assert code == 0
        assert [t["name"] for t in listing["result"]["tools"]] == [t.name for t in spec.tools]
        calls = {tool.name: _arguments(spec, tool, known) for tool in spec.tools}

        def call(name: str) -> tuple[int, dict[str, Any]]:
            arguments = json.dumps(calls[name])
            return _inspect(url, "--method", "tools/call", "--tool-name", name, "--tool-args-json", arguments)

        # Each Inspector run is a separate client session; a few at a time hide node's start-up time.
        with ThreadPoolExecutor(max_workers=3) as pool:
            outcomes = dict(zip(calls, pool.map(call, calls), strict=True))
        for name, (code, output) in outcomes.items():
            assert code in (0, 5), (name, output)
            text = output["result"]["content"][0]["text"] if output["result"]["content"] else ""
            assert "Invalid arguments" not in text, (name, calls[name], text)
    finally:
        process.terminate()
        process.wait(timeout=15)


def test_catalog_servers_folder_is_pipeline_output_only() -> None:
    for path in Path(SERVERS).iterdir():
        assert path.name == "_runtime" or (path / "spec.json").exists(), f"unexpected {path}"


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.id)
def test_mcpb_validates_the_bundle_manifest_of_every_catalog_server(spec: Any, tmp_path: Path) -> None:
    need(MCPB.exists() and NODE_BIN.exists(), "run scripts/setup --with-node to install mcpb")
    folder = SERVERS / spec.id
    (tmp_path / "manifest.json").write_text(json.dumps(bundle_manifest(folder)), encoding="utf-8")
    result = subprocess.run(
        [str(MCPB), "validate", str(tmp_path / "manifest.json")],
        capture_output=True, text=True, timeout=60, env=_node_env(), stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert [tool["name"] for tool in bundle_manifest(folder)["tools"]] == [tool.name for tool in spec.tools]
