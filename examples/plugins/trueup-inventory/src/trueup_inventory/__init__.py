"""A trueup source plugin: a CSV inventory of services, one Component per row (intent).

Everything a source type needs is here, in the shape SPEC section 11 gives it:
the configuration model (it owns its keys), the source (``observe`` yields one
complete snapshot per scope, or a failed read that replaces nothing), and
``PLUGIN``, which the ``inventory`` entry point in ``pyproject.toml`` names.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Literal, Self

from trueup.config_model import LocalPaths, SourceConfig
from trueup.model.fields import flatten
from trueup.model.finding import Code, finding
from trueup.model.observation import (
    FailureKind,
    Nature,
    Observation,
    Provenance,
    ScopeFailure,
    ScopeRead,
    Snapshot,
)
from trueup.model.ref import EntityRef
from trueup.sources.base import ReadContext, Source, SourcePlugin, SourceSetup

COLUMNS = ("name", "owner", "lifecycle", "description")


class InventorySourceConfig(SourceConfig):
    type: Literal["inventory"]
    path: str  # a CSV file with the header name,owner,lifecycle,description
    component_type: str = "service"

    def with_local_paths(self, paths: LocalPaths) -> Self:
        return self.model_copy(update={"path": paths.local(self.path)})


class InventorySource:
    nature = Nature.INTENT

    def __init__(self, config: InventorySourceConfig) -> None:
        self.config = config

    @property
    def id(self) -> str:
        return self.config.id

    def observe(self, context: ReadContext) -> Iterator[ScopeRead]:
        scope = Path(self.config.path).name
        now = context.now()
        try:
            data = Path(self.config.path).read_bytes()
        except OSError as exc:
            yield ScopeFailure(self.id, scope, FailureKind.UNREACHABLE, str(exc.strerror), now)
            return
        version = hashlib.sha256(data).hexdigest()[:12]
        observations, findings = [], []
        rows = csv.DictReader(data.decode("utf-8", "replace").splitlines())
        if tuple(rows.fieldnames or ()) != COLUMNS:
            yield ScopeFailure(
                self.id, scope, FailureKind.INVALID, f"the header is not {','.join(COLUMNS)}", now
            )
            return
        for line, row in enumerate(rows, start=2):
            name = (row["name"] or "").strip()
            if not name:
                findings.append(
                    finding(Code.INVALID_FILE, f"file:{scope}", f"line {line}: no name", line=line)
                )
                continue
            entity = {
                "apiVersion": "backstage.io/v1alpha1",
                "kind": "Component",
                "metadata": {"name": name, "description": row["description"]},
                "spec": {
                    "type": self.config.component_type,
                    "owner": row["owner"],
                    "lifecycle": row["lifecycle"],
                },
            }
            locator = f"{scope}@{version}#{line}"
            observations.append(
                Observation(
                    ref=EntityRef.of("component", None, name),
                    nature=Nature.INTENT,
                    provenance=Provenance(self.id, scope, locator, now),
                    fields=flatten(entity),
                )
            )
        yield Snapshot(
            self.id,
            scope,
            Nature.INTENT,
            now,
            tuple(observations),
            tuple(findings),
            version=version,
        )


def create(config: InventorySourceConfig, setup: SourceSetup) -> Source:
    return InventorySource(config)


PLUGIN = SourcePlugin(
    config=InventorySourceConfig,
    create=create,
    summary="a CSV inventory of services (example plugin)",
)
