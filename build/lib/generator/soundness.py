"""Soundness gates for a scenario: the proof it ships with.

- the reference solution replays through the real (sandboxed) MCP server without an error;
- every check passes on the reference's final state, and gives the same verdict when re-run;
- the do-nothing agent earns nothing: every check is False on the initial state;
- mutation test: reverting a change that a check names must make that check fail (kill rate).
"""

from __future__ import annotations

import ast
import copy
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from envmint.contract import Check, ToolCall
from envmint.grading import CheckVerdict, Verdict, grade_checks
from envmint.harness.servers import WarmServer
from generator.codecheck import lint_validator
from generator.probe import CallRecord, run_calls

Path = tuple[str, ...]
ABSENT: Any = object()


@dataclass
class Soundness:
    problems: list[str] = field(default_factory=list)
    final_state: dict[str, Any] = field(default_factory=dict)
    records: list[CallRecord] = field(default_factory=list)
    perturbations: int = 0
    killed: int = 0

    @property
    def kill_rate(self) -> float:
        return self.killed / self.perturbations if self.perturbations else float("nan")


def leaf_changes(before: Any, after: Any, path: Path = ()) -> list[tuple[Path, Any, Any]]:
    """Changed values by dict path (lists and scalars are leaves); absent sides are ``ABSENT``."""
    if isinstance(before, dict) and isinstance(after, dict):
        out = []
        for key in sorted(set(before) | set(after)):
            out += leaf_changes(before.get(key, ABSENT), after.get(key, ABSENT), (*path, key))
        return out
    if type(before) is type(after) and before == after:
        return []
    return [(path, before, after)]


def _literals(source: str) -> set[str]:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    return {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)}


def _get(state: Any, path: Path) -> Any:
    for key in path:
        if not isinstance(state, dict) or key not in state:
            return ABSENT
        state = state[key]
    return state


def _collection(state: dict[str, Any], name: str) -> dict[str, Any]:
    value = state.get(name)
    return value if isinstance(value, dict) else {}


def relevant(source: str, path: Path, initial: dict[str, Any], final: dict[str, Any]) -> bool:
    """Does the check name this change precisely: the changed field and the record it belongs to?

    A field of a record (``$.claims.CLM-1.status``) is named when the check mentions both the field
    and the record's id. A whole record that the reference solution added (its id generated, so a
    check finds it by content) is named when the check mentions its collection and it is the only
    record added to that collection.
    """
    names = _literals(source)
    if len(path) < 2 or (path[0] not in final and path[0] not in initial):
        return False
    if len(path) == 2:
        before, after = _collection(initial, path[0]), _collection(final, path[0])
        added = [key for key in after if key not in before]
        return path[0] in names and (path[1] in names or added == [path[1]])
    return path[-1] in names and path[1] in names


def revert(final: dict[str, Any], path: Path, before: Any) -> dict[str, Any]:
    state = copy.deepcopy(final)
    parent = _get(state, path[:-1])
    if not isinstance(parent, dict):
        return state
    if before is ABSENT:
        parent.pop(path[-1], None)
    else:
        parent[path[-1]] = copy.deepcopy(before)
    return state


def _verdict_text(verdict: CheckVerdict) -> str:
    return verdict.verdict.value + (f" ({verdict.detail})" if verdict.detail else "")


async def check_soundness(
    server: WarmServer,
    initial: dict[str, Any],
    now: str,
    reference: Sequence[ToolCall],
    checks: Sequence[Check] | None,
    *,
    seed: int = 0,
) -> Soundness:
    """Run every gate; ``checks=None`` stops after the replay (used before validators exist)."""
    result = Soundness()
    records, final = await run_calls(server, initial, now, reference, seed=seed)
    result.records, result.final_state = records, final
    for index, record in enumerate(records, 1):
        if not record.ok:
            result.problems.append(f"reference call {index} {record.tool}({record.arguments}) failed: {record.text}")
    if len(records) < len(reference):
        result.problems.append("the server crashed during the reference solution")
    if not leaf_changes(initial, final) and not result.problems:
        result.problems.append("the reference solution does not change the state; the task must change it")
    if result.problems or checks is None:
        return result
    for check in checks:
        for finding in lint_validator(check.source):
            result.problems.append(f"check {check.id}, line {finding.line}: {finding.message}")
    if result.problems:
        return result
    on_final = await grade_checks(checks, initial, final)
    again = await grade_checks(checks, initial, final)
    on_initial = await grade_checks(checks, initial, initial)
    for first, second in zip(on_final, again, strict=True):
        if first.verdict is not Verdict.PASS:
            result.problems.append(
                f"check {first.check_id} does not pass on the reference's final state: {_verdict_text(first)}"
            )
        if first.verdict != second.verdict:
            result.problems.append(
                f"check {first.check_id} gave {first.verdict} then {second.verdict}: not deterministic"
            )
    for verdict in on_initial:
        if verdict.verdict is Verdict.ERROR:
            result.problems.append(f"check {verdict.check_id} errors on the initial state: {verdict.detail}")
        elif verdict.verdict is Verdict.PASS:
            result.problems.append(
                f"check {verdict.check_id} already passes on the initial state, so doing nothing would earn its credit"
            )
    if result.problems:
        return result
    await _mutation_test(result, checks, initial, final)
    return result


async def _mutation_test(
    result: Soundness, checks: Sequence[Check], initial: dict[str, Any], final: dict[str, Any]
) -> None:
    for path, before, _ in leaf_changes(initial, final):
        targets = [c for c in checks if relevant(c.source, path, initial, final)]
        if not targets:
            continue
        verdicts = await grade_checks(targets, initial, revert(final, path, before))
        where = "$." + ".".join(path)
        for check, verdict in zip(targets, verdicts, strict=True):
            result.perturbations += 1
            if verdict.verdict is Verdict.PASS:
                shown = "absent" if before is ABSENT else repr(before)[:80]
                result.problems.append(
                    f"check {check.id} still passes when {where} is put back to its initial value ({shown}); "
                    "it must verify that change"
                )
            else:
                result.killed += 1
