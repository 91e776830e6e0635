"""Reading and writing contract files, with errors that name the file, the JSON path and the problem."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from envmint.contract.environment import EnvironmentSpec
from envmint.contract.scenario import Scenario

M = TypeVar("M", bound=BaseModel)


class ContractError(ValueError):
    """A contract file is unreadable or does not match its model."""

    def __init__(self, path: Path | str, problems: list[tuple[str, str]]) -> None:
        self.path = str(path)
        self.problems = problems
        lines = [f"{self.path}: {where}: {what}" for where, what in problems]
        super().__init__("\n".join(lines))


def json_path(loc: tuple[int | str, ...]) -> str:
    """Render a pydantic location as a JSON path: ``$.tools[2].input_schema``."""
    out = "$"
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part.isidentifier():
            out += f".{part}"
        else:
            out += f"[{json.dumps(part)}]"
    return out


def _problems(error: ValidationError) -> list[tuple[str, str]]:
    problems = []
    for item in error.errors(include_url=False):
        message = item["msg"].removeprefix("Value error, ")
        problems.append((json_path(tuple(item["loc"])), message))
    return problems


def parse_model(model: type[M], data: Any, origin: Path | str) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ContractError(origin, _problems(exc)) from None


def read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ContractError(path, [("$", "file not found")]) from None
    except json.JSONDecodeError as exc:
        raise ContractError(path, [("$", f"not valid JSON: line {exc.lineno} column {exc.colno}: {exc.msg}")]) from None


def load_environment_spec(path: Path | str) -> EnvironmentSpec:
    path = Path(path)
    return parse_model(EnvironmentSpec, read_json(path), path)


def load_scenario(path: Path | str) -> Scenario:
    path = Path(path)
    return parse_model(Scenario, read_json(path), path)


def dump_json(data: Any) -> str:
    """The canonical text form of every JSON file envmint writes: stable, readable, newline-terminated."""
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def model_json(model: BaseModel) -> str:
    return dump_json(model.model_dump(mode="json", exclude_none=True))
