"""One entity in two files of one file source, through a whole sync (SPEC 4.1, 5.1).

Each file gets its own ``backstage.io/source-location`` from trueup; that difference
is trueup's own and no conflict. The duplicate itself is one ``conflict`` naming both
files; a field the files really disagree on is a conflict naming both files.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from trueup.config import parse_config
from trueup.model.ref import EntityRef
from trueup.pipeline import sync
from trueup.store import Store

PAY = EntityRef.of("component", None, "pay")


def component(owner: str) -> str:
    return (
        "apiVersion: backstage.io/v1alpha1\nkind: Component\n"
        "metadata: {name: pay, description: Payments}\n"
        f"spec: {{type: service, lifecycle: production, owner: {owner}}}\n"
    )


@pytest.mark.parametrize("from_scratch", [False, True])
def test_one_entity_in_two_files_is_one_conflict_naming_both_files(
    tmp_path: Path, db_url: str, from_scratch: bool
) -> None:
    catalog = tmp_path / "catalog"
    for folder in ("a", "b"):
        (catalog / folder).mkdir(parents=True)
        (catalog / folder / "catalog-info.yaml").write_text(component("team-a"))
    config = parse_config(
        f"sources:\n  - {{id: catalog, type: file, path: {catalog}}}\n",
        str(tmp_path / "trueup.yaml"),
        {},
        tmp_path,
    )
    with Store.open(db_url) as store:
        store.upgrade()
        sync(config, store, trigger="test", from_scratch=from_scratch)
        pay = store.entity(PAY)
        assert pay is not None
        annotations = pay.assembled.entity["metadata"]["annotations"]
        assert annotations["backstage.io/source-location"] == f"file:{catalog}/a/"
        (duplicate,) = [f for f in pay.assembled.findings if f.code == "conflict"]
        assert "a/catalog-info.yaml#0 wins by path and document order over" in duplicate.message
        assert duplicate.message.endswith("b/catalog-info.yaml#0")
        assert [d["winner"] for d in duplicate.evidence["declarations"]] == [True, False]

        (catalog / "b" / "catalog-info.yaml").write_text(component("team-b"))
        sync(config, store, trigger="test", from_scratch=from_scratch)
        pay = store.entity(PAY)
        assert pay is not None
        conflicts = [f for f in pay.assembled.findings if f.code == "conflict"]
        (owner,) = [f for f in conflicts if f.evidence.get("field") == "spec.owner"]
        assert len(conflicts) == 2  # the duplicate, and the field its files disagree on
        a, b = (c["locator"] for c in owner.evidence["candidates"])
        assert (a.endswith(":a/catalog-info.yaml#0"), b.endswith(":b/catalog-info.yaml#0")) == (
            True,
            True,
        )
        assert owner.message == f"spec.owner differs between {a} and {b}; showing 'team-a' from {a}"
