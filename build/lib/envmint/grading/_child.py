"""The validator runner: runs inside the sandbox, as a script (``python -I -S _child.py``).

Standard library only: it must not import envmint or pydantic (neither is readable in the sandbox).

Reads ``{"checks": [{"id", "source"}], "initial": ..., "final": ..., "per_check_seconds": ...}``
as JSON on stdin and writes one JSON line per check, in order, to stdout:
``{"id": ..., "verdict": "pass" | "fail" | "error", "detail": ...}``.

Each check gets fresh deep-frozen copies of the two states, is ``exec``'d in a fresh namespace
with the normal builtins (the OS sandbox is the boundary, not the namespace), and has
``per_check_seconds`` of wall time (``signal.setitimer``). Only a real ``bool`` is a verdict.
What a check prints is discarded; the protocol goes to a private copy of the original stdout.

``python -I -S _child.py --zygote FILTER`` is the grading zygote (:mod:`envmint.grading.zygote`):
a long-lived process that never runs a check itself. For each request it forks a child that
applies the request's resource limits and the strict seccomp filter ``FILTER`` and then does
exactly what the script does above, on the pipes the harness passed with the request.
"""

from __future__ import annotations

import builtins
import json
import os
import re
import signal
import sys
import time

TYPE_CHECKING = False  # not `from typing import ...`: typing costs ~5 ms of start-up

if TYPE_CHECKING:
    from types import FrameType
    from typing import Any, NoReturn

    _Dict = dict[str, Any]
    _List = list[Any]
else:
    _Dict, _List = dict, list

DETAIL_LIMIT = 200
_PATH = re.compile(r"(?<![\w.])(?:[A-Za-z]:)?[/\\](?:[\w.\-~]+[/\\])*[\w.\-~]+")
_READ_ONLY = "the state is read-only (copy it first, e.g. with copy.deepcopy)"


class CheckTimeout(BaseException):
    """Raised by the timer; a BaseException so that ``except Exception`` in a check cannot swallow it."""


def _refuse(*_args: Any, **_kwargs: Any) -> NoReturn:
    raise TypeError(_READ_ONLY)


class FrozenDict(_Dict):
    """A dict whose mutating methods raise TypeError; still a ``dict`` for isinstance and json."""

    __slots__ = ()
    __init__ = __setitem__ = __delitem__ = __ior__ = _refuse
    clear = pop = popitem = setdefault = update = _refuse

    def __copy__(self) -> dict[str, Any]:
        return dict(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> dict[str, Any]:
        return thaw(self)  # type: ignore[no-any-return]

    def __reduce_ex__(self, protocol: Any) -> tuple[Any, ...]:
        return (dict, (thaw(self),))


class FrozenList(_List):
    """A list whose mutating methods raise TypeError; still a ``list`` for isinstance and json."""

    __slots__ = ()
    __init__ = __setitem__ = __delitem__ = __iadd__ = __imul__ = _refuse
    append = extend = insert = pop = remove = clear = sort = reverse = _refuse

    def __copy__(self) -> list[Any]:
        return list(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> list[Any]:
        return thaw(self)  # type: ignore[no-any-return]

    def __reduce_ex__(self, protocol: Any) -> tuple[Any, ...]:
        return (list, (thaw(self),))


def freeze(value: Any) -> Any:
    """A deep copy of JSON data whose dicts and lists cannot be changed."""
    if isinstance(value, dict):
        frozen_dict = dict.__new__(FrozenDict)
        dict.update(frozen_dict, ((key, freeze(item)) for key, item in value.items()))
        return frozen_dict
    if isinstance(value, list):
        frozen_list = list.__new__(FrozenList)
        list.extend(frozen_list, (freeze(item) for item in value))
        return frozen_list
    return value


def thaw(value: Any) -> Any:
    """A plain, mutable deep copy."""
    if isinstance(value, dict):
        return {key: thaw(item) for key, item in value.items()}
    if isinstance(value, list):
        return [thaw(item) for item in value]
    return value


def clean(text: str) -> str:
    """One short line with file paths replaced by ``<path>``."""
    text = _PATH.sub("<path>", " ".join(text.split()))
    return text if len(text) <= DETAIL_LIMIT else text[: DETAIL_LIMIT - 1] + "…"


def describe(exc: BaseException) -> str:
    try:
        message = str(exc)
    except BaseException:  # a hostile __str__
        message = ""
    name = type(exc).__name__
    return clean(f"{name}: {message}" if message else name)


def short_repr(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


class _Discard:
    """Stands in for sys.stdout and sys.stderr while a check runs."""

    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False


def _on_alarm(signum: int, frame: FrameType | None) -> None:
    raise CheckTimeout


def run_check(source: str, initial: Any, final: Any, seconds: float) -> tuple[str, str]:
    """(verdict, detail) for one check."""
    namespace: dict[str, Any] = {"__name__": "__check__", "__builtins__": builtins}
    try:
        signal.signal(signal.SIGALRM, _on_alarm)  # again: an earlier check may have replaced it
        signal.setitimer(signal.ITIMER_REAL, seconds)
        try:
            exec(compile(source, "<check>", "exec"), namespace)
            check = namespace.get("check")
            if not callable(check):
                return "error", "the source does not define a function check(initial_state, final_state)"
            result = check(freeze(initial), freeze(final))
            if result is True:
                return "pass", ""
            if result is False:
                return "fail", ""
            return "error", clean(f"returned {short_repr(result)} (a {type(result).__name__}), not a bool")
        except CheckTimeout:
            raise
        except BaseException as exc:  # SystemExit and KeyboardInterrupt are check errors too
            return "error", describe(exc)
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
    except CheckTimeout:
        signal.setitimer(signal.ITIMER_REAL, 0)
        return "error", f"timed out after {seconds:g} s"


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _read_all(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 1 << 16):
        chunks.append(chunk)
    return b"".join(chunks)


def serve(protocol: int) -> NoReturn:
    """Run the checks of the request on fd 0, one verdict line each on ``protocol``; then exit."""
    request = json.loads(_read_all(0))
    checks = request["checks"]
    initial, final = request["initial"], request["final"]
    seconds = float(request["per_check_seconds"])
    del request

    sys.stdout = sys.stderr = _Discard()
    for item in checks:
        try:
            verdict, detail = run_check(str(item["source"]), initial, final, seconds)
        except CheckTimeout:  # the timer fired between the check and its clean-up
            verdict, detail = "error", f"timed out after {seconds:g} s"
        line = json.dumps({"id": item["id"], "verdict": verdict, "detail": detail}, ensure_ascii=True)
        _write_all(protocol, line.encode() + b"\n")
    os._exit(0)  # do not wait for threads a check may have left behind


def main() -> None:
    protocol = os.dup(1)  # verdicts go here; anything a check writes to fd 1 lands on stderr
    os.dup2(2, 1)
    serve(protocol)


# ---------------------------------------------------------------------------------------------
# The zygote. Its channel to the harness is fd 0, a SOCK_SEQPACKET socket: each request is one
# message, {"wall_seconds": float, "rlimits": [[name, soft, hard], ...]}, carrying three file
# descriptors (the request's stdin, verdict and stderr pipes); each reply is one message,
# {"returncode": int, "timed_out": bool}, sent once the child is dead and reaped. Before the first
# request it sends {"ready": true}. The zygote never reads a request body, a check or a verdict:
# those go between the harness and the child directly, so no episode's data is in the memory that
# later children are forked from.

_PR_SET_DUMPABLE, _PR_SET_SECCOMP, _SECCOMP_MODE_FILTER = 4, 22, 2
_WARM_UP_CHECK = """\
def check(initial_state, final_state):
    loans = [loan for loan in final_state.get("loans", []) if isinstance(loan, dict)]
    return all(loan["returned"] is True for loan in loans) and initial_state == final_state
"""
_CHILD_SETUP_FAILED = 126


def zygote(child_filter_hex: str) -> NoReturn:
    import ctypes
    import fcntl
    import gc
    import resource
    import select
    import socket

    for name in ("copy", "datetime", "math", "collections"):  # what validators import most: not per child
        __import__(name)

    libc = ctypes.CDLL(None, use_errno=True)
    word = ctypes.c_ulong
    # Not dumpable: no process of the sandbox (the same user) can ptrace this one, read or write
    # its memory through /proc/PID/mem, or open its descriptors through /proc/PID/fd. Children
    # inherit the flag.
    if libc.prctl(_PR_SET_DUMPABLE, word(0), word(0), word(0), word(0)) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_DUMPABLE) failed")
    program = bytes.fromhex(child_filter_hex)
    if not program:
        raise ValueError("the zygote needs the children's seccomp filter")
    buffer = ctypes.create_string_buffer(program, len(program))

    class Fprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    fprog = Fprog(len(program) // 8, ctypes.addressof(buffer))
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    max_fd = os.sysconf("SC_OPEN_MAX")
    control = socket.socket(fileno=0)

    def become_child(fds: list[int], rlimits: list[list[Any]]) -> NoReturn:
        try:
            body, verdicts, errors = (fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in fds)
            os.dup2(body, 0)
            os.dup2(errors, 1)
            os.dup2(errors, 2)
            os.dup2(verdicts, 3)  # fd 3 for verdicts, as in a fresh runner after main()'s dup
            os.closerange(4, max_fd)  # the channel to the harness (fd 0 before) is gone already
            for name, soft, hard in rlimits:
                which = getattr(resource, str(name))
                cur_hard = resource.getrlimit(which)[1]
                hard = int(hard) if cur_hard == resource.RLIM_INFINITY else min(int(hard), cur_hard)
                resource.setrlimit(which, (min(int(soft), hard), hard))
            if libc.prctl(_PR_SET_SECCOMP, word(_SECCOMP_MODE_FILTER), ctypes.byref(fprog), word(0), word(0)) != 0:
                raise OSError(ctypes.get_errno(), "prctl(PR_SET_SECCOMP) failed")
        except BaseException as exc:
            try:
                os.write(2, f"envmint grading: setup failed: {type(exc).__name__}: {exc}\n".encode())
            finally:
                os._exit(_CHILD_SETUP_FAILED)
        serve(3)

    def wait(pid: int, seconds: float) -> tuple[int, bool]:
        """The child's exit code (negative: killed by that signal), and whether it ran out of time."""
        timed_out = False
        try:
            pidfd = os.pidfd_open(pid)
        except OSError:  # a kernel older than 5.3: poll
            deadline = time.monotonic() + seconds
            pause = 1e-4
            while (done := os.waitpid(pid, os.WNOHANG))[0] == 0:
                if time.monotonic() >= deadline:
                    timed_out = True
                    os.kill(pid, signal.SIGKILL)
                    done = os.waitpid(pid, 0)
                    break
                time.sleep(pause)
                pause = min(pause * 2, 0.01)
            return os.waitstatus_to_exitcode(done[1]), timed_out
        try:
            if not select.select([pidfd], [], [], seconds)[0]:
                timed_out = True
                os.kill(pid, signal.SIGKILL)
            status = os.waitpid(pid, 0)[1]
        finally:
            os.close(pidfd)
        return os.waitstatus_to_exitcode(status), timed_out

    # Warm up the paths every request takes (the compiler above all: nothing here was compiled from
    # source yet) so that each child does not pay for them again. Trusted code, not a check.
    warm_up = {"loans": [{"id": "L-1", "returned": True}]}
    run_check(_WARM_UP_CHECK, warm_up, warm_up, 1.0)
    json.loads(json.dumps({"id": "warm-up", "verdict": "pass", "detail": clean("")}, ensure_ascii=True))
    gc.collect()
    gc.freeze()  # children never scan (and so never copy) the zygote's own objects
    control.sendall(b'{"ready": true}')
    while True:
        message, fds, flags, _ = socket.recv_fds(control, 1 << 16, 3)
        if not message:
            os._exit(0)  # the harness closed the channel
        if len(fds) != 3 or flags & (socket.MSG_CTRUNC | socket.MSG_TRUNC):
            os._exit(3)
        header = json.loads(message)
        pid = os.fork()
        if pid == 0:
            become_child(fds, header["rlimits"])
        for fd in fds:
            os.close(fd)  # so the harness sees end-of-file as soon as the child is gone
        returncode, timed_out = wait(pid, float(header["wall_seconds"]))
        control.sendall(json.dumps({"returncode": returncode, "timed_out": timed_out}).encode())


if __name__ == "__main__":
    if sys.argv[1:2] == ["--zygote"]:
        zygote(sys.argv[2])
    else:
        main()
