"""Questions about Python syntax trees that the static checks share; nothing here runs the code."""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator

from generator.codecheck.findings import GateFinding

__all__ = [
    "MUTATING_METHODS",
    "chain_base",
    "decorator_name",
    "docstring_nodes",
    "flat_targets",
    "has_decorator",
    "is_docstring_stmt",
    "is_dunder",
    "is_mutating_call",
    "param_defaults",
    "parse_module",
    "positional",
    "snippet",
    "walk_own",
    "written_targets",
]

MUTATING_METHODS = frozenset(
    {
        "append",
        "extend",
        "insert",
        "pop",
        "remove",
        "clear",
        "update",
        "setdefault",
        "popitem",
        "sort",
        "reverse",
        "add",
        "discard",
    }
)
"""Methods of list, dict and set that change the object in place."""


def parse_module(source: str) -> tuple[ast.Module | None, list[GateFinding]]:
    """The syntax tree of ``source``, or None and the finding that says why it does not parse."""
    try:
        return ast.parse(source), []
    except SyntaxError as exc:
        line = exc.lineno or 1
        where = f"line {line}" + (f", column {exc.offset}" if exc.offset else "")
        return None, [GateFinding(line, "syntax", f"the code does not parse: {exc.msg} ({where}); fix the syntax")]
    except ValueError as exc:  # e.g. null bytes
        return None, [GateFinding(1, "syntax", f"the code does not parse: {exc}")]
    except (RecursionError, MemoryError):
        return None, [GateFinding(1, "syntax", "the code nests too deeply to parse; split it into simpler steps")]


def snippet(node: ast.AST, limit: int = 70) -> str:
    """The source of ``node`` on one line, cut to ``limit`` characters: how a finding quotes code."""
    try:
        text = " ".join(ast.unparse(node).split())
    except Exception:  # unparse has gaps for odd nodes; a finding must never crash the gate
        text = type(node).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


def is_dunder(name: str) -> bool:
    return len(name) > 4 and name.startswith("__") and name.endswith("__")


def decorator_name(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    return snippet(node)


def has_decorator(function: ast.FunctionDef, name: str) -> bool:
    """Whether ``function`` is decorated with the bare name ``name`` (``@staticmethod``, ``@property``)."""
    return any(isinstance(d, ast.Name) and d.id == name for d in function.decorator_list)


def positional(args: ast.arguments) -> list[ast.arg]:
    """The parameters that can be passed by position, ``self`` included."""
    return [*args.posonlyargs, *args.args]


def param_defaults(args: ast.arguments) -> list[tuple[ast.arg, ast.expr]]:
    """Each parameter that has a default, with its default."""
    params = positional(args)
    pairs = list(zip(params[len(params) - len(args.defaults) :], args.defaults, strict=True))
    pairs += [(a, d) for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True) if d is not None]
    return pairs


def docstring_nodes(tree: ast.AST) -> set[ast.AST]:
    """The string constants that are docstrings (of the module, classes and functions)."""
    found: set[ast.AST] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(first.value)
    return found


def is_docstring_stmt(stmt: ast.stmt) -> bool:
    return isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant) and isinstance(stmt.value.value, str)


def is_mutating_call(node: ast.AST) -> bool:
    """``x.append(...)``, ``x.update(...)``, ...: a call that changes ``x`` in place."""
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in MUTATING_METHODS


def chain_base(node: ast.expr) -> ast.expr:
    """The object at the bottom of ``a[b].c[d]``: ``a``."""
    while isinstance(node, ast.Subscript | ast.Attribute):
        node = node.value
    return node


def flat_targets(targets: Iterable[ast.expr]) -> Iterator[ast.expr]:
    """Assignment targets with tuple and list unpacking flattened: ``a, (b, *c)`` gives a, b, c."""
    for target in targets:
        if isinstance(target, ast.Tuple | ast.List):
            yield from flat_targets(target.elts)
        elif isinstance(target, ast.Starred):
            yield from flat_targets([target.value])
        else:
            yield target


def written_targets(node: ast.AST) -> list[ast.expr]:
    """What a statement assigns, augments or deletes (nothing for other nodes)."""
    if isinstance(node, ast.Assign):
        return list(flat_targets(node.targets))
    if isinstance(node, ast.AugAssign | ast.AnnAssign) and (not isinstance(node, ast.AnnAssign) or node.value):
        return [node.target]
    if isinstance(node, ast.Delete):
        return list(flat_targets(node.targets))
    return []


def walk_own(node: ast.AST) -> Iterator[ast.AST]:
    """ast.walk that does not enter nested functions, lambdas or classes below ``node``."""
    stack = list(ast.iter_child_nodes(node))
    while stack:
        child = stack.pop()
        yield child
        if not isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef):
            stack.extend(ast.iter_child_nodes(child))
