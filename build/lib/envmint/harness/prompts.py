"""What the harness tells an agent at the start of an episode."""

from __future__ import annotations

from envmint.contract import Scenario

TASK_GUIDE = (
    "You operate a software system through the tools listed. Use them to accomplish the user's request "
    "completely and exactly. Look things up instead of guessing identifiers. When you are done, reply with a "
    "short plain-text summary of what you did."
)
CONVERSATION_GUIDE = (
    "You are the assistant at the desk of the system described below, talking with a user. Use the tools to "
    "help them. Ask the user for any detail that only they know, one question at a time, and never invent "
    "identifiers. Confirm what you did when you are finished."
)


def system_prompt(scenario: Scenario, server_instructions: str | None) -> str:
    guide = CONVERSATION_GUIDE if scenario.kind == "conversation" else TASK_GUIDE
    parts = [guide]
    if server_instructions:
        parts.append("About the system:\n" + server_instructions.strip())
    if scenario.kind == "conversation":
        parts.append("Your instructions:\n" + scenario.instructions.strip())
    return "\n\n".join(parts)
