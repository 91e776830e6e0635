"""Summaries of a run: success, reward, pass@k and pass^k, bootstrap confidence intervals, cost."""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from math import comb
from typing import Any

from envmint.harness.results import EpisodeRecord

BOOTSTRAP_SAMPLES = 2000
OVERALL = "(all)"


def pass_at_k(n: int, c: int, k: int) -> float:
    """Chance that at least one of k trials drawn from n (c successful) succeeds."""
    if k > n:
        return float("nan")
    return 1.0 - comb(n - c, k) / comb(n, k)


def pass_hat_k(n: int, c: int, k: int) -> float:
    """Chance that all k trials drawn from n (c successful) succeed (tau-bench's pass^k)."""
    if k > n:
        return float("nan")
    return comb(c, k) / comb(n, k)


def bootstrap_ci(values: Sequence[float], seed: int = 0, samples: int = BOOTSTRAP_SAMPLES) -> tuple[float, float]:
    """95% percentile bootstrap interval of the mean."""
    if not values:
        return (float("nan"), float("nan"))
    rng = random.Random(seed)
    n = len(values)
    means = sorted(sum(values[rng.randrange(n)] for _ in range(n)) / n for _ in range(samples))
    return (means[int(0.025 * samples)], means[int(0.975 * samples) - 1])


def _group_stats(records: Sequence[EpisodeRecord], k: int) -> dict[str, Any]:
    n = len(records)
    successes = [1.0 if r.success else 0.0 for r in records]
    rewards = [r.reward for r in records]
    by_scenario: dict[str, list[bool]] = defaultdict(list)
    for record in records:
        by_scenario[record.scenario].append(record.success)
    stats: dict[str, Any] = {
        "episodes": n,
        "scenarios": len(by_scenario),
        "success_rate": sum(successes) / n if n else float("nan"),
        "success_ci95": bootstrap_ci(successes),
        "mean_reward": sum(rewards) / n if n else float("nan"),
        "reward_ci95": bootstrap_ci(rewards),
        "statuses": dict(sorted(Counter(r.status for r in records).items())),
        "input_tokens": sum(r.input_tokens for r in records),
        "output_tokens": sum(r.output_tokens for r in records),
        "cost_usd": round(sum(r.cost_usd for r in records), 6),
        "tool_calls": sum(r.tool_calls for r in records),
    }
    if k > 1:
        eligible = [trials for trials in by_scenario.values() if len(trials) >= k]
        stats[f"pass@{k}"] = (
            sum(pass_at_k(len(t), sum(t), k) for t in eligible) / len(eligible) if eligible else float("nan")
        )
        stats[f"pass^{k}"] = (
            sum(pass_hat_k(len(t), sum(t), k) for t in eligible) / len(eligible) if eligible else float("nan")
        )
    return stats


def summarize(records: Iterable[EpisodeRecord], k: int = 1) -> dict[str, Any]:
    """``{agent: {env: stats, "(all)": stats}}`` over the graded episodes."""
    by_agent: dict[str, list[EpisodeRecord]] = defaultdict(list)
    for record in records:
        if record.graded:
            by_agent[record.agent].append(record)
    summary: dict[str, Any] = {}
    for agent, agent_records in sorted(by_agent.items()):
        by_env: dict[str, list[EpisodeRecord]] = defaultdict(list)
        for record in agent_records:
            by_env[record.env].append(record)
        summary[agent] = {env: _group_stats(rs, k) for env, rs in sorted(by_env.items())}
        summary[agent][OVERALL] = _group_stats(agent_records, k)
    return summary
