"""The rules environment code and checks share: imports, names, attributes, calls and strings.

**The gate is a lint, not a security boundary.** AST allow-lists have a long record of bypasses
(format strings that read ``__class__``, generator frames, names built with ``chr()``; see
``security.md`` §1), and this one will have holes too. Its jobs are to reject the obvious
mistakes and forbidden constructs before anything runs, and to tell the model that repairs the
code, line by line, what to write instead. Code that passes still runs only in a sandboxed child
process (:mod:`envmint.sandbox`): the boundary is the operating system.

:class:`SharedRules` walks a whole module once under a :class:`~generator.codecheck.policy.Policy`;
the layout rules of each kind of code are in :mod:`generator.codecheck.environment_lint` and
:mod:`generator.codecheck.validator_lint`.
"""

from __future__ import annotations

import ast
import re
import string
from collections.abc import Iterator

from generator.codecheck.findings import GateFinding, finding_at
from generator.codecheck.policy import BASE_EXCEPTIONS, CLOCK_ATTRS, FROM_ONLY, INTROSPECTION_ATTRS, Policy
from generator.codecheck.syntax import docstring_nodes, is_dunder, param_defaults, snippet

__all__ = ["SharedRules"]

_FORMAT_ATTRIBUTE = re.compile(r"\.\s*[A-Za-z_]|__")
_DUNDER_IN_TEXT = re.compile(r"__[A-Za-z]\w*?__")


def _format_fields(text: str) -> Iterator[str]:
    """The replacement-field names of a str.format template, nested specs included."""
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError:
        return
    for _, field_name, spec, _ in parsed:
        if field_name:
            yield field_name
        if spec:
            yield from _format_fields(spec)


def _is_set_expr(node: ast.expr) -> bool:
    if isinstance(node, ast.Set | ast.SetComp):
        return True
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("set", "frozenset")


def _is_mutable_default(node: ast.expr) -> bool:
    if isinstance(node, ast.List | ast.Dict | ast.Set | ast.ListComp | ast.DictComp | ast.SetComp):
        return True
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("list", "dict", "set")


class SharedRules:
    """The rules shared by environment code and checks: imports, builtins, dunders, clocks, ..."""

    def __init__(self, tree: ast.Module, policy: Policy) -> None:
        self.tree = tree
        self.policy = policy
        self.findings: list[GateFinding] = []
        self.parents: dict[ast.AST, ast.AST] = {}
        for parent in ast.walk(tree):
            for child in ast.iter_child_nodes(parent):
                self.parents[child] = parent
        self.modules: dict[str, str] = {}
        self.names: dict[str, str] = {}
        self.rejected: dict[str, str] = {}
        self.docstrings = docstring_nodes(tree)
        self.builtins = policy.builtin_hints()

    def add(self, node: ast.AST, rule: str, message: str) -> None:
        self.findings.append(finding_at(node, rule, message))

    def run(self) -> list[GateFinding]:
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                self._import(node)
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Name):
                self._name(node)
            elif isinstance(node, ast.Attribute):
                self._attribute(node)
            elif isinstance(node, ast.Call):
                self._call(node)
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                self._string(node)
            elif isinstance(node, ast.Global | ast.Nonlocal):
                self._global(node)
            elif isinstance(node, ast.ExceptHandler):
                self._handler(node)
            elif isinstance(node, ast.AsyncFunctionDef):
                self.add(node, "async", f"`async def {node.name}` is not allowed: tools and helpers are synchronous")
            elif isinstance(node, ast.For | ast.AsyncFor | ast.comprehension):
                self._set_order(node.iter, f"for {snippet(node.target)} in {snippet(node.iter)}")
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                self._defaults(node)
        return self.findings

    # -- imports ---------------------------------------------------------------------------
    def _bad_import(self, node: ast.Import | ast.ImportFrom, module: str) -> None:
        rule, hint = self.policy.import_hint(module)
        message = f"`{snippet(node)}` is not allowed: {hint}. {self.policy.code.capitalize()} may import only from: "
        self.add(node, rule, message + f"{self.policy.modules_list()}.")
        if isinstance(node, ast.Import):
            for alias in node.names:
                self.rejected[alias.asname or alias.name.split(".")[0]] = alias.name
        else:
            for alias in node.names:
                self.rejected[alias.asname or alias.name] = f"{module}.{alias.name}"

    def _import(self, node: ast.Import | ast.ImportFrom) -> None:
        allowed = self.policy.imports
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in allowed and alias.name not in FROM_ONLY:
                    self.modules[alias.asname or alias.name] = alias.name
                elif alias.name in allowed:
                    self.add(node, "import", f"write `from {alias.name} import ...` instead of `import {alias.name}`")
                else:
                    self._bad_import(node, alias.name)
            return
        module = node.module or ""
        if node.level:
            self.add(node, "import", f"`{snippet(node)}` is a relative import; the module stands alone")
            return
        if module not in allowed:
            self._bad_import(node, module)
            return
        for alias in node.names:
            if alias.name == "*":
                self.add(node, "import", f"`from {module} import *` is not allowed; import the names you use")
            elif alias.name not in allowed[module]:
                self.rejected[alias.asname or alias.name] = f"{module}.{alias.name}"
                self.add(
                    node,
                    "import",
                    f"`from {module} import {alias.name}` is not allowed; from {module} import only: "
                    f"{self.policy.allowed_list(module)}",
                )
            else:
                self.names[alias.asname or alias.name] = f"{module}.{alias.name}"

    # -- names and attributes -------------------------------------------------------------
    def _in_handler_type(self, node: ast.AST) -> bool:
        parent = self.parents.get(node)
        if isinstance(parent, ast.Tuple):
            node, parent = parent, self.parents.get(parent)
        return isinstance(parent, ast.ExceptHandler) and parent.type is node

    def _name(self, node: ast.Name) -> None:
        if is_dunder(node.id):
            self.add(
                node,
                "dunder",
                f"`{node.id}` is a dunder name; {self.policy.context} code may not use dunder names or attributes",
            )
            return
        if not isinstance(node.ctx, ast.Load) or node.id in self.names or node.id in self.modules:
            return
        if node.id in self.rejected:
            origin = self.rejected[node.id]
            module = origin.rpartition(".")[0]
            if module in self.policy.imports:
                why = f"from {module} import only: {self.policy.allowed_list(module)}"
                self.add(node, "import", f"`{self._usage(node)}` uses `{origin}`, which is not allowed; {why}")
            else:
                rule, why = self.policy.import_hint(origin)
                self.add(node, rule, f"`{self._usage(node)}` uses `{origin}`, which may not be imported: {why}")
            return
        if node.id in ("getattr", "hasattr"):
            parent = self.parents.get(node)
            if not (isinstance(parent, ast.Call) and parent.func is node):
                self.add(node, "dynamic-attribute", f"`{node.id}` may only be called directly with a literal name")
            return
        hint = self.builtins.get(node.id)
        if hint is None or (node.id in BASE_EXCEPTIONS and self._in_handler_type(node)):
            return
        rule, advice = hint
        self.add(node, rule, f"`{self._usage(node)}` is not allowed: {advice}")

    def _usage(self, node: ast.expr) -> str:
        """The expression a name is used in: ``time.time()`` for the name ``time``."""
        outer: ast.AST = node
        while True:
            parent = self.parents.get(outer)
            if not (
                (isinstance(parent, ast.Attribute) and parent.value is outer)
                or (isinstance(parent, ast.Call) and parent.func is outer)
            ):
                return snippet(outer)
            outer = parent

    def _attribute(self, node: ast.Attribute) -> None:
        attr, shown = node.attr, snippet(node)
        if is_dunder(attr):
            self.add(
                node,
                "dunder",
                f"`{shown}` reads the dunder attribute `{attr}`; dunder attributes are not allowed. "
                "Work with the JSON values directly (isinstance(x, dict), len(x), x['key'])",
            )
            return
        if attr in INTROSPECTION_ATTRS:
            self.add(node, "introspection", f"`{shown}` reaches into interpreter internals (`{attr}`); remove it")
            return
        base = node.value
        if isinstance(base, ast.Name) and base.id in self.modules:
            module = self.modules[base.id]
            if attr not in self.policy.imports[module]:
                self.add(
                    node,
                    "import",
                    f"`{shown}` is not allowed; from {module} use only: {self.policy.allowed_list(module)}",
                )
            return
        if attr.startswith("_") and not (isinstance(base, ast.Name) and base.id in ("self", "cls")):
            self.add(
                node,
                "private-attribute",
                f"`{shown}` reads the private attribute `{attr}`; use public methods only "
                "(self.clock.now(), self.ids.new(...), self.rng.choice(...))",
            )
            return
        if attr in CLOCK_ATTRS and not self._is_self_clock(base):
            self.add(node, "nondeterminism", f"`{shown}` reads the wall clock; {self.policy.clock_hint}")

    def _is_self_clock(self, node: ast.expr) -> bool:
        return (
            self.policy.context == "environment"
            and isinstance(node, ast.Attribute)
            and node.attr == "clock"
            and isinstance(node.value, ast.Name)
            and node.value.id == "self"
        )

    def _call(self, node: ast.Call) -> None:
        func, shown = node.func, snippet(node)
        if isinstance(func, ast.Name) and func.id not in self.names:
            if func.id in ("getattr", "hasattr"):
                name = node.args[1] if len(node.args) > 1 else None
                if not (isinstance(name, ast.Constant) and isinstance(name.value, str)):
                    self.add(
                        node,
                        "dynamic-attribute",
                        f"`{shown}` looks an attribute up by a computed name; use a literal name, or "
                        "work with dict keys (record.get(key))",
                    )
                elif is_dunder(name.value) or name.value in INTROSPECTION_ATTRS or name.value.startswith("_"):
                    self.add(node, "dunder", f"`{shown}` reads `{name.value}` by name; that attribute is not allowed")
            elif func.id == "type" and len(node.args) != 1:
                self.add(node, "builtin", f"`{shown}` creates a class; use type(x) with one argument, or isinstance")
            elif func.id in ("list", "tuple", "enumerate", "iter", "next") and node.args:
                self._set_order(node.args[0], shown)
        elif isinstance(func, ast.Attribute):
            if func.attr in ("format", "format_map") and not (
                isinstance(func.value, ast.Constant) and isinstance(func.value.value, str)
            ):
                self.add(
                    node,
                    "format-string",
                    f"`{shown}` formats a template that is not a string literal; use an f-string with plain values",
                )
            elif func.attr == "join" and node.args:
                self._set_order(node.args[0], shown)
            elif func.attr == "astimezone" and not node.args and not node.keywords:
                self.add(
                    node,
                    "nondeterminism",
                    f"`{shown}` converts to the host's local timezone; pass a timezone, e.g. .astimezone(UTC)",
                )

    def _string(self, node: ast.Constant) -> None:
        if node in self.docstrings or not isinstance(node.value, str):
            return
        if "{" in node.value:
            for field_name in _format_fields(node.value):
                if _FORMAT_ATTRIBUTE.search(field_name):
                    self.add(
                        node,
                        "format-string",
                        f"the string {snippet(node, 50)} has the format field `{{{field_name}}}`, which reads "
                        "attributes when formatted; use an f-string with plain values",
                    )
                    return
        parent = self.parents.get(node)
        named_by_getattr = (
            isinstance(parent, ast.Call)
            and isinstance(parent.func, ast.Name)
            and parent.func.id in ("getattr", "hasattr")
            and node in parent.args[1:2]
        )
        dunder = _DUNDER_IN_TEXT.search(node.value)
        if dunder and not named_by_getattr:
            self.add(
                node,
                "dunder",
                f"the string {snippet(node, 50)} names the dunder `{dunder.group()}`; dunder names are not allowed, "
                "not even as text",
            )

    def _global(self, node: ast.Global | ast.Nonlocal) -> None:
        keyword = "global" if isinstance(node, ast.Global) else "nonlocal"
        where = (
            "keep changing data in self.state, which the runtime rolls back and resets"
            if self.policy.context == "environment"
            else "use local variables and return values"
        )
        self.add(node, "global", f"`{keyword} {', '.join(node.names)}` is not allowed: {where}")

    def _handler(self, node: ast.ExceptHandler) -> None:
        kinds = node.type.elts if isinstance(node.type, ast.Tuple) else [node.type] if node.type else []
        caught = [k.id for k in kinds if isinstance(k, ast.Name) and k.id in BASE_EXCEPTIONS]
        if node.type is None or caught:
            what = "bare `except:`" if node.type is None else f"`except {snippet(node.type)}`"
            self.add(
                node,
                "broad-except",
                f"{what} also catches the runtime's time limit and interpreter exits; catch the exceptions "
                "you expect (KeyError, ValueError) or `Exception`",
            )

    def _set_order(self, iterable: ast.expr, shown: str) -> None:
        if self.policy.set_order and _is_set_expr(iterable):
            self.add(
                iterable,
                "set-order",
                f"`{shown}` depends on the order of a set, which changes between runs (string hashing is "
                f"randomised); use sorted({snippet(iterable, 40)}) instead",
            )

    def _defaults(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> None:
        for arg, default in param_defaults(node.args):
            if _is_mutable_default(default):
                self.add(
                    default,
                    "mutable-default",
                    f"the default `{snippet(default)}` of `{arg.arg}` is created once and shared by every call; "
                    f"use `{arg.arg}: ... | None = None` and create the value inside",
                )
