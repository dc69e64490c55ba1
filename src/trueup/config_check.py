"""``trueup config check``: what ``sync`` would reject later, found now.

Loading a configuration already checks its shape, its keys and the syntax of
its URLs (the database URL, ``public_url``, ``api_url``, ``endpoint_url``).
:func:`check_config` looks at what the configuration points to, as ``sync``
will: that something is configured at all, that the database driver exists and
an SQLite file's folder does, that the folders sources read exist, that every
kubeconfig can be read and names the configured contexts (and that those can
be used as configured: no credential command without ``allow_exec``, token
files that hold a token), and that each source can be built. It runs no
credential command and reaches no network. Called by the CLI; each problem is
one line naming the file and the key.
"""

from __future__ import annotations

import glob
from collections.abc import Iterator
from pathlib import Path

import sqlalchemy as sa

from trueup.config import (
    Config,
    FileSourceConfig,
    GitSourceConfig,
    KubernetesSourceConfig,
    SourceConfig,
    TerraformSourceConfig,
)
from trueup.errors import KubeAuthError, TrueupError
from trueup.sources.kubernetes.kubeconfig import kubeconfig_path, load_kubeconfig, prepare_context
from trueup.sources.registry import build_source


def check_config(config: Config, filename: str) -> list[str]:
    """Every problem found, as ``FILE: KEY: what is wrong`` lines (empty: all good)."""
    return [f"{filename}: {problem}" for problem in _problems(config)]


def _problems(config: Config) -> Iterator[str]:
    if not config.sources:
        yield "sources: nothing is configured: a sync would read nothing"
    yield from _database(config.database)
    for index, source in enumerate(config.sources):
        key = f"sources[{index}] ({source.id})"
        try:
            build_source(source, config.sources)
        except TrueupError as exc:
            yield f"{key}: {exc}"
            continue
        for problem in _source(source):
            yield f"{key}.{problem}"


def _database(url: str) -> Iterator[str]:
    parsed = sa.make_url(url)  # the configuration checked its syntax when it loaded
    try:
        sa.create_engine(parsed).dispose()  # loads the driver; connects to nothing
    except (sa.exc.SQLAlchemyError, ImportError) as exc:
        yield f"database: the driver cannot be loaded ({type(exc).__name__})"
        return
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        folder = Path(parsed.database).parent
        if not parsed.database.startswith("file:") and not folder.is_dir():
            yield f"database: the folder {folder} of the SQLite file does not exist"


def _source(source: SourceConfig) -> Iterator[str]:
    if isinstance(source, FileSourceConfig) and not Path(source.path).is_dir():
        yield f"path: the folder {source.path} does not exist"
    if isinstance(source, GitSourceConfig):
        local = source.url.startswith("/")  # the loader made local paths absolute
        if local and not Path(source.url).is_dir():
            yield f"url: the repository folder {source.url} does not exist"
    if isinstance(source, TerraformSourceConfig) and "://" not in source.state:
        yield from _pattern_root("state", source.state)
    if isinstance(source, KubernetesSourceConfig):
        if source.snapshot:
            yield from _pattern_root("snapshot", source.snapshot)
        else:
            yield from _kubeconfig(source)


def _pattern_root(key: str, pattern: str) -> Iterator[str]:
    """The folder a path or glob starts from must exist (its matches may come later)."""
    if not glob.has_magic(pattern):
        if not Path(pattern).exists():
            yield f"{key}: {pattern} does not exist"
        return
    fixed = pattern[: min(pattern.find(c) for c in "*?[" if c in pattern)]
    folder = Path(fixed[: fixed.rfind("/") + 1] or ".")
    if not folder.is_dir():
        yield f"{key}: the folder {folder} does not exist"


def _kubeconfig(source: KubernetesSourceConfig) -> Iterator[str]:
    path = kubeconfig_path(source.kubeconfig)
    try:
        document = load_kubeconfig(path)
    except KubeAuthError as exc:
        yield f"kubeconfig: {exc}"
        return
    contexts = document.get("contexts")
    known = [
        str(item.get("name"))
        for item in (contexts if isinstance(contexts, list) else [])
        if isinstance(item, dict)
    ]
    if not known:
        yield f"kubeconfig: {path} defines no context"
    for name in source.contexts or known:
        if name not in known:
            yield f"contexts: {name!r} is not a context of {path}"
            continue
        try:
            prepare_context(path, name, allow_exec=source.allow_exec)
        except KubeAuthError as exc:
            yield f"contexts: {exc}"
