"""The static gate: early, readable rejections of model-written environment and validator code.

**This is a lint, not a security boundary.** AST allow-lists have a long record of bypasses
(format strings that read ``__class__``, generator frames, names built with ``chr()``; see
``security.md`` §1), and this one will have holes too. Its jobs are to reject the obvious
mistakes and forbidden constructs before anything runs, and to tell the model that repairs the
code, line by line, what to write instead. Code that passes still runs only in a sandboxed child
process (:mod:`envmint.sandbox`): the boundary is the operating system.

For environment code it enforces the rules in CONTRIBUTING.md ("Environment code"): one class
deriving from ``Environment``, all state in ``self.state``, time from ``self.clock``, ids and
randomness from ``self.ids``/``self.rng``, no I/O, refusals as ``ToolError``, typed and
documented tool methods. For checks (validators) it enforces a pure ``check(initial_state,
final_state)`` that returns a bool. For tool descriptions it flags tool poisoning.

The import allow-list, entry by entry:

- ``envmint_runtime``: ``Environment``, ``ToolError`` and ``JSON`` only.
- ``__future__``: ``annotations``.
- ``typing`` and ``collections.abc``: for annotations (``typing.get_type_hints`` is left out: it
  evaluates strings).
- ``datetime``: ``date``/``datetime``/``time``/``timedelta``/``timezone``/``UTC``, for arithmetic
  on dates from ``self.clock`` (``now``/``today``/``utcnow``/``fromtimestamp`` are refused).
- ``math``, and ``decimal`` for money (``getcontext``/``setcontext`` are left out: they change
  process-wide state).
- ``re``: validating ids and formats (its stray module attributes such as ``re.enum`` are not).
- ``copy``: deep copies, so a result or a new record does not alias the state.
- ``collections``: ``Counter``, ``defaultdict``, ``OrderedDict`` (dict subclasses, still JSON).

Left out on purpose: ``json`` (the runtime serialises results), ``dataclasses``/``enum`` (state is
plain JSON; use ``Literal`` for fixed choices), ``functools``/``itertools``/``operator``
(``operator.attrgetter`` reads any attribute by name), ``string`` (``string.Formatter``), and
everything that does I/O or reads the clock or a random source. Checks may import only ``math``,
``re``, ``datetime`` and ``copy`` (the grader's own read-only error suggests ``copy.deepcopy``).
"""

from __future__ import annotations

import ast
import math
import re
import string
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "ENVIRONMENT_IMPORTS",
    "MAX_DESCRIPTION",
    "TOO_DEEP",
    "VALIDATOR_IMPORTS",
    "GateFinding",
    "format_findings",
    "lint_description",
    "lint_environment",
    "lint_validator",
]


@dataclass(frozen=True, order=True)
class GateFinding:
    """One rejection: the line, the rule broken, and what to write instead (for the repairing model)."""

    line: int
    rule: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line} [{self.rule}]: {self.message}"


def format_findings(findings: Iterable[GateFinding]) -> str:
    """Findings one per line, in line order: the feedback text for a repair prompt."""
    return "\n".join(str(finding) for finding in sorted(set(findings)))


# -- allow-lists ------------------------------------------------------------------------------
_TYPING = frozenset(
    {
        "Any",
        "Literal",
        "Optional",
        "Union",
        "Annotated",
        "Final",
        "ClassVar",
        "TypedDict",
        "NotRequired",
        "Required",
        "TypeAlias",
        "Self",
        "cast",
        "List",
        "Dict",
        "Tuple",
        "Set",
        "FrozenSet",
        "Iterable",
        "Iterator",
        "Sequence",
        "Mapping",
        "MutableMapping",
        "Callable",
    }
)
_COLLECTIONS_ABC = frozenset(
    {
        "Callable",
        "Collection",
        "Container",
        "Hashable",
        "Iterable",
        "Iterator",
        "Mapping",
        "MutableMapping",
        "MutableSequence",
        "MutableSet",
        "Sequence",
        "Set",
        "Sized",
    }
)
_DATETIME = frozenset({"date", "datetime", "time", "timedelta", "timezone", "UTC"})
_MATH = frozenset(name for name in dir(math) if not name.startswith("_"))
_RE = frozenset(
    {
        "compile",
        "match",
        "fullmatch",
        "search",
        "sub",
        "subn",
        "split",
        "findall",
        "finditer",
        "escape",
        "error",
        "Pattern",
        "Match",
        "NOFLAG",
        "IGNORECASE",
        "I",
        "MULTILINE",
        "M",
        "DOTALL",
        "S",
        "VERBOSE",
        "X",
        "ASCII",
        "A",
    }
)
_DECIMAL = frozenset(
    {
        "Decimal",
        "InvalidOperation",
        "DivisionByZero",
        "localcontext",
        "ROUND_UP",
        "ROUND_DOWN",
        "ROUND_CEILING",
        "ROUND_FLOOR",
        "ROUND_HALF_UP",
        "ROUND_HALF_DOWN",
        "ROUND_HALF_EVEN",
        "ROUND_05UP",
    }
)
_COPY = frozenset({"copy", "deepcopy"})

ENVIRONMENT_IMPORTS: Mapping[str, frozenset[str]] = {
    "__future__": frozenset({"annotations"}),
    "envmint_runtime": frozenset({"Environment", "ToolError", "JSON"}),
    "typing": _TYPING,
    "collections.abc": _COLLECTIONS_ABC,
    "collections": frozenset({"Counter", "defaultdict", "OrderedDict"}),
    "datetime": _DATETIME,
    "math": _MATH,
    "re": _RE,
    "decimal": _DECIMAL,
    "copy": _COPY,
}
"""Module -> the names environment code may import from it (``import m`` binds only these)."""

VALIDATOR_IMPORTS: Mapping[str, frozenset[str]] = {
    "__future__": frozenset({"annotations"}),
    "math": _MATH,
    "re": _RE,
    "datetime": _DATETIME,
    "copy": _COPY,
}
"""Module -> the names a check may import from it."""

_FROM_ONLY = frozenset({"__future__", "envmint_runtime", "collections.abc"})
_RUNTIME_ATTRS = frozenset({"state", "clock", "ids", "rng"})
_MUTATING_METHODS = frozenset(
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
_CLOCK_ATTRS = frozenset({"now", "today", "utcnow", "fromtimestamp", "utcfromtimestamp"})
_INTROSPECTION_ATTRS = frozenset(
    {
        "gi_frame",
        "gi_code",
        "gi_yieldfrom",
        "gi_running",
        "gi_suspended",
        "cr_frame",
        "cr_code",
        "cr_await",
        "cr_origin",
        "ag_frame",
        "ag_code",
        "ag_await",
        "f_globals",
        "f_locals",
        "f_builtins",
        "f_back",
        "f_code",
        "f_trace",
        "tb_frame",
        "tb_next",
        "co_code",
        "co_consts",
        "co_names",
        "func_globals",
        "func_code",
        "func_closure",
        "im_func",
        "im_self",
        "cell_contents",
        "mro",
        "with_traceback",
    }
)
_BASE_EXCEPTIONS = frozenset({"BaseException", "SystemExit", "KeyboardInterrupt", "GeneratorExit"})
_IMMUTABLE_CALLS = frozenset(
    {"tuple", "frozenset", "timedelta", "date", "datetime", "time", "timezone", "Decimal", "compile", "str", "int"}
)
_TOOL_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_UPPER_NAME = re.compile(r"^_*[A-Z][A-Z0-9_]*$")
_FORMAT_ATTRIBUTE = re.compile(r"\.\s*[A-Za-z_]|__")
_DUNDER_IN_TEXT = re.compile(r"__[A-Za-z]\w*?__")

Context = Literal["environment", "check"]


@dataclass(frozen=True)
class _Policy:
    context: Context
    imports: Mapping[str, frozenset[str]]
    clock_hint: str
    random_hint: str
    ids_hint: str
    set_order: bool


_ENVIRONMENT = _Policy(
    context="environment",
    imports=ENVIRONMENT_IMPORTS,
    clock_hint="use self.clock.now(), self.clock.today() or self.clock.iso()",
    random_hint="use self.rng, the environment's seeded random.Random (e.g. self.rng.choice(options))",
    ids_hint='use self.ids.new("PREFIX", taken=self.state["things"])',
    set_order=True,
)
_CHECK = _Policy(
    context="check",
    imports=VALIDATOR_IMPORTS,
    clock_hint="compare with fixed dates written in the check, or with values in initial_state",
    random_hint="a check is a pure function of initial_state and final_state",
    ids_hint="a check is a pure function of initial_state and final_state",
    set_order=False,
)


def _builtin_hints(policy: _Policy) -> dict[str, tuple[str, str]]:
    """Forbidden built-in names -> (rule, what to do instead)."""
    data = "keep data in self.state" if policy.context == "environment" else "read initial_state and final_state"
    result = "return the information in the result dict" if policy.context == "environment" else "return True/False"
    refuse = (
        "refuse with `raise ToolError('message for the agent')`"
        if policy.context == "environment"
        else "return False, or let an ordinary exception propagate"
    )
    return {
        "open": ("builtin", f"it does file I/O; {data}"),
        "exec": ("builtin", "it runs dynamic code; write the logic out"),
        "eval": ("builtin", "it runs dynamic code; write the logic out (int(text) or float(text) parse numbers)"),
        "compile": ("builtin", "it builds dynamic code; write the logic out (re.compile is fine)"),
        "globals": ("introspection", f"it exposes the module namespace; {data}"),
        "locals": ("introspection", "it exposes the frame; use the variables directly"),
        "vars": ("introspection", "it exposes an object's namespace; use the values directly"),
        "dir": ("introspection", "it lists an object's attributes; use the values directly"),
        "input": ("builtin", "nothing can be read from a terminal; take the value as a parameter"),
        "print": ("builtin", f"nobody reads printed output; {result}"),
        "breakpoint": ("builtin", "there is no debugger; remove it"),
        "help": ("builtin", "remove it"),
        "exit": ("builtin", f"it stops the process; {refuse}"),
        "quit": ("builtin", f"it stops the process; {refuse}"),
        "setattr": ("dynamic-attribute", f"it sets attributes by name; {data} (e.g. record['field'] = value)"),
        "delattr": ("dynamic-attribute", f"it deletes attributes by name; {data} (e.g. del record['field'])"),
        "hash": ("nondeterminism", "string hashes change between runs (PYTHONHASHSEED); compare the values themselves"),
        "id": ("nondeterminism", f"object ids are memory addresses and change between runs; {policy.ids_hint}"),
        "BaseException": ("builtin", refuse),
        "SystemExit": ("builtin", refuse),
        "KeyboardInterrupt": ("builtin", refuse),
        "GeneratorExit": ("builtin", refuse),
    }


_IMPORT_HINTS: dict[str, tuple[str, str]] = {
    "time": ("nondeterminism", "it reads the wall clock; {clock}"),
    "random": ("nondeterminism", "it is the unseeded global random source; {random}"),
    "uuid": ("nondeterminism", "it makes random identifiers; {ids}"),
    "secrets": ("nondeterminism", "it draws from the OS random source; {ids}"),
    "os": ("import", "it does I/O and reads the host (files, os.environ, os.urandom); {data}"),
    "operator": ("import", "operator.attrgetter and itemgetter look values up by computed names; write a lambda"),
    "string": ("import", "string.Formatter reads attributes by name; use f-strings"),
    "functools": ("import", "it is not on the allow-list; write the loop or comprehension out"),
    "itertools": ("import", "it is not on the allow-list; write the loop or comprehension out"),
    "json": ("import", "it is not needed: tools return dicts and the runtime serialises them"),
    "dataclasses": ("import", "state is plain JSON dicts; use dicts, and typing.Literal for fixed choices"),
    "enum": ("import", "state is plain JSON; use typing.Literal['a', 'b'] or a tuple of allowed strings"),
}


def _snippet(node: ast.AST, limit: int = 70) -> str:
    try:
        text = " ".join(ast.unparse(node).split())
    except Exception:  # unparse has gaps for odd nodes; a finding must never crash the gate
        text = type(node).__name__
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _is_dunder(name: str) -> bool:
    return len(name) > 4 and name.startswith("__") and name.endswith("__")


def _line(node: ast.AST) -> int:
    line = getattr(node, "lineno", None)
    return line if isinstance(line, int) else 1


def _docstring_nodes(tree: ast.AST) -> set[ast.AST]:
    found: set[ast.AST] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(first.value)
    return found


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


def _is_mutable_default(node: ast.expr) -> bool:
    if isinstance(node, ast.List | ast.Dict | ast.Set | ast.ListComp | ast.DictComp | ast.SetComp):
        return True
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("list", "dict", "set")


def _param_defaults(args: ast.arguments) -> list[tuple[ast.arg, ast.expr]]:
    positional = [*args.posonlyargs, *args.args]
    pairs = list(zip(positional[len(positional) - len(args.defaults) :], args.defaults, strict=True))
    pairs += [(a, d) for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True) if d is not None]
    return pairs


def _is_docstring_stmt(stmt: ast.stmt) -> bool:
    return isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant) and isinstance(stmt.value.value, str)


def _is_mutating_call(node: ast.AST) -> bool:
    """``x.append(...)``, ``x.update(...)``, ...: a call that changes ``x`` in place."""
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in _MUTATING_METHODS


def _chain_base(node: ast.expr) -> ast.expr:
    """The object at the bottom of ``a[b].c[d]``: ``a``."""
    while isinstance(node, ast.Subscript | ast.Attribute):
        node = node.value
    return node


def _flat_targets(targets: Iterable[ast.expr]) -> Iterator[ast.expr]:
    for target in targets:
        if isinstance(target, ast.Tuple | ast.List):
            yield from _flat_targets(target.elts)
        elif isinstance(target, ast.Starred):
            yield from _flat_targets([target.value])
        else:
            yield target


def _written_targets(node: ast.AST) -> list[ast.expr]:
    if isinstance(node, ast.Assign):
        return list(_flat_targets(node.targets))
    if isinstance(node, ast.AugAssign | ast.AnnAssign) and (not isinstance(node, ast.AnnAssign) or node.value):
        return [node.target]
    if isinstance(node, ast.Delete):
        return list(_flat_targets(node.targets))
    return []


def _walk_own(node: ast.AST) -> Iterator[ast.AST]:
    """ast.walk that does not enter nested functions, lambdas or classes below ``node``."""
    stack = list(ast.iter_child_nodes(node))
    while stack:
        child = stack.pop()
        yield child
        if not isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef):
            stack.extend(ast.iter_child_nodes(child))


def _decorator_name(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    return _snippet(node)


class _Linter:
    """The rules shared by environment code and checks: imports, builtins, dunders, clocks, ..."""

    def __init__(self, tree: ast.Module, policy: _Policy) -> None:
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
        self.docstrings = _docstring_nodes(tree)
        self.builtins = _builtin_hints(policy)

    def add(self, node: ast.AST, rule: str, message: str) -> None:
        self.findings.append(GateFinding(_line(node), rule, message))

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
                self._set_order(node.iter, f"for {_snippet(node.target)} in {_snippet(node.iter)}")
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                self._defaults(node)
        return self.findings

    # -- imports ---------------------------------------------------------------------------
    def _allowed_list(self, module: str) -> str:
        names = sorted(self.policy.imports[module])
        return ", ".join(names) if len(names) <= 30 else "its functions and constants"

    def _modules_list(self) -> str:
        return ", ".join(m for m in self.policy.imports if m != "__future__")

    def _import_hint(self, module: str) -> tuple[str, str]:
        top = module.split(".")[0]
        env = self.policy.context == "environment"
        rule, hint = _IMPORT_HINTS.get(top, ("import", "{what} does no I/O, starts no processes and loads no code"))
        data = "keep data in self.state" if env else "a check only reads its two inputs"
        return rule, hint.format(
            clock=self.policy.clock_hint,
            random=self.policy.random_hint,
            ids=self.policy.ids_hint,
            data=data,
            what="environment code" if env else "a check",
        )

    def _bad_import(self, node: ast.Import | ast.ImportFrom, module: str) -> None:
        rule, hint = self._import_hint(module)
        what = "environment code" if self.policy.context == "environment" else "a check"
        message = f"`{_snippet(node)}` is not allowed: {hint}. {what.capitalize()} may import only from: "
        self.add(node, rule, message + f"{self._modules_list()}.")
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
                if alias.name in allowed and alias.name not in _FROM_ONLY:
                    self.modules[alias.asname or alias.name] = alias.name
                elif alias.name in allowed:
                    self.add(node, "import", f"write `from {alias.name} import ...` instead of `import {alias.name}`")
                else:
                    self._bad_import(node, alias.name)
            return
        module = node.module or ""
        if node.level:
            self.add(node, "import", f"`{_snippet(node)}` is a relative import; the module stands alone")
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
                    f"{self._allowed_list(module)}",
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
        if _is_dunder(node.id):
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
                why = f"from {module} import only: {self._allowed_list(module)}"
                self.add(node, "import", f"`{self._usage(node)}` uses `{origin}`, which is not allowed; {why}")
            else:
                rule, why = self._import_hint(origin)
                self.add(node, rule, f"`{self._usage(node)}` uses `{origin}`, which may not be imported: {why}")
            return
        if node.id in ("getattr", "hasattr"):
            parent = self.parents.get(node)
            if not (isinstance(parent, ast.Call) and parent.func is node):
                self.add(node, "dynamic-attribute", f"`{node.id}` may only be called directly with a literal name")
            return
        hint = self.builtins.get(node.id)
        if hint is None or (node.id in _BASE_EXCEPTIONS and self._in_handler_type(node)):
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
                return _snippet(outer)
            outer = parent

    def _attribute(self, node: ast.Attribute) -> None:
        attr, shown = node.attr, _snippet(node)
        if _is_dunder(attr):
            self.add(
                node,
                "dunder",
                f"`{shown}` reads the dunder attribute `{attr}`; dunder attributes are not allowed. "
                "Work with the JSON values directly (isinstance(x, dict), len(x), x['key'])",
            )
            return
        if attr in _INTROSPECTION_ATTRS:
            self.add(node, "introspection", f"`{shown}` reaches into interpreter internals (`{attr}`); remove it")
            return
        base = node.value
        if isinstance(base, ast.Name) and base.id in self.modules:
            module = self.modules[base.id]
            if attr not in self.policy.imports[module]:
                self.add(
                    node,
                    "import",
                    f"`{shown}` is not allowed; from {module} use only: {self._allowed_list(module)}",
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
        if attr in _CLOCK_ATTRS and not self._is_self_clock(base):
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
        func, shown = node.func, _snippet(node)
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
                elif _is_dunder(name.value) or name.value in _INTROSPECTION_ATTRS or name.value.startswith("_"):
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
                        f"the string {_snippet(node, 50)} has the format field `{{{field_name}}}`, which reads "
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
                f"the string {_snippet(node, 50)} names the dunder `{dunder.group()}`; dunder names are not allowed, "
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
        caught = [k.id for k in kinds if isinstance(k, ast.Name) and k.id in _BASE_EXCEPTIONS]
        if node.type is None or caught:
            what = "bare `except:`" if node.type is None else f"`except {_snippet(node.type)}`"
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
                f"randomised); use sorted({_snippet(iterable, 40)}) instead",
            )

    def _defaults(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> None:
        for arg, default in _param_defaults(node.args):
            if _is_mutable_default(default):
                self.add(
                    default,
                    "mutable-default",
                    f"the default `{_snippet(default)}` of `{arg.arg}` is created once and shared by every call; "
                    f"use `{arg.arg}: ... | None = None` and create the value inside",
                )


def _parse(source: str) -> tuple[ast.Module | None, list[GateFinding]]:
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


def _finish(findings: Iterable[GateFinding]) -> list[GateFinding]:
    return sorted(set(findings))


TOO_DEEP = GateFinding(1, "syntax", "the code nests expressions too deeply to check; split them into simpler steps")
"""What every check returns for code whose syntax tree is deeper than the interpreter can walk."""


# -- environment structure -------------------------------------------------------------------
class _EnvironmentShape:
    """Rules about the module and class layout of environment code."""

    def __init__(self, tree: ast.Module, class_name: str, tool_names: Sequence[str] | None, linter: _Linter) -> None:
        self.tree = tree
        self.class_name = class_name
        self.tool_names = None if tool_names is None else list(tool_names)
        self.linter = linter
        self.findings: list[GateFinding] = []
        self.constants: dict[str, ast.expr | None] = {}
        self.mutable_constants: set[str] = set()

    def add(self, node: ast.AST, rule: str, message: str) -> None:
        self.findings.append(GateFinding(_line(node), rule, message))

    def run(self) -> list[GateFinding]:
        classes: list[ast.ClassDef] = []
        for stmt in self.tree.body:
            if _is_docstring_stmt(stmt):
                continue
            if isinstance(stmt, ast.Import | ast.ImportFrom | ast.Pass | ast.AsyncFunctionDef):
                continue
            if isinstance(stmt, ast.Assign | ast.AnnAssign):
                self._constant(stmt, "module")
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
                if _is_dunder(stmt.name):
                    self.add(stmt, "dunder", f"`def {stmt.name}` is not allowed: dunder names are off limits")
            else:
                self.add(
                    stmt,
                    "module-code",
                    f"`{_snippet(stmt)}` runs when the module is imported; only imports, constants, "
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
        self._constant_writes()
        self._attribute_stores()
        return self.findings

    def _is_typed_dict(self, node: ast.ClassDef) -> bool:
        bases_ok = bool(node.bases) and all(
            isinstance(b, ast.Name) and self.linter.names.get(b.id) == "typing.TypedDict" for b in node.bases
        )
        body_ok = all(
            (isinstance(s, ast.AnnAssign) and s.value is None and isinstance(s.target, ast.Name))
            or isinstance(s, ast.Pass)
            or (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))
            for s in node.body
        )
        return bases_ok and body_ok and not node.decorator_list and all(k.arg == "total" for k in node.keywords)

    def _constant(self, stmt: ast.Assign | ast.AnnAssign, where: str) -> None:
        targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
        value = stmt.value
        for target in targets:
            if not isinstance(target, ast.Name):
                self.add(
                    stmt,
                    f"{where}-code",
                    f"`{_snippet(stmt)}`: at {where} level write only `NAME = constant` assignments",
                )
                continue
            self.constants[target.id] = value
            if value is None or _is_immutable(value):
                continue
            if _UPPER_NAME.match(target.id) and _is_literal_data(value):
                self.mutable_constants.add(target.id)
                continue
            self.add(
                stmt,
                "module-state",
                f"`{target.id} = {_snippet(value, 40)}` at {where} level is mutable state shared by every call and "
                "untouched by rollback and reset; keep changing data in self.state, and write constants as "
                "UPPER_CASE literals (a tuple, a frozenset, or a dict literal that is never modified)",
            )

    def _constant_writes(self) -> None:
        def constant_name(node: ast.expr) -> str | None:
            while isinstance(node, ast.Subscript):
                node = node.value
            if isinstance(node, ast.Name):
                name = node.id
            elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
                name = node.attr
            else:
                return None
            return name if name in self.mutable_constants else None

        for node in ast.walk(self.tree):
            hits: list[tuple[ast.expr, str | None]] = [
                (t, constant_name(t.value))
                for t in _written_targets(node)
                if isinstance(t, ast.Subscript | ast.Attribute)
            ]
            if _is_mutating_call(node):
                assert isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                hits.append((node, constant_name(node.func.value)))
            for where, name in hits:
                if name is not None:
                    self.add(
                        where,
                        "module-state",
                        f"`{_snippet(where)}` changes the constant `{name}`, which is shared by every call and not "
                        "rolled back; keep changing data in self.state",
                    )

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
                    f"`{_snippet(node)}` sets an attribute; values in self.state are dicts, so write "
                    f"`{_snippet(node.value)}['{node.attr}'] = ...`",
                )

    def _environment_class(self, cls: ast.ClassDef) -> None:
        base_ok = (
            len(cls.bases) == 1
            and isinstance(cls.bases[0], ast.Name)
            and cls.bases[0].id == "Environment"
            and self.linter.names.get("Environment") == "envmint_runtime.Environment"
        )
        if not base_ok or cls.keywords:
            self.add(
                cls,
                "class",
                f"`class {cls.name}` must derive from Environment alone: write `class {cls.name}(Environment):` "
                "with `from envmint_runtime import Environment`",
            )
        for decorator in cls.decorator_list:
            self.add(decorator, "decorator", f"`@{_decorator_name(decorator)}` on the class is not allowed; remove it")
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
                name = item.target.id if isinstance(item.target, ast.Name) else _snippet(item.target)
                if name not in _RUNTIME_ATTRS:
                    self.add(
                        item,
                        "self-attribute",
                        f"`{_snippet(item)}` declares an instance attribute; the only ones are state, clock, "
                        "ids and rng: keep data in self.state",
                    )
            elif isinstance(item, ast.Assign | ast.AnnAssign):
                self._constant(item, "class")
                constants.update(t.id for t in _flat_targets(_written_targets(item)) if isinstance(t, ast.Name))
            elif isinstance(item, ast.ClassDef):
                self.add(item, "class", f"nested `class {item.name}` is not allowed; use dicts and helper methods")
            else:
                self.add(
                    item,
                    "class-code",
                    f"`{_snippet(item)}` runs when the class is created; the class body holds only "
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
        elif _is_dunder(name):
            self.add(method, "dunder", f"`def {name}` is not allowed: environment classes define no dunder methods")
        public = not name.startswith("_")
        decorators = [_decorator_name(d) for d in method.decorator_list]
        for decorator, node in zip(decorators, method.decorator_list, strict=True):
            if public or decorator not in ("staticmethod", "classmethod", "property"):
                what = f"tool `{name}`" if public else f"`{name}`"
                self.add(node, "decorator", f"`@{decorator}` on {what} is not allowed; tools are plain methods")
        positional = [*method.args.posonlyargs, *method.args.args]
        if "staticmethod" not in decorators and positional:
            self._self_uses(method, positional[0].arg, allowed)
        if public:
            self._tool(name, method)

    def _self_uses(self, method: ast.FunctionDef | ast.AsyncFunctionDef, me: str, allowed: set[str]) -> None:
        parents = self.linter.parents
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
                elif attr not in allowed and not _is_dunder(attr):
                    self.add(
                        node,
                        "self-attribute",
                        f"`self.{attr}` is not defined: the instance attributes are self.state, self.clock, "
                        "self.ids and self.rng; otherwise call a method or read a class constant",
                    )
            elif isinstance(node, ast.Name) and node.id == me:
                parent = parents.get(node)
                if not (isinstance(parent, ast.Attribute) and parent.value is node):
                    shown = _snippet(parent) if parent is not None else me
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
        positional = [*args.posonlyargs, *args.args]
        if not positional:
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
        for arg in [*positional[1:], *args.kwonlyargs]:
            if arg.annotation is None:
                self.add(
                    arg,
                    "tool-signature",
                    f"parameter `{arg.arg}` of tool `{name}` has no type hint; annotate it (str, int, float, bool, "
                    "list[str], Literal['a', 'b'], ... | None) so its input schema can be derived",
                )
        for arg, default in _param_defaults(args):
            if not self._json_literal(default):
                self.add(
                    default,
                    "tool-signature",
                    f"the default `{_snippet(default)}` of `{arg.arg}` in tool `{name}` must be a JSON literal "
                    "(a number, string, True/False or None)",
                )
        if not (ast.get_docstring(method) or "").strip():
            self.add(
                method,
                "tool-docstring",
                f"tool `{name}` has no docstring; start it with a docstring that says what the tool does and "
                "when it refuses, with an `Args:` section describing each parameter",
            )
        if any(isinstance(node, ast.Yield | ast.YieldFrom) for node in _walk_own(method)):
            self.add(method, "tool-signature", f"tool `{name}` is a generator; return a dict instead of yielding")

    def _json_literal(self, node: ast.expr) -> bool:
        if isinstance(node, ast.Name):
            value = self.constants.get(node.id)
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
        tree, findings = _parse(source)
        if tree is None:
            return findings
        linter = _Linter(tree, _ENVIRONMENT)
        findings = linter.run()
        findings += _EnvironmentShape(tree, class_name, tool_names, linter).run()
    except RecursionError:
        return [TOO_DEEP]
    return _finish(findings)


# -- checks (validators) ----------------------------------------------------------------------
Boolness = Literal["bool", "other", "unknown"]
_BOOL_FUNCTIONS = frozenset({"all", "any", "bool", "isinstance", "issubclass", "callable"})
_BOOL_METHODS = frozenset(
    {
        "startswith",
        "endswith",
        "isdigit",
        "isalpha",
        "isalnum",
        "isspace",
        "islower",
        "isupper",
        "istitle",
        "isdecimal",
        "isnumeric",
        "isidentifier",
        "issubset",
        "issuperset",
        "isdisjoint",
    }
)
_NON_BOOL_FUNCTIONS = frozenset(
    {"len", "sum", "int", "float", "str", "list", "dict", "set", "tuple", "sorted", "abs", "round", "repr"}
)


def _boolness(node: ast.expr) -> Boolness:
    """Whether an expression surely gives a bool, surely does not, or cannot be told statically."""
    if isinstance(node, ast.Constant):
        return "bool" if isinstance(node.value, bool) else "other"
    if isinstance(node, ast.Compare) or (isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not)):
        return "bool"
    if isinstance(node, ast.BoolOp | ast.IfExp):
        parts = node.values if isinstance(node, ast.BoolOp) else [node.body, node.orelse]
        kinds = {_boolness(part) for part in parts}
        return "other" if "other" in kinds else "bool" if kinds == {"bool"} else "unknown"
    if isinstance(node, ast.Call):
        func = node.func
        if isinstance(func, ast.Name):
            if func.id in _BOOL_FUNCTIONS:
                return "bool"
            if func.id in _NON_BOOL_FUNCTIONS:
                return "other"
        if isinstance(func, ast.Attribute) and func.attr in _BOOL_METHODS:
            return "bool"
        return "unknown"
    if isinstance(node, ast.BinOp):
        return "unknown" if isinstance(node.op, ast.BitAnd | ast.BitOr | ast.BitXor) else "other"
    if isinstance(
        node,
        ast.Dict
        | ast.List
        | ast.Set
        | ast.Tuple
        | ast.ListComp
        | ast.SetComp
        | ast.DictComp
        | ast.GeneratorExp
        | ast.JoinedStr
        | ast.Lambda,
    ):
        return "other"
    return "unknown"


def _terminates(body: Sequence[ast.stmt]) -> bool:
    """Every path through ``body`` ends in return or raise (a conservative test)."""
    return any(_stmt_terminates(stmt) for stmt in body)


def _stmt_terminates(stmt: ast.stmt) -> bool:
    if isinstance(stmt, ast.Return | ast.Raise):
        return True
    if isinstance(stmt, ast.If):
        return bool(stmt.orelse) and _terminates(stmt.body) and _terminates(stmt.orelse)
    if isinstance(stmt, ast.With):
        return _terminates(stmt.body)
    if isinstance(stmt, ast.Try):
        handled = all(_terminates(h.body) for h in stmt.handlers)
        return _terminates(stmt.finalbody) or ((_terminates(stmt.body) or _terminates(stmt.orelse)) and handled)
    if isinstance(stmt, ast.While):
        forever = isinstance(stmt.test, ast.Constant) and bool(stmt.test.value)
        return forever and not any(isinstance(n, ast.Break) for n in _walk_own(stmt))
    if isinstance(stmt, ast.Match):
        wildcard = any(isinstance(c.pattern, ast.MatchAs) and c.pattern.pattern is None for c in stmt.cases)
        return wildcard and all(_terminates(c.body) for c in stmt.cases)
    return False


def _check_function(check: ast.FunctionDef, findings: list[GateFinding]) -> None:
    args = check.args
    positional = [*args.posonlyargs, *args.args]
    if len(positional) != 2 or args.vararg or args.kwarg or args.kwonlyargs:
        findings.append(
            GateFinding(
                check.lineno,
                "check-signature",
                "write the signature as `def check(initial_state, final_state):` (two parameters: the state "
                "before and after the episode)",
            )
        )
    findings.extend(
        GateFinding(_line(decorator), "decorator", "`check` takes no decorators; remove it")
        for decorator in check.decorator_list
    )
    for node in _walk_own(check):
        if isinstance(node, ast.Return):
            if node.value is None or (isinstance(node.value, ast.Constant) and node.value.value is None):
                findings.append(
                    GateFinding(
                        node.lineno,
                        "check-return",
                        f"`{_snippet(node)}` gives None, which grades as an error; return True or False",
                    )
                )
            elif _boolness(node.value) == "other":
                findings.append(
                    GateFinding(
                        node.lineno,
                        "check-return",
                        f"`{_snippet(node)}` does not return a bool, which grades as an error; return a "
                        "comparison or bool(...), e.g. `return len(loans) == 1`",
                    )
                )
    if not _terminates(check.body):
        findings.append(
            GateFinding(
                check.end_lineno or check.lineno,
                "check-return",
                "`check` can reach its end without returning, which gives None (graded as an error); end it "
                "with `return False` or a boolean expression",
            )
        )
    inputs = {a.arg for a in positional}
    for node in ast.walk(check):
        hits: list[ast.expr] = [t for t in _written_targets(node) if isinstance(t, ast.Subscript | ast.Attribute)]
        if _is_mutating_call(node):
            assert isinstance(node, ast.Call)
            hits.append(node.func)
        for hit in hits:
            base = _chain_base(hit.value if isinstance(hit, ast.Subscript | ast.Attribute) else hit)
            if isinstance(base, ast.Name) and base.id in inputs:
                findings.append(
                    GateFinding(
                        _line(hit),
                        "read-only",
                        f"`{_snippet(hit)}` changes `{base.id}`, which is read-only; build new values, or "
                        "copy it first with copy.deepcopy",
                    )
                )


def lint_validator(source: str) -> list[GateFinding]:
    """Findings for a check (``def check(initial_state, final_state) -> bool``); empty when accepted.

    A check reads the two states and returns True or False. It may import only math, re, datetime
    and copy, does no I/O, reads no clock, uses no dunders, and does not change its inputs. Not a
    security boundary: checks run in the sandbox (:mod:`envmint.grading`).
    """
    try:
        return _lint_validator(source)
    except RecursionError:
        return [TOO_DEEP]


def _lint_validator(source: str) -> list[GateFinding]:
    tree, findings = _parse(source)
    if tree is None:
        return findings
    linter = _Linter(tree, _CHECK)
    findings = linter.run()
    shape = _EnvironmentShape(tree, "", None, linter)
    checks: list[ast.FunctionDef] = []
    for stmt in tree.body:
        if _is_docstring_stmt(stmt):
            continue
        if isinstance(stmt, ast.Import | ast.ImportFrom | ast.Pass | ast.AsyncFunctionDef):
            continue
        if isinstance(stmt, ast.FunctionDef):
            if stmt.name == "check":
                checks.append(stmt)
            elif _is_dunder(stmt.name):
                findings.append(GateFinding(stmt.lineno, "dunder", f"`def {stmt.name}` is not allowed"))
        elif isinstance(stmt, ast.Assign | ast.AnnAssign):
            shape._constant(stmt, "module")
        elif isinstance(stmt, ast.ClassDef):
            findings.append(
                GateFinding(stmt.lineno, "class", f"`class {stmt.name}` is not allowed: a check is plain functions")
            )
        else:
            findings.append(
                GateFinding(
                    stmt.lineno,
                    "module-code",
                    f"`{_snippet(stmt)}` runs at module level; put the logic inside `check`",
                )
            )
    findings += shape.findings
    if not checks:
        findings.append(
            GateFinding(
                1,
                "check-signature",
                "no `check` function: define `def check(initial_state, final_state):` returning True when "
                "the goal is met and False otherwise",
            )
        )
    for extra in checks[1:]:
        findings.append(GateFinding(extra.lineno, "check-signature", "`check` is defined twice; keep one"))
    if checks:
        _check_function(checks[0], findings)
    return _finish(findings)


# -- tool descriptions ------------------------------------------------------------------------
MAX_DESCRIPTION = 1024
_HIDDEN_CHARACTERS = re.compile("[\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\U000e0000-\U000e007f]")
_DESCRIPTION_RULES: tuple[tuple[str, re.Pattern[str], str], ...] = (
    (
        "description-url",
        re.compile(
            r"\b(?:https?|ftp|file|data|javascript):\S*|\bwww\.\S+"
            r"|(?<![@\w.])(?:[a-z0-9-]+\.)+(?:com|net|org|io|ai|dev|app|xyz|ru|cn|me|co|sh|ly|gg|link|site)\b(?:/\S*)?",
            re.IGNORECASE,
        ),
        "a tool description may not contain links or web addresses",
    ),
    (
        "description-hidden",
        re.compile(r"<!--|-->|[A-Za-z0-9+/]{48,}={0,2}"),
        "hidden content (HTML comments, encoded blobs) does not belong in a tool description",
    ),
    (
        "description-injection",
        re.compile(
            r"\b(?:ignore|disregard|forget|override|bypass)\b[^.\n]{0,40}?\b(?:previous|prior|above|earlier|"
            r"preceding|all|any|other|your|system|developer|safety)\b[^.\n]{0,30}?\b(?:instructions?|prompts?|"
            r"rules?|guidelines?|directions?|messages?|context|constraints?|polic(?:y|ies))\b"
            r"|\b(?:ignore|disregard|forget)\s+(?:all\s+|any\s+)?(?:of\s+)?(?:the\s+)?(?:previous|prior|above|earlier|"
            r"preceding)\b|\b(?:ignore|disregard|forget)\s+(?:everything|anything)\s+(?:above|before|else|you)\b",
            re.IGNORECASE,
        ),
        "it tells the model to ignore its instructions",
    ),
    (
        "description-injection",
        re.compile(
            r"\bsystem[\s_-]*prompt\b|\bdeveloper[\s_-]*(?:message|prompt|mode)\b|\bjailbreak"
            r"|<\s*/?\s*(?:system|important|instructions?|secret|hidden|admin|assistant|user|im_start|im_end)\b[^>]*>"
            r"|\[/?(?:INST|SYS)\]|<<\s*/?SYS\s*>>|<\|[^|>]{1,30}\|>|^\s*(?:system|assistant|user)\s*:",
            re.IGNORECASE | re.MULTILINE,
        ),
        "it imitates a system prompt or a chat-role marker",
    ),
    (
        "description-injection",
        re.compile(
            r"\b(?:do\s+not|don'?t|never)\s+(?:tell|inform|mention|reveal|show|notify|alert)\s+(?:this\s+to\s+)?"
            r"(?:the\s+|any\s+)?(?:user|human|customer|operator|person)s?\b"
            r"|\bwithout\s+(?:telling|informing|asking|notifying|alerting)\s+(?:the\s+)?(?:user|human|customer)s?\b"
            r"|\b(?:secretly|covertly)\b"
            r"|\b(?:note|message|instructions?)\s+(?:to|for)\s+(?:the\s+)?(?:ai|assistant|model|llm|agent)\b"
            r"|\b(?:you\s+are\s+now|from\s+now\s+on|act\s+as|pretend\s+to\s+be)\b",
            re.IGNORECASE,
        ),
        "it gives the model covert instructions",
    ),
    (
        "description-injection",
        re.compile(
            r"~/|/etc/|/proc/|\.ssh\b|\bid_rsa\b|(?<![\w.])\.env\b|\bmcp\.json\b|\bprivate[\s_-]keys?\b",
            re.IGNORECASE,
        ),
        "it refers to host files or keys, which no simulated tool needs",
    ),
)


def lint_description(text: str) -> list[GateFinding]:
    """Tool-poisoning findings for one tool or parameter description (``line`` is within ``text``).

    A description says what a tool does, what its inputs mean and when it refuses. Flagged: empty
    or over 1,024 characters, links, invisible characters and encoded blobs, and text that
    addresses the model (ignore previous instructions, role markers, covert orders, secrets).
    """
    findings: list[GateFinding] = []
    if not text.strip():
        findings.append(GateFinding(1, "description-empty", "the description is empty; say what the tool does"))
    if len(text) > MAX_DESCRIPTION:
        findings.append(
            GateFinding(
                1,
                "description-length",
                f"the description has {len(text)} characters; the limit is {MAX_DESCRIPTION}. Keep what the tool "
                "does, its inputs and when it refuses",
            )
        )
    for match in _HIDDEN_CHARACTERS.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        findings.append(
            GateFinding(
                line,
                "description-hidden",
                f"invisible character U+{ord(match.group()):04X} in the description; use plain visible text",
            )
        )
    for rule, pattern, reason in _DESCRIPTION_RULES:
        for match in pattern.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            shown = " ".join(match.group().split())[:60]
            findings.append(
                GateFinding(
                    line,
                    rule,
                    f"`{shown}`: {reason}. A description only says what the tool does, its inputs and when it refuses",
                )
            )
    return _finish(findings)
