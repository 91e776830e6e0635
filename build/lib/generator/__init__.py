"""The synthesis pipeline: from a task corpus to sound environments and scenarios.

Stages ask a model (through :mod:`generator.llm`, recorded and replayable), check what comes back
with gates, repair through the model with the concrete error, and write the contract files the
emitter and harness read.
"""

__version__ = "0.1.0"
