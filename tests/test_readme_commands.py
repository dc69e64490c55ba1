"""README.md's table of commands lists every command and every one of its options.

The table is read as a platform engineer reads it: the code spans of each row's
first cell (``trueup check [--fail-on error\\|warning\\|never]``) name a command and
its options; the values written after an option with choices
(``error|warning|never``) must be its choices. ``-c/--config`` is said once
below the table (and checked in ``tests/test_readme_claims.py``), so the rows
leave it out.
"""

from __future__ import annotations

import re
import typing
from enum import Enum
from pathlib import Path
from typing import Any

import typer.main

from trueup.cli import app

README = Path(__file__).resolve().parents[1] / "README.md"
_SPAN = re.compile(r"`([^`]+)`")
_OPTION = re.compile(r"(?<![\w-])(--?[a-z][a-z-]*)(?:[ =]([a-z]+(?:\|[a-z]+)*))?")
_SAID_ONCE = {"-c", "--config", "--help"}


def _commands(command: Any, prefix: str = "") -> dict[str, Any]:
    """Every command that runs (a group's leaves), by its name as typed (Typer's own
    click types: read by their click attributes)."""
    children = getattr(command, "commands", None)
    if children is None:
        return {prefix.strip(): command}
    found: dict[str, Any] = {}
    for name, child in children.items():
        found.update(_commands(child, f"{prefix}{name} "))
    return found


COMMANDS = _commands(typer.main.get_command(app))


def _options(command: Any) -> list[tuple[list[str], set[str] | None]]:
    """Each option of ``command``: its spellings, and its choices when it has some."""
    hints = typing.get_type_hints(command.callback)
    options = []
    for param in command.params:
        if param.param_type_name != "option" or _SAID_ONCE & set(param.opts):
            continue
        kind = hints.get(param.name)
        choices = {str(m.value) for m in kind} if isinstance(kind, type(Enum)) else None
        options.append(([*param.opts, *param.secondary_opts], choices))
    return options


def _table() -> list[str]:
    """The first cells of the rows of the table under ``## Commands``."""
    section = README.read_text().split("\n## Commands\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    return [row.split(" | ", 1)[0] for row in rows]


def _documented() -> dict[str, dict[str, set[str] | None]]:
    """Per command, the options its rows name, with the choices written out (if any)."""
    documented: dict[str, dict[str, set[str] | None]] = {}
    for cell in _table():
        for span in _SPAN.findall(cell.replace("\\|", "|")):
            words = span.removeprefix("trueup ").split()
            name = max(
                (c for c in COMMANDS if words[: len(c.split())] == c.split()),
                key=len,
                default=None,
            )
            assert name is not None, f"README names no command in `{span}`"
            options = documented.setdefault(name, {})
            for option, choices in _OPTION.findall(span):
                options[option] = set(choices.split("|")) if choices else None
    return documented


DOCUMENTED = _documented()


def test_the_table_has_a_row_for_every_command() -> None:
    assert set(DOCUMENTED) == set(COMMANDS)


def test_every_option_of_every_command_is_in_the_table() -> None:
    missing = {
        f"{name} {spellings[0]}"
        for name, command in COMMANDS.items()
        for spellings, _ in _options(command)
        if not set(spellings) & set(DOCUMENTED.get(name, {}))
    }
    assert missing == set()


def test_every_option_in_the_table_exists() -> None:
    unknown = {
        f"{name} {option}"
        for name, options in DOCUMENTED.items()
        for option in options
        if not any(option in spellings for spellings, _ in _options(COMMANDS[name]))
    }
    assert unknown == set()


def test_the_choices_the_table_writes_out_are_the_options_choices() -> None:
    wrong = {}
    for name, options in DOCUMENTED.items():
        for spellings, choices in _options(COMMANDS[name]):
            written = next((options[o] for o in spellings if options.get(o)), None)
            if written is not None and choices is not None and written != choices:
                wrong[f"{name} {spellings[0]}"] = (sorted(written), sorted(choices))
    assert wrong == {}
