"""An emitted server as a real process: stdio, HTTP, its command line, and a Python with only mcp."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from mcp import Client

from envmint.harness.control import Controller, stdio_parameters
from tests.conftest import TOOLS_DIR, need

MCP_ONLY_PYTHON = TOOLS_DIR / "mcp-only" / "bin" / "python"


def _run(
    folder: Path, *args: str, python: str = sys.executable, timeout: float = 30
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [python, str(folder / "server.py"), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def test_help_documents_transports_state_clock_and_seed(library_folder: Path) -> None:
    result = _run(library_folder, "--help")
    assert result.returncode == 0
    for option in ("--transport", "--port", "--state", "--now", "--seed", "--call-timeout", "default_state.json"):
        assert option in result.stdout


def test_a_state_file_that_fails_the_schema_exits_nonzero_naming_the_json_path(
    library_folder: Path, tmp_path: Path
) -> None:
    state = json.loads((library_folder / "default_state.json").read_text())
    member = next(iter(state["members"]))
    state["members"][member]["fines_cents"] = "a lot"
    bad = tmp_path / "bad_state.json"
    bad.write_text(json.dumps(state))
    result = _run(library_folder, "--state", str(bad))
    assert result.returncode == 2
    assert f"$.members.{member}.fines_cents" in result.stderr or f'$.members["{member}"].fines_cents' in result.stderr
    assert "Traceback" not in result.stderr


def test_a_state_file_that_is_not_json_exits_nonzero_with_the_line(library_folder: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{\n  nope")
    result = _run(library_folder, "--state", str(bad))
    assert result.returncode == 2
    assert "not valid JSON: line 2" in result.stderr


def test_binding_a_non_loopback_address_without_allow_remote_exits_nonzero(library_folder: Path) -> None:
    result = _run(library_folder, "--transport", "http", "--host", "0.0.0.0", "--port", "1")
    assert result.returncode == 2
    assert "--allow-remote" in result.stderr


@pytest.mark.anyio
async def test_the_server_runs_over_real_stdio_in_a_python_that_has_only_mcp(library_folder: Path) -> None:
    need(MCP_ONLY_PYTHON.exists(), "run scripts/setup to create .tools/mcp-only")
    probe = subprocess.run(
        [str(MCP_ONLY_PYTHON), "-c", "import importlib.util as u; print([m for m in "
         "('envmint', 'envmint_runtime', 'anthropic', 'typer', 'rich') if u.find_spec(m)])"],
        capture_output=True, text=True, timeout=30, cwd=library_folder,
    )  # fmt: skip
    assert probe.stdout.strip() == "[]", "the mcp-only virtualenv must not hold envmint or its other dependencies"
    params = stdio_parameters(library_folder, "--seed", "3", python=str(MCP_ONLY_PYTHON))
    with anyio.fail_after(30):
        async with Client(params) as client:
            tools = await client.list_tools()
            assert len(tools.tools) == 12
            control = Controller(client)
            before = await control.hash()
            bad = await client.call_tool("checkout_book", {"member_id": 1})
            assert bad.is_error and "`member_id` must be of type string" in bad.content[0].text
            assert await control.hash() == before
            state = await control.state()
            member = next(iter(state["members"]))
            good = await client.call_tool("get_member", {"member_id": member})
            assert not good.is_error and good.structured_content is not None


@pytest.mark.anyio
async def test_printing_inside_a_tool_does_not_corrupt_the_stdio_wire(faulty_folder: Path) -> None:
    with anyio.fail_after(30):
        async with Client(stdio_parameters(faulty_folder)) as client:
            result = await client.call_tool("chatty", {})
            after = await client.call_tool("balance", {"account": "alice"})
    assert result.structured_content == {"said": "hello"}
    assert after.structured_content == {"balance": 1000}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def http_server(library_folder: Path) -> Iterator[str]:
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, str(library_folder / "server.py"), "--transport", "http", "--port", str(port)],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                time.sleep(0.05)
        else:
            pytest.fail("HTTP server did not start")
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.mark.anyio
async def test_the_http_transport_serves_tools_on_loopback(http_server: str) -> None:
    with anyio.fail_after(20):
        async with Client(http_server) as client:
            tools = await client.list_tools()
            result = await client.call_tool("search_books", {"query": "the"})
    assert len(tools.tools) == 12
    assert not result.is_error


def test_the_http_transport_refuses_a_foreign_host_header(http_server: str) -> None:
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "ping"}).encode()
    request = urllib.request.Request(
        http_server, data=body, method="POST",
        headers={"Host": "evil.example.com", "Content-Type": "application/json",
                 "Accept": "application/json, text/event-stream"},
    )  # fmt: skip
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(request, timeout=10)
    raised.value.close()
    assert 400 <= raised.value.code < 500
