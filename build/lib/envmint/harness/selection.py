"""Choosing scenarios from a scenarios folder (``scenarios/<env_id>/<name>.json``)."""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from envmint.contract import Scenario, load_scenario


@dataclass(frozen=True)
class Selected:
    scenario: Scenario
    path: Path


def scenario_files(scenarios_dir: Path) -> list[Path]:
    return sorted(p for p in scenarios_dir.glob("*/*.json") if not p.name.startswith("."))


def select(
    scenarios_dir: Path,
    *,
    envs: Sequence[str] = (),
    ids: Sequence[str] = (),
    globs: Sequence[str] = (),
) -> list[Selected]:
    """Scenarios matching any of the filters (all of them when no filter is given), sorted by id."""
    chosen = []
    for path in scenario_files(scenarios_dir):
        relative = path.relative_to(scenarios_dir).as_posix()
        env = path.parent.name
        name_id = f"{env}/{path.stem}"
        wanted = not (envs or ids or globs)
        wanted = wanted or env in envs or name_id in ids or any(fnmatch.fnmatch(relative, g) for g in globs)
        if wanted:
            chosen.append(Selected(load_scenario(path), path))
    chosen.sort(key=lambda s: s.scenario.id)
    missing = set(ids) - {s.scenario.id for s in chosen}
    if missing:
        raise LookupError(f"no such scenario: {', '.join(sorted(missing))}")
    return chosen
