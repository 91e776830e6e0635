"""EnvironmentSpec: what an environment is, as the generator, emitter, servers and harness agree."""

from __future__ import annotations

from typing import Any, Literal

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from pydantic import Field, field_validator, model_validator

from envmint.contract.common import (
    ENV_ID_PATTERN,
    TOOL_NAME_PATTERN,
    ContractModel,
    Instant,
    Provenance,
)

JSONObject = dict[str, Any]


def _check_schema(schema: JSONObject, what: str) -> None:
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        where = "/".join(str(p) for p in exc.path) or "<root>"
        raise ValueError(f"{what} is not a valid JSON Schema at {where}: {exc.message}") from None


class ToolSpec(ContractModel):
    """One tool: a public method of the environment class, described for agents."""

    name: str = Field(pattern=TOOL_NAME_PATTERN, description="Tool name; also the method name.")
    description: str = Field(min_length=1, max_length=1024, description="What the tool does, for agents.")
    kind: Literal["query", "mutation"] = Field(description="`query` reads state; `mutation` may change it.")
    input_schema: JSONObject = Field(
        description="JSON Schema (2020-12) of the arguments: an object with `additionalProperties: false` "
        "and a description on every property."
    )
    output_schema: JSONObject | None = Field(
        default=None, description="JSON Schema of the result object, when the tool declares one."
    )

    @field_validator("input_schema")
    @classmethod
    def _input_schema_is_strict_object(cls, schema: JSONObject) -> JSONObject:
        _check_schema(schema, "input_schema")
        if schema.get("type") != "object":
            raise ValueError('input_schema must have "type": "object"')
        if schema.get("additionalProperties") is not False:
            raise ValueError('input_schema must set "additionalProperties": false')
        properties = schema.get("properties", {})
        if not isinstance(properties, dict):
            raise ValueError("input_schema.properties must be an object")
        for name, prop in properties.items():
            if not isinstance(prop, dict) or not str(prop.get("description", "")).strip():
                raise ValueError(f"input_schema.properties.{name} needs a description")
        required = schema.get("required", [])
        for name in required:
            if name not in properties:
                raise ValueError(f"input_schema.required names {name!r}, which is not a property")
            if "default" in properties[name]:
                raise ValueError(f"input_schema.properties.{name} has a default, so it must not be required")
        return schema

    @field_validator("output_schema")
    @classmethod
    def _output_schema_is_object(cls, schema: JSONObject | None) -> JSONObject | None:
        if schema is not None:
            _check_schema(schema, "output_schema")
            if schema.get("type") != "object":
                raise ValueError('output_schema must have "type": "object"')
        return schema


class EnvironmentCode(ContractModel):
    """The environment class: Python source defining a subclass of ``envmint_runtime.Environment``."""

    class_name: str = Field(pattern=r"^[A-Z][A-Za-z0-9]*$")
    source: str = Field(min_length=1)


class EnvironmentSpec(ContractModel):
    """A complete, self-contained description of one environment."""

    spec_version: Literal[1] = 1
    id: str = Field(pattern=ENV_ID_PATTERN, description="Stable identifier; the server folder's name.")
    name: str = Field(min_length=1, description="Human-readable name.")
    domain: str = Field(default="general", description="Broad domain, e.g. health, commerce, travel.")
    description: str = Field(min_length=1, description="What the environment models, for agents and people.")
    rules: list[str] = Field(default_factory=list, description="Business rules the tools enforce.")
    state_schema: JSONObject = Field(description="JSON Schema (2020-12) of the whole state object.")
    tools: list[ToolSpec] = Field(min_length=1)
    code: EnvironmentCode
    default_state: JSONObject = Field(description="A realistic state that makes the server useful as shipped.")
    default_now: Instant = Field(description="The clock's instant when no scenario sets one.")
    provenance: Provenance

    @field_validator("state_schema")
    @classmethod
    def _state_schema_is_object(cls, schema: JSONObject) -> JSONObject:
        _check_schema(schema, "state_schema")
        if schema.get("type") != "object":
            raise ValueError('state_schema must have "type": "object"')
        return schema

    @model_validator(mode="after")
    def _consistent(self) -> EnvironmentSpec:
        names = [t.name for t in self.tools]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"duplicate tool names: {', '.join(duplicates)}")
        errors = sorted(Draft202012Validator(self.state_schema).iter_errors(self.default_state), key=str)
        if errors:
            first = errors[0]
            path = "".join(f"[{p!r}]" if isinstance(p, str) else f"[{p}]" for p in first.absolute_path)
            raise ValueError(f"default_state{path} does not match state_schema: {first.message}")
        return self

    def tool(self, name: str) -> ToolSpec:
        for tool in self.tools:
            if tool.name == name:
                return tool
        raise KeyError(name)
