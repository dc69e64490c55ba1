"""The ``trueup`` command line (SPEC section 3).

Exit codes: 0 success; 1 usage or configuration error; 2 the run finished but a
source or scope failed (its last good data was kept); 3 (``check`` only)
findings at or above ``--fail-on``. Each command module registers its commands
on ``app``; ``main`` maps errors to those codes.
"""

from __future__ import annotations

import sys

import typer
from rich.markup import escape

from trueup.cli import catalog as catalog
from trueup.cli import hydrate as hydrate
from trueup.cli import plugins as plugins
from trueup.cli import project as project
from trueup.cli import run as run
from trueup.cli import serve as serve
from trueup.cli.app import app, console_err
from trueup.errors import TrueupError

for module in (project, run, hydrate, catalog, plugins, serve):
    module.register(app)


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    try:
        result = app(args=argv, standalone_mode=False, prog_name="trueup")
    except typer.Exit as exc:
        return int(exc.exit_code)
    except typer.Abort:
        console_err.print("aborted")
        return 1
    except typer.TyperException as exc:  # usage errors: SPEC says exit 1, not click's 2
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:
            console_err.print(f"error: {exc.format_message()}", markup=False)
        return 1
    except TrueupError as exc:
        console_err.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False, markup=True)
        return 1
    return int(result) if isinstance(result, int) else 0


def entry() -> None:
    sys.exit(main())


__all__ = ["app", "entry", "main", "typer"]
