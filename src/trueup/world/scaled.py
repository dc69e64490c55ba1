"""Synthetic worlds of any size for the benchmarks of SPEC section 9.

``write_scaled_world`` writes ``entities`` catalog entities, ten to a
multi-document file, spread over ``repos`` folders under ``root/repos`` (each
folder is self-contained, so it can later become a git repository), plus one
``kubectl get -o json`` export per cluster with a labelled Deployment and an
Argo CD Application for most Components, and a ``trueup.yaml``. The mix is
Groups, a Domain or two, Systems, Components (about 60 %), APIs and Resources,
and every reference between them resolves. ``touch_one_file`` changes one
entity in one file, for the "one file changed" benchmark. Called by
``bench/world_gen.py``, the benchmark runner and tests.
"""

from __future__ import annotations

import os
import random
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import yaml

from trueup.world import cluster_export
from trueup.world.cluster_export import (
    DEGRADED,
    HEALTHY,
    OUT_OF_SYNC,
    PROGRESSING,
    SYNCED,
    Workload,
)
from trueup.yaml_text import dump_documents

API_VERSION = "backstage.io/v1alpha1"
ENTITIES_PER_FILE = 10

Entity = dict[str, object]

_AREAS = (
    "billing",
    "orders",
    "catalog",
    "search",
    "identity",
    "shipping",
    "inventory",
    "pricing",
    "payments",
    "checkout",
    "loyalty",
    "reviews",
    "media",
    "notifications",
    "analytics",
    "fulfilment",
    "returns",
    "tax",
    "fraud",
    "support",
)
_ROLES = (
    "api",
    "service",
    "worker",
    "web",
    "gateway",
    "consumer",
    "scheduler",
    "sync",
    "importer",
    "exporter",
)
_CODENAMES = (
    "falcon",
    "otter",
    "lynx",
    "heron",
    "badger",
    "orca",
    "puffin",
    "marten",
    "ibex",
    "kestrel",
    "bison",
    "gecko",
)
_RESOURCE_TYPES = (
    ("db", "database"),
    ("events", "queue"),
    ("bucket", "s3-bucket"),
    ("cache", "cache"),
)


@dataclass(frozen=True)
class ScaledWorld:
    """Where a scaled world was written and what it holds."""

    root: Path
    config: Path
    repos_dir: Path
    repos: tuple[Path, ...]
    files: tuple[Path, ...]
    exports: tuple[Path, ...]
    clusters: tuple[str, ...]
    seed: int
    entities: int
    counts: Mapping[str, int] = field(default_factory=dict)  # entities by kind
    deployed: int = 0  # Components running in at least one cluster
    workloads: int = 0  # Deployment + Application pairs over all clusters
    undeclared: tuple[str, ...] = ()  # workloads no catalog file declares


@dataclass(frozen=True, slots=True)
class TouchedFile:
    """What ``touch_one_file`` changed."""

    path: Path
    repo: Path
    ref: str  # e.g. "component:default/billing-worker-12"
    description: str  # the new metadata.description


@dataclass(frozen=True, slots=True)
class _Plan:
    groups: int
    domains: int
    systems: int
    components: int
    apis: int
    resources: int

    @classmethod
    def of(cls, entities: int) -> _Plan:
        groups = max(2, entities * 2 // 100)
        domains = max(1, entities // 1000)
        systems = max(1, entities * 5 // 100)
        components = entities * 60 // 100
        apis = entities * 15 // 100
        resources = entities - groups - domains - systems - components - apis
        return cls(groups, domains, systems, components, apis, resources)


def write_scaled_world(
    root: Path,
    *,
    entities: int,
    repos: int = 100,
    clusters: int = 2,
    seed: int = 1,
    now: datetime | None = None,
) -> ScaledWorld:
    """Write a world of ``entities`` entities; same seed and ``now``, same bytes."""
    if entities < 20:
        raise ValueError("a scaled world needs at least 20 entities")
    if repos < 1 or clusters < 1:
        raise ValueError("a scaled world needs at least one repository and one cluster")
    moment = (now or datetime.now(UTC)).replace(microsecond=0)
    plan = _Plan.of(entities)
    rng = random.Random(seed)
    repos_dir = root / "repos"

    file_count = -(-entities // ENTITIES_PER_FILE)
    repo_count = min(repos, file_count)
    width = max(3, len(str(repo_count - 1)))
    repo_paths = tuple(repos_dir / f"repo-{i:0{width}d}" for i in range(repo_count))
    files: list[Path] = []
    per_repo: dict[int, int] = {}
    component_repo: dict[str, int] = {}
    counts: dict[str, int] = {}
    chunk: list[Entity] = []

    def flush() -> None:
        index = len(files)
        repo = index * repo_count // file_count
        seen = per_repo.get(repo, 0)
        per_repo[repo] = seen + 1
        name = "catalog-info.yaml" if seen == 0 else f"catalog/entities-{seen:03d}.yaml"
        path = repo_paths[repo] / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(dump_documents(chunk), encoding="utf-8")
        files.append(path)
        for entity in chunk:
            if entity["kind"] == "Component":
                component_repo[_name(entity)] = repo
        chunk.clear()

    for entity in _entities(plan, rng):
        kind = str(entity["kind"])
        counts[kind] = counts.get(kind, 0) + 1
        chunk.append(entity)
        if len(chunk) == ENTITIES_PER_FILE:
            flush()
    if chunk:
        flush()

    cluster_names = tuple(f"cluster-{i + 1}" for i in range(clusters))
    placed = _workloads(plan, rng, cluster_names, component_repo, repo_paths)
    exports: list[Path] = []
    stamp = moment.timestamp()
    for index, cluster in enumerate(cluster_names):
        path = root / "exports" / f"{cluster}.json"
        mine = placed[cluster]
        items = _objects(mine, moment)
        cluster_export.write_list(path, items, str(190_000_000 + index * 7_919), indent=None)
        os.utime(path, (stamp, stamp))
        exports.append(path)

    config = root / "trueup.yaml"
    config.write_text(_CONFIG, encoding="utf-8")
    all_workloads = [w for cluster in cluster_names for w in placed[cluster]]
    declared = set(component_repo)
    undeclared = sorted({w.name for w in all_workloads if w.name not in declared})
    return ScaledWorld(
        root=root,
        config=config,
        repos_dir=repos_dir,
        repos=repo_paths,
        files=tuple(files),
        exports=tuple(exports),
        clusters=cluster_names,
        seed=seed,
        entities=entities,
        counts=dict(sorted(counts.items())),
        deployed=len({w.name for w in all_workloads if w.name in declared}),
        workloads=len(all_workloads),
        undeclared=tuple(undeclared),
    )


def touch_one_file(world: ScaledWorld, index: int = 0) -> TouchedFile:
    """Change the description of the first entity of file ``index``; nothing else moves.

    Each call on the same file gives a new description ("… (edit 2)", "… (edit 3)"),
    so repeated benchmark rounds always see a real change.
    """
    path = world.files[index % len(world.files)]
    documents = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
    first = documents[0]
    metadata = first["metadata"]
    text = str(metadata.get("description", ""))
    match = re.search(r" \(edit (\d+)\)$", text)
    edits = int(match.group(1)) + 1 if match else 1
    base = text[: match.start()] if match else text
    metadata["description"] = f"{base} (edit {edits})"
    path.write_text(dump_documents(documents), encoding="utf-8")
    repo = next(r for r in world.repos if path.is_relative_to(r))
    return TouchedFile(
        path=path,
        repo=repo,
        ref=f"{str(first['kind']).lower()}:default/{metadata['name']}",
        description=metadata["description"],
    )


# --- entities ----------------------------------------------------------------


def _name(entity: Entity) -> str:
    metadata = entity["metadata"]
    assert isinstance(metadata, dict)
    return str(metadata["name"])


def _entity(kind: str, name: str, description: str, spec: Entity, **meta: object) -> Entity:
    metadata: Entity = {"name": name, "description": description, **meta}
    return {"apiVersion": API_VERSION, "kind": kind, "metadata": metadata, "spec": spec}


def _span(index: int, total: int, parts: int) -> range:
    """The items of ``total`` that belong to part ``index`` of ``parts``."""
    return range(index * total // parts, (index + 1) * total // parts)


def _group_name(index: int) -> str:
    if index == 0:
        return "acme-engineering"
    return f"team-{_CODENAMES[index % len(_CODENAMES)]}-{index}"


def _system_name(index: int) -> str:
    return f"{_AREAS[index % len(_AREAS)]}-{index}"


def _api_name(system: int, index: int) -> str:
    return f"{_AREAS[system % len(_AREAS)]}-api-{index}"


def _entities(plan: _Plan, rng: random.Random) -> Iterator[Entity]:
    teams = [_group_name(g) for g in range(1, plan.groups)] or [_group_name(0)]
    yield _entity(
        "Group",
        _group_name(0),
        "All of acme engineering.",
        {
            "type": "department",
            "profile": {"displayName": "Engineering"},
            "children": [_group_name(g) for g in range(1, plan.groups)],
        },
    )
    for g in range(1, plan.groups):
        codename = _CODENAMES[g % len(_CODENAMES)]
        yield _entity(
            "Group",
            _group_name(g),
            f"Team {codename.title()} {g}.",
            {
                "type": "team",
                "profile": {"displayName": f"{codename.title()} {g}"},
                "parent": _group_name(0),
                "children": [],
            },
        )
    for d in range(plan.domains):
        yield _entity(
            "Domain",
            f"commerce-{d}",
            f"Commerce domain {d}.",
            {"owner": f"group:default/{teams[d % len(teams)]}"},
        )

    for s in range(plan.systems):
        area = _AREAS[s % len(_AREAS)]
        owner = teams[s % len(teams)]
        system = _system_name(s)
        components = _span(s, plan.components, plan.systems)
        apis = _span(s, plan.apis, plan.systems)
        resources = _span(s, plan.resources, plan.systems)
        yield _entity(
            "System",
            system,
            f"The {area} system, number {s}.",
            {"owner": owner, "domain": f"commerce-{s % plan.domains}"},
            tags=[area],
        )
        other = (s + 1) % plan.systems
        foreign_apis = [_api_name(other, a) for a in _span(other, plan.apis, plan.systems)]
        for k, c in enumerate(components):
            role = _ROLES[c % len(_ROLES)]
            name = f"{area}-{role}-{c}"
            spec: Entity = {
                "type": "website" if role == "web" else "service",
                "lifecycle": rng.choices(("production", "experimental", "deprecated"), (80, 15, 5))[
                    0
                ],
                "owner": owner,
                "system": system,
            }
            provided = [_api_name(s, a) for i, a in enumerate(apis) if i % len(components) == k]
            if provided:
                spec["providesApis"] = provided
            if foreign_apis and rng.random() < 0.5:
                spec["consumesApis"] = [rng.choice(foreign_apis)]
            if len(resources):
                r = resources[k % len(resources)]
                spec["dependsOn"] = [f"resource:{_resource_name(area, r)}"]
            yield _entity(
                "Component",
                name,
                f"The {area} {role} of the {system} system.",
                spec,
                annotations={
                    "backstage.io/kubernetes-id": name,
                    "github.com/project-slug": f"acme/{name}",
                },
                tags=[area, role],
            )
        for a in apis:
            name = _api_name(s, a)
            yield _entity(
                "API",
                name,
                f"HTTP API of the {area} system.",
                {
                    "type": "openapi",
                    "lifecycle": "production",
                    "owner": owner,
                    "system": system,
                    "definition": _OPENAPI.format(title=name, area=area),
                },
            )
        for r in resources:
            yield _entity(
                "Resource",
                _resource_name(area, r),
                f"A {_RESOURCE_TYPES[r % len(_RESOURCE_TYPES)][1]} of the {area} system.",
                {
                    "type": _RESOURCE_TYPES[r % len(_RESOURCE_TYPES)][1],
                    "owner": owner,
                    "system": system,
                },
            )


def _resource_name(area: str, index: int) -> str:
    return f"{area}-{_RESOURCE_TYPES[index % len(_RESOURCE_TYPES)][0]}-{index}"


_OPENAPI = """\
openapi: 3.0.3
info:
  title: {title}
  version: 1.0.0
paths:
  /{area}:
    get:
      summary: List {area}
      responses:
        "200":
          description: OK
"""


# --- clusters ----------------------------------------------------------------


def _workloads(
    plan: _Plan,
    rng: random.Random,
    clusters: tuple[str, ...],
    component_repo: Mapping[str, int],
    repo_paths: tuple[Path, ...],
) -> dict[str, list[Workload]]:
    """Most Components run in one cluster, some in two; a few are unhealthy."""
    placed: dict[str, list[Workload]] = {cluster: [] for cluster in clusters}
    serial = 0
    for name, repo in component_repo.items():
        if rng.random() >= 0.92:
            continue  # declared, not deployed
        c = int(name.rsplit("-", 1)[1])
        system = _system_name(c * plan.systems // plan.components)
        team = _group_name(1 + (c * plan.systems // plan.components) % max(1, plan.groups - 1))
        home = c % len(clusters)
        places = [home]
        if len(clusters) > 1 and rng.random() < 0.15:
            places.append((home + 1) % len(clusters))
        for where in places:
            roll = rng.random()
            sync, health, ready = SYNCED, HEALTHY, 2
            if roll < 0.02:
                sync = OUT_OF_SYNC
            elif roll < 0.035:
                health, ready = DEGRADED, 1
            elif roll < 0.05:
                health, ready = PROGRESSING, 1
            serial += 1
            placed[clusters[where]].append(
                Workload(
                    name=name,
                    cluster=clusters[where],
                    namespace=system,
                    team=team,
                    part_of=system,
                    repo_url=f"https://github.com/acme/{repo_paths[repo].name}.git",
                    version=f"{1 + c % 5}.{c % 13}.{c % 7}",
                    replicas=2,
                    ready=ready,
                    sync=sync,
                    health=health,
                    serial=serial,
                    source_path=f"deploy/{name}/overlays/{clusters[where]}",
                )
            )
    for index, cluster in enumerate(clusters):
        for n in range(max(1, plan.components // 500)):
            serial += 1
            area = _AREAS[(index + n) % len(_AREAS)]
            name = f"{area}-legacy-{index}-{n}"
            placed[cluster].append(
                Workload(
                    name=name,
                    cluster=cluster,
                    namespace="legacy",
                    team="unknown",
                    part_of="legacy",
                    repo_url=f"https://github.com/acme/{name}.git",
                    version="0.1.0",
                    serial=serial,
                )
            )
    return placed


def _objects(workloads: list[Workload], now: datetime) -> Iterator[cluster_export.RawObject]:
    for workload in workloads:
        yield cluster_export.deployment(workload, now)
    for workload in workloads:
        yield cluster_export.application(workload, now)


_CONFIG = """\
# A synthetic world for benchmarks (bench/world_gen.py). Paths are relative to this file.
database: sqlite:///trueup.db

sources:
  - id: repos
    type: file
    path: repos
    include: ["**/*.yaml"]
  - id: clusters
    type: kubernetes
    snapshot: exports/*.json
    collect: [workloads, argocd]
    max_age: 24h

merge:
  precedence:
    "spec.owner": [repos]
    "*": [repos, clusters]

safety:
  max_removal_ratio: 0.5

sinks:
  - type: directory
    path: out/catalog
"""
