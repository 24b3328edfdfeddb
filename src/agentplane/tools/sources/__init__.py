"""Tool sources: tools that come from outside the process — MCP servers and remote A2A agents.

Imported only when a workflow declares them, so ``agentplane.tools`` stays light.
"""
