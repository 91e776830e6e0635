"""Type hints -> JSON Schema, read from the AST (nothing is imported or run).

Supported: ``str``/``int``/``float``/``bool``, ``list[T]``, ``dict[str, T]``, ``tuple[...]``
(``prefixItems``), ``Literal[...]`` (``enum``), ``Optional[T]``/``T | None`` (adds ``null``),
``Annotated[T, ...]`` and ``Any`` (``{}``). Anything else, and values that do not arrive as JSON
(sets, dates, ``Decimal``), comes back as a problem the model can fix.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from typing import Any

__all__ = ["JSONSchema", "annotation_schema", "apply_enum", "ordered", "type_name", "types_of"]

JSONSchema = dict[str, Any]

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


def type_name(node: ast.expr) -> str | None:
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


def types_of(schema: JSONSchema) -> list[str]:
    kind = schema.get("type")
    if isinstance(kind, str):
        return [kind]
    if isinstance(kind, list):
        return [str(k) for k in kind]
    return []


def _one_or_many(types: Sequence[str]) -> str | list[str]:
    return types[0] if len(types) == 1 else list(types)


def _array(items: JSONSchema) -> JSONSchema:
    return {"type": "array", "items": items} if items else {"type": "array"}


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
        name = type_name(node)
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
        name = type_name(node.value) or ""
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
            return _array(self.schema(args[0]))
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
            return _array(self.schema(args[0]))
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
            types = list(dict.fromkeys(t for s in rest for t in types_of(s)))
            merged = {"type": _one_or_many(types)}
            if all("enum" in s for s in rest):
                merged["enum"] = list(dict.fromkeys(v for s in rest for v in s["enum"]))
        else:
            merged = {"anyOf": rest}
        return _nullable(merged) if nullable else merged


def _nullable(schema: JSONSchema) -> JSONSchema:
    if not schema or "null" in types_of(schema):
        return schema
    if "anyOf" in schema:
        return {**schema, "anyOf": [*schema["anyOf"], {"type": "null"}]}
    if "type" not in schema:
        return {"anyOf": [schema, {"type": "null"}]}
    result = {**schema, "type": [*types_of(schema), "null"]}
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


def ordered(schema: JSONSchema) -> JSONSchema:
    """The schema with its keys in a fixed, readable order (``default`` and ``description`` last)."""
    keys = [k for k in _KEY_ORDER if k in schema]
    keys += [k for k in schema if k not in keys and k not in ("default", "description")]
    keys += [k for k in ("default", "description") if k in schema]
    return {k: schema[k] for k in keys}


def apply_enum(schema: JSONSchema, choices: Sequence[Any]) -> None:
    """Add ``enum`` when the schema has a type, no enum yet, and every choice fits the type."""
    types = set(types_of(schema))
    if "enum" in schema or not types:
        return
    fits = all(_json_type(c) in types or (_json_type(c) == "integer" and "number" in types) for c in choices)
    if fits:
        schema["enum"] = [*choices, None] if "null" in types else list(choices)
