"""Which methods of an environment class may write to ``self.state`` (a tool's ``kind``).

A method writes when it assigns, augments or deletes through a subscript or attribute chain
rooted at ``self.state``, or calls a mutating method (``append``, ``update``, ``pop``, ...) on
one; also through local aliases (``m = self.state["members"][mid]; m["fines"] = 0``), values
returned by helpers (``member = self._member(mid)``) and helpers that write. Shallow copies
(``dict(x)``, ``{**x}``, ``x.copy()``) are fresh objects: writing to their top level is not a
write to the state. The analysis errs towards writing.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from generator.codecheck.syntax import MUTATING_METHODS, has_decorator, positional

__all__ = ["state_writers"]

_STATE = "state"
_CONTAINERS = frozenset(
    {"sorted", "list", "tuple", "reversed", "filter", "iter", "enumerate", "zip", "set", "frozenset", "dict", "map"}
)
_ELEMENT_OF = frozenset({"next", "min", "max"})
_SERVICES = frozenset({"clock", "ids", "rng"})


@dataclass(frozen=True)
class _Taint:
    """Which state a value is part of (``is_``), or which state a fresh container holds (``holds``).

    Roots are ``"state"`` (``self.state``), ``"param:<name>"`` (a parameter's own object) and
    ``"param:<name>*"`` (objects inside it); the parameter roots make summaries of helpers. Writing
    into a value writes to the roots it *is*; writing into a fresh container (a copy, a new list)
    writes nowhere, but its elements are the roots it holds.
    """

    is_: frozenset[str] = frozenset()
    holds: frozenset[str] = frozenset()

    def __or__(self, other: _Taint) -> _Taint:
        return _Taint(self.is_ | other.is_, self.holds | other.holds)

    @property
    def roots(self) -> frozenset[str]:
        return self.is_ | self.holds

    def element(self) -> _Taint:
        return _Taint(is_=frozenset(r if r == _STATE or r.endswith("*") else f"{r}*" for r in self.roots))

    def container(self) -> _Taint:
        return _Taint(holds=self.roots)


_CLEAN = _Taint()
_Env = dict[str, _Taint]


@dataclass(frozen=True)
class _Summary:
    writes: frozenset[str] = frozenset()
    returns: _Taint = _CLEAN

    def __or__(self, other: _Summary) -> _Summary:
        return _Summary(self.writes | other.writes, self.returns | other.returns)


def _merge(*envs: _Env) -> _Env:
    merged: _Env = {}
    for env in envs:
        for name, taint in env.items():
            merged[name] = merged.get(name, _CLEAN) | taint
    return merged


def _union(taints: Iterable[_Taint]) -> _Taint:
    result = _CLEAN
    for taint in taints:
        result |= taint
    return result


def _params(function: ast.FunctionDef, is_method: bool) -> list[str]:
    names = [a.arg for a in positional(function.args)]
    return names[1:] if is_method else names


class _Flow:
    """Flow-sensitive alias analysis of one function, given the summaries of the others."""

    def __init__(
        self,
        function: ast.FunctionDef,
        self_name: str | None,
        summaries: Mapping[str, _Summary],
        defs: Mapping[str, ast.FunctionDef],
    ) -> None:
        self.function = function
        self.self_name = self_name
        self.summaries = summaries
        self.defs = defs
        self.writes: set[str] = set()
        self.returns = _CLEAN

    def run(self) -> _Summary:
        names = _params(self.function, self.self_name is not None)
        names += [a.arg for a in self.function.args.kwonlyargs]
        env: _Env = {name: _Taint(is_=frozenset({f"param:{name}"})) for name in names}
        self._block(self.function.body, env)
        return _Summary(frozenset(self.writes), self.returns)

    # statements
    def _block(self, body: Iterable[ast.stmt], env: _Env) -> _Env:
        for stmt in body:
            env = self._stmt(stmt, env)
        return env

    def _loop(self, body: list[ast.stmt], env: _Env, bind: ast.expr | None, each: _Taint) -> _Env:
        current = dict(env)
        for _ in range(2):
            if bind is not None:
                self._bind(bind, each, current)
            current = _merge(current, self._block(body, dict(current)))
        return _merge(env, current)

    def _stmt(self, stmt: ast.stmt, env: _Env) -> _Env:
        if isinstance(stmt, ast.Assign):
            taint = self._expr(stmt.value, env)
            for target in stmt.targets:
                self._bind(target, taint, env, stmt.value)
        elif isinstance(stmt, ast.AnnAssign):
            if stmt.value is not None:
                self._bind(stmt.target, self._expr(stmt.value, env), env, stmt.value)
        elif isinstance(stmt, ast.AugAssign):
            taint = self._expr(stmt.value, env)
            if isinstance(stmt.target, ast.Name):
                env[stmt.target.id] = env.get(stmt.target.id, _CLEAN) | taint
            else:
                self._bind(stmt.target, taint, env)
        elif isinstance(stmt, ast.Delete):
            for target in stmt.targets:
                if isinstance(target, ast.Name):
                    env.pop(target.id, None)
                else:
                    self._bind(target, _CLEAN, env)
        elif isinstance(stmt, ast.Return):
            if stmt.value is not None:
                self.returns |= self._expr(stmt.value, env)
        elif isinstance(stmt, ast.If):
            self._expr(stmt.test, env)
            return _merge(self._block(stmt.body, dict(env)), self._block(stmt.orelse, dict(env)))
        elif isinstance(stmt, ast.For | ast.AsyncFor):
            each = self._expr(stmt.iter, env).element()
            after = self._loop(stmt.body, env, stmt.target, each)
            return _merge(after, self._block(stmt.orelse, dict(after)))
        elif isinstance(stmt, ast.While):
            self._expr(stmt.test, env)
            after = self._loop(stmt.body, env, None, _CLEAN)
            return _merge(after, self._block(stmt.orelse, dict(after)))
        elif isinstance(stmt, ast.With | ast.AsyncWith):
            for item in stmt.items:
                taint = self._expr(item.context_expr, env)
                if item.optional_vars is not None:
                    self._bind(item.optional_vars, taint, env)
            return self._block(stmt.body, env)
        elif isinstance(stmt, ast.Try | ast.TryStar):
            tried = self._block(stmt.body, dict(env))
            start = _merge(env, tried)
            outs = [self._block(stmt.orelse, dict(tried))]
            for handler in stmt.handlers:
                handler_env = dict(start)
                if handler.name:
                    handler_env[handler.name] = _CLEAN
                outs.append(self._block(handler.body, handler_env))
            return self._block(stmt.finalbody, _merge(start, *outs))
        elif isinstance(stmt, ast.Match):
            self._expr(stmt.subject, env)
            outs = []
            for case in stmt.cases:
                case_env = dict(env)
                if case.guard is not None:
                    self._expr(case.guard, case_env)
                outs.append(self._block(case.body, case_env))
            return _merge(env, *outs)
        elif isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
            saved = self.returns
            inner = dict(env)
            for arg in [*stmt.args.posonlyargs, *stmt.args.args, *stmt.args.kwonlyargs]:
                inner[arg.arg] = _CLEAN
            self._block(stmt.body, inner)
            self.returns = saved
            env[stmt.name] = _CLEAN
        elif isinstance(stmt, ast.ClassDef):
            env[stmt.name] = _CLEAN
        else:
            for child in ast.iter_child_nodes(stmt):
                if isinstance(child, ast.expr):
                    self._expr(child, env)
        return env

    def _is_self(self, node: ast.expr) -> bool:
        return self.self_name is not None and isinstance(node, ast.Name) and node.id == self.self_name

    def _bind(self, target: ast.expr, taint: _Taint, env: _Env, value: ast.expr | None = None) -> None:
        if isinstance(target, ast.Name):
            env[target.id] = taint
        elif isinstance(target, ast.Tuple | ast.List):
            pairwise = (
                isinstance(value, ast.Tuple | ast.List)
                and len(value.elts) == len(target.elts)
                and not any(isinstance(e, ast.Starred) for e in [*value.elts, *target.elts])
            )
            if pairwise:
                assert isinstance(value, ast.Tuple | ast.List)
                for part, part_value in zip(target.elts, value.elts, strict=True):
                    self._bind(part, self._expr(part_value, env), env)
            else:
                for part in target.elts:
                    if isinstance(part, ast.Starred):
                        self._bind(part.value, taint.container(), env)
                    else:
                        self._bind(part, taint.element(), env)
        elif isinstance(target, ast.Starred):
            self._bind(target.value, taint.container(), env)
        elif isinstance(target, ast.Attribute):
            if self._is_self(target.value):
                if target.attr == _STATE:
                    self.writes.add(_STATE)
            else:
                self.writes |= self._expr(target.value, env).is_
        elif isinstance(target, ast.Subscript):
            self._expr(target.slice, env)
            self.writes |= self._expr(target.value, env).is_

    # expressions
    def _expr(self, node: ast.expr, env: _Env) -> _Taint:
        if isinstance(node, ast.Name):
            return env.get(node.id, _CLEAN)
        if isinstance(node, ast.Attribute):
            if self._is_self(node.value):
                return _Taint(is_=frozenset({_STATE})) if node.attr == _STATE else _CLEAN
            return self._expr(node.value, env)
        if isinstance(node, ast.Subscript):
            base = self._expr(node.value, env)
            self._expr(node.slice, env)
            return base.container() if isinstance(node.slice, ast.Slice) else base.element()
        if isinstance(node, ast.Call):
            return self._call(node, env)
        if isinstance(node, ast.ListComp | ast.SetComp | ast.GeneratorExp):
            inner = self._comprehension(node.generators, env)
            return self._expr(node.elt, inner).container()
        if isinstance(node, ast.DictComp):
            inner = self._comprehension(node.generators, env)
            self._expr(node.key, inner)
            return self._expr(node.value, inner).container()
        if isinstance(node, ast.List | ast.Tuple | ast.Set):
            return _union(self._expr(e, env) for e in node.elts).container()
        if isinstance(node, ast.Dict):
            for key in node.keys:
                if key is not None:
                    self._expr(key, env)
            return _union(self._expr(v, env) for v in node.values).container()
        if isinstance(node, ast.IfExp):
            self._expr(node.test, env)
            return self._expr(node.body, env) | self._expr(node.orelse, env)
        if isinstance(node, ast.BoolOp):
            return _union(self._expr(v, env) for v in node.values)
        if isinstance(node, ast.NamedExpr):
            taint = self._expr(node.value, env)
            self._bind(node.target, taint, env)
            return taint
        if isinstance(node, ast.Lambda):
            inner = dict(env)
            for arg in [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs]:
                inner[arg.arg] = _CLEAN
            self._expr(node.body, inner)
            return _CLEAN
        if isinstance(node, ast.Starred):
            return self._expr(node.value, env)
        if isinstance(node, ast.BinOp):
            both = self._expr(node.left, env) | self._expr(node.right, env)
            return both.container() if isinstance(node.op, ast.Add) else _CLEAN
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.expr):
                self._expr(child, env)
        return _CLEAN

    def _comprehension(self, generators: Iterable[ast.comprehension], env: _Env) -> _Env:
        inner = dict(env)
        for generator in generators:
            each = self._expr(generator.iter, inner).element()
            self._bind(generator.target, each, inner)
            for condition in generator.ifs:
                self._expr(condition, inner)
        return inner

    def _call(self, node: ast.Call, env: _Env) -> _Taint:
        args = [self._expr(a, env) for a in node.args]
        keywords = {k.arg: self._expr(k.value, env) for k in node.keywords}
        everything = _union([*args, *keywords.values()])
        func = node.func
        if isinstance(func, ast.Attribute):
            receiver = func.value
            if self._is_self(receiver):
                return self._apply(f"m:{func.attr}", node, args, keywords)
            if isinstance(receiver, ast.Attribute) and self._is_self(receiver.value) and receiver.attr in _SERVICES:
                return _CLEAN
            if isinstance(receiver, ast.Name) and receiver.id == "copy" and receiver.id not in env:
                return _CLEAN if func.attr == "deepcopy" else everything.container()
            target = self._expr(receiver, env)
            if func.attr in MUTATING_METHODS:
                self.writes |= target.is_
                if func.attr in ("pop", "popitem", "setdefault"):
                    return target.element() | (args[1] if len(args) > 1 else _CLEAN)
                return _CLEAN
            if func.attr == "get":
                return target.element() | (args[1] if len(args) > 1 else _CLEAN)
            if func.attr in ("values", "items", "keys", "copy"):
                return target.container()
            return _CLEAN
        if isinstance(func, ast.Name):
            name = func.id
            if name in env:
                return _CLEAN
            if f"f:{name}" in self.defs:
                return self._apply(f"f:{name}", node, args, keywords)
            if name in _CONTAINERS or name == "copy":
                return everything.container()
            if name in _ELEMENT_OF:
                return everything.element()
            return _CLEAN
        self._expr(func, env)
        return _CLEAN

    def _apply(self, key: str, node: ast.Call, args: list[_Taint], keywords: Mapping[str | None, _Taint]) -> _Taint:
        function = self.defs.get(key)
        if function is None:
            return _CLEAN
        summary = self.summaries.get(key, _Summary())
        names = _params(function, key.startswith("m:"))
        bound: dict[str, _Taint] = {}
        for index, (arg_node, taint) in enumerate(zip(node.args, args, strict=True)):
            if isinstance(arg_node, ast.Starred):
                for name in names[index:]:
                    bound[name] = bound.get(name, _CLEAN) | taint.element()
                break
            if index < len(names):
                bound[names[index]] = taint
        for keyword, taint in keywords.items():
            if keyword is None:
                for other in names:
                    bound[other] = bound.get(other, _CLEAN) | taint.element()
            else:
                bound[keyword] = taint

        def resolve(root: str) -> _Taint:
            """What a root of the callee's summary is at this call: the argument, or objects inside it."""
            if not root.startswith("param:"):
                return _Taint(is_=frozenset({root}))
            name = root.removeprefix("param:")
            argument = bound.get(name.rstrip("*"), _CLEAN)
            return argument.element() if name.endswith("*") else argument

        for root in summary.writes:
            self.writes |= resolve(root).is_
        returned = _union(resolve(root) for root in summary.returns.is_)
        return returned | _union(resolve(root).container() for root in summary.returns.holds)


def state_writers(tree: ast.Module, cls: ast.ClassDef) -> set[str]:
    """Names of the class's methods that may write to self.state (directly or through helpers)."""
    defs: dict[str, ast.FunctionDef] = {}
    self_names: dict[str, str | None] = {}
    for stmt in tree.body:
        if isinstance(stmt, ast.FunctionDef):
            defs[f"f:{stmt.name}"] = stmt
            self_names[f"f:{stmt.name}"] = None
    for item in cls.body:
        if isinstance(item, ast.FunctionDef):
            params = positional(item.args)
            defs[f"m:{item.name}"] = item
            self_names[f"m:{item.name}"] = None if has_decorator(item, "staticmethod") or not params else params[0].arg
    summaries: dict[str, _Summary] = {key: _Summary() for key in defs}
    for _ in range(4 * len(defs) + 4):
        changed = False
        for key, function in defs.items():
            new = summaries[key] | _Flow(function, self_names[key], summaries, defs).run()
            if new != summaries[key]:
                summaries[key], changed = new, True
        if not changed:
            break
    return {key[2:] for key, summary in summaries.items() if key.startswith("m:") and _STATE in summary.writes}
