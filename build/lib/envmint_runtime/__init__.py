"""envmint_runtime: the code every emitted MCP server runs on. It needs only ``mcp`` installed.

Environment code imports :class:`Environment` and :class:`ToolError` from here.
"""

__version__ = "0.1.0"

from envmint_runtime.environment import JSON, Clock, Environment, IdSource, ToolError  # noqa: E402

__all__ = ["JSON", "Clock", "Environment", "IdSource", "ToolError", "__version__"]
