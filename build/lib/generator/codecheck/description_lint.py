"""The gate for tool and parameter descriptions: tool poisoning and oversized text.

A description is shown to every agent that lists the tools, so it is where a poisoned tool would
hide its orders. Flagged: empty or over :data:`MAX_DESCRIPTION` characters, links, invisible
characters and encoded blobs, and text that addresses the model.
"""

from __future__ import annotations

import re

from generator.codecheck.findings import GateFinding, sorted_findings

__all__ = ["MAX_DESCRIPTION", "lint_description"]

MAX_DESCRIPTION = 1024
"""The most characters a tool or parameter description may have."""

_HIDDEN_CHARACTERS = re.compile("[\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\U000e0000-\U000e007f]")
_DESCRIPTION_RULES: tuple[tuple[str, re.Pattern[str], str], ...] = (
    (
        "description-url",
        re.compile(
            r"\b(?:https?|ftp|file|data|javascript):\S*|\bwww\.\S+"
            r"|(?<![@\w.])(?:[a-z0-9-]+\.)+(?:com|net|org|io|ai|dev|app|xyz|ru|cn|me|co|sh|ly|gg|link|site)\b(?:/\S*)?",
            re.IGNORECASE,
        ),
        "a tool description may not contain links or web addresses",
    ),
    (
        "description-hidden",
        re.compile(r"<!--|-->|[A-Za-z0-9+/]{48,}={0,2}"),
        "hidden content (HTML comments, encoded blobs) does not belong in a tool description",
    ),
    (
        "description-injection",
        re.compile(
            r"\b(?:ignore|disregard|forget|override|bypass)\b[^.\n]{0,40}?\b(?:previous|prior|above|earlier|"
            r"preceding|all|any|other|your|system|developer|safety)\b[^.\n]{0,30}?\b(?:instructions?|prompts?|"
            r"rules?|guidelines?|directions?|messages?|context|constraints?|polic(?:y|ies))\b"
            r"|\b(?:ignore|disregard|forget)\s+(?:all\s+|any\s+)?(?:of\s+)?(?:the\s+)?(?:previous|prior|above|earlier|"
            r"preceding)\b|\b(?:ignore|disregard|forget)\s+(?:everything|anything)\s+(?:above|before|else|you)\b",
            re.IGNORECASE,
        ),
        "it tells the model to ignore its instructions",
    ),
    (
        "description-injection",
        re.compile(
            r"\bsystem[\s_-]*prompt\b|\bdeveloper[\s_-]*(?:message|prompt|mode)\b|\bjailbreak"
            r"|<\s*/?\s*(?:system|important|instructions?|secret|hidden|admin|assistant|user|im_start|im_end)\b[^>]*>"
            r"|\[/?(?:INST|SYS)\]|<<\s*/?SYS\s*>>|<\|[^|>]{1,30}\|>|^\s*(?:system|assistant|user)\s*:",
            re.IGNORECASE | re.MULTILINE,
        ),
        "it imitates a system prompt or a chat-role marker",
    ),
    (
        "description-injection",
        re.compile(
            r"\b(?:do\s+not|don'?t|never)\s+(?:tell|inform|mention|reveal|show|notify|alert)\s+(?:this\s+to\s+)?"
            r"(?:the\s+|any\s+)?(?:user|human|customer|operator|person)s?\b"
            r"|\bwithout\s+(?:telling|informing|asking|notifying|alerting)\s+(?:the\s+)?(?:user|human|customer)s?\b"
            r"|\b(?:secretly|covertly)\b"
            r"|\b(?:note|message|instructions?)\s+(?:to|for)\s+(?:the\s+)?(?:ai|assistant|model|llm|agent)\b"
            r"|\b(?:you\s+are\s+now|from\s+now\s+on|act\s+as|pretend\s+to\s+be)\b",
            re.IGNORECASE,
        ),
        "it gives the model covert instructions",
    ),
    (
        "description-injection",
        re.compile(
            r"~/|/etc/|/proc/|\.ssh\b|\bid_rsa\b|(?<![\w.])\.env\b|\bmcp\.json\b|\bprivate[\s_-]keys?\b",
            re.IGNORECASE,
        ),
        "it refers to host files or keys, which no simulated tool needs",
    ),
)


def lint_description(text: str) -> list[GateFinding]:
    """Tool-poisoning findings for one tool or parameter description (``line`` is within ``text``).

    A description says what a tool does, what its inputs mean and when it refuses. Flagged: empty
    or over 1,024 characters, links, invisible characters and encoded blobs, and text that
    addresses the model (ignore previous instructions, role markers, covert orders, secrets).
    """
    findings: list[GateFinding] = []
    if not text.strip():
        findings.append(GateFinding(1, "description-empty", "the description is empty; say what the tool does"))
    if len(text) > MAX_DESCRIPTION:
        findings.append(
            GateFinding(
                1,
                "description-length",
                f"the description has {len(text)} characters; the limit is {MAX_DESCRIPTION}. Keep what the tool "
                "does, its inputs and when it refuses",
            )
        )
    for match in _HIDDEN_CHARACTERS.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        findings.append(
            GateFinding(
                line,
                "description-hidden",
                f"invisible character U+{ord(match.group()):04X} in the description; use plain visible text",
            )
        )
    for rule, pattern, reason in _DESCRIPTION_RULES:
        for match in pattern.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            shown = " ".join(match.group().split())[:60]
            findings.append(
                GateFinding(
                    line,
                    rule,
                    f"`{shown}`: {reason}. A description only says what the tool does, its inputs and when it refuses",
                )
            )
    return sorted_findings(findings)
