"""Pieces shared by the contract models."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

ENV_ID_PATTERN = r"^[a-z][a-z0-9_]{1,62}$"
TOOL_NAME_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"
SCENARIO_ID_PATTERN = r"^[a-z][a-z0-9_]{1,62}/[a-z0-9][a-z0-9_-]{0,80}$"


class ContractModel(BaseModel):
    """Strict base: unknown fields are errors, so a typo never passes silently."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def _canonical_instant(text: str) -> str:
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{text!r} is not an ISO 8601 instant such as 2026-03-02T09:30:00Z") from None
    if value.tzinfo is None:
        raise ValueError(f"{text!r} needs a timezone (use Z for UTC)")
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


Instant = Annotated[str, AfterValidator(_canonical_instant), Field(examples=["2026-03-02T09:30:00Z"])]
"""An ISO 8601 instant, stored canonically in UTC with a ``Z`` suffix."""


class Provenance(ContractModel):
    """Where an artefact came from, so any of it can be traced and reproduced."""

    created_by: Literal["hand", "pipeline", "import"]
    generator_version: str = ""
    model: str = ""
    prompt_hashes: dict[str, str] = Field(default_factory=dict, description="Prompt template name -> sha256.")
    source: str = Field(default="", description="Seed task, topic or imported file this came from.")
