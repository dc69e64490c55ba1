"""Descriptor files: one file's bytes → intent observations and findings; include globs."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from trueup.model.emission import EmissionPolicy
from trueup.model.finding import Severity
from trueup.model.observation import Nature, Observation, Provenance, Snapshot
from trueup.model.ref import EntityRef
from trueup.parse.catalog_yaml import MAX_FILE_BYTES
from trueup.sources.descriptors import (
    DescriptorFile,
    IncludeGlobs,
    LocationTarget,
    file_subject,
    location_targets,
    locator_path,
    previous_by_path,
    read_descriptor_file,
)

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
PATH = "teams/payments/catalog-info.yaml"

PAYMENTS = """\
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: payments
  description: Takes the money
spec:
  type: service
  lifecycle: production
  owner: team-payments
"""

LEDGER = """\
apiVersion: backstage.io/v1alpha1
kind: Resource
metadata:
  name: ledger-db
  namespace: finance
spec:
  type: database
  owner: team-payments
"""

INVALID_NAME = """\
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: "not a valid name!"
spec:
  type: service
  lifecycle: production
  owner: team-payments
"""


def read(data: bytes, **options: Any) -> DescriptorFile:
    """``data`` read as ``PATH`` of source ``catalog`` at commit ``1``; ``options`` over that."""
    where: dict[str, Any] = {
        "source": "catalog",
        "scope": "catalog",
        "path": PATH,
        "locator_prefix": "catalog@1",
        "observed_at": NOW,
        "source_location": None,
    }
    return read_descriptor_file(data, **(where | options))


def test_every_document_of_a_multi_document_file_is_an_observation() -> None:
    result = read(
        f"{PAYMENTS}---\n{LEDGER}".encode(),
        locator_prefix="catalog@1a2b3c",
        source_location="file:/srv/catalog/teams/payments/",
    )

    assert result.ok and result.findings == ()
    payments, ledger = result.observations
    assert payments.ref == EntityRef("component", "default", "payments")
    assert ledger.ref == EntityRef("resource", "finance", "ledger-db")
    assert payments.nature is Nature.INTENT
    assert payments.provenance == Provenance(
        source="catalog",
        scope="catalog",
        locator="catalog@1a2b3c:teams/payments/catalog-info.yaml#0",
        observed_at=NOW,
    )
    assert ledger.provenance.locator.endswith("catalog-info.yaml#1")
    assert payments.fields == {
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Component",
        "metadata.name": "payments",
        "metadata.description": "Takes the money",
        "metadata.annotations.backstage.io/source-location": "file:/srv/catalog/teams/payments/",
        "spec.type": "service",
        "spec.lifecycle": "production",
        "spec.owner": "team-payments",
    }


def test_a_source_location_written_in_the_file_is_kept() -> None:
    text = PAYMENTS.replace(
        "  description:",
        "  annotations:\n    backstage.io/source-location: url:https://github.com/acme/p/\n"
        "  description:",
    )
    result = read(text.encode(), source_location="file:/elsewhere/")
    (obs,) = result.observations
    assert obs.fields["metadata.annotations.backstage.io/source-location"] == (
        "url:https://github.com/acme/p/"
    )


def test_without_a_source_location_none_is_added() -> None:
    result = read(PAYMENTS.encode())
    assert not any("source-location" in key for key in result.observations[0].fields)


def test_an_invalid_entity_is_a_finding_and_never_an_observation() -> None:
    result = read(f"{PAYMENTS}---\n{INVALID_NAME}---\n{LEDGER}".encode())

    assert result.ok  # the file parsed; one entity in it is invalid
    assert [o.ref.name for o in result.observations] == ["payments", "ledger-db"]
    (problem,) = result.findings
    assert problem.code == "invalid-entity"
    assert problem.severity is Severity.ERROR
    assert problem.subject == "catalog:teams/payments/catalog-info.yaml"
    assert problem.evidence["path"] == PATH
    assert problem.evidence["document"] == 1
    assert problem.evidence["field"] == "metadata.name"
    assert problem.evidence["rule"]
    assert problem.evidence["violations"][0]["field"] == "metadata.name"
    assert PATH in problem.message and "document 1" in problem.message
    assert "metadata.name" in problem.message


def test_a_syntax_error_is_an_invalid_file_finding_naming_document_rule_and_line() -> None:
    broken = f"{PAYMENTS}---\napiVersion: backstage.io/v1alpha1\nkind: [Component\n"
    result = read(broken.encode())

    assert not result.ok
    (problem,) = result.findings
    assert problem.code == "invalid-file"
    assert problem.subject == "catalog:teams/payments/catalog-info.yaml"
    assert problem.evidence["path"] == PATH
    assert problem.evidence["document"] == 1
    assert problem.evidence["rule"] == "yaml-syntax"
    assert isinstance(problem.evidence["line"], int)
    # what parsed before the error is still offered; the caller decides
    assert [o.ref.name for o in result.observations] == ["payments"]


def test_a_file_too_large_fails_as_a_whole() -> None:
    assert MAX_FILE_BYTES == 64 * 1024 * 1024  # the default; the cap is configuration
    result = read(b"#" * 1025, policy=EmissionPolicy(max_file_bytes=1024))
    assert not result.ok and result.observations == ()
    (problem,) = result.findings
    assert problem.code == "invalid-file"
    assert problem.evidence["document"] is None
    assert "the file" in problem.message


def test_an_entity_repeated_in_one_file_is_its_last_copy_by_document_index() -> None:
    # Eleven documents: the entity in #9 and #10 (text order would put "#10" before "#9").
    others = [LEDGER.replace("ledger-db", f"db-{i}") for i in range(9)]
    last = PAYMENTS.replace("Takes the money", "The last copy")
    text = "---\n".join([*others, PAYMENTS, last])
    result = read(text.encode())
    payments = [o for o in result.observations if o.ref.name == "payments"]
    assert [o.provenance.locator for o in payments] == [f"catalog@1:{PATH}#10"]
    assert payments[0].fields["metadata.description"] == "The last copy"
    (note,) = result.findings
    assert (note.code, note.severity) == ("conflict", Severity.INFO)
    assert note.evidence["documents"] == [9, 10]
    assert "precedence" not in note.message and "documents 9 and 10" in note.message


def test_empty_documents_are_not_entities() -> None:
    result = read(f"---\n{PAYMENTS}---\n".encode())
    assert result.ok and [o.ref.name for o in result.observations] == ["payments"]


def test_a_location_is_an_observation_with_its_targets() -> None:
    location = (
        "apiVersion: backstage.io/v1alpha1\nkind: Location\nmetadata:\n  name: teams\n"
        "spec:\n  target: ./a.yaml\n  targets: [./b.yaml, ./c.yaml]\n"
    )
    result = read(location.encode(), path="catalog-info.yaml")
    (obs,) = result.observations
    assert obs.ref == EntityRef("location", "default", "teams")
    assert location_targets(0, obs.fields) == [
        LocationTarget(0, None, "./a.yaml"),
        LocationTarget(0, None, "./b.yaml"),
        LocationTarget(0, None, "./c.yaml"),
    ]


def test_location_targets_of_other_kinds_are_none() -> None:
    assert location_targets(0, {"kind": "Component", "spec.target": "./x.yaml"}) == []


def test_subjects_and_locators() -> None:
    assert file_subject("catalog", "catalog", "a/b.yaml") == "catalog:a/b.yaml"
    assert file_subject("gh", "acme/api", "catalog-info.yaml") == "gh/acme/api:catalog-info.yaml"
    assert locator_path("catalog@1a2b:teams/x#y.yaml#3") == ("teams/x#y.yaml", 3)
    assert locator_path("hub/ns/Deployment/x@12") is None


def test_previous_observations_are_grouped_by_file() -> None:
    def obs(locator: str) -> Observation:
        return Observation(
            ref=EntityRef("component", "default", "x"),
            nature=Nature.INTENT,
            provenance=Provenance("catalog", "catalog", locator, NOW),
        )

    snapshot = Snapshot(
        source="catalog",
        scope="catalog",
        nature=Nature.INTENT,
        read_at=NOW,
        observations=(
            obs("catalog@1:a.yaml#0"),
            obs("catalog@1:b.yaml#0"),
            obs("catalog@1:a.yaml#1"),
        ),
    )
    grouped = previous_by_path(snapshot)
    assert sorted(grouped) == ["a.yaml", "b.yaml"]
    assert [o.provenance.locator for o in grouped["a.yaml"]] == [
        "catalog@1:a.yaml#0",
        "catalog@1:a.yaml#1",
    ]
    assert previous_by_path(None) == {}


@pytest.mark.parametrize(
    ("pattern", "path", "expected"),
    [
        ("**/*.yaml", "catalog-info.yaml", True),
        ("**/*.yaml", "teams/payments/catalog-info.yaml", True),
        ("**/*.yaml", "teams/payments/notes.md", False),
        ("**/catalog-info.yaml", "catalog-info.yaml", True),
        ("**/catalog-info.yaml", "a/b/c/catalog-info.yaml", True),
        ("**/catalog-info.yaml", "a/my-catalog-info.yaml", False),
        ("catalog/*.yaml", "catalog/a.yaml", True),
        ("catalog/*.yaml", "catalog/deep/a.yaml", False),
        ("catalog/**/*.yaml", "catalog/a.yaml", True),
        ("catalog/**/*.yaml", "catalog/x/y/a.yaml", True),
        ("catalog/**/*.yaml", "other/catalog/a.yaml", False),
        ("catalog/**", "catalog/x/y/a.txt", True),
        ("*.yaml", "a.yaml", True),
        ("*.yaml", "teams/a.yaml", False),
        ("./teams/?.yaml", "teams/a.yaml", True),
        ("/teams/[ab].yaml", "teams/b.yaml", True),
        ("teams/[!ab].yaml", "teams/b.yaml", False),
        ("teams/[!ab].yaml", "teams/c.yaml", True),
        ("a+b (1).yaml", "a+b (1).yaml", True),
    ],
)
def test_include_globs(pattern: str, path: str, expected: bool) -> None:
    assert IncludeGlobs([pattern]).matches(path) is expected


def test_include_globs_are_a_union_and_none_match_nothing() -> None:
    globs = IncludeGlobs(["**/catalog-info.yaml", "catalog/**/*.yaml"])
    assert globs.matches("x/catalog-info.yaml") and globs.matches("catalog/a.yaml")
    assert not globs.matches("x/a.yaml")
    assert not IncludeGlobs([]).matches("a.yaml")
