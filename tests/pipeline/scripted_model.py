"""A scripted stand-in for the model, answering every pipeline prompt as a competent model would.

Its answers are built from the hand-written library fixture: the design and tools of the loans
desk, its class as the code, its default state, its scenarios and their validators. Switches make
it answer wrongly first (a buggy tool, a leaky validator, a forbidden import) so tests can watch
the gates and the repair loop work.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from envmint.contract import EnvironmentSpec
from generator.llm.types import Request, Response
from tests.fixtures import library

STATEFUL_WORDS = {
    "appointment": ("Clinic appointment scheduling system", "health"),
    "book": ("Reservation booking system", "travel"),
    "schedule": ("Calendar scheduling system", "operations"),
    "order": ("Online store order management system", "commerce"),
    "account": ("Bank account management system", "finance"),
    "reminder": ("Personal reminder manager", "productivity"),
    "meeting": ("Meeting room booking system", "operations"),
    "prescription": ("Pharmacy prescription system", "health"),
}

BUGGY_PAY_FINE = """member["fines_cents"] -= amount_cents
        raise KeyError("ledger")"""


def fenced(kind: str, body: str) -> str:
    return f"Analysis: done.\n\n```{kind}\n{body}\n```\n"


@dataclass
class ScriptedModel:
    """Answers by stage. Flags inject one wrong first answer; ``asked`` counts prompts per stage."""

    buggy_tool: bool = False
    leaky_check: bool = False
    forbidden_import: bool = False
    name: str = "scripted:fixture-model"
    asked: dict[str, int] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.spec: EnvironmentSpec = library.build_spec()
        self.scenarios = [s for s in library.load_scenarios() if s.initial_state == self.spec.default_state]
        self.sound = {s.id: self._falsified(s) for s in self.scenarios}

    async def complete(self, request: Request) -> Response:
        self.asked[request.stage] = self.asked.get(request.stage, 0) + 1
        self.requests.append(request)
        repair = len(request.messages) > 1
        text = getattr(self, f"_{request.stage}")(request, repair)
        return Response(
            text=text,
            model="fixture-model",
            input_tokens=len(request.messages[-1].content) // 4,
            output_tokens=len(text) // 4,
        )

    # -- skeleton ------------------------------------------------------------------------------
    def _topics(self, request: Request, repair: bool) -> str:
        listing = request.messages[0].content.split("Requests:\n", 1)[1].split("\n\nAnswer with", 1)[0]
        judgements = []
        for line in listing.splitlines():
            index, _, task = line.partition(". ")
            found = next(
                ((name, domain) for word, (name, domain) in STATEFUL_WORDS.items() if word in task.lower()), None
            )
            if found is None:
                judgements.append({"index": int(index), "stateful": False, "reason": "no persistent records involved"})
                continue
            name, domain = found
            weak = name == "Personal reminder manager"  # rated as a narrow, low-usefulness system
            judgements.append(
                {
                    "index": int(index),
                    "stateful": True,
                    "reason": "reads and changes records",
                    "system": name,
                    "description": f"A {name.lower()} keeping records users create and change.",
                    "domain": domain,
                    "usefulness": 4 if weak else 8,
                    "modelability": 8,
                }
            )
        return fenced("json", json.dumps({"judgements": judgements}))

    def _design(self, request: Request, repair: bool) -> str:
        spec = self.spec
        return fenced(
            "json",
            json.dumps(
                {
                    "id": spec.id,
                    "name": spec.name,
                    "domain": spec.domain,
                    "description": spec.description,
                    "entities": [
                        {"name": k, "description": v.get("description", ""), "attributes": []}
                        for k, v in spec.state_schema["properties"].items()
                    ],
                    "rules": spec.rules,
                    "state_schema": spec.state_schema,
                }
            ),
        )

    def _operations(self, request: Request, repair: bool) -> str:
        operations = []
        for tool in self.spec.tools:
            properties = tool.input_schema.get("properties", {})
            required = set(tool.input_schema.get("required", []))
            operations.append(
                {
                    "name": tool.name,
                    "kind": tool.kind,
                    "description": tool.description,
                    "parameters": [
                        {
                            "name": n,
                            "type": p.get("type", "string"),
                            "description": p.get("description", ""),
                            "required": n in required,
                        }
                        for n, p in properties.items()
                    ],
                }
            )
        return fenced("json", json.dumps({"operations": operations}))

    def _code(self, request: Request, repair: bool) -> str:
        source = self.spec.code.source
        if self.forbidden_import and not repair:
            source = "import os\n" + source
        if self.buggy_tool:
            source = self._with_bug(source)
        return fenced("python", source)

    def _with_bug(self, source: str) -> str:
        marker = 'member["fines_cents"] -= amount_cents'
        assert marker in source, "the fixture's pay_fine changed; update the scripted bug"
        return source.replace(marker, BUGGY_PAY_FINE.strip(), 1)

    def _repair_code(self, request: Request, repair: bool) -> str:
        return fenced("python", self.spec.code.source)

    def _state(self, request: Request, repair: bool) -> str:
        return fenced("json", json.dumps(self.spec.default_state))

    def _explore(self, request: Request, repair: bool) -> str:
        cases = [
            {"tool": call.tool, "arguments": call.arguments, "case": "positive", "expect": "works"}
            for scenario in self.scenarios
            for call in scenario.reference_solution
        ]
        covered = {c["tool"] for c in cases}
        members = sorted(self.spec.default_state["members"])
        books = sorted(self.spec.default_state["books"])
        extra = {
            "get_member": {"member_id": members[0]},
            "search_members": {"query": "a"},
            "search_books": {"query": "the"},
            "get_book_availability": {"book_id": books[0]},
            "list_member_loans": {"member_id": members[0]},
            "list_member_holds": {"member_id": members[0]},
            "renew_loan": {"loan_id": "LOAN-NOPE"},
            "place_hold": {"member_id": members[0], "book_id": books[0]},
            "cancel_hold": {"hold_id": "HOLD-NOPE"},
            "pay_fine": {"member_id": members[0], "amount_cents": 1},
            "checkout_book": {"member_id": "M-0000", "book_id": books[0]},
            "return_book": {"loan_id": "LOAN-NOPE"},
        }
        cases += [
            {"tool": tool.name, "arguments": extra[tool.name], "case": "negative", "expect": "refused"}
            for tool in self.spec.tools
            if tool.name not in covered or tool.name == "pay_fine"
        ]
        return fenced("json", json.dumps({"cases": cases}))

    def _judge(self, request: Request, repair: bool) -> str:
        results = request.messages[0].content.split("state changes it made):\n", 1)[1]
        verdicts = []
        for line in results.splitlines():
            head = line.split(". ", 1)[0]
            if head.isdigit():
                verdicts.append({"index": int(head), "verdict": "pass", "reason": "consistent with the rules"})
        return fenced("json", json.dumps({"verdicts": verdicts}))

    # -- scenarios -----------------------------------------------------------------------------
    def _sound_checks(self, scenario: Any) -> list[Any]:
        return list(self.sound[scenario.id])

    @staticmethod
    def _falsified(scenario: Any) -> list[Any]:
        """The fixture's checks that are False on the initial state (the gate demands it)."""
        from envmint.grading import Verdict, grade_checks_sync

        verdicts = grade_checks_sync(scenario.checks, scenario.initial_state, scenario.initial_state)
        return [c for c, v in zip(scenario.checks, verdicts, strict=True) if v.verdict is Verdict.FAIL]

    def _scenario_json(self, scenario: Any, with_checks: bool) -> dict[str, Any]:
        checks = self._sound_checks(scenario)
        data: dict[str, Any] = {
            "name": scenario.id.split("/")[1],
            "kind": scenario.kind,
            "instructions": scenario.instructions,
            "reference_solution": [c.model_dump() for c in scenario.reference_solution],
            "checklist": [{"id": c.id, "description": c.description} for c in checks],
        }
        if scenario.user is not None:
            data["user"] = scenario.user.model_dump()
        if with_checks:
            data["checks"] = [{"id": c.id, "source": c.source} for c in checks]
        return data

    def _wanted(self, request: Request) -> list[Any]:
        text = request.messages[0].content
        count = int(text.split("Write ", 1)[1].split(" scenarios", 1)[0])
        return self.scenarios[:count]

    def _scenarios(self, request: Request, repair: bool) -> str:
        return fenced("json", json.dumps({"scenarios": [self._scenario_json(s, False) for s in self._wanted(request)]}))

    def _checks(self, request: Request, repair: bool) -> str:
        text = request.messages[0].content
        out = []
        for scenario in self.scenarios:
            name = scenario.id.split("/")[1]
            if f"## Scenario {name} " not in text:
                continue
            checks = [{"id": c.id, "source": c.source} for c in self._sound_checks(scenario)]
            if self.leaky_check and not repair and checks:
                checks[0] = {
                    "id": checks[0]["id"],
                    "source": "def check(initial_state, final_state):\n    return True\n",
                }
            out.append({"name": name, "checks": checks})
        return fenced("json", json.dumps({"scenarios": out}))

    def _repair_scenario(self, request: Request, repair: bool) -> str:
        name = request.messages[0].content.split('Scenario "', 1)[1].split('"', 1)[0]
        scenario = next(s for s in self.scenarios if s.id.endswith("/" + name))
        return fenced("json", json.dumps(self._scenario_json(scenario, True)))
