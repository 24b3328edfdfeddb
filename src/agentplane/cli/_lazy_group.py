"""The program's commands, made when a command line uses them rather than at start-up.

typer turns a whole program into click commands before it reads the command line: for each of
the ~90 commands it reads the function's signature and evaluates every annotation
(``typing.get_type_hints``), after importing the module that holds it. That was most of what
``agentplane --help`` cost, and ``agentplane runs list`` paid it for 85 commands it never runs.

Here the program lists its commands as entries (a name and how to get the function or the
sub-group, plus a group's help) and makes a command, with typer's own functions and the same
registration typer would have made, only when it is looked up. The program's own help lists
every command from the entries: a group's one-line help is stated in its entry, a command's
is its function's docstring, so ``--help`` imports only the modules of the program's top-level
commands and makes none of them. Whatever walks ``commands`` (the docs' CLI reference, shell
completion) gets every command, made on first access.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator, MutableMapping
from dataclasses import dataclass
from typing import Any

import typer
import typer.main
from typer import core
from typer._click import Command, Context, HelpFormatter


@dataclass(frozen=True)
class Entry:
    """A command of the program, as registered with typer, made only when used."""

    name: str
    load: Callable[[], Any]
    """Returns the command's function, or the sub-group's ``typer.Typer``."""
    help: str | None = None
    """A sub-group's help (stated here, so that listing it imports nothing); None for a
    command, whose help is its function's docstring."""

    def registered(self) -> Any:
        """What ``Typer.command`` or ``Typer.add_typer`` would have registered for it."""
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
        """The click command typer makes for ``entry`` as part of this group."""
        info = entry.registered()
        if entry.help is None:
            return typer.main.get_command_from_info(
                info, pretty_exceptions_short=self.pretty_exceptions_short,
                rich_markup_mode=self.rich_markup_mode)
        return typer.main.get_group_from_info(
            info, pretty_exceptions_short=self.pretty_exceptions_short,
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
