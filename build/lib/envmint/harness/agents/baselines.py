"""Baseline agents every report shows: reference (the oracle), null (does nothing), random."""

from __future__ import annotations

import random
import re
import string
from typing import Any

from envmint.contract import Scenario
from envmint.harness.episode import EpisodeContext


class ReferenceAgent:
    """Replays the scenario's reference solution through MCP: the ceiling a sound scenario reaches."""

    name = "reference"

    def __init__(self, scenario: Scenario) -> None:
        self.calls = scenario.reference_solution

    async def run(self, ctx: EpisodeContext) -> None:
        for call in self.calls:
            ctx.begin_turn()
            await ctx.call_tool(call.tool, dict(call.arguments))
        await ctx.say("Done.")


class NullAgent:
    """Ends at once without touching anything: a scenario it passes is unsound."""

    name = "null"

    async def run(self, ctx: EpisodeContext) -> None:
        await ctx.say("I can't help with that.")


class RandomAgent:
    """Makes seeded, schema-valid random calls: a floor that a trivially-passable scenario exposes."""

    name = "random"

    def __init__(self, seed: int, calls: int = 8) -> None:
        self.rng = random.Random(seed)
        self.calls = calls
        self.seen: list[str] = []

    async def run(self, ctx: EpisodeContext) -> None:
        if not ctx.tools:
            await ctx.say("No tools.")
            return
        for _ in range(min(self.calls, ctx.max_turns - 1)):
            ctx.begin_turn()
            tool = self.rng.choice(ctx.tools)
            outcome = await ctx.call_tool(tool.name, self.value(tool.input_schema, depth=0))
            self._harvest(outcome.structured)
        await ctx.say("Finished.")

    def _harvest(self, value: Any) -> None:
        """Remember strings the environment returned, so later calls can name real ids."""
        if isinstance(value, str) and len(value) <= 64:
            self.seen.append(value)
        elif isinstance(value, dict):
            for item in value.values():
                self._harvest(item)
        elif isinstance(value, list):
            for item in value[:20]:
                self._harvest(item)
        del self.seen[:-200]

    def value(self, schema: dict[str, Any], depth: int) -> Any:
        rng = self.rng
        if "enum" in schema:
            return rng.choice(schema["enum"])
        if "const" in schema:
            return schema["const"]
        kind = schema.get("type", "string")
        if isinstance(kind, list):
            kind = rng.choice([k for k in kind if k != "null"] or ["null"])
        if kind == "object":
            properties: dict[str, Any] = schema.get("properties", {})
            required = set(schema.get("required", []))
            return {
                name: self.value(sub, depth + 1)
                for name, sub in properties.items()
                if name in required or (depth < 2 and rng.random() < 0.3)
            }
        if kind == "array":
            low = int(schema.get("minItems", 0))
            count = rng.randint(low, max(low, min(int(schema.get("maxItems", 3)), 3)))
            return [self.value(schema.get("items", {}), depth + 1) for _ in range(count)]
        if kind == "integer":
            low = int(schema.get("minimum", 0))
            return rng.randint(low, int(schema.get("maximum", low + 100)))
        if kind == "number":
            floor = float(schema.get("minimum", 0))
            return round(rng.uniform(floor, float(schema.get("maximum", floor + 100))), 2)
        if kind == "boolean":
            return rng.random() < 0.5
        if kind == "null":
            return None
        pattern = schema.get("pattern")
        pool = [s for s in self.seen if re.search(pattern, s)] if pattern else self.seen
        if pool and (pattern or rng.random() < 0.6):
            return rng.choice(pool)
        length = max(int(schema.get("minLength", 1)), rng.randint(3, 10))
        return "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(length))
