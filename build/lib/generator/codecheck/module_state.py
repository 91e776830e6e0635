"""The module-state rule: what may be a module or class constant, and writes that would make one state.

A constant is immutable (a number, a string, a tuple of them, ``timedelta(days=14)``, ...) or an
UPPER_CASE literal of plain data that nothing modifies. Anything else at module or class level is
mutable state shared by every call and untouched by rollback and reset (the ``module-state`` rule).
"""

from __future__ import annotations

import ast
import re

from generator.codecheck.findings import GateFinding, finding_at
from generator.codecheck.syntax import is_mutating_call, snippet, written_targets

__all__ = ["Constants"]

_IMMUTABLE_CALLS = frozenset(
    {"tuple", "frozenset", "timedelta", "date", "datetime", "time", "timezone", "Decimal", "compile", "str", "int"}
)
_UPPER_NAME = re.compile(r"^_*[A-Z][A-Z0-9_]*$")


def _is_immutable(node: ast.expr) -> bool:
    """A value that cannot be changed in place: constants, tuples of them, timedelta(...), ..."""
    if isinstance(node, ast.Constant | ast.Name | ast.Attribute | ast.JoinedStr):
        return True
    if isinstance(node, ast.Tuple):
        return all(_is_immutable(item) for item in node.elts)
    if isinstance(node, ast.UnaryOp):
        return _is_immutable(node.operand)
    if isinstance(node, ast.BinOp):
        return _is_immutable(node.left) and _is_immutable(node.right)
    if isinstance(node, ast.Call):
        func = node.func
        name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
        arguments = [*node.args, *(k.value for k in node.keywords)]
        return name in _IMMUTABLE_CALLS and all(_is_literal_data(a) for a in arguments)
    return False


def _is_literal_data(node: ast.expr) -> bool:
    """Literal data: constants and list/dict/set/tuple displays of them (no comprehensions or calls)."""
    if isinstance(node, ast.List | ast.Set | ast.Tuple):
        return all(_is_literal_data(item) for item in node.elts)
    if isinstance(node, ast.Dict):
        return all(k is not None and _is_literal_data(k) for k in node.keys) and all(
            _is_literal_data(v) for v in node.values
        )
    return _is_immutable(node)


class Constants:
    """The constants seen so far (``NAME = value`` at module or class level), and findings about them."""

    def __init__(self) -> None:
        self.findings: list[GateFinding] = []
        self.values: dict[str, ast.expr | None] = {}
        """Each constant's name and value (None for a bare annotation)."""
        self.mutable: set[str] = set()
        """The UPPER_CASE constants whose literal (a list, dict or set) could be changed in place."""

    def add(self, node: ast.AST, rule: str, message: str) -> None:
        self.findings.append(finding_at(node, rule, message))

    def record(self, stmt: ast.Assign | ast.AnnAssign, where: str) -> None:
        """Take in an assignment at ``where`` ("module" or "class") level; flag it unless it is a constant."""
        targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
        value = stmt.value
        for target in targets:
            if not isinstance(target, ast.Name):
                self.add(
                    stmt,
                    f"{where}-code",
                    f"`{snippet(stmt)}`: at {where} level write only `NAME = constant` assignments",
                )
                continue
            self.values[target.id] = value
            if value is None or _is_immutable(value):
                continue
            if _UPPER_NAME.match(target.id) and _is_literal_data(value):
                self.mutable.add(target.id)
                continue
            self.add(
                stmt,
                "module-state",
                f"`{target.id} = {snippet(value, 40)}` at {where} level is mutable state shared by every call and "
                "untouched by rollback and reset; keep changing data in self.state, and write constants as "
                "UPPER_CASE literals (a tuple, a frozenset, or a dict literal that is never modified)",
            )

    def check_writes(self, tree: ast.AST) -> None:
        """Flag every write into a mutable constant (``LIMITS["x"] = 1``, ``KINDS.append(...)``)."""

        def constant_name(node: ast.expr) -> str | None:
            while isinstance(node, ast.Subscript):
                node = node.value
            if isinstance(node, ast.Name):
                name = node.id
            elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
                name = node.attr
            else:
                return None
            return name if name in self.mutable else None

        for node in ast.walk(tree):
            hits: list[tuple[ast.expr, str | None]] = [
                (t, constant_name(t.value))
                for t in written_targets(node)
                if isinstance(t, ast.Subscript | ast.Attribute)
            ]
            if is_mutating_call(node):
                assert isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                hits.append((node, constant_name(node.func.value)))
            for where, name in hits:
                if name is not None:
                    self.add(
                        where,
                        "module-state",
                        f"`{snippet(where)}` changes the constant `{name}`, which is shared by every call and not "
                        "rolled back; keep changing data in self.state",
                    )
