"""The harness's hidden control channel: load, reset, read state; invisible to agents."""

from __future__ import annotations

import json

import anyio
import pytest
from envmint_runtime import control
from envmint_runtime.server import build_server
from mcp import Client
from mcp.shared.exceptions import MCPError

from envmint.harness.control import Controller
from tests.conftest import HostFactory

pytestmark = pytest.mark.anyio


async def test_control_methods_appear_in_no_listing_an_agent_can_see(faulty_host_factory: HostFactory) -> None:
    async with Client(build_server(faulty_host_factory())) as client:
        with anyio.fail_after(5):
            tools = await client.list_tools()
            seen = json.dumps(
                {
                    "tools": tools.model_dump(mode="json", by_alias=True),
                    "instructions": client.instructions,
                    "capabilities": client.server_capabilities.model_dump(mode="json", by_alias=True),
                }
            )
            for listing in (client.list_prompts, client.list_resources):
                with pytest.raises(MCPError):
                    await listing()
    assert {t.name for t in tools.tools} == {
        "deposit", "balance", "crash_midway", "spin", "chatty", "give_set", "sneaky_query", "corrupt"
    }  # fmt: skip
    for method in (control.LOAD, control.RESET, control.STATE, control.HASH):
        assert method not in seen
    assert "envmint/" not in seen


async def test_reset_returns_to_the_loaded_state_clock_and_seed(faulty_host_factory: HostFactory) -> None:
    async with Client(build_server(faulty_host_factory())) as client:
        ctl = Controller(client)
        await ctl.load({"accounts": {"zoe": 10}, "log": []}, now="2030-01-01T00:00:00+02:00", seed=3)
        loaded = await ctl.hash()
        first = await client.call_tool("deposit", {"account": "zoe", "cents": 5})
        assert await ctl.hash() != loaded
        await ctl.reset()
        assert await ctl.hash() == loaded
        again = await client.call_tool("deposit", {"account": "zoe", "cents": 5})
        state = await ctl.state()
    assert first.structured_content == again.structured_content
    assert state["log"][0]["at"] == "2029-12-31T22:00:00Z"


async def test_loading_a_state_that_fails_the_schema_is_refused_with_the_json_path(
    faulty_host_factory: HostFactory,
) -> None:
    async with Client(build_server(faulty_host_factory())) as client:
        ctl = Controller(client)
        before = await ctl.hash()
        with pytest.raises(MCPError) as raised:
            await ctl.load({"accounts": {"zoe": "ten"}, "log": []})
        assert await ctl.hash() == before
    assert raised.value.code == -32602
    assert "$.accounts.zoe" in raised.value.error.message


async def test_with_a_control_token_requests_without_it_are_refused(faulty_host_factory: HostFactory) -> None:
    server = build_server(faulty_host_factory(), control_token="s3cret")
    async with Client(server) as client:
        with pytest.raises(MCPError) as raised:
            await Controller(client).state()
        assert raised.value.code == -32010
        assert (await Controller(client, token="s3cret").state())["accounts"]["alice"] == 1000


async def test_without_the_control_channel_its_methods_do_not_exist(faulty_host_factory: HostFactory) -> None:
    async with Client(build_server(faulty_host_factory(), control_enabled=False)) as client:
        with pytest.raises(MCPError) as raised:
            await Controller(client).state()
    assert raised.value.code == -32601


def test_reset_undoes_exactly_the_writes_made_since_the_load_and_restores_key_order(
    faulty_host_factory: HostFactory,
) -> None:
    host = faulty_host_factory()
    loaded = host.store.hash()
    order = list(host.state["accounts"])
    assert host.store.reset() == 0
    assert host.call("deposit", {"account": "alice", "cents": 1}).ok
    assert host.call("deposit", {"account": "bob", "cents": 2}).ok
    assert host.store.reset() == 4
    assert host.store.hash() == loaded
    assert list(host.state["accounts"]) == order
