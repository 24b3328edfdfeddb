"""Command groups as the CLI makes them, and how their options are converted.

Help is printed plain (click's formatter), not through rich: rendering help with rich loads
rich, markdown-it and pygments, which would double what ``agentplane --help`` costs a person
(docs/install.md, "Start-up").

Options are converted without pydantic when that is plain: typer converts every option value
through a pydantic ``TypeAdapter`` it builds on first use, which imports pydantic and its
schema machinery (~55 ms, most of what ``agentplane runs list`` costs beyond the journal). A
``str``, a ``bool``, an ``int`` (with or without ``min``/``max``) and a ``list[str]`` given
plainly (a string of ASCII digits in range for an int, a bool for a bool) are converted here
to the value the adapter would return; anything else, and every value the adapter would
refuse, still goes to typer's own adapter, so results and error messages are typer's
(tests/cli/test_typer_options.py compares the two over many inputs).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, get_args, get_origin

import typer
from typer import _coercion, core
from typer._click import Context

PLAIN_HELP = None
"""typer's ``rich_markup_mode`` for every group and command: plain help."""

_LONGEST_PLAIN_INT = 18
"""Digits of the longest string converted here (well inside what int() and pydantic take)."""


def group(help: str | None = None, *, name: str | None = None, top: bool = False,
          cls: type[core.TyperGroup] | None = None) -> typer.Typer:
    """A group of commands that prints its help when called without one; ``top`` for the
    program itself (no shell-completion commands, errors printed by ``_exits.run_main``).
    A group without ``help`` gets it where it is added to its parent. ``cls`` is the click
    group to make (a ``_lazy_group.LazyGroup``, whose commands typer does not know of: typer
    makes a group of a ``Typer`` with a callback, so it gets one that does nothing)."""
    if cls is None:
        return typer.Typer(help=help, name=name, no_args_is_help=True,
                           rich_markup_mode=PLAIN_HELP, add_completion=not top,
                           pretty_exceptions_enable=not top)
    return typer.Typer(help=help, name=name, no_args_is_help=True, rich_markup_mode=PLAIN_HELP,
                       add_completion=not top, pretty_exceptions_enable=not top, cls=cls,
                       callback=_nothing)


def _nothing() -> None:
    """The callback of a group whose commands typer does not know of: nothing to do before a
    command."""


@dataclass(frozen=True)
class PlainParam(_coercion.RuntimeParam):
    """Converts the plain values of a ``str``, ``bool``, ``int`` or ``list[str]`` option itself
    and hands every other value to typer's own conversion (built only then)."""

    descriptor: _coercion.TypeDescriptor

    def _coerce_value(self, value: Any, param: core._TyperParameter, ctx: Context) -> Any:
        plain = self.plain(value)
        if plain is not None:
            return plain
        return _typers_own(self.descriptor)._coerce_value(value, param=param, ctx=ctx)

    def plain(self, value: Any) -> Any:
        """The converted value, or None when typer's conversion must decide."""
        annotation = self.annotation
        if annotation is str or annotation is bool:
            return value if type(value) is annotation else None
        if annotation is int:
            return self._plain_int(value)
        if type(value) in (list, tuple) and all(type(item) is str for item in value):
            return list(value)
        return None

    def _plain_int(self, value: Any) -> int | None:
        if type(value) is int:
            number = value
        elif (type(value) is str and 0 < len(value) <= _LONGEST_PLAIN_INT and value.isascii()
              and value.isdigit()):
            number = int(value)
        else:
            return None
        info = self.parameter_info
        if (info.min is not None and number < info.min) or \
                (info.max is not None and number > info.max):
            return None  # typer refuses or clamps it, with its own words
        return number


_typers_own = _coercion.build_runtime_param
"""typer's conversion of an option (a pydantic adapter, a file opener, ...)."""


def _is_plain(descriptor: _coercion.TypeDescriptor) -> bool:
    annotation: Any = descriptor.annotation
    if descriptor.file_annotation is not None or descriptor.parameter_info.parser is not None:
        return False
    if annotation in (str, int, bool):
        return True
    return get_origin(annotation) is list and get_args(annotation) == (str,)


def build_runtime_param(descriptor: _coercion.TypeDescriptor) -> _coercion.RuntimeParam:
    """The conversion of one option: plain, or typer's own."""
    if _is_plain(descriptor):
        return PlainParam(annotation=descriptor.annotation,
                          parameter_info=descriptor.parameter_info, descriptor=descriptor)
    return _typers_own(descriptor)


# typer looks it up in its core module when an option is first used
core.build_runtime_param = build_runtime_param  # type: ignore[attr-defined]
