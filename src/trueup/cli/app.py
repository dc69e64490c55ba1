"""The Typer application and what every command shares: options, config, store.

Output goes through :mod:`trueup.cli.terminal` (``console``, ``console_err``
are re-exported here), never through ``print`` or a console of its own.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import sqlalchemy as sa
import typer

from trueup.cli.terminal import console, console_err
from trueup.config import DEFAULT_CONFIG, Config, load_config
from trueup.config_model import expand_user
from trueup.errors import ConfigError
from trueup.store import Store
from trueup.views.age import age

__all__ = [
    "ConfigOption",
    "age",
    "app",
    "config_path",
    "console",
    "console_err",
    "open_store",
    "read_config",
]

app = typer.Typer(
    name="trueup",
    help="Trustworthy developer-portal catalog data: what it shows is true, or visibly unknown.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "-c",
        "--config",
        help=f"Configuration file (default: $TRUEUP_CONFIG or ./{DEFAULT_CONFIG}).",
        show_default=False,
    ),
]


def config_path(option: Path | None) -> Path:
    if option is not None:
        return option
    return Path(os.environ.get("TRUEUP_CONFIG") or DEFAULT_CONFIG)


def read_config(option: Path | None) -> Config:
    # ``~`` expanded as the loader does: a quoted ``-c '~/…'`` or ``TRUEUP_CONFIG=~/…``
    # (a unit file, a Dockerfile's ENV) reaches trueup as it is written.
    path = expand_user(config_path(option))
    if not path.exists():
        raise ConfigError(f"{path}: no such configuration file (create one with `trueup init`)")
    return load_config(path)


@contextmanager
def open_store(config: Config, *, upgrade: bool = False) -> Iterator[Store]:
    store = Store.open(config.database, lock_timeout=config.database_lock_timeout.total_seconds())
    try:
        if upgrade:
            store.upgrade()
        elif not store.schema_version():  # else: "no such table", exit 2 as if a source failed
            shown = sa.make_url(config.database).render_as_string(hide_password=True)
            raise ConfigError(
                f"the database {shown} holds no trueup data yet: run `trueup sync` first"
            )
        yield store
    finally:
        store.close()
