"""``envmint serve`` and ``envmint grade``: one scenario played by any MCP client, graded afterwards.

The scenario's server runs in the sandbox as a child process. Over stdio the child inherits
envmint's standard input and output, so the client talks to it directly; envmint itself writes
only to standard error. The child keeps ``final_state.json`` equal to its state after every
change; when it ends (the client disconnects, or envmint gets SIGINT/SIGTERM) the final state is
graded and ``verdict.json`` written.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from envmint import sandbox
from envmint.contract import Scenario
from envmint.grading import CheckVerdict, Verdict, grade_checks_sync, reward
from envmint.harness.servers import SERVER_LIMITS

FINAL_STATE = "final_state.json"
VERDICT = "verdict.json"


@dataclass(frozen=True)
class Grade:
    scenario: str
    verdicts: list[CheckVerdict]

    @property
    def success(self) -> bool:
        return bool(self.verdicts) and all(v.verdict is Verdict.PASS for v in self.verdicts)

    def as_json(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "success": self.success,
            "reward": round(reward(self.verdicts), 6),
            "checks": [{"id": v.check_id, "verdict": v.verdict.value, "detail": v.detail} for v in self.verdicts],
        }


def grade_state(scenario: Scenario, final_state: dict[str, Any]) -> Grade:
    return Grade(scenario.id, grade_checks_sync(scenario.checks, scenario.initial_state, final_state))


def serve_command(
    scenario_path: Path,
    folder: Path,
    out: Path,
    *,
    transport: str,
    host: str = "127.0.0.1",
    port: int = 8000,
    sandboxed: bool = True,
) -> list[str]:
    folder = folder.resolve()
    argv = [sys.executable, "-I", str(folder / "server.py"), "--scenario", str(scenario_path.resolve())]
    argv += ["--final-state", str((out / FINAL_STATE).resolve()), "--transport", transport]
    if transport == "http":
        argv += ["--host", host, "--port", str(port)]
    if not sandboxed:
        return argv
    readable = [p for p in (folder, folder.parent / "_runtime", scenario_path.resolve()) if p.exists()]
    return sandbox.sandboxed_argv(
        argv, readable=readable, writable=[out], limits=SERVER_LIMITS, network=transport == "http"
    )


def serve(
    scenario: Scenario, scenario_path: Path, folder: Path, out: Path, *, transport: str, port: int, sandboxed: bool
) -> Grade | None:
    """Run the scenario's server until it ends, then grade its final state (None if it never started)."""
    out.mkdir(parents=True, exist_ok=True)
    (out / FINAL_STATE).unlink(missing_ok=True)
    command = serve_command(scenario_path, folder, out, transport=transport, port=port, sandboxed=sandboxed)
    child = subprocess.Popen(command)

    def forward(signum: int, frame: FrameType | None) -> None:
        child.send_signal(signal.SIGTERM)

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        child.wait()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    final_path = out / FINAL_STATE
    if not final_path.exists():
        return None
    grade = grade_state(scenario, json.loads(final_path.read_text(encoding="utf-8")))
    (out / VERDICT).write_text(json.dumps(grade.as_json(), indent=2) + "\n", encoding="utf-8")
    return grade
