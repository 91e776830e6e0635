"""Tool schemas derived from environment code, without a model.

For each public method of the environment class, :func:`derive_tools` builds a ``ToolSpec``-shaped
dict, ``{name, description, kind, input_schema}``:

- ``description`` is the docstring's summary, and each parameter's ``description`` comes from the
  docstring's Args section (:mod:`generator.codecheck.docstrings`) or an ``Annotated[T, "text"]``
  hint.
- the JSON Schema of each parameter comes from its type hint
  (:mod:`generator.codecheck.type_schemas`). Enums also come from a guard in the body
  (``if field not in ("title", "author"): raise ToolError(...)``) and from a parameter
  description that says ``one of: a, b, c``.
- a parameter with a default gets ``"default"`` and is not required; ``additionalProperties`` is
  false.
- ``kind`` is ``"mutation"`` when the method may write to ``self.state``
  (:mod:`generator.codecheck.state_writes`), and ``"query"`` otherwise.

Problems a model can fix (a parameter without a description, an unsupported type hint, a default
that its own schema rejects) come back as :class:`GateFinding` values in
:attr:`DerivedTools.findings`, so the pipeline can ask for a corrected docstring or signature.

This replaces the seed's derivation (``envscaler.md`` §2.2, §5.4): the whole docstring as the
description, no parameter descriptions, no enums, ``object`` for anything unusual, and
parameters with defaults still required.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from jsonschema import Draft202012Validator

from generator.codecheck.description_lint import MAX_DESCRIPTION
from generator.codecheck.docstrings import ParsedDocstring, enum_from_text, parse_docstring
from generator.codecheck.findings import TOO_DEEP, GateFinding, finding_at, sorted_findings
from generator.codecheck.literals import MISSING, collect_constants, literal_value
from generator.codecheck.state_writes import state_writers
from generator.codecheck.syntax import has_decorator, param_defaults, positional
from generator.codecheck.type_schemas import JSONSchema, annotation_schema, apply_enum, ordered, type_name, types_of

__all__ = ["DerivedTools", "derive_tools"]


@dataclass(frozen=True)
class DerivedTools:
    """Tools derived from code, and what the model should fix in the code so they are complete."""

    tools: list[dict[str, Any]]
    findings: list[GateFinding]

    def tool(self, name: str) -> dict[str, Any]:
        """The tool called ``name`` (KeyError when there is none)."""
        for tool in self.tools:
            if tool["name"] == name:
                return tool
        raise KeyError(name)


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
        choices = literal_value(test.comparators[0], constants)
        if (
            isinstance(choices, list)
            and choices
            and all(isinstance(c, str | int | float | bool) for c in choices)
            and test.left.id not in found
        ):
            found[test.left.id] = list(dict.fromkeys(choices))
    return found


def _annotated_description(annotation: ast.expr | None) -> str:
    if (
        isinstance(annotation, ast.Subscript)
        and type_name(annotation.value) == "Annotated"
        and isinstance(annotation.slice, ast.Tuple)
    ):
        for meta in annotation.slice.elts[1:]:
            if isinstance(meta, ast.Constant) and isinstance(meta.value, str) and meta.value.strip():
                return " ".join(meta.value.split())
    return ""


class _ToolBuilder:
    """Builds the tools of one class, given its constants and the methods that write to the state."""

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
                finding_at(
                    method,
                    "tool-docstring",
                    f"tool `{name}` has no docstring; add one that says what the tool does and when it refuses, "
                    "with an `Args:` section describing each parameter",
                )
            )
        elif not parsed.summary:
            self.findings.append(
                finding_at(
                    method,
                    "tool-docstring",
                    f"the docstring of tool `{name}` has no summary before its sections; start it with what the "
                    "tool does",
                )
            )
        if len(parsed.summary) > MAX_DESCRIPTION:
            self.findings.append(
                finding_at(
                    method,
                    "description-length",
                    f"the summary of tool `{name}` has {len(parsed.summary)} characters; keep it under "
                    f"{MAX_DESCRIPTION} (move detail into the Args section)",
                )
            )
        args = method.args
        by_position = positional(args)
        params = [*(by_position if has_decorator(method, "staticmethod") else by_position[1:]), *args.kwonlyargs]
        defaults = {arg.arg: default for arg, default in param_defaults(args)}
        for star in (args.vararg, args.kwarg):
            if star is not None:
                self.findings.append(
                    finding_at(
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
                    finding_at(
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
                finding_at(arg, "tool-signature", f"{where} has no type hint; annotate it so its schema can be derived")
            )
        else:
            schema, problems = annotation_schema(arg.annotation)
            self.findings.extend(finding_at(arg, "annotation", f"{where}: {problem}") for problem in problems)
        description = parsed.params.get(arg.arg) or _annotated_description(arg.annotation)
        if arg.arg in guards:
            apply_enum(schema, guards[arg.arg])
        elif description:
            choices = enum_from_text(description)
            if choices and set(types_of(schema)) <= {"string", "null"}:
                apply_enum(schema, choices)
        if default is not None:
            value = literal_value(default, self.constants)
            if value is MISSING:
                self.findings.append(
                    finding_at(
                        default,
                        "default",
                        f"the default of {where} is not a literal; use a number, string, True/False or None",
                    )
                )
            else:
                if not Draft202012Validator(schema).is_valid(value):
                    self.findings.append(
                        finding_at(
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
                finding_at(
                    arg,
                    "param-description",
                    f"{where} has no description; add it to the docstring's `Args:` section as "
                    f"`{arg.arg}: what it is, its format and an example`",
                )
            )
        return ordered(schema)


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
    collect_constants(tree.body, constants)
    collect_constants(cls.body, constants)
    builder = _ToolBuilder(constants, state_writers(tree, cls))
    methods: dict[str, ast.FunctionDef] = {}
    for item in cls.body:
        if isinstance(item, ast.FunctionDef) and not item.name.startswith("_"):
            if has_decorator(item, "property"):
                continue
            methods[item.name] = item
    tools = [builder.build(method) for method in methods.values()]
    return DerivedTools(tools, sorted_findings(builder.findings))
