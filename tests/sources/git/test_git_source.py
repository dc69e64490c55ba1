"""The git source over real repositories in temp folders: provenance, incremental reads,
renames, deletions, force-pushes and per-file failure isolation."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from trueup.model import observation
from trueup.model.finding import Finding
from trueup.model.observation import FailureKind, ScopeFailure, Snapshot
from trueup.sources.base import ReadContext

from .conftest import NOW, WorkRepo, component, git, location, make_source, read


def names(snapshot: object) -> set[str]:
    assert isinstance(snapshot, Snapshot), snapshot
    return {o.ref.name for o in snapshot.observations}


def by_name(snapshot: Snapshot, name: str) -> list[object]:
    return [o for o in snapshot.observations if o.ref.name == name]


def codes(findings: tuple[Finding, ...]) -> list[tuple[str, str]]:
    return sorted((f.code, f.message) for f in findings)


def test_cold_read_has_commit_provenance_and_source_location(tmp_path: Path) -> None:
    repo = WorkRepo(tmp_path / "catalog")
    repo.write("catalog-info.yaml", component("root"))
    repo.write("teams/payments/catalog-info.yaml", component("payments"), component("ledger"))
    repo.write("teams/payments/other.yaml", component("ignored"))
    head = repo.commit()
    source = make_source(str(repo.path))
    result = read(source, tmp_path / "data")
    assert isinstance(result, Snapshot)
    assert source.scope == "catalog@main"
    assert result.scope == "catalog@main"
    assert result.version == head
    assert names(result) == {"root", "payments", "ledger"}
    ledger = next(o for o in result.observations if o.ref.name == "ledger")
    assert ledger.provenance.locator == f"catalog@{head[:12]}:teams/payments/catalog-info.yaml#1"
    location_field = "metadata.annotations.backstage.io/source-location"
    assert ledger.fields[location_field] == f"file:{repo.path}/teams/payments/"
    assert source.files_parsed == 2


def test_unchanged_head_parses_nothing_and_gives_the_same_snapshot(tmp_path: Path) -> None:
    repo = WorkRepo(tmp_path / "catalog")
    for i in range(5):
        repo.write(f"s{i}/catalog-info.yaml", component(f"svc-{i}"))
    repo.commit()
    source = make_source(str(repo.path))
    first = read(source, tmp_path / "data")
    later = NOW + timedelta(minutes=10)
    second = read(source, tmp_path / "data", previous=first, now=later)
    assert source.files_parsed == 0
    assert isinstance(first, Snapshot) and isinstance(second, Snapshot)
    assert second.read_at == later
    # The stored observations are kept as they are, with the time they were first seen:
    # nothing to write, nothing to assemble again.
    assert second.observations == first.observations
    assert {o.provenance.observed_at for o in second.observations} == {NOW}


def test_new_read_rules_parse_an_unchanged_head_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After an upgrade whose parser reads the same blobs differently (``READ_RULES``
    raised), the remembered parses are not used: every file is parsed again."""
    repo = WorkRepo(tmp_path / "catalog")
    for i in range(3):
        repo.write(f"s{i}/catalog-info.yaml", component(f"svc-{i}"))
    repo.commit()
    first = read(make_source(str(repo.path)), tmp_path / "data")
    monkeypatch.setattr(observation, "READ_RULES", observation.READ_RULES + 1)
    source = make_source(str(repo.path))
    second = read(source, tmp_path / "data", previous=first)
    assert source.files_parsed == 3
    assert names(second) == names(first) == {"svc-0", "svc-1", "svc-2"}


def test_new_head_reparses_only_changed_files_and_handles_add_delete_rename(
    tmp_path: Path,
) -> None:
    repo = WorkRepo(tmp_path / "catalog")
    for i in range(5):
        repo.write(f"s{i}/catalog-info.yaml", component(f"svc-{i}"))
    repo.commit()
    source = make_source(str(repo.path))
    data = tmp_path / "data"
    first = read(source, data)

    repo.write("s0/catalog-info.yaml", component("svc-0", description="Changed"))
    repo.write("new/catalog-info.yaml", component("fresh"))
    repo.remove("s1/catalog-info.yaml")
    repo.git("mv", "s2", "moved")
    head = repo.commit()
    second = read(source, data, previous=first)
    assert isinstance(second, Snapshot)
    assert source.files_parsed == 2  # the changed and the added file; the rename is a cache hit
    assert names(second) == {"svc-0", "svc-2", "svc-3", "svc-4", "fresh"}
    (moved,) = by_name(second, "svc-2")
    assert moved.provenance.locator == f"catalog@{head[:12]}:moved/catalog-info.yaml#0"  # type: ignore[attr-defined]
    (changed,) = by_name(second, "svc-0")
    assert changed.fields["metadata.description"] == "Changed"  # type: ignore[attr-defined]


def test_force_push_is_noticed_and_the_new_tree_wins(tmp_path: Path) -> None:
    repo = WorkRepo(tmp_path / "catalog")
    repo.write("a/catalog-info.yaml", component("kept"))
    base = repo.commit("base")
    repo.write("b/catalog-info.yaml", component("rewritten-away"))
    old = repo.commit("to be rewritten")
    source = make_source(str(repo.path))
    data = tmp_path / "data"
    first = read(source, data)
    assert names(first) == {"kept", "rewritten-away"}

    repo.git("reset", "-q", "--hard", base)
    repo.write("c/catalog-info.yaml", component("new-history"))
    new = repo.commit("rewritten")
    second = read(source, data, previous=first)
    assert names(second) == {"kept", "new-history"}
    assert second.version == new  # type: ignore[union-attr]
    (event,) = source.last_events
    assert "force-push" in event and old[:12] in event and new[:12] in event
    assert second.cause == event  # type: ignore[union-attr]  # it goes into the revision cause

    repo.write("d/catalog-info.yaml", component("after"))
    repo.commit("fast-forward")
    read(source, data, previous=second)
    assert source.last_events == []


def test_unparseable_file_keeps_its_last_good_observations_and_others_are_read(
    tmp_path: Path,
) -> None:
    repo = WorkRepo(tmp_path / "catalog")
    repo.write("a/catalog-info.yaml", component("alpha"))
    repo.write("b/catalog-info.yaml", component("beta"))
    repo.commit()
    source = make_source(str(repo.path))
    data = tmp_path / "data"
    first = read(source, data)
    assert isinstance(first, Snapshot)

    repo.write("a/catalog-info.yaml", "apiVersion: [unclosed\n")
    repo.write("b/catalog-info.yaml", component("beta", description="Updated"))
    repo.write("c/catalog-info.yaml", component("gamma"))
    head = repo.commit()
    second = read(source, data, previous=first)
    assert isinstance(second, Snapshot)
    assert names(second) == {"alpha", "beta", "gamma"}
    (alpha,) = by_name(second, "alpha")
    assert alpha == by_name(first, "alpha")[0]  # the last good observation, as it was
    (beta,) = by_name(second, "beta")
    assert beta.fields["metadata.description"] == "Updated"  # type: ignore[attr-defined]
    (problem,) = second.findings
    assert problem.code == "invalid-file"
    assert problem.subject == "catalog/catalog@main:a/catalog-info.yaml"
    assert problem.evidence["path"] == "a/catalog-info.yaml"
    assert problem.evidence["repo"] == "catalog"
    assert problem.evidence["commit"] == head
    assert problem.evidence["rule"]
    assert "document" in problem.evidence


def test_invalid_entity_keeps_that_entity_and_reads_the_rest_of_the_file(tmp_path: Path) -> None:
    repo = WorkRepo(tmp_path / "catalog")
    repo.write("catalog-info.yaml", component("alpha"), component("beta"))
    repo.commit()
    source = make_source(str(repo.path))
    data = tmp_path / "data"
    first = read(source, data)
    assert isinstance(first, Snapshot)
    broken = component("beta").replace("owner: team-a", "owner: ''")
    repo.write("catalog-info.yaml", component("alpha", description="New"), broken)
    repo.commit()
    second = read(source, data, previous=first)
    assert isinstance(second, Snapshot)
    assert names(second) == {"alpha", "beta"}
    assert by_name(second, "beta") == by_name(first, "beta")
    (problem,) = second.findings
    assert problem.code == "invalid-entity"
    assert problem.evidence["document"] == 1


def test_locations_are_followed_with_loops_missing_and_outside_targets_reported(
    tmp_path: Path,
) -> None:
    repo = WorkRepo(tmp_path / "catalog")
    repo.write(
        "catalog-info.yaml",
        location("root", "./teams/a.yaml", "./missing.yaml", "../outside.yaml"),
    )
    repo.write("teams/a.yaml", component("a"), location("to-b", "./nested/b.yaml"))
    repo.write("teams/nested/b.yaml", component("b"), location("back", "../a.yaml"))
    repo.write("teams/unlisted.yaml", component("never"))
    repo.commit()
    source = make_source(str(repo.path))
    result = read(source, tmp_path / "data")
    assert isinstance(result, Snapshot)
    assert names(result) == {"root", "a", "to-b", "b", "back"}
    reasons = sorted(f.evidence["reason"] for f in result.findings)
    assert reasons == [
        "does not exist",
        "forms a loop back to teams/a.yaml",
        "is outside the repository",
    ]
    assert all(f.evidence["rule"] == "location-target" for f in result.findings)

    # The Location's target list changes: the newly targeted file is looked up and read.
    repo.write("catalog-info.yaml", location("root", "./teams/a.yaml", "./teams/unlisted.yaml"))
    repo.commit()
    again = read(source, tmp_path / "data", previous=result)
    assert "never" in names(again)
    assert source.files_parsed == 2  # the changed Location file and the newly targeted one


def test_an_invalid_location_document_still_leads_to_its_previous_targets(
    tmp_path: Path,
) -> None:
    # The file parses, but its Location no longer validates: the Location keeps its last
    # good observation, and so do the entities of the (unchanged) file it targeted.
    repo = WorkRepo(tmp_path / "catalog")
    repo.write("catalog-info.yaml", component("top"), location("root", "./teams/a.yaml"))
    repo.write("teams/a.yaml", component("a"), component("b"))
    repo.commit()
    source = make_source(str(repo.path))
    data = tmp_path / "data"
    first = read(source, data)
    assert isinstance(first, Snapshot)
    assert names(first) == {"top", "root", "a", "b"}

    broken = location("root", "./teams/a.yaml").replace("name: root", "name: 'root!'")
    repo.write("catalog-info.yaml", component("top"), broken)
    repo.commit()
    second = read(source, data, previous=first)
    assert isinstance(second, Snapshot)
    assert names(second) == {"top", "root", "a", "b"}
    assert [f.code for f in second.findings] == ["invalid-entity"]
    again = read(source, data, previous=second)  # the same head, from the cache
    assert isinstance(again, Snapshot)
    assert names(again) == {"top", "root", "a", "b"}


def test_a_missing_branch_and_a_missing_repository_are_failures(tmp_path: Path) -> None:
    repo = WorkRepo(tmp_path / "catalog")
    repo.write("catalog-info.yaml", component("a"))
    repo.commit()
    result = read(make_source(str(repo.path), branch="nope"), tmp_path / "data")
    assert isinstance(result, ScopeFailure)
    assert result.kind == FailureKind.UNREACHABLE
    gone = read(make_source(str(tmp_path / "no-such-repo")), tmp_path / "data2")
    assert isinstance(gone, ScopeFailure)
    assert gone.kind == FailureKind.UNREACHABLE


def test_targeted_read_of_another_scope_reads_nothing(tmp_path: Path) -> None:
    repo = WorkRepo(tmp_path / "catalog")
    repo.write("catalog-info.yaml", component("a"))
    repo.commit()
    source = make_source(str(repo.path))
    context = ReadContext(
        now=lambda: NOW, data_dir=tmp_path / "data", scopes=frozenset({"other@main"})
    )
    assert list(source.observe(context)) == []
    assert source.serves(str(repo.path))
    assert source.serves("catalog@main")


def test_a_damaged_cache_costs_a_reparse_never_wrong_data(tmp_path: Path) -> None:
    repo = WorkRepo(tmp_path / "catalog")
    repo.write("catalog-info.yaml", component("a"))
    repo.commit()
    source = make_source(str(repo.path))
    data = tmp_path / "data"
    first = read(source, data)
    (state,) = (data / "state").glob("*.json")
    state.write_text("{not json")
    second = read(source, data, previous=first)
    assert names(second) == {"a"}
    assert source.files_parsed == 1
    assert json.loads(state.read_text())["commit"] == repo.head()


def test_a_read_killed_between_cache_and_head_switch_recovers(tmp_path: Path) -> None:
    repo = WorkRepo(tmp_path / "catalog")
    repo.write("a/catalog-info.yaml", component("a"))
    repo.commit()
    source = make_source(str(repo.path))
    data = tmp_path / "data"
    first = read(source, data)
    repo.write("b/catalog-info.yaml", component("b"))
    repo.commit()
    read(source, data, previous=first)
    # Simulate a crash after the cache was written but before the head switched.
    (clone,) = (data / "clones").glob("*.git")
    git(clone, "update-ref", "refs/trueup/current/main", first.version)  # type: ignore[union-attr]
    third = read(source, data, previous=first)
    assert names(third) == {"a", "b"}


def test_a_webhook_hint_is_not_trusted_as_state(tmp_path: Path) -> None:
    repo = WorkRepo(tmp_path / "catalog")
    repo.write("catalog-info.yaml", component("a"))
    head = repo.commit()
    source = make_source(str(repo.path))
    result = read(source, tmp_path / "data", hint={"after": "f" * 40})
    assert isinstance(result, Snapshot)
    assert result.version == head
    assert any("announced" in event for event in source.last_events)


def test_changed_include_globs_list_the_commit_again(tmp_path: Path) -> None:
    repo = WorkRepo(tmp_path / "catalog")
    repo.write("catalog-info.yaml", component("a"))
    repo.write("extra/more.yaml", component("b"))
    repo.commit()
    data = tmp_path / "data"
    first = read(make_source(str(repo.path)), data)
    assert names(first) == {"a"}
    wider = make_source(str(repo.path), include=["**/*.yaml"])
    assert names(read(wider, data, previous=first)) == {"a", "b"}
    assert wider.files_parsed == 1  # catalog-info.yaml's parse was remembered
