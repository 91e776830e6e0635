"""The gate for environment code: the shared rules, plus the layout of the module and its class.

It enforces the rules in CONTRIBUTING.md ("Environment code"): one class deriving from
``Environment``, all state in ``self.state``, time from ``self.clock``, ids and randomness from
``self.ids``/``self.rng``, no I/O, refusals as ``ToolError``, typed and documented tool methods.
Not a security boundary (see :mod:`generator.codecheck.shared_rules`).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping, Sequence

from generator.codecheck.findings import TOO_DEEP, GateFinding, finding_at, sorted_findings
from generator.codecheck.module_state import Constants
from generator.codecheck.policy import ENVIRONMENT
from generator.codecheck.shared_rules import SharedRules
from generator.codecheck.syntax import (
    decorator_name,
    flat_targets,
    is_docstring_stmt,
    is_dunder,
    param_defaults,
    parse_module,
    positional,
    snippet,
    walk_own,
    written_targets,
)

__all__ = ["lint_environment"]

_RUNTIME_ATTRS = frozenset({"state", "clock", "ids", "rng"})
_TOOL_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


class _EnvironmentLayout:
    """Rules about the module and class layout of environment code."""

    def __init__(
        self, tree: ast.Module, class_name: str, tool_names: Sequence[str] | None, shared: SharedRules
    ) -> None:
        self.tree = tree
        self.class_name = class_name
        self.tool_names = None if tool_names is None else list(tool_names)
        self.shared = shared
        self.findings: list[GateFinding] = []
        self.constants = Constants()

    def add(self, node: ast.AST, rule: str, message: str) -> None:
        self.findings.append(finding_at(node, rule, message))

    def run(self) -> list[GateFinding]:
        classes: list[ast.ClassDef] = []
        for stmt in self.tree.body:
            if is_docstring_stmt(stmt):
                continue
            if isinstance(stmt, ast.Import | ast.ImportFrom | ast.Pass | ast.AsyncFunctionDef):
                continue
            if isinstance(stmt, ast.Assign | ast.AnnAssign):
                self.constants.record(stmt, "module")
            elif isinstance(stmt, ast.ClassDef):
                if stmt.name == self.class_name:
                    classes.append(stmt)
                elif not self._is_typed_dict(stmt):
                    self.add(
                        stmt,
                        "class",
                        f"`class {stmt.name}` is not allowed: the module defines one class, `{self.class_name}` "
                        "(TypedDicts aside); put helpers in `_methods` of it and refuse with ToolError",
                    )
            elif isinstance(stmt, ast.FunctionDef):
                if is_dunder(stmt.name):
                    self.add(stmt, "dunder", f"`def {stmt.name}` is not allowed: dunder names are off limits")
            else:
                self.add(
                    stmt,
                    "module-code",
                    f"`{snippet(stmt)}` runs when the module is imported; only imports, constants, "
                    "functions and classes belong at module level",
                )
        if not classes:
            self.add(
                self.tree,
                "class",
                f"no class named `{self.class_name}`: define `class {self.class_name}(Environment):` "
                "(with `from envmint_runtime import Environment, ToolError`)",
            )
        for extra in classes[1:]:
            self.add(extra, "class", f"`class {self.class_name}` is defined more than once; keep one definition")
        if classes:
            self._environment_class(classes[0])
        self.constants.check_writes(self.tree)
        self._attribute_stores()
        return [*self.findings, *self.constants.findings]

    def _is_typed_dict(self, node: ast.ClassDef) -> bool:
        bases_ok = bool(node.bases) and all(
            isinstance(b, ast.Name) and self.shared.names.get(b.id) == "typing.TypedDict" for b in node.bases
        )
        body_ok = all(
            (isinstance(s, ast.AnnAssign) and s.value is None and isinstance(s.target, ast.Name))
            or isinstance(s, ast.Pass)
            or (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))
            for s in node.body
        )
        return bases_ok and body_ok and not node.decorator_list and all(k.arg == "total" for k in node.keywords)

    def _attribute_stores(self) -> None:
        for node in ast.walk(self.tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.ctx, ast.Store | ast.Del)
                and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))
            ):
                self.add(
                    node,
                    "self-attribute",
                    f"`{snippet(node)}` sets an attribute; values in self.state are dicts, so write "
                    f"`{snippet(node.value)}['{node.attr}'] = ...`",
                )

    def _environment_class(self, cls: ast.ClassDef) -> None:
        base_ok = (
            len(cls.bases) == 1
            and isinstance(cls.bases[0], ast.Name)
            and cls.bases[0].id == "Environment"
            and self.shared.names.get("Environment") == "envmint_runtime.Environment"
        )
        if not base_ok or cls.keywords:
            self.add(
                cls,
                "class",
                f"`class {cls.name}` must derive from Environment alone: write `class {cls.name}(Environment):` "
                "with `from envmint_runtime import Environment`",
            )
        for decorator in cls.decorator_list:
            self.add(decorator, "decorator", f"`@{decorator_name(decorator)}` on the class is not allowed; remove it")
        methods: dict[str, ast.FunctionDef | ast.AsyncFunctionDef] = {}
        constants: set[str] = set()
        for item in cls.body:
            if (isinstance(item, ast.Expr) and isinstance(item.value, ast.Constant)) or isinstance(item, ast.Pass):
                continue
            if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef):
                if item.name in methods:
                    self.add(item, "class", f"method `{item.name}` is defined twice; keep one definition")
                methods[item.name] = item
            elif isinstance(item, ast.AnnAssign) and item.value is None:
                name = item.target.id if isinstance(item.target, ast.Name) else snippet(item.target)
                if name not in _RUNTIME_ATTRS:
                    self.add(
                        item,
                        "self-attribute",
                        f"`{snippet(item)}` declares an instance attribute; the only ones are state, clock, "
                        "ids and rng: keep data in self.state",
                    )
            elif isinstance(item, ast.Assign | ast.AnnAssign):
                self.constants.record(item, "class")
                constants.update(t.id for t in flat_targets(written_targets(item)) if isinstance(t, ast.Name))
            elif isinstance(item, ast.ClassDef):
                self.add(item, "class", f"nested `class {item.name}` is not allowed; use dicts and helper methods")
            else:
                self.add(
                    item,
                    "class-code",
                    f"`{snippet(item)}` runs when the class is created; the class body holds only "
                    "constants and methods",
                )
        allowed = set(_RUNTIME_ATTRS) | set(methods) | constants
        for name, method in methods.items():
            self._method(name, method, allowed)
        self._tool_names(cls, methods)

    def _method(self, name: str, method: ast.FunctionDef | ast.AsyncFunctionDef, allowed: set[str]) -> None:
        if name == "__init__":
            self.add(
                method,
                "init-override",
                "do not define `__init__`: the runtime constructs the environment and sets self.state, "
                "self.clock, self.ids and self.rng. Initial data belongs in the default state; compute "
                "derived values in `_helper` methods",
            )
        elif is_dunder(name):
            self.add(method, "dunder", f"`def {name}` is not allowed: environment classes define no dunder methods")
        public = not name.startswith("_")
        decorators = [decorator_name(d) for d in method.decorator_list]
        for decorator, node in zip(decorators, method.decorator_list, strict=True):
            if public or decorator not in ("staticmethod", "classmethod", "property"):
                what = f"tool `{name}`" if public else f"`{name}`"
                self.add(node, "decorator", f"`@{decorator}` on {what} is not allowed; tools are plain methods")
        params = positional(method.args)
        if "staticmethod" not in decorators and params:
            self._self_uses(method, params[0].arg, allowed)
        if public:
            self._tool(name, method)

    def _self_uses(self, method: ast.FunctionDef | ast.AsyncFunctionDef, me: str, allowed: set[str]) -> None:
        parents = self.shared.parents
        for node in ast.walk(method):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == me:
                attr = node.attr
                if isinstance(node.ctx, ast.Store | ast.Del):
                    if attr == "state":
                        message = (
                            "`self.state = ...` replaces the state object the runtime journals and rolls back; "
                            "change it in place, e.g. self.state['loans'][loan_id] = loan"
                        )
                    elif attr in _RUNTIME_ATTRS:
                        message = f"`self.{attr} = ...` replaces a runtime service; use it, never assign it"
                    else:
                        message = (
                            f"`self.{attr} = ...` keeps data outside self.state, where rollback and reset do not "
                            "reach it; store it in self.state[...] as JSON, or use a local variable"
                        )
                    self.add(node, "self-attribute", message)
                elif attr not in allowed and not is_dunder(attr):
                    self.add(
                        node,
                        "self-attribute",
                        f"`self.{attr}` is not defined: the instance attributes are self.state, self.clock, "
                        "self.ids and self.rng; otherwise call a method or read a class constant",
                    )
            elif isinstance(node, ast.Name) and node.id == me:
                parent = parents.get(node)
                if not (isinstance(parent, ast.Attribute) and parent.value is node):
                    shown = snippet(parent) if parent is not None else me
                    self.add(
                        node,
                        "self-attribute",
                        f"`{me}` is used on its own in `{shown}`; use it only as self.state, self.clock, "
                        "self.ids, self.rng or self.<method>(...)",
                    )

    def _tool(self, name: str, method: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        if not _TOOL_NAME.match(name):
            self.add(
                method,
                "tool-names",
                f"tool `{name}` must be snake_case (a-z, 0-9, _; at most 64 characters); start a helper's "
                "name with `_`",
            )
        args = method.args
        params = positional(args)
        if not params:
            self.add(method, "tool-signature", f"tool `{name}` has no `self` parameter; write `def {name}(self, ...)`")
        if len(args.posonlyargs) > 1:
            self.add(
                method,
                "tool-signature",
                f"tool `{name}` has positional-only parameters (`/`); the runtime passes arguments by name",
            )
        for star, prefix in ((args.vararg, "*"), (args.kwarg, "**")):
            if star is not None:
                self.add(
                    star,
                    "tool-signature",
                    f"`{prefix}{star.arg}` in tool `{name}` cannot be described by an input schema; list each "
                    "parameter with its type hint",
                )
        for arg in [*params[1:], *args.kwonlyargs]:
            if arg.annotation is None:
                self.add(
                    arg,
                    "tool-signature",
                    f"parameter `{arg.arg}` of tool `{name}` has no type hint; annotate it (str, int, float, bool, "
                    "list[str], Literal['a', 'b'], ... | None) so its input schema can be derived",
                )
        for arg, default in param_defaults(args):
            if not self._json_literal(default):
                self.add(
                    default,
                    "tool-signature",
                    f"the default `{snippet(default)}` of `{arg.arg}` in tool `{name}` must be a JSON literal "
                    "(a number, string, True/False or None)",
                )
        if not (ast.get_docstring(method) or "").strip():
            self.add(
                method,
                "tool-docstring",
                f"tool `{name}` has no docstring; start it with a docstring that says what the tool does and "
                "when it refuses, with an `Args:` section describing each parameter",
            )
        if any(isinstance(node, ast.Yield | ast.YieldFrom) for node in walk_own(method)):
            self.add(method, "tool-signature", f"tool `{name}` is a generator; return a dict instead of yielding")

    def _json_literal(self, node: ast.expr) -> bool:
        if isinstance(node, ast.Name):
            value = self.constants.values.get(node.id)
            return value is not None and self._json_literal(value)
        try:
            ast.literal_eval(node)
        except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
            return False
        return True

    def _tool_names(self, cls: ast.ClassDef, methods: Mapping[str, ast.AST]) -> None:
        if self.tool_names is None:
            return
        public = {name: node for name, node in methods.items() if not name.startswith("_")}
        for wanted in self.tool_names:
            if wanted not in public:
                self.add(
                    cls,
                    "tool-names",
                    f"the spec names tool `{wanted}`, but `{cls.name}` has no public method `{wanted}`; "
                    f"define `def {wanted}(self, ...)`",
                )
        listed = ", ".join(self.tool_names) or "none"
        for name, node in public.items():
            if name not in self.tool_names:
                self.add(
                    node,
                    "tool-names",
                    f"public method `{name}` is not one of the tools ({listed}); rename it `_{name}` if it "
                    "is a helper, or remove it",
                )


def lint_environment(source: str, class_name: str, tool_names: Sequence[str] | None = None) -> list[GateFinding]:
    """Findings for environment code, in line order; empty when the gate accepts it.

    ``tool_names``, when given, are the tools the spec lists: each must be a public method, and no
    other public method may exist. Not a security boundary (see the module docstring).
    """
    try:
        tree, findings = parse_module(source)
        if tree is None:
            return findings
        shared = SharedRules(tree, ENVIRONMENT)
        findings = shared.run()
        findings += _EnvironmentLayout(tree, class_name, tool_names, shared).run()
    except RecursionError:
        return [TOO_DEEP]
    return sorted_findings(findings)
