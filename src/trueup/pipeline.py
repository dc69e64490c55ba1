"""One sync: observe → guard → assemble → check → store → sinks.

Called by ``trueup sync``, ``trueup demo`` and (later) the server's scheduler.
Reads every selected source, lets the removal guard decide what each new
snapshot may remove, assembles all current snapshots (the new ones and the
stored ones of scopes not read now), commits everything in one transaction and
then writes the sinks from what was committed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from trueup.assemble.assembler import AssemblyPolicy, ScopeState, assemble
from trueup.assemble.guard import PIPELINE_ORIGIN, guard_removals, is_accepted, scope_subject
from trueup.assemble.precedence import Precedence
from trueup.backstage_config import emission_policy
from trueup.config import Config
from trueup.errors import ConcurrentCommitError, ConfigError, SinkError
from trueup.model.assembled import AssemblyResult
from trueup.model.finding import Code, Finding, Severity, finding
from trueup.model.observation import FailureKind, ScopeFailure, ScopeRead, Snapshot
from trueup.model.ref import EntityRef, parse_ref
from trueup.model.repository import Head
from trueup.plugins import registry
from trueup.sinks.base import Publication, ScopeVersion, Sink, SinkReport, SinkSetup
from trueup.sources.base import ReadContext, ReportsStatus, Source
from trueup.store import CommitSummary, Store

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
Progress = Callable[[str, ScopeRead], None]


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class SyncOutcome:
    """What one sync did, for the CLI summary and the exit code."""

    run_id: int
    snapshots: list[Snapshot] = field(default_factory=list)
    failures: list[ScopeFailure] = field(default_factory=list)
    held: dict[tuple[str, str], int] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)  # source id -> what it says of itself
    # Scopes read, but not all of it: a resource type forbidden or rate-limited,
    # its last good data kept (the source's own source-failed findings).
    partial: list[Finding] = field(default_factory=list)
    sink_errors: list[str] = field(default_factory=list)  # committed, but a sink is behind
    # Documents that are no Backstage entity (a Kubernetes manifest), per "source/scope:path".
    ignored: dict[str, int] = field(default_factory=dict)
    # Stored entities a sink did not publish (stored under another backstage.kinds).
    held_back: list[Finding] = field(default_factory=list)
    sinks: list[SinkReport] = field(default_factory=list)  # what each sink wrote
    summary: CommitSummary | None = None
    result: AssemblyResult | None = None

    @property
    def exit_code(self) -> int:
        return 2 if self.failures or self.partial or self.sink_errors else 0


def policy_for(config: Config) -> AssemblyPolicy:
    """The assembly policy a configuration implies (its checks built by their plugins)."""
    base = config.public_url or f"http://{config.server.listen}"
    return AssemblyPolicy(
        precedence=Precedence(config.merge.precedence, [s.id for s in config.sources]),
        max_age={source.id: source.max_age for source in config.sources},
        feed_url=f"{base.rstrip('/')}/backstage/entities.yaml",
        public_url=config.public_url,
        severity=config.checks.severity,
        checks=registry().create_checks(config.checks),
        emission=emission_policy(config.backstage),
    )


def selected_sources(config: Config, only: Sequence[str]) -> list[Source]:
    known = {s.id for s in config.sources}
    unknown = [s for s in only if s not in known]
    if unknown:
        raise ConfigError(f"no source with id {', '.join(map(repr, unknown))}")
    plugins = registry()
    return [
        plugins.create_source(s, config.sources) for s in config.sources if not only or s.id in only
    ]


def configured_sinks(config: Config, data_dir: Path | None = None) -> list[Sink]:
    """The configuration's sinks, each built by its plugin. Raises ConfigError."""
    setup = SinkSetup(
        sources=config.sources,
        data_dir=(data_dir or Path(config.data_dir)) / "sinks",
        max_removal_ratio=config.safety.max_removal_ratio,
    )
    plugins = registry()
    return [plugins.create_sink(sink, setup) for sink in config.sinks]


def sync(
    config: Config,
    store: Store,
    *,
    only: Sequence[str] = (),
    scopes: Sequence[str] = (),
    accept_removals: Sequence[str] = (),
    now: Clock = utc_now,
    progress: Progress | None = None,
    trigger: str = "cli",
    data_dir: Path | None = None,
    sources: Sequence[Source] | None = None,
) -> SyncOutcome:
    """Run one sync and commit it. Raises ConfigError for a bad source selection.

    ``sources`` replaces the sources built from the configuration: the server
    passes its long-lived ones (a watching Kubernetes source), tests pass
    sources wired to loopback servers.
    """
    if sources is None:
        sources = selected_sources(config, only)
    known = {s.id for s in config.sources} | {s.id for s in sources}
    for name in accept_removals:
        if name.split("/", 1)[0] not in known:
            raise ConfigError(f"--accept-removals {name!r}: no source with that id")
    run_id = store.start_run(trigger=trigger, sources=[s.id for s in sources], now=now())
    outcome = SyncOutcome(run_id=run_id)
    try:
        _run(
            config,
            store,
            sources,
            outcome,
            accept_removals,
            now,
            progress,
            trigger,
            data_dir,
            frozenset(scopes) or None,
        )
    except BaseException as exc:
        store.finish_run(run_id, status="failed", now=now(), summary={"error": type(exc).__name__})
        raise
    return outcome


COMMIT_ATTEMPTS = 5


def _run(  # noqa: PLR0917 - the body of sync(), split for readability
    config: Config,
    store: Store,
    sources: Sequence[Source],
    outcome: SyncOutcome,
    accept_removals: Sequence[str],
    now: Clock,
    progress: Progress | None,
    trigger: str,
    data_dir: Path | None,
    scopes: frozenset[str] | None,
) -> None:
    generation = store.generation()
    stored = store.snapshots()
    reads: list[ScopeRead] = []
    emission = emission_policy(config.backstage)
    for source in sources:
        previous = {scope: snap for (sid, scope), snap in stored.items() if sid == source.id}
        context = ReadContext(
            now=now,
            previous=previous,
            data_dir=(data_dir or Path(config.data_dir)) / "sources" / source.id,
            scopes=scopes,
            emission=emission,
        )
        for read in _observe(source, context, now):
            reads.append(read)
            if progress is not None:
                progress(source.id, read)
        if isinstance(source, ReportsStatus) and (note := source.status_note()):
            outcome.notes[source.id] = note

    # Another sync may commit while this one reads (a webhook refresh during a
    # scheduled sync, another replica): the commit is refused then, and this run
    # assembles again from what is stored now, its own reads on top, except those
    # that a newer read of the same scope has superseded. Nothing is overwritten
    # with older data.
    fully_read = set() if scopes else {source.id for source in sources}
    for attempt in range(COMMIT_ATTEMPTS):
        committed, result = _decide(
            config, store, stored, reads, outcome, accept_removals, fully_read, now
        )
        try:
            summary = store.commit(
                outcome.run_id,
                committed,
                result,
                now=now(),
                cause="; ".join(
                    [f"sync run {outcome.run_id} ({trigger})"]
                    + [f"{s.source}/{s.scope}: {s.cause}" for s in outcome.snapshots if s.cause]
                ),
                held=outcome.held,
                based_on=generation,
            )
            break
        except ConcurrentCommitError:
            if attempt == COMMIT_ATTEMPTS - 1:
                raise
            log.info("sync run %s: another sync committed first; assembling again", outcome.run_id)
            generation = store.generation()
            stored = store.snapshots()
            reads = [read for read in reads if not _superseded(read, stored)]
    outcome.result, outcome.summary = result, summary
    outcome.ignored = {
        f"{snapshot.source}/{snapshot.scope}:{path}": count
        for snapshot in outcome.snapshots
        for path, count in sorted(snapshot.ignored.items())
    }

    if config.sinks:
        write_sinks(
            configured_sinks(config, data_dir),
            publication(config, store, outcome, now()),
            outcome,
        )
    store.finish_run(
        outcome.run_id,
        status="partial" if outcome.exit_code else "ok",
        now=now(),
        summary={
            "scopes_read": len(outcome.snapshots),
            "scopes_failed": len(outcome.failures),
            "scopes_partial": len(outcome.partial),
            "held": sum(outcome.held.values()),
            "entities": len(result.entities),
            "created": summary.created,
            "changed": summary.changed,
            "removed": summary.removed,
            "notes": dict(outcome.notes),
            "ignored_documents": sum(outcome.ignored.values()),
            "ignored_files": dict(list(outcome.ignored.items())[:_IGNORED_LISTED]),
            "fresh_until": _fresh_until(result, policy_for(config)),
        },
    )


_IGNORED_LISTED = 100  # files named in a run's record; the total counts them all


def _fresh_until(result: AssemblyResult, policy: AssemblyPolicy) -> str | None:
    """When the first status shown as fresh turns stale (ISO time), or None if never."""
    moments = [
        place.provenance.observed_at + max_age
        for entity in result.entities.values()
        for place in entity.places
        if not place.stale and (max_age := policy.max_age.get(place.provenance.source)) is not None
    ]
    return min(moments).isoformat() if moments else None


def refresh_freshness(config: Config, store: Store, *, now: Clock = utc_now) -> SyncOutcome | None:
    """Re-assemble from the stored snapshots when shown status has turned stale since the last sync.

    Called before serving (``trueup export``, ``trueup check``, the feed): status
    older than its source's ``max_age`` must be shown as Unknown even if no sync
    ran since (SPEC 5.3). Reads no source; returns None when nothing turned stale.
    """
    committed = [run for run in store.runs(limit=20) if run.committed_at is not None]
    if not committed:
        return None
    fresh_until = committed[0].summary.get("fresh_until")
    if not isinstance(fresh_until, str) or datetime.fromisoformat(fresh_until) > now():
        return None
    return sync(config, store, now=now, sources=[], trigger="freshness")


def _decide(  # noqa: PLR0917 - one call site
    config: Config,
    store: Store,
    stored: Mapping[tuple[str, str], Snapshot],
    reads: Sequence[ScopeRead],
    outcome: SyncOutcome,
    accept_removals: Sequence[str],
    fully_read: set[str],
    now: Clock,
) -> tuple[list[ScopeRead], AssemblyResult]:
    """Guard, carry over and assemble: what this run commits, given what is stored."""
    outcome.failures, outcome.snapshots, outcome.partial = [], [], []
    accepted = frozenset(accept_removals) | frozenset(config.safety.accept_removals)
    current = dict(stored)
    failed: dict[tuple[str, str], str] = {}
    held: dict[tuple[str, str], frozenset[EntityRef]] = {}
    scope_findings: list[Finding] = []
    committed: list[ScopeRead] = []
    for read in reads:
        key = (read.source, read.scope)
        if isinstance(read, ScopeFailure):
            outcome.failures.append(read)
            failed[key] = f"{read.kind.value}: {read.message}"
            scope_findings.append(_failure_finding(read))
            committed.append(read)
            continue
        guarded = guard_removals(
            stored.get(key),
            read,
            max_ratio=config.safety.max_removal_ratio,
            accepted=is_accepted(read.source, read.scope, accepted),
        )
        current[key] = guarded.snapshot
        committed.append(guarded.snapshot)
        outcome.snapshots.append(guarded.snapshot)
        outcome.partial.extend(
            f
            for f in read.findings
            if f.code == Code.SOURCE_FAILED and f.severity is not Severity.INFO
        )
        if guarded.finding is not None:
            held[key] = guarded.held
            scope_findings.append(guarded.finding)

    _carry_over(
        store,
        read_now={(r.source, r.scope) for r in reads},
        fully_read=fully_read,
        failed=failed,
        held=held,
        scope_findings=scope_findings,
    )
    outcome.held = {key: len(refs) for key, refs in held.items()}
    result = assemble(
        current.values(),
        policy_for(config),
        now=now(),
        scopes=ScopeState(
            failed=failed, held=held, findings=scope_findings, heads=_heads(config, current)
        ),
    )
    return committed, result


def _superseded(read: ScopeRead, stored: Mapping[tuple[str, str], Snapshot]) -> bool:
    """A newer read of the same scope was committed meanwhile: this one must not replace it."""
    newer = stored.get((read.source, read.scope))
    when = read.at if isinstance(read, ScopeFailure) else read.read_at
    return newer is not None and newer.read_at > when


def _heads(config: Config, current: Mapping[tuple[str, str], Snapshot]) -> dict[str, Head]:
    """The head of each branch a source tracks, as it last read it completely, by repository."""
    heads: dict[str, Head] = {}
    for source in config.sources:
        tracked = source.tracked_branch()
        if tracked is None:
            continue
        for (source_id, _), snapshot in current.items():
            if source_id == source.id and snapshot.version:
                heads[tracked.key] = Head(tracked.branch, snapshot.version)
    return heads


# --- sinks -------------------------------------------------------------------------


def publication(
    config: Config,
    store: Store,
    outcome: SyncOutcome,
    read_at: datetime,
    *,
    accept_removals: bool = False,
) -> Publication:
    """What the sinks may publish after ``outcome``'s commit."""
    health = store.scopes()
    readable = {(h.source, h.scope) for h in health if h.read_at is not None}
    return Publication(
        store.feed_rows,
        emission=emission_policy(config.backstage),
        read_at=read_at,
        run_id=outcome.run_id,
        versions=[
            ScopeVersion(h.source, h.scope, h.version or "", h.read_at)
            for h in health
            if h.read_at is not None
        ],
        contributors=lambda ref: _contributors(store, ref),
        incomplete=[
            f"{f.source}/{f.scope}" for f in outcome.failures if (f.source, f.scope) not in readable
        ],
        accept_removals=accept_removals,
    )


def write_sinks(sinks: Sequence[Sink], publication: Publication, outcome: SyncOutcome) -> None:
    """Write every sink; one that fails is reported in ``outcome``, the commit stands."""
    for sink in sinks:
        try:
            outcome.sinks.append(sink.write(publication))
        except SinkError as exc:
            outcome.sink_errors.append(f"{sink.name}: {exc}")
        except OSError as exc:
            outcome.sink_errors.append(f"{sink.name}: {exc.strerror or exc}")
    outcome.held_back = publication.held_back


def _contributors(store: Store, ref: EntityRef) -> tuple[str, ...]:
    """The ``source/scope`` of everything an entity's stored state came from."""
    stored = store.entity(ref)
    if stored is None:
        return ()
    entity = stored.assembled
    provenances = [origin.winner.provenance for origin in entity.origins.values()]
    provenances += [place.provenance for place in entity.places]
    return tuple(sorted({f"{p.source}/{p.scope}" for p in provenances}))


def _observe(source: Source, context: ReadContext, now: Clock) -> list[ScopeRead]:
    """A source that raises is a failed read of all its scopes, never a crash of the sync."""
    try:
        return list(source.observe(context))
    except Exception as exc:  # a connector bug must not lose the other sources' work
        log.exception("source %s failed", source.id)
        scopes = sorted(context.scopes or context.previous) or ["*"]
        return [
            ScopeFailure(source.id, scope, FailureKind.ERROR, f"{type(exc).__name__}: {exc}", now())
            for scope in scopes
        ]


def _failure_finding(failure: ScopeFailure) -> Finding:
    return finding(
        Code.SOURCE_FAILED,
        scope_subject(failure.source, failure.scope),
        f"reading {failure.source}/{failure.scope} failed ({failure.kind.value}): "
        f"{failure.message}; its last good data is kept",
        source=failure.source,
        scope=failure.scope,
        kind=failure.kind.value,
        origin=PIPELINE_ORIGIN,
    )


def _carry_over(
    store: Store,
    *,
    read_now: set[tuple[str, str]],
    fully_read: set[str],
    failed: dict[tuple[str, str], str],
    held: dict[tuple[str, str], frozenset[EntityRef]],
    scope_findings: list[Finding],
) -> None:
    """Failures and held removals of scopes not read in this run stay visible."""
    held_refs: dict[tuple[str, str], set[EntityRef]] = {}
    for f in store.findings(codes=(Code.SOURCE_FAILED, Code.REMOVAL_HELD)):
        source, scope = f.evidence.get("source"), f.evidence.get("scope")
        if not isinstance(source, str) or not isinstance(scope, str):
            continue
        key = (source, scope)
        if key in read_now or source in fully_read:
            continue
        if f.evidence.get("origin") != PIPELINE_ORIGIN:
            continue  # a source's own finding lives in its stored snapshot, not here
        if f.subject.startswith("scope:"):
            scope_findings.append(f)
            if f.code == Code.SOURCE_FAILED:
                failed.setdefault(key, f.message)
        elif f.code == Code.REMOVAL_HELD:
            held_refs.setdefault(key, set()).add(parse_ref(f.subject))
    for key, refs in held_refs.items():
        held.setdefault(key, frozenset(refs))
