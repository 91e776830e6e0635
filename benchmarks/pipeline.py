"""Pipeline benchmark: 8 environments synthesized concurrently against the ideal critical path.

    .venv/bin/python benchmarks/pipeline.py [--latency SECONDS] [--quick]

A simulated model answers every prompt after a fixed latency (the scripted fixture model of the
test suite, renamed per topic so the 8 environments are distinct). Measured side by side in one run:

1. the time one environment takes alone (its chain of model calls plus its local work: sandboxed
   exploratory tests, emitting), i.e. the ideal critical path when environments run in parallel;
2. the time 8 environments take at model concurrency 8; the ratio to (1) (goal <= 1.25);
3. a replay of the recording made by (2): model calls made (goal: 0) and its wall time.
Nothing here asserts; it measures and prints.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from pathlib import Path

import anyio
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from generator import pipeline
from generator.llm.client import LLM
from generator.llm.recording import Recording
from generator.llm.replay import ReplayBackend
from generator.llm.types import Request, Response
from generator.stages.common import Context, Settings
from generator.stages.topics import Topic
from tests.pipeline.scripted_model import ScriptedModel

console = Console(highlight=False)
NAMES = ["Harbor", "Maple", "Cedar", "Summit", "Lakeside", "Granite", "Willow", "Aurora"]


class SlowModel(ScriptedModel):
    """The scripted model, renamed per topic, answering after a fixed latency."""

    def __init__(self, latency: float) -> None:
        super().__init__()
        self.latency = latency

    async def complete(self, request: Request) -> Response:
        await anyio.sleep(self.latency)
        response = await super().complete(request)
        text = response.text
        prompt = request.messages[0].content
        if request.stage == "design":
            name = prompt.split("Name: ", 1)[1].split("\n", 1)[0]
            slug = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")
            text = text.replace('"id": "library_desk"', f'"id": "{slug}"').replace(
                '"name": "Library Loans Desk"', f'"name": "{name}"'
            )
        elif request.stage in ("code", "repair_code") and "Class name: " in prompt:
            wanted = prompt.split("Class name: ", 1)[1].split(".", 1)[0]
            text = text.replace("class LibraryLoansDesk(", f"class {wanted}(")
        return Response(text=text, model=response.model, input_tokens=response.input_tokens,
                        output_tokens=response.output_tokens)  # fmt: skip


def _settings() -> Settings:
    return Settings(min_tools=10, min_queries=4, min_mutations=4)


def _topics(count: int) -> list[Topic]:
    return [Topic(name=f"{NAMES[i]} Library Loans Desk", domain="public services") for i in range(count)]


async def _synthesize(llm: LLM, topics: list[Topic], servers: Path) -> tuple[float, int]:
    ctx = Context(llm=llm, settings=_settings(), model="fixture-model")
    start = time.perf_counter()
    specs = await pipeline.environments(ctx, topics, servers)
    return time.perf_counter() - start, len(specs)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--latency", type=float, default=5.0, help="seconds per simulated model call (default 5)")
    parser.add_argument("--quick", action="store_true", help="latency 1 s")
    args = parser.parse_args(argv)
    latency = 1.0 if args.quick else args.latency
    rows: list[tuple[str, str, str, str]] = []
    with tempfile.TemporaryDirectory(prefix="envmint-bench-pipeline-") as temp:
        root = Path(temp)
        one_model = SlowModel(latency)
        one, made_one = anyio.run(_synthesize, LLM(one_model), _topics(1), root / "one")
        calls_per_env = sum(one_model.asked.values())
        waiting = calls_per_env * latency
        console.print(f"1 environment alone: {one:.2f} s: {calls_per_env} sequential model calls of {latency:g} s")
        console.print(f"  ({waiting:.1f} s of waiting, {one - waiting:.2f} s of local work)")
        eight_model = SlowModel(latency)
        recording = Recording(root / "recording")
        llm = LLM(eight_model, recording=recording, concurrency=8)
        eight, made_eight = anyio.run(_synthesize, llm, _topics(8), root / "eight")
        console.print(
            f"8 environments at concurrency 8: {eight:.2f} s ({made_eight} emitted, {llm.model_calls} model calls)"
        )
        replay = LLM(ReplayBackend(Recording(root / "recording")), concurrency=8)
        replayed, made_replayed = anyio.run(_synthesize, replay, _topics(8), root / "replayed")
        console.print(f"replay of that recording: {replayed:.2f} s, {replay.model_calls} model calls")
    ratio = eight / one
    rows += [
        ("8 envs at concurrency 8 / 1 env alone", f"{ratio:.3f}", "<= 1.25", "yes" if ratio <= 1.25 else "no"),
        ("  1 env alone (ideal critical path)", f"{one:.2f} s", "-", "context"),
        ("  8 envs at concurrency 8", f"{eight:.2f} s", "-", "context"),
        ("  8 envs one after another (estimated)", f"{8 * one:.2f} s", "-", "context"),
        ("model calls made by the replay", str(replay.model_calls), "0", "yes" if replay.model_calls == 0 else "no"),
        ("  replay wall time (no model waits)", f"{replayed:.2f} s", "-", "context"),
        ("  environments emitted (1 / 8 / replay)", f"{made_one} / {made_eight} / {made_replayed}", "-", "context"),
    ]
    table = Table(title=f"envmint pipeline benchmark (simulated model latency {latency:g} s)")
    for column in ("measure", "value", "goal", "meets goal"):
        table.add_column(column)
    for row in rows:
        table.add_row(*row)
    console.print(table)


if __name__ == "__main__":
    main()
