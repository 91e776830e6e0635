"""Warm grading zygotes: one sandboxed process forks a fresh, fully limited child per grading request.

Starting a sandboxed child per episode (bwrap, the launcher, a second interpreter) costs about
45 ms of wall time and 50 ms of CPU, against about 1 ms for the checks themselves. A zygote pays
that start once: it is ``_child.py --zygote``, a trusted stdlib-only process inside the usual
sandbox (bwrap: no network, a cleared environment, no capabilities), and for each request it
forks a child that

1. moves the three pipes the harness sent with the request to fd 0 (the request), fds 1 and 2
   (stderr) and fd 3 (verdicts), and closes every other descriptor, the zygote's channel included;
2. sets the request's ``RLIMIT_AS``, ``RLIMIT_CPU``, ``RLIMIT_FSIZE`` and ``RLIMIT_NPROC``;
3. installs the strict seccomp filter (``seccomp_program(strict=True)``): no new
   processes or namespaces, as for every sandboxed process, and also nothing that reaches another
   process of the sandbox (signals, ptrace, its memory, its limits or its scheduling) or leaves an
   object behind (System V IPC, message queues, keys);
4. runs the checks exactly as a fresh ``_child.py`` does (frozen states, a timer per check,
   bool-only verdicts), writing its verdicts straight to the harness.

The zygote's own filter differs from the default one only in allowing ``fork``.

Why one request cannot influence another's verdicts:

- every request runs in a new child forked from the zygote, which never runs check code, so
  whatever a check changes (builtins, modules, ``sys.modules``, its own memory) dies with it;
- the zygote replies only after its child is dead and reaped, and a child has no descriptor of
  the harness's channel, so nothing of a request outlives it or reaches the next one;
- the zygote is not dumpable and is pid 1 of the sandbox's pid namespace (``--as-pid-1``: no
  bwrap reaper process, which would be dumpable, beside it), so a child cannot trace it or open
  its memory or descriptors through ``/proc``, and the filter refuses signals and ``prlimit``;
- the sandbox's whole file system, ``/tmp``, ``/dev`` and ``/proc`` included, is read-only, so a
  child can leave no file and write no ``/proc`` knob for a later one;
- the zygote never reads a request body or a verdict (the harness passes the pipes to the child
  over ``SCM_RIGHTS``), so the memory later children are forked from holds no other episode's
  states or checks.

Failures: if a zygote dies, hangs or answers nonsense during a request, that request's checks are
all errors (never passes) and the zygote is killed; the next request starts a fresh one. A zygote
that fails to start is not a grading failure (no check ran): grading falls back to one sandboxed
process per request for the rest of the process, with a warning. ``ENVMINT_GRADING_ZYGOTE=0``
turns zygotes off. Without bwrap (the unsafe override) there are no zygotes.

Zygotes are kept per thread (bwrap's ``--die-with-parent`` follows the thread that started it)
and per process, one per concurrent request, started lazily and killed at exit.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import select
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import anyio

from envmint import sandbox
from envmint.seccomp import seccomp_program

CHILD = Path(__file__).resolve().with_name("_child.py")
ENV_VAR = "ENVMINT_GRADING_ZYGOTE"

LIMITS = sandbox.Limits(
    wall_seconds=0, cpu_seconds=0, memory_mb=4096, max_output_bytes=1 << 16, max_processes=64, max_file_bytes=0
)
"""The zygote's own limits. A child can only lower them, so they bound what a request may ask for."""

STARTUP_SECONDS = 20.0
REPLY_GRACE_SECONDS = 5.0
"""How long after a request's wall limit the zygote has to answer before it is declared hung."""
MAX_IDLE = 8

_READY = {"ready": True}
_READ_CHUNK = 1 << 16


class ZygoteUnavailable(RuntimeError):
    """A zygote could not be started (no check ran): the caller grades in a fresh process instead."""


class ZygoteLost(RuntimeError):
    """The zygote died, hung or misbehaved during a request: every check of that request is an error."""


def enabled() -> bool:
    """Zygotes are used unless ``ENVMINT_GRADING_ZYGOTE=0`` or one already failed to start here."""
    return os.environ.get(ENV_VAR, "1") != "0" and _disabled_reason is None


def fits(limits: sandbox.Limits) -> bool:
    """Whether a child of a zygote can honour ``limits`` (children can only lower the zygote's)."""
    return limits.wall_seconds > 0 and limits.memory_mb <= LIMITS.memory_mb


class Zygote:
    """One running zygote, used by one request at a time."""

    def __init__(self, process: subprocess.Popen[bytes], channel: socket.socket) -> None:
        self.process = process
        self.channel = channel

    @property
    def pid(self) -> int:
        """The pid of its bwrap process (also its process group)."""
        return self.process.pid

    @classmethod
    async def start(cls) -> Zygote:
        program = seccomp_program(strict=True)
        if program is None:
            raise ZygoteUnavailable("no seccomp filter for this architecture")
        argv = sandbox.sandboxed_argv(
            [sys.executable, "-I", "-S", str(CHILD), "--zygote", program.hex()],
            readable=[CHILD],
            limits=LIMITS,
            allow_processes=True,
            read_only=True,
            as_pid_1=True,
        )
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            process = subprocess.Popen(
                argv,
                stdin=theirs.fileno(),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
                env=sandbox.SANDBOX_ENV,
            )
        except OSError as exc:
            ours.close()
            raise ZygoteUnavailable(f"could not start: {exc}") from exc
        finally:
            theirs.close()
        ours.setblocking(False)
        zygote = cls(process, ours)
        try:
            with anyio.fail_after(STARTUP_SECONDS):
                message = await zygote._receive()
            if not message or _loads(message) != _READY:
                raise ZygoteUnavailable(f"did not start (exit status {process.poll()})")
        except TimeoutError:
            zygote.kill()
            raise ZygoteUnavailable(f"not ready after {STARTUP_SECONDS:g} s") from None
        except BaseException:
            zygote.kill()
            raise
        _live.add(zygote)
        return zygote

    def idle_and_alive(self) -> bool:
        """Running, and nothing unasked-for (or end-of-file) waiting on its channel."""
        if self.process.poll() is not None:
            return False
        try:
            return not select.select([self.channel], [], [], 0)[0]
        except (OSError, ValueError):
            return False

    async def _receive(self) -> bytes:
        """One message from the zygote; b"" when it is gone."""
        while True:
            try:
                return self.channel.recv(_READ_CHUNK)
            except BlockingIOError:
                await anyio.wait_readable(self.channel)
            except OSError:
                return b""

    async def run(self, payload: bytes, limits: sandbox.Limits) -> sandbox.SandboxResult:
        """Run one grading request (``payload`` is the child's stdin). Raises :class:`ZygoteLost`;
        on that or any other exception (cancellation included) the zygote has been killed."""
        try:
            with anyio.fail_after(limits.wall_seconds + REPLY_GRACE_SECONDS):
                return await self._run(payload, limits)
        except TimeoutError:
            self.kill()
            raise ZygoteLost(f"the grading process did not answer within {limits.wall_seconds:g} s") from None
        except BaseException:
            self.kill()
            raise

    async def _run(self, payload: bytes, limits: sandbox.Limits) -> sandbox.SandboxResult:
        header = json.dumps(
            {"wall_seconds": limits.wall_seconds, "rlimits": sandbox.rlimits(limits, nproc=True)}
        ).encode()
        stdin_r, stdin_w = os.pipe()
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        ours = [stdin_w, out_r, err_r]
        try:
            socket.send_fds(self.channel, [header], [stdin_r, out_w, err_w])
        except OSError as exc:
            for fd in ours:
                os.close(fd)
            raise ZygoteLost(f"the grading process is gone ({type(exc).__name__})") from None
        finally:
            for fd in (stdin_r, out_w, err_w):
                os.close(fd)  # the child's ends live in the zygote and its child now
        for fd in ours:
            os.set_blocking(fd, False)
        out = sandbox._Capture(limits.max_output_bytes, keep_tail=False)
        err = sandbox._Capture(limits.max_output_bytes, keep_tail=True)
        started = time.monotonic()
        async with anyio.create_task_group() as group:
            group.start_soon(_feed, stdin_w, payload)
            group.start_soon(_drain, out_r, out)
            group.start_soon(_drain, err_r, err)
            reply = await self._receive()
            answer = _answer(reply)
            if answer is None:
                self.kill()  # its child dies with the sandbox, so the drains end
        if answer is None:
            raise ZygoteLost(f"the grading process {'answered nonsense' if reply else 'died'} during the request")
        returncode, timed_out = answer
        return sandbox.SandboxResult(
            returncode=returncode,
            stdout=bytes(out.data),
            stderr=err.data.decode("utf-8", "replace"),
            timed_out=timed_out,
            truncated=out.overflowed,
            stderr_truncated=err.overflowed,
            elapsed_seconds=time.monotonic() - started,
            mode="bwrap",
            pid=self.pid,
        )

    def kill(self) -> None:
        """Kill the zygote's whole sandbox and reap it (idempotent)."""
        _live.discard(self)
        with contextlib.suppress(OSError):
            self.channel.close()
        if self.process.poll() is None:
            sandbox._kill_group(self.process.pid)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(timeout=sandbox._REAP_SECONDS)


def _loads(message: bytes) -> dict[str, Any]:
    try:
        value = json.loads(message)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _answer(reply: bytes) -> tuple[int, bool] | None:
    """(returncode, timed_out) from a zygote's reply; None for end-of-file or anything malformed."""
    answer = _loads(reply)
    returncode, timed_out = answer.get("returncode"), answer.get("timed_out")
    if type(returncode) is not int or type(timed_out) is not bool:
        return None
    return returncode, timed_out


async def _feed(fd: int, data: bytes) -> None:
    view = memoryview(data)
    try:
        while view:
            try:
                view = view[os.write(fd, view[:_READ_CHUNK]) :]
            except BlockingIOError:
                await anyio.wait_writable(fd)
    except OSError:
        pass  # the child stopped reading; its exit status and verdicts tell the story
    finally:
        os.close(fd)


async def _drain(fd: int, capture: sandbox._Capture) -> None:
    try:
        while True:
            try:
                chunk = os.read(fd, _READ_CHUNK)
            except BlockingIOError:
                await anyio.wait_readable(fd)
                continue
            if not chunk:
                return
            capture.add(chunk)
    finally:
        os.close(fd)


# ---------------------------------------------------------------------------------------------
# The pool: idle zygotes per thread and process; every live one is killed at exit


class _Pool(threading.local):
    def __init__(self) -> None:
        self.pid = os.getpid()
        self.idle: list[Zygote] = []


_pool = _Pool()
_live: set[Zygote] = set()
_disabled_reason: str | None = None


def _idle() -> list[Zygote]:
    if _pool.pid != os.getpid():  # a forked copy of the harness: the zygotes belong to the parent
        _pool.pid, _pool.idle = os.getpid(), []
    return _pool.idle


async def _acquire() -> Zygote:
    idle = _idle()
    while idle:
        zygote = idle.pop()
        if zygote.idle_and_alive():
            return zygote
        zygote.kill()
    return await Zygote.start()


def _release(zygote: Zygote) -> None:
    idle = _idle()
    if zygote.idle_and_alive() and len(idle) < MAX_IDLE:
        idle.append(zygote)
    else:
        zygote.kill()


async def run(payload: bytes, limits: sandbox.Limits) -> sandbox.SandboxResult:
    """Grade one request in a child of a warm zygote.

    Raises :class:`ZygoteUnavailable` when no zygote could be started (nothing ran: grade in a
    fresh process instead; zygotes are then off for this process) and :class:`ZygoteLost` when
    the zygote failed during the request (its checks are errors).
    """
    global _disabled_reason
    try:
        zygote = await _acquire()
    except ZygoteUnavailable as exc:
        _disabled_reason = str(exc)
        sys.stderr.write(
            f"envmint: WARNING: the grading zygote {exc}; grading falls back to one sandboxed process per episode.\n"
        )
        raise
    result = await zygote.run(payload, limits)  # kills the zygote on any failure
    _release(zygote)
    return result


def idle_pids() -> list[int]:
    """The bwrap pids of this thread's idle zygotes (for tests and diagnostics)."""
    return [zygote.pid for zygote in _idle()]


def shutdown() -> None:
    """Kill every zygote of this process (registered with :mod:`atexit`)."""
    _idle().clear()
    for zygote in list(_live):
        zygote.kill()


atexit.register(shutdown)
