"""`envmint export sft`: a run's episodes as chat fine-tuning examples (OpenAI format with tools)."""

from __future__ import annotations

import copy
import json
import re
import shutil
from pathlib import Path
from typing import Any

import anyio
import pytest
from typer.testing import CliRunner

from envmint import sandbox
from envmint.cli import app
from envmint.contract import Scenario
from envmint.harness import runner
from envmint.harness.agents.registry import agent_factory
from envmint.harness.export import example_problems
from envmint.harness.results import EpisodeRecord, RunDirectory
from envmint.harness.selection import select
from tests.conftest import need
from tests.fixtures import library

TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
MESSAGE_KEYS = {
    "system": ({"role", "content"}, set()),
    "user": ({"role", "content"}, set()),
    "assistant": ({"role", "content"}, {"tool_calls", "weight"}),
    "tool": ({"role", "content", "tool_call_id"}, set()),
}
# Roles as letters: S system, U user, A assistant reply, C assistant with tool calls, T tool result.
# A user turn is answered by rounds of calls and their results, then a reply; only the last turn
# may stop at a call (the trainer still learns it). Everything is from the assistant at the end.
ROLE_GRAMMAR = re.compile(r"^S?(?:U(?:CT+)*A)*U(?:CT+)*[AC]$")


def strict_problems(example: dict[str, Any]) -> list[str]:
    """An independent validator written from the OpenAI chat fine-tuning format's rules."""
    problems: list[str] = []
    if not set(example) <= {"messages", "tools", "parallel_tool_calls", "metadata"}:
        problems.append(f"unknown top-level keys {sorted(set(example) - {'messages', 'tools', 'metadata'})}")
    tools = example.get("tools")
    names: set[str] = set()
    for tool in tools if isinstance(tools, list) else [None]:
        function = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(tool, dict) or set(tool) != {"type", "function"} or tool["type"] != "function":
            problems.append(f"malformed tool {tool!r:.80}")
        elif not isinstance(function, dict) or not TOOL_NAME.match(str(function.get("name"))):
            problems.append(f"tool without a valid name: {function!r:.80}")
        elif not isinstance(function.get("parameters"), dict) or function["parameters"].get("type") != "object":
            problems.append(f"tool {function['name']} has no object parameters schema")
        else:
            names.add(function["name"])
    messages = example.get("messages")
    if not isinstance(messages, list) or not messages:
        return [*problems, "messages is not a non-empty list"]
    letters = ""
    expected_results: list[str] = []
    all_ids: list[str] = []
    for index, message in enumerate(messages):
        role = message.get("role")
        if role != "tool" and expected_results:
            problems.append(f"message {index}: calls {expected_results} have no result")
            expected_results = []
        required, optional = MESSAGE_KEYS.get(role, (set(), set()))
        if not required or not required <= set(message) <= required | optional:
            problems.append(f"message {index} ({role}) has keys {sorted(message)}")
            continue
        content, calls = message["content"], message.get("tool_calls")
        if role == "assistant" and calls:
            letters += "C"
            if content is not None and not isinstance(content, str):
                problems.append(f"message {index}: content is neither text nor null")
            ids = [call.get("id") for call in calls]
            all_ids += ids
            expected_results = list(ids)
            for call in calls:
                if set(call) != {"id", "type", "function"} or call["type"] != "function":
                    problems.append(f"message {index}: malformed tool call {call!r:.80}")
                    continue
                if call["function"].get("name") not in names:
                    problems.append(f"message {index}: call of undeclared tool {call['function'].get('name')!r}")
                arguments = call["function"].get("arguments")
                if not isinstance(arguments, str) or not isinstance(json.loads(arguments), dict):
                    problems.append(f"message {index}: arguments are not a JSON object in a string")
        else:
            letters += {"system": "S", "user": "U", "assistant": "A", "tool": "T"}[role]
            if not isinstance(content, str) or (role in ("system", "assistant") and not content):
                problems.append(f"message {index} ({role}): content must be non-empty text")
        if role == "tool":
            if message["tool_call_id"] not in expected_results:
                problems.append(f"message {index}: result for {message['tool_call_id']!r}, no such open call")
            else:
                expected_results.remove(message["tool_call_id"])
    if len(all_ids) != len(set(all_ids)):
        problems.append("tool call ids repeat")
    if not ROLE_GRAMMAR.match(letters):
        problems.append(f"illegal role order {letters}")
    meta = example.get("metadata", {})
    kinds = {"episode": str, "scenario": str, "agent": str, "reward": float, "success": bool}
    if not all(isinstance(meta.get(key), kind) for key, kind in kinds.items()):
        problems.append(f"metadata lacks typed fields: {meta!r:.120}")
    return problems


@pytest.fixture(scope="module")
def mixed_run(tmp_path_factory: pytest.TempPathFactory, library_folder: Path) -> Path:
    """Two trials per fixture scenario: the reference agent in trial 0, the null agent in trial 1."""
    need(sandbox.sandbox_available(), "bubblewrap (bwrap) is needed to run servers in the sandbox")
    scenarios = tmp_path_factory.mktemp("scenarios")
    (scenarios / "library_desk").mkdir()
    for path in library.scenario_paths():
        shutil.copy(path, scenarios / "library_desk" / path.name)
    out = tmp_path_factory.mktemp("runs") / "mixed"
    reference, null = agent_factory("reference"), agent_factory("null")

    def factory(scenario: Scenario, trial: int) -> Any:
        return (reference if trial == 0 else null)(scenario, trial)

    async def go() -> list[EpisodeRecord]:
        options = runner.RunOptions(agent="reference", trials=2, concurrency=2)
        with anyio.fail_after(180):
            return await runner.run(
                select(scenarios), library_folder.parent, RunDirectory(out), options, factory, lambda s: None
            )

    records = anyio.run(go)
    assert all(r.status == "ok" for r in records), [r.error for r in records]
    return out


def _export(run_dir: Path, out: Path, *options: str) -> tuple[list[dict[str, Any]], str, str]:
    result = CliRunner().invoke(app, ["export", "sft", str(run_dir), "--out", str(out), *options])
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in out.read_text().splitlines()], result.stdout, result.stderr


def _records(run_dir: Path) -> list[EpisodeRecord]:
    return RunDirectory(run_dir).read()


def test_every_ok_episode_becomes_one_line_that_a_strict_chat_format_validator_accepts(
    mixed_run: Path, tmp_path: Path
) -> None:
    examples, stdout, stderr = _export(mixed_run, tmp_path / "sft.jsonl")
    assert len(examples) == len(_records(mixed_run)) == 2 * len(library.scenario_paths())
    assert f"wrote {len(examples)} examples" in stdout and stderr == ""
    for example in examples:
        assert strict_problems(example) == [], example["metadata"]["episode"]
        assert example_problems(example) == []
        roles = [m["role"] for m in example["messages"]]
        assert roles[:2] == ["system", "user"] and roles[-1] == "assistant"
    reference = [e for e in examples if e["metadata"]["episode"].endswith("#0")]
    calls = [c for e in reference for m in e["messages"] for c in m.get("tool_calls", [])]
    answered = {m["tool_call_id"] for e in reference for m in e["messages"] if m["role"] == "tool"}
    assert calls and {c["id"] for c in calls} == answered


def test_only_success_and_min_reward_keep_just_the_episodes_that_earned_it(mixed_run: Path, tmp_path: Path) -> None:
    records = _records(mixed_run)
    successful = {r.episode for r in records if r.success}
    assert 0 < len(successful) < len(records)
    examples, _, stderr = _export(mixed_run, tmp_path / "ok.jsonl", "--only-success")
    assert {e["metadata"]["episode"] for e in examples} == successful
    assert all(e["metadata"]["success"] and e["metadata"]["reward"] == 1.0 for e in examples)
    assert f"{len(records) - len(successful)} not successful" in stderr
    partial = sorted({r.reward for r in records if 0 < r.reward < 1})
    threshold = partial[0] if partial else 0.5
    examples, _, _ = _export(mixed_run, tmp_path / "min.jsonl", "--min-reward", str(threshold))
    assert {e["metadata"]["episode"] for e in examples} == {r.episode for r in records if r.reward >= threshold}


def test_episodes_that_did_not_end_ok_or_break_the_format_are_skipped_and_counted_on_stderr(
    mixed_run: Path, tmp_path: Path
) -> None:
    run_dir = tmp_path / "run"
    shutil.copytree(mixed_run, run_dir)
    run = RunDirectory(run_dir)
    first, second = [r for r in run.read() if r.episode.endswith("#0") and r.tool_calls][:2]
    run.append(first.model_copy(update={"status": "timeout", "success": False}))
    broken = run.load_trajectory(second.trajectory)
    broken["messages"] = [m for m in broken["messages"] if m["role"] != "tool"]
    run.save_trajectory(second.episode, broken)
    examples, stdout, stderr = _export(run_dir, tmp_path / "sft.jsonl")
    assert {e["metadata"]["episode"] for e in examples} == {r.episode for r in run.read()} - {
        first.episode,
        second.episode,
    }
    assert "skipped 2 episodes" in stderr
    assert "1 with status timeout" in stderr and "1 breaking the chat format" in stderr
    assert f"wrote {len(examples)} examples" in stdout


def _break(example: dict[str, Any], how: str) -> dict[str, Any]:
    broken = copy.deepcopy(example)
    messages = broken["messages"]
    first_call = next(i for i, m in enumerate(messages) if m.get("tool_calls"))
    if how == "a tool result is missing":
        del messages[first_call + 1]
    elif how == "a tool result answers an unknown id":
        messages[first_call + 1]["tool_call_id"] = "call_nobody_made"
    elif how == "a reply has null content":
        messages[-1]["content"] = None
    elif how == "two user messages in a row":
        messages.insert(1, {"role": "user", "content": "hello?"})
    elif how == "arguments are an object, not a string":
        call = messages[first_call]["tool_calls"][0]["function"]
        call["arguments"] = json.loads(call["arguments"])
    elif how == "it ends with a tool result":
        messages.pop()
    return broken


@pytest.mark.parametrize(
    "how",
    [
        "a tool result is missing",
        "a tool result answers an unknown id",
        "a reply has null content",
        "two user messages in a row",
        "arguments are an object, not a string",
        "it ends with a tool result",
    ],
)
def test_a_deliberately_broken_example_is_rejected_by_both_validators(
    mixed_run: Path, tmp_path: Path, how: str
) -> None:
    examples, _, _ = _export(mixed_run, tmp_path / "sft.jsonl")
    sound = next(e for e in examples if any(m.get("tool_calls") for m in e["messages"]))
    broken = _break(sound, how)
    assert strict_problems(broken), how
    assert example_problems(broken), how


def test_no_metadata_leaves_only_the_keys_the_openai_upload_accepts(mixed_run: Path, tmp_path: Path) -> None:
    examples, _, _ = _export(mixed_run, tmp_path / "plain.jsonl", "--no-metadata")
    assert examples and all(set(e) == {"messages", "tools"} for e in examples)


def test_exporting_a_folder_that_is_not_a_run_fails_with_a_message(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["export", "sft", str(tmp_path)])
    assert result.exit_code == 1 and "not a run directory" in result.stderr
    assert not (tmp_path / "sft.jsonl").exists()
