"""Which resource types to read in one cluster: discovery (SPEC 4.2, 4.4).

Called by the live reader and the watcher at the start of a read (and by the
watcher again every ``rediscover_interval``). The plan is:

- the built-in kinds of the enabled ``collect`` groups (workloads with the
  label ``backstage.io/kubernetes-id`` as a server-side selector, Argo CD
  Applications), each resolved through the API discovery document of its
  group/version;
- Crossplane: the CompositeResourceDefinitions (listed like any type) give the
  composite and claim kinds by their scope; the ``managed`` category of the
  discovery documents gives the managed-resource kinds;
- every declarative mapping's kind, with its selector.

A group/version that answers 404, or a kind it does not serve, is *not
installed*; 403 is *no access*; both are :class:`TypeFailure` values of that
type only (other types are still read) and they carry the type's last known
observations forward (:mod:`~trueup.sources.kubernetes.reading`). A cluster that
cannot be reached raises :class:`~trueup.sources.kubernetes.transport.KubeUnreachableError`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace

from trueup.errors import KubeApiError, ListFailedError
from trueup.model.observation import FailureKind
from trueup.sources.kubernetes.collectors import Role
from trueup.sources.kubernetes.crossplane import (
    MANAGED_CATEGORY,
    XRD_GROUP,
    CrossplaneRole,
    kinds_of_xrd,
)
from trueup.sources.kubernetes.mappings import CompiledMapping
from trueup.sources.kubernetes.objects import KUBERNETES_ID, as_list, as_map, as_text
from trueup.sources.kubernetes.pager import Pager, failure_of
from trueup.sources.kubernetes.transport import ApiTransport

CROSSPLANE_FAMILY = "crossplane"


@dataclass(frozen=True, slots=True)
class ResourceType:
    """One collection to list and watch, and who turns its objects into observations."""

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    role: Role | None = None  # a built-in collector, or
    mapping: CompiledMapping | None = None  # a declarative mapping
    selector: str = ""
    namespace: str | None = None  # read one namespace only
    qualified: bool = False  # its Kind is wanted in another group too

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def locator_kind(self) -> str:
        """The Kind in its objects' locators: ``Kind.group`` when the Kind alone is ambiguous."""
        return qualified_kind(self.kind, self.group, self.qualified)

    @property
    def name(self) -> str:
        """``deployments.apps`` (plus ``in NS`` / ``[selector]`` when they apply)."""
        text = f"{self.plural}.{self.group}" if self.group else self.plural
        if self.namespace:
            text += f" in {self.namespace}"
        return text + (f" [{self.selector}]" if self.selector and self.mapping else "")

    def failed(self, kind: FailureKind, message: str) -> TypeFailure:
        """This type could not be read: its own objects (its Kind, its namespace) carry over."""
        return TypeFailure(
            self.name, kind, message, kinds=(self.locator_kind,), namespace=self.namespace
        )

    def refused(self, error: KubeApiError) -> TypeFailure:
        """A 403 (no access) or 404 (not installed) answer about this type."""
        if error.status == 403:
            return self.failed(FailureKind.FORBIDDEN, f"no access: {error}")
        return self.failed(FailureKind.NOT_INSTALLED, f"not installed: {error}")

    def path(self) -> str:
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespace and self.namespaced:
            return f"{base}/namespaces/{self.namespace}/{self.plural}"
        return f"{base}/{self.plural}"


@dataclass(frozen=True, slots=True)
class TypeFailure:
    """One type (or family of types) of one cluster that could not be read completely.

    ``kinds`` are the Kind names whose previous observations are carried over
    (only those in ``namespace`` when the type was read in one namespace);
    ``family`` carries every previous observation of that family not read now
    (used when the kinds themselves are unknown, e.g. the XRDs cannot be listed).
    """

    resource: str
    kind: FailureKind
    message: str
    kinds: tuple[str, ...] = ()
    family: str | None = None
    namespace: str | None = None


@dataclass
class Discovery:
    types: list[ResourceType] = field(default_factory=list)
    failures: list[TypeFailure] = field(default_factory=list)


@dataclass(frozen=True)
class Wanted:
    group: str
    version: str
    kind: str
    role: Role | None = None
    mapping: CompiledMapping | None = None
    selector: str = ""
    qualified: bool = False

    @property
    def locator_kind(self) -> str:
        return qualified_kind(self.kind, self.group, self.qualified)


def qualified_kind(kind: str, group: str, qualified: bool) -> str:
    return f"{kind}.{group}" if qualified and group else kind


WORKLOAD_KINDS = (
    ("apps", "v1", "Deployment", Role.WORKLOAD),
    ("apps", "v1", "StatefulSet", Role.WORKLOAD),
    ("apps", "v1", "DaemonSet", Role.WORKLOAD),
    ("batch", "v1", "CronJob", Role.WORKLOAD),
    ("", "v1", "Service", Role.SERVICE),
    ("networking.k8s.io", "v1", "Ingress", Role.INGRESS),
)
_CROSSPLANE_ROLES = {
    CrossplaneRole.CLAIM: Role.CLAIM,
    CrossplaneRole.COMPOSITE: Role.COMPOSITE,
    CrossplaneRole.MANAGED: Role.MANAGED,
}


def wanted_types(groups: Iterable[str], mappings: Sequence[CompiledMapping]) -> list[Wanted]:
    enabled = set(groups)
    wanted: list[Wanted] = []
    if "workloads" in enabled:
        wanted += [
            Wanted(g, v, k, role, selector=KUBERNETES_ID) for g, v, k, role in WORKLOAD_KINDS
        ]
    if "argocd" in enabled:
        wanted.append(Wanted("argoproj.io", "v1alpha1", "Application", Role.APPLICATION))
    for mapping in mappings:
        group, _, version = mapping.api_version.rpartition("/")
        wanted.append(
            Wanted(group, version, mapping.kind, mapping=mapping, selector=mapping.selector.text)
        )
    # A Kind wanted in two groups (a mapped app.k8s.io Application beside Argo CD's) is
    # named with its group in locators, so a failure of one never carries the other's.
    kind_groups: dict[str, set[str]] = {}
    for want in wanted:
        kind_groups.setdefault(want.kind, set()).add(want.group)
    return [replace(w, qualified=True) if len(kind_groups[w.kind]) > 1 else w for w in wanted]


def _resource_list_path(group: str, version: str) -> str:
    return f"/apis/{group}/{version}" if group else f"/api/{version}"


class Discoverer:
    """Resolves the wanted kinds of one cluster into resource types."""

    def __init__(
        self,
        transport: ApiTransport,
        pager: Pager,
        *,
        groups: Iterable[str],
        mappings: Sequence[CompiledMapping],
        namespaces: Sequence[str] = (),
    ) -> None:
        self.transport = transport
        self.pager = pager
        self.groups = frozenset(groups)
        self.mappings = tuple(mappings)
        self.namespaces = tuple(namespaces)

    def discover(self) -> Discovery:
        found = Discovery()
        documents: dict[tuple[str, str], list[object] | TypeFailure] = {}
        for want in wanted_types(self.groups, self.mappings):
            key = (want.group, want.version)
            if key not in documents:
                documents[key] = self._resources(*key)
            document = documents[key]
            name = f"{want.kind} ({want.group or 'core'}/{want.version})"
            if isinstance(document, TypeFailure):
                found.failures.append(
                    TypeFailure(name, document.kind, document.message, kinds=(want.locator_kind,))
                )
                continue
            resource = next(
                (
                    as_map(r)
                    for r in document
                    if as_text(as_map(r).get("kind")) == want.kind
                    and "/" not in as_text(as_map(r).get("name"))
                ),
                None,
            )
            if resource is None:
                found.failures.append(
                    TypeFailure(
                        name,
                        FailureKind.NOT_INSTALLED,
                        f"{want.group or 'core'}/{want.version} serves no {want.kind}",
                        kinds=(want.locator_kind,),
                    )
                )
                continue
            found.types += self._expand(
                ResourceType(
                    want.group,
                    want.version,
                    as_text(resource.get("name")),
                    want.kind,
                    resource.get("namespaced") is True,
                    role=want.role,
                    mapping=want.mapping,
                    selector=want.selector,
                    qualified=want.qualified,
                )
            )
        if "crossplane" in self.groups:
            self._crossplane(found)
        return found

    def _expand(self, rtype: ResourceType) -> list[ResourceType]:
        if not self.namespaces or not rtype.namespaced:
            return [rtype]
        return [_with_namespace(rtype, ns) for ns in self.namespaces]

    def _resources(self, group: str, version: str) -> list[object] | TypeFailure:
        """The APIResourceList of one group/version, or why it cannot be had."""
        path = _resource_list_path(group, version)
        try:
            document = self.transport.get(path)
        except KubeApiError as exc:
            if exc.status == 401:
                raise
            kind, label = failure_of(exc)
            return TypeFailure(path, kind, f"{label}: {exc}")
        return as_list(document.get("resources"))

    def _crossplane(self, found: Discovery) -> None:
        versions = self._group_versions(XRD_GROUP)
        if isinstance(versions, TypeFailure):
            found.failures.append(versions)
            return
        xrds: dict[str, dict[str, object]] = {}
        for version in versions:  # every served version (preferred first), merged by name
            xrd_type = ResourceType(
                XRD_GROUP,
                version,
                "compositeresourcedefinitions",
                "CompositeResourceDefinition",
                False,
            )
            try:
                listing = self.pager.list_all(xrd_type.path())
            except ListFailedError as exc:
                found.failures.append(
                    TypeFailure(xrd_type.name, exc.kind, exc.message, family=CROSSPLANE_FAMILY)
                )
                return
            for item in listing.items:
                xrds.setdefault(as_text(as_map(item.get("metadata")).get("name")), item)
        seen: set[tuple[str, str]] = set()
        for xrd in xrds.values():
            for kind in kinds_of_xrd(xrd):
                if (kind.group, kind.kind) in seen:
                    continue  # the first (referenceable) version of each kind
                seen.add((kind.group, kind.kind))
                found.types += self._expand(
                    ResourceType(
                        kind.group,
                        kind.version,
                        kind.plural,
                        kind.kind,
                        kind.namespaced,
                        role=_CROSSPLANE_ROLES[kind.role],
                    )
                )
        self._managed(found)

    def _group_versions(self, group: str) -> list[str] | TypeFailure:
        """The served versions of an API group, the preferred one first."""
        try:
            document = self.transport.get(f"/apis/{group}")
        except KubeApiError as exc:
            if exc.status == 401:
                raise
            kind, label = failure_of(exc)
            return TypeFailure(
                f"{group} API group", kind, f"{label}: {exc}", family=CROSSPLANE_FAMILY
            )
        preferred = as_text(as_map(document.get("preferredVersion")).get("version"))
        versions = [as_text(as_map(v).get("version")) for v in as_list(document.get("versions"))]
        ordered = [preferred] if preferred else []
        return ordered + [v for v in versions if v and v != preferred]

    def _managed(self, found: Discovery) -> None:
        """Managed-resource kinds: the ``managed`` category in every group's preferred version."""
        try:
            groups = as_list(self.transport.get("/apis").get("groups"))
        except KubeApiError as exc:
            if exc.status == 401:
                raise
            kind, label = failure_of(exc)
            found.failures.append(
                TypeFailure("API groups", kind, f"{label}: {exc}", family=CROSSPLANE_FAMILY)
            )
            return
        for entry in groups:
            group = as_text(as_map(entry).get("name"))
            version = as_text(as_map(as_map(entry).get("preferredVersion")).get("version"))
            if not group or not version:
                continue
            document = self._resources(group, version)
            if isinstance(document, TypeFailure):
                found.failures.append(
                    TypeFailure(
                        f"{group}/{version} (managed resources)",
                        document.kind,
                        document.message,
                        family=CROSSPLANE_FAMILY,
                    )
                )
                continue
            for item in document:
                resource = as_map(item)
                categories = as_list(resource.get("categories"))
                name = as_text(resource.get("name"))
                if MANAGED_CATEGORY in categories and "/" not in name:
                    found.types += self._expand(
                        ResourceType(
                            group,
                            version,
                            name,
                            as_text(resource.get("kind")),
                            resource.get("namespaced") is True,
                            role=Role.MANAGED,
                        )
                    )


def _with_namespace(rtype: ResourceType, namespace: str) -> ResourceType:
    return ResourceType(
        rtype.group,
        rtype.version,
        rtype.plural,
        rtype.kind,
        rtype.namespaced,
        role=rtype.role,
        mapping=rtype.mapping,
        selector=rtype.selector,
        namespace=namespace,
        qualified=rtype.qualified,
    )


DiscoverFn = Callable[[], Discovery]
