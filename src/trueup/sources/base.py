"""The one shape every source has.

A source reads its scopes and yields, per scope, either a complete
:class:`~trueup.model.observation.Snapshot` or a
:class:`~trueup.model.observation.ScopeFailure`. It never raises for bad data
(that becomes findings in the snapshot) and never yields a partial snapshot: a
read that did not complete is a failure, and the engine keeps the previous
snapshot. ``ReadContext.previous`` gives the last stored snapshot of each scope,
so that a source can keep the last good observations of one broken file.

A source type is a plugin: a :class:`SourcePlugin` (its configuration model,
owned by the plugin, and a factory) named by an entry point in the
``trueup.sources`` group. The registry (:mod:`trueup.plugins`) finds them; the
built-ins are registered in trueup's own ``pyproject.toml`` the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Generic, Protocol, TypeVar, runtime_checkable

from trueup.config_model import SourceConfig
from trueup.model.emission import DEFAULT_POLICY, EmissionPolicy
from trueup.model.observation import Nature, ScopeRead, Snapshot


@dataclass(frozen=True)
class ReadContext:
    """What a source may use while reading: the clock, the last snapshots, a data folder."""

    now: Callable[[], datetime]
    previous: Mapping[str, Snapshot] = field(default_factory=dict)
    data_dir: Path | None = None
    # When set, read only these scopes (a targeted refresh, e.g. one repository
    # after a webhook); scopes not named are left as they are.
    scopes: frozenset[str] | None = None
    # A hint for an incremental read (e.g. the commit a webhook announced); a
    # source may ignore it and must still read completely.
    hint: Mapping[str, str] = field(default_factory=dict)
    # What counts as a Backstage entity, which kinds may be served, and the
    # limits of reading descriptor files (``backstage:`` in the configuration).
    emission: EmissionPolicy = DEFAULT_POLICY


class Source(Protocol):
    """A configured connector. ``observe`` is its one working method."""

    @property
    def id(self) -> str: ...

    @property
    def nature(self) -> Nature: ...

    def observe(self, context: ReadContext) -> Iterator[ScopeRead]:
        """Read every scope once; yield one Snapshot or ScopeFailure per scope."""
        ...


class WatchedSource(Source, Protocol):
    """A source kept current by a watch: it calls ``on_change(scope, read)`` after changes."""

    def start(self, on_change: Callable[[str, ScopeRead], None] | None = None) -> None: ...

    def stop(self) -> None: ...


@runtime_checkable
class ReportsStatus(Protocol):
    """A source that has something to say about itself after a read (optional).

    The GitHub source reports its rate-limit budget and request counts; the
    pipeline puts the note in the sync run's summary and ``trueup sync`` prints it.
    """

    def status_note(self) -> str | None: ...


@runtime_checkable
class ReadsRepositories(Protocol):
    """A source that reads git repositories and can name the scope reading one (optional).

    The webhook receiver's targeted refresh asks it which scope to re-read after
    a push to ``repository`` (``owner/name``, a clone URL or the scope itself);
    ``data_dir`` is the source's own data folder.
    """

    def scope_for(self, repository: str, data_dir: Path) -> str | None: ...


@dataclass(frozen=True)
class SourceSetup:
    """What a source's factory is given besides the source's own configuration."""

    others: Sequence[SourceConfig] = ()  # the other configured sources


ConfigT = TypeVar("ConfigT", bound=SourceConfig)


@dataclass(frozen=True)
class SourcePlugin(Generic[ConfigT]):
    """What an entry point in the ``trueup.sources`` group names: config model and factory.

    ``config`` declares ``type: Literal["<name>"]`` with the entry point's name.
    """

    config: type[ConfigT]
    create: Callable[[ConfigT, SourceSetup], Source]
    summary: str = ""
