"""Initial states of an imported class, taken by running it in the sandbox (never in this process)."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

import anyio

from envmint import sandbox
from envmint.importers.adapter_source import snapshot_program, snapshot_request


class SnapshotError(RuntimeError):
    """The class could not be instantiated in the sandbox."""


async def snapshots(
    source: str, class_name: str, configs: Sequence[dict[str, Any]], *, init: str | None = None, seconds: float = 30.0
) -> list[dict[str, Any]]:
    """One JSON-encoded state per config: ``cls(config)`` (the seed's rule) or ``init(config)``.

    Each result is ``{"ok": True, "state": {...}}`` or ``{"ok": False, "error": "..."}``.
    """
    limits = sandbox.Limits(wall_seconds=seconds, cpu_seconds=int(seconds), memory_mb=1024)
    result = await sandbox.run_sandboxed(
        [sys.executable, "-I", "-c", snapshot_program(source)],
        stdin=snapshot_request(class_name, init, list(configs)),
        limits=limits,
    )
    if result.timed_out:
        raise SnapshotError(f"instantiating {class_name} took longer than {seconds:g} s")
    try:
        out: list[dict[str, Any]] = json.loads(result.stdout)
    except ValueError:
        tail = " ".join(result.stderr.strip().splitlines()[-1:])
        raise SnapshotError(f"instantiating {class_name} failed: {tail or f'exit {result.returncode}'}") from None
    return out


def snapshots_sync(
    source: str, class_name: str, configs: Sequence[dict[str, Any]], *, init: str | None = None
) -> list[dict[str, Any]]:
    async def run() -> list[dict[str, Any]]:
        return await snapshots(source, class_name, configs, init=init)

    return anyio.run(run)
