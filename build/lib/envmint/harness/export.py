"""``envmint export sft``: a run's episodes as chat fine-tuning examples, one JSON object per line.

Each line is the OpenAI chat fine-tuning format with tools, which TRL's ``SFTTrainer`` (a
``messages`` column plus a ``tools`` column) and most other SFT trainers read as is::

    {"messages": [...], "tools": [{"type": "function", "function": {...}}], "metadata": {...}}

- ``messages``: ``system``, ``user``, ``assistant`` (``content`` is null only when the message has
  ``tool_calls``: ``[{id, type: "function", function: {name, arguments}}]``, ``arguments`` being a
  JSON string) and ``tool`` (``tool_call_id`` and ``content``). Only the keys the format defines are
  kept, and the example ends at the last assistant message, the last thing a trainer learns from.
- ``metadata``: episode, scenario, env, agent, trial, reward, success. Trainers ignore the column
  (TRL drops columns the model does not take), but OpenAI's upload validation is strict about keys
  it does not define, so ``--no-metadata`` leaves it out for that use.

Only episodes with status ``ok`` are exported: a timeout or a crash is not a demonstration. Every
example is checked against the format's rules before it is written; one that breaks them is
skipped and counted, never written. The file is written atomically.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from envmint.harness.results import EpisodeRecord, RunDirectory, write_atomic

DEFAULT_FILE = "sft.jsonl"


@dataclass(frozen=True)
class ExportOptions:
    only_success: bool = False
    min_reward: float | None = None
    metadata: bool = True


@dataclass
class ExportReport:
    path: Path
    written: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    """Why episodes were left out: reason -> count."""

    def skipped_summary(self) -> str:
        total = sum(self.skipped.values())
        reasons = ", ".join(f"{count} {reason}" for reason, count in sorted(self.skipped.items()))
        return f"skipped {total} episode{'s' if total != 1 else ''}: {reasons}" if total else ""


def _text(value: Any) -> str:
    return value if isinstance(value, str) else "" if value is None else json.dumps(value)


def _tool_call(raw: dict[str, Any]) -> dict[str, Any]:
    function = raw.get("function") or {}
    arguments = function.get("arguments", {})
    return {
        "id": str(raw.get("id", "")),
        "type": "function",
        "function": {
            "name": str(function.get("name", "")),
            "arguments": arguments if isinstance(arguments, str) else json.dumps(arguments),
        },
    }


def chat_messages(raw_messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Trajectory messages with only the format's keys, ending at the last assistant message.

    An assistant message with neither text nor tool calls carries nothing and is dropped.
    """
    messages: list[dict[str, Any]] = []
    for raw in raw_messages:
        role = raw.get("role")
        if role in ("system", "user"):
            messages.append({"role": role, "content": _text(raw.get("content"))})
        elif role == "tool":
            messages.append(
                {"role": "tool", "tool_call_id": str(raw.get("tool_call_id", "")), "content": _text(raw.get("content"))}
            )
        elif role == "assistant":
            calls = [_tool_call(call) for call in raw.get("tool_calls") or []]
            content = _text(raw.get("content")) or None
            if content is None and not calls:
                continue
            message: dict[str, Any] = {"role": "assistant", "content": content}
            if calls:
                message["tool_calls"] = calls
            messages.append(message)
        else:
            messages.append({"role": str(role), "content": _text(raw.get("content"))})
    last = max((i for i, m in enumerate(messages) if m["role"] == "assistant"), default=-1)
    return messages[: last + 1]


def example_problems(example: dict[str, Any]) -> list[str]:
    """What makes an example break the chat format's rules (empty when it is sound).

    The rules: a system message only first; then a user message; no two user or two assistant
    messages in a row; every tool call of an assistant message answered by one tool message (by
    ``tool_call_id``) before anything else, except the calls of the final message; unique call ids;
    arguments that are a JSON object; content null only beside tool calls; the last message from
    the assistant.
    """
    messages = example.get("messages")
    if not isinstance(messages, list) or not messages:
        return ["no messages"]
    problems: list[str] = []
    pending: set[str] = set()
    seen_ids: set[str] = set()
    previous = ""
    for index, message in enumerate(messages):
        role, where = message.get("role"), f"message {index}"
        if pending and role != "tool":
            problems.append(f"{where}: tool calls {sorted(pending)} are not answered")
            pending = set()
        if role == "system":
            if index != 0:
                problems.append(f"{where}: a system message may only come first")
        elif role == "user":
            if previous == "user":
                problems.append(f"{where}: two user messages in a row")
        elif role == "assistant":
            if previous not in ("user", "tool"):
                problems.append(f"{where}: an assistant message must follow a user or tool message")
            calls = message.get("tool_calls") or []
            if message.get("content") is None and not calls:
                problems.append(f"{where}: content is null without tool calls")
            for call in calls:
                call_id = call.get("id")
                if not call_id or call_id in seen_ids:
                    problems.append(f"{where}: tool call id {call_id!r} is missing or repeated")
                seen_ids.add(call_id)
                pending.add(call_id)
                try:
                    arguments = json.loads(call["function"]["arguments"])
                except (KeyError, TypeError, ValueError):
                    arguments = None
                if not isinstance(arguments, dict):
                    problems.append(f"{where}: arguments of {call_id!r} are not a JSON object")
        elif role == "tool":
            call_id = message.get("tool_call_id")
            if call_id not in pending:
                problems.append(f"{where}: tool message answers no open call ({call_id!r})")
            pending.discard(call_id)
        else:
            problems.append(f"{where}: unknown role {role!r}")
        previous = str(role)
    if messages[-1].get("role") != "assistant":
        problems.append("the last message is not from the assistant")
    return problems


def example_for(record: EpisodeRecord, trajectory: dict[str, Any], *, metadata: bool = True) -> dict[str, Any]:
    """One training example from an episode's record and trajectory."""
    example: dict[str, Any] = {
        "messages": chat_messages(trajectory.get("messages", [])),
        "tools": trajectory.get("tools", []),
    }
    if metadata:
        example["metadata"] = {
            "episode": record.episode,
            "scenario": record.scenario,
            "env": record.env,
            "agent": record.agent,
            "trial": record.trial,
            "reward": float(record.reward),
            "success": record.success,
        }
    return example


def _latest(run: RunDirectory) -> list[EpisodeRecord]:
    latest: dict[str, EpisodeRecord] = {}
    for record in run.read():
        latest[record.episode] = record
    return [latest[key] for key in sorted(latest)]


def _why_left_out(record: EpisodeRecord, options: ExportOptions) -> str | None:
    if record.status != "ok":
        return f"with status {record.status}"
    if options.only_success and not record.success:
        return "not successful"
    if options.min_reward is not None and record.reward < options.min_reward:
        return f"with reward below {options.min_reward:g}"
    if not record.trajectory:
        return "without a trajectory"
    return None


def export_sft(run_dir: Path, out: Path | None = None, options: ExportOptions | None = None) -> ExportReport:
    """Write the run's exportable episodes to ``out`` (default ``<run_dir>/sft.jsonl``)."""
    options = options or ExportOptions()
    run = RunDirectory(run_dir)
    if not run.results_path.exists():
        raise FileNotFoundError(f"{run_dir} holds no {run.results_path.name}: not a run directory")
    report = ExportReport(out or run_dir / DEFAULT_FILE)
    lines: list[str] = []
    for record in _latest(run):
        reason = _why_left_out(record, options)
        if reason is None:
            try:
                example = example_for(record, run.load_trajectory(record.trajectory), metadata=options.metadata)
            except (OSError, ValueError):
                reason = "with an unreadable trajectory"
            else:
                reason = "breaking the chat format" if example_problems(example) else None
        if reason is not None:
            report.skipped[reason] += 1
            continue
        lines.append(json.dumps(example) + "\n")
    write_atomic(report.path, "".join(lines))
    report.written = len(lines)
    return report
