"""The ``trueup`` command line (SPEC section 3).

Exit codes: 0 success; 1 usage or configuration error; 2 the run finished but a
source or scope failed (its last good data was kept), or the store could not
complete (e.g. it stayed locked by another writer: nothing was written); 3 findings at or
above ``check --fail-on``, or ``hydrate --check``: the mirror is out of date. Each command
module registers its commands on ``app``; ``main`` maps errors to those codes.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading

import typer

from trueup.cli import catalog as catalog
from trueup.cli import hydrate as hydrate
from trueup.cli import plugins as plugins
from trueup.cli import project as project
from trueup.cli import run as run
from trueup.cli import serve as serve
from trueup.cli.app import app
from trueup.cli.terminal import say, say_block
from trueup.errors import StoreError, TrueupError
from trueup.redaction import install_log_redaction

for module in (project, run, hydrate, catalog, plugins, serve):
    module.register(app)


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    install_log_redaction()
    try:
        result = app(args=argv, standalone_mode=False, prog_name="trueup")
    except typer.Exit as exc:
        return int(exc.exit_code)
    except typer.Abort:
        say("aborted", err=True)
        return 1
    except typer.TyperException as exc:  # usage errors: SPEC says exit 1, not click's 2
        show = getattr(exc, "show", None)
        if callable(show):
            show()
        else:
            say(f"error: {exc.format_message()}", err=True)
        return 1
    except StoreError as exc:  # the run read its sources but could not store (SPEC: exit 2)
        say_block(f"error: {exc}", err=True)
        return 2
    except TrueupError as exc:
        say_block(f"error: {exc}", err=True)
        return 1
    return int(result) if isinstance(result, int) else 0


def entry() -> None:
    """The ``trueup`` executable: run the command, then end the process at once.

    Once the command is done (its commit made, its output flushed, the store
    closed), tearing down the interpreter — freeing every module and object one
    by one — only delays the exit: a tenth of a second after any command, more
    after a large sync. The exit handlers still run (log handlers, anything a
    library registered); only the teardown is left to the operating system.
    Threads still running (none after a command returns), and a profiler,
    tracer or debugger that reports at the end, get the usual exit.
    """
    code = main()
    if threading.active_count() > 1 or sys.getprofile() or sys.gettrace():
        sys.exit(code)
    atexit._run_exitfuncs()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):  # a closed pipe: let the usual exit report it
        sys.exit(code)
    os._exit(code)


__all__ = ["app", "entry", "main", "typer"]
