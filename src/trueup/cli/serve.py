"""``trueup serve``: the feed, the API, webhooks and the scheduler (:mod:`trueup.web.serve`)."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from trueup.cli.app import ConfigOption, open_store, read_config
from trueup.server_config import ServeRole as Role


class LogLevel(StrEnum):
    debug = "debug"
    info = "info"
    warning = "warning"
    error = "error"


def register(app: typer.Typer) -> None:
    @app.command()
    def serve(
        config: ConfigOption = None,
        role: Annotated[
            Role,
            typer.Option(help="all: HTTP and background work; api: HTTP only; worker: jobs only."),
        ] = Role.all,
        listen: Annotated[
            str | None, typer.Option(help="HOST:PORT (default: server.listen).")
        ] = None,
        log_level: Annotated[LogLevel, typer.Option(help="What the server logs.")] = LogLevel.info,
    ) -> None:
        """Serve the feed, the API and webhooks, and run the scheduler, until stopped."""
        from trueup.web.serve import build_server, configure_logging, run  # the web stack

        loaded = read_config(config)
        if listen is not None:
            server_section = loaded.server.model_copy(update={"listen": listen})
            loaded = loaded.model_copy(update={"server": server_section})
        configure_logging(log_level.value)
        with open_store(loaded, upgrade=True) as store:
            run(build_server(loaded, store, role))
