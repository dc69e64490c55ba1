"""The ``kubernetes`` source's configuration (``type: kubernetes``) and its declarative mappings."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Literal, Self

from pydantic import Field, field_validator

from trueup.config_model import (
    ConfigModel,
    Duration,
    LocalPaths,
    SourceConfig,
    YamlBool,
    parse_duration,
    pattern_root_problem,
)

if TYPE_CHECKING:
    from trueup.sources.base import WatchedSource


class MappingConfig(ConfigModel):
    """A declarative mapping (SPEC 4.4): a kind, a selector, expressions.

    Expressions are JMESPath (default) or jq over the whole object; see
    ``docs/mappings.md``. They are compiled when the source is built.
    """

    name: str | None = None  # shown in errors; default "<apiVersion> <kind>"
    api_version: str = Field(alias="apiVersion")
    kind: str
    selector: str | None = None  # a label selector, sent to the server
    language: Literal["jmespath", "jq"] = "jmespath"
    entity_kind: str = "component"  # the kind of a ref written without one
    ref: str
    fields: dict[str, str] = {}
    status: dict[str, str] = {}
    links: dict[str, str] = {}  # annotation key -> expression of its value
    link_selectors: list[str] = []  # annotation keys holding a label selector
    place: str | None = None  # "<cluster>/<result>"; default "<cluster>/<namespace>"


class KubernetesSourceConfig(SourceConfig):
    type: Literal["kubernetes"]
    kubeconfig: str | None = None
    contexts: list[str] = []  # each one scope; none: every context of the kubeconfig
    # Run a context's exec credential plugin or auth-provider command (README, Security).
    allow_exec: YamlBool = False
    snapshot: str | None = None
    collect: list[Literal["workloads", "argocd", "crossplane"]] = [
        "workloads",
        "argocd",
        "crossplane",
    ]
    mappings: list[MappingConfig] = []
    max_age: Duration | None = timedelta(minutes=15)
    namespaces: list[str] = []  # read only these namespaces; none: all (cluster-wide lists)
    page_size: int = Field(500, ge=1, le=10000)
    connect_timeout: Duration = timedelta(seconds=10)
    request_timeout: Duration = timedelta(seconds=60)  # one list page or discovery request
    max_retries: int = Field(3, ge=0, le=20)  # per request, on 429 / 5xx
    max_retry_wait: Duration = timedelta(seconds=60)  # a longer Retry-After fails the read
    watch_timeout: Duration = timedelta(minutes=5)  # timeoutSeconds asked of the server
    watch_idle_timeout: Duration | None = None  # silent stream deadline; default timeout+30s
    watch_refresh: Duration = timedelta(minutes=1)  # re-stamp observations of a healthy watch
    rediscover_interval: Duration = timedelta(minutes=5)  # new CRDs/XRDs in watch mode

    @field_validator(
        "connect_timeout",
        "request_timeout",
        "max_retry_wait",
        "watch_timeout",
        "watch_idle_timeout",
        "watch_refresh",
        "rediscover_interval",
        mode="before",
    )
    @classmethod
    def _durations(cls, value: object) -> object:
        return None if value is None else parse_duration(value)

    def setup_problems(self) -> list[str]:
        """The snapshot's folder; or the kubeconfig, its contexts and how they authenticate."""
        if self.snapshot:
            return pattern_root_problem("snapshot", self.snapshot)
        from trueup.sources.kubernetes.kubeconfig import context_problems

        return context_problems(self.kubeconfig, self.contexts, allow_exec=self.allow_exec)

    def watched(self) -> bool:
        """A live source is watched by a server; a snapshot folder is polled."""
        return not self.snapshot

    def watched_scopes(self) -> list[tuple[str, str | None]]:
        """Each context of the kubeconfig this source reads, and what stops it if anything."""
        if not self.watched():
            return []
        from trueup.sources.kubernetes.kubeconfig import ContextProblem
        from trueup.sources.kubernetes.live import KubernetesLiveSource

        return [
            (t.context, t.message if isinstance(t, ContextProblem) else None)
            for t in KubernetesLiveSource(self).identities()
        ]

    def watch(self, scope: str) -> WatchedSource:
        from trueup.sources.kubernetes.watch_source import KubernetesWatchSource

        return KubernetesWatchSource(self.model_copy(update={"contexts": [scope]}))

    def announces(self, kind: str) -> bool:
        """Argo CD notifications name Applications, which this source reads."""
        return kind == "Application" and "argocd" in self.collect

    def with_local_paths(self, paths: LocalPaths) -> Self:
        update = {}
        if self.snapshot:
            update["snapshot"] = paths.local(self.snapshot)
        if self.kubeconfig:
            update["kubeconfig"] = paths.local(self.kubeconfig)
        return self.model_copy(update=update)
