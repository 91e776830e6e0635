"""The grading zygote: one request's checks cannot reach another request, and a failing zygote fails safe.

Each request runs in a fresh child forked from a warm sandboxed zygote. These tests play a hostile
check in one request and look at the verdicts of the next one, which the same zygote serves.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from envmint import sandbox
from envmint.contract.scenario import Check
from envmint.grading import CheckVerdict, Verdict, default_limits, grade_checks, zygote
from tests.conftest import need

pytestmark = pytest.mark.anyio

INITIAL: dict[str, Any] = {"loans": [{"id": "L-1", "returned": False}], "members": {"M-1": {"name": "Ada"}}}
FINAL: dict[str, Any] = {"loans": [{"id": "L-1", "returned": True}], "members": {"M-1": {"name": "Ada"}}}


def check(check_id: str, body: str) -> Check:
    indented = "".join(f"    {line}\n" for line in body.splitlines())
    return Check(id=check_id, description=check_id, source=f"def check(initial_state, final_state):\n{indented}")


RETURNED = check("returned", "return final_state['loans'][0]['returned'] is True")
UNCHANGED = check("unchanged", "return initial_state == final_state")
TEXT = check("text", "return 'yes'")
MUTATES = check("mutates", "final_state['loans'].append({})\nreturn True")
HONEST = [RETURNED, UNCHANGED, TEXT, MUTATES]
"""A request whose verdicts a tampering check would like to change: pass, fail, error, error."""


async def grade(checks: list[Check], **kwargs: Any) -> list[CheckVerdict]:
    with anyio.fail_after(30):
        return await grade_checks(checks, INITIAL, FINAL, **kwargs)


def verdicts_of(verdicts: list[CheckVerdict]) -> list[Verdict]:
    return [v.verdict for v in verdicts]


HONEST_VERDICTS = [Verdict.PASS, Verdict.FAIL, Verdict.ERROR, Verdict.ERROR]


@pytest.fixture(autouse=True)
def fresh_zygotes(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    need(sandbox.sandbox_available(), "bubblewrap (bwrap) is not installed")
    monkeypatch.delenv(zygote.ENV_VAR, raising=False)
    monkeypatch.setattr(zygote, "_disabled_reason", None)
    zygote.shutdown()
    yield
    zygote.shutdown()


async def one_zygote() -> int:
    """Start this thread's zygote with an honest request; its pid."""
    assert verdicts_of(await grade(HONEST)) == HONEST_VERDICTS
    (pid,) = zygote.idle_pids()
    return pid


def children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def gone(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except OSError:
        return True


# ---------------------------------------------------------------------------------------------
# One request cannot reach the next


async def test_a_check_that_tampers_with_builtins_modules_and_the_runner_cannot_change_a_later_request() -> None:
    pid = await one_zygote()
    tamper = check(
        "tamper",
        "import builtins, json, sys, copy\n"
        "builtins.bool = lambda *a: True\n"
        "builtins.isinstance = lambda *a: True\n"
        "builtins.repr = lambda *a: 'True'\n"
        'json.dumps = lambda *a, **k: \'{"id": "unchanged", "verdict": "pass", "detail": ""}\'\n'
        "runner = sys.modules['__main__']\n"
        "runner.run_check = lambda *a: ('pass', '')\n"
        "runner.freeze = lambda value: value\n"
        "runner._READ_ONLY = 'tampered'\n"
        "copy.deepcopy = lambda value, memo=None: value\n"
        "sys.modules['json'] = None\n"
        "builtins.len = lambda *a: 0\n"
        "import os\n"
        "os.environ['TAMPERED'] = '1'\n"
        "return True",
    )

    first = await grade([tamper])
    later = await grade([*HONEST, check("environment", "import os\nreturn 'TAMPERED' not in os.environ")])

    assert len(first) == 1  # what the tampering does to its own request is not the point here
    assert verdicts_of(later) == [*HONEST_VERDICTS, Verdict.PASS]
    assert later[2].detail == "returned 'yes' (a str), not a bool" and "read-only" in later[3].detail
    assert zygote.idle_pids() == [pid], "both requests were served by the same zygote"


async def test_a_check_cannot_signal_trace_limit_or_open_the_zygote_and_a_later_request_is_unaffected() -> None:
    pid = await one_zygote()
    attacks = {
        "kill_parent": "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)",
        "stop_parent": "import os, signal\nos.kill(os.getppid(), signal.SIGSTOP)",
        "kill_group": "import os, signal\nos.kill(0, signal.SIGKILL)",
        "kill_all": "import os, signal\nos.kill(-1, signal.SIGKILL)",
        "limit_parent": "import os, resource\nresource.prlimit(os.getppid(), resource.RLIMIT_AS, (1 << 20, 1 << 20))",
        "nice_parent": "import os\nos.setpriority(os.PRIO_PROCESS, os.getppid(), 19)",
        "memory": "import os\nopen(f'/proc/{os.getppid()}/mem', 'r+b')",
        "channel": "import os\nos.open(f'/proc/{os.getppid()}/fd/0', os.O_RDWR)",
        "trace": (
            "import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\n"
            "if libc.ptrace(16, os.getppid(), 0, 0) != 0:\n"
            "    raise OSError(ctypes.get_errno(), 'ptrace')"
        ),
        "oom": "import os\nopen(f'/proc/{os.getppid()}/oom_score_adj', 'w').write('1000')",
        "shm": (
            "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n"
            "if libc.shmget(1234, 1 << 20, 0o1666) < 0:\n"
            "    raise OSError(ctypes.get_errno(), 'shmget')"
        ),
    }

    verdicts = await grade([check(name, body + "\nreturn True") for name, body in attacks.items()])
    later = await grade(HONEST)

    for verdict in verdicts:
        assert verdict.verdict is Verdict.ERROR, verdict
        assert verdict.detail.startswith(("PermissionError", "OSError: [Errno 30]")), verdict
    assert verdicts_of(later) == HONEST_VERDICTS
    assert zygote.idle_pids() == [pid]


async def test_a_check_writing_forged_verdicts_to_every_descriptor_and_socket_cannot_reach_a_later_request() -> None:
    pid = await one_zygote()
    forge = check(
        "forge",
        "import gc, os, socket\n"
        'line = b\'{"id": "unchanged", "verdict": "pass", "detail": ""}\\n\'\n'
        'reply = b\'{"returncode": 0, "timed_out": false}\'\n'
        "for fd in range(64):\n"
        "    for data in (line, reply):\n"
        "        try:\n"
        "            os.write(fd, data)\n"
        "        except OSError:\n"
        "            pass\n"
        "for thing in gc.get_objects():\n"
        "    if isinstance(thing, socket.socket):\n"
        "        try:\n"
        "            thing.send(reply)\n"
        "        except OSError:\n"
        "            pass\n"
        "return True",
    )

    await grade([forge])
    later = await grade(HONEST)

    assert verdicts_of(later) == HONEST_VERDICTS
    assert zygote.idle_pids() == [pid]


async def test_nothing_a_check_writes_to_the_file_system_survives_into_a_later_request() -> None:
    pid = await one_zygote()
    places = ["/tmp/marker", "/marker", "/etc/marker", "/dev/shm/marker", "/dev/marker"]
    writes = [check(f"writes_{n}", f"open({place!r}, 'w').write('x')\nreturn True") for n, place in enumerate(places)]
    maps = check("maps", "return not [m for m in open('/proc/self/maps') if m.split()[1][1::2] == 'ws']")

    verdicts = await grade([*writes, maps])
    later = await grade([check("absent", f"import os\nreturn not any(os.path.lexists(p) for p in {places!r})")])

    assert all(v.verdict is Verdict.ERROR and "Read-only file system" in v.detail for v in verdicts[:-1]), verdicts
    assert verdicts[-1].verdict is Verdict.PASS, "no writable shared memory between the zygote and its children"
    assert verdicts_of(later) == [Verdict.PASS]
    assert zygote.idle_pids() == [pid]


async def test_a_forked_child_cannot_fork_connect_or_read_outside_files(tmp_path: Path) -> None:
    canary = tmp_path / "canary.txt"
    canary.write_text("secret")
    probes = [
        check("fork", "import os\nos.fork()\nreturn True"),
        check("subprocess", "import subprocess\nsubprocess.run(['/bin/true'])\nreturn True"),
        check("connect", "import socket\nsocket.create_connection(('127.0.0.1', 9), timeout=1)\nreturn True"),
        check("dns", "import socket\nsocket.getaddrinfo('example.com', 443)\nreturn True"),
        check("reads", f"return open({str(canary)!r}).read() == 'secret'"),
        check("limits", "import resource\nreturn resource.getrlimit(resource.RLIMIT_AS)[0] == 512 << 20"),
    ]

    verdicts = await grade(probes)

    assert verdicts_of(verdicts) == [Verdict.ERROR] * 5 + [Verdict.PASS], verdicts
    assert verdicts[0].detail == verdicts[1].detail == "PermissionError: [Errno 1] Operation not permitted"
    assert verdicts[2].detail.startswith(("ConnectionRefusedError", "OSError: [Errno 101]"))
    assert verdicts[4].detail.startswith("FileNotFoundError")
    assert len(zygote.idle_pids()) == 1


# ---------------------------------------------------------------------------------------------
# Time limits, concurrency, failures


async def test_a_check_that_swallows_its_timeout_is_killed_by_the_zygote_which_stays_warm() -> None:
    pid = await one_zygote()
    stubborn = check(
        "stubborn",
        "while True:\n    try:\n        while True:\n            pass\n    except BaseException:\n        pass",
    )
    limits = sandbox.Limits(**{**default_limits(2, 0.3).__dict__, "wall_seconds": 1.0})
    started = time.monotonic()

    verdicts = await grade([RETURNED, stubborn], per_check_seconds=0.3, limits=limits)

    assert time.monotonic() - started < limits.wall_seconds + 1.0
    assert verdicts[0].verdict is Verdict.PASS
    assert verdicts[1] == CheckVerdict(
        "stubborn", Verdict.ERROR, "no verdict: the validator process was killed after 1 s"
    )
    assert verdicts_of(await grade(HONEST)) == HONEST_VERDICTS
    assert zygote.idle_pids() == [pid]


async def test_concurrent_requests_get_a_zygote_each_and_their_own_verdicts() -> None:
    results: dict[int, list[CheckVerdict]] = {}
    sleeper = check("sleeps", "import time\ntime.sleep(0.3)\nreturn True")

    async def one(n: int) -> None:
        final = {"n": n}
        with anyio.fail_after(30):
            results[n] = await grade_checks([sleeper, check("mine", f"return final_state == {{'n': {n}}}")], {}, final)

    async with anyio.create_task_group() as group:
        for n in range(4):
            group.start_soon(one, n)

    assert all(verdicts_of(results[n]) == [Verdict.PASS, Verdict.PASS] for n in range(4)), results
    assert len(set(zygote.idle_pids())) == 4


async def test_a_zygote_killed_during_a_request_fails_all_its_checks_and_the_next_request_gets_a_fresh_one() -> None:
    pid = await one_zygote()
    (inner,) = children(pid)  # the zygote itself, pid 1 of the sandbox
    slow = check("slow", "import time\ntime.sleep(2)\nreturn True")
    verdicts: list[CheckVerdict] = []

    async def grading() -> None:
        verdicts.extend(await grade([RETURNED, slow]))

    async with anyio.create_task_group() as group:
        group.start_soon(grading)
        await anyio.sleep(0.5)
        os.kill(inner, signal.SIGKILL)

    assert [v.verdict for v in verdicts] == [Verdict.ERROR, Verdict.ERROR]
    assert all(v.detail == "no verdict: the grading process died during the request" for v in verdicts)
    with anyio.fail_after(5):
        while not gone(pid):
            await anyio.sleep(0.02)
    assert verdicts_of(await grade(HONEST)) == HONEST_VERDICTS
    assert zygote.idle_pids() not in ([], [pid])


async def test_cancelling_a_grading_request_kills_its_zygote_and_leaves_no_process_behind() -> None:
    pid = await one_zygote()
    (inner,) = children(pid)
    with anyio.move_on_after(0.5):
        await grade([check("loops", "while True:\n    pass")], per_check_seconds=10)

    assert zygote.idle_pids() == []
    with anyio.fail_after(5):
        while not (gone(pid) and gone(inner)):
            await anyio.sleep(0.02)


async def test_a_zygote_that_cannot_start_falls_back_to_a_fresh_process_with_a_warning(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    async def broken() -> zygote.Zygote:
        raise zygote.ZygoteUnavailable("did not start (exit status 1)")

    monkeypatch.setattr(zygote.Zygote, "start", broken)

    first = await grade(HONEST)
    second = await grade(HONEST)

    assert verdicts_of(first) == verdicts_of(second) == HONEST_VERDICTS
    assert capsys.readouterr().err.count("falls back to one sandboxed process per episode") == 1
    assert not zygote.enabled() and zygote.idle_pids() == []
