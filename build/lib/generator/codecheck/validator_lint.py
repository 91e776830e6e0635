"""The gate for checks (validators): a pure ``check(initial_state, final_state)`` that returns a bool.

A check shares the rules of environment code (:mod:`generator.codecheck.shared_rules`) under a
stricter allow-list, and is plain functions and constants: no classes, no module-level code. Not a
security boundary: checks run in the sandbox (:mod:`envmint.grading`).
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from typing import Literal

from generator.codecheck.findings import TOO_DEEP, GateFinding, finding_at, sorted_findings
from generator.codecheck.module_state import Constants
from generator.codecheck.policy import CHECK
from generator.codecheck.shared_rules import SharedRules
from generator.codecheck.syntax import (
    chain_base,
    is_docstring_stmt,
    is_dunder,
    is_mutating_call,
    parse_module,
    positional,
    snippet,
    walk_own,
    written_targets,
)

__all__ = ["lint_validator"]

_Boolness = Literal["bool", "other", "unknown"]
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


def _boolness(node: ast.expr) -> _Boolness:
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
        return forever and not any(isinstance(n, ast.Break) for n in walk_own(stmt))
    if isinstance(stmt, ast.Match):
        wildcard = any(isinstance(c.pattern, ast.MatchAs) and c.pattern.pattern is None for c in stmt.cases)
        return wildcard and all(_terminates(c.body) for c in stmt.cases)
    return False


def _check_function(check: ast.FunctionDef, findings: list[GateFinding]) -> None:
    args = check.args
    params = positional(args)
    if len(params) != 2 or args.vararg or args.kwarg or args.kwonlyargs:
        findings.append(
            GateFinding(
                check.lineno,
                "check-signature",
                "write the signature as `def check(initial_state, final_state):` (two parameters: the state "
                "before and after the episode)",
            )
        )
    findings.extend(
        finding_at(decorator, "decorator", "`check` takes no decorators; remove it")
        for decorator in check.decorator_list
    )
    for node in walk_own(check):
        if isinstance(node, ast.Return):
            if node.value is None or (isinstance(node.value, ast.Constant) and node.value.value is None):
                findings.append(
                    GateFinding(
                        node.lineno,
                        "check-return",
                        f"`{snippet(node)}` gives None, which grades as an error; return True or False",
                    )
                )
            elif _boolness(node.value) == "other":
                findings.append(
                    GateFinding(
                        node.lineno,
                        "check-return",
                        f"`{snippet(node)}` does not return a bool, which grades as an error; return a "
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
    inputs = {a.arg for a in params}
    for node in ast.walk(check):
        hits: list[ast.expr] = [t for t in written_targets(node) if isinstance(t, ast.Subscript | ast.Attribute)]
        if is_mutating_call(node):
            assert isinstance(node, ast.Call)
            hits.append(node.func)
        for hit in hits:
            base = chain_base(hit.value if isinstance(hit, ast.Subscript | ast.Attribute) else hit)
            if isinstance(base, ast.Name) and base.id in inputs:
                findings.append(
                    finding_at(
                        hit,
                        "read-only",
                        f"`{snippet(hit)}` changes `{base.id}`, which is read-only; build new values, or "
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
    tree, findings = parse_module(source)
    if tree is None:
        return findings
    findings = SharedRules(tree, CHECK).run()
    constants = Constants()
    checks: list[ast.FunctionDef] = []
    for stmt in tree.body:
        if is_docstring_stmt(stmt):
            continue
        if isinstance(stmt, ast.Import | ast.ImportFrom | ast.Pass | ast.AsyncFunctionDef):
            continue
        if isinstance(stmt, ast.FunctionDef):
            if stmt.name == "check":
                checks.append(stmt)
            elif is_dunder(stmt.name):
                findings.append(GateFinding(stmt.lineno, "dunder", f"`def {stmt.name}` is not allowed"))
        elif isinstance(stmt, ast.Assign | ast.AnnAssign):
            constants.record(stmt, "module")
        elif isinstance(stmt, ast.ClassDef):
            findings.append(
                GateFinding(stmt.lineno, "class", f"`class {stmt.name}` is not allowed: a check is plain functions")
            )
        else:
            findings.append(
                GateFinding(
                    stmt.lineno,
                    "module-code",
                    f"`{snippet(stmt)}` runs at module level; put the logic inside `check`",
                )
            )
    findings += constants.findings
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
    return sorted_findings(findings)
