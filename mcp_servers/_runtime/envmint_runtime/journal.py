"""Journaled JSON containers: every write to the state is recorded so it can be undone.

The state is built from :class:`TrackedDict` and :class:`TrackedList`, subclasses of ``dict`` and
``list`` that behave exactly like them for reading (``isinstance``, ``json.dumps``, iteration,
comparison) and log an undo entry before each write into the active :class:`Journal`. Rolling back
a failed call or resetting to the loaded state then costs time in proportion to the writes made,
not to the size of the state, and dict key order is restored exactly.

Values written into the state are converted on the way in: dicts and lists become tracked
copies (so no object is shared between two places of the state), tuples become lists, and anything
that is not JSON (a set, a datetime, NaN, a non-string key) is refused with an error at the line
that tried to store it.

Copying on the way in would break a common Python pattern: build a record, store it, then keep
filling the local variable (``self.state["carts"][cid] = cart; cart["items"].append(line)``). So
the journal remembers each dict and list stored during a call, with a snapshot, and when the call
returns :meth:`Journal.sync_stored` carries any change made to the original after it was stored
into the state's copy (per key for dicts, so writes made through the state meanwhile are kept).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any, SupportsIndex

_ACTIVE: Journal | None = None
_MISSING: Any = object()


class Journal:
    """Undo entries for writes made while this journal is active."""

    def __init__(self) -> None:
        self.entries: list[tuple[Any, ...]] = []
        self.stored: list[tuple[Any, Any, Any, Any, Any]] = []
        """(container, key or None, original, snapshot, copy) for each dict or list stored this call."""

    def __len__(self) -> int:
        return len(self.entries)

    def activate(self) -> None:
        global _ACTIVE
        _ACTIVE = self
        self.stored.clear()

    def sync_stored(self) -> None:
        """Carry changes made to stored originals after they were stored into the state's copies."""
        stored, self.stored = self.stored, []
        for container, key, original, snapshot, copy in stored:
            if _same(original, snapshot):
                continue
            where = _position(container, key, copy)
            if where is None:
                continue  # the copy has left the state or been replaced since: nothing to carry
            if isinstance(original, dict) and isinstance(snapshot, dict):
                for name in [k for k in snapshot if k not in original and k in copy]:
                    del copy[name]
                for name, value in original.items():
                    if name not in snapshot or not _same(value, snapshot[name]):
                        copy[name] = value
            else:
                container[where] = original
        self.stored.clear()

    @staticmethod
    def deactivate() -> None:
        global _ACTIVE
        _ACTIVE = None

    def undo_to(self, mark: int) -> int:
        """Undo every write after ``mark`` (newest first). Returns how many were undone."""
        entries = self.entries
        undone = len(entries) - mark
        while len(entries) > mark:
            op, target, *rest = entries.pop()
            if op == "set":
                dict.__setitem__(target, rest[0], rest[1])
            elif op == "insert":
                dict.__delitem__(target, rest[0])
            elif op == "dict":
                dict.clear(target)
                dict.update(target, rest[0])
            elif op == "append":
                list.pop(target)
            else:  # "list"
                list.__setitem__(target, slice(None), rest[0])
        return undone


def to_json_value(value: Any, where: str = "value") -> Any:
    """A tracked, unshared copy of ``value``; raises TypeError/ValueError for anything not JSON."""
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{where}: {value} is not a JSON number")
        return value
    if isinstance(value, dict):
        out = TrackedDict()
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{where}: key {key!r} is not a string")
            dict.__setitem__(out, key, to_json_value(item, f"{where}.{key}"))
        return out
    if isinstance(value, list | tuple):
        return TrackedList(to_json_value(item, f"{where}[{i}]") for i, item in enumerate(value))
    raise TypeError(f"{where}: a {type(value).__name__} is not a JSON value")


def _same(value: Any, snapshot: Any) -> bool:
    """Whether ``value`` still equals its plain snapshot (tuples compare as the lists they were stored as)."""
    try:
        return bool(to_plain(value) == snapshot)
    except Exception:  # an exotic value whose comparison fails: treat it as changed
        return False


def _position(container: Any, key: Any, copy: Any) -> Any:
    """Where the state's copy of a stored original is now, or None if it has left the state or been replaced."""
    if isinstance(container, dict):
        return key if dict.get(container, key, _MISSING) is copy else None
    return next((i for i, item in enumerate(container) if item is copy), None)


def _remember(container: Any, key: Any, original: Any, copy: Any) -> Any:
    """Note a dict or list stored during a call, so :meth:`Journal.sync_stored` can follow it."""
    if _ACTIVE is not None and isinstance(original, dict | list):
        _ACTIVE.stored.append((container, key, original, to_plain(original), copy))
    return copy


def to_plain(value: Any) -> Any:
    """A plain ``dict``/``list`` deep copy of a JSON value (tracked or not); tuples become lists."""
    if isinstance(value, dict):
        return {key: to_plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [to_plain(item) for item in value]
    return value


def _log(entry: tuple[Any, ...]) -> None:
    if _ACTIVE is not None:
        _ACTIVE.entries.append(entry)


class TrackedDict(dict[str, Any]):
    """A JSON object whose writes are journaled."""

    __slots__ = ()

    def __setitem__(self, key: str, value: Any) -> None:
        if not isinstance(key, str):
            raise TypeError(f"state keys must be strings, not {type(key).__name__}")
        value = _remember(self, key, value, to_json_value(value, key))
        old = dict.get(self, key, _MISSING)
        _log(("insert", self, key) if old is _MISSING else ("set", self, key, old))
        dict.__setitem__(self, key, value)

    def _whole(self) -> None:
        _log(("dict", self, dict(self)))

    def __delitem__(self, key: str) -> None:
        if key in self:
            self._whole()
        dict.__delitem__(self, key)

    def pop(self, key: str, *default: Any) -> Any:
        if key in self:
            self._whole()
        return dict.pop(self, key, *default)

    def popitem(self) -> tuple[str, Any]:
        self._whole()
        return dict.popitem(self)

    def clear(self) -> None:
        self._whole()
        dict.clear(self)

    def update(self, *args: Any, **kwargs: Any) -> None:
        for key, value in dict(*args, **kwargs).items():
            self[key] = value

    def setdefault(self, key: str, default: Any = None) -> Any:
        if key not in self:
            self[key] = default
        return dict.__getitem__(self, key)

    def __ior__(self, other: Any) -> TrackedDict:  # type: ignore[override,misc]
        self.update(other)
        return self

    def __copy__(self) -> dict[str, Any]:
        return dict(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> dict[str, Any]:
        plain: dict[str, Any] = to_plain(self)
        return plain

    def __reduce__(self) -> Any:
        return (dict, (to_plain(self),))


class TrackedList(list[Any]):
    """A JSON array whose writes are journaled."""

    __slots__ = ()

    def __init__(self, items: Iterable[Any] = ()) -> None:
        list.__init__(self, items)

    def _whole(self) -> None:
        _log(("list", self, list(self)))

    def __setitem__(self, index: Any, value: Any) -> None:
        self._whole()
        if isinstance(index, slice):
            list.__setitem__(self, index, [_remember(self, None, v, to_json_value(v)) for v in value])
        else:
            list.__setitem__(self, index, _remember(self, None, value, to_json_value(value)))

    def __delitem__(self, index: Any) -> None:
        self._whole()
        list.__delitem__(self, index)

    def append(self, value: Any) -> None:
        value = _remember(self, None, value, to_json_value(value))
        _log(("append", self))
        list.append(self, value)

    def extend(self, values: Iterable[Any]) -> None:
        converted = [_remember(self, None, v, to_json_value(v)) for v in values]
        self._whole()
        list.extend(self, converted)

    def insert(self, index: SupportsIndex, value: Any) -> None:
        value = _remember(self, None, value, to_json_value(value))
        self._whole()
        list.insert(self, index, value)

    def pop(self, index: SupportsIndex = -1) -> Any:
        self._whole()
        return list.pop(self, index)

    def remove(self, value: Any) -> None:
        self._whole()
        list.remove(self, value)

    def clear(self) -> None:
        self._whole()
        list.clear(self)

    def sort(self, *args: Any, **kwargs: Any) -> None:
        self._whole()
        list.sort(self, *args, **kwargs)

    def reverse(self) -> None:
        self._whole()
        list.reverse(self)

    def __iadd__(self, values: Iterable[Any]) -> TrackedList:  # type: ignore[misc]
        self.extend(values)
        return self

    def __imul__(self, times: SupportsIndex) -> TrackedList:
        repeated = [to_json_value(v) for v in list(self) * int(times)]  # copies: no shared items
        self._whole()
        list.__setitem__(self, slice(None), repeated)
        return self

    def __copy__(self) -> list[Any]:
        return list(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> list[Any]:
        plain: list[Any] = to_plain(self)
        return plain

    def __reduce__(self) -> Any:
        return (list, (to_plain(self),))
