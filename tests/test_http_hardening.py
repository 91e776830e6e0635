"""The HTTP transport's guards: a non-loopback bind needs --allow-remote and a bearer token, a request
without the token is refused with 401, and an oversized request body is refused before it is parsed.
The server binds 0.0.0.0 but every request goes to 127.0.0.1."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import secrets
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

HEADERS = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
INITIALIZE: dict[str, Any] = {
    "jsonrpc": "2.0", "id": 1, "method": "initialize",
    "params": {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "test", "version": "0"}},
}  # fmt: skip
FOUR_MIB = 4 * 1024 * 1024


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _server_argv(folder: Path, *args: str) -> list[str]:
    return [sys.executable, str(folder / "server.py"), "--transport", "http", *args]


def _env(token: str | None) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key != "ENVMINT_HTTP_TOKEN"}
    return {**env, "ENVMINT_HTTP_TOKEN": token} if token else env


def _post(port: int, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    """POST to 127.0.0.1; a server that answers early and closes is fine: its status still counts."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        # A body refused before it was all sent breaks the pipe; the response is already waiting.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            connection.request("POST", "/mcp", body=body, headers={**HEADERS, **headers})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


@pytest.mark.parametrize("extra", [[], ["--allow-remote"]], ids=["no-allow-remote", "allow-remote-without-token"])
def test_binding_all_interfaces_needs_allow_remote_and_a_bearer_token(library_folder: Path, extra: list[str]) -> None:
    result = subprocess.run(
        _server_argv(library_folder, "--host", "0.0.0.0", "--port", "1", *extra),
        capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL, env=_env(None),
    )  # fmt: skip
    assert result.returncode != 0
    assert ("ENVMINT_HTTP_TOKEN" if extra else "--allow-remote") in result.stderr
    assert "Traceback" not in result.stderr


@pytest.fixture(scope="module")
def remote_server(library_folder: Path) -> Iterator[tuple[int, str]]:
    """The library server bound to 0.0.0.0 with --allow-remote and a bearer token: (port, token)."""
    token = secrets.token_urlsafe(16)
    port = _free_port()
    process = subprocess.Popen(
        _server_argv(library_folder, "--host", "0.0.0.0", "--port", str(port), "--allow-remote"),
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=_env(token),
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    pytest.fail("the HTTP server did not start")
                time.sleep(0.05)
        yield port, token
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.mark.parametrize("authorization", [None, "Bearer wrong-token", "Basic xyz"], ids=["none", "wrong", "basic"])
def test_a_request_without_the_bearer_token_is_refused_with_401(
    remote_server: tuple[int, str], authorization: str | None
) -> None:
    port, _ = remote_server
    headers = {"Authorization": authorization} if authorization else {}
    status, body = _post(port, json.dumps(INITIALIZE).encode(), headers)
    assert status == 401
    assert b"serverInfo" not in body


def test_a_request_with_the_bearer_token_is_served(remote_server: tuple[int, str]) -> None:
    port, token = remote_server
    status, body = _post(port, json.dumps(INITIALIZE).encode(), {"Authorization": f"Bearer {token}"})
    assert status == 200
    assert b'"serverInfo"' in body and b"library" in body


def _initialize_of_size(size: int) -> bytes:
    """An initialize request padded with an extra field to exactly ``size`` bytes."""
    empty = json.dumps({**INITIALIZE, "params": {**INITIALIZE["params"], "padding": ""}}).encode()
    body = json.dumps({**INITIALIZE, "params": {**INITIALIZE["params"], "padding": "x" * (size - len(empty))}})
    assert len(body) == size
    return body.encode()


@pytest.mark.parametrize(("size", "expected"), [(FOUR_MIB + 1, 413), (FOUR_MIB - 1024, 200)], ids=["over", "under"])
def test_a_request_body_over_4_mib_is_refused_and_one_just_under_is_served(
    remote_server: tuple[int, str], size: int, expected: int
) -> None:
    port, token = remote_server
    status, _ = _post(port, _initialize_of_size(size), {"Authorization": f"Bearer {token}"})
    assert status == expected
