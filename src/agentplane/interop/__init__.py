"""Interop: MCP and A2A, client and server sides."""
