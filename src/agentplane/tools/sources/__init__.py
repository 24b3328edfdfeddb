"""Tool sources: tools that come from outside the process — MCP servers and remote A2A agents.

They reach the runtime through one interface (``base.ToolSource``, ``base.ToolSources``); each
source's module (``mcp``, ``remote``) is imported only when a workflow declares it, so
``agentplane.tools`` and ``agentplane.runtime`` stay light.
"""
