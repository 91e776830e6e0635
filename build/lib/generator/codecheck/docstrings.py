"""Docstrings of tool methods: the summary, and each parameter's description.

The summary is the text before the first section (Args/Returns/Raises/...), whitespace-normalised.
Parameter descriptions come in Google style (``Args:``, ``Arguments:``, ``Parameters:``;
``name (type): text`` or ``name: text`` with indented continuation lines), NumPy style
(``Parameters`` over a dashed line; ``name : type`` and an indented description) or Sphinx style
(``:param name: text``). A description that says ``one of: a, b, c`` names the choices of an enum
(:func:`enum_from_text`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

__all__ = ["ParsedDocstring", "enum_from_text", "parse_docstring"]


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


def enum_from_text(text: str) -> list[str] | None:
    """``one of: a, b, c`` or ``one of `a`, `b` or `c``` -> the choices (a colon or quotes required)."""
    match = _ONE_OF.search(text)
    if match is None:
        return None
    raw = _ONE_OF_SEPARATOR.split(match.group(2))
    quoted = all(item[:1] in "`'\"" and item[-1:] == item[:1] for item in raw)
    if not (match.group(1) or quoted):
        return None
    return list(dict.fromkeys(item.strip("`'\"") for item in raw))
