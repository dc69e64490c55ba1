"""``trueup plugins``: every source, sink and check plugin found, and the disabled ones with why.

The ``--format json`` shape is documented in docs/cli-json.md: ``{"plugins":
[{"kind", "name", "target", "distribution", "enabled", "summary", "reason"}]}``.
Exit code 0 even when some are disabled: a disabled plugin stops only the
configurations that use it (``trueup config check`` says so).
"""

from __future__ import annotations

import json
import sys
from enum import StrEnum
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from trueup.cli.app import console
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
            json.dump(document, sys.stdout, indent=2)
            sys.stdout.write("\n")
            return
        table = Table("kind", "name", "status", "from", "what")
        for e in entries:
            status = Text("enabled", style="green") if e.enabled else Text("disabled", style="red")
            what = Text(e.summary if e.enabled else (e.reason or ""))
            table.add_row(Text(e.kind), Text(e.name), status, Text(e.distribution), what)
        console.print(table)
