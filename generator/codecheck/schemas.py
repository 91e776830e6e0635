"""Tool schemas derived from environment code, without a model.

For each public method of the environment class, :func:`derive_tools` builds a ``ToolSpec``-shaped
dict, ``{name, description, kind, input_schema}``:

- ``description`` is the docstring's summary: the text before its Args/Returns/Raises/...
  sections, whitespace-normalised.
- each parameter's ``description`` comes from the docstring: Google style (``Args:``,
  ``Arguments:``, ``Parameters:``; ``name (type): text`` or ``name: text`` with indented
  continuation lines), NumPy style (``Parameters`` over a dashed line; ``name : type`` and an
  indented description) or Sphinx style (``:param name: text``).
- the JSON Schema of each parameter comes from its type hint, read from the AST (nothing is
  imported or run): ``str``/``int``/``float``/``bool``, ``list[T]``, ``dict[str, T]``,
  ``tuple[...]`` (``prefixItems``), ``Literal[...]`` (``enum``), ``Optional[T]``/``T | None``
  (adds ``null``), ``Any`` (``{}``). Enums also come from a guard in the body
  (``if field not in ("title", "author"): raise ToolError(...)``) and from a parameter
  description that says ``one of: a, b, c``.
- a parameter with a default gets ``"default"`` and is not required; ``additionalProperties`` is
  false.
- ``kind`` is ``"mutation"`` when the method may write to ``self.state``: an assignment,
  augmented assignment or ``del`` through a subscript or attribute chain rooted at
  ``self.state``, or a mutating method call (``append``, ``update``, ``pop``, ...) on one; also
  through local aliases (``m = self.state["members"][mid]; m["fines"] = 0``), values returned by
  helpers (``member = self._member(mid)``) and helpers that write. Shallow copies (``dict(x)``,
  ``{**x}``, ``x.copy()``) are fresh objects: writing to their top level is not a write to the
  state. The analysis errs towards ``mutation``.

Problems a model can fix (a parameter without a description, an unsupported type hint, a default
that its own schema rejects) come back as :class:`GateFinding` values in
:attr:`DerivedTools.findings`, so the pipeline can ask for a corrected docstring or signature.

This replaces the seed's derivation (``envscaler.md`` §2.2, §5.4): the whole docstring as the
description, no parameter descriptions, no enums, ``object`` for anything unusual, and
parameters with defaults still required.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from jsonschema import Draft202012Validator

from generator.codecheck.gate import MAX_DESCRIPTION, TOO_DEEP, GateFinding

__all__ = ["DerivedTools", "ParsedDocstring", "annotation_schema", "derive_tools", "parse_docstring"]

JSONSchema = dict[str, Any]


@dataclass(frozen=True)
class DerivedTools:
    """Tools derived from code, and what the model should fix in the code so they are complete."""

    tools: list[dict[str, Any]]
    findings: list[GateFinding]

    def tool(self, name: str) -> dict[str, Any]:
        for tool in self.tools:
            if tool["name"] == name:
                return tool
        raise KeyError(name)


# -- docstrings --------------------------------------------------------------------------------
@dataclass(frozen=True)
class ParsedDocstring:
    """A docstring's summary (the text before its first section) and its parameter descriptions."""

    summary: str
    params: dict[str, str] = field(default_factory=dict)


_PARAM_SECTIONS = frozenset(
    {"args", "arguments", "parameters", "params", "keyword args", "keyword arguments", "other parameters"}
)
_SECTIONS = _PARAM_SECTIONS | frozenset(
    {
        "returns",
        "return",
        "yields",
        "yield",
        "raises",
        "raise",
        "exceptions",
        "errors",
        "examples",
        "example",
        "notes",
        "note",
        "warnings",
        "warning",
        "warns",
        "see also",
        "attributes",
        "references",
        "todo",
    }
)
_GOOGLE_HEADER = re.compile(r"^\s*([A-Za-z][A-Za-z ]*?)\s*:\s*$")
_UNDERLINE = re.compile(r"^\s*-{3,}\s*$")
_SPHINX_FIELD = re.compile(
    r"^\s*:(param|parameter|arg|argument|key|keyword|type|returns?|rtype|raises?|except|yields?)\b([^:]*):\s*(.*)$"
)
_GOOGLE_ENTRY = re.compile(r"^\*{0,2}([A-Za-z_]\w*)\s*(?:\(([^)]*)\))?\s*:\s*(.*)$")
_NUMPY_ENTRY = re.compile(r"^\*{0,2}([A-Za-z_]\w*(?:\s*,\s*\*{0,2}[A-Za-z_]\w*)*)\s*(?::\s*(.*))?$")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _normalise(parts: Iterable[str]) -> str:
    text = " ".join(" ".join(parts).split())
    return re.sub(r"``([^`]+)``", r"`\1`", text)


def _section_at(lines: Sequence[str], i: int) -> tuple[str, str] | None:
    """(style, name) when a section starts at line ``i``: google, numpy or sphinx."""
    line = lines[i]
    if i + 1 < len(lines) and _UNDERLINE.match(lines[i + 1]) and line.strip().lower() in _SECTIONS:
        return "numpy", line.strip().lower()
    header = _GOOGLE_HEADER.match(line)
    if header and header.group(1).strip().lower() in _SECTIONS:
        return "google", header.group(1).strip().lower()
    sphinx = _SPHINX_FIELD.match(line)
    if sphinx:
        return "sphinx", sphinx.group(1)
    return None


def parse_docstring(text: str) -> ParsedDocstring:
    """Split a docstring (Google, NumPy or Sphinx style) into its summary and parameter descriptions."""
    lines = [line.rstrip() for line in _cleandoc(text).splitlines()]
    starts = [(i, found) for i in range(len(lines)) if (found := _section_at(lines, i)) is not None]
    summary_end = starts[0][0] if starts else len(lines)
    params: dict[str, list[str]] = {}
    for i, (style, name) in starts:
        if style == "google" and name in _PARAM_SECTIONS:
            _google_params(lines, i, params)
        elif style == "numpy" and name in _PARAM_SECTIONS:
            _numpy_params(lines, i, params)
        elif style == "sphinx" and name in ("param", "parameter", "arg", "argument", "key", "keyword"):
            _sphinx_param(lines, i, params)
    described = {key: _normalise(value) for key, value in params.items()}
    return ParsedDocstring(_normalise(lines[:summary_end]), {k: v for k, v in described.items() if v})


def _cleandoc(text: str) -> str:
    lines = text.expandtabs().splitlines()
    indents = [_indent(line) for line in lines[1:] if line.strip()]
    margin = min(indents) if indents else 0
    body = [lines[0].strip()] if lines else []
    body += [line[margin:] for line in lines[1:]]
    while body and not body[0].strip():
        body.pop(0)
    while body and not body[-1].strip():
        body.pop()
    return "\n".join(body)


def _google_params(lines: Sequence[str], header: int, params: dict[str, list[str]]) -> None:
    base = _indent(lines[header])
    entry_indent: int | None = None
    current: list[str] | None = None
    for line in lines[header + 1 :]:
        if not line.strip():
            continue
        indent = _indent(line)
        if indent <= base:
            return
        if entry_indent is None:
            entry_indent = indent
        match = _GOOGLE_ENTRY.match(line.strip())
        if indent <= entry_indent and match:
            current = params.setdefault(match.group(1), [])
            current.append(match.group(3))
        elif current is not None:
            current.append(line.strip())


def _numpy_params(lines: Sequence[str], header: int, params: dict[str, list[str]]) -> None:
    base = _indent(lines[header])
    current: list[list[str]] = []
    i = header + 2
    while i < len(lines):
        line = lines[i]
        if line.strip() and (_section_at(lines, i) is not None or _indent(line) < base):
            return
        if line.strip():
            match = _NUMPY_ENTRY.match(line.strip())
            if _indent(line) == base and match:
                names = [n.strip().lstrip("*") for n in match.group(1).split(",")]
                current = [params.setdefault(n, []) for n in names]
            else:
                for target in current:
                    target.append(line.strip())
        i += 1


def _sphinx_param(lines: Sequence[str], start: int, params: dict[str, list[str]]) -> None:
    match = _SPHINX_FIELD.match(lines[start])
    if match is None:
        return
    words = match.group(2).split()
    if not words:
        return
    target = params.setdefault(words[-1].lstrip("*"), [])
    target.append(match.group(3))
    base = _indent(lines[start])
    for line in lines[start + 1 :]:
        if not line.strip() or _indent(line) <= base:
            return
        target.append(line.strip())


_ONE_OF = re.compile(
    r"\bone\s+of\b\s*(:)?\s*"
    r"((?:[`'\"]?[\w-]+(?:\.[\w-]+)*[`'\"]?)(?:(?:\s*,\s*(?:or\s+|and\s+)?|\s+or\s+|\s+and\s+)"
    r"[`'\"]?[\w-]+(?:\.[\w-]+)*[`'\"]?)+)",
    re.IGNORECASE,
)
_ONE_OF_SEPARATOR = re.compile(r"\s*,\s*(?:or\s+|and\s+)?|\s+or\s+|\s+and\s+")


def _enum_from_text(text: str) -> list[str] | None:
    """``one of: a, b, c`` or ``one of `a`, `b` or `c``` -> the choices (a colon or quotes required)."""
    match = _ONE_OF.search(text)
    if match is None:
        return None
    raw = _ONE_OF_SEPARATOR.split(match.group(2))
    quoted = all(item[:1] in "`'\"" and item[-1:] == item[:1] for item in raw)
    if not (match.group(1) or quoted):
        return None
    return list(dict.fromkeys(item.strip("`'\"") for item in raw))


# -- type hints --------------------------------------------------------------------------------
_SIMPLE: dict[str, str] = {"str": "string", "int": "integer", "float": "number", "bool": "boolean"}
_NULL_NAMES = frozenset({"None", "NoneType"})
_ANY = frozenset({"Any", "JSON", "object"})
_LISTS = frozenset({"list", "List", "Sequence", "MutableSequence", "Iterable", "Collection"})
_SETS = frozenset({"set", "Set", "frozenset", "FrozenSet", "AbstractSet", "MutableSet"})
_TUPLES = frozenset({"tuple", "Tuple"})
_DICTS = frozenset({"dict", "Dict", "Mapping", "MutableMapping"})
_NOT_JSON = {
    "date": "date",
    "datetime": "date-time",
    "time": "time",
    "timedelta": "duration",
    "Decimal": "",
}
_SIMPLE_KEYS = frozenset({"type", "enum"})
_KEY_ORDER = (
    "type",
    "enum",
    "format",
    "items",
    "prefixItems",
    "minItems",
    "maxItems",
    "uniqueItems",
    "additionalProperties",
    "anyOf",
)


def _type_name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _types_of(schema: JSONSchema) -> list[str]:
    kind = schema.get("type")
    if isinstance(kind, str):
        return [kind]
    if isinstance(kind, list):
        return [str(k) for k in kind]
    return []


def _one_or_many(types: Sequence[str]) -> str | list[str]:
    return types[0] if len(types) == 1 else list(types)


class _Types:
    """Type hint (AST) -> JSON Schema, collecting problems for the model to fix."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def schema(self, node: ast.expr) -> JSONSchema:
        if isinstance(node, ast.Constant):
            if node.value is None:
                return {"type": "null"}
            if isinstance(node.value, str):
                try:
                    parsed = ast.parse(node.value, mode="eval").body
                except SyntaxError:
                    self.problems.append(f"the type hint {node.value!r} does not parse")
                    return {}
                return self.schema(parsed)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
            return self._union([node.left, node.right])
        if isinstance(node, ast.Subscript):
            return self._generic(node)
        name = _type_name(node)
        if name is None:
            self.problems.append(f"the type hint `{ast.unparse(node)}` is not supported")
            return {}
        return self._plain(name)

    def _plain(self, name: str) -> JSONSchema:
        if name in _SIMPLE:
            return {"type": _SIMPLE[name]}
        if name in _NULL_NAMES:
            return {"type": "null"}
        if name in _ANY:
            return {}
        if name in _LISTS or name in _TUPLES:
            return {"type": "array"}
        if name in _DICTS:
            return {"type": "object"}
        if name in _SETS:
            return self._set({})
        if name in _NOT_JSON:
            self.problems.append(
                f"`{name}` values do not arrive as JSON; annotate `str` and parse it in the method "
                "(e.g. date.fromisoformat(text))"
            )
            fmt = _NOT_JSON[name]
            return {"type": "string", "format": fmt} if fmt else {"type": "string"}
        self.problems.append(
            f"the type hint `{name}` is not supported; use str, int, float, bool, list[...], dict[str, ...], "
            "Literal[...], Any, or ... | None"
        )
        return {}

    def _set(self, items: JSONSchema) -> JSONSchema:
        self.problems.append("sets arrive as JSON arrays; annotate `list[...]` and convert in the method")
        schema: JSONSchema = {"type": "array", "uniqueItems": True}
        if items:
            schema["items"] = items
        return schema

    def _generic(self, node: ast.Subscript) -> JSONSchema:
        name = _type_name(node.value) or ""
        args = list(node.slice.elts) if isinstance(node.slice, ast.Tuple) else [node.slice]
        if name == "Optional":
            return self._union([args[0], ast.Constant(None)])
        if name == "Union":
            return self._union(args)
        if name == "Literal":
            return self._literal(args)
        if name == "Annotated":
            return self.schema(args[0])
        if name in _LISTS:
            items = self.schema(args[0])
            return {"type": "array", "items": items} if items else {"type": "array"}
        if name in _SETS:
            return self._set(self.schema(args[0]))
        if name in _TUPLES:
            return self._tuple(node, args)
        if name in _DICTS:
            if len(args) == 2:
                key = self.schema(args[0])
                if key.get("type") != "string":
                    self.problems.append("JSON object keys are strings; annotate dict[str, ...]")
                values = self.schema(args[1])
                return {"type": "object", "additionalProperties": values} if values else {"type": "object"}
            return {"type": "object"}
        self.problems.append(f"the type hint `{ast.unparse(node)}` is not supported")
        return {}

    def _tuple(self, node: ast.Subscript, args: list[ast.expr]) -> JSONSchema:
        if isinstance(node.slice, ast.Tuple) and not node.slice.elts:
            return {"type": "array", "maxItems": 0}
        if len(args) == 2 and isinstance(args[1], ast.Constant) and args[1].value is Ellipsis:
            items = self.schema(args[0])
            return {"type": "array", "items": items} if items else {"type": "array"}
        return {
            "type": "array",
            "prefixItems": [self.schema(arg) for arg in args],
            "items": False,
            "minItems": len(args),
            "maxItems": len(args),
        }

    def _literal(self, args: list[ast.expr]) -> JSONSchema:
        values: list[Any] = []
        for arg in args:
            try:
                value = ast.literal_eval(arg)
            except (ValueError, TypeError, SyntaxError):
                self.problems.append(f"`Literal[...]` holds `{ast.unparse(arg)}`, which is not a literal value")
                continue
            if not isinstance(value, str | int | float | bool | None):
                self.problems.append(f"`Literal[...]` holds {value!r}; use strings, numbers, booleans or None")
                continue
            values.append(value)
        values = list(dict.fromkeys(values))
        if not values:
            return {}
        types = list(dict.fromkeys(_json_type(v) for v in values))
        return {"type": _one_or_many(types), "enum": values}

    def _union(self, nodes: Sequence[ast.expr]) -> JSONSchema:
        flat: list[ast.expr] = []
        for node in nodes:
            if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
                flat += [node.left, node.right]
            else:
                flat.append(node)
        schemas = [self.schema(node) for node in flat]
        nullable = any(s == {"type": "null"} for s in schemas)
        rest = [s for s in schemas if s != {"type": "null"}]
        merged: JSONSchema
        if any(not s for s in rest):
            return {}
        if not rest:
            return {"type": "null"}
        if len(rest) == 1:
            merged = dict(rest[0])
        elif all(set(s) <= _SIMPLE_KEYS and isinstance(s.get("type"), str) for s in rest):
            types = list(dict.fromkeys(t for s in rest for t in _types_of(s)))
            merged = {"type": _one_or_many(types)}
            if all("enum" in s for s in rest):
                merged["enum"] = list(dict.fromkeys(v for s in rest for v in s["enum"]))
        else:
            merged = {"anyOf": rest}
        return _nullable(merged) if nullable else merged


def _nullable(schema: JSONSchema) -> JSONSchema:
    if not schema or "null" in _types_of(schema):
        return schema
    if "anyOf" in schema:
        return {**schema, "anyOf": [*schema["anyOf"], {"type": "null"}]}
    if "type" not in schema:
        return {"anyOf": [schema, {"type": "null"}]}
    result = {**schema, "type": [*_types_of(schema), "null"]}
    if "enum" in result:
        result["enum"] = [*result["enum"], None]
    return result


def annotation_schema(annotation: str | ast.expr) -> tuple[JSONSchema, list[str]]:
    """The JSON Schema of one type hint (source text or AST), and the problems found in it."""
    types = _Types()
    if isinstance(annotation, str):
        try:
            node: ast.expr = ast.parse(annotation, mode="eval").body
        except SyntaxError:
            return {}, [f"the type hint {annotation!r} does not parse"]
    else:
        node = annotation
    return types.schema(node), types.problems


def _ordered(schema: JSONSchema) -> JSONSchema:
    keys = [k for k in _KEY_ORDER if k in schema]
    keys += [k for k in schema if k not in keys and k not in ("default", "description")]
    keys += [k for k in ("default", "description") if k in schema]
    return {k: schema[k] for k in keys}


def _plain_value(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_plain_value(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted((_plain_value(v) for v in value), key=repr)
    if isinstance(value, dict):
        return {k: _plain_value(v) for k, v in value.items()}
    return value


_MISSING = object()


def _literal(node: ast.expr, constants: Mapping[str, Any]) -> Any:
    """The value of a literal, a constant's name (``LIMIT``, ``self.LIMIT``) or frozenset/tuple of a literal."""
    if isinstance(node, ast.Name):
        return constants.get(node.id, _MISSING)
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        return constants.get(node.attr, _MISSING)
    if isinstance(node, ast.Set):  # in source order, not hash order
        items = [_literal(item, constants) for item in node.elts]
        return _MISSING if any(item is _MISSING for item in items) else items
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in ("frozenset", "tuple", "set", "list")
        and len(node.args) == 1
        and not node.keywords
    ):
        inner = _literal(node.args[0], constants)
        return _MISSING if inner is _MISSING else list(inner)
    try:
        return _plain_value(ast.literal_eval(node))
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return _MISSING


def _constants(body: Iterable[ast.stmt], into: dict[str, Any]) -> None:
    for stmt in body:
        targets: list[ast.expr]
        if isinstance(stmt, ast.Assign):
            targets, value = stmt.targets, stmt.value
        elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
            targets, value = [stmt.target], stmt.value
        else:
            continue
        literal = _literal(value, into)
        for target in targets:
            if isinstance(target, ast.Name) and literal is not _MISSING:
                into[target.id] = literal


def _guard_enums(method: ast.FunctionDef, params: set[str], constants: Mapping[str, Any]) -> dict[str, list[Any]]:
    """Choices from guards such as ``if field not in ("title", "author"): raise ToolError(...)``."""
    found: dict[str, list[Any]] = {}
    for node in ast.walk(method):
        if not (isinstance(node, ast.If) and isinstance(node.test, ast.Compare)):
            continue
        test = node.test
        if not (
            len(test.ops) == 1
            and isinstance(test.ops[0], ast.NotIn)
            and isinstance(test.left, ast.Name)
            and test.left.id in params
            and any(isinstance(stmt, ast.Raise) for stmt in node.body)
        ):
            continue
        choices = _literal(test.comparators[0], constants)
        if (
            isinstance(choices, list)
            and choices
            and all(isinstance(c, str | int | float | bool) for c in choices)
            and test.left.id not in found
        ):
            found[test.left.id] = list(dict.fromkeys(choices))
    return found


def _apply_enum(schema: JSONSchema, choices: Sequence[Any]) -> bool:
    """Add ``enum`` when every choice fits the schema's type; True if it was added."""
    types = set(_types_of(schema))
    if "enum" in schema or not types:
        return False
    fits = all(_json_type(c) in types or (_json_type(c) == "integer" and "number" in types) for c in choices)
    if not fits:
        return False
    schema["enum"] = [*choices, None] if "null" in types else list(choices)
    return True


# -- kind: does a method write to self.state? --------------------------------------------------
_STATE = "state"
_MUTATING = frozenset(
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


def _params(function: ast.FunctionDef | ast.Lambda, is_method: bool) -> list[str]:
    positional = [a.arg for a in [*function.args.posonlyargs, *function.args.args]]
    if is_method:
        positional = positional[1:]
    return positional


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
            if func.attr in _MUTATING:
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


def _state_writers(tree: ast.Module, cls: ast.ClassDef) -> set[str]:
    """Names of the class's methods that may write to self.state (directly or through helpers)."""
    defs: dict[str, ast.FunctionDef] = {}
    self_names: dict[str, str | None] = {}
    for stmt in tree.body:
        if isinstance(stmt, ast.FunctionDef):
            defs[f"f:{stmt.name}"] = stmt
            self_names[f"f:{stmt.name}"] = None
    for item in cls.body:
        if isinstance(item, ast.FunctionDef):
            positional = [*item.args.posonlyargs, *item.args.args]
            static = any(isinstance(d, ast.Name) and d.id == "staticmethod" for d in item.decorator_list)
            defs[f"m:{item.name}"] = item
            self_names[f"m:{item.name}"] = None if static or not positional else positional[0].arg
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


# -- tools -------------------------------------------------------------------------------------
def _finding(node: ast.AST | None, rule: str, message: str) -> GateFinding:
    line = getattr(node, "lineno", 1) if node is not None else 1
    return GateFinding(line if isinstance(line, int) else 1, rule, message)


def _annotated_description(annotation: ast.expr | None) -> str:
    if (
        isinstance(annotation, ast.Subscript)
        and _type_name(annotation.value) == "Annotated"
        and isinstance(annotation.slice, ast.Tuple)
    ):
        for meta in annotation.slice.elts[1:]:
            if isinstance(meta, ast.Constant) and isinstance(meta.value, str) and meta.value.strip():
                return " ".join(meta.value.split())
    return ""


class _ToolBuilder:
    def __init__(self, constants: Mapping[str, Any], writers: set[str]) -> None:
        self.constants = constants
        self.writers = writers
        self.findings: list[GateFinding] = []

    def build(self, method: ast.FunctionDef) -> dict[str, Any]:
        name = method.name
        doc = ast.get_docstring(method) or ""
        parsed = parse_docstring(doc)
        if not doc.strip():
            self.findings.append(
                _finding(
                    method,
                    "tool-docstring",
                    f"tool `{name}` has no docstring; add one that says what the tool does and when it refuses, "
                    "with an `Args:` section describing each parameter",
                )
            )
        elif not parsed.summary:
            self.findings.append(
                _finding(
                    method,
                    "tool-docstring",
                    f"the docstring of tool `{name}` has no summary before its sections; start it with what the "
                    "tool does",
                )
            )
        if len(parsed.summary) > MAX_DESCRIPTION:
            self.findings.append(
                _finding(
                    method,
                    "description-length",
                    f"the summary of tool `{name}` has {len(parsed.summary)} characters; keep it under "
                    f"{MAX_DESCRIPTION} (move detail into the Args section)",
                )
            )
        static = any(isinstance(d, ast.Name) and d.id == "staticmethod" for d in method.decorator_list)
        args = method.args
        positional = [*args.posonlyargs, *args.args]
        params = [*(positional if static else positional[1:]), *args.kwonlyargs]
        defaults = {
            arg.arg: default
            for arg, default in [
                *zip(positional[len(positional) - len(args.defaults) :], args.defaults, strict=True),
                *((a, d) for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True) if d is not None),
            ]
        }
        for star in (args.vararg, args.kwarg):
            if star is not None:
                self.findings.append(
                    _finding(
                        star,
                        "tool-signature",
                        f"`{star.arg}` in tool `{name}` cannot be described in an input schema; list each parameter",
                    )
                )
        names = {arg.arg for arg in params}
        guards = _guard_enums(method, names, self.constants)
        properties: dict[str, JSONSchema] = {}
        required: list[str] = []
        for arg in params:
            properties[arg.arg] = self._property(name, arg, parsed, guards, defaults.get(arg.arg))
            if arg.arg not in defaults:
                required.append(arg.arg)
        for documented in parsed.params:
            if documented not in names and documented not in ("self", "args", "kwargs"):
                self.findings.append(
                    _finding(
                        method,
                        "param-description",
                        f"the docstring of `{name}` describes `{documented}`, which is not a parameter; remove it "
                        "or fix the name",
                    )
                )
        return {
            "name": name,
            "description": parsed.summary,
            "kind": "mutation" if name in self.writers else "query",
            "input_schema": {
                "type": "object",
                "additionalProperties": False,
                "properties": properties,
                "required": required,
            },
        }

    def _property(
        self,
        tool: str,
        arg: ast.arg,
        parsed: ParsedDocstring,
        guards: Mapping[str, list[Any]],
        default: ast.expr | None,
    ) -> JSONSchema:
        where = f"parameter `{arg.arg}` of tool `{tool}`"
        if arg.annotation is None:
            schema: JSONSchema = {}
            self.findings.append(
                _finding(arg, "tool-signature", f"{where} has no type hint; annotate it so its schema can be derived")
            )
        else:
            schema, problems = annotation_schema(arg.annotation)
            self.findings.extend(_finding(arg, "annotation", f"{where}: {problem}") for problem in problems)
        description = parsed.params.get(arg.arg) or _annotated_description(arg.annotation)
        if arg.arg in guards:
            _apply_enum(schema, guards[arg.arg])
        elif description:
            choices = _enum_from_text(description)
            if choices and set(_types_of(schema)) <= {"string", "null"}:
                _apply_enum(schema, choices)
        if default is not None:
            value = _literal(default, self.constants)
            if value is _MISSING:
                self.findings.append(
                    _finding(
                        default,
                        "default",
                        f"the default of {where} is not a literal; use a number, string, True/False or None",
                    )
                )
            else:
                if not Draft202012Validator(schema).is_valid(value):
                    self.findings.append(
                        _finding(
                            default,
                            "default",
                            f"the default {value!r} of {where} does not match its type hint"
                            + ("; annotate it `... | None`" if value is None else ""),
                        )
                    )
                schema["default"] = value
        if description:
            schema["description"] = description
        else:
            self.findings.append(
                _finding(
                    arg,
                    "param-description",
                    f"{where} has no description; add it to the docstring's `Args:` section as "
                    f"`{arg.arg}: what it is, its format and an example`",
                )
            )
        return _ordered(schema)


def derive_tools(source: str, class_name: str) -> DerivedTools:
    """ToolSpec-shaped dicts for the public methods of ``class_name`` in ``source``, and findings.

    Nothing is imported or executed. Tools come in source order. A tool whose docstring lacks a
    parameter's description still appears (without that ``description``); the finding says what
    to add.
    """
    try:
        return _derive_tools(source, class_name)
    except RecursionError:
        return DerivedTools([], [TOO_DEEP])


def _derive_tools(source: str, class_name: str) -> DerivedTools:
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        return DerivedTools([], [GateFinding(exc.lineno or 1, "syntax", f"the code does not parse: {exc.msg}")])
    except (ValueError, MemoryError) as exc:
        return DerivedTools([], [GateFinding(1, "syntax", f"the code does not parse: {type(exc).__name__}")])
    classes = [s for s in tree.body if isinstance(s, ast.ClassDef) and s.name == class_name]
    if not classes:
        return DerivedTools([], [GateFinding(1, "class", f"no class named `{class_name}` at module level")])
    cls = classes[-1]
    constants: dict[str, Any] = {}
    _constants(tree.body, constants)
    _constants(cls.body, constants)
    builder = _ToolBuilder(constants, _state_writers(tree, cls))
    methods: dict[str, ast.FunctionDef] = {}
    for item in cls.body:
        if isinstance(item, ast.FunctionDef) and not item.name.startswith("_"):
            if any(isinstance(d, ast.Name) and d.id == "property" for d in item.decorator_list):
                continue
            methods[item.name] = item
    tools = [builder.build(method) for method in methods.values()]
    return DerivedTools(tools, sorted(set(builder.findings)))
