"""``trueup hydrate``: CI hydration into a separate mirror repository (SPEC 1, 3 and 6.2).

Called by the CLI, as a CI job runs it: on a push to a source repository and
on a schedule. It syncs every source into a throw-away SQLite database (a CI
job keeps no state between runs; ``database`` keeps it somewhere instead) and
then writes the mirror through the ``git`` sink plugin: the repository given
as ``mirror`` (a path or a URL), or the configuration's ``git`` sinks.

- A source or scope that failed: nothing is written, the mirror keeps its
  last complete hydration (a throw-away database has no last good data to
  publish in its place); exit 2.
- ``check``: nothing is written; the exit code says whether the mirror is out
  of date (3), for a pull-request gate.
- Without ``push`` the commit is made in the local clone only, for a look
  before publishing; ``accept_removals`` releases removals the mirror held.

It sits above the pipeline; it knows the mirror sink only as the ``git`` sink
plugin's configuration and the :class:`~trueup.sinks.base.Sink` protocol.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from trueup.config import Config
from trueup.config_model import SinkConfig
from trueup.errors import ConfigError, SinkError
from trueup.pipeline import Clock, SyncOutcome, sync, utc_now
from trueup.plugins import registry
from trueup.publishing import publication
from trueup.sinks.base import PreviewsChanges, Publication, Sink, SinkReport, SinkSetup
from trueup.store import Store

MIRROR_SINK = "git"  # the sink type of a mirror repository (SPEC 2: ``sinks: - type: git``)
OUT_OF_DATE = 3  # ``--check``: the exit code when the mirror is behind its sources


@dataclass(frozen=True)
class HydrateRequest:
    """What ``trueup hydrate`` was asked to do."""

    mirror: str | None = None  # a path or URL; None: the configuration's git sinks
    branch: str | None = None
    push: bool = False
    check: bool = False
    accept_removals: bool = False
    author: str | None = None  # ``Name <email>``
    database: str | None = None  # keep state there instead of a throw-away SQLite


@dataclass
class HydrateOutcome:
    """What one hydration did, for the CLI's summary and exit code."""

    sync: SyncOutcome
    reports: list[SinkReport] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    check: bool = False

    @property
    def exit_code(self) -> int:
        if self.errors or self.sync.failures or self.sync.partial:
            return 2
        if self.check and any(report.pending for report in self.reports):
            return OUT_OF_DATE
        return 0


def mirror_configs(config: Config, request: HydrateRequest) -> list[SinkConfig]:
    """The mirror sinks to write: ``request.mirror`` or the configured ``git`` sinks."""
    plugin = registry().sinks.get(MIRROR_SINK)
    if plugin is None:
        raise ConfigError(registry().unknown_type("sink", MIRROR_SINK))
    configured = [sink for sink in config.sinks if sink.type == MIRROR_SINK]
    if request.mirror is None and not configured:
        raise ConfigError(
            "no mirror repository: give --mirror URL_OR_PATH or configure a sink of type git"
        )
    overrides: dict[str, object] = {"push": request.push}
    if request.branch is not None:
        overrides["branch"] = request.branch
    if request.author is not None:
        overrides["author"] = request.author
    if request.mirror is not None:
        base = configured[0].model_dump() if configured else {"type": MIRROR_SINK}
        configured = [plugin.config.model_validate({**base, "url": request.mirror})]
    try:
        return [
            plugin.config.model_validate({**sink.model_dump(), **overrides}) for sink in configured
        ]
    except ValueError as exc:
        raise ConfigError(f"hydrate: {exc}") from exc


def hydrate(
    config: Config,
    request: HydrateRequest,
    *,
    now: Clock = utc_now,
    data_dir: Path | None = None,
) -> HydrateOutcome:
    """Sync the sources and bring the mirror in line. Raises ConfigError for a bad request."""
    root = data_dir or Path(config.data_dir)
    setup = SinkSetup(
        sources=config.sources,
        data_dir=root / "sinks",
        max_removal_ratio=config.safety.max_removal_ratio,
    )
    sinks = [registry().create_sink(sink, setup) for sink in mirror_configs(config, request)]
    with _store(request.database) as store:
        outcome = sync(
            config.model_copy(update={"sinks": []}),
            store,
            now=now,
            trigger="hydrate",
            data_dir=data_dir,
        )
        result = HydrateOutcome(outcome, check=request.check)
        if outcome.failures or outcome.partial:
            failed = [f"{f.source}/{f.scope}" for f in outcome.failures]
            failed += [f.subject for f in outcome.partial]
            result.errors.append(
                f"not written: {', '.join(failed)} could not be read completely; "
                "the mirror keeps its last complete hydration"
            )
            return result
        published = publication(
            config,
            store,
            outcome,
            now(),
            accept_removals=request.accept_removals,
            data_dir=data_dir,
        )
        for sink in sinks:
            _write(sink, published, result, preview=request.check)
        outcome.held_back = published.held_back
    return result


def _write(sink: Sink, published: Publication, result: HydrateOutcome, *, preview: bool) -> None:
    try:
        if preview:
            if not isinstance(sink, PreviewsChanges):
                raise SinkError(f"{sink.name}: this sink cannot say what it would change")
            result.reports.append(sink.preview(published))
        else:
            result.reports.append(sink.write(published))
    except SinkError as exc:
        result.errors.append(str(exc))


@contextmanager
def _store(database: str | None) -> Iterator[Store]:
    """The given database, or a throw-away SQLite file removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="trueup-hydrate-") as folder:
        store = Store.open(database or f"sqlite:///{Path(folder) / 'hydrate.db'}")
        try:
            store.upgrade()
            yield store
        finally:
            store.close()
