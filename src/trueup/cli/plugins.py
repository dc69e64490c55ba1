"""``trueup plugins``: every source, sink and check plugin found, and the disabled ones with why.

The ``--format json`` shape is documented in docs/cli-json.md: ``{"plugins":
[{"kind", "name", "target", "distribution", "enabled", "summary", "reason"}]}``.
Exit code 0 even when some are disabled: a disabled plugin stops only the
configurations that use it (``trueup config check`` says so).
"""

from __future__ import annotations

import sys
from enum import StrEnum
from typing import Annotated

import typer
from rich.table import Table

from trueup.cli.app import console
from trueup.cli.machine import write_json
from trueup.cli.terminal import cell
from trueup.plugins import registry


class PluginsFormat(StrEnum):
    text = "text"
    json = "json"


def register(app: typer.Typer) -> None:
    @app.command("plugins")
    def plugins_command(
        fmt: Annotated[PluginsFormat, typer.Option("--format", help="text or json.")] = (
            PluginsFormat.text
        ),
    ) -> None:
        """List the source, sink and check plugins (entry points), disabled ones with the reason."""
        entries = registry().entries
        if fmt is PluginsFormat.json:
            document = {
                "plugins": [
                    {
                        "kind": e.kind,
                        "name": e.name,
                        "target": e.target,
                        "distribution": e.distribution,
                        "enabled": e.enabled,
                        "summary": e.summary,
                        "reason": e.reason,
                    }
                    for e in entries
                ]
            }
            write_json(document, sys.stdout)
            return
        table = Table("kind", "name", "status", "from", "what")
        for e in entries:
            status = cell("enabled", "green") if e.enabled else cell("disabled", "red")
            what = cell(e.summary if e.enabled else (e.reason or ""))
            table.add_row(cell(e.kind), cell(e.name), status, cell(e.distribution), what)
        console.print(table)
