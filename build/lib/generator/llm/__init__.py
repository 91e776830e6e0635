"""The pipeline's model layer: requests, backends, recording and replay, the inbox, costs, repair.

Stages build a :class:`Request` and call :meth:`LLM.ask` with a parser that raises
:class:`ParseError` or :class:`GateError`; the backend comes from an ``--llm`` value through
:func:`parse_backend`.
"""

from generator.llm.backends import DEFAULT_ANTHROPIC_MODEL, AnthropicBackend, OpenAIBackend, parse_backend
from generator.llm.client import LLM, RateLimiter, RepairExhausted
from generator.llm.inbox import InboxBackend, InboxTimeout, PendingPrompt, inbox_status
from generator.llm.ledger import Entry, Ledger, Totals
from generator.llm.recording import Exchange, Recording, RecordingError
from generator.llm.replay import MissingExchange, ReplayBackend
from generator.llm.types import Backend, GateError, Message, ParseError, Request, Response

__all__ = [
    "DEFAULT_ANTHROPIC_MODEL",
    "LLM",
    "AnthropicBackend",
    "Backend",
    "Entry",
    "Exchange",
    "GateError",
    "InboxBackend",
    "InboxTimeout",
    "Ledger",
    "Message",
    "MissingExchange",
    "OpenAIBackend",
    "ParseError",
    "PendingPrompt",
    "RateLimiter",
    "Recording",
    "RecordingError",
    "RepairExhausted",
    "ReplayBackend",
    "Request",
    "Response",
    "Totals",
    "inbox_status",
    "parse_backend",
]
