"""``trueup hydrate``: CI hydration into a separate mirror repository (SPEC 6.2).

Exit codes: 0 done (committed, pushed, or nothing to change); 1 usage or
configuration error (the mirror is a source's repository, no mirror given);
2 a source failed (nothing written), or the mirror could not be written
(diverged, unreachable, moved too often); 3 with ``--check``: the mirror is
out of date.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from trueup.cli.app import ConfigOption, read_config
from trueup.cli.run import print_summary
from trueup.cli.terminal import say
from trueup.config_model import LocalPaths
from trueup.hydrate import HydrateRequest, hydrate


def register(app: typer.Typer) -> None:
    @app.command("hydrate")
    def hydrate_command(  # every option is a keyword: Typer reads them by name
        *,
        config: ConfigOption = None,
        mirror: Annotated[
            str | None,
            typer.Option(
                "--mirror",
                metavar="URL_OR_PATH",
                help="The mirror repository (default: the configuration's git sinks).",
            ),
        ] = None,
        branch: Annotated[str | None, typer.Option("--branch", help="Mirror branch.")] = None,
        push: Annotated[
            bool, typer.Option("--push", help="Push the commit (else it stays in the local clone).")
        ] = False,
        check: Annotated[
            bool,
            typer.Option("--check", help="Write nothing; exit 3 when the mirror is out of date."),
        ] = False,
        accept_removals: Annotated[
            bool,
            typer.Option("--accept-removals", help="Release removals the mirror holds back."),
        ] = False,
        author: Annotated[
            str | None, typer.Option("--author", metavar="'NAME <EMAIL>'", help="Commit author.")
        ] = None,
        database: Annotated[
            str | None,
            typer.Option("--database", help="Keep state in this database (default: throw-away)."),
        ] = None,
    ) -> int:
        """Hydrate the sources into a separate mirror repository that Backstage reads."""
        loaded = read_config(config)
        if mirror is not None:
            # A path on the command line is the working directory's; git would read it
            # from the sink's clone. A URL (or ``host:path``) stays as it is.
            mirror = LocalPaths(Path.cwd()).git(mirror)
        request = HydrateRequest(
            mirror=mirror,
            branch=branch,
            push=push,
            check=check,
            accept_removals=accept_removals,
            author=author,
            database=database,
        )
        outcome = hydrate(loaded, request)
        print_summary(outcome.sync)
        for report in outcome.reports:
            counts = (
                f"{report.written} written, {report.removed} removed, {report.unchanged} unchanged"
            )
            if report.held:
                counts += f", {report.held} removals held (release: --accept-removals)"
            say(("mirror", "bold"), f" {report.sink}: {report.note} ({counts})")
        for error in outcome.errors:
            say(("mirror", "red"), f" {error}")
        return outcome.exit_code
