"""A person (or another agent) as the model: prompts go to files, answers come back as files.

For each request :class:`InboxBackend` writes ``<dir>/pending/<key>.md``: a header naming the
stage, environment and scenario, the expected answer format and the exact answer file, then the
system prompt and the whole conversation (a repair turn includes the earlier answer and our
feedback). It then waits until ``<dir>/answers/<key>.md`` exists, returns its text as the
response (model ``inbox``) and moves the prompt to ``<dir>/done/``.

Answers must appear atomically: write ``<key>.md.tmp`` in ``answers/`` and rename it to
``<key>.md``. Files ending in ``.tmp`` are never read, nor is an empty answer file.

``<dir>/WAITING.md`` lists every pending prompt (one line each) and a one-line status goes to
stderr whenever that list changes. A prompt left pending (a timeout, an interrupted run) stays in
``pending/``; answering it later lets the next run pick the answer up without asking again.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
import tempfile
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import anyio

from generator.llm.types import Request, Response

MODEL = "inbox"
_META = re.compile(r"^<!-- envmint-inbox (\{.*\}) -->$")


class InboxTimeout(TimeoutError):
    """No answer arrived in time; the prompt stays pending and can still be answered."""


@dataclass(frozen=True)
class PendingPrompt:
    """A prompt in ``<dir>/pending/`` waiting for its answer file."""

    key: str
    stage: str
    env: str
    scenario: str
    prompt: Path
    answer: Path

    def line(self) -> str:
        where = f"env {self.env or '-'}" + (f", scenario {self.scenario}" if self.scenario else "")
        return f"- {self.stage} ({where}): {self.prompt} -> {self.answer}"


def write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def render_prompt(request: Request, answer: Path) -> str:
    """The text of a pending prompt file."""
    key = request.key()
    meta = {"key": key, "stage": request.stage, "env": request.env, "scenario": request.scenario}
    lines = [
        f"<!-- envmint-inbox {json.dumps(meta, sort_keys=True, ensure_ascii=False)} -->",
        f"# Prompt {key[:12]}",
        "",
        f"- stage: {request.stage}",
        f"- env: {request.env or '(none)'}",
        f"- scenario: {request.scenario or '(none)'}",
        f"- max tokens: {request.max_tokens}",
        f"- answer file: {answer}",
        "",
        "Reply as the model would: write only the answer, in the format below, to the answer file.",
        f"Write it atomically: first to `{answer.name}.tmp` in the same folder, then rename that to",
        f"`{answer.name}`. The pipeline waits for the renamed file and ignores `.tmp` files.",
        "",
        "## Expected answer format",
        "",
        request.output.strip() or "(as the prompt says)",
        "",
        "## System prompt",
        "",
        request.system.strip() or "(none)",
        "",
        "## Conversation",
    ]
    for number, message in enumerate(request.messages, 1):
        if message.role == "assistant":
            label = "assistant (an earlier answer)"
        else:
            label = "user (feedback on the answer above)" if number > 1 else "user"
        lines += ["", f"### Turn {number}: {label}", "", message.content.strip()]
    return "\n".join(lines) + "\n"


def _read_meta(path: Path) -> dict[str, Any] | None:
    try:
        with path.open(encoding="utf-8") as handle:
            first = handle.readline().strip()
    except OSError:
        return None
    match = _META.match(first)
    if match is None:
        return None
    try:
        meta = json.loads(match.group(1))
    except ValueError:
        return None
    return meta if isinstance(meta, dict) else None


def inbox_status(dir: Path | str) -> list[PendingPrompt]:
    """The prompts waiting in ``dir``, oldest first."""
    root = Path(dir)
    found: list[tuple[float, PendingPrompt]] = []
    for path in (root / "pending").glob("*.md"):
        meta = _read_meta(path)
        if meta is None:
            continue
        try:
            mtime = path.stat().st_mtime
        except FileNotFoundError:
            continue
        prompt = PendingPrompt(
            key=str(meta.get("key", path.stem)),
            stage=str(meta.get("stage", "")),
            env=str(meta.get("env", "")),
            scenario=str(meta.get("scenario", "")),
            prompt=path,
            answer=root / "answers" / path.name,
        )
        found.append((mtime, prompt))
    found.sort(key=lambda item: (item[0], item[1].key))
    return [prompt for _, prompt in found]


def render_waiting(pending: list[PendingPrompt]) -> str:
    if not pending:
        return "# Waiting for answers\n\nNothing is waiting.\n"
    lines = [
        f"# Waiting for answers ({len(pending)})",
        "",
        "Each prompt file says what to answer and where. Write the answer to `<answer>.tmp`, then",
        "rename it to the answer file.",
        "",
        *(p.line() for p in pending),
    ]
    return "\n".join(lines) + "\n"


def _read_answer(path: Path) -> str | None:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    return text if text.strip() else None


class InboxBackend:
    """Answers requests from files written by a person or another agent (see the module docstring)."""

    def __init__(
        self, dir: Path | str, *, poll_seconds: float = 0.5, timeout: float | None = None, stream: TextIO | None = None
    ) -> None:
        self.dir = Path(dir).resolve()
        self.poll_seconds = poll_seconds
        self.timeout = timeout
        self.stream = stream
        self.name = f"inbox:{self.dir}"
        self._last_keys: list[str] | None = None

    def pending_path(self, key: str) -> Path:
        return self.dir / "pending" / f"{key}.md"

    def answer_path(self, key: str) -> Path:
        return self.dir / "answers" / f"{key}.md"

    async def complete(self, request: Request) -> Response:
        key = request.key()
        prompt, answer = self.pending_path(key), self.answer_path(key)
        (self.dir / "answers").mkdir(parents=True, exist_ok=True)
        text = _read_answer(answer)
        if text is None:
            write_atomic(prompt, render_prompt(request, answer))
            self.refresh()
            waiting: AbstractContextManager[object] = (
                anyio.fail_after(self.timeout) if self.timeout is not None else nullcontext()
            )
            try:
                with waiting:
                    while (text := _read_answer(answer)) is None:
                        await anyio.sleep(self.poll_seconds)
            except TimeoutError:
                raise InboxTimeout(
                    f"no answer after {self.timeout}s for stage {request.stage!r} (env {request.env!r}): "
                    f"write {answer} to answer {prompt}"
                ) from None
        if prompt.exists():
            done = self.dir / "done" / prompt.name
            done.parent.mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(FileNotFoundError):  # a concurrent wait for the same prompt moved it
                os.replace(prompt, done)
        self.refresh()
        return Response(text=text, model=MODEL, stop_reason="end_turn")

    def refresh(self) -> list[PendingPrompt]:
        """Rewrite WAITING.md from ``pending/``; print a status line when the set changed."""
        pending = inbox_status(self.dir)
        keys = [p.key for p in pending]
        if keys != self._last_keys:
            write_atomic(self.dir / "WAITING.md", render_waiting(pending))
            if self._last_keys is not None or keys:
                names = ", ".join(f"{p.stage}/{p.env or '-'}" for p in pending[:4])
                names += ", ..." if len(pending) > 4 else ""
                status = f"inbox: {len(pending)} prompt(s) waiting" + (f" ({names})" if names else "")
                print(f"{status}; see {self.dir / 'WAITING.md'}", file=self.stream or sys.stderr, flush=True)
            self._last_keys = keys
        return pending


__all__ = ["MODEL", "InboxBackend", "InboxTimeout", "PendingPrompt", "inbox_status", "render_prompt"]
