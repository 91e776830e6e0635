"""The seed system's released format -> server folders and scenario files.

Metadata records carry ``env_class_code``/``env_class_name`` (a plain class, wrapped by
:mod:`envmint.importers.classes`); scenario records carry ``init_config``, ``task`` and, when
graded, ``checklist_with_func`` whose ``check_func(final_state)`` may read a global
``initial_state``. Ground-truth calls (``ground_truth`` or ``calls``) become reference solutions
and go through the soundness gates.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from envmint.contract import Check, EnvironmentSpec, Provenance, Scenario, ToolCall, model_json
from envmint.emit import emit
from envmint.emit.folder import write_text
from envmint.importers.classes import DEFAULT_NOW, build_spec, derive_class_tools, env_id_for
from envmint.importers.snapshots import SnapshotError, snapshots

CHECK_HEAD = """def check(initial_state, final_state):
    "The seed's check_func(final_state); the global initial_state it reads is this parameter."
    import datetime

    def python_value(value):
        # The adapter's tagged JSON back to the Python values the seed's checks saw: sets, tuples,
        # dates, non-string keys. Objects and enums (their classes are not here) become plain values,
        # decimals floats and bytes their base64 text (a check may import only math, re, datetime, copy).
        if isinstance(value, list):
            return [python_value(v) for v in value]
        if not isinstance(value, dict):
            return value
        tag = value.get("$type")
        if tag in ("set", "frozenset", "tuple"):
            items = [python_value(v) for v in value["items"]]
            return {"set": set, "frozenset": frozenset, "tuple": tuple}[tag](items)
        if tag == "dict":
            return {python_value(k): python_value(v) for k, v in value["items"]}
        if tag == "float":
            return float(value["value"])
        if tag == "datetime":
            return datetime.datetime.fromisoformat(value["value"])
        if tag == "date":
            return datetime.date.fromisoformat(value["value"])
        if tag == "time":
            return datetime.time.fromisoformat(value["value"])
        if tag == "timedelta":
            return datetime.timedelta(seconds=value["seconds"])
        if tag == "decimal":
            return float(value["value"])
        if tag == "bytes":
            return value["base64"]
        if tag == "enum":
            return python_value(value["value"])
        if tag == "object":
            return {k: python_value(v) for k, v in value["attributes"].items()}
        return {k: python_value(v) for k, v in value.items()}

    initial_state = python_value(initial_state)
    final_state = python_value(final_state)
"""
CHECK_TAIL = "    return check_func(final_state)\n"


@dataclass
class ImportReport:
    environments: list[str] = field(default_factory=list)
    scenarios: list[str] = field(default_factory=list)
    ungraded: list[str] = field(default_factory=list)
    ungated: list[str] = field(default_factory=list)
    failed: dict[str, list[str]] = field(default_factory=dict)
    skipped_tools: dict[str, dict[str, str]] = field(default_factory=dict)
    notes: dict[str, list[str]] = field(default_factory=dict)


def metadata_records(data: Any) -> list[dict[str, Any]]:
    """Both forms of the metadata file: a dict keyed by env id, or a list of records."""
    if isinstance(data, dict):
        return [{"env_id": key, **value} for key, value in data.items() if isinstance(value, dict)]
    if isinstance(data, list):
        return [record for record in data if isinstance(record, dict)]
    raise ValueError("the metadata file must hold a JSON object keyed by env id, or a list of records")


def scenario_records(data: Any) -> list[dict[str, Any]]:
    if isinstance(data, dict):
        data = list(data.values()) if all(isinstance(v, dict) for v in data.values()) else [data]
    if not isinstance(data, list):
        raise ValueError("a scenario file must hold a JSON list of scenario records")
    return [record for record in data if isinstance(record, dict)]


def wrap_check(check_func_source: str) -> str:
    """Our ``check(initial_state, final_state)`` around a seed ``check_func(final_state)``.

    The seed module is nested inside ``check``, so every read of the global ``initial_state`` (in
    ``check_func`` or a helper beside it) reads the parameter: a deep copy, as the seed gives.
    """
    body = textwrap.indent(check_func_source.strip("\n"), "    ") + "\n\n"
    return CHECK_HEAD + "\n" + body + CHECK_TAIL


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9_-]+", "-", text.lower()).strip("-")[:80] or "task"


def reference_calls(record: dict[str, Any]) -> list[ToolCall]:
    calls = record.get("ground_truth") or record.get("calls") or []
    out = []
    for call in calls:
        name = call.get("tool") or call.get("name")
        arguments = call.get("arguments") or call.get("args") or {}
        out.append(ToolCall(tool=str(name), arguments=dict(arguments)))
    return out


async def environment_spec(record: dict[str, Any], report: ImportReport) -> tuple[EnvironmentSpec, str]:
    """The spec of one metadata record, and its class source; the default state is the empty config's."""
    source, class_name = str(record["env_class_code"]), str(record["env_class_name"])
    env_id = env_id_for(str(record.get("env_id") or class_name))
    derived = derive_class_tools(source, class_name)
    [first] = await snapshots(source, class_name, [{}])
    if not first["ok"]:
        raise ValueError(f"{env_id}: {class_name}() failed in the sandbox: {first['error']}")
    intro = str(record.get("environment_introduction") or "").strip()
    spec = build_spec(
        source,
        derived,
        env_id=env_id,
        default_state=first["state"],
        name=str(record.get("environment_summary") or class_name),
        description=intro or f"Imported from the seed environment {class_name}.",
        rules=[str(rule) for rule in record.get("constraints_rules") or []],
        origin=f"envscaler:{record.get('env_id', class_name)}",
    )
    report.skipped_tools[env_id] = dict(derived.skipped)
    report.notes[env_id] = list(derived.notes)
    return spec, source


def _scenario(spec: EnvironmentSpec, record: dict[str, Any], index: int, state: dict[str, Any], name: str) -> Scenario:
    checks = [
        Check(
            id=f"c{i}",
            description=str(item.get("check_item") or f"check {i}"),
            source=wrap_check(item["check_func"]),
        )
        for i, item in enumerate(record.get("checklist_with_func") or [], 1)
        if item.get("check_func")
    ]
    return Scenario(
        id=f"{spec.id}/{name}",
        env_id=spec.id,
        kind="task",
        instructions=str(record.get("task") or "Complete the task."),
        initial_state=state,
        now=DEFAULT_NOW,
        checks=checks,
        reference_solution=reference_calls(record),
        provenance=Provenance(created_by="import", source=f"envscaler:{record.get('task_id', index)}"),
    )


def scenario_names(records: Sequence[dict[str, Any]]) -> list[str]:
    """One file name per record: its task id as a slug, with ``-2``, ``-3``... for repeats, so no
    scenario overwrites another."""
    names: list[str] = []
    taken: set[str] = set()
    for index, record in enumerate(records):
        base = _slug(str(record.get("task_id") or f"task-{index}"))
        name, copy = base, 1
        while name in taken:
            copy += 1
            name = f"{base}-{copy}"
        taken.add(name)
        names.append(name)
    return names


async def scenarios_for(
    spec: EnvironmentSpec, source: str, class_name: str, records: Sequence[dict[str, Any]]
) -> list[tuple[str, Scenario | None, str]]:
    """``(scenario id, scenario or None, why it could not be made)`` for one environment's records."""
    configs = [dict(r.get("init_config") or {}) for r in records]
    states = await snapshots(source, class_name, configs) if configs else []
    out: list[tuple[str, Scenario | None, str]] = []
    names = scenario_names(records)
    for index, (record, state, name) in enumerate(zip(records, states, names, strict=True)):
        scenario_id = f"{spec.id}/{name}"
        if not state["ok"]:
            out.append((scenario_id, None, f"init_config does not instantiate: {state['error']}"))
            continue
        try:
            out.append((scenario_id, _scenario(spec, record, index, state["state"], name), ""))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            out.append((scenario_id, None, " ".join(f"not a valid scenario: {exc}".split())[:500]))
    return out


async def gate(spec: EnvironmentSpec, scenarios: Sequence[Scenario]) -> dict[str, list[str]]:
    """Soundness problems of each scenario that has a reference solution (none: not gated)."""
    from generator.probe import candidate
    from generator.soundness import check_soundness

    problems: dict[str, list[str]] = {}
    gated = [s for s in scenarios if s.reference_solution]
    if not gated:
        return problems
    async with candidate(spec) as server:
        for scenario in gated:
            checks = list(scenario.checks) if scenario.checks else None
            result = await check_soundness(
                server, scenario.initial_state, scenario.now, scenario.reference_solution, checks, seed=scenario.seed
            )
            if result.problems:
                problems[scenario.id] = result.problems
    return problems


async def import_envscaler(
    metadata: Any,
    scenario_data: Sequence[Any],
    servers_dir: Path,
    scenarios_dir: Path,
    *,
    keep_unsound: bool = False,
    calls: dict[str, Any] | None = None,
) -> ImportReport:
    """Write ``servers_dir/<env>/`` and ``scenarios_dir/<env>/<task>.json``; report what failed a gate.

    ``calls`` maps a ``task_id`` to ground-truth calls for records that carry none of their own.
    """
    report = ImportReport()
    by_env: dict[str, list[dict[str, Any]]] = {}
    for data in scenario_data:
        for record in scenario_records(data):
            extra = (calls or {}).get(str(record.get("task_id")))
            if extra and not (record.get("ground_truth") or record.get("calls")):
                record = {**record, "ground_truth": extra}
            by_env.setdefault(str(record.get("env_id")), []).append(record)
    for record in metadata_records(metadata):
        try:
            spec, source = await environment_spec(record, report)
        except (ValueError, KeyError, SnapshotError) as exc:
            report.failed[str(record.get("env_id"))] = [str(exc)]
            continue
        emit(spec, servers_dir)
        report.environments.append(spec.id)
        records = by_env.get(str(record.get("env_id")), [])
        made = await scenarios_for(spec, source, str(record["env_class_name"]), records)
        for scenario_record, name in zip(records, scenario_names(records), strict=True):
            task_id = str(scenario_record.get("task_id") or "")
            if task_id and name != _slug(task_id):
                note = f"task_id {task_id!r} names an earlier scenario too; this one is {name}"
                report.notes.setdefault(spec.id, []).append(note)
        for scenario_id, _, error in made:
            if error:
                report.failed[scenario_id] = [error]
        usable = [scenario for _, scenario, _ in made if scenario is not None]
        problems = await gate(spec, usable)
        for scenario in usable:
            if scenario.id in problems:
                report.failed[scenario.id] = problems[scenario.id]
                if not keep_unsound:
                    continue
            path = scenarios_dir / spec.id / (scenario.id.split("/", 1)[1] + ".json")
            write_text(path, model_json(scenario))
            report.scenarios.append(scenario.id)
            if not scenario.graded:
                report.ungraded.append(scenario.id)
            elif not scenario.reference_solution:
                report.ungated.append(scenario.id)
    return report


async def import_class_file(
    path: Path,
    class_name: str,
    servers_dir: Path,
    *,
    state: dict[str, Any] | None = None,
    init: str | None = None,
    env_id: str | None = None,
) -> tuple[EnvironmentSpec, ImportReport]:
    """``envmint import class``: one class from a file, its default state taken in the sandbox."""
    source = path.read_text(encoding="utf-8")
    derived = derive_class_tools(source, class_name, exclude=(init,) if init else ())
    [first] = await snapshots(source, class_name, [state or {}], init=init)
    if not first["ok"]:
        raise ValueError(f"{class_name} could not be instantiated in the sandbox: {first['error']}")
    spec = build_spec(
        source, derived, env_id=env_id or env_id_for(class_name), default_state=first["state"], origin=path.name
    )
    emit(spec, servers_dir)
    report = ImportReport(
        environments=[spec.id], skipped_tools={spec.id: derived.skipped}, notes={spec.id: derived.notes}
    )
    return spec, report
