"""A run's results on disk: ``results.jsonl`` (one line per episode), trajectories, the run manifest.

Appends are single ``write`` calls on an ``O_APPEND`` descriptor followed by ``fsync``; a line is
only ever appended whole. Reading tolerates (and repair removes) a torn last line, so a run killed
at any point leaves a file that parses line by line.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Status = Literal["ok", "agent_error", "server_crashed", "timeout", "validator_error"]
RERUN_ON_RESUME: frozenset[str] = frozenset({"server_crashed"})
RESULTS_FILE = "results.jsonl"
TRAJECTORY_DIR = "trajectories"
MANIFEST_FILE = "run.json"


class CheckRecord(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str
    verdict: Literal["pass", "fail", "error"]
    detail: str = ""


class EpisodeRecord(BaseModel):
    """One line of ``results.jsonl``."""

    model_config = ConfigDict(extra="forbid")
    episode: str = Field(description="<scenario_id>#<agent>#<trial>: unique within a run")
    scenario: str
    env: str
    kind: str
    agent: str
    trial: int
    status: Status
    graded: bool = True
    checks: list[CheckRecord] = Field(default_factory=list)
    success: bool = False
    reward: float = 0.0
    turns: int = 0
    tool_calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    duration_s: float = 0.0
    error: str = ""
    trajectory: str = ""
    sandbox: str = ""


def episode_key(scenario: str, agent: str, trial: int) -> str:
    return f"{scenario}#{agent}#{trial}"


def write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


@dataclass
class RunDirectory:
    """``runs/<run_id>/``: results, trajectories and the manifest of one run."""

    root: Path

    @property
    def results_path(self) -> Path:
        return self.root / RESULTS_FILE

    def read(self) -> list[EpisodeRecord]:
        """Every complete, valid line; a torn or foreign line is skipped."""
        if not self.results_path.exists():
            return []
        records = []
        for line in self.results_path.read_text(encoding="utf-8").splitlines():
            try:
                records.append(EpisodeRecord.model_validate_json(line))
            except ValueError:
                continue
        return records

    def repair(self, drop: frozenset[str] = frozenset()) -> list[EpisodeRecord]:
        """Rewrite the file with only valid lines, the last per episode, minus statuses in ``drop``."""
        latest: dict[str, EpisodeRecord] = {}
        for record in self.read():
            latest[record.episode] = record
        kept = [r for r in latest.values() if r.status not in drop]
        if self.results_path.exists():
            write_atomic(self.results_path, "".join(r.model_dump_json() + "\n" for r in kept))
        return kept

    def append(self, record: EpisodeRecord) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        line = (record.model_dump_json() + "\n").encode("utf-8")
        fd = os.open(self.results_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)

    def save_trajectory(self, key: str, trajectory: dict[str, Any]) -> str:
        name = key.replace("/", "__").replace("#", "--").replace(":", "_") + ".json"
        write_atomic(self.root / TRAJECTORY_DIR / name, json.dumps(trajectory, ensure_ascii=False, indent=1) + "\n")
        return f"{TRAJECTORY_DIR}/{name}"

    def load_trajectory(self, relative: str) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.root / relative).read_text(encoding="utf-8"))
        return data

    def write_manifest(self, manifest: dict[str, Any]) -> None:
        write_atomic(self.root / MANIFEST_FILE, json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")

    def read_manifest(self) -> dict[str, Any]:
        path = self.root / MANIFEST_FILE
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
        return data
