"""The embedded demo world: a small, realistic "acme" catalog, two clusters, a state.

``write_demo_world`` writes a real git repository of Backstage descriptors
(two commits: the catalog, then a deploy change), two ``kubectl get -o json``
exports (``prod-eu``, ``prod-us``: Deployments, Argo CD Applications, Crossplane
claims), a Terraform state and a ``trueup.yaml`` that ties them together. The
world holds one example of every case trueup exists for: an OutOfSync and a
Degraded application, an app one commit behind its branch head, a claim not
Ready and one not Synced, a workload nobody declared, a component deployed
nowhere, a broken file, an invalid entity among valid ones, a dangling owner, a
missing description. The returned :class:`DemoWorld` names them so tests and
``trueup demo`` assert against facts instead of hard-coded names. Called by
``trueup demo`` and tests.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
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
    CLAIMED,
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
    not_ready: str = ""  # Resource whose Crossplane claim is not Ready
    not_synced: str = ""  # Resource whose Crossplane claim is not Synced
    revision_behind: str = ""  # Component one cluster runs at an older commit than main's head
    commits: tuple[str, ...] = ()  # the catalog repository's commits, oldest first

    def commit(self, message: str, when: datetime | None = None) -> str:
        """Commit every change in the catalog repository (tests edit it); the new head.
        ``when`` dates the commit (default: now)."""
        return _commit(self.catalog, message, (when or datetime.now(UTC)).replace(microsecond=0))


_BEHIND = ("payments-api", "prod-us")  # deployed from the catalog repository, one commit behind
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
    commits = _catalog_history(catalog, moment)

    workloads = _workloads(catalog, commits)
    exports: list[Path] = []
    for index, cluster in enumerate(CLUSTERS):
        path = root / "exports" / f"{cluster}.json"
        here = [w for w in workloads if w.cluster == cluster]
        items = _claims(moment) if cluster == CLUSTERS[0] else []
        items += [cluster_export.deployment(w, moment) for w in here]
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
        not_ready=next(name for name, claim in CLAIMED.items() if claim[2] != "True"),
        not_synced=next(name for name, claim in CLAIMED.items() if claim[3] != "True"),
        revision_behind=_BEHIND[0],
        commits=commits,
    )


# --- the catalog repository --------------------------------------------------

_GIT_IDENTITY = ("-c", "user.name=acme platform", "-c", "user.email=platform@acme.example")


def _git(catalog: Path, *args: str, when: datetime) -> str:
    stamp = when.isoformat()
    env = {**os.environ, "GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_DATE": stamp}
    done = subprocess.run(
        [
            "git",
            *_GIT_IDENTITY,
            "-c",
            "commit.gpgsign=false",
            "-c",
            "core.hooksPath=/dev/null",
            *args,
        ],
        cwd=catalog,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return done.stdout.strip()


def _commit(catalog: Path, message: str, when: datetime) -> str:
    _git(catalog, "add", "-A", when=when)
    _git(catalog, "commit", "-q", "--allow-empty", "-m", message, when=when)
    return _git(catalog, "rev-parse", "HEAD", when=when)


def _catalog_history(catalog: Path, moment: datetime) -> tuple[str, str]:
    """A real git repository: the catalog, then a deploy change not yet rolled out everywhere."""
    _git(catalog, "init", "-q", "-b", "main", when=moment)
    first = _commit(catalog, "Add the acme catalog", moment - timedelta(days=2))
    name = _BEHIND[0]
    deploy = catalog / "deploy" / name / "kustomization.yml"
    deploy.parent.mkdir(parents=True, exist_ok=True)
    image = f"  - name: ghcr.io/acme/{name}\n    newTag: 4.13.0\n"
    deploy.write_text(f"resources: [../../base/{name}]\nimages:\n{image}", encoding="utf-8")
    second = _commit(catalog, f"Deploy {name} 4.13.0", moment - timedelta(hours=3))
    return first, second


def _claims(moment: datetime) -> list[cluster_export.RawObject]:
    """Crossplane definitions and the claims of the catalog's claimed resources."""
    group = "platform.acme.io"
    items: list[cluster_export.RawObject] = []
    for serial, (name, (kind, namespace, ready, synced)) in enumerate(sorted(CLAIMED.items())):
        items.append(cluster_export.composite_definition(group, f"X{kind}", kind))
        items.append(
            cluster_export.claim(
                f"{group}/v1alpha1",
                kind,
                name,
                namespace,
                ready=ready,
                synced=synced,
                now=moment,
                serial=serial + 1,
            )
        )
    return items


# --- clusters ----------------------------------------------------------------


def _workloads(catalog: Path, commits: tuple[str, str]) -> list[Workload]:
    workloads: list[Workload] = []
    for component in COMPONENTS:
        for cluster in component.runs_in:
            place = (component.name, cluster)
            replicas = 3 if component.lifecycle == "production" else 2
            from_catalog = component.name == _BEHIND[0]  # deployed from the catalog repository
            workloads.append(
                Workload(
                    name=component.name,
                    cluster=cluster,
                    namespace=NAMESPACES[component.system],
                    team=component.owner.rsplit("/", 1)[-1]
                    if component.owner
                    else SYSTEMS[component.system][0],
                    part_of=component.system,
                    repo_url=f"file://{catalog}"
                    if from_catalog
                    else f"https://github.com/acme/{component.name}.git",
                    source_path=f"deploy/{component.name}" if from_catalog else None,
                    # Argo CD in prod-us has not seen the new commit yet: it still
                    # compares with, and runs, the first one.
                    head=(commits[0] if place == _BEHIND else commits[1]) if from_catalog else None,
                    deployed=(commits[0] if place == _BEHIND else commits[1])
                    if from_catalog
                    else None,
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
# trueup demo: a catalog repository (intent), two cluster exports and a Terraform
# state (actual state).
# Relative paths are relative to this file.
database: sqlite:///trueup.db

sources:
  # What teams declare: Backstage descriptor files in a git repository.
  - id: catalog
    type: git
    url: catalog
    branch: main
    include: ["**/*.yaml"]

  # What runs: `kubectl get deployments,applications,compositeresourcedefinitions,
  # postgresqlinstances,redisinstances -A -o json` of each cluster.
  # Each file is one cluster, named after the file (prod-eu, prod-us).
  - id: clusters
    type: kubernetes
    snapshot: exports/*.json
    collect: [workloads, argocd, crossplane]
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
