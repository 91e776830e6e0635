"""The contract: the only interface between the generator, the servers and the harness.

Pydantic models with published, versioned JSON Schemas (``envmint/contract/schemas/``).
"""

from envmint.contract.common import Provenance
from envmint.contract.environment import EnvironmentCode, EnvironmentSpec, ToolSpec
from envmint.contract.io import (
    ContractError,
    dump_json,
    load_environment_spec,
    load_scenario,
    model_json,
    parse_model,
)
from envmint.contract.scenario import CHECK_FUNCTION, Check, Scenario, SimulatedUser, ToolCall

__all__ = [
    "CHECK_FUNCTION",
    "Check",
    "ContractError",
    "EnvironmentCode",
    "EnvironmentSpec",
    "Provenance",
    "Scenario",
    "SimulatedUser",
    "ToolCall",
    "ToolSpec",
    "dump_json",
    "load_environment_spec",
    "load_scenario",
    "model_json",
    "parse_model",
]
