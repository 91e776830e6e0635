"""What the pipeline's model exchanges cost, per stage, environment and scenario.

Every exchange is one :class:`Entry`. A live call costs its tokens at the model's list price
(:func:`envmint.llm.prices.cost`); an answer taken from a recording costs nothing now, and what
it would have cost is shown as ``saved``. Models without a known price count as $0 and are listed
under ``unpriced`` so a report can say "cost unknown" instead of showing a silent zero.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Any, Literal

from rich.table import Table

from envmint.llm.prices import FREE, Price, cost, lookup
from generator.llm.types import Request, Response

FREE_MODELS = frozenset({"inbox"})
"""Models that are not priced per token (a person answering through the inbox)."""

Grouping = Literal["stage", "env", "scenario"]
NONE_LABEL = "(none)"


@dataclass(frozen=True)
class Entry:
    stage: str
    env: str
    scenario: str
    model: str
    input_tokens: int
    output_tokens: int
    dollars: float
    cached: bool


@dataclass
class Totals:
    """Sums over entries: tokens and dollars of live calls, and the dollars cached answers saved."""

    calls: int = 0
    cached: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    dollars: float = 0.0
    saved_dollars: float = 0.0

    def add(self, entry: Entry) -> None:
        if entry.cached:
            self.cached += 1
            self.saved_dollars += entry.dollars
        else:
            self.calls += 1
            self.input_tokens += entry.input_tokens
            self.output_tokens += entry.output_tokens
            self.dollars += entry.dollars


def _int(extra: dict[str, str], name: str) -> int:
    try:
        return int(extra.get(name, "0"))
    except ValueError:
        return 0


def price_response(response: Response, price: Price | None = None) -> float:
    """Dollars for one response (``extra`` may split the input into cache writes and reads)."""
    if price is None and response.model in FREE_MODELS:
        price = FREE
    written = _int(response.extra, "cache_write_tokens")
    read = _int(response.extra, "cache_read_tokens")
    fresh = max(0, response.input_tokens - written - read)
    return cost(
        response.model,
        fresh,
        response.output_tokens,
        cache_write_tokens=written,
        cache_read_tokens=read,
        price=price,
    )


class Ledger:
    """Every exchange of a run and what it cost."""

    def __init__(self, *, price: Price | None = None) -> None:
        """``price`` overrides the price table for every live call (e.g. ``FREE`` for a self-hosted model)."""
        self.price = price
        self.entries: list[Entry] = []

    def record(self, request: Request, response: Response, *, cached: bool) -> Entry:
        entry = Entry(
            stage=request.stage,
            env=request.env,
            scenario=request.scenario,
            model=response.model,
            input_tokens=response.input_tokens,
            output_tokens=response.output_tokens,
            dollars=price_response(response, self.price),
            cached=cached,
        )
        self.entries.append(entry)
        return entry

    def total(self) -> Totals:
        return _sum(self.entries)

    def _group(self, label: Callable[[Entry], str], entries: Iterable[Entry] | None = None) -> dict[str, Totals]:
        groups: dict[str, Totals] = {}
        for entry in self.entries if entries is None else entries:
            groups.setdefault(label(entry), Totals()).add(entry)
        return dict(sorted(groups.items()))

    def by_stage(self) -> dict[str, Totals]:
        return self._group(lambda e: e.stage)

    def by_env(self) -> dict[str, Totals]:
        return self._group(lambda e: e.env or NONE_LABEL)

    def by_scenario(self) -> dict[str, Totals]:
        """Only exchanges made for a scenario."""
        return self._group(lambda e: e.scenario, self._for_scenarios())

    def _for_scenarios(self) -> list[Entry]:
        return [e for e in self.entries if e.scenario]

    def grouped(self, by: Grouping) -> dict[str, Totals]:
        return {"stage": self.by_stage, "env": self.by_env, "scenario": self.by_scenario}[by]()

    def unpriced(self) -> list[str]:
        """Models with live calls whose price is unknown (their cost counted as $0)."""
        if self.price is not None:
            return []
        models = {e.model for e in self.entries if e.model not in FREE_MODELS}
        return sorted(m for m in models if lookup(m) is None)

    def to_json(self) -> dict[str, Any]:
        def dump(groups: dict[str, Totals]) -> dict[str, Any]:
            return {name: asdict(totals) for name, totals in groups.items()}

        return {
            "total": asdict(self.total()),
            "by_stage": dump(self.by_stage()),
            "by_env": dump(self.by_env()),
            "by_scenario": dump(self.by_scenario()),
            "unpriced": self.unpriced(),
            "entries": [asdict(e) for e in self.entries],
        }

    def table(self, by: Grouping = "stage", *, title: str | None = None) -> Table:
        """A rich table of the totals grouped ``by`` stage, env or scenario, with a total row."""
        unpriced = self.unpriced()
        table = Table(
            title=title or f"Model cost by {by}",
            caption=f"* cost unknown for: {', '.join(unpriced)} (counted as $0)" if unpriced else None,
            show_footer=False,
        )
        table.add_column(by)
        for name in ("calls", "cached", "input tokens", "output tokens", "cost", "saved by cache"):
            table.add_column(name, justify="right")

        def row(name: str, t: Totals, style: str | None = None) -> None:
            mark = "*" if unpriced else ""
            table.add_row(
                name,
                str(t.calls),
                str(t.cached),
                f"{t.input_tokens:,}",
                f"{t.output_tokens:,}",
                f"${t.dollars:,.4f}{mark}",
                f"${t.saved_dollars:,.4f}",
                style=style,
            )

        for name, totals in self.grouped(by).items():
            row(name, totals)
        table.add_section()
        row("total", _sum(self._for_scenarios()) if by == "scenario" else self.total(), "bold")
        return table


def _sum(entries: Iterable[Entry]) -> Totals:
    totals = Totals()
    for entry in entries:
        totals.add(entry)
    return totals


__all__ = ["FREE_MODELS", "Entry", "Grouping", "Ledger", "Totals", "price_response"]
