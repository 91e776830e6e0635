"""Pulling the payload out of a model's answer; errors are written for the model to act on."""

from __future__ import annotations

import json
import re
from typing import Any

from generator.llm.types import ParseError

_FENCE = re.compile(r"```([A-Za-z0-9_+-]*)[ \t]*\n(.*?)```", re.DOTALL)


def _blocks(text: str, languages: tuple[str, ...]) -> list[str]:
    return [body for lang, body in _FENCE.findall(text) if lang.lower() in languages]


def json_block(text: str) -> Any:
    """The last ```json block (or the whole answer if it is bare JSON)."""
    blocks = _blocks(text, ("json", ""))
    candidates = [*reversed(blocks)] if blocks else [text.strip()]
    error: json.JSONDecodeError | None = None
    for candidate in candidates:
        try:
            return json.loads(candidate)
        except json.JSONDecodeError as exc:
            error = error or exc
    if error is None:
        raise ParseError("Your answer has no JSON block. Put the JSON in a ```json fenced block.")
    raise ParseError(f"The JSON block does not parse: line {error.lineno} column {error.colno}: {error.msg}.")


def json_object(text: str, key: str | None = None) -> Any:
    data = json_block(text)
    if not isinstance(data, dict):
        raise ParseError("The JSON block must hold an object.")
    if key is not None:
        if key not in data:
            raise ParseError(f'The JSON object must have a "{key}" field.')
        return data[key]
    return data


def python_block(text: str) -> str:
    """The longest ```python block."""
    blocks = _blocks(text, ("python", "py"))
    if not blocks:
        raise ParseError("Your answer has no Python code block. Put the whole module in a ```python block.")
    return max(blocks, key=len).strip() + "\n"
