"""What a tool function's docstring tells the model: the tool's description and each parameter's.

The docstring is read with ``docstring-parser`` in any of the common styles — Google
(``Args:``), NumPy (``Parameters`` / ``----------``) and Sphinx (``:param name:``). The
description is the docstring's first paragraph (the text before its sections); each parameter
the docstring describes gets that text as its JSON Schema ``description``, unless the parameter
already has one (``Annotated[T, Field(description=...)]`` or a ``Field`` default), which wins.

A docstring is documentation, not configuration: a name it describes that the function does not
have is ignored, and a docstring the parser cannot read gives only its first paragraph.
The parser is imported when a docstring is first read, so ``import agentplane`` stays light.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, get_args, get_origin

from pydantic import Field
from pydantic.fields import FieldInfo


@dataclass(frozen=True, slots=True)
class ToolDoc:
    """What a function's docstring says, ready for a tool's definition."""

    summary: str = ""
    """The first paragraph: the tool's description ("" without a docstring)."""
    parameters: Mapping[str, str] = field(default_factory=dict)
    """Parameter name -> its description, for the names the docstring describes."""


def read_docstring(fn: Callable[..., Any]) -> ToolDoc:
    """The tool description and the parameter descriptions in ``fn``'s docstring."""
    return _parse(inspect.getdoc(fn) or "")


@functools.lru_cache(maxsize=1024)
def _parse(doc: str) -> ToolDoc:
    if not doc.strip():
        return ToolDoc()
    import docstring_parser  # only when a tool's schema is built

    try:
        parsed = docstring_parser.parse(doc)
    except Exception:  # it may fail on odd text (an IndexError, not its ParseError): a
        return ToolDoc(_first_paragraph(doc))  # docstring must not stop a workflow loading
    text = parsed.short_description or ""
    if parsed.long_description:
        gap = "\n\n" if parsed.blank_after_short_description else "\n"
        text = f"{text}{gap}{parsed.long_description}" if text else parsed.long_description
    parameters: dict[str, str] = {}
    for param in parsed.params:
        description = (param.description or "").strip()
        if not description:
            continue
        for name in param.arg_name.split(","):  # NumPy: ``x, y : int``
            parameters.setdefault(name.strip().lstrip("*"), description)
    return ToolDoc(_first_paragraph(text), parameters)


def _first_paragraph(text: str) -> str:
    return text.strip().split("\n\n")[0].strip()


def has_description(annotation: Any, default: Any) -> bool:
    """Whether the parameter is already described with pydantic's ``Field(description=...)``,
    in ``Annotated`` or as its default."""
    extras = get_args(annotation)[1:] if get_origin(annotation) is Annotated else ()
    return any(isinstance(extra, FieldInfo) and extra.description is not None
               for extra in (*extras, default))


def described(annotation: Any, default: Any, description: str | None) -> Any:
    """``annotation`` carrying ``description`` for the JSON Schema, unless it is ``None`` or the
    parameter already has a description of its own (which wins)."""
    if description is None or has_description(annotation, default):
        return annotation
    return Annotated[annotation, Field(description=description)]
