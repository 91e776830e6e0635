"""A content-addressed store of model exchanges: what we asked, what came back, and when.

One file per exchange at ``<dir>/<key[:2]>/<key>.json``, where ``key`` is :meth:`Request.key`.
Files are canonical JSON (sorted keys, 1-space indent, UTF-8, trailing newline) and written
atomically. A file is never rewritten: the first write wins, so recording the same exchange twice
(or in two runs) leaves byte-identical files and ``recorded_at`` is the time of the first write.

A recording made with one backend replays under any other: the key holds the prompt, not the model.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from generator.llm.types import Message, Request, Response

FORMAT = 1
"""The version of the exchange file layout, stored in every file."""


class RecordingError(ValueError):
    """A file in the recording cannot be read as an exchange; the message names the file."""


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def canonical_json(data: Any) -> str:
    """The byte-stable text form of an exchange file."""
    return json.dumps(data, sort_keys=True, indent=1, ensure_ascii=False) + "\n"


@dataclass(frozen=True)
class Exchange:
    """One request and its response. ``recorded_at`` is filled in by :meth:`Recording.put`."""

    request: Request
    response: Response
    recorded_at: str = ""

    @property
    def key(self) -> str:
        return self.request.key()

    def to_json(self) -> dict[str, Any]:
        request, response = self.request, self.response
        data: dict[str, Any] = {
            "format": FORMAT,
            "key": self.key,
            "recorded_at": self.recorded_at,
            "request": {
                "stage": request.stage,
                "env": request.env,
                "scenario": request.scenario,
                "system": request.system,
                "messages": [{"role": m.role, "content": m.content} for m in request.messages],
                "max_tokens": request.max_tokens,
                "output": request.output,
            },
            "response": {
                "text": response.text,
                "model": response.model,
                "input_tokens": response.input_tokens,
                "output_tokens": response.output_tokens,
                "stop_reason": response.stop_reason,
            },
        }
        if response.extra:
            data["response"]["extra"] = dict(response.extra)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Exchange:
        req, resp = data["request"], data["response"]
        request = Request(
            stage=str(req["stage"]),
            system=str(req["system"]),
            messages=tuple(Message(m["role"], str(m["content"])) for m in req["messages"]),
            output=str(req.get("output", "")),
            env=str(req.get("env", "")),
            scenario=str(req.get("scenario", "")),
            max_tokens=int(req["max_tokens"]),
        )
        response = Response(
            text=str(resp["text"]),
            model=str(resp["model"]),
            input_tokens=int(resp.get("input_tokens", 0)),
            output_tokens=int(resp.get("output_tokens", 0)),
            stop_reason=str(resp.get("stop_reason", "")),
            extra={str(k): str(v) for k, v in (resp.get("extra") or {}).items()},
        )
        return cls(request, response, str(data.get("recorded_at", "")))


def _write_new(path: Path, text: str) -> bool:
    """Create ``path`` holding ``text`` atomically unless it exists; True when this call created it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temp, path)  # fails if the file exists: the first writer wins, even across processes
        except FileExistsError:
            return False
        except OSError:  # a file system without hard links
            if path.exists():
                return False
            os.replace(temp, path)
        return True
    finally:
        Path(temp).unlink(missing_ok=True)


class Recording:
    """The exchanges recorded in ``dir`` (created on the first write)."""

    def __init__(self, dir: Path | str, *, clock: Callable[[], str] = utc_now) -> None:
        self.dir = Path(dir)
        self.clock = clock

    def __repr__(self) -> str:
        return f"Recording({str(self.dir)!r})"

    def path(self, key: str) -> Path:
        return self.dir / key[:2] / f"{key}.json"

    def get(self, key: str) -> Exchange | None:
        """The exchange recorded under ``key``, or None."""
        path = self.path(key)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        return self._load(path, text, key)

    def put(self, exchange: Exchange) -> Exchange:
        """Store ``exchange`` unless its key is already recorded; returns the stored exchange."""
        existing = self.get(exchange.key)
        if existing is not None:
            return existing
        if not exchange.recorded_at:
            exchange = Exchange(exchange.request, exchange.response, self.clock())
        if _write_new(self.path(exchange.key), canonical_json(exchange.to_json())):
            return exchange
        stored = self.get(exchange.key)  # another writer got there first
        return stored if stored is not None else exchange

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.path(key).is_file()

    def keys(self) -> list[str]:
        """Every recorded key, sorted."""
        if not self.dir.is_dir():
            return []
        return sorted(p.stem for p in self.dir.glob("??/*.json") if p.stem[:2] == p.parent.name)

    def __iter__(self) -> Iterator[Exchange]:
        for key in self.keys():
            exchange = self.get(key)
            if exchange is not None:
                yield exchange

    def __len__(self) -> int:
        return len(self.keys())

    @staticmethod
    def _load(path: Path, text: str, key: str) -> Exchange:
        try:
            exchange = Exchange.from_json(json.loads(text))
        except (ValueError, KeyError, TypeError) as error:
            raise RecordingError(f"{path}: not a recorded exchange ({type(error).__name__}: {error})") from None
        if exchange.key != key:
            raise RecordingError(
                f"{path}: the request in this file hashes to {exchange.key}, not {key}; "
                "was the request edited? (only the response may be edited by hand)"
            )
        return exchange


__all__ = ["FORMAT", "Exchange", "Recording", "RecordingError", "canonical_json", "utc_now"]
