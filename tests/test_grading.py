"""Grading validators: untrusted checks run in one sandboxed child and every failure is an error.

Every test runs twice: with the child forked from a warm grading zygote (the default) and with a
fresh sandboxed process per request (``ENVMINT_GRADING_ZYGOTE=0``, also the fallback).
"""

from __future__ import annotations

import copy
import dataclasses
import json
import resource
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from envmint import sandbox
from envmint.contract.scenario import Check
from envmint.grading import CheckVerdict, Verdict, _child, all_passed, default_limits, grade_checks, reward, zygote
from tests.conftest import need

pytestmark = pytest.mark.anyio

INITIAL: dict[str, Any] = {"loans": [{"id": "L-1", "returned": False}], "members": {"M-1": {"name": "Ada"}}}
FINAL: dict[str, Any] = {"loans": [{"id": "L-1", "returned": True}], "members": {"M-1": {"name": "Ada"}}}


def check(check_id: str, body: str) -> Check:
    """A check whose function body is ``body`` (indented here)."""
    indented = "".join(f"    {line}\n" for line in body.splitlines())
    return Check(id=check_id, description=check_id, source=f"def check(initial_state, final_state):\n{indented}")


RETURNED = check("returned", "return final_state['loans'][0]['returned'] is True")
UNCHANGED = check("unchanged", "return initial_state == final_state")


async def grade(checks: list[Check], **kwargs: Any) -> list[CheckVerdict]:
    with anyio.fail_after(30):
        return await grade_checks(checks, INITIAL, FINAL, **kwargs)


def by_id(verdicts: list[CheckVerdict]) -> dict[str, CheckVerdict]:
    return {v.check_id: v for v in verdicts}


@pytest.fixture
def bwrap() -> None:
    need(sandbox.sandbox_available(), "bubblewrap (bwrap) is not installed")


@pytest.fixture(autouse=True, params=["zygote", "fresh"])
def grader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Which way checks run; with a zygote, no grading under bwrap may start a fresh process."""
    fresh_runs: list[str] = []
    run_sandboxed = sandbox.run_sandboxed

    async def recorded(*args: Any, **kwargs: Any) -> sandbox.SandboxResult:
        fresh_runs.append(sandbox.sandbox_mode())
        return await run_sandboxed(*args, **kwargs)

    monkeypatch.setattr(sandbox, "run_sandboxed", recorded)
    if request.param == "fresh":
        monkeypatch.setenv(zygote.ENV_VAR, "0")
    else:
        monkeypatch.delenv(zygote.ENV_VAR, raising=False)
    yield request.param
    if request.param == "zygote":
        assert "bwrap" not in fresh_runs, "grading under bwrap started a fresh process instead of using a zygote"


# ---------------------------------------------------------------------------------------------
# Scoring (no process needed)


def test_reward_and_all_passed_never_count_an_error_as_a_pass() -> None:
    verdicts = [
        CheckVerdict("a", Verdict.PASS),
        CheckVerdict("b", Verdict.ERROR, "timed out after 2 s"),
        CheckVerdict("c", Verdict.FAIL),
        CheckVerdict("d", Verdict.PASS),
    ]
    assert reward(verdicts) == 0.5
    assert not all_passed(verdicts)
    assert not all_passed([CheckVerdict("a", Verdict.ERROR)])
    assert all_passed([CheckVerdict("a", Verdict.PASS)])
    assert reward([]) == 0.0 and not all_passed([])


async def test_no_checks_give_no_verdicts_without_starting_a_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sandbox, "_bwrap_path", lambda: None)
    assert await grade([]) == []


async def test_grading_refuses_to_run_checks_without_a_sandbox(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sandbox, "_bwrap_path", lambda: None)
    monkeypatch.delenv(sandbox.UNSAFE_ENV_VAR, raising=False)
    with pytest.raises(sandbox.SandboxUnavailable):
        await grade([RETURNED])


async def test_with_the_unsafe_override_checks_still_run_in_a_separate_limited_process(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sandbox, "_bwrap_path", lambda: None)
    monkeypatch.setattr(sandbox, "_warned_unsafe", True)
    monkeypatch.setenv(sandbox.UNSAFE_ENV_VAR, "1")
    hog = check("hog", "data = bytearray(2 * 1024 ** 3)\nreturn True")
    bomb = check("bomb", "import os\nos.fork()\nreturn True")

    verdicts = await grade([RETURNED, UNCHANGED, hog, bomb])

    assert [v.verdict for v in verdicts] == [Verdict.PASS, Verdict.FAIL, Verdict.ERROR, Verdict.ERROR]
    assert verdicts[2].detail == "MemoryError" and verdicts[3].detail.startswith("PermissionError")


def test_frozen_states_read_like_json_but_refuse_every_change() -> None:
    state = _child.freeze(copy.deepcopy(INITIAL))
    loans = state["loans"]
    assert isinstance(state, dict) and isinstance(loans, list)
    assert state == INITIAL and state.get("missing", 1) == 1 and len(loans) == 1
    assert [loan["id"] for loan in loans] == ["L-1"]
    assert json.loads(json.dumps(state)) == INITIAL
    attempts: list[Callable[[], object]] = [
        lambda: state.__setitem__("x", 1),
        lambda: state.update(x=1),
        lambda: state.pop("loans"),
        lambda: state.setdefault("x", 1),
        lambda: state.clear(),
        lambda: dict.__getattribute__(state, "__init__")({}),
        lambda: loans.append(1),
        lambda: loans.sort(),
        lambda: loans[0].__setitem__("returned", True),
        lambda: state["members"]["M-1"].__delitem__("name"),
    ]
    for attempt in attempts:
        with pytest.raises(TypeError, match="read-only"):
            attempt()
    mutable = copy.deepcopy(state)
    mutable["loans"][0]["returned"] = True
    assert mutable == FINAL and state == INITIAL
    assert type(copy.copy(state)) is dict and type(loans.copy()) is list


# ---------------------------------------------------------------------------------------------
# Verdicts


@pytest.mark.usefixtures("bwrap")
async def test_true_passes_false_fails_and_checks_can_compare_the_initial_state() -> None:
    changed = check("changed", "return initial_state['loans'][0]['returned'] != final_state['loans'][0]['returned']")
    types = check("types", "return isinstance(final_state, dict) and isinstance(final_state['loans'], list)")

    verdicts = await grade([RETURNED, UNCHANGED, changed, types])

    assert [(v.check_id, v.verdict) for v in verdicts] == [
        ("returned", Verdict.PASS),
        ("unchanged", Verdict.FAIL),
        ("changed", Verdict.PASS),
        ("types", Verdict.PASS),
    ]
    assert reward(verdicts) == 0.75


@pytest.mark.usefixtures("bwrap")
async def test_a_check_returning_anything_but_a_bool_is_an_error() -> None:
    verdicts = by_id(
        await grade([check("text", "return 'yes'"), check("one", "return 1"), check("none", "return None")])
    )

    assert {v.verdict for v in verdicts.values()} == {Verdict.ERROR}
    assert verdicts["text"].detail == "returned 'yes' (a str), not a bool"
    assert verdicts["one"].detail == "returned 1 (a int), not a bool"
    assert verdicts["none"].detail == "returned None (a NoneType), not a bool"


@pytest.mark.usefixtures("bwrap")
async def test_a_check_that_raises_is_an_error_naming_the_exception_without_file_paths() -> None:
    raises = check("raises", "return final_state['no_such_key']")
    name = check("name", "return undefined_name")
    path = check("path", "return open('/work/secret/thing.txt').read() == ''")
    exits = check("exits", "raise SystemExit(0)")

    verdicts = by_id(await grade([raises, name, path, exits, RETURNED]))

    assert verdicts["raises"].detail == "KeyError: 'no_such_key'"
    assert verdicts["name"].detail == "NameError: name 'undefined_name' is not defined"
    assert verdicts["path"].detail == "FileNotFoundError: [Errno 2] No such file or directory: '<path>'"
    assert verdicts["exits"].detail == "SystemExit: 0"
    assert [v.verdict for v in verdicts.values()] == [Verdict.ERROR] * 4 + [Verdict.PASS]
    assert all(len(v.detail) <= 200 and "\n" not in v.detail for v in verdicts.values())


@pytest.mark.usefixtures("bwrap")
async def test_a_check_that_mutates_its_input_is_an_error_and_later_checks_see_the_original_state() -> None:
    mutate = check("mutate", "final_state['loans'][0]['returned'] = False\nreturn True")
    append = check("append", "final_state['loans'].append({})\nreturn True")
    copies = check("copies", "import copy\nmine = copy.deepcopy(final_state)\nmine['loans'].clear()\nreturn True")

    verdicts = by_id(await grade([mutate, append, copies, RETURNED]))

    assert verdicts["mutate"].verdict is Verdict.ERROR and "read-only" in verdicts["mutate"].detail
    assert verdicts["append"].verdict is Verdict.ERROR and "read-only" in verdicts["append"].detail
    assert verdicts["copies"].verdict is Verdict.PASS
    assert verdicts["returned"].verdict is Verdict.PASS


# ---------------------------------------------------------------------------------------------
# Hostile or broken checks


@pytest.mark.usefixtures("bwrap")
async def test_a_check_that_loops_forever_times_out_while_the_others_get_their_verdicts() -> None:
    loops = check("loops", "while True:\n    pass")
    started = time.monotonic()

    verdicts = await grade([RETURNED, loops, UNCHANGED], per_check_seconds=0.5)

    assert time.monotonic() - started < default_limits(3, 0.5).wall_seconds
    assert [v.verdict for v in verdicts] == [Verdict.PASS, Verdict.ERROR, Verdict.FAIL]
    assert verdicts[1].detail == "timed out after 0.5 s"


@pytest.mark.usefixtures("bwrap")
async def test_a_check_that_swallows_its_timeout_gets_the_child_killed_and_unfinished_checks_error() -> None:
    stubborn = check(
        "stubborn",
        "while True:\n    try:\n        while True:\n            pass\n    except BaseException:\n        pass",
    )
    limits = dataclasses.replace(default_limits(3, 0.3), wall_seconds=1.5)
    started = time.monotonic()

    verdicts = await grade([RETURNED, stubborn, UNCHANGED], per_check_seconds=0.3, limits=limits)

    assert time.monotonic() - started < limits.wall_seconds + 1.5
    assert verdicts[0] == CheckVerdict("returned", Verdict.PASS)
    for verdict in verdicts[1:]:
        assert verdict.verdict is Verdict.ERROR
        assert verdict.detail == "no verdict: the validator process was killed after 1.5 s"


@pytest.mark.usefixtures("bwrap")
async def test_a_child_that_dies_gives_every_check_without_a_verdict_an_error_with_the_reason() -> None:
    dies = check("dies", "import os\nos._exit(3)")

    verdicts = await grade([RETURNED, dies, UNCHANGED])

    assert verdicts[0].verdict is Verdict.PASS
    assert [v.verdict for v in verdicts[1:]] == [Verdict.ERROR, Verdict.ERROR]
    assert verdicts[1].detail.startswith("no verdict: the validator process exited with code 3")


@pytest.mark.usefixtures("bwrap")
async def test_a_check_cannot_read_a_canary_file_outside_the_sandbox(tmp_path: Path) -> None:
    secret = "canary-" + uuid.uuid4().hex
    canary = tmp_path / "canary.txt"
    canary.write_text(secret)
    reads = check("reads", f"return open({str(canary)!r}).read() == 'x'")
    leaks = check("leaks", f"return open({str(canary)!r}).read()")

    verdicts = await grade([reads, leaks])

    assert [v.verdict for v in verdicts] == [Verdict.ERROR, Verdict.ERROR]
    assert all(v.detail.startswith("FileNotFoundError") for v in verdicts)
    assert secret not in repr(verdicts) and str(tmp_path) not in repr(verdicts)


@pytest.mark.usefixtures("bwrap")
async def test_a_check_cannot_reach_a_loopback_listener_on_the_host() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        listener.setblocking(False)
        port = listener.getsockname()[1]
        connects = check(
            "connects", f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=1)\nreturn True"
        )

        verdicts = await grade([connects])

        assert verdicts[0].verdict is Verdict.ERROR
        assert verdicts[0].detail.startswith("ConnectionRefusedError")
        with pytest.raises(BlockingIOError):
            listener.accept()  # zero connections ever reached the listener


@pytest.mark.usefixtures("bwrap")
async def test_a_canary_environment_variable_of_the_harness_is_invisible_to_checks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    secret = "sk-canary-" + uuid.uuid4().hex
    monkeypatch.setenv("FAKE_API_KEY", secret)
    absent = check(
        "absent", f"import os\nreturn 'FAKE_API_KEY' not in os.environ and {secret!r} not in str(os.environ)"
    )
    leaks = check("leaks", "import os\nreturn os.environ.get('FAKE_API_KEY')")

    verdicts = await grade([absent, leaks])

    assert verdicts[0].verdict is Verdict.PASS
    assert verdicts[1] == CheckVerdict("leaks", Verdict.ERROR, "returned None (a NoneType), not a bool")


@pytest.mark.usefixtures("bwrap")
async def test_a_check_allocating_two_gigabytes_is_an_error() -> None:
    hog = check("hog", "data = bytearray(2 * 1024 ** 3)\nreturn True")

    verdicts = await grade([hog, RETURNED])

    assert verdicts[0] == CheckVerdict("hog", Verdict.ERROR, "MemoryError")
    assert verdicts[1].verdict is Verdict.PASS


@pytest.mark.usefixtures("bwrap")
async def test_a_fork_loop_in_a_check_is_an_error() -> None:
    bomb = check("bomb", "import os\nwhile True:\n    os.fork()")

    verdicts = await grade([bomb, RETURNED])

    assert verdicts[0] == CheckVerdict("bomb", Verdict.ERROR, "PermissionError: [Errno 1] Operation not permitted")
    assert verdicts[1].verdict is Verdict.PASS


@pytest.mark.usefixtures("bwrap")
async def test_fifty_megabytes_printed_by_a_check_are_discarded_without_disturbing_the_verdicts() -> None:
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss >> 10
    chatty = check(
        "chatty",
        "import os, sys\nprint('x' * (25 << 20))\nos.write(1, b'y' * (25 << 20))\n"
        "sys.__stdout__.write('z')\nreturn True",
    )

    verdicts = await grade([chatty, RETURNED])

    assert [v.verdict for v in verdicts] == [Verdict.PASS, Verdict.PASS]
    assert (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss >> 10) - rss_before < 50


@pytest.mark.usefixtures("bwrap")
async def test_a_check_flooding_the_verdict_channel_turns_every_verdict_into_an_error() -> None:
    flood = check(
        "flood", 'import os\nos.write(3, b\'{"id": "returned", "verdict": "pass"}\' * (1 << 20))\nreturn True'
    )

    verdicts = await grade([flood, RETURNED])

    assert [v.verdict for v in verdicts] == [Verdict.ERROR, Verdict.ERROR]
    assert verdicts[0].detail.startswith("no verdict: the validator process wrote more than")
