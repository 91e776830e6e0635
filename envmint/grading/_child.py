"""The validator runner: runs inside the sandbox, as a script (``python -I -S _child.py``).

Standard library only: it must not import envmint or pydantic (neither is readable in the sandbox).

Reads ``{"checks": [{"id", "source"}], "initial": ..., "final": ..., "per_check_seconds": ...}``
as JSON on stdin and writes one JSON line per check, in order, to stdout:
``{"id": ..., "verdict": "pass" | "fail" | "error", "detail": ...}``.

Each check gets fresh deep-frozen copies of the two states, is ``exec``'d in a fresh namespace
with the normal builtins (the OS sandbox is the boundary, not the namespace), and has
``per_check_seconds`` of wall time (``signal.setitimer``). Only a real ``bool`` is a verdict.
What a check prints is discarded; the protocol goes to a private copy of the original stdout.
"""

from __future__ import annotations

import builtins
import json
import os
import re
import signal
import sys

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


def main() -> None:
    request = json.loads(sys.stdin.buffer.read())
    checks = request["checks"]
    initial, final = request["initial"], request["final"]
    seconds = float(request["per_check_seconds"])
    del request

    protocol = os.dup(1)  # verdicts go here; anything a check writes to fd 1 lands on stderr
    os.dup2(2, 1)
    sys.stdout = sys.stderr = _Discard()
    for item in checks:
        try:
            verdict, detail = run_check(str(item["source"]), initial, final, seconds)
        except CheckTimeout:  # the timer fired between the check and its clean-up
            verdict, detail = "error", f"timed out after {seconds:g} s"
        line = json.dumps({"id": item["id"], "verdict": verdict, "detail": detail}, ensure_ascii=True)
        _write_all(protocol, line.encode() + b"\n")
    os._exit(0)  # do not wait for threads a check may have left behind


if __name__ == "__main__":
    main()
