"""Tool calls through the MCP server: validation, transactions, errors, determinism, concurrency."""

from __future__ import annotations

import json
import re
from typing import Any

import anyio
import pytest
from envmint_runtime.server import build_server
from mcp import Client
from mcp.shared.exceptions import MCPError

from envmint.harness.control import Controller
from tests.conftest import HostFactory

pytestmark = pytest.mark.anyio

TRACEBACK_OR_PATH = re.compile(r"Traceback|File \"|/srv/|\.py\b|\.toml\b")


async def _call(client: Client, name: str, arguments: dict[str, Any]) -> tuple[bool, str, Any]:
    with anyio.fail_after(5):
        result = await client.call_tool(name, arguments)
    text = result.content[0].text if result.content else ""
    return result.is_error, text, result.structured_content


async def test_a_valid_call_returns_structured_content_and_the_same_json_as_text(
    faulty_host_factory: HostFactory,
) -> None:
    async with Client(build_server(faulty_host_factory())) as client:
        is_error, text, structured = await _call(client, "deposit", {"account": "alice", "cents": 5})
    assert not is_error
    assert structured == {"account": "alice", "balance": 1005}
    assert json.loads(text) == structured


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ({"account": "alice", "cents": "five"}, "`cents` must be of type integer"),
        ({"account": "alice"}, "`cents` is required but missing"),
        ({"account": "alice", "cents": 5, "memo": "hi"}, "unexpected field `memo`"),
        ({"account": "alice", "cents": 0}, "`cents`: 0 is invalid (minimum 1)"),
        ({"account": "carol", "cents": 5}, "No account 'carol'."),
    ],
    ids=["wrong-type", "missing-field", "extra-field", "below-minimum", "business-rule"],
)
async def test_a_bad_call_gets_an_error_naming_the_problem_and_leaves_the_state_unchanged(
    faulty_host_factory: HostFactory, arguments: dict[str, Any], expected: str
) -> None:
    async with Client(build_server(faulty_host_factory())) as client:
        control = Controller(client)
        before = await control.hash()
        is_error, text, structured = await _call(client, "deposit", arguments)
        after = await control.hash()
    assert is_error
    assert expected in text
    assert structured is None
    assert before == after


async def test_an_unknown_tool_is_a_protocol_error_and_leaves_the_state_unchanged(
    faulty_host_factory: HostFactory,
) -> None:
    async with Client(build_server(faulty_host_factory())) as client:
        control = Controller(client)
        before = await control.hash()
        with pytest.raises(MCPError) as raised, anyio.fail_after(5):
            await client.call_tool("withdraw_everything", {})
        assert raised.value.code == -32602
        assert "Unknown tool: withdraw_everything" in raised.value.error.message
        assert await control.hash() == before


async def test_a_tool_that_raises_after_writing_is_rolled_back_and_the_message_has_no_traceback_or_path(
    faulty_host_factory: HostFactory,
) -> None:
    async with Client(build_server(faulty_host_factory())) as client:
        control = Controller(client)
        before = await control.state()
        is_error, text, _ = await _call(client, "crash_midway", {"account": "alice"})
        after = await control.state()
    assert is_error
    assert "FileNotFoundError" in text
    assert not TRACEBACK_OR_PATH.search(text), text
    assert len(text) <= 300
    assert after == before


async def test_a_tool_that_never_returns_is_stopped_by_the_call_timeout_and_rolled_back(
    faulty_host_factory: HostFactory,
) -> None:
    async with Client(build_server(faulty_host_factory(call_timeout=0.2))) as client:
        control = Controller(client)
        before = await control.hash()
        is_error, text, _ = await _call(client, "spin", {})
        assert is_error
        assert "did not finish within 0.2 s" in text
        assert await control.hash() == before
        is_error, _, _ = await _call(client, "deposit", {"account": "bob", "cents": 1})
        assert not is_error


async def test_a_result_that_is_not_json_is_an_error(faulty_host_factory: HostFactory) -> None:
    async with Client(build_server(faulty_host_factory())) as client:
        is_error, text, _ = await _call(client, "give_set", {})
    assert is_error
    assert "non-JSON result" in text and "set" in text


async def test_with_check_state_a_query_that_writes_and_a_schema_breaking_write_are_refused(
    faulty_host_factory: HostFactory,
) -> None:
    async with Client(build_server(faulty_host_factory(check_state=True))) as client:
        control = Controller(client)
        before = await control.hash()
        _, sneaky, _ = await _call(client, "sneaky_query", {})
        _, corrupt, _ = await _call(client, "corrupt", {})
        assert await control.hash() == before
    assert "query tool `sneaky_query` changed the state" in sneaky
    assert "left the state invalid" in corrupt and "$.accounts.alice" in corrupt


async def test_concurrent_calls_on_one_environment_run_one_at_a_time(faulty_host_factory: HostFactory) -> None:
    async with Client(build_server(faulty_host_factory())) as client:
        async with anyio.create_task_group() as group:
            for _ in range(25):
                group.start_soon(client.call_tool, "deposit", {"account": "bob", "cents": 2})
        state = await Controller(client).state()
    assert state["accounts"]["bob"] == 50 + 25 * 2
    assert len({entry["id"] for entry in state["log"]}) == 25


async def test_the_same_calls_from_the_same_state_give_the_same_results_and_final_state(
    faulty_host_factory: HostFactory,
) -> None:
    transcripts = []
    for _ in range(2):
        async with Client(build_server(faulty_host_factory(seed=7))) as client:
            results = [await _call(client, "deposit", {"account": "alice", "cents": n}) for n in (1, 2, 3)]
            transcripts.append((results, await Controller(client).hash()))
    assert transcripts[0] == transcripts[1]


async def test_a_different_seed_gives_different_ids(faulty_host_factory: HostFactory) -> None:
    logs = []
    for seed in (1, 2):
        async with Client(build_server(faulty_host_factory(seed=seed))) as client:
            await _call(client, "deposit", {"account": "alice", "cents": 1})
            logs.append((await Controller(client).state())["log"])
    assert logs[0][0]["id"] != logs[1][0]["id"]
    assert logs[0][0]["at"] == logs[1][0]["at"] == "2026-03-02T09:30:00Z"
