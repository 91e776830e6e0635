"""A plain Python class as an envmint environment, read with ``ast`` only (nothing imported or run).

Public methods become tools; their input schemas come from type hints and Google/NumPy/Sphinx
parameter docs (:mod:`generator.codecheck`). Methods whose names start with ``_`` are never tools.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from typing import Any

from envmint.contract import EnvironmentCode, EnvironmentSpec, Provenance, ToolSpec
from envmint.importers.adapter_source import environment_source
from generator.codecheck.docstrings import parse_docstring
from generator.codecheck.type_schemas import annotation_schema, ordered, type_name

DEFAULT_NOW = "2025-01-01T00:00:00Z"
_TOOL_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_RESERVED = frozenset({"state", "clock", "rng", "ids"})
_MUTATORS = frozenset(
    {
        "append",
        "extend",
        "insert",
        "pop",
        "popitem",
        "remove",
        "clear",
        "update",
        "setdefault",
        "add",
        "discard",
        "sort",
    }
)


_COERCED = {
    "datetime": "datetime",
    "date": "date",
    "time": "time",
    "Decimal": "decimal",
    "set": "set",
    "Set": "set",
    "AbstractSet": "set",
    "frozenset": "frozenset",
    "FrozenSet": "frozenset",
    "tuple": "tuple",
    "Tuple": "tuple",
}


def coercion(annotation: ast.expr | None) -> str | None:
    """The conversion a JSON argument needs before the method sees it (``Optional`` unwrapped)."""
    node = annotation
    while node is not None:
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
            sides = [n for n in (node.left, node.right) if not (isinstance(n, ast.Constant) and n.value is None)]
            node = sides[0] if len(sides) == 1 else None
        elif isinstance(node, ast.Subscript) and type_name(node.value) in ("Optional", "Annotated"):
            inner = node.slice
            node = inner.elts[0] if isinstance(inner, ast.Tuple) else inner
        elif isinstance(node, ast.Subscript):
            node = node.value
        else:
            name = type_name(node)
            return _COERCED.get(name) if name else None
    return None


class ImportError_(ValueError):
    """The class cannot be imported; the message says why."""


@dataclass
class ClassImport:
    class_name: str
    tools: list[dict[str, Any]] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    coercions: dict[str, dict[str, str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def find_class(source: str, class_name: str) -> ast.ClassDef:
    try:
        tree = ast.parse(source)
    except SyntaxError as exc:
        raise ImportError_(f"the source does not parse: line {exc.lineno}: {exc.msg}") from None
    found = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == class_name]
    if not found:
        raise ImportError_(f"no class named {class_name!r} at module level")
    return found[-1]


def _writes_self(method: ast.FunctionDef) -> bool:
    """A conservative guess (aliases count): any item or attribute write, ``del``, mutating call,
    or call to another method of ``self`` makes the tool a mutation."""
    for node in ast.walk(method):
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign | ast.Delete):
            targets = node.targets
        elif isinstance(node, ast.AugAssign | ast.AnnAssign):
            targets = [node.target]
        if any(isinstance(t, ast.Attribute | ast.Subscript) for t in targets):
            return True
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr in _MUTATORS:
                return True
            value = node.func.value
            if isinstance(value, ast.Name) and value.id == "self":
                return True
    return False


def _closed_tuples(schema: Any) -> Any:
    """``items: false`` after ``prefixItems`` as ``maxItems`` (the same meaning; the README card
    renderer expects ``items`` to be a schema object)."""
    if isinstance(schema, list):
        return [_closed_tuples(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: _closed_tuples(value) for key, value in schema.items()}
    if out.get("items") is False and isinstance(out.get("prefixItems"), list):
        del out["items"]
        out.setdefault("maxItems", len(out["prefixItems"]))
    return out


def _default_value(node: ast.expr) -> tuple[bool, Any]:
    try:
        value = ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False, None
    return isinstance(value, str | int | float | bool | type(None)), value


def _tool(method: ast.FunctionDef, notes: list[str], coercions: dict[str, dict[str, str]]) -> dict[str, Any]:
    name = method.name
    doc = ast.get_docstring(method) or ""
    parsed = parse_docstring(doc)
    description = (parsed.summary or doc.strip() or f"Calls `{name}`.")[:1024]
    args = method.args
    positional = [*args.posonlyargs, *args.args]
    params = positional[1:] + args.kwonlyargs
    defaults: dict[str, ast.expr] = {}
    for arg, default in zip(positional[len(positional) - len(args.defaults) :], args.defaults, strict=True):
        defaults[arg.arg] = default
    for arg, kw_default in zip(args.kwonlyargs, args.kw_defaults, strict=True):
        if kw_default is not None:
            defaults[arg.arg] = kw_default
    properties: dict[str, Any] = {}
    required: list[str] = []
    for arg in params:
        if arg.annotation is None:
            schema: dict[str, Any] = {}
            notes.append(f"`{name}`: parameter `{arg.arg}` has no type hint; it accepts any JSON value")
        else:
            schema, problems = annotation_schema(arg.annotation)
            schema = _closed_tuples(schema)
            kind = coercion(arg.annotation)
            if kind:
                coercions.setdefault(name, {})[arg.arg] = kind
            else:
                notes.extend(f"`{name}`: parameter `{arg.arg}`: {problem}" for problem in problems)
        text = parsed.params.get(arg.arg, "").strip()
        schema["description"] = text or f"The `{arg.arg}` argument of `{name}`" + (
            "" if arg.annotation is not None else " (any JSON value)."
        )
        if arg.arg in defaults:
            ok, value = _default_value(defaults[arg.arg])
            if ok:
                schema["default"] = value
        else:
            required.append(arg.arg)
        properties[arg.arg] = ordered(schema)
    input_schema: dict[str, Any] = {"type": "object", "additionalProperties": False, "properties": properties}
    if required:
        input_schema["required"] = required
    kind = "mutation" if _writes_self(method) else "query"
    return {"name": name, "description": description, "kind": kind, "input_schema": input_schema}


def derive_class_tools(source: str, class_name: str, exclude: tuple[str, ...] = ()) -> ClassImport:
    """The tools of ``class_name`` in ``source``, and why any public method was left out."""
    cls = find_class(source, class_name)
    result = ClassImport(class_name)
    for item in cls.body:
        if not isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef) or item.name.startswith("_"):
            continue
        name = item.name
        decorators = {d.id for d in item.decorator_list if isinstance(d, ast.Name)}
        if isinstance(item, ast.AsyncFunctionDef):
            result.skipped[name] = "async methods are not supported"
        elif name in exclude:
            result.skipped[name] = "it loads the state (--init); it is not a tool"
        elif decorators & {"property", "staticmethod", "classmethod"}:
            result.skipped[name] = f"a {sorted(decorators)[0]} is not an instance method"
        elif item.args.vararg is not None or item.args.kwarg is not None:
            star = item.args.vararg or item.args.kwarg
            assert star is not None
            result.skipped[name] = f"`*{star.arg}` cannot be described in a named-argument input schema"
        elif not _TOOL_NAME.match(name):
            result.skipped[name] = "the name is not a valid tool name (lowercase letters, digits, underscores)"
        elif name in _RESERVED:
            result.skipped[name] = "the name clashes with an attribute of the runtime's Environment"
        elif not (item.args.posonlyargs or item.args.args):
            result.skipped[name] = "it takes no `self`"
        else:
            result.tools.append(_tool(item, result.notes, result.coercions))
    if not result.tools:
        raise ImportError_(f"class {class_name!r} has no public method that can be a tool")
    return result


def adapter_class_name(class_name: str) -> str:
    return "Imported" + re.sub(r"[^A-Za-z0-9]", "", class_name[:1].upper() + class_name[1:])


def build_spec(
    source: str,
    derived: ClassImport,
    *,
    env_id: str,
    default_state: dict[str, Any],
    name: str = "",
    description: str = "",
    rules: list[str] | None = None,
    origin: str = "",
) -> EnvironmentSpec:
    env_class = adapter_class_name(derived.class_name)
    names = [t["name"] for t in derived.tools]
    code = environment_source(source, derived.class_name, env_class, names, derived.coercions)
    return EnvironmentSpec(
        id=env_id,
        name=name or derived.class_name,
        description=description or f"Imported from the Python class {derived.class_name}.",
        rules=rules or [],
        state_schema={"type": "object"},
        tools=[ToolSpec.model_validate(t) for t in derived.tools],
        code=EnvironmentCode(class_name=env_class, source=code),
        default_state=default_state,
        default_now=DEFAULT_NOW,
        provenance=Provenance(created_by="import", source=origin),
    )


def env_id_for(text: str) -> str:
    """A valid environment id from a class name or a seed id (``MobileApp`` -> ``mobile_app``)."""
    snake = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", text).lower()
    slug = re.sub(r"[^a-z0-9_]+", "_", snake).strip("_")
    if not slug or not slug[0].isalpha():
        slug = "env_" + slug
    return slug[:63] if len(slug) > 1 else slug + "_env"
