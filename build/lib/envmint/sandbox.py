"""The OS sandbox for untrusted Python: bubblewrap namespaces plus resource limits, failing closed.

LLM-written code (environment classes, validators) never runs in the harness or pipeline process.
It runs as a child process built by :func:`sandboxed_argv`:

``bwrap`` (bubblewrap) gives the child its own user, mount, pid, network, ipc and uts namespaces.
The child sees read-only binds of the system libraries, the running Python installation and
the caller's ``readable`` paths, a small private ``/tmp``, and nothing else: no repository, no
home directory, no host network (not even the host's loopback), no environment variables from
the harness.

Inside the sandbox a tiny trusted launcher (``python -I -S -c ...``, :data:`_LAUNCHER`) applies
resource limits and a seccomp filter and then ``exec``\\ s the real command, so the limits bind the
command and everything it starts. Why a Python launcher and not ``prlimit``: the interpreter is
already bound into the sandbox (util-linux may be absent on a minimal image), and the launcher can
also install the seccomp filter, which ``prlimit`` cannot. It costs one extra interpreter start
(``-S``, about 15 ms).

Why a seccomp filter: ``RLIMIT_NPROC`` is not enforced for uid 0 (the kernel exempts the root
user, and bwrap maps root to root), and CI runs as root. So the filter refuses every new process
(``fork``, ``vfork``, ``clone`` without ``CLONE_THREAD``; ``clone3`` answers ``ENOSYS`` so libc
falls back to ``clone``, whose flags the filter can read) and new namespaces (``unshare``,
``setns``). Threads still work. A fork bomb therefore fails at its first ``fork``.

Two more profiles serve the grading zygote (:mod:`envmint.grading.zygote`), a trusted process that
forks one child per grading request: ``sandboxed_argv(..., allow_processes=True, read_only=True,
as_pid_1=True)`` gives it a filter that allows ``fork`` (still no namespaces), a wholly read-only
file system and no bwrap reaper beside it, and ``seccomp_program(strict=True)`` is the filter it
installs in each child: the default one plus no signals, tracing, memory access, ``prlimit`` or
scheduling changes aimed at other processes, and no System V IPC, message queues or keys.

Without bwrap, :func:`sandboxed_argv` raises :class:`SandboxUnavailable`, unless
``ENVMINT_UNSAFE_NO_SANDBOX=1`` is set: then it warns once on stderr and returns the command
wrapped only in the launcher (limits, seccomp, a cleared environment). :func:`sandbox_mode` tells
results which of the two was used.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import anyio
from anyio.abc import ByteReceiveStream, ByteSendStream

from envmint.seccomp import seccomp_program

UNSAFE_ENV_VAR = "ENVMINT_UNSAFE_NO_SANDBOX"

SandboxMode = Literal["bwrap", "unsafe-rlimits-only"]

SANDBOX_ENV: dict[str, str] = {
    "PATH": "/usr/bin:/bin",
    "PYTHONDONTWRITEBYTECODE": "1",
    "PYTHONUNBUFFERED": "1",
    "HOME": "/tmp",
    "LANG": "C.UTF-8",
}
"""The whole environment a sandboxed process sees."""

_REAP_SECONDS = 5.0
_READ_CHUNK = 1 << 16


class SandboxUnavailable(RuntimeError):
    """bubblewrap is missing and the unsafe override is not set: untrusted code must not run."""


@dataclass(frozen=True)
class Limits:
    """Resource limits for one sandboxed process. For the fields marked so, 0 means "no limit".

    ``wall_seconds`` is enforced by :func:`run_sandboxed` (which requires it > 0); a caller that
    spawns the process itself enforces its own. ``memory_mb`` caps the address space
    (``RLIMIT_AS``), which is what stops a large allocation with a ``MemoryError``.
    ``max_processes`` is ``RLIMIT_NPROC`` (threads count too); new processes are refused anyway
    by the seccomp filter. ``tmpfs_mb`` sizes the private ``/tmp``.
    """

    wall_seconds: float = 10.0
    cpu_seconds: int = 10  # 0: no limit
    memory_mb: int = 512
    max_output_bytes: int = 1 << 20
    max_processes: int = 64
    max_file_bytes: int = 16 << 20  # 0: no limit
    tmpfs_mb: int = 64

    def __post_init__(self) -> None:
        for name in ("wall_seconds", "cpu_seconds", "max_file_bytes"):
            if getattr(self, name) < 0:
                raise ValueError(f"Limits.{name} must be >= 0")
        for name in ("memory_mb", "max_output_bytes", "max_processes", "tmpfs_mb"):
            if getattr(self, name) <= 0:
                raise ValueError(f"Limits.{name} must be > 0")


@dataclass(frozen=True)
class SandboxResult:
    """How a sandboxed run ended and what it wrote (both streams capped at ``max_output_bytes``)."""

    returncode: int | None
    """Exit status; negative (or 128 + N through bwrap) when killed by signal N; None if never reaped."""
    stdout: bytes
    """The first ``max_output_bytes`` bytes of standard output."""
    stderr: str
    """The last ``max_output_bytes`` bytes of standard error, decoded with replacement."""
    timed_out: bool
    """The wall-clock limit was hit and the process group was killed."""
    truncated: bool
    """Standard output exceeded the cap; the rest was read and discarded."""
    stderr_truncated: bool
    elapsed_seconds: float
    mode: SandboxMode
    pid: int
    """The pid of the process started (bwrap or the launcher), also its process-group id."""


# --------------------------------------------------------------------------------------------
# Finding bwrap, the mode, the unsafe override


def _bwrap_path() -> str | None:
    """Where bwrap is, or None. Tests monkeypatch this to simulate a machine without it."""
    found = shutil.which("bwrap")
    if found:
        return found
    return "/usr/bin/bwrap" if os.access("/usr/bin/bwrap", os.X_OK) else None


@functools.cache
def _bwrap_has_option(bwrap: str, option: str) -> bool:
    try:
        usage = subprocess.run([bwrap, "--help"], capture_output=True, text=True, timeout=10, check=False).stdout
    except (OSError, subprocess.TimeoutExpired):
        return False
    return f"{option} " in usage


def _unsafe_allowed() -> bool:
    return os.environ.get(UNSAFE_ENV_VAR) == "1"


def sandbox_available() -> bool:
    """True when bubblewrap is installed, so untrusted code can run under the real sandbox."""
    return _bwrap_path() is not None


def sandbox_mode() -> SandboxMode:
    """The mode sandboxed runs use now; raises :class:`SandboxUnavailable` when there is none."""
    if sandbox_available():
        return "bwrap"
    if _unsafe_allowed():
        return "unsafe-rlimits-only"
    raise SandboxUnavailable(_UNAVAILABLE_MESSAGE)


_UNAVAILABLE_MESSAGE = (
    "bubblewrap (bwrap) is not installed, so untrusted generated code cannot be run safely. "
    "Install it (Debian/Ubuntu: apt-get install bubblewrap), or set "
    f"{UNSAFE_ENV_VAR}=1 to run with resource limits only (no file-system or network isolation)."
)

_warned_unsafe = False


def _warn_unsafe_once() -> None:
    global _warned_unsafe
    if not _warned_unsafe:
        _warned_unsafe = True
        sys.stderr.write(
            f"envmint: WARNING: {UNSAFE_ENV_VAR}=1 and bwrap is missing: untrusted code runs with resource "
            "limits only, without file-system or network isolation.\n"
        )
        sys.stderr.flush()


# --------------------------------------------------------------------------------------------
# The launcher: runs inside the sandbox, applies limits and the filter, then execs the command

# Its arguments: "NAME:soft:hard,..." rlimits, the filter in hex (or ""), the environment as
# "K=V" lines, then the command. No json: importing it (re, enum, ...) doubles the start-up time.
_LAUNCHER = """\
import os, resource, sys
try:
    for item in sys.argv[1].split(","):
        name, soft, hard = item.split(":")
        which, soft, hard = getattr(resource, name), int(soft), int(hard)
        cur_hard = resource.getrlimit(which)[1]
        if cur_hard != resource.RLIM_INFINITY:
            hard = min(hard, cur_hard)
        resource.setrlimit(which, (min(soft, hard), hard))
    if sys.argv[2]:
        import ctypes
        prog = bytes.fromhex(sys.argv[2])
        buf = ctypes.create_string_buffer(prog, len(prog))
        class Fprog(ctypes.Structure):
            _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]
        fprog = Fprog(len(prog) // 8, ctypes.addressof(buf))
        libc = ctypes.CDLL(None, use_errno=True)
        U = ctypes.c_ulong
        if libc.prctl(38, U(1), U(0), U(0), U(0)) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")
        if libc.prctl(22, U(2), ctypes.byref(fprog), U(0), U(0)) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_SECCOMP) failed")
    env = dict(line.split("=", 1) for line in sys.argv[3].splitlines())
    os.execvpe(sys.argv[4], sys.argv[4:], env)
except BaseException as exc:
    sys.stderr.write("envmint sandbox: setup failed: %s: %s\\n" % (type(exc).__name__, exc))
    sys.stderr.flush()
    os._exit(126)
"""


def rlimits(limits: Limits, *, nproc: bool = True) -> list[tuple[str, int, int]]:
    """The ``(resource.RLIMIT_* name, soft, hard)`` limits that stand for ``limits`` in a process.

    ``nproc=False`` leaves out ``RLIMIT_NPROC`` (outside a user namespace it would count every
    process of the user on the machine).
    """
    result: list[tuple[str, int, int]] = [
        ("RLIMIT_AS", limits.memory_mb << 20, limits.memory_mb << 20),
        ("RLIMIT_CORE", 0, 0),
    ]
    if limits.cpu_seconds:
        # The soft limit sends SIGXCPU (which kills); the hard limit one second later is SIGKILL.
        result.append(("RLIMIT_CPU", limits.cpu_seconds, limits.cpu_seconds + 1))
    if limits.max_file_bytes:
        result.append(("RLIMIT_FSIZE", limits.max_file_bytes, limits.max_file_bytes))
    if nproc:
        result.append(("RLIMIT_NPROC", limits.max_processes, limits.max_processes))
    return result


def _launcher_argv(argv: Sequence[str], limits: Limits, *, nproc: bool, allow_processes: bool = False) -> list[str]:
    program = seccomp_program(allow_processes=allow_processes)
    return [
        sys.executable,
        "-I",
        "-S",
        "-c",
        _LAUNCHER,
        ",".join(f"{name}:{soft}:{hard}" for name, soft, hard in rlimits(limits, nproc=nproc)),
        program.hex() if program else "",
        "\n".join(f"{name}={value}" for name, value in SANDBOX_ENV.items()),
        *argv,
    ]


# --------------------------------------------------------------------------------------------
# The bwrap command line


def _python_paths() -> list[Path]:
    """What the running interpreter needs: its prefixes and every directory on its symlink chain."""
    paths = [Path(sys.prefix), Path(sys.base_prefix), Path(os.path.realpath(sys.executable)).parent]
    link = Path(sys.executable)
    for _ in range(40):
        paths.append(link.parent)
        if not link.is_symlink():
            break
        link = link.parent / os.readlink(link)
    return paths


def _outermost(paths: Sequence[Path]) -> list[Path]:
    """Absolute, normalised, existing, de-duplicated paths, dropping any inside another one."""
    unique = sorted({Path(os.path.abspath(p)) for p in paths if os.path.lexists(p)}, key=lambda p: p.parts)
    kept: list[Path] = []
    for path in unique:
        if not any(path.is_relative_to(parent) for parent in kept):
            kept.append(path)
    return kept


def _system_binds() -> list[str]:
    args = ["--ro-bind", "/usr", "/usr"]
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64"):
        if os.path.islink(top):
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            args += ["--ro-bind", top, top]
    for name in ("/etc/ld.so.cache", "/etc/localtime"):  # the dynamic loader's cache; the local time zone
        args += ["--ro-bind-try", name, name]
    return args


def sandboxed_argv(
    argv: list[str],
    *,
    readable: Sequence[Path] = (),
    writable: Sequence[Path] = (),
    limits: Limits,
    network: bool = False,
    allow_processes: bool = False,
    read_only: bool = False,
    as_pid_1: bool = False,
) -> list[str]:
    """The command line that runs ``argv`` in the sandbox, with ``readable`` paths bound read-only
    and ``writable`` directories (existing ones, created by the caller) bound read-write.
    ``network=True`` keeps the host's network namespace (for a server that must listen on HTTP).

    ``allow_processes=True`` installs the seccomp filter that still allows new processes: only for
    trusted code that filters every child itself (the grading zygote). ``read_only=True`` makes
    the whole file system read-only, the sandbox's own ``/``, ``/tmp``, ``/dev`` and ``/proc``
    included, so processes that run in the sandbox one after the other cannot leave files for
    each other or write to each other's ``/proc`` entries. ``as_pid_1=True`` makes the command
    pid 1 of the sandbox's pid namespace, without bwrap's reaper process beside it (which is
    dumpable: any process of the sandbox could write to its memory through ``/proc/1/mem``).

    ``argv[0]`` should be an absolute path that exists inside the sandbox (normally
    ``sys.executable``, whose installation is always bound). Raises :class:`SandboxUnavailable`
    when bwrap is missing, unless ``ENVMINT_UNSAFE_NO_SANDBOX=1``.
    """
    if not argv:
        raise ValueError("sandboxed_argv needs a command")
    bwrap = _bwrap_path()
    if bwrap is None:
        if not _unsafe_allowed():
            raise SandboxUnavailable(_UNAVAILABLE_MESSAGE)
        _warn_unsafe_once()
        # No user namespace here, so RLIMIT_NPROC would count every process of this user on the
        # machine; the seccomp filter still refuses new processes.
        return _launcher_argv(argv, limits, nproc=False, allow_processes=allow_processes)
    for path in [*readable, *writable]:
        if Path(os.path.abspath(path)) == Path("/"):
            raise ValueError("refusing to expose the whole file system in the sandbox")
    args = [bwrap, "--unshare-all", "--die-with-parent", "--new-session", "--clearenv"]
    if network:
        args.append("--share-net")
    if os.geteuid() == 0:
        args += ["--cap-drop", "ALL"]  # as root, bwrap would otherwise keep every capability inside
    if _bwrap_has_option(bwrap, "--size"):  # bwrap >= 0.7; older ones get an unsized /tmp
        args += ["--size", str(limits.tmpfs_mb << 20)]
    args += ["--tmpfs", "/tmp", "--proc", "/proc", "--dev", "/dev"]
    args += _system_binds()
    for path in _outermost([*_python_paths(), *readable]):
        if not path.is_relative_to("/usr"):
            args += ["--ro-bind", str(path), str(path)]
    for path in writable:
        args += ["--bind", str(Path(path).resolve()), str(Path(path).resolve())]
    for name, value in SANDBOX_ENV.items():
        args += ["--setenv", name, value]
    if read_only:
        args += ["--remount-ro", "/", "--remount-ro", "/tmp", "--remount-ro", "/dev", "--remount-ro", "/proc"]
    if as_pid_1:
        args.append("--as-pid-1")
    args += ["--chdir", "/tmp", "--"]
    return [*args, *_launcher_argv(argv, limits, nproc=True, allow_processes=allow_processes)]


# --------------------------------------------------------------------------------------------
# Running a sandboxed process with a wall-clock limit and capped output


class _Capture:
    """Keeps the head (stdout) or the tail (stderr) of a stream, at most ``cap`` bytes."""

    def __init__(self, cap: int, *, keep_tail: bool) -> None:
        self.cap = cap
        self.keep_tail = keep_tail
        self.data = bytearray()
        self.overflowed = False

    def add(self, chunk: bytes) -> None:
        if self.keep_tail:
            self.data += chunk
            if len(self.data) > self.cap:
                self.overflowed = True
                del self.data[: len(self.data) - self.cap]
            return
        room = self.cap - len(self.data)
        if len(chunk) > room:
            self.overflowed = True
            chunk = chunk[: max(room, 0)]
        self.data += chunk


async def _drain(stream: ByteReceiveStream | None, capture: _Capture) -> None:
    if stream is None:
        return
    try:
        while True:
            capture.add(await stream.receive(_READ_CHUNK))
    except (anyio.EndOfStream, anyio.ClosedResourceError, anyio.BrokenResourceError):
        return


async def _feed(stream: ByteSendStream | None, data: bytes) -> None:
    if stream is None:
        return
    try:
        if data:
            await stream.send(data)
    except (anyio.BrokenResourceError, anyio.ClosedResourceError, BrokenPipeError, ConnectionResetError):
        pass  # the child stopped reading; its output and exit status tell the story
    finally:
        with contextlib.suppress(anyio.BrokenResourceError, OSError):
            await stream.aclose()


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


async def run_sandboxed(
    argv: list[str], *, stdin: bytes, readable: Sequence[Path] = (), limits: Limits
) -> SandboxResult:
    """Run ``argv`` in the sandbox, feed it ``stdin``, and collect its (capped) output.

    The process starts in its own session. On the wall-clock limit, or if the caller is
    cancelled, the whole process group gets SIGKILL (bwrap's ``--die-with-parent`` and the pid
    namespace then take everything inside the sandbox with it). Both pipes are drained to the end
    so the child can never block on a full pipe; only ``max_output_bytes`` of each are kept.
    """
    if limits.wall_seconds <= 0:
        raise ValueError("run_sandboxed needs Limits.wall_seconds > 0")
    command = sandboxed_argv(argv, readable=readable, limits=limits)
    mode = sandbox_mode()
    out = _Capture(limits.max_output_bytes, keep_tail=False)
    err = _Capture(limits.max_output_bytes, keep_tail=True)
    started = time.monotonic()
    process = await anyio.open_process(
        command,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        env=SANDBOX_ENV,
    )
    timed_out = False
    try:
        with anyio.move_on_after(limits.wall_seconds) as scope:
            async with anyio.create_task_group() as group:
                group.start_soon(_feed, process.stdin, stdin)
                group.start_soon(_drain, process.stdout, out)
                group.start_soon(_drain, process.stderr, err)
                await process.wait()
        timed_out = scope.cancelled_caught
    finally:
        with anyio.CancelScope(shield=True):
            if process.returncode is None:
                _kill_group(process.pid)
            with anyio.move_on_after(_REAP_SECONDS):
                await process.wait()
            with anyio.move_on_after(_REAP_SECONDS):
                await process.aclose()
    return SandboxResult(
        returncode=process.returncode,
        stdout=bytes(out.data),
        stderr=err.data.decode("utf-8", "replace"),
        timed_out=timed_out,
        truncated=out.overflowed,
        stderr_truncated=err.overflowed,
        elapsed_seconds=time.monotonic() - started,
        mode=mode,
        pid=process.pid,
    )
