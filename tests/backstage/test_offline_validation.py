"""trueup's export passes the Backstage catalog's own validation (issue 7 item 5a, SPEC 6.1).

Every entity the test worlds export is processed offline by the pinned catalog's
code (``backstage-harness/validate.mjs``): YAML reading, envelope, catalog.rules,
entity policy, kind schemas, placeholders and relations. The last tests prove the
validator rejects what Backstage rejects, so a clean result means something.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.backstage.conftest import Export, export_catalog
from tests.backstage.documents import API_WITH_PLACEHOLDER, COMPONENT, TEMPLATE
from tests.backstage.harness import FileVerdict, validate
from trueup.cli import main
from trueup.world import DemoWorld, write_scaled_world

SCALED_ENTITIES = 2_000  # 10,000 take about 35 s here (sync and validation): see the README


def assert_all_accepted(export: Export, root: Path) -> None:
    report = validate([export.path], root=root)
    assert report.problems() == []
    assert len(report.entities) == len(export.documents)
    assert {e.ref.lower() for e in report.accepted} == export.refs
    assert not any(e.shadowed for e in report.entities)


def test_demo_world_export_passes_the_catalogs_validation(
    demo: DemoWorld, demo_export: Export
) -> None:
    assert len(demo_export.documents) >= 30
    kinds = {d["kind"] for d in demo_export.documents}
    assert {"Component", "API", "Resource", "System", "Domain", "Group", "User"} <= kinds
    assert_all_accepted(demo_export, demo.root)


def test_demo_world_json_export_passes_the_same_validation(
    demo: DemoWorld, demo_export: Export
) -> None:
    as_json = export_catalog(demo.config, demo.root / "export.json", "--format", "json")
    assert as_json.refs == demo_export.refs
    assert_all_accepted(as_json, demo.root)


def test_scaled_world_export_passes_the_catalogs_validation(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    world = write_scaled_world(
        tmp_path_factory.mktemp("scaled"), entities=SCALED_ENTITIES, repos=10, seed=11
    )
    assert main(["sync", "-c", str(world.config)]) == 0
    export = export_catalog(world.config, world.root / "export.yaml")
    # The declared entities plus the workloads running that nobody declared.
    assert len(export.documents) == SCALED_ENTITIES + len(world.undeclared)
    assert_all_accepted(export, world.root)


# --- the validator can fail ---------------------------------------------------------


def write(folder: Path, name: str, *documents: str) -> Path:
    path = folder / name
    path.write_text("---\n".join(documents), encoding="utf-8")
    return path


GOOD = COMPONENT.format(name="good", extra="")
INVALID = {  # one invalid entity after a valid one: only that entity is rejected
    "name-64-chars": (COMPONENT.format(name="x" * 64, extra=""), '"metadata.name" is not valid'),
    "dependsOn-without-kind": (
        COMPONENT.format(name="a", extra="  dependsOn: [billing-db]\n"),
        '"billing-db" had missing or empty kind',
    ),
    "root-status": (
        COMPONENT.format(name="a", extra="status: {ready: true}\n"),
        "Unknown field status",
    ),
    "placeholder-missing-file": (
        API_WITH_PLACEHOLDER.format(target="./missing.yaml"),
        "could not read location ./missing.yaml",
    ),
}


@pytest.fixture(scope="module")
def cases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, FileVerdict]:
    """Every case below in its own file, validated in one run (node starts once)."""
    root = tmp_path_factory.mktemp("cases")
    (root / "openapi.yaml").write_text("openapi: 3.0.0\n", encoding="utf-8")
    files = {
        "disallowed-kind": write(
            root, "disallowed-kind.yaml", COMPONENT.format(name="a", extra=""), TEMPLATE
        ),
        "placeholder": write(
            root, "placeholder.yaml", API_WITH_PLACEHOLDER.format(target="./openapi.yaml")
        ),
        "not-an-object": write(
            root, "not-an-object.yaml", COMPONENT.format(name="a", extra=""), "- a list\n"
        ),
        "repeated": write(
            root,
            "repeated.yaml",
            GOOD,
            GOOD.replace("lifecycle: production", "lifecycle: experimental"),
        ),
    }
    files |= {
        case: write(root, f"{case}.yaml", GOOD, document) for case, (document, _) in INVALID.items()
    }
    report = validate(list(files.values()), root=root)
    by_file = {verdict.file: verdict for verdict in report.files}
    return {case: by_file[path] for case, path in files.items()}


def test_one_disallowed_kind_rejects_the_whole_file(cases: dict[str, FileVerdict]) -> None:
    verdict = cases["disallowed-kind"]
    assert len(verdict.location_errors) == 1
    assert verdict.location_errors[0].startswith(
        "NotAllowedError: Entity template:default/new-service"
    )
    assert "is not of an allowed kind" in verdict.location_errors[0]
    assert [e.ref for e in verdict.entities] == [
        "component:default/a",
        "template:default/new-service",
    ]
    assert verdict.entities[0].ok  # valid on its own, yet not ingested: the file is rejected
    assert verdict.accepted == ()


def test_an_allowed_kind_that_no_processor_knows_is_rejected(tmp_path: Path) -> None:
    path = write(tmp_path, "catalog-info.yaml", COMPONENT.format(name="a", extra=""), TEMPLATE)
    (verdict,) = validate([path], root=tmp_path, allow=["Component", "Template"]).files
    assert verdict.location_errors == ()
    template = verdict.entities[1]
    assert not template.ok
    assert "No processor recognized the entity template:default/new-service" in template.errors[0]
    assert [e.ref for e in verdict.accepted] == ["component:default/a"]


@pytest.mark.parametrize("case", sorted(INVALID))
def test_an_invalid_entity_is_rejected_alone(cases: dict[str, FileVerdict], case: str) -> None:
    verdict = cases[case]
    assert verdict.location_errors == ()
    assert [e.ok for e in verdict.entities] == [True, False]
    expected = INVALID[case][1]
    assert any(expected in error for error in verdict.entities[1].errors), verdict.entities[1]
    assert [e.ref for e in verdict.accepted] == ["component:default/good"]


def test_placeholders_are_resolved_like_the_catalog_does(cases: dict[str, FileVerdict]) -> None:
    verdict = cases["placeholder"]
    assert [(e.ref, e.ok) for e in verdict.entities] == [("api:default/orders-api", True)]


def test_a_document_that_is_not_an_object_rejects_the_whole_file(
    cases: dict[str, FileVerdict],
) -> None:
    verdict = cases["not-an-object"]
    assert verdict.location_errors == ("Error: Expected object at root, got object",)
    assert verdict.accepted == ()


def test_a_repeated_entity_keeps_its_last_copy(cases: dict[str, FileVerdict]) -> None:
    verdict = cases["repeated"]
    assert [(e.ref, e.ok, e.shadowed) for e in verdict.entities] == [
        ("component:default/good", True, True),
        ("component:default/good", True, False),
    ]
