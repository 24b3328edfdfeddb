"""Tools: Python functions (and later HTTP endpoints and MCP servers) with side-effect classes."""

from .base import Effect, Tool, ToolArgumentsError, ToolContext, ToolError, Trust
from .python import ToolImportError, import_function, python_tool, to_json_value

__all__ = [
    "Effect",
    "Tool",
    "ToolArgumentsError",
    "ToolContext",
    "ToolError",
    "ToolImportError",
    "Trust",
    "import_function",
    "python_tool",
    "to_json_value",
]
