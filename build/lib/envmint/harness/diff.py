"""A compact diff of two JSON states: the paths that changed, with before and after values."""

from __future__ import annotations

import json
from typing import Any

_ABSENT: Any = object()


def _path(parent: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{parent}[{key}]"
    return f"{parent}.{key}" if key.isidentifier() else f"{parent}[{json.dumps(key)}]"


def state_diff(before: Any, after: Any, path: str = "$", limit: int = 200) -> list[dict[str, Any]]:
    """Changes from ``before`` to ``after``; absent values are omitted from an entry."""
    changes: list[dict[str, Any]] = []
    stack = [(path, before, after)]
    while stack and len(changes) < limit:
        where, old, new = stack.pop()
        if type(old) is type(new) and old == new:
            continue
        if isinstance(old, dict) and isinstance(new, dict):
            keys = sorted(set(old) | set(new), reverse=True)
            stack.extend((_path(where, key), old.get(key, _ABSENT), new.get(key, _ABSENT)) for key in keys)
            continue
        entry: dict[str, Any] = {"path": where}
        if old is not _ABSENT:
            entry["before"] = old
        if new is not _ABSENT:
            entry["after"] = new
        changes.append(entry)
    return changes
