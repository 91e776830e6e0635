"""The state of one environment: validation, transactions, a fast reset and a canonical hash.

Snapshots use :mod:`marshal`, which copies plain JSON-shaped data several times faster than
``copy.deepcopy`` or a JSON round trip. A snapshot is kept per top-level key ("container"), so a
reset only rebuilds the containers an episode actually changed.
"""

from __future__ import annotations

import hashlib
import json
import marshal
import math
from typing import Any

from jsonschema import Draft202012Validator

from envmint_runtime.environment import JSON


class StateError(ValueError):
    """A state does not match the environment's state schema."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{where}: {what}" for where, what in problems))


def json_path(parts: Any) -> str:
    out = "$"
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif isinstance(part, str) and part.isidentifier():
            out += f".{part}"
        else:
            out += f"[{json.dumps(part)}]"
    return out


def canonical_json(value: JSON) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def canonical_hash(value: JSON) -> str:
    """sha256 of the canonical JSON text: equal states hash equal whatever their key order."""
    return hashlib.sha256(canonical_json(value).encode()).hexdigest()


def check_json_value(value: Any, path: tuple[Any, ...] = ()) -> None:
    """Raise StateError unless ``value`` is plain JSON (no tuples, sets, NaN, non-string keys)."""
    stack: list[tuple[Any, tuple[Any, ...]]] = [(value, path)]
    while stack:
        item, where = stack.pop()
        if item is None or isinstance(item, str | bool | int):
            continue
        if isinstance(item, float):
            if not math.isfinite(item):
                raise StateError([(json_path(where), f"{item} is not a JSON number")])
            continue
        if isinstance(item, dict):
            for key, sub in item.items():
                if not isinstance(key, str):
                    raise StateError([(json_path(where), f"key {key!r} is not a string")])
                stack.append((sub, (*where, key)))
            continue
        if isinstance(item, list):
            stack.extend((sub, (*where, i)) for i, sub in enumerate(item))
            continue
        raise StateError([(json_path(where), f"a {type(item).__name__} is not a JSON value")])


class StateStore:
    """Holds the live state of one environment plus the baseline it resets to.

    ``state`` is one dict for the store's whole life: loads, resets and rollbacks change it in
    place, so the environment object can keep a reference to it.
    """

    def __init__(self, schema: dict[str, Any]) -> None:
        self._validator = Draft202012Validator(schema)
        self.state: dict[str, JSON] = {}
        self._baseline: dict[str, bytes] = {}

    def problems(self, state: Any, limit: int = 5) -> list[tuple[str, str]]:
        errors = sorted(self._validator.iter_errors(state), key=lambda e: list(map(str, e.absolute_path)))
        return [(json_path(e.absolute_path), e.message) for e in errors[:limit]]

    def validate(self, state: Any) -> None:
        check_json_value(state)
        problems = self.problems(state)
        if problems:
            raise StateError(problems)

    def load(self, state: dict[str, JSON], validate: bool = True) -> None:
        """Make ``state`` current and the baseline that :meth:`reset` returns to."""
        if validate:
            self.validate(state)
        # Dump a private copy, not the caller's objects: marshal's output depends on reference
        # counts, and only objects that came out of marshal.loads dump to the same bytes again.
        private = marshal.loads(marshal.dumps(state))
        self._baseline = {key: marshal.dumps(value) for key, value in private.items()}
        self.state.clear()
        self.state.update((key, marshal.loads(blob)) for key, blob in self._baseline.items())

    def reset(self) -> int:
        """Return to the baseline; rebuild only the containers that differ. Returns how many were rebuilt.

        Equal bytes prove equal content (types included), so skipping is always safe; a container
        whose bytes differ for an innocent reason is merely rebuilt.
        """
        state = self.state
        rebuilt = 0
        for key in [k for k in state if k not in self._baseline]:
            del state[key]
            rebuilt += 1
        for key, blob in self._baseline.items():
            current = state.get(key, _MISSING)
            if current is _MISSING or marshal.dumps(current) != blob:
                state[key] = marshal.loads(blob)
                rebuilt += 1
        return rebuilt

    def snapshot(self) -> bytes:
        return marshal.dumps(self.state)

    def restore(self, snapshot: bytes) -> None:
        """Put a :meth:`snapshot` back, in place: the state object keeps its identity."""
        self.state.clear()
        self.state.update(marshal.loads(snapshot))

    def hash(self) -> str:
        return canonical_hash(self.state)


_MISSING: Any = object()
