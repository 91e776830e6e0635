"""What every static check reports: findings, a line each, for the model that repairs the code."""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["TOO_DEEP", "GateFinding", "finding_at", "format_findings", "sorted_findings"]


@dataclass(frozen=True, order=True)
class GateFinding:
    """One rejection: the line, the rule broken, and what to write instead (for the repairing model)."""

    line: int
    rule: str
    message: str

    def __str__(self) -> str:
        return f"line {self.line} [{self.rule}]: {self.message}"


def format_findings(findings: Iterable[GateFinding]) -> str:
    """Findings one per line, in line order: the feedback text for a repair prompt."""
    return "\n".join(str(finding) for finding in sorted_findings(findings))


def sorted_findings(findings: Iterable[GateFinding]) -> list[GateFinding]:
    """Findings without repeats, in line order: what every check returns."""
    return sorted(set(findings))


def finding_at(node: ast.AST, rule: str, message: str) -> GateFinding:
    """A finding on the line where ``node`` starts (line 1 for nodes without one, such as a module)."""
    line = getattr(node, "lineno", None)
    return GateFinding(line if isinstance(line, int) else 1, rule, message)


TOO_DEEP = GateFinding(1, "syntax", "the code nests expressions too deeply to check; split them into simpler steps")
"""What every check returns for code whose syntax tree is deeper than the interpreter can walk."""
