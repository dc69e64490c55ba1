"""A file's finding about an entity is listed once: on the entity, not again as loose.

It is attached to the entity it names (its page shows it) and was also stored as a
finding of no entity, so ``trueup check``, the counts and the API listed it twice.
A finding naming an entity that does not exist (a new entity whose declaration is
broken) stays a loose one.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from trueup.config import parse_config
from trueup.model.ref import EntityRef
from trueup.pipeline import sync
from trueup.store import Store

GROUP = """\
apiVersion: backstage.io/v1alpha1
kind: Group
metadata: {name: team-a}
spec: {type: team, children: []}
"""


def component(name: str, description: str) -> str:
    return (
        "apiVersion: backstage.io/v1alpha1\nkind: Component\n"
        f"metadata: {{name: {name}, description: {description}}}\n"
        "spec: {type: service, lifecycle: production, owner: team-a, system: shop}\n"
    )


@pytest.mark.parametrize("from_scratch", [False, True])
def test_a_files_finding_about_an_entity_is_listed_once(
    tmp_path: Path, db_url: str, from_scratch: bool
) -> None:
    catalog = tmp_path / "catalog"
    catalog.mkdir()
    (catalog / "a.yaml").write_text(
        "---\n".join([GROUP, component("pay", "first"), component("pay", "second")])
    )
    (catalog / "b.yaml").write_text(component("Bad Name!", "x"))
    config = parse_config(
        f"sources:\n  - {{id: catalog, type: file, path: {catalog}}}\n",
        str(tmp_path / "trueup.yaml"),
        {},
        tmp_path,
    )
    with Store.open(db_url) as store:
        store.upgrade()
        sync(config, store, trigger="test", from_scratch=from_scratch)
        listed = store.findings()
        repeated = [f for f in listed if f.evidence.get("rule") == "repeated-in-file"]
        assert len(repeated) == 1, repeated
        pay = store.entity(EntityRef.of("component", None, "pay"))
        assert pay is not None
        assert [f.message for f in pay.assembled.findings if f.code == "conflict"] == [
            repeated[0].message
        ]
        # The broken declaration of an entity that does not exist stays a loose finding.
        broken = [f for f in listed if f.subject.endswith("b.yaml")]
        assert len(broken) == 1, broken
        assert store.findings(loose=True) == broken
        _, _, by_severity = store.tally()
        assert sum(by_severity.values()) == len(listed)
