"""The ``kubernetes`` source on live clusters, for ``trueup sync``: one consistent read per scope.

Built by its plugin from a :class:`~trueup.sources.kubernetes.config.KubernetesSourceConfig`
with ``kubeconfig``/``contexts``. Each context is one scope, named after it
(:mod:`~trueup.sources.kubernetes.kubeconfig`); the clusters are read in
parallel and each yields either a complete Snapshot or a ScopeFailure:

- a context that cannot be loaded (unknown, no server, broken kubeconfig, a
  credential command the source does not allow, a token file that holds no
  token) → ``invalid``; credentials the server rejects (401, e.g. an expired token or an
  exec plugin that failed) → ``forbidden``; a cluster that cannot be reached,
  resets the connection mid-list or fails TLS verification → ``unreachable``.
  Only that scope fails; the pipeline keeps its previous snapshot;
- a context read insecurely (``insecure-skip-tls-verify``, credentials over
  ``http://``) is read, with one ``insecure-connection`` finding per problem;
- otherwise: discovery (:mod:`~trueup.sources.kubernetes.resources`), one
  consistent paginated list per resource type (:mod:`~trueup.sources.kubernetes.pager`),
  the collectors and mappings, and the scope's snapshot with the last known
  objects of any type that could not be read carried over
  (:mod:`~trueup.sources.kubernetes.reading`). Only when *no* type could be
  read and some failed for a reason other than "not installed" is the scope a
  failure (of that kind).

``sleep`` and ``now`` are injected for tests; ``transport_for`` lets a caller
reuse clients.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime

from trueup.errors import (
    ConfigError,
    KubeApiError,
    KubeAuthError,
    KubeUnreachableError,
    ListFailedError,
)
from trueup.model.finding import Code, finding
from trueup.model.observation import FailureKind, Nature, ScopeFailure, ScopeRead, Snapshot
from trueup.sources.base import ReadContext
from trueup.sources.kubernetes.config import KubernetesSourceConfig
from trueup.sources.kubernetes.credentials import SecurityNote
from trueup.sources.kubernetes.kubeconfig import (
    ClusterIdentity,
    ContextProblem,
    kubeconfig_path,
    prepare_context,
    read_contexts,
)
from trueup.sources.kubernetes.mappings import CompiledMapping, compile_mappings
from trueup.sources.kubernetes.pager import Pager
from trueup.sources.kubernetes.reading import build_snapshot, observe_items
from trueup.sources.kubernetes.resources import Discoverer, TypeFailure
from trueup.sources.kubernetes.transport import ApiTransport, Timeouts, client_for

log = logging.getLogger(__name__)

TransportFactory = Callable[[str, ClusterIdentity], ApiTransport]
MAX_PARALLEL = 4


def default_transport(config: KubernetesSourceConfig) -> TransportFactory:
    timeouts = Timeouts(
        connect=config.connect_timeout.total_seconds(),
        request=config.request_timeout.total_seconds(),
    )

    def build(path: str, identity: ClusterIdentity) -> ApiTransport:
        prepared = prepare_context(path, identity.context, allow_exec=config.allow_exec)
        return ApiTransport(client_for(prepared), timeouts, prepared.notes)

    return build


def scope_failure(source: str, scope: str, error: Exception, at: datetime) -> ScopeFailure:
    """The ScopeFailure a whole-cluster error means."""
    if isinstance(error, KubeAuthError):
        return ScopeFailure(source, scope, FailureKind.INVALID, str(error), at)
    if isinstance(error, KubeApiError) and error.status == 401:
        message = f"credentials rejected (401 {error.reason}): {error.message}"
        return ScopeFailure(source, scope, FailureKind.FORBIDDEN, message, at)
    if isinstance(error, KubeUnreachableError):
        return ScopeFailure(source, scope, FailureKind.UNREACHABLE, str(error), at)
    return ScopeFailure(source, scope, FailureKind.ERROR, f"{type(error).__name__}: {error}", at)


def with_security_findings(read: ScopeRead, notes: Sequence[SecurityNote]) -> ScopeRead:
    """The read with one ``insecure-connection`` finding per note (a failure is left as is)."""
    if not notes or not isinstance(read, Snapshot):
        return read
    extra = tuple(
        finding(
            Code.INSECURE_CONNECTION,
            f"scope:{read.source}/{read.scope}",
            f"cluster {read.scope}: {note.message}",
            source=read.source,
            scope=read.scope,
            kind=note.kind,
        )
        for note in notes
    )
    return replace(read, findings=(*read.findings, *extra))


class KubernetesLiveSource:
    """Reads live clusters through kubeconfig contexts; one scope per context."""

    nature = Nature.ACTUAL

    def __init__(
        self,
        config: KubernetesSourceConfig,
        *,
        transport_for: TransportFactory | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if config.snapshot:
            raise ConfigError(f"source {config.id!r}: live mode and 'snapshot' exclude each other")
        self.config = config
        self.kubeconfig = kubeconfig_path(config.kubeconfig)
        self.mappings: tuple[CompiledMapping, ...] = compile_mappings(config.mappings, config.id)
        self.transport_for = transport_for or default_transport(config)
        self.sleep = sleep

    @property
    def id(self) -> str:
        return self.config.id

    def identities(self) -> list[ClusterIdentity | ContextProblem]:
        found, _ = read_contexts(self.kubeconfig, self.config.contexts)
        return found

    def observe(self, context: ReadContext) -> Iterator[ScopeRead]:
        targets = [
            t for t in self.identities() if context.scopes is None or t.context in context.scopes
        ]
        with ThreadPoolExecutor(max_workers=max(1, min(MAX_PARALLEL, len(targets)))) as pool:
            futures = [
                pool.submit(
                    self.read_scope, target, context.previous.get(target.context), context.now
                )
                for target in targets
            ]
            for future in futures:
                yield future.result()

    def read_scope(
        self,
        target: ClusterIdentity | ContextProblem,
        previous: Snapshot | None,
        now: Callable[[], datetime],
    ) -> ScopeRead:
        """Read one cluster completely, or say why not; never raises for cluster trouble."""
        if isinstance(target, ContextProblem):
            return ScopeFailure(self.id, target.context, FailureKind.INVALID, target.message, now())
        try:
            transport = self.transport_for(self.kubeconfig, target)
        except KubeAuthError as exc:
            return scope_failure(self.id, target.context, exc, now())
        try:
            read = self._read(transport, target, previous, now)
            return with_security_findings(read, transport.notes)
        except (KubeApiError, KubeUnreachableError) as exc:
            log.warning("kubernetes %s/%s: %s", self.id, target.context, exc)
            return scope_failure(self.id, target.context, exc, now())
        finally:
            transport.close()

    def pager(self, transport: ApiTransport) -> Pager:
        return Pager(
            transport,
            page_size=self.config.page_size,
            max_retries=self.config.max_retries,
            max_retry_wait=self.config.max_retry_wait.total_seconds(),
            sleep=self.sleep,
        )

    def discoverer(self, transport: ApiTransport, pager: Pager) -> Discoverer:
        return Discoverer(
            transport,
            pager,
            groups=self.config.collect,
            mappings=self.mappings,
            namespaces=self.config.namespaces,
        )

    def _read(
        self,
        transport: ApiTransport,
        identity: ClusterIdentity,
        previous: Snapshot | None,
        now: Callable[[], datetime],
    ) -> ScopeRead:
        pager = self.pager(transport)
        discovery = self.discoverer(transport, pager).discover()
        failures: list[TypeFailure] = list(discovery.failures)
        observations = []
        versions: list[str] = []
        read_kinds: set[str] = set()
        for rtype in discovery.types:
            try:
                listing = pager.list_all(rtype.path(), selector=rtype.selector)
            except ListFailedError as exc:
                failures.append(rtype.failed(exc.kind, exc.message))
                continue
            observed_at = now()
            observations += observe_items(
                rtype,
                listing.items,
                source=self.id,
                scope=identity.context,
                observed_at=observed_at,
            )
            versions.append(listing.resource_version)
            read_kinds.add(rtype.locator_kind)
        blocking = [f for f in failures if f.kind is not FailureKind.NOT_INSTALLED]
        if not read_kinds and blocking:
            kind = Counter(f.kind for f in blocking).most_common(1)[0][0]
            detail = "; ".join(f"{f.resource}: {f.message}" for f in blocking[:5])
            return ScopeFailure(
                self.id, identity.context, kind, f"no type could be read ({detail})", now()
            )
        return build_snapshot(
            source=self.id,
            identity=identity,
            read_at=now(),
            observations=observations,
            read_kinds=frozenset(read_kinds),
            failures=failures,
            previous=previous,
            versions=versions,
        )
