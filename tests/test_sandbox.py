"""The OS sandbox: what untrusted code can and cannot do, and that the harness stays in control."""

from __future__ import annotations

import os
import resource
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

import anyio
import pytest

from envmint import sandbox, seccomp
from envmint.seccomp import seccomp_program
from tests.conftest import need

pytestmark = pytest.mark.anyio

LIMITS = sandbox.Limits(
    wall_seconds=5.0, cpu_seconds=5, memory_mb=512, max_output_bytes=1 << 20, max_file_bytes=1 << 20
)


@pytest.fixture
def bwrap() -> None:
    need(sandbox.sandbox_available(), "bubblewrap (bwrap) is not installed")


async def run_python(
    code: str, *extra: str, limits: sandbox.Limits = LIMITS, readable: Sequence[Path] = ()
) -> sandbox.SandboxResult:
    with anyio.fail_after(limits.wall_seconds + 10):
        return await sandbox.run_sandboxed(
            [sys.executable, "-I", "-c", code, *extra], stdin=b"", readable=readable, limits=limits
        )


def processes_with(marker: str) -> list[int]:
    """Pids of live processes whose command line holds ``marker``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def no_process_in_group(pgid: int) -> bool:
    return subprocess.run(["pgrep", "-g", str(pgid)], capture_output=True, timeout=10).returncode == 1


# ---------------------------------------------------------------------------------------------
# Failing closed


def test_without_bwrap_untrusted_code_is_refused_unless_the_unsafe_override_is_set(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sandbox, "_bwrap_path", lambda: None)
    monkeypatch.setattr(sandbox, "_warned_unsafe", False)
    monkeypatch.delenv(sandbox.UNSAFE_ENV_VAR, raising=False)

    assert not sandbox.sandbox_available()
    with pytest.raises(sandbox.SandboxUnavailable, match="bubblewrap"):
        sandbox.sandboxed_argv([sys.executable, "-c", "pass"], limits=LIMITS)
    with pytest.raises(sandbox.SandboxUnavailable):
        sandbox.sandbox_mode()

    monkeypatch.setenv(sandbox.UNSAFE_ENV_VAR, "1")
    argv = sandbox.sandboxed_argv([sys.executable, "-c", "pass"], limits=LIMITS)
    sandbox.sandboxed_argv([sys.executable, "-c", "pass"], limits=LIMITS)
    assert sandbox.sandbox_mode() == "unsafe-rlimits-only"
    assert not any("bwrap" in part for part in argv)
    assert argv[-3:] == [sys.executable, "-c", "pass"]
    assert capsys.readouterr().err.count("WARNING") == 1


async def test_the_unsafe_fallback_still_applies_limits_and_clears_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sandbox, "_bwrap_path", lambda: None)
    monkeypatch.setattr(sandbox, "_warned_unsafe", True)
    monkeypatch.setenv(sandbox.UNSAFE_ENV_VAR, "1")
    monkeypatch.setenv("FAKE_API_KEY", "sk-canary-unsafe")
    code = "import os, resource; print(resource.getrlimit(resource.RLIMIT_AS)[0] >> 20, sorted(os.environ))"

    result = await run_python(code)

    assert result.mode == "unsafe-rlimits-only"
    assert result.returncode == 0, result.stderr
    assert result.stdout.split(b" ", 1)[0] == b"512"
    assert b"FAKE_API_KEY" not in result.stdout


def test_the_seccomp_filter_is_skipped_only_on_architectures_it_does_not_know() -> None:
    for machine in ("x86_64", "aarch64"):
        program = seccomp_program(machine)
        assert program is not None and len(program) % 8 == 0
    assert seccomp_program("riscv64") is None


def test_the_zygote_and_strict_filters_change_only_what_they_say_on_both_architectures() -> None:
    def compared(program: bytes | None) -> set[int]:
        """The constants the filter compares the syscall number (and arguments) with."""
        assert program is not None
        return {
            int.from_bytes(program[i + 4 : i + 8], "little") for i in range(0, len(program), 8) if program[i] == 0x15
        }

    for machine, fork, kill in (("x86_64", 57, 62), ("aarch64", None, 129)):
        default = compared(seccomp_program(machine))
        zygote = compared(seccomp_program(machine, allow_processes=True))
        strict = compared(seccomp_program(machine, strict=True))
        clone = seccomp._SYSCALL_NUMBERS[machine]["clone"]
        assert zygote == default - {clone, fork, 58}  # fork, vfork and clone are no longer refused
        assert default < strict and kill in strict and kill not in default
    assert seccomp_program("riscv64", strict=True) is None


# ---------------------------------------------------------------------------------------------
# Isolation


@pytest.mark.usefixtures("bwrap")
async def test_a_canary_environment_variable_in_the_harness_is_invisible_in_the_sandbox(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    secret = "sk-canary-" + uuid.uuid4().hex
    monkeypatch.setenv("FAKE_API_KEY", secret)
    code = (
        "import os, sys\n"
        "print(dict(os.environ))\n"
        "try:\n"
        f"    print(open('/proc/{os.getpid()}/environ').read())\n"
        "except OSError as exc:\n"
        "    print('no harness environ:', type(exc).__name__)\n"
    )

    result = await run_python(code)

    assert result.returncode == 0, result.stderr
    assert secret.encode() not in result.stdout and secret not in result.stderr
    assert b"FAKE_API_KEY" not in result.stdout
    assert b"no harness environ" in result.stdout


@pytest.mark.usefixtures("bwrap")
async def test_a_canary_file_outside_the_sandbox_cannot_be_read(tmp_path: Path) -> None:
    secret = "canary-" + uuid.uuid4().hex
    canary = tmp_path / "canary.txt"
    canary.write_text(secret)

    result = await run_python(f"print(open({str(canary)!r}).read())")

    assert result.returncode != 0
    assert "FileNotFoundError" in result.stderr
    assert secret.encode() not in result.stdout and secret not in result.stderr


@pytest.mark.usefixtures("bwrap")
async def test_readable_paths_can_be_read_but_nothing_on_the_host_can_be_written(tmp_path: Path) -> None:
    shared = tmp_path / "shared.txt"
    shared.write_text("hello")
    code = (
        f"print(open({str(shared)!r}).read())\n"
        f"for target in [{str(shared)!r}, '/usr/evil.txt', {sys.prefix + '/evil.txt'!r}]:\n"
        "    try:\n"
        "        open(target, 'w').write('x')\n"
        "        print('WROTE', target)\n"
        "    except OSError as exc:\n"
        "        print('refused', type(exc).__name__)\n"
        f"open({str(tmp_path / 'new.txt')!r}, 'w').write('only in the sandbox tmpfs')\n"
    )

    result = await run_python(code, readable=[shared])

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(b"hello\n")
    assert b"WROTE" not in result.stdout and result.stdout.count(b"refused") == 3
    assert shared.read_text() == "hello"
    assert not (tmp_path / "new.txt").exists()
    assert not Path(sys.prefix, "evil.txt").exists()


@pytest.mark.usefixtures("bwrap")
async def test_a_loopback_listener_on_the_host_is_unreachable_from_the_sandbox() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        listener.setblocking(False)
        port = listener.getsockname()[1]
        code = (
            "import socket\n"
            "try:\n"
            f"    socket.create_connection(('127.0.0.1', {port}), timeout=2)\n"
            "    print('CONNECTED')\n"
            "except OSError as exc:\n"
            "    print('refused', type(exc).__name__)\n"
            "try:\n"
            "    socket.getaddrinfo('example.com', 443)\n"
            "    print('RESOLVED')\n"
            "except OSError as exc:\n"
            "    print('no dns', type(exc).__name__)\n"
        )

        result = await run_python(code)

        assert result.returncode == 0, result.stderr
        assert b"refused" in result.stdout and b"no dns" in result.stdout
        with pytest.raises(BlockingIOError):
            listener.accept()  # zero connections ever reached the listener


# ---------------------------------------------------------------------------------------------
# Resource limits and process control


@pytest.mark.usefixtures("bwrap")
async def test_a_process_past_its_wall_limit_is_killed_with_all_its_threads_and_the_harness_returns() -> None:
    marker = "loop-" + uuid.uuid4().hex
    limits = sandbox.Limits(wall_seconds=1.0, cpu_seconds=30)
    code = (
        "import threading\nfor _ in range(4):\n    threading.Thread(target=lambda: [0 for _ in iter(int, 1)]).start()\n"
    )
    started = time.monotonic()

    result = await run_python(code + "while True: pass\n", marker, limits=limits)

    assert time.monotonic() - started < limits.wall_seconds + 1.5
    assert result.timed_out and result.returncode != 0
    assert no_process_in_group(result.pid)
    with anyio.fail_after(5):
        while processes_with(marker):
            await anyio.sleep(0.05)


@pytest.mark.usefixtures("bwrap")
async def test_a_process_over_its_cpu_limit_is_killed_before_its_wall_limit() -> None:
    result = await run_python("while True: pass", limits=sandbox.Limits(wall_seconds=10, cpu_seconds=1))

    assert not result.timed_out and result.elapsed_seconds < 5
    assert result.returncode in (-24, 128 + 24)  # SIGXCPU, directly or as reported by bwrap


@pytest.mark.usefixtures("bwrap")
async def test_a_fork_loop_fails_at_its_first_fork_and_leaves_no_survivors() -> None:
    marker = "forkbomb-" + uuid.uuid4().hex
    code = (
        "import os\n"
        "children = 0\n"
        "try:\n"
        "    while True:\n"
        "        if os.fork() == 0:\n"
        "            while True: pass\n"
        "        children += 1\n"
        "except OSError as exc:\n"
        "    print('children', children, type(exc).__name__)\n"
        "import subprocess\n"
        "try:\n"
        "    subprocess.run(['/bin/true'])\n"
        "except OSError as exc:\n"
        "    print('no subprocess', type(exc).__name__)\n"
    )

    result = await run_python(code, marker)

    assert result.stdout == b"children 0 PermissionError\nno subprocess PermissionError\n", result.stderr
    assert no_process_in_group(result.pid)
    assert processes_with(marker) == []


@pytest.mark.usefixtures("bwrap")
async def test_threads_still_work_in_the_sandbox() -> None:
    code = (
        "import threading\nout = []\n"
        "ts = [threading.Thread(target=out.append, args=(n,)) for n in range(8)]\n"
        "[t.start() for t in ts]; [t.join() for t in ts]\nprint(sorted(out))\n"
    )

    result = await run_python(code)

    assert result.stdout == b"[0, 1, 2, 3, 4, 5, 6, 7]\n", result.stderr


@pytest.mark.usefixtures("bwrap")
async def test_a_two_gigabyte_allocation_fails_with_a_memory_error() -> None:
    result = await run_python("data = bytearray(2 * 1024 ** 3)\nprint('ALLOCATED')")

    assert result.returncode != 0
    assert b"ALLOCATED" not in result.stdout
    assert "MemoryError" in result.stderr


@pytest.mark.usefixtures("bwrap")
async def test_files_beyond_the_size_limit_are_refused() -> None:
    code = "open('/tmp/big', 'wb').write(b'x' * (2 << 20))"

    result = await run_python(code)

    assert result.returncode != 0
    assert "File too large" in result.stderr


@pytest.mark.usefixtures("bwrap")
async def test_fifty_megabytes_of_output_are_cut_at_the_cap_and_never_held_by_the_harness() -> None:
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss >> 10
    code = (
        "import sys\n"
        "for _ in range(50):\n"
        "    sys.stdout.buffer.write(b'x' * (1 << 20))\n"
        "    sys.stderr.write('e' * (1 << 20))\n"
    )

    result = await run_python(code)

    assert result.returncode == 0
    assert result.truncated and result.stderr_truncated
    assert len(result.stdout) == LIMITS.max_output_bytes
    assert len(result.stderr) == LIMITS.max_output_bytes
    assert (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss >> 10) - rss_before < 50


@pytest.mark.usefixtures("bwrap")
async def test_stdin_is_delivered_and_a_child_that_ignores_it_does_not_block_the_harness() -> None:
    echo = "import sys; sys.stdout.buffer.write(sys.stdin.buffer.read()[::-1])"
    with anyio.fail_after(15):
        result = await sandbox.run_sandboxed([sys.executable, "-I", "-c", echo], stdin=b"abc", limits=LIMITS)
        ignored = await sandbox.run_sandboxed(
            [sys.executable, "-I", "-c", "print('done')"], stdin=b"x" * (8 << 20), limits=LIMITS
        )

    assert result.stdout == b"cba"
    assert ignored.stdout == b"done\n" and not ignored.timed_out


@pytest.mark.usefixtures("bwrap")
async def test_cancelling_the_caller_kills_the_sandboxed_process() -> None:
    marker = "cancel-" + uuid.uuid4().hex
    with anyio.move_on_after(1.0):
        await run_python("while True: pass", marker, limits=sandbox.Limits(wall_seconds=30, cpu_seconds=30))

    with anyio.fail_after(5):
        while processes_with(marker):
            await anyio.sleep(0.05)
