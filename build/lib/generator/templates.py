"""Prompt templates: versioned text files whose sha256 goes into every artefact's provenance."""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path
from string import Template

PROMPT_DIR = Path(__file__).parent / "prompts"


@cache
def _text(template: str) -> str:
    return (PROMPT_DIR / f"{template}.md").read_text(encoding="utf-8")


def prompt_hash(name: str) -> str:
    return hashlib.sha256(_text(name).encode()).hexdigest()


def render(template: str, /, **values: object) -> str:
    """Fill ``$placeholders``; a missing value is an error, never a silent blank."""
    return Template(_text(template)).substitute({k: str(v) for k, v in values.items()})


def names() -> list[str]:
    return sorted(p.stem for p in PROMPT_DIR.glob("*.md"))
