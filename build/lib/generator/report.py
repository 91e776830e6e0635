"""The pipeline's report: counts, gate pass rates per stage, repairs, drops with reasons."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any


@dataclass
class GateTally:
    passed: int = 0
    failed: int = 0

    @property
    def rate(self) -> float:
        total = self.passed + self.failed
        return self.passed / total if total else float("nan")


@dataclass
class Report:
    """What happened in a pipeline run. Counts only; no timings, so replays report the same."""

    gates: dict[str, GateTally] = field(default_factory=lambda: defaultdict(GateTally))
    repairs: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    drops: list[dict[str, str]] = field(default_factory=list)
    produced: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    notes: dict[str, Any] = field(default_factory=dict)

    def gate(self, name: str, ok: bool) -> None:
        tally = self.gates[name]
        if ok:
            tally.passed += 1
        else:
            tally.failed += 1

    def repaired(self, stage: str) -> None:
        self.repairs[stage] += 1

    def drop(self, what: str, stage: str, reason: str) -> None:
        self.drops.append({"what": what, "stage": stage, "reason": reason[:500]})

    def made(self, kind: str, count: int = 1) -> None:
        self.produced[kind] += count

    def to_json(self) -> dict[str, Any]:
        return {
            "produced": dict(sorted(self.produced.items())),
            "gates": {
                name: {
                    "passed": t.passed,
                    "failed": t.failed,
                    "pass_rate": None if t.rate != t.rate else round(t.rate, 4),
                }
                for name, t in sorted(self.gates.items())
            },
            "repairs": dict(sorted(self.repairs.items())),
            "drops": sorted(self.drops, key=lambda d: (d["what"], d["stage"])),
            "notes": self.notes,
        }
