"""Every catalog server, checked over HTTP (the server runs in the sandbox) by the official MCP
conformance suite, scenario by scenario, and by one invalid Inspector call that must be refused."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from envmint import sandbox
from envmint.harness.selection import select
from envmint.harness.servers import SERVER_LIMITS
from tests.conftest import TOOLS_DIR, need
from tests.test_catalog_clients import SCENARIOS, SERVERS, SPECS, _arguments, _free_port, _inspect
from tests.test_external_clients import INSPECTOR, NODE_BIN, _node_env

CONFORMANCE = TOOLS_DIR / "node" / "node_modules" / ".bin" / "conformance"

# Scenarios that hold for any server: they need none of the suite's fixture tools or resources.
GENERIC = ["server-initialize", "ping", "tools-list", "dns-rebinding-protection", "server-sse-multiple-streams"]
# Scenarios a server need only pass when it declares the capability (else -32601 is the right answer).
BY_CAPABILITY = {
    "resources": ["resources-list"],
    "prompts": ["prompts-list"],
    "logging": ["logging-set-level"],
    "completions": ["completion-complete"],
}
# These two pass against any server that answers an unknown tool with some text, so they prove nothing.
FALSE_PASSES = {"tools-call-simple-text", "tools-call-error"}
# Scenarios run at once against one server; each is its own Node process, mostly start-up time.
PARALLEL = 3

pytestmark = [pytest.mark.external, pytest.mark.skipif(not SPECS, reason="no catalog has been produced yet")]


@dataclass
class CatalogServer:
    spec: Any
    url: str
    capabilities: dict[str, Any]


async def _capabilities(url: str) -> dict[str, Any]:
    with anyio.fail_after(30):
        async with Client(url) as client:
            declared: dict[str, Any] = client.server_capabilities.model_dump(exclude_none=True)
            return declared


@pytest.fixture(scope="module", params=SPECS, ids=[s.id for s in SPECS])
def catalog_server(request: pytest.FixtureRequest) -> Iterator[CatalogServer]:
    """The catalog server, started once in the sandbox and served over HTTP on loopback."""
    need(sandbox.sandbox_available(), "bubblewrap is needed to run catalog servers")
    spec = request.param
    folder = (SERVERS / spec.id).resolve()
    port = _free_port()
    argv = [sys.executable, "-I", str(folder / "server.py"), "--transport", "http", "--port", str(port)]
    argv = sandbox.sandboxed_argv(
        argv, readable=[folder, folder.parent / "_runtime"], limits=SERVER_LIMITS, network=True
    )
    process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    pytest.fail(f"{spec.id}: the HTTP server did not start")
                time.sleep(0.1)
        url = f"http://127.0.0.1:{port}/mcp"
        yield CatalogServer(spec, url, anyio.run(_capabilities, url))
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


def _scenario(url: str, scenario: str, out: Path) -> tuple[int, list[dict[str, Any]], str]:
    """Run one conformance scenario; its exit code, its checks (from checks.json) and its printout."""
    result = subprocess.run(
        [str(CONFORMANCE), "server", "--url", url, "--scenario", scenario, "-o", str(out)],
        capture_output=True, text=True, timeout=90, env=_node_env(), stdin=subprocess.DEVNULL,
    )  # fmt: skip
    written = sorted(out.glob(f"server-{scenario}-*/checks.json"))
    checks: list[dict[str, Any]] = json.loads(written[-1].read_text()) if written else []
    return result.returncode, checks, result.stdout + result.stderr


def _scenarios_for(capabilities: dict[str, Any]) -> list[str]:
    chosen = list(GENERIC)
    for capability, scenarios in BY_CAPABILITY.items():
        if capability in capabilities:
            chosen += scenarios
    assert not FALSE_PASSES & set(chosen)
    return chosen


def test_catalog_servers_declare_tools_and_no_capability_they_do_not_serve(catalog_server: CatalogServer) -> None:
    # Without --scenario a server offers tools only; the capability-gated scenarios above then do not apply.
    assert set(catalog_server.capabilities) == {"tools"}


def test_the_conformance_suite_passes_every_check_of_the_generic_server_scenarios(
    catalog_server: CatalogServer, tmp_path: Path
) -> None:
    need(CONFORMANCE.exists() and NODE_BIN.exists(), "run scripts/setup --with-node to install the conformance suite")
    scenarios = _scenarios_for(catalog_server.capabilities)
    with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        runs = dict(
            zip(scenarios, pool.map(lambda s: _scenario(catalog_server.url, s, tmp_path / s), scenarios), strict=True)
        )
    problems = []
    for scenario, (code, checks, printout) in runs.items():
        statuses = {check["id"]: check["status"] for check in checks}
        if code != 0 or not checks or set(statuses.values()) != {"SUCCESS"}:
            failed = [c for c in checks if c["status"] != "SUCCESS"]
            problems.append(f"{scenario}: exit {code}, checks {statuses}, {failed or printout[-2000:]}")
    assert not problems, "\n".join(problems)


def _wrong_value(schema: dict[str, Any]) -> Any:
    """A value of the wrong JSON type for ``schema`` (None when its type is not a single plain one)."""
    kind = schema.get("type")
    if kind == "string" and "enum" not in schema:
        return 12345
    if kind in ("integer", "number"):
        return "not a number"
    if kind in ("boolean", "array", "object"):
        return "not-" + kind
    return None


def test_the_inspector_gets_an_error_naming_the_field_for_a_wrong_typed_argument(
    catalog_server: CatalogServer,
) -> None:
    need(INSPECTOR.exists() and NODE_BIN.exists(), "run scripts/setup --with-node to install the MCP Inspector")
    spec = catalog_server.spec
    known: dict[str, dict[str, Any]] = {}
    for item in select(SCENARIOS, envs=[spec.id]):
        for call in item.scenario.reference_solution:
            known.setdefault(call.tool, dict(call.arguments))
    target = next(
        (
            (tool, name, wrong)
            for tool in spec.tools
            for name, schema in tool.input_schema.get("properties", {}).items()
            if (wrong := _wrong_value(schema)) is not None
        ),
        None,
    )
    assert target is not None, f"{spec.id} has no tool argument with a plain JSON type"
    tool, field, wrong = target
    arguments = json.dumps({**_arguments(spec, tool, known), field: wrong})
    code, output = _inspect(
        catalog_server.url, "--method", "tools/call", "--tool-name", tool.name, "--tool-args-json", arguments
    )
    assert code == 5, output
    assert output["result"]["isError"] is True
    message = output["result"]["content"][0]["text"]
    assert f"`{field}`" in message and "must be of type" in message, message
