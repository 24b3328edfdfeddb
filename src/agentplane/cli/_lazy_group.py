"""The program's commands, made when a command line uses them rather than at start-up.

typer turns a whole program into click commands before it reads the command line: for each of
the ~90 commands it reads the function's signature and evaluates every annotation
(``typing.get_type_hints``), after importing the module that holds it. That was most of what
``agentplane --help`` cost, and ``agentplane runs list`` paid it for 85 commands it never runs.

Here the program lists its commands as entries (a name and how to get the function or the
sub-group, plus a group's help) and makes a command, with typer's own functions and the same
registration typer would have made, only when it is looked up; a sub-group is made the same
way, so ``runs list`` makes the ``runs`` group and its ``list`` command. A group's help lists
every command from the entries: a group's one-line help is stated in its entry, a command's
is its function's docstring, so ``--help`` imports only the modules of the program's top-level
commands and makes none of them. Whatever walks ``commands`` (the docs' CLI reference, shell
completion) gets every command, made on first access.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable, Iterator, MutableMapping
from dataclasses import dataclass
from typing import Any, cast

import typer
import typer.main
from typer import core
from typer._click import Command, Context, HelpFormatter
from typer.models import CommandInfo, DefaultPlaceholder, TyperInfo


@dataclass(frozen=True)
class Entry:
    """A command of the program, as registered with typer, made only when used."""

    name: str
    load: Callable[[], Any] | None = None
    """Returns the command's function, or the sub-group's ``typer.Typer``."""
    help: str | None = None
    """A sub-group's help (stated here, so that listing it imports nothing); None for a
    command, whose help is its function's docstring."""
    info: CommandInfo | TyperInfo | None = None
    """What typer registered, for the commands of a sub-group (its module is loaded)."""

    @property
    def is_group(self) -> bool:
        return self.help is not None or isinstance(self.info, TyperInfo)

    def registered(self) -> CommandInfo | TyperInfo:
        """What ``Typer.command`` or ``Typer.add_typer`` would have registered for it."""
        if self.info is not None:
            return self.info
        assert self.load is not None
        holder = typer.Typer()
        if self.help is None:
            holder.command(self.name)(self.load())
            return holder.registered_commands[0]
        holder.add_typer(self.load(), name=self.name, help=self.help)
        return holder.registered_groups[0]

    def summary(self) -> Command:
        """A stand-in with what the program's help shows of it: name, help, short help."""
        if self.help is not None:
            return core.TyperCommand(self.name, help=inspect.cleandoc(self.help))
        info = self.registered()
        if isinstance(info, TyperInfo):  # typer's own reading of a group's settings
            solved = typer.main.solve_typer_info_defaults(info)
            return core.TyperCommand(self.name, help=solved.help, short_help=solved.short_help,
                                     hidden=solved.hidden, deprecated=solved.deprecated)
        text = info.help if info.help is not None else inspect.getdoc(info.callback)
        return core.TyperCommand(self.name, help=text, short_help=info.short_help,
                                 hidden=info.hidden, deprecated=info.deprecated)


def command(name: str, load: Callable[[], Callable[..., Any]]) -> Entry:
    """A command: ``load`` returns its function (importing its module)."""
    return Entry(name, load)


def subgroup(name: str, help: str, load: Callable[[], typer.Typer]) -> Entry:
    """A sub-group with this help: ``load`` returns its ``typer.Typer`` (with its commands)."""
    return Entry(name, load, help)


class _Commands(MutableMapping[str, Command]):
    """The group's commands by name, in the entries' order; each made on first access."""

    def __init__(self, owner: LazyGroup, made: MutableMapping[str, Command]) -> None:
        self._owner = owner
        self._entries = {e.name: e for e in owner.entries}
        self._made = dict(made)
        self._names = [*self._entries, *(n for n in made if n not in self._entries)]

    def __getitem__(self, name: str) -> Command:
        made = self._made.get(name)
        if made is None:
            made = self._made[name] = self._owner.make(self._entries[name])
        return made

    def __setitem__(self, name: str, command: Command) -> None:
        if name not in self._entries and name not in self._made:
            self._names.append(name)
        self._made[name] = command

    def __delitem__(self, name: str) -> None:
        self._entries.pop(name, None)
        self._made.pop(name, None)
        self._names.remove(name)

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._names))

    def __len__(self) -> int:
        return len(self._names)

    def made(self) -> list[str]:
        """The names of the commands made so far."""
        return list(self._made)

    def summary(self, name: str) -> Command | None:
        """What the group's help lists for ``name``, making nothing."""
        if name in self._made:
            return self._made[name]
        entry = self._entries.get(name)
        return None if entry is None else entry.summary()


class LazyGroup(core.TyperGroup):
    """A typer group whose ``entries`` are made when looked up (subclass it to set them)."""

    entries: tuple[Entry, ...] = ()
    pretty_exceptions_short = True
    """What typer hands every command of a program made with ``typer.Typer()``'s default."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self.commands = _Commands(self, self.commands)
        self._listing = False

    def make(self, entry: Entry) -> Command:
        """The click command typer makes for ``entry`` as part of this group (a sub-group is
        a lazy group too: its commands are made when used)."""
        info = entry.registered()
        if isinstance(info, CommandInfo):
            return typer.main.get_command_from_info(
                info, pretty_exceptions_short=self.pretty_exceptions_short,
                rich_markup_mode=self.rich_markup_mode)
        return typer.main.get_group_from_info(
            _lazily(info), pretty_exceptions_short=self.pretty_exceptions_short,
            rich_markup_mode=self.rich_markup_mode, suggest_commands=self.suggest_commands)

    def made(self) -> list[str]:
        """The names of the commands made so far."""
        return self._commands().made()

    def _commands(self) -> _Commands:
        commands = self.commands
        assert isinstance(commands, _Commands)
        return commands

    def list_commands(self, ctx: Context) -> list[str]:
        return list(self.commands)

    def get_command(self, ctx: Context, cmd_name: str) -> Command | None:
        if self._listing:
            return self._commands().summary(cmd_name)
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: Context, formatter: HelpFormatter) -> None:
        """typer's listing of the commands, from their summaries."""
        self._listing = True
        try:
            super().format_commands(ctx, formatter)
        finally:
            self._listing = False


def _lazily(info: TyperInfo) -> TyperInfo:
    """``info`` with its Typer's commands and sub-groups left to a ``LazyGroup`` to make (as is
    when the group names its class, or a sub-group has no name of its own)."""
    group = info.typer_instance
    assert group is not None
    named = [typer.main.solve_typer_info_defaults(sub).name for sub in group.registered_groups]
    if not all(isinstance(cls, DefaultPlaceholder | type(None))
               for cls in (info.cls, group.info.cls)) or not all(named):
        return info
    entries = [Entry(c.name or typer.main.get_command_name(_function(c).__name__), info=c)
               for c in group.registered_commands]
    entries += [Entry(cast(str, name), info=sub)
                for name, sub in zip(named, group.registered_groups, strict=True)]
    shell = copy.copy(group)
    shell.registered_commands, shell.registered_groups = [], []
    shell.info = copy.copy(group.info)
    shell.info.cls = type(LazyGroup.__name__, (LazyGroup,), {"entries": tuple(entries)})
    lazy = copy.copy(info)
    lazy.typer_instance = shell
    return lazy


def _function(command: CommandInfo) -> Callable[..., Any]:
    assert command.callback is not None, "a command must have a callback function"
    return command.callback
