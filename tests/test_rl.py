"""The RL API: reset / step / finish on warm sandboxed servers, graded by the scenario's checks."""

from __future__ import annotations

import os
import shutil
import signal
from pathlib import Path

import anyio
import pytest

from envmint import sandbox
from envmint.contract import Scenario
from envmint.harness.rl import EnvPool, Observation, Reward
from envmint.harness.servers import ServerCrashed
from tests.conftest import need
from tests.fixtures import library
from tests.test_harness_run import _server_pids

pytestmark = pytest.mark.anyio
SCENARIOS = {scenario.id: scenario for scenario in library.load_scenarios()}
RETURN_AND_SETTLE = "library_desk/return_and_settle"


@pytest.fixture
def servers(library_folder: Path) -> Path:
    need(sandbox.sandbox_available(), "bubblewrap (bwrap) is needed to run servers in the sandbox")
    return library_folder.parent


async def _replay(pool: EnvPool, observation: Observation) -> Reward:
    for call in SCENARIOS[observation.scenario_id].reference_solution:
        result = await pool.step(observation.session, call.tool, dict(call.arguments))
        assert not result.is_error, result.text
    return await pool.finish(observation.session)


async def test_replaying_each_reference_solution_through_step_earns_full_reward(servers: Path) -> None:
    with anyio.fail_after(120):
        async with EnvPool(servers, SCENARIOS.values()) as pool:
            for scenario_id in SCENARIOS:
                observation = await pool.reset(scenario_id)
                assert observation.messages[1] == {"role": "user", "content": observation.user_message}
                assert {t["function"]["name"] for t in observation.tools} >= {
                    c.tool for c in SCENARIOS[scenario_id].reference_solution
                }
                reward = await _replay(pool, observation)
                assert (reward.reward, reward.success, reward.graded) == (1.0, True, True), reward.checks
                assert all(check.verdict == "pass" for check in reward.checks)


async def test_doing_nothing_earns_less_than_full_reward(servers: Path) -> None:
    with anyio.fail_after(60):
        async with EnvPool(servers, SCENARIOS.values()) as pool:
            observation = await pool.reset(RETURN_AND_SETTLE)
            reward = await pool.finish(observation.session)
    assert reward.reward < 1.0 and not reward.success
    assert len(reward.checks) == len(SCENARIOS[RETURN_AND_SETTLE].checks)


async def test_a_second_reset_gives_the_same_observation_and_none_of_the_first_episodes_writes(
    servers: Path,
) -> None:
    with anyio.fail_after(90):
        async with EnvPool(servers, SCENARIOS.values(), slots=1) as pool:
            first = await pool.reset(RETURN_AND_SETTLE)
            initial = await pool.state(first.session)
            assert (await _replay(pool, first)).success
            second = await pool.reset(RETURN_AND_SETTLE)
            assert second.session.server is first.session.server, "one slot: the same warm server, reset"
            assert second == first and second.session is not first.session
            assert await pool.state(second.session) == initial
            reward = await _replay(pool, second)
    assert reward.success, "the replay only succeeds again from a clean initial state"


async def test_an_unknown_tool_or_bad_arguments_is_an_error_step_and_the_episode_goes_on(servers: Path) -> None:
    with anyio.fail_after(60):
        async with EnvPool(servers, SCENARIOS.values()) as pool:
            observation = await pool.reset(RETURN_AND_SETTLE)
            before = await pool.state(observation.session)
            unknown = await pool.step(observation.session, "no_such_tool", {})
            assert unknown.is_error and "no_such_tool" in unknown.text
            bad = await pool.step(observation.session, "get_member", {"member_id": 42, "surprise": True})
            assert bad.is_error and bad.text
            assert await pool.state(observation.session) == before
            reward = await _replay(pool, observation)
    assert reward.success
    assert [m["role"] for m in observation.session.messages].count("tool") == 2 + len(
        SCENARIOS[RETURN_AND_SETTLE].reference_solution
    )


async def test_sessions_on_separate_slots_run_concurrently_and_a_full_pool_makes_reset_wait(servers: Path) -> None:
    scenario_ids = [RETURN_AND_SETTLE, "library_desk/pickup_and_borrow"]
    rewards: dict[str, Reward] = {}

    async def episode(pool: EnvPool, scenario_id: str, observations: list[Observation]) -> None:
        observation = await pool.reset(scenario_id)
        observations.append(observation)
        rewards[scenario_id] = await _replay(pool, observation)

    with anyio.fail_after(120):
        async with EnvPool(servers, SCENARIOS.values(), slots=2) as pool:
            observations: list[Observation] = []
            async with anyio.create_task_group() as group:
                for scenario_id in scenario_ids:
                    group.start_soon(episode, pool, scenario_id, observations)
            assert observations[0].session.server is not observations[1].session.server
        assert all(r.success for r in rewards.values()) and set(rewards) == set(scenario_ids)

        async with EnvPool(servers, SCENARIOS.values(), slots=1, acquire_timeout=0.5) as pool:
            holder = await pool.reset(RETURN_AND_SETTLE)
            with pytest.raises(TimeoutError):
                await pool.reset("library_desk/pickup_and_borrow")
            await pool.close(holder.session)
            waiting = await pool.reset("library_desk/pickup_and_borrow")
            assert (await _replay(pool, waiting)).success


async def test_a_finished_session_refuses_more_steps(servers: Path) -> None:
    with anyio.fail_after(60):
        async with EnvPool(servers, SCENARIOS.values()) as pool:
            observation = await pool.reset(RETURN_AND_SETTLE)
            await pool.finish(observation.session)
            with pytest.raises(RuntimeError, match="has ended"):
                await pool.step(observation.session, "get_member", {"member_id": "M-1001"})
            with pytest.raises(LookupError):
                await pool.reset("library_desk/no_such_scenario")


def test_a_pool_reads_scenarios_from_a_scenarios_folder(tmp_path: Path, library_folder: Path) -> None:
    (tmp_path / "library_desk").mkdir()
    for path in library.scenario_paths():
        shutil.copy(path, tmp_path / "library_desk" / path.name)
    pool = EnvPool(library_folder.parent, tmp_path)
    assert set(pool.scenarios) == set(SCENARIOS)
    assert all(isinstance(s, Scenario) for s in pool.scenarios.values())


async def test_a_server_killed_mid_session_ends_it_with_server_crashed_and_the_next_reset_starts_afresh(
    servers: Path, library_folder: Path
) -> None:
    with anyio.fail_after(90):
        async with EnvPool(servers, SCENARIOS.values()) as pool:
            observation = await pool.reset(RETURN_AND_SETTLE)
            for pid in _server_pids(library_folder.resolve()):
                os.kill(pid, signal.SIGKILL)
            await anyio.sleep(0.2)
            with pytest.raises(ServerCrashed):
                await pool.step(observation.session, "get_member", {"member_id": "M-1001"})
            with pytest.raises(RuntimeError, match="has ended"):
                await pool.finish(observation.session)
            again = await pool.reset(RETURN_AND_SETTLE)
            assert again == observation
            assert (await _replay(pool, again)).success
