"""Values read from the AST without running anything: literals and the named constants they use.

Tool derivation needs them for defaults (``limit: int = DEFAULT_LIMIT``) and for the choices of
enum guards (``if field not in FIELDS: raise ToolError(...)``). Tuples and sets come back as lists (a
set display in source order), so every value is plain JSON-like data.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["MISSING", "collect_constants", "literal_value"]


def _plain_value(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_plain_value(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted((_plain_value(v) for v in value), key=repr)
    if isinstance(value, dict):
        return {k: _plain_value(v) for k, v in value.items()}
    return value


MISSING = object()
"""What :func:`literal_value` gives for an expression that is not a literal."""


def literal_value(node: ast.expr, constants: Mapping[str, Any]) -> Any:
    """The value of a literal, a constant's name (``LIMIT``, ``self.LIMIT``) or frozenset/tuple of a literal."""
    if isinstance(node, ast.Name):
        return constants.get(node.id, MISSING)
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        return constants.get(node.attr, MISSING)
    if isinstance(node, ast.Set):  # in source order, not hash order
        items = [literal_value(item, constants) for item in node.elts]
        return MISSING if any(item is MISSING for item in items) else items
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in ("frozenset", "tuple", "set", "list")
        and len(node.args) == 1
        and not node.keywords
    ):
        inner = literal_value(node.args[0], constants)
        return MISSING if inner is MISSING else list(inner)
    try:
        return _plain_value(ast.literal_eval(node))
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return MISSING


def collect_constants(body: Iterable[ast.stmt], into: dict[str, Any]) -> None:
    """Add the literal value of every ``NAME = literal`` in ``body`` to ``into`` (later ones win)."""
    for stmt in body:
        targets: list[ast.expr]
        if isinstance(stmt, ast.Assign):
            targets, value = stmt.targets, stmt.value
        elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
            targets, value = [stmt.target], stmt.value
        else:
            continue
        literal = literal_value(value, into)
        for target in targets:
            if isinstance(target, ast.Name) and literal is not MISSING:
                into[target.id] = literal
