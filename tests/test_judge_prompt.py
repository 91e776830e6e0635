"""What the judge is shown of each exploratory call: every state change of an ordinary call, and a count of
the rest when a bulk call changes more than it can list."""

from __future__ import annotations

from envmint.contract import ToolCall
from generator.probe import CallRecord
from generator.stages.quality import MAX_CHANGES_SHOWN, _results


def _record(changes: int) -> CallRecord:
    return CallRecord(
        tool="reschedule",
        arguments={"id": "A1"},
        ok=True,
        text="{}",
        changes=[{"path": f"slots.S{i}.status", "before": "open", "after": "booked"} for i in range(changes)],
    )


def test_the_judge_sees_every_change_of_a_call_that_changes_a_dozen_records() -> None:
    text = _results([_record(12)], [(ToolCall(tool="reschedule", arguments={}), "valid", "moves it")])
    assert all(f"slots.S{i}.status" in text for i in range(12))
    assert "more changes" not in text


def test_a_bulk_call_lists_what_fits_and_says_how_many_more() -> None:
    total = MAX_CHANGES_SHOWN + 5
    text = _results([_record(total)], [(ToolCall(tool="reschedule", arguments={}), "valid", "moves them")])
    assert f"slots.S{MAX_CHANGES_SHOWN - 1}.status" in text and f"slots.S{MAX_CHANGES_SHOWN}.status" not in text
    assert "and 5 more changes" in text
