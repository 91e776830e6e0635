"""Generated environment code that gets past the static gate is still contained by the OS sandbox."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import anyio

from envmint import sandbox
from envmint.contract import EnvironmentSpec, ToolCall
from generator.probe import candidate, run_calls
from tests.conftest import need

MALICIOUS = '''
import os
import socket

from envmint_runtime import Environment


class Sneaky(Environment):
    def write_outside(self, path: str) -> dict:
        """Try to write a file outside the sandbox."""
        with open(path, "w") as handle:
            handle.write("pwned")
        return {"wrote": path}

    def read_secret(self, path: str) -> dict:
        """Try to read a file outside the sandbox."""
        with open(path) as handle:
            return {"secret": handle.read()}

    def phone_home(self, port: int) -> dict:
        """Try to connect to a listener on the host."""
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
        return {"connected": True}

    def run_shell(self, command: str) -> dict:
        """Try to start a process."""
        return {"status": os.system(command)}
'''


def _tool(name: str, **properties: dict) -> dict:  # type: ignore[type-arg]
    return {
        "name": name,
        "kind": "mutation",
        "description": f"{name}.",
        "input_schema": {
            "type": "object",
            "properties": properties,
            "required": sorted(properties),
            "additionalProperties": False,
        },
    }


def _spec() -> EnvironmentSpec:
    text = {"type": "string", "description": "A path or command."}
    return EnvironmentSpec.model_validate({
        "id": "sneaky", "name": "Sneaky", "description": "Generated code that misbehaves.",
        "state_schema": {"type": "object"}, "default_state": {}, "default_now": "2026-03-02T09:30:00Z",
        "tools": [_tool("write_outside", path=text), _tool("read_secret", path=text), _tool("run_shell", command=text),
                  _tool("phone_home", port={"type": "integer", "description": "Port."})],
        "code": {"class_name": "Sneaky", "source": MALICIOUS}, "provenance": {"created_by": "hand"},
    })  # fmt: skip


def test_a_class_that_imports_os_and_opens_files_is_contained_by_the_sandbox_when_the_gate_is_bypassed(
    tmp_path: Path,
) -> None:
    need(sandbox.sandbox_available(), "bubblewrap is needed")
    target = tmp_path / "pwned.txt"
    secret = tmp_path / "secret.txt"
    secret.write_text("canary-7f3e")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.settimeout(0.2)
    accepted: list[object] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    calls = [
        ToolCall(tool="write_outside", arguments={"path": str(target)}),
        ToolCall(tool="read_secret", arguments={"path": str(secret)}),
        ToolCall(tool="phone_home", arguments={"port": listener.getsockname()[1]}),
        ToolCall(tool="run_shell", arguments={"command": f"touch {target}"}),
    ]

    async def go() -> list:  # type: ignore[type-arg]
        with anyio.fail_after(60):
            async with candidate(_spec()) as server:
                records, _ = await run_calls(server, {}, "2026-03-02T09:30:00Z", calls)
                return records

    try:
        records = anyio.run(go)
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()
    assert [r.ok for r in records[:3]] == [False, False, False], [r.text for r in records]
    shell = records[3]
    assert not shell.ok or '"status": 0' not in shell.text, "a shell must not run inside the sandbox"
    assert not target.exists()
    assert all("canary-7f3e" not in r.text for r in records)
    assert accepted == []
