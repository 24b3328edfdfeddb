"""Tools: Python functions (and later HTTP endpoints and MCP servers) with side-effect classes."""

from .base import Effect, Tool, ToolArgumentsError, ToolContext, ToolError, Trust
from .isolation import Isolation, ToolCrashedError
from .json_values import ToolResultError, to_json_value
from .python import ToolImportError, import_function, python_tool
from .trust import FieldTrust, PathError, TrustDeclaration, trust_label

__all__ = [
    "Effect",
    "FieldTrust",
    "Isolation",
    "PathError",
    "Tool",
    "ToolArgumentsError",
    "ToolContext",
    "ToolCrashedError",
    "ToolError",
    "ToolImportError",
    "ToolResultError",
    "Trust",
    "TrustDeclaration",
    "import_function",
    "python_tool",
    "to_json_value",
    "trust_label",
]
