"""One sync: observe → guard → assemble → check → store → sinks.

Called by ``trueup sync``, ``trueup demo`` and (later) the server's scheduler.
Reads every selected source against the stored snapshots (a source may keep
the parts of its scope that did not change), then commits in one transaction:
the store applies each read under the removal guard and assembles again only
the entities the reads changed (:mod:`trueup.store.incremental`); the sinks
are written from what was committed.

``from_scratch=True`` runs the reference path instead: every stored snapshot
is loaded, guarded in memory and merged by :func:`trueup.assemble.assembler.assemble`
into every entity, as the engine did before it was incremental. The two paths
give the same entities, findings and revisions (``tests/test_incremental.py``).
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
from trueup.errors import ConcurrentCommitError, ConfigError, StoreError
from trueup.gc_policy import reads_held
from trueup.model.assembled import AssemblyResult
from trueup.model.finding import Code, Finding, Severity, finding
from trueup.model.observation import FailureKind, ScopeFailure, ScopeRead, Snapshot
from trueup.model.ref import EntityRef
from trueup.model.repository import Head
from trueup.parallel import early_workers
from trueup.plugins import registry
from trueup.publishing import publication, write_sinks
from trueup.sinks.base import Sink, SinkReport, SinkSetup
from trueup.sources.base import ReadContext, ReportsStatus, Source
from trueup.store import CommitSummary, Store
from trueup.store.carried import Carried, carried
from trueup.store.encoded import expires_at
from trueup.store.incremental import CommitRequest
from trueup.store.snapshots import materialised, superseded
from trueup.timings import Timings

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
    result: AssemblyResult | None = None  # every entity: only on the from-scratch path
    entities: int = 0  # current entities after the commit
    assembled: int = 0  # entities assembled by this sync
    # Entities this sync revised (created, changed, restored, removed); None when
    # not known entity by entity (the from-scratch path).
    revised: list[EntityRef] | None = None
    # Entities, those served, findings by severity: filled by the CLI for its summary.
    tally: tuple[int, int, dict[str, int]] | None = None
    timings: Timings = field(default_factory=Timings)  # where its time went, from its start

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
    from_scratch: bool = False,
) -> SyncOutcome:
    """Run one sync and commit it. Raises ConfigError for a bad source selection.

    ``sources`` replaces the sources built from the configuration: the server
    passes its long-lived ones (a watching Kubernetes source), tests pass
    sources wired to loopback servers. ``from_scratch`` assembles every entity
    from every stored snapshot (the reference path; see the module docstring).
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
        with reads_held(), early_workers(config.assembly_workers):  # gc_policy, parallel
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
                from_scratch,
            )
    except BaseException as exc:
        try:
            summary = {"error": type(exc).__name__}
            store.finish_run(run_id, status="failed", now=now(), summary=summary)
        except StoreError:  # the store is what failed: the next run marks this one
            log.warning("sync run %s: could not be closed as failed", run_id)
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
    from_scratch: bool,
) -> None:
    generation = store.generation()
    previous = store.previous_snapshots()
    reads: list[ScopeRead] = []
    emission = emission_policy(config.backstage)
    for source in sources:
        context = ReadContext(
            now=now,
            previous={scope: snap for (sid, scope), snap in previous.items() if sid == source.id},
            data_dir=config.source_data_dir(source.id, data_dir),
            scopes=scopes,
            emission=emission,
        )
        with outcome.timings.reading(source.id):
            source_reads = _observe(source, context, now)
        for read in source_reads:
            reads.append(read)
            if progress is not None:
                progress(source.id, read)
        if isinstance(source, ReportsStatus) and (note := source.status_note()):
            outcome.notes[source.id] = note

    # Another sync may commit while this one reads (a webhook refresh during a
    # scheduled sync, another replica): the commit is refused then, and this run
    # commits again on top of what is stored now, its own reads included, except
    # those that a newer read of the same scope has superseded. Nothing is
    # overwritten with older data.
    attempt = _Attempt(
        config,
        store,
        outcome,
        accept_removals,
        fully_read=set() if scopes else {source.id for source in sources},
        now=now,
        trigger=trigger,
        bases={key: s.stored.token for key, s in previous.items() if s.stored is not None},
    )
    commit = _commit_from_scratch if from_scratch else _commit_incremental
    for tried in range(COMMIT_ATTEMPTS):
        try:
            with outcome.timings.committing():
                fresh_until = commit(attempt, reads, generation)
            break
        except ConcurrentCommitError:
            if tried == COMMIT_ATTEMPTS - 1:
                raise
            log.info("sync run %s: another sync committed first; committing again", outcome.run_id)
            generation = store.generation()
            stored = store.previous_snapshots()
            reads = [read for read in reads if not superseded(read, stored)]
    summary = outcome.summary
    assert summary is not None
    outcome.ignored = {
        f"{snapshot.source}/{snapshot.scope}:{path}": count
        for snapshot in outcome.snapshots
        for path, count in sorted(snapshot.ignored.items())
    }

    if config.sinks:
        write_sinks(
            configured_sinks(config, data_dir),
            publication(config, store, outcome, now(), data_dir=data_dir),
            outcome,
        )
    outcome.timings.stop()
    store.finish_run(
        outcome.run_id,
        status="partial" if outcome.exit_code else "ok",
        now=now(),
        summary={
            "scopes_read": len(outcome.snapshots),
            "scopes_failed": len(outcome.failures),
            "scopes_partial": len(outcome.partial),
            "held": sum(outcome.held.values()),
            "entities": outcome.entities,
            "assembled": outcome.assembled,
            "created": summary.created,
            "changed": summary.changed,
            "removed": summary.removed,
            "notes": dict(outcome.notes),
            "ignored_documents": sum(outcome.ignored.values()),
            "ignored_files": dict(list(outcome.ignored.items())[:_IGNORED_LISTED]),
            "fresh_until": fresh_until.isoformat() if fresh_until is not None else None,
            "seconds": outcome.timings.to_json(),
        },
    )


_IGNORED_LISTED = 100  # files named in a run's record; the total counts them all


def _cause(outcome: SyncOutcome, trigger: str) -> str:
    return "; ".join(
        [f"sync run {outcome.run_id} ({trigger})"]
        + [f"{s.source}/{s.scope}: {s.cause}" for s in outcome.snapshots if s.cause]
    )


@dataclass(frozen=True)
class _Attempt:
    """What every attempt to commit one run's reads is made with."""

    config: Config
    store: Store
    outcome: SyncOutcome
    accept_removals: Sequence[str]
    fully_read: set[str]  # sources read whole (all their scopes)
    now: Clock
    trigger: str
    bases: Mapping[tuple[str, str], str]  # the stored snapshot each read was made against


def _commit_incremental(
    attempt: _Attempt, reads: Sequence[ScopeRead], generation: int
) -> datetime | None:
    """Commit the reads; the store guards, applies and assembles what changed."""
    config, store, outcome, now = attempt.config, attempt.store, attempt.outcome, attempt.now
    failed, scope_findings = _sort_reads(reads, outcome)
    last = carried(store)
    carried_held: dict[tuple[str, str], frozenset[EntityRef]] = {}
    _carry_over(
        last,
        read_now={(r.source, r.scope) for r in reads},
        fully_read=attempt.fully_read,
        failed=failed,
        held=carried_held,
        scope_findings=scope_findings,
    )
    request = CommitRequest(
        policy=policy_for(config),
        now=now(),
        accepted=frozenset(attempt.accept_removals) | frozenset(config.safety.accept_removals),
        max_ratio=config.safety.max_removal_ratio,
        failed=failed,
        carried_held=carried_held,
        scope_findings=scope_findings,
        tracked={
            s.id: tracked for s in config.sources if (tracked := s.tracked_branch()) is not None
        },
        bases=attempt.bases,
        held_before=last.held,
        workers=config.assembly_workers,
    )
    committed = store.commit_reads(
        outcome.run_id, reads, request, cause=_cause(outcome, attempt.trigger), based_on=generation
    )
    outcome.held = {key: len(refs) for key, refs in committed.held.items()}
    outcome.summary = committed.summary
    outcome.entities, outcome.assembled = committed.entities, committed.assembled
    outcome.revised = list(committed.revised)
    outcome.timings.commit_reported(committed.seconds)
    for key in committed.superseded:
        log.warning("%s/%s changed while it was read; its read is not applied", *key)
    return committed.fresh_until


def _commit_from_scratch(
    attempt: _Attempt, reads: Sequence[ScopeRead], generation: int
) -> datetime | None:
    """The reference path: guard in memory, assemble everything, commit the result."""
    config, store, outcome, now = attempt.config, attempt.store, attempt.outcome, attempt.now
    stored = store.snapshots()
    whole = [materialised(read, stored) for read in reads]
    committed, result = _decide(
        config, store, stored, whole, outcome, attempt.accept_removals, attempt.fully_read, now
    )
    policy = policy_for(config)
    at = now()
    outcome.summary = store.commit(
        outcome.run_id,
        committed,
        result,
        now=at,
        cause=_cause(outcome, attempt.trigger),
        held=outcome.held,
        based_on=generation,
        max_age=policy.max_age,
    )
    outcome.result = result
    outcome.entities = outcome.assembled = len(result.entities)
    return _fresh_until(result, policy, at)


def _sort_reads(
    reads: Sequence[ScopeRead], outcome: SyncOutcome
) -> tuple[dict[tuple[str, str], str], list[Finding]]:
    """Failures and snapshots of this run into the outcome: (failed scopes, their findings)."""
    outcome.failures, outcome.snapshots, outcome.partial = [], [], []
    failed: dict[tuple[str, str], str] = {}
    scope_findings: list[Finding] = []
    for read in reads:
        if isinstance(read, ScopeFailure):
            outcome.failures.append(read)
            failed[(read.source, read.scope)] = f"{read.kind.value}: {read.message}"
            scope_findings.append(_failure_finding(read))
            continue
        outcome.snapshots.append(read)
        outcome.partial.extend(
            f
            for f in read.findings
            if f.code == Code.SOURCE_FAILED and f.severity is not Severity.INFO
        )
    return failed, scope_findings


def _fresh_until(result: AssemblyResult, policy: AssemblyPolicy, at: datetime) -> datetime | None:
    """When the first status shown changes with time alone (``expires_at``), or None."""
    moments = [m for e in result.entities.values() if (m := expires_at(e, policy.max_age, at))]
    return min(moments) if moments else None


def refresh_freshness(config: Config, store: Store, *, now: Clock = utc_now) -> SyncOutcome | None:
    """Re-assemble from the stored snapshots when shown status has turned stale since the last sync.

    Called before serving (``trueup export``, ``trueup check``, the feed): status
    older than its source's ``max_age`` must be shown as Unknown even if no sync
    ran since (SPEC 5.3). Reads no source; returns None when nothing turned stale.
    """
    last = store.last_commit()
    if last is None:
        return None
    fresh_until = last.summary.get("fresh_until")
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
    last = carried(store)
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
            held_before=last.held.get(key, frozenset()),
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
        last,
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
    last: Carried,
    *,
    read_now: set[tuple[str, str]],
    fully_read: set[str],
    failed: dict[tuple[str, str], str],
    held: dict[tuple[str, str], frozenset[EntityRef]],
    scope_findings: list[Finding],
) -> None:
    """Failures and held removals of scopes not read in this run stay visible."""
    for f in last.scope_findings:
        key = (f.evidence["source"], f.evidence["scope"])
        if key in read_now or key[0] in fully_read:
            continue
        scope_findings.append(f)
        if f.code == Code.SOURCE_FAILED:
            failed.setdefault(key, f.message)
    for key, refs in last.held.items():
        if key not in read_now and key[0] not in fully_read:
            held.setdefault(key, refs)
