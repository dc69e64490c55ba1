"""``trueup config check``: what ``sync`` would reject later, found now.

Loading a configuration already checks its shape, its keys and the syntax of
its URLs (the database URL, ``public_url``, a plugin's URL keys).
:func:`check_config` looks at what the configuration points to, as ``sync``
will: that something is configured at all, that the database driver exists and
an SQLite file's folder does, that every source can be built by its plugin, and
what each source's own model finds wrong in what it points to
(:meth:`~trueup.config_model.SourceConfig.setup_problems`: folders, files,
kubeconfig contexts and how they authenticate). It runs no credential command
and reaches no network. Called by the CLI; each problem is one line naming the
file and the key.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa

from trueup.config import Config
from trueup.errors import TrueupError
from trueup.plugins import registry


def check_config(config: Config, filename: str) -> list[str]:
    """Every problem found, as ``FILE: KEY: what is wrong`` lines (empty: all good)."""
    return [f"{filename}: {problem}" for problem in _problems(config)]


def _problems(config: Config) -> Iterator[str]:
    if not config.sources:
        yield "sources: nothing is configured: a sync would read nothing"
    yield from _database(config.database)
    plugins = registry()
    for index, source in enumerate(config.sources):
        key = f"sources[{index}] ({source.id})"
        try:
            plugins.create_source(source, config.sources)
        except TrueupError as exc:
            yield f"{key}: {exc}"
            continue
        for problem in source.setup_problems():
            yield f"{key}.{problem}"


def _database(url: str) -> Iterator[str]:
    parsed = sa.make_url(url)  # the configuration checked its syntax when it loaded
    try:
        sa.create_engine(parsed).dispose()  # loads the driver; connects to nothing
    except (sa.exc.SQLAlchemyError, ImportError) as exc:
        yield f"database: the driver cannot be loaded ({type(exc).__name__})"
        return
    database = parsed.database
    if parsed.get_backend_name() == "sqlite" and database not in (None, "", ":memory:"):
        target = Path(database)
        if database.startswith("file:"):
            return
        if not target.parent.is_dir():
            yield f"database: the folder {target.parent} of the SQLite file does not exist"
        elif target.is_dir():  # SQLite cannot open it: "unable to open database file"
            yield f"database: the SQLite file {target} is a folder"
