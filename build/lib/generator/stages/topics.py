"""Skeleton stage (a): environment topics mined from a task corpus, or given directly."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import anyio

from generator.llm.types import GateError, ParseError
from generator.parsing import json_object
from generator.stages.common import Context

MIN_SCORE = 7
STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "the",
        "of",
        "for",
        "to",
        "in",
        "on",
        "with",
        "system",
        "systems",
        "management",
        "platform",
        "app",
        "application",
        "service",
    ]
)


@dataclass(frozen=True)
class Topic:
    name: str
    domain: str = "general"
    description: str = ""
    examples: list[str] = field(default_factory=list)
    usefulness: int = 0
    modelability: int = 0

    @property
    def slug(self) -> str:
        return re.sub(r"[^a-z0-9]+", "_", self.name.lower()).strip("_")[:40] or "environment"

    @property
    def score(self) -> int:
        return self.usefulness + self.modelability


def read_tasks(path: Path) -> list[str]:
    """Distinct task texts from a JSONL corpus (``task`` field) or a plain text file (one per line)."""
    tasks: list[str] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        if line.startswith("{"):
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}: line {number} is not valid JSON ({exc.msg})") from None
            line = str(record.get("task", "")).strip() if isinstance(record, dict) else ""
        if line and line not in tasks:
            tasks.append(line)
    return tasks


def _parse_judgements(text: str, count: int) -> list[dict[str, Any]]:
    items = json_object(text, "judgements")
    if not isinstance(items, list):
        raise ParseError('"judgements" must be a list.')
    by_index: dict[int, dict[str, Any]] = {}
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("index"), int):
            raise ParseError("every judgement needs an integer index.")
        if item.get("stateful") and not all(k in item for k in ("system", "description", "usefulness", "modelability")):
            raise GateError(f"judgement {item['index']} is stateful but lacks system, description or scores.")
        by_index[item["index"]] = item
    missing = sorted(set(range(1, count + 1)) - set(by_index))
    if missing:
        raise GateError(f"judge every request; missing indexes: {', '.join(map(str, missing))}.")
    return [by_index[i] for i in range(1, count + 1)]


def _words(name: str) -> frozenset[str]:
    return frozenset(w for w in re.findall(r"[a-z]+", name.lower()) if w not in STOPWORDS)


def near_duplicates(a: Topic, b: Topic) -> bool:
    """Same system under another name: word-set overlap of the names (Jaccard >= 0.5)."""
    wa, wb = _words(a.name), _words(b.name)
    if not wa or not wb:
        return a.slug == b.slug
    return len(wa & wb) / len(wa | wb) >= 0.5


def deduplicate(topics: Sequence[Topic]) -> list[Topic]:
    """Merge near-duplicates, keeping the best-scored one and pooling their example tasks."""
    kept: list[Topic] = []
    for topic in sorted(topics, key=lambda t: (-t.score, t.name)):
        for index, other in enumerate(kept):
            if near_duplicates(topic, other):
                merged = [*other.examples, *[e for e in topic.examples if e not in other.examples]]
                kept[index] = Topic(
                    other.name, other.domain, other.description, merged[:8], other.usefulness, other.modelability
                )
                break
        else:
            kept.append(topic)
    return kept


def _overlap(a: Topic, b: Topic) -> float:
    wa, wb = _words(a.name), _words(b.name)
    return len(wa & wb) / len(wa | wb) if wa and wb else 0.0


def _preference(topic: Topic, chosen: Sequence[Topic]) -> tuple[bool, bool, float, int, int]:
    overlap = max((_overlap(topic, other) for other in chosen), default=0.0)
    new_domain = topic.domain not in {t.domain for t in chosen}
    return (overlap == 0, new_domain, -overlap, topic.score, len(topic.examples))


def select_diverse(topics: Sequence[Topic], count: int) -> list[Topic]:
    """``count`` topics that differ as much as possible: no name word shared with those already
    chosen, then a new domain, then the least overlap, the score and the number of tasks behind it."""
    pool = sorted(topics, key=lambda t: (-t.score, -len(t.examples), t.name))
    chosen: list[Topic] = []
    while pool and len(chosen) < count:
        best = max(pool, key=partial(_preference, chosen=chosen))
        chosen.append(best)
        pool.remove(best)
    return chosen


async def mine(ctx: Context, tasks: Sequence[str], *, batch_size: int = 25) -> list[Topic]:
    """Judge every task, keep stateful and modelable systems, merge near-duplicates."""
    batches = [list(tasks[i : i + batch_size]) for i in range(0, len(tasks), batch_size)]
    results: list[list[Topic]] = [[] for _ in batches]
    judged = 0

    async def judge(index: int, batch: list[str]) -> None:
        nonlocal judged
        listing = "\n".join(f"{i}. {task}" for i, task in enumerate(batch, 1))
        judgements = await ctx.ask(
            "topics",
            "topics",
            lambda text: _parse_judgements(text, len(batch)),
            env=f"batch-{index:03d}",
            output='a ```json block {"judgements": [...]}',
            tasks=listing,
        )
        judged += len(batch)
        for task, item in zip(batch, judgements, strict=True):
            stateful = bool(item.get("stateful"))
            ctx.report.gate("topics.stateful", stateful)
            if not stateful:
                continue
            topic = Topic(
                name=str(item["system"]).strip(),
                domain=str(item.get("domain", "general")).strip().lower(),
                description=str(item["description"]).strip(),
                examples=[task],
                usefulness=int(item["usefulness"]),
                modelability=int(item["modelability"]),
            )
            strong = topic.usefulness >= MIN_SCORE and topic.modelability >= MIN_SCORE
            ctx.report.gate("topics.scores", strong)
            if strong:
                results[index].append(topic)

    async with anyio.create_task_group() as group:
        for index, batch in enumerate(batches):
            group.start_soon(judge, index, batch)
    candidates = [topic for batch in results for topic in batch]
    topics = deduplicate(candidates)
    ctx.report.notes["topics"] = {
        "tasks": len(tasks),
        "judged": judged,
        "stateful_and_strong": len(candidates),
        "after_dedup": len(topics),
    }
    return topics
