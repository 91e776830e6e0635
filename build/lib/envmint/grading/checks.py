"""Grading a scenario's checks in one sandboxed child process.

Validators are LLM-written, so they are untrusted: all checks of one scenario run in one child
(``_child.py``, standard library only) inside :mod:`envmint.sandbox`. The harness sends the two
states as JSON and reads one verdict line per check. Whatever goes wrong (a check that loops,
raises, returns a non-bool or touches its input; a child that dies, hangs or floods its output)
ends as :attr:`Verdict.ERROR` with a short reason, and an error never counts as a pass.

The child is normally forked from a warm grading zygote (:mod:`envmint.grading.zygote`): a fresh
process per request with the same limits and a stricter seccomp filter, in a read-only sandbox,
so one request's checks cannot reach another's. Without a zygote (turned off, failed to start,
limits beyond it, or the unsafe no-bwrap mode) the child is a fresh sandboxed process.

The checks of one scenario share a process: the sandbox protects the harness from them, not
them from each other (a hostile check could tamper with the ones after it).
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import anyio

from envmint import sandbox
from envmint.contract.scenario import Check
from envmint.grading import zygote
from envmint.grading._child import clean

CHILD = Path(__file__).resolve().with_name("_child.py")
"""The validator runner executed inside the sandbox (bound read-only, alone)."""

_STARTUP_SECONDS = 3.0


class Verdict(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    ERROR = "error"


@dataclass(frozen=True)
class CheckVerdict:
    check_id: str
    verdict: Verdict
    detail: str = ""
    """For errors: a short reason (at most 200 characters, one line, no file paths)."""


def default_limits(check_count: int, per_check_seconds: float) -> sandbox.Limits:
    """Limits for one child running ``check_count`` checks: wall = count * per-check + 3 s."""
    wall = check_count * per_check_seconds + _STARTUP_SECONDS
    return sandbox.Limits(
        wall_seconds=wall,
        cpu_seconds=math.ceil(wall) + 1,
        memory_mb=512,
        max_output_bytes=4096 + 1024 * check_count,
        max_processes=16,
        max_file_bytes=8 << 20,
        tmpfs_mb=16,
    )


def _failure_reason(result: sandbox.SandboxResult, limits: sandbox.Limits) -> str:
    """Why the child stopped before giving every verdict."""
    if result.timed_out:
        return f"no verdict: the validator process was killed after {limits.wall_seconds:g} s"
    if result.truncated:
        return f"no verdict: the validator process wrote more than {limits.max_output_bytes} bytes"
    last = next((line for line in reversed(result.stderr.splitlines()) if line.strip()), "")
    code = result.returncode
    if code is not None and (code < 0 or code > 128):
        how = f"was killed by signal {-code if code < 0 else code - 128}"
    else:
        how = f"exited with code {code}"
    return clean(f"no verdict: the validator process {how}" + (f" ({last})" if last else ""))


def _parse_line(line: bytes, expected_id: str) -> CheckVerdict | None:
    try:
        item = json.loads(line)
    except ValueError:
        return None
    if not isinstance(item, dict) or item.get("id") != expected_id:
        return None
    detail = item.get("detail", "")
    try:
        verdict = Verdict(str(item.get("verdict")))
    except ValueError:
        return None
    if not isinstance(detail, str):
        return None
    return CheckVerdict(expected_id, verdict, clean(detail) if verdict is Verdict.ERROR else "")


def _verdicts(checks: Sequence[Check], result: sandbox.SandboxResult, limits: sandbox.Limits) -> list[CheckVerdict]:
    lines = result.stdout.split(b"\n")
    complete, rest = lines[:-1], lines[-1]  # a last line without its newline is incomplete
    verdicts: list[CheckVerdict] = []
    reason = ""
    for check, line in zip(checks, complete, strict=False):
        verdict = _parse_line(line, check.id)
        if verdict is None:
            reason = "no verdict: the validator process wrote an unreadable verdict"
            break
        verdicts.append(verdict)
    if not reason and (len(complete) > len(checks) or (rest and len(verdicts) == len(checks))):
        # More output than verdicts: something besides the runner wrote to its channel.
        verdicts = []
        reason = "no verdict: the validator process wrote unexpected output"
    if len(verdicts) < len(checks) and not reason:
        reason = _failure_reason(result, limits)
    verdicts += [CheckVerdict(check.id, Verdict.ERROR, reason) for check in checks[len(verdicts) :]]
    return verdicts


async def grade_checks(
    checks: Sequence[Check],
    initial_state: dict[str, Any],
    final_state: dict[str, Any],
    *,
    per_check_seconds: float = 2.0,
    limits: sandbox.Limits | None = None,
) -> list[CheckVerdict]:
    """One verdict per check, in order, from one sandboxed child running them all.

    ``limits`` defaults to :func:`default_limits`; when given it is used as is (its
    ``wall_seconds`` bounds the whole child). Raises :class:`envmint.sandbox.SandboxUnavailable`
    when there is no sandbox (and no unsafe override): nothing is graded outside one.
    """
    if not checks:
        return []
    if per_check_seconds <= 0:
        raise ValueError("per_check_seconds must be > 0")
    limits = limits or default_limits(len(checks), per_check_seconds)
    request = {
        "checks": [{"id": check.id, "source": check.source} for check in checks],
        "initial": initial_state,
        "final": final_state,
        "per_check_seconds": per_check_seconds,
    }
    payload = json.dumps(request, separators=(",", ":")).encode()
    if sandbox.sandbox_mode() == "bwrap" and zygote.enabled() and zygote.fits(limits):
        try:
            result = await zygote.run(payload, limits)
        except zygote.ZygoteLost as exc:
            reason = clean(f"no verdict: {exc}")
            return [CheckVerdict(check.id, Verdict.ERROR, reason) for check in checks]
        except zygote.ZygoteUnavailable:
            pass  # nothing ran: grade in a fresh process below
        else:
            return _verdicts(checks, result, limits)
    result = await sandbox.run_sandboxed(
        [sys.executable, "-I", "-S", str(CHILD)], stdin=payload, readable=[CHILD], limits=limits
    )
    return _verdicts(checks, result, limits)


def grade_checks_sync(
    checks: Sequence[Check],
    initial_state: dict[str, Any],
    final_state: dict[str, Any],
    *,
    per_check_seconds: float = 2.0,
    limits: sandbox.Limits | None = None,
) -> list[CheckVerdict]:
    """:func:`grade_checks` for scripts (starts its own event loop)."""

    async def run() -> list[CheckVerdict]:
        return await grade_checks(
            checks, initial_state, final_state, per_check_seconds=per_check_seconds, limits=limits
        )

    return anyio.run(run)


def reward(verdicts: Sequence[CheckVerdict]) -> float:
    """The fraction of checks that passed (errors count as not passed); 0.0 for no checks."""
    if not verdicts:
        return 0.0
    return sum(v.verdict is Verdict.PASS for v in verdicts) / len(verdicts)


def all_passed(verdicts: Sequence[CheckVerdict]) -> bool:
    """True when there is at least one check and every one passed."""
    return bool(verdicts) and all(v.verdict is Verdict.PASS for v in verdicts)
