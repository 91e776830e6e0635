"""Validation of tool arguments against a tool's input schema, with messages that name the field."""

from __future__ import annotations

import json
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

MAX_PROBLEMS = 4


def _shorten(value: Any, limit: int = 60) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _field(path: Any) -> str:
    parts = list(path)
    if not parts:
        return ""
    out = str(parts[0])
    for part in parts[1:]:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


def describe(error: ValidationError) -> str:
    """One clear sentence for one schema violation."""
    field = _field(error.absolute_path)
    kind = error.validator
    if kind == "required":
        missing = str(error.message).split("'")[1] if "'" in error.message else error.message
        name = f"{field}.{missing}" if field else missing
        return f"`{name}` is required but missing"
    if kind == "additionalProperties":
        schema = error.schema if isinstance(error.schema, dict) else {}
        allowed = sorted(schema.get("properties", {}))
        extra = sorted(set(error.instance) - set(allowed)) if isinstance(error.instance, dict) else []
        where = f" in `{field}`" if field else ""
        names = ", ".join(f"`{e}`" for e in extra) or "?"
        hint = f" (allowed: {', '.join(allowed)})" if allowed else " (this tool takes no arguments)"
        return f"unexpected field {names}{where}{hint}"
    target = f"`{field}`" if field else "arguments"
    if kind == "type":
        expected = error.validator_value
        expected_text = " or ".join(expected) if isinstance(expected, list) else str(expected)
        return f"{target} must be of type {expected_text}, got {_shorten(error.instance)}"
    if kind == "enum":
        options = ", ".join(_shorten(v, 30) for v in error.validator_value)
        return f"{target} must be one of {options}; got {_shorten(error.instance)}"
    return f"{target}: {_shorten(error.instance)} is invalid ({kind} {_shorten(error.validator_value, 40)})"


class ArgumentChecker:
    """Validates the arguments of one tool."""

    def __init__(self, schema: dict[str, Any]) -> None:
        self._validator = Draft202012Validator(schema)

    def problems(self, arguments: Any) -> list[str]:
        errors = sorted(self._validator.iter_errors(arguments), key=lambda e: (list(map(str, e.path)), e.validator))
        return [describe(e) for e in errors[:MAX_PROBLEMS]]
