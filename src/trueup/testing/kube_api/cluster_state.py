"""The fake cluster's state behind the Kubernetes API test double: objects and their history.

Used by :mod:`~trueup.testing.kube_api.server` and its handler. It keeps every
version of every object under one global, increasing ``resourceVersion`` (as
etcd does), so that a list can be served *at* a resourceVersion (a continue
token stays one consistent snapshot) and a watch can replay the events after
one. History older than the compaction point answers 410 ``Expired``, like a
real server after etcd compaction. Resource types are a generic table: built-in
types are preloaded, creating a CustomResourceDefinition registers its served
versions (deleting it unregisters them and drops their objects), and
:meth:`ClusterState.register` serves a kind without a CRD object (the demo's exports
use Argo CD and Crossplane kinds whose definitions they do not contain).
"""

from __future__ import annotations

import bisect
import copy
import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from trueup.testing.kube_api.selectors import Filter, Obj

ResKey = tuple[str, str, str]  # group, version, plural
ObjKey = tuple[str, str]  # namespace ("" when cluster-scoped), name


class ExpiredError(Exception):
    """A resourceVersion older than the compaction point (410 Expired)."""

    def __init__(self, requested: int, oldest: int) -> None:
        super().__init__(f"too old resource version: {requested} ({oldest})")
        self.requested = requested
        self.oldest = oldest


class ConflictError(Exception):
    """409: the name is taken, or the written resourceVersion is not the stored one."""


@dataclass(frozen=True)
class ResourceInfo:
    """One served resource type: where it lives in the API and how discovery names it."""

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    singular: str = ""
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()

    @property
    def key(self) -> ResKey:
        return (self.group, self.version, self.plural)

    @property
    def group_version(self) -> str:
        return self.version if not self.group else f"{self.group}/{self.version}"

    @property
    def qualified(self) -> str:
        return self.plural if not self.group else f"{self.plural}.{self.group}"


BUILTIN_RESOURCES = (
    ResourceInfo("", "v1", "namespaces", "Namespace", False, "namespace", ("ns",)),
    ResourceInfo("", "v1", "services", "Service", True, "service", ("svc",)),
    ResourceInfo("", "v1", "configmaps", "ConfigMap", True, "configmap", ("cm",)),
    ResourceInfo("apps", "v1", "deployments", "Deployment", True, "deployment", ("deploy",)),
    ResourceInfo("apps", "v1", "statefulsets", "StatefulSet", True, "statefulset", ("sts",)),
    ResourceInfo("apps", "v1", "daemonsets", "DaemonSet", True, "daemonset", ("ds",)),
    ResourceInfo("batch", "v1", "cronjobs", "CronJob", True, "cronjob", ("cj",)),
    ResourceInfo("networking.k8s.io", "v1", "ingresses", "Ingress", True, "ingress", ("ing",)),
    ResourceInfo(
        "apiextensions.k8s.io",
        "v1",
        "customresourcedefinitions",
        "CustomResourceDefinition",
        False,
        "customresourcedefinition",
        ("crd", "crds"),
    ),
)
CRD_KEY: ResKey = ("apiextensions.k8s.io", "v1", "customresourcedefinitions")


# --- the store -----------------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    """One change in the history: what a watch from an older resourceVersion replays."""

    rv: int
    resource: ResKey
    type: str  # ADDED, MODIFIED, DELETED
    obj: Obj
    previous: Obj | None


@dataclass
class _Table:
    info: ResourceInfo
    keys: list[ObjKey] = field(default_factory=list)  # sorted, deleted ones included
    versions: dict[ObjKey, list[tuple[int, Obj | None]]] = field(default_factory=dict)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class ClusterState:
    """Versioned objects of one fake cluster. Thread-safe; ``changed`` wakes watches."""

    def __init__(self, window: int = 1000) -> None:
        self.changed = threading.Condition()
        self.window = window
        self.reset()

    def reset(self) -> None:
        with self.changed:
            self.rv = 100
            self.compacted = 0  # events with rv > compacted are in the history
            self.events: list[Event] = []
            self.tables: dict[ResKey, _Table] = {r.key: _Table(r) for r in BUILTIN_RESOURCES}
            self.changed.notify_all()

    # --- resource types

    def resources(self) -> list[ResourceInfo]:
        with self.changed:
            return [t.info for t in self.tables.values()]

    def register(self, info: ResourceInfo) -> None:
        """Serve a kind without a CRD object (kept until ``reset``); a served one is kept."""
        with self.changed:
            if info.key not in self.tables:
                self.tables[info.key] = _Table(info)
            self.changed.notify_all()

    def resource(self, key: ResKey) -> ResourceInfo | None:
        with self.changed:
            table = self.tables.get(key)
            return table.info if table else None

    def _register_crd(self, crd: Obj | None, previous: Obj | None) -> None:
        for old in [previous] if previous else []:
            spec = old.get("spec", {})
            for version in spec.get("versions", []):
                key = (spec.get("group", ""), version.get("name", ""), spec["names"]["plural"])
                if crd is None or not self._serves(crd, key):
                    self.tables.pop(key, None)
        if crd is None:
            return
        spec = crd.get("spec", {})
        names = spec.get("names", {})
        for version in spec.get("versions", []):
            if not version.get("served", True):
                continue
            info = ResourceInfo(
                group=spec["group"],
                version=version["name"],
                plural=names["plural"],
                kind=names["kind"],
                namespaced=spec.get("scope", "Namespaced") == "Namespaced",
                singular=names.get("singular", names["kind"].lower()),
                short_names=tuple(names.get("shortNames", ())),
                categories=tuple(names.get("categories", ())),
            )
            table = self.tables.get(info.key)
            if table is None:
                self.tables[info.key] = _Table(info)
            else:
                table.info = info

    @staticmethod
    def _serves(crd: Obj, key: ResKey) -> bool:
        spec = crd.get("spec", {})
        return spec.get("group") == key[0] and any(
            v.get("name") == key[1] and v.get("served", True) for v in spec.get("versions", [])
        )

    # --- writes

    def _table(self, key: ResKey) -> _Table:
        table = self.tables.get(key)
        if table is None:
            raise KeyError(key)
        return table

    def _append(
        self, table: _Table, okey: ObjKey, kind: str, obj: Obj | None, prev: Obj | None
    ) -> None:
        self.rv += 1
        if okey not in table.versions:
            bisect.insort(table.keys, okey)
            table.versions[okey] = []
        stored = None
        if obj is not None:
            stored = obj
            stored["metadata"]["resourceVersion"] = str(self.rv)
        table.versions[okey].append((self.rv, stored))
        shown = stored if stored is not None else copy.deepcopy(prev)
        assert shown is not None
        if stored is None:
            shown["metadata"]["resourceVersion"] = str(self.rv)
        self.events.append(Event(self.rv, table.info.key, kind, shown, prev))
        if len(self.events) > self.window:
            dropped = self.events[: len(self.events) - self.window]
            self.compacted = dropped[-1].rv
            del self.events[: len(dropped)]
        if table.info.key == CRD_KEY:
            self._register_crd(stored, prev)
        self.changed.notify_all()

    def current(self, key: ResKey, okey: ObjKey) -> Obj | None:
        table = self.tables.get(key)
        if table is None or okey not in table.versions:
            return None
        return table.versions[okey][-1][1]

    def create(self, key: ResKey, obj: Obj) -> Obj:
        with self.changed:
            table = self._table(key)
            obj = copy.deepcopy(obj)
            meta = obj.setdefault("metadata", {})
            if not meta.get("name") and meta.get("generateName"):
                meta["name"] = meta["generateName"] + uuid.uuid4().hex[:5]
            if not table.info.namespaced:
                meta.pop("namespace", None)
            okey = (meta.get("namespace", ""), meta["name"])
            if self.current(key, okey) is not None:
                raise ConflictError(f'{table.info.qualified} "{okey[1]}" already exists')
            meta.setdefault("uid", str(uuid.uuid4()))
            meta.setdefault("creationTimestamp", _now())
            meta.setdefault("generation", 1)
            obj["apiVersion"] = table.info.group_version
            obj["kind"] = table.info.kind
            self._append(table, okey, "ADDED", obj, None)
            return copy.deepcopy(obj)

    def update(self, key: ResKey, obj: Obj) -> Obj:
        with self.changed:
            table = self._table(key)
            obj = copy.deepcopy(obj)
            meta = obj.setdefault("metadata", {})
            okey = (meta.get("namespace", "") if table.info.namespaced else "", meta["name"])
            previous = self.current(key, okey)
            if previous is None:
                raise KeyError(okey)
            written = meta.get("resourceVersion")
            if written and written != previous["metadata"]["resourceVersion"]:
                raise ConflictError(
                    f'Operation cannot be fulfilled on {table.info.qualified} "{okey[1]}": '
                    "the object has been modified; please apply your changes to the latest "
                    "version and try again"
                )
            for name in ("uid", "creationTimestamp", "generation"):
                meta[name] = previous["metadata"].get(name)
            if obj.get("spec") != previous.get("spec"):
                meta["generation"] = int(meta.get("generation") or 1) + 1
            obj["apiVersion"] = table.info.group_version
            obj["kind"] = table.info.kind
            meta["resourceVersion"] = previous["metadata"]["resourceVersion"]
            if obj == previous:
                return copy.deepcopy(previous)
            self._append(table, okey, "MODIFIED", obj, previous)
            return copy.deepcopy(obj)

    def apply(self, key: ResKey, obj: Obj) -> Obj:
        """Create, or update whatever is stored (tests' shorthand)."""
        with self.changed:
            meta = obj.get("metadata", {})
            okey = (meta.get("namespace", "") if self._table(key).info.namespaced else "",)
            if self.current(key, (*okey, meta["name"])) is None:
                return self.create(key, obj)
            obj = copy.deepcopy(obj)
            obj["metadata"].pop("resourceVersion", None)
            return self.update(key, obj)

    def delete(self, key: ResKey, namespace: str, name: str) -> Obj:
        with self.changed:
            table = self._table(key)
            okey = (namespace if table.info.namespaced else "", name)
            previous = self.current(key, okey)
            if previous is None:
                raise KeyError(okey)
            self._append(table, okey, "DELETED", None, previous)
            return copy.deepcopy(previous)

    def compact(self) -> None:
        """Forget all history: every older resourceVersion now answers 410."""
        with self.changed:
            self.compacted = self.rv
            self.events.clear()
            self.changed.notify_all()

    def restore(self, rv: int) -> None:
        """Go back to a backup taken at ``rv`` (an etcd restore): later writes are forgotten.

        The store's resourceVersion goes back to ``rv``; served types stay as they are.
        """
        with self.changed:
            for table in self.tables.values():
                for okey in list(table.keys):
                    kept = [(r, o) for r, o in table.versions[okey] if r <= rv]
                    if kept:
                        table.versions[okey] = kept
                    else:
                        del table.versions[okey]
                        table.keys.remove(okey)
            self.events = [e for e in self.events if e.rv <= rv]
            self.rv = rv
            self.compacted = min(self.compacted, rv)
            self.changed.notify_all()

    # --- reads

    def check_rv(self, rv: int) -> None:
        if rv < self.compacted:
            raise ExpiredError(rv, self.compacted)

    def list_at(
        self, key: ResKey, rv: int, flt: Filter, after: ObjKey | None, limit: int | None
    ) -> tuple[list[Obj], ObjKey | None, int]:
        """Objects at ``rv`` after key ``after``: (items, last key if more remain, remaining)."""
        with self.changed:
            self.check_rv(rv)
            table = self._table(key)
            start = 0 if after is None else bisect.bisect_right(table.keys, after)
            items: list[Obj] = []
            last: ObjKey | None = None
            remaining = 0
            for okey in table.keys[start:]:
                obj = _version_at(table.versions[okey], rv)
                if not flt.matches(obj):
                    continue
                assert obj is not None
                if limit is None or len(items) < limit:
                    items.append(obj)
                    last = okey
                else:
                    remaining += 1
            return (copy.deepcopy(items), last if remaining else None, remaining)

    def events_after(self, rv: int, key: ResKey) -> tuple[list[Event], int]:
        """Events of one resource after ``rv`` and the store's rv; raises ExpiredError."""
        with self.changed:
            self.check_rv(rv)
            at = bisect.bisect_right([e.rv for e in self.events], rv)
            return ([e for e in self.events[at:] if e.resource == key], self.rv)


def _version_at(versions: list[tuple[int, Obj | None]], rv: int) -> Obj | None:
    for version_rv, obj in reversed(versions):
        if version_rv <= rv:
            return obj
    return None
