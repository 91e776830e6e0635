"""Skeleton stages (b) and (c): the state and rules of a topic, then its operations."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from generator.llm.types import GateError, ParseError
from generator.parsing import json_object
from generator.stages.common import Context, bullet, pretty
from generator.stages.topics import Topic

ID = re.compile(r"^[a-z][a-z0-9_]{2,39}$")
NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


@dataclass(frozen=True)
class Design:
    id: str
    name: str
    domain: str
    description: str
    rules: list[str]
    entities: list[dict[str, Any]]
    state_schema: dict[str, Any]


@dataclass(frozen=True)
class Operation:
    name: str
    kind: str
    description: str
    parameters: list[dict[str, Any]]

    def line(self) -> str:
        params = ", ".join(
            f"{p.get('name')}: {p.get('type', 'string')}{'' if p.get('required', True) else ' (optional)'}"
            f" - {p.get('description', '')}"
            for p in self.parameters
        )
        return f"- {self.name} [{self.kind}]: {self.description} Parameters: {params or 'none'}"


def parse_design(text: str, min_entities: int) -> Design:
    data = json_object(text)
    for key in ("id", "name", "domain", "description", "rules", "entities", "state_schema"):
        if key not in data:
            raise ParseError(f'The JSON object needs a "{key}" field.')
    if not isinstance(data["id"], str) or not ID.match(data["id"]):
        raise GateError(
            f"id {data['id']!r} must be 3-40 lowercase letters, digits or underscores, starting with a letter."
        )
    rules = data["rules"]
    if not isinstance(rules, list) or len(rules) < 4 or not all(isinstance(r, str) and r.strip() for r in rules):
        raise GateError("rules must be a list of at least 4 non-empty strings.")
    schema = data["state_schema"]
    if not isinstance(schema, dict):
        raise GateError("state_schema must be a JSON object.")
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        raise GateError(f"state_schema is not a valid JSON Schema: {exc.message}") from None
    if schema.get("type") != "object":
        raise GateError('state_schema must have "type": "object".')
    collections = schema.get("properties", {})
    if not isinstance(collections, dict) or len(collections) < min_entities:
        raise GateError(f"state_schema must define at least {min_entities} entity collections as properties.")
    for name, collection in collections.items():
        record = collection.get("additionalProperties") if isinstance(collection, dict) else None
        if not isinstance(record, dict) or record.get("type") != "object" or not record.get("properties"):
            raise GateError(
                f"state_schema.properties.{name} must be an object mapping ids to records: give it "
                '"type": "object" and "additionalProperties": {"type": "object", "properties": {...}}.'
            )
    missing = sorted(set(collections) - set(schema.get("required", [])))
    if missing:
        raise GateError(f"state_schema.required must list every collection; missing: {', '.join(missing)}.")
    return Design(
        id=data["id"],
        name=str(data["name"]),
        domain=str(data["domain"]).strip().lower(),
        description=str(data["description"]),
        rules=[r.strip() for r in rules],
        entities=list(data["entities"]) if isinstance(data["entities"], list) else [],
        state_schema=schema,
    )


def parse_operations(text: str, ctx: Context) -> list[Operation]:
    items = json_object(text, "operations")
    if not isinstance(items, list):
        raise ParseError('"operations" must be a list.')
    operations: list[Operation] = []
    for index, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise ParseError(f"operations[{index}] must be an object with a name.")
        if not NAME.match(item["name"]):
            raise GateError(f"operation name {item['name']!r} must be snake_case.")
        if item.get("kind") not in ("query", "mutation"):
            raise GateError(f"operation {item['name']}: kind must be query or mutation.")
        parameters = item.get("parameters", [])
        if not isinstance(parameters, list):
            raise GateError(f"operation {item['name']}: parameters must be a list.")
        operations.append(Operation(item["name"], item["kind"], str(item.get("description", "")), parameters))
    names = [o.name for o in operations]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise GateError(f"operation names must be unique; repeated: {', '.join(duplicates)}.")
    settings = ctx.settings
    queries = sum(o.kind == "query" for o in operations)
    mutations = len(operations) - queries
    if len(operations) < settings.min_tools or queries < settings.min_queries or mutations < settings.min_mutations:
        raise GateError(
            f"There are {len(operations)} operations ({queries} queries, {mutations} mutations); the system needs "
            f"at least {settings.min_tools} with at least {settings.min_queries} queries and "
            f"{settings.min_mutations} mutations."
        )
    return operations


async def design(ctx: Context, topic: Topic) -> Design:
    return await ctx.ask(
        "design",
        "design",
        lambda text: parse_design(text, ctx.settings.min_entities),
        env=topic.slug,
        output="a short analysis, then a ```json block with id, name, domain, description, entities, rules, "
        "state_schema",
        name=topic.name,
        domain=topic.domain,
        description=topic.description or "(no description: infer it from the name)",
        examples=bullet(topic.examples) if topic.examples else "(none given)",
        min_entities=ctx.settings.min_entities,
    )


async def operations(ctx: Context, plan: Design) -> list[Operation]:
    settings = ctx.settings
    return await ctx.ask(
        "operations",
        "operations",
        lambda text: parse_operations(text, ctx),
        env=plan.id,
        output='a short analysis, then a ```json block {"operations": [...]}',
        name=plan.name,
        domain=plan.domain,
        description=plan.description,
        rules=bullet(plan.rules),
        state_schema=pretty(plan.state_schema),
        min_queries=settings.min_queries,
        min_mutations=settings.min_mutations,
        min_tools=settings.min_tools,
    )
