"""The published JSON Schemas of the contract, one file per model and version."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel

from envmint.contract.environment import EnvironmentSpec
from envmint.contract.io import dump_json
from envmint.contract.scenario import Scenario

SCHEMA_DIR = Path(__file__).parent / "schemas"
PUBLISHED: dict[str, type[BaseModel]] = {
    "environment-spec.v1.schema.json": EnvironmentSpec,
    "scenario.v1.schema.json": Scenario,
}


def render(model: type[BaseModel], filename: str) -> str:
    schema = model.model_json_schema(mode="validation")
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"urn:envmint:schema:{filename.removesuffix('.schema.json')}",
        **schema,
    }
    return dump_json(schema)


def write_all(directory: Path = SCHEMA_DIR) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for filename, model in PUBLISHED.items():
        target = directory / filename
        target.write_text(render(model, filename), encoding="utf-8")
        written.append(target)
    return written
