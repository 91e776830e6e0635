"""Putting servers in users' hands: client configuration, MCP Bundles and MCP Registry entries."""
