"""The embedded demo world: a small, realistic "acme" catalog and two clusters.

``write_demo_world`` writes a ``file`` source folder of Backstage descriptors,
two ``kubectl get -o json`` exports (``prod-eu``, ``prod-us``) and a
``trueup.yaml`` that ties them together. The world holds one example of every
case trueup exists for (an OutOfSync and a Degraded application, a workload
nobody declared, a component deployed nowhere, a broken file, an invalid
entity among valid ones, a dangling owner, a missing description); the
returned :class:`DemoWorld` names them so tests and ``trueup demo`` assert
against facts instead of hard-coded names. Called by ``trueup demo`` and tests.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

from trueup.world import cluster_export
from trueup.world.cluster_export import (
    DEGRADED,
    HEALTHY,
    OUT_OF_SYNC,
    SYNCED,
    Workload,
)
from trueup.world.demo_catalog import (
    BROKEN_FILE,
    CLUSTERS,
    COMPONENTS,
    DANGLING_OWNER,
    INVALID_ENTITY_FILE,
    INVALID_RESOURCE,
    LOCATION_TARGETS,
    NAMESPACES,
    SYSTEMS,
    catalog_files,
    declared_counts,
)
from trueup.world.terraform import write_demo_state


@dataclass(frozen=True)
class DemoWorld:
    """Where the demo was written and what it is known to contain."""

    root: Path
    config: Path
    catalog: Path
    exports: tuple[Path, ...]
    clusters: tuple[str, ...]
    out_of_sync: str  # Component whose Argo CD Application is OutOfSync (in one cluster)
    degraded: str  # Component whose Application is Degraded (in one cluster)
    undeclared: str  # runs in a cluster, declared nowhere
    not_deployed: str  # declared, runs nowhere
    dangling_owner: str  # Component whose owner does not exist
    missing_owner_ref: str  # the owner it names, as written
    missing_description: str  # Component without metadata.description
    broken_file: Path  # not valid YAML
    invalid_entity_file: Path  # one invalid entity among valid ones
    invalid_entity_name: str  # the invalid one (a name of 64 characters)
    location_targets: tuple[Path, ...]  # files the Location entity lists
    # Valid declared entities by kind (broken file and invalid entity left out).
    declared: Mapping[str, int] = field(default_factory=dict)
    # Component name -> clusters it runs in (the undeclared one included).
    deployed: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


_OUT_OF_SYNC = ("order-service", "prod-eu")
_DEGRADED = ("search-service", "prod-us")
_UNDECLARED = Workload(
    name="legacy-reporting",
    cluster="prod-eu",
    namespace="reporting",
    team="team-payments",
    part_of="reporting",
    repo_url="https://github.com/acme/legacy-reporting.git",
    version="0.9.14",
    replicas=1,
    ready=1,
)


def write_demo_world(root: Path, *, now: datetime | None = None) -> DemoWorld:
    """Write the demo under ``root`` and describe it. Same ``now``, same bytes."""
    moment = (now or datetime.now(UTC)).replace(microsecond=0)
    catalog = root / "catalog"
    files = catalog_files()
    for relative, text in files.items():
        path = catalog / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")

    workloads = _workloads()
    exports: list[Path] = []
    for index, cluster in enumerate(CLUSTERS):
        path = root / "exports" / f"{cluster}.json"
        here = [w for w in workloads if w.cluster == cluster]
        items = [cluster_export.deployment(w, moment) for w in here]
        items += [cluster_export.application(w, moment) for w in here]
        cluster_export.write_list(path, items, str(184_990_000 + index * 7_133), indent=4)
        stamp = moment.timestamp()
        os.utime(path, (stamp, stamp))
        exports.append(path)

    write_demo_state(root, now=moment)
    config = root / "trueup.yaml"
    config.write_text(_CONFIG, encoding="utf-8")

    deployed: dict[str, tuple[str, ...]] = {}
    for workload in workloads:
        deployed[workload.name] = (*deployed.get(workload.name, ()), workload.cluster)
    return DemoWorld(
        root=root,
        config=config,
        catalog=catalog,
        exports=tuple(exports),
        clusters=CLUSTERS,
        out_of_sync=_OUT_OF_SYNC[0],
        degraded=_DEGRADED[0],
        undeclared=_UNDECLARED.name,
        not_deployed=next(c.name for c in COMPONENTS if not c.runs_in),
        dangling_owner=next(c.name for c in COMPONENTS if c.owner == DANGLING_OWNER),
        missing_owner_ref=DANGLING_OWNER,
        missing_description=next(c.name for c in COMPONENTS if c.description is None),
        broken_file=catalog / BROKEN_FILE,
        invalid_entity_file=catalog / INVALID_ENTITY_FILE,
        invalid_entity_name=INVALID_RESOURCE,
        location_targets=tuple(catalog / target for target in LOCATION_TARGETS),
        declared=dict(sorted(declared_counts().items())),
        deployed=deployed,
    )


# --- clusters ----------------------------------------------------------------


def _workloads() -> list[Workload]:
    workloads: list[Workload] = []
    for component in COMPONENTS:
        for cluster in component.runs_in:
            place = (component.name, cluster)
            replicas = 3 if component.lifecycle == "production" else 2
            workloads.append(
                Workload(
                    name=component.name,
                    cluster=cluster,
                    namespace=NAMESPACES[component.system],
                    team=component.owner.rsplit("/", 1)[-1]
                    if component.owner
                    else SYSTEMS[component.system][0],
                    part_of=component.system,
                    repo_url=f"https://github.com/acme/{component.name}.git",
                    version=component.version,
                    replicas=replicas,
                    ready=1 if place == _DEGRADED else replicas,
                    sync=OUT_OF_SYNC if place == _OUT_OF_SYNC else SYNCED,
                    health=DEGRADED if place == _DEGRADED else HEALTHY,
                    serial=len(workloads) + 1,
                )
            )
    workloads.append(replace(_UNDECLARED, serial=len(workloads) + 1))
    return workloads


_CONFIG = """\
# trueup demo: a catalog folder (intent) and two cluster exports (actual state).
# Relative paths are relative to this file.
database: sqlite:///trueup.db

sources:
  # What teams declare: Backstage descriptor files.
  - id: catalog
    type: file
    path: catalog
    include: ["**/*.yaml"]

  # What runs: `kubectl get deployments,applications -A -o json` of each cluster.
  # Each file is one cluster, named after the file (prod-eu, prod-us).
  - id: clusters
    type: kubernetes
    snapshot: exports/*.json
    collect: [workloads, argocd]
    max_age: 24h

  # What Terraform built: state format v4 files (s3:// and https:// backends work too).
  # Each file is one state, named after the file (payments).
  - id: infra
    type: terraform
    state: states/*.tfstate
    owner: team-platform
    exclude_types: ["random_*"]
    max_age: 24h
    mappings:
      # The RDS instance is the catalog's payments-db: enrich it, don't discover a new one.
      - type: aws_db_instance
        name: payments-db
      # Everything in this state belongs to the payments system.
      - state: payments
        system: payments

merge:
  precedence:
    # Ownership comes from the catalog only, never from cluster labels or tags.
    "spec.owner": [catalog]
    "*": [catalog, clusters, infra]

safety:
  max_removal_ratio: 0.5

sinks:
  - type: directory
    path: out/catalog
"""
