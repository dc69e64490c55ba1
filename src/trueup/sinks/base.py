"""The one shape every sink has: write what was committed, report what was written.

A sink is built by its plugin's factory (a :class:`SinkPlugin`: the plugin's own
configuration model and a factory, named by an entry point in the
``trueup.sinks`` group) and called by the pipeline after every commit with a
:class:`Publication`. The pipeline knows no sink's type.

A publication hands out the committed entities only through the whole-feed
safety gate (:func:`~trueup.sinks.publish.publishable`): a sink never sees a
row that would make Backstage refuse the location, and each row's texts are
masked as the feed masks them (:func:`~trueup.sinks.publish.masked`: a secret
learnt after the row was stored never reaches a file or a commit). A sink raises
:class:`~trueup.errors.SinkError` when it could not publish (the commit stands;
the sink is behind and the run says so).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Generic, Protocol, TypeVar, runtime_checkable

from trueup.config_model import SinkConfig, SourceConfig, VersionOrder
from trueup.feed import FeedRow
from trueup.model.emission import DEFAULT_POLICY, EmissionPolicy
from trueup.model.finding import Finding
from trueup.model.ref import EntityRef
from trueup.sinks.publish import publishable


@dataclass(frozen=True, slots=True)
class ScopeVersion:
    """What one scope's current snapshot was read from: a commit, a resourceVersion, a serial."""

    source: str
    scope: str
    version: str
    read_at: datetime

    def __str__(self) -> str:
        return f"{self.source}/{self.scope}@{self.version}"


class Publication:
    """What one sync committed, as sinks may publish it.

    ``rows()`` gives the stored entities through the safety gate; entities it
    holds back are collected in ``held_back`` (once, however many sinks read).
    ``versions`` are every current scope's version, ``contributors(ref)`` the
    ``source/scope`` keys an entity's fields and status came from (for a sink
    that says why something changed). ``incomplete`` names scopes that failed
    in this run and were never read successfully: what is published lacks
    them entirely, and a sink that would remove their entities must not.
    ``revised`` names the entities the commit revised (created, changed,
    restored, removed) when known; ``revised_rows()`` gives those of them that
    pass the gate, for a sink that rewrites only what changed. ``commit_number``
    is the store's number of the commit published (one more per commit,
    whichever run made it), None when not known: such a sink can tell from it
    that a commit came between this one and the last it wrote (a kill between
    the store's commit and the sink's write), whose ``revised`` it never saw.
    ``order(version, other)`` tells where one of ``versions`` stands against
    another version of its scope in the scope's history, when its source can
    tell (:meth:`~trueup.config_model.SourceConfig.order_versions`).
    """

    __slots__ = (
        "__held",
        "__rows_of",
        "__stored_rows",
        "accept_removals",
        "commit_number",
        "contributors",
        "emission",
        "incomplete",
        "order",
        "read_at",
        "revised",
        "run_id",
        "versions",
    )

    def __init__(
        self,
        stored_rows: Callable[[], Iterable[FeedRow]],
        *,
        emission: EmissionPolicy = DEFAULT_POLICY,
        read_at: datetime,
        run_id: int | None = None,
        commit_number: int | None = None,
        versions: Sequence[ScopeVersion] = (),
        contributors: Callable[[EntityRef], Sequence[str]] = lambda ref: (),
        incomplete: Sequence[str] = (),
        revised: frozenset[EntityRef] | None = None,
        rows_of: Callable[[Collection[EntityRef]], Iterable[FeedRow]] | None = None,
        accept_removals: bool = False,
        order: Callable[[ScopeVersion, str], VersionOrder | None] = lambda version, other: None,
    ) -> None:
        self.__stored_rows = stored_rows
        self.__rows_of = rows_of
        self.__held: dict[tuple[str, str], Finding] = {}
        self.emission = emission
        self.read_at = read_at
        self.run_id = run_id
        self.commit_number = commit_number
        self.versions = tuple(versions)
        self.contributors = contributors
        self.incomplete = tuple(incomplete)
        self.revised = revised  # the entities this commit revised, when known
        self.accept_removals = accept_removals  # a sink's own removal hold is released
        self.order = order

    def rows(self) -> Iterator[FeedRow]:
        """The committed entities a Backstage can ingest as one location, ordered by ref."""
        yield from self.__gated(self.__stored_rows())

    def revised_rows(self) -> Iterator[FeedRow] | None:
        """The revised entities that pass the gate; None when ``revised`` is not known."""
        if self.revised is None or self.__rows_of is None:
            return None
        return self.__gated(self.__rows_of(self.revised) if self.revised else ())

    def __gated(self, stored: Iterable[FeedRow]) -> Iterator[FeedRow]:
        held: list[Finding] = []
        yield from publishable(stored, self.emission, held)
        for finding in held:
            self.__held.setdefault((finding.subject, finding.code), finding)

    @property
    def held_back(self) -> list[Finding]:
        """Stored entities the gate kept from every sink, each once."""
        return list(self.__held.values())

    def version_of(self, key: str) -> ScopeVersion | None:
        """The current version of scope ``source/scope``."""
        return next((v for v in self.versions if f"{v.source}/{v.scope}" == key), None)


@dataclass(frozen=True, slots=True)
class SinkReport:
    """What one sink did with one publication."""

    sink: str  # the sink's name, secrets masked
    written: int = 0  # entities added or changed
    unchanged: int = 0
    removed: int = 0
    held: int = 0  # removals held back (truth rule 4)
    note: str = ""  # one line, e.g. "commit 1a2b3c4d5e6f pushed to main"
    pending: bool = False  # a preview: a write would change something


class Sink(Protocol):
    """Where assembled entities go. ``write`` is its one working method."""

    @property
    def name(self) -> str:
        """How messages name this sink (``directory out/catalog``); never holds a secret."""
        ...

    def write(self, publication: Publication) -> SinkReport:
        """Publish what was committed; raise SinkError when it could not."""
        ...


@runtime_checkable
class PreviewsChanges(Protocol):
    """A sink that can tell what a write would change, writing nothing (optional).

    ``trueup hydrate --check`` (a pull-request gate) asks the git mirror sink.
    """

    def preview(self, publication: Publication) -> SinkReport: ...


@dataclass(frozen=True)
class SinkSetup:
    """What a sink's factory is given besides the sink's own configuration."""

    sources: Sequence[SourceConfig] = ()  # the configured sources
    data_dir: Path | None = None  # a folder of the sink's own (clones, caches)
    max_removal_ratio: float = 0.5  # ``safety.max_removal_ratio``


ConfigT = TypeVar("ConfigT", bound=SinkConfig)


@dataclass(frozen=True)
class SinkPlugin(Generic[ConfigT]):
    """What an entry point in the ``trueup.sinks`` group names: config model and factory.

    ``config`` declares ``type: Literal["<name>"]`` with the entry point's name.
    """

    config: type[ConfigT]
    create: Callable[[ConfigT, SinkSetup], Sink]
    summary: str = ""
