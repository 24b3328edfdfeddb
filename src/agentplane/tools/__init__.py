"""Tools: Python functions (and later HTTP endpoints and MCP servers) with side-effect classes."""

from .base import Effect, Tool, ToolArgumentsError, ToolContext, ToolError, Trust
from .python import ToolImportError, import_function, python_tool, to_json_value
from .trust import FieldTrust, PathError, TrustDeclaration, trust_label

__all__ = [
    "Effect",
    "FieldTrust",
    "PathError",
    "Tool",
    "ToolArgumentsError",
    "ToolContext",
    "ToolError",
    "ToolImportError",
    "Trust",
    "TrustDeclaration",
    "import_function",
    "python_tool",
    "to_json_value",
    "trust_label",
]
