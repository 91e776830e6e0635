"""The state of one environment: validation, journaled writes, rollback, a fast reset, a canonical hash.

Writes go through the journal (:mod:`envmint_runtime.journal`), so rolling back a call and resetting
to the loaded state cost time in proportion to the writes made, not to the size of the state. If an
unusually long session overflows the journal, a reset rebuilds the state from a compact copy of the
loaded one instead.
"""

from __future__ import annotations

import hashlib
import json
import marshal
import math
from typing import Any

from jsonschema import Draft202012Validator

from envmint_runtime.environment import JSON
from envmint_runtime.journal import Journal, TrackedDict, to_json_value, to_plain

JOURNAL_LIMIT = 200_000


class StateError(ValueError):
    """A state does not match the environment's state schema, or is not plain JSON."""

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
    """The live state of one environment and the journal of writes since it was loaded.

    ``state`` is one dict for the store's whole life: loads, resets and rollbacks change it in
    place, so the environment object keeps a valid reference to it.
    """

    def __init__(self, schema: dict[str, Any]) -> None:
        self._validator = Draft202012Validator(schema)
        self.state: TrackedDict = TrackedDict()
        self.journal = Journal()
        self._baseline = b""
        self._overflowed = False

    def problems(self, state: Any, limit: int = 5) -> list[tuple[str, str]]:
        errors = sorted(self._validator.iter_errors(state), key=lambda e: list(map(str, e.absolute_path)))
        return [(json_path(e.absolute_path), e.message) for e in errors[:limit]]

    def validate(self, state: Any) -> None:
        check_json_value(state)
        problems = self.problems(state)
        if problems:
            raise StateError(problems)

    def load(self, state: dict[str, JSON], validate: bool = True) -> None:
        """Make ``state`` current and the point that :meth:`reset` returns to."""
        if validate:
            self.validate(state)
        try:
            tracked = to_json_value(state, "$")
        except (TypeError, ValueError) as exc:
            raise StateError([("$", str(exc))]) from None
        self._install(tracked)
        self._baseline = marshal.dumps(to_plain(tracked))

    def _install(self, tracked: dict[str, Any]) -> None:
        self.journal.entries.clear()
        self._overflowed = False
        dict.clear(self.state)
        dict.update(self.state, tracked)

    def mark(self) -> int:
        """A point in the journal to roll back to."""
        return len(self.journal)

    def rollback(self, mark: int) -> None:
        self.journal.undo_to(mark)

    def settle(self) -> None:
        """After a successful call: bound the journal's size for very long sessions."""
        if len(self.journal) > JOURNAL_LIMIT:
            self.journal.entries.clear()
            self._overflowed = True

    def reset(self) -> int:
        """Undo every write since the last load. Returns the number of writes undone."""
        if self._overflowed:
            self._install(to_json_value(marshal.loads(self._baseline), "$"))
            return -1
        return self.journal.undo_to(0)

    def hash(self) -> str:
        return canonical_hash(self.state)
