"""One generated catalog file of many entities, as a catalog generator writes it.

Used by the golden-world tests and ``bench/large_file.py``: 10,000 valid
Components in one multi-document YAML file of about 4 MB, the size real
generated catalogs reach and Backstage ingests whole. Deterministic: the same
count gives the same bytes.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

_ENTITY = """\
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: {name}
  title: Generated service {index}
  description: Service {index} of the generated catalog
  tags: [generated, {lane}, tier-{tier}]
  annotations:
    github.com/project-slug: acme/{name}
    acme.io/cost-center: cc-{center:04d}
spec:
  type: service
  lifecycle: {lifecycle}
  owner: {owner}
  system: {system}
"""


def generated_entities(
    count: int, *, owner: str = "team-payments", system: str = "shop"
) -> Iterator[str]:
    """The documents of the generated file, one string per entity."""
    for index in range(count):
        yield _ENTITY.format(
            name=generated_name(index),
            index=index,
            lane=("payments", "search", "ops", "data")[index % 4],
            tier=index % 3 + 1,
            center=index % 250,
            lifecycle=("production", "experimental")[index % 7 == 0],
            owner=owner,
            system=system,
        )


def generated_name(index: int) -> str:
    return f"generated-service-{index:05d}"


def write_generated_catalog(
    path: Path, count: int = 10_000, *, owner: str = "team-payments", system: str = "shop"
) -> int:
    """Write the file (folders created); return its size in bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for position, document in enumerate(generated_entities(count, owner=owner, system=system)):
            if position:
                handle.write("---\n")
            handle.write(document)
    return path.stat().st_size
