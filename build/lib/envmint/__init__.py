"""envmint: synthesize stateful tool environments and ship them as MCP servers."""

__version__ = "0.1.0"
