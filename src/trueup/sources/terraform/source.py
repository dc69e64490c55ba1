"""The ``terraform`` source: Terraform state as actual state (SPEC 4.3).

Built by the engine (``trueup.sources.registry``) from a
:class:`~trueup.sources.terraform.config.TerraformSourceConfig`. Each state its ``state:``
names is one scope (see :mod:`~trueup.sources.terraform.backends` for the
scope names). A read of one scope is get → parse → succession → collect:

1. the backend fetches the bytes; a missing, forbidden or unreachable state is
   a :class:`ScopeFailure` of that kind and replaces nothing;
2. :func:`~trueup.sources.terraform.state.parse_state` validates them; a
   corrupt, truncated or unsupported state is an ``invalid`` failure with the
   reason (and, for bad JSON, the byte offset);
3. :func:`~trueup.sources.terraform.lineage.succession` compares lineage,
   serial and content with the scope's previous snapshot: a rollback (lower
   serial) and a conflict (same serial, other content) are ``invalid``
   failures, so the newer state stays; a new lineage is accepted as a new
   state, with a ``conflict`` finding about the scope that says so;
4. :func:`~trueup.sources.terraform.mapping.collect` makes the observations; an
   instance refused for a NUL character or a lone surrogate keeps its observation of the previous
   read of the same lineage.

The snapshot's version is ``<lineage>/<serial>#<digest>``. A state that a
pattern no longer matches is read as empty, so the removal guard holds its
entities until the removal is accepted; that read keeps the version read last,
so a rolled-back state that reappears there is still refused. Observations are
as old as the read: a state is what Terraform knows *now*. A state read again
unchanged keeps its stored observations, and their time, while that time is younger
than half ``max_age`` (:mod:`~trueup.sources.terraform.freshness`): it changes no
entity, and it is never shown stale while it is read at least that often. Nothing
sensitive in a state reaches an observation, a finding, a failure message or a log line.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterator

from trueup.model.finding import Code, finding
from trueup.model.observation import FailureKind, Nature, ScopeFailure, ScopeRead, Snapshot
from trueup.redaction import KNOWN_SECRETS
from trueup.sources.base import ReadContext
from trueup.sources.terraform.backends import (
    Backend,
    ReadFailure,
    StateLocation,
    open_backend,
    shown_location,
)
from trueup.sources.terraform.config import TerraformSourceConfig
from trueup.sources.terraform.freshness import kept_while_current
from trueup.sources.terraform.lineage import StateVersion, Verdict, succession
from trueup.sources.terraform.mapping import StateRead, collect, rules_from_config
from trueup.sources.terraform.state import StateError, parse_state

log = logging.getLogger(__name__)


class TerraformSource:
    """Reads Terraform states (local, S3, HTTP); one scope per state."""

    nature = Nature.ACTUAL

    def __init__(self, config: TerraformSourceConfig) -> None:
        """Raises ConfigError for a location or mapping rule it cannot use."""
        self.config = config
        self.rules = rules_from_config(config)
        open_backend(config).close()  # an unsupported location fails now, not at the first read

    @property
    def id(self) -> str:
        return self.config.id

    def observe(self, context: ReadContext) -> Iterator[ScopeRead]:
        backend = open_backend(self.config)
        try:
            yield from self._observe(backend, context)
        finally:
            backend.close()

    def _observe(self, backend: Backend, context: ReadContext) -> Iterator[ScopeRead]:
        def wanted(scope: str) -> bool:
            return context.scopes is None or scope in context.scopes

        located = backend.locate()
        if isinstance(located, ReadFailure):  # nothing is known: every known scope failed
            for scope in sorted(context.previous) or [self.id]:
                if wanted(scope):
                    yield self._failure(context, scope, located.kind, located.message)
            return
        by_scope: dict[str, list[StateLocation]] = defaultdict(list)
        for location in located:
            by_scope[location.scope].append(location)
        if not by_scope and not context.previous and wanted(self.id):
            yield self._failure(
                context,
                self.id,
                FailureKind.NOT_INSTALLED,
                f"no state matches {shown_location(self.config.state)}",
            )
            return
        for scope, locations in sorted(by_scope.items()):
            if not wanted(scope):
                continue
            if len(locations) > 1:
                named = ", ".join(loc.where for loc in locations)
                yield self._failure(
                    context,
                    scope,
                    FailureKind.INVALID,
                    f"{named} would all be the scope {scope!r}; rename all but one",
                )
            else:
                yield self._read(backend, context, locations[0])
        for scope in sorted(set(context.previous) - set(by_scope)):
            if wanted(scope):  # no longer there: an empty read, which the removal guard holds
                log.info("terraform source %s: state %s is no longer found", self.id, scope)
                yield Snapshot(
                    source=self.id,
                    scope=scope,
                    nature=Nature.ACTUAL,
                    read_at=context.now(),
                    observations=(),
                    # the last lineage and serial stay: a rollback that reappears is refused
                    version=context.previous[scope].version,
                )

    def _read(self, backend: Backend, context: ReadContext, location: StateLocation) -> ScopeRead:
        data = backend.fetch(location)
        if isinstance(data, ReadFailure):
            return self._failure(context, location.scope, data.kind, data.message)
        state = parse_state(data)
        del data  # the raw bytes hold secrets; nothing below needs them
        if isinstance(state, StateError):
            return self._failure(
                context, location.scope, FailureKind.INVALID, f"{location.where}: {state.message}"
            )
        KNOWN_SECRETS.add_all(state.secrets.maskable())  # masked wherever they turn up
        version = StateVersion(state.lineage, state.serial, state.digest)
        previous = context.previous.get(location.scope)
        before = StateVersion.parse(previous.version) if previous is not None else None
        verdict = succession(before, version)
        if not verdict.accepted:
            return self._failure(
                context, location.scope, FailureKind.INVALID, f"{location.where}: {verdict.message}"
            )
        now = context.now()
        # an instance refused (a NUL, a lone surrogate) keeps its last good observation, of
        # this state only: a new lineage is another state, of which nothing is kept
        same = previous if verdict.verdict is Verdict.ACCEPTED else None
        observations, findings = collect(
            state,
            StateRead(self.id, location.scope, location.label, now),
            self.rules,
            same.observations if same is not None else (),
        )
        if verdict.verdict is Verdict.NEW_LINEAGE:
            findings = (
                *findings,
                finding(
                    Code.CONFLICT,
                    # the subject the pipeline gives findings about a scope
                    f"scope:{self.id}/{location.scope}",
                    f"{location.where}: {verdict.message}",
                    source=self.id,
                    scope=location.scope,
                    lineage=state.lineage,
                    previous_lineage=before.lineage if before is not None else "",
                ),
            )
        log.debug(
            "terraform source %s: %s lineage %s serial %d: %d resource instances",
            self.id,
            location.scope,
            state.lineage,
            state.serial,
            len(observations),
        )
        read = Snapshot(
            source=self.id,
            scope=location.scope,
            nature=Nature.ACTUAL,
            read_at=now,
            observations=observations,
            findings=findings,
            version=str(version),
        )
        return kept_while_current(read, same, self.config.max_age)

    def _failure(
        self, context: ReadContext, scope: str, kind: FailureKind, message: str
    ) -> ScopeFailure:
        log.warning("terraform source %s: %s: %s", self.id, scope, message)
        return ScopeFailure(self.id, scope, kind, message, context.now())
