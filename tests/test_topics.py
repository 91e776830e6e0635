"""Topic mining over the real API-Bank corpus: stateful filter, score threshold, near-duplicate merge."""

from __future__ import annotations

from pathlib import Path

import anyio

from generator.llm.client import LLM
from generator.stages.common import Context
from generator.stages.topics import Topic, deduplicate, mine, near_duplicates, read_tasks, select_diverse
from tests.conftest import REPO
from tests.pipeline.scripted_model import STATEFUL_WORDS, ScriptedModel

CORPUS = REPO.parent / "shared" / "data" / "seed_tasks" / "api-bank-lv3.jsonl"


def test_the_corpus_is_read_as_distinct_task_texts() -> None:
    tasks = read_tasks(CORPUS)
    assert len(tasks) == 324 == len(set(tasks))
    assert tasks[0] == "Find a cardiologist in Los Angeles for a check-up appointment."


def test_mining_the_real_corpus_keeps_stateful_well_scored_systems_and_merges_duplicates() -> None:
    tasks = read_tasks(CORPUS)
    model = ScriptedModel()
    ctx = Context(llm=LLM(model))
    topics = anyio.run(mine, ctx, tasks)
    notes = ctx.report.notes["topics"]
    assert notes["tasks"] == notes["judged"] == 324
    assert model.asked["topics"] == 13  # 324 tasks in batches of 25
    stateful = ctx.report.gates["topics.stateful"]
    assert stateful.passed + stateful.failed == 324 and 0 < stateful.passed < 324
    assert ctx.report.gates["topics.scores"].failed > 0, "weak systems are filtered out"
    assert notes["stateful_and_strong"] > len(topics), "duplicates are merged"
    names = [t.name for t in topics]
    assert len(names) == len(set(names)) and set(names) <= {n for n, _ in STATEFUL_WORDS.values()}
    assert all(t.usefulness >= 7 and t.modelability >= 7 for t in topics)
    assert all(t.examples and all(e in tasks for e in t.examples) for t in topics)


def test_near_duplicate_system_names_are_merged_keeping_the_best_scored() -> None:
    a = Topic("Clinic appointment scheduling system", "health", examples=["x"], usefulness=8, modelability=9)
    b = Topic("Clinic appointment booking platform", "health", examples=["y"], usefulness=9, modelability=9)
    c = Topic("Hotel reservation system", "travel", usefulness=8, modelability=8)
    assert near_duplicates(a, b) and not near_duplicates(a, c)
    merged = deduplicate([a, b, c])
    assert [t.name for t in merged] == [b.name, c.name]
    assert merged[0].examples == ["y", "x"]


def test_selection_spreads_over_domains_before_repeating_one() -> None:
    topics = [
        Topic("A", "health", usefulness=9, modelability=9),
        Topic("B", "health", usefulness=9, modelability=8),
        Topic("C", "travel", usefulness=7, modelability=7),
        Topic("D", "finance", usefulness=8, modelability=7),
    ]
    assert [t.name for t in select_diverse(topics, 3)] == ["A", "D", "C"]


def test_topics_can_be_read_from_a_plain_text_file(tmp_path: Path) -> None:
    path = tmp_path / "tasks.txt"
    path.write_text("Book a table\n\nBook a table\nCancel my order\n")
    assert read_tasks(path) == ["Book a table", "Cancel my order"]
