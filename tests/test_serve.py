"""`envmint serve` and `envmint grade`: a third-party MCP client plays a scenario; the grade reflects it."""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from envmint.contract import Scenario
from tests.conftest import REPO, need
from tests.fixtures import library
from tests.test_external_clients import INSPECTOR, NODE_BIN, _node_env

SCENARIO = "library_desk/return_and_settle"


@pytest.fixture
def catalog(tmp_path: Path, library_folder: Path) -> tuple[Path, Path]:
    scenarios = tmp_path / "scenarios" / "library_desk"
    scenarios.mkdir(parents=True)
    for path in library.scenario_paths():
        shutil.copy(path, scenarios / path.name)
    return tmp_path / "scenarios", library_folder.parent


def _scenario() -> Scenario:
    return next(s for s in library.load_scenarios() if s.id == SCENARIO)


def _envmint(*args: str) -> list[str]:
    return [sys.executable, "-m", "envmint.cli", *args]


def _inspector(target: list[str], *args: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    need(INSPECTOR.exists() and NODE_BIN.exists(), "run scripts/setup --with-node to install the MCP Inspector")
    result = subprocess.run(
        [str(INSPECTOR), "--cli", *target, *args, "--format", "json", "-q"],
        capture_output=True, text=True, timeout=90, env=_node_env(), stdin=subprocess.DEVNULL, cwd=REPO,
    )  # fmt: skip
    return result.returncode, json.loads(result.stdout) if result.stdout.strip() else {}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _serve_http(catalog: tuple[Path, Path], out: Path) -> tuple[subprocess.Popen[bytes], str]:
    scenarios, servers = catalog
    port = _free_port()
    process = subprocess.Popen(
        _envmint("serve", SCENARIO, "--transport", "http", "--port", str(port), "--out", str(out),
                 "--scenarios", str(scenarios), "--servers", str(servers)),
        cwd=REPO, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return process, f"http://127.0.0.1:{port}/mcp"
        except OSError:
            time.sleep(0.1)
    process.kill()
    pytest.fail("envmint serve did not start listening")


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=60)


def test_the_inspector_solving_a_scenario_over_http_is_graded_a_success(
    catalog: tuple[Path, Path], tmp_path: Path
) -> None:
    out = tmp_path / "played"
    process, url = _serve_http(catalog, out)
    try:
        code, prompts = _inspector([url], "--method", "prompts/list")
        assert code == 0 and [p["name"] for p in prompts["result"]["prompts"]] == ["task"]
        for call in _scenario().reference_solution:
            code, output = _inspector(
                [url],
                "--method",
                "tools/call",
                "--tool-name",
                call.tool,
                "--tool-args-json",
                json.dumps(call.arguments),
            )
            assert code == 0 and output["result"]["isError"] is False, output
    finally:
        _stop(process)
    verdict = json.loads((out / "verdict.json").read_text())
    assert verdict["success"] is True and verdict["reward"] == 1.0


def test_the_inspector_doing_part_of_the_work_over_stdio_gets_partial_credit(
    catalog: tuple[Path, Path], tmp_path: Path
) -> None:
    scenarios, servers = catalog
    out = tmp_path / "partial"
    first_write = next(c for c in _scenario().reference_solution if c.tool == "return_book")
    target = _envmint("serve", SCENARIO, "--out", str(out), "--scenarios", str(scenarios), "--servers", str(servers))
    code, output = _inspector(
        target, "--method", "tools/call", "--tool-name", first_write.tool,
        "--tool-args-json", json.dumps(first_write.arguments),
    )  # fmt: skip
    assert code == 0 and output["result"]["isError"] is False
    deadline = time.monotonic() + 30
    while not (out / "verdict.json").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    verdict = json.loads((out / "verdict.json").read_text())
    assert verdict["success"] is False
    assert 0.0 <= verdict["reward"] < 1.0
    assert json.loads((out / "final_state.json").read_text()) != _scenario().initial_state


def test_envmint_grade_scores_a_state_file_and_exits_by_success(catalog: tuple[Path, Path], tmp_path: Path) -> None:
    scenarios, _ = catalog
    state = tmp_path / "state.json"
    state.write_text(json.dumps(_scenario().initial_state))
    command = _envmint("grade", SCENARIO, "--state", str(state), "--scenarios", str(scenarios))
    result = subprocess.run(
        [*command, "--out", str(tmp_path / "v.json")], cwd=REPO, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1
    assert json.loads((tmp_path / "v.json").read_text())["success"] is False
    assert "not solved" in result.stderr
