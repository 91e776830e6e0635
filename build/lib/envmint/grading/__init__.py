"""Grading: running a scenario's validators (untrusted code) in the sandbox and scoring the verdicts."""

from envmint.grading.checks import (
    CheckVerdict,
    Verdict,
    all_passed,
    default_limits,
    grade_checks,
    grade_checks_sync,
    reward,
)

__all__ = [
    "CheckVerdict",
    "Verdict",
    "all_passed",
    "default_limits",
    "grade_checks",
    "grade_checks_sync",
    "reward",
]
