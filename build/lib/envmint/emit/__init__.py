"""The emitter: an EnvironmentSpec in, a standalone MCP server folder out, byte for byte the same each run."""

from envmint.emit.folder import RUNTIME_SOURCE, emit, ensure_runtime

__all__ = ["RUNTIME_SOURCE", "emit", "ensure_runtime"]
