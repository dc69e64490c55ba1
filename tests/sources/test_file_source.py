"""The file source over a real folder of descriptor files in a temp folder."""

from __future__ import annotations

import hashlib
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from trueup.model.finding import Finding, Severity
from trueup.model.observation import FailureKind, Nature, ScopeFailure, Snapshot
from trueup.sources.base import ReadContext
from trueup.sources.file import FileSource
from trueup.sources.file.config import FileSourceConfig
from trueup.sources.lstat_memo import RACY_NS

from .opens import opened_during

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
LATER = NOW + timedelta(minutes=10)


def component(name: str, description: str = "A component") -> str:
    return (
        "apiVersion: backstage.io/v1alpha1\nkind: Component\n"
        f"metadata:\n  name: {name}\n  description: {description}\n"
        "spec:\n  type: service\n  lifecycle: production\n  owner: team-a\n"
    )


def location(name: str, *targets: str, type_: str | None = None) -> str:
    listed = ", ".join(targets)
    kind_line = f"  type: {type_}\n" if type_ else ""
    return (
        "apiVersion: backstage.io/v1alpha1\nkind: Location\n"
        f"metadata:\n  name: {name}\nspec:\n{kind_line}  targets: [{listed}]\n"
    )


def write(root: Path, path: str, *documents: str) -> None:
    target = root / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("---\n".join(documents))


def observe(
    root: Path,
    *,
    include: list[str] | None = None,
    previous: Snapshot | None = None,
    now: datetime = NOW,
) -> Snapshot | ScopeFailure:
    config = FileSourceConfig(
        id="catalog",
        type="file",
        path=str(root),
        **({"include": include} if include is not None else {}),
    )
    source = FileSource(config)
    context = ReadContext(
        now=lambda: now, previous={"catalog": previous} if previous is not None else {}
    )
    (result,) = source.observe(context)
    return result


def snapshot(
    root: Path,
    *,
    include: list[str] | None = None,
    previous: Snapshot | None = None,
    now: datetime = NOW,
) -> Snapshot:
    result = observe(root, include=include, previous=previous, now=now)
    assert isinstance(result, Snapshot), result
    return result


def names(snap: Snapshot) -> list[str]:
    return sorted(o.ref.name for o in snap.observations)


def location_problems(snap: Snapshot) -> list[Finding]:
    return [f for f in snap.findings if f.evidence.get("rule") == "location-target"]


# --- reading ---------------------------------------------------------------------


def test_reads_every_matching_file_including_the_root(tmp_path: Path) -> None:
    write(tmp_path, "catalog-info.yaml", component("root-service"))
    write(tmp_path, "teams/payments/catalog-info.yaml", component("payments"), component("ledger"))
    write(tmp_path, "teams/payments/README.md", "not yaml: [")

    snap = snapshot(tmp_path)

    assert snap.source == "catalog" and snap.scope == "catalog"
    assert snap.nature is Nature.INTENT and snap.read_at == NOW
    assert snap.findings == ()
    assert names(snap) == ["ledger", "payments", "root-service"]
    assert len(snap.version) == 12
    locators = [o.provenance.locator for o in snap.observations]

    def digest(path: str) -> str:  # each locator names its file's content hash
        return hashlib.sha256((tmp_path / path).read_bytes()).hexdigest()[:12]

    assert locators == [
        f"catalog@{digest('catalog-info.yaml')}:catalog-info.yaml#0",
        f"catalog@{digest('teams/payments/catalog-info.yaml')}:teams/payments/catalog-info.yaml#0",
        f"catalog@{digest('teams/payments/catalog-info.yaml')}:teams/payments/catalog-info.yaml#1",
    ]
    assert {o.provenance.observed_at for o in snap.observations} == {NOW}
    payments = snap.observations[1]
    assert payments.fields["metadata.annotations.backstage.io/source-location"] == (
        f"file:{tmp_path / 'teams' / 'payments'}/"
    )


def test_include_globs_choose_the_files(tmp_path: Path) -> None:
    write(tmp_path, "catalog/a.yaml", component("a"))
    write(tmp_path, "catalog/deep/b.yaml", component("b"))
    write(tmp_path, "other/c.yaml", component("c"))

    assert names(snapshot(tmp_path, include=["catalog/*.yaml"])) == ["a"]
    assert names(snapshot(tmp_path, include=["catalog/**/*.yaml"])) == ["a", "b"]
    assert names(snapshot(tmp_path, include=["**/*.yaml"])) == ["a", "b", "c"]


def test_the_version_changes_with_content_and_only_with_content(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", component("a"))
    first = snapshot(tmp_path).version
    assert snapshot(tmp_path, now=LATER).version == first
    write(tmp_path, "a.yaml", component("a", "Changed"))
    assert snapshot(tmp_path).version != first


def test_an_invalid_entity_is_a_finding_and_its_neighbours_are_read(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", component("good"), component("Not Valid!"))

    snap = snapshot(tmp_path)

    assert names(snap) == ["good"]
    (problem,) = snap.findings
    assert problem.code == "invalid-entity"
    assert problem.subject == "catalog:a.yaml"
    assert problem.evidence["document"] == 1


# --- failure isolation ---------------------------------------------------------------


def test_a_broken_file_keeps_its_previous_observations_while_others_update(
    tmp_path: Path,
) -> None:
    write(tmp_path, "a.yaml", component("a1"), component("a2"))
    write(tmp_path, "b.yaml", component("b", "First"))
    first = snapshot(tmp_path)

    write(tmp_path, "a.yaml", component("a1"), "kind: [broken\n")
    write(tmp_path, "b.yaml", component("b", "Second"))
    second = snapshot(tmp_path, previous=first, now=LATER)

    assert names(second) == ["a1", "a2", "b"]
    kept = [o for o in second.observations if o.ref.name.startswith("a")]
    assert kept == [o for o in first.observations if o.ref.name.startswith("a")]
    assert all(o.provenance.observed_at == NOW for o in kept)  # as old as they are
    (b,) = [o for o in second.observations if o.ref.name == "b"]
    assert b.fields["metadata.description"] == "Second"
    assert b.provenance.observed_at == LATER
    assert (
        b.provenance.locator
        != next(o for o in first.observations if o.ref.name == "b").provenance.locator
    )  # the new content hash
    (problem,) = second.findings
    assert problem.code == "invalid-file"
    assert problem.subject == "catalog:a.yaml"
    assert problem.evidence["document"] == 1
    assert problem.evidence["rule"] == "yaml-syntax"


def test_a_broken_file_read_for_the_first_time_offers_what_parsed(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", component("a1"), "kind: [broken\n")
    snap = snapshot(tmp_path)
    assert names(snap) == ["a1"]
    assert [f.code for f in snap.findings] == ["invalid-file"]


def test_a_deleted_file_loses_its_observations(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", component("a"))
    write(tmp_path, "b.yaml", component("b"))
    first = snapshot(tmp_path)
    (tmp_path / "a.yaml").unlink()
    assert names(snapshot(tmp_path, previous=first)) == ["b"]


def test_a_missing_folder_is_a_scope_failure(tmp_path: Path) -> None:
    result = observe(tmp_path / "nowhere")
    assert isinstance(result, ScopeFailure)
    assert result.kind is FailureKind.UNREACHABLE
    assert result.source == "catalog" and result.scope == "catalog"
    assert "nowhere" in result.message and result.at == NOW


def test_a_file_instead_of_a_folder_is_a_scope_failure(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", component("a"))
    result = observe(tmp_path / "a.yaml")
    assert isinstance(result, ScopeFailure) and result.kind is FailureKind.UNREACHABLE


def test_an_empty_folder_is_an_empty_snapshot(tmp_path: Path) -> None:
    snap = snapshot(tmp_path)
    assert snap.observations == () and snap.findings == ()


# --- Location targets --------------------------------------------------------------------


def test_location_targets_are_followed_relative_to_the_file(tmp_path: Path) -> None:
    write(tmp_path, "catalog-info.yaml", location("root", "./teams/index.yaml"))
    write(tmp_path, "teams/index.yaml", location("teams", "payments/entities.txt"))
    write(tmp_path, "teams/payments/entities.txt", component("payments"))
    write(tmp_path, "teams/unlisted.yaml", component("unlisted"))

    snap = snapshot(tmp_path, include=["catalog-info.yaml"])

    assert names(snap) == ["payments", "root", "teams"]
    assert snap.findings == ()
    assert any(
        o.provenance.locator.endswith(":teams/payments/entities.txt#0") for o in snap.observations
    )


def test_a_target_also_matched_by_the_globs_is_read_once(tmp_path: Path) -> None:
    write(tmp_path, "catalog-info.yaml", location("root", "./teams/a.yaml"))
    write(tmp_path, "teams/a.yaml", component("a"))
    snap = snapshot(tmp_path)
    assert names(snap) == ["a", "root"] and snap.findings == ()


def test_a_missing_target_is_a_finding(tmp_path: Path) -> None:
    write(tmp_path, "catalog-info.yaml", location("root", "./gone.yaml"))
    (problem,) = location_problems(snapshot(tmp_path))
    assert problem.code == "invalid-file"
    assert problem.subject == "catalog:catalog-info.yaml"
    assert problem.evidence["target"] == "./gone.yaml"
    assert problem.evidence["document"] == 0
    assert "does not exist" in problem.message


def test_a_target_outside_the_folder_is_a_finding_and_not_read(tmp_path: Path) -> None:
    root = tmp_path / "catalog"
    write(tmp_path, "secret.yaml", component("outside"))
    write(
        root, "catalog-info.yaml", location("root", "../secret.yaml", str(tmp_path / "secret.yaml"))
    )

    snap = snapshot(root)

    assert names(snap) == ["root"]
    problems = location_problems(snap)
    assert len(problems) == 2
    assert all("outside the folder" in p.message for p in problems)


def test_a_symlink_out_of_the_folder_is_outside(tmp_path: Path) -> None:
    root = tmp_path / "catalog"
    write(tmp_path, "secret.txt", component("outside"))
    write(root, "catalog-info.yaml", location("root", "./link.txt"))
    (root / "link.txt").symlink_to(tmp_path / "secret.txt")
    snap = snapshot(root)
    assert names(snap) == ["root"]
    assert "outside the folder" in location_problems(snap)[0].message


def test_a_link_to_a_folder_is_not_followed_and_says_so(tmp_path: Path) -> None:
    """Files under a folder link are not read (out of the folder, or read twice inside it):
    a finding names each link, never silently."""
    root = tmp_path / "catalog"
    write(tmp_path, "elsewhere/team.yaml", component("outside"))
    write(root, "inside/svc.yaml", component("svc"))
    (root / "teams").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    (root / "again").symlink_to(root / "inside", target_is_directory=True)
    snap = snapshot(root)
    assert names(snap) == ["svc"]
    links = [f for f in snap.findings if f.evidence.get("rule") == "folder-link"]
    assert [(f.subject, f.evidence["path"]) for f in links] == [
        ("catalog:again", "again"),
        ("catalog:teams", "teams"),
    ]
    outside, inside = links[1], links[0]
    assert "leads outside the folder" in outside.message
    assert "is not followed" in inside.message and str(tmp_path) not in outside.message


def test_a_location_loop_is_a_finding_and_each_file_is_read_once(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", location("a", "./b.yaml"), component("from-a"))
    write(tmp_path, "b.yaml", location("b", "./a.yaml"))
    write(tmp_path, "self.yaml", location("self", "./self.yaml"))

    snap = snapshot(tmp_path)

    assert names(snap) == ["a", "b", "from-a", "self"]
    problems = location_problems(snap)
    assert [(p.subject, "loop" in p.message) for p in problems] == [
        ("catalog:b.yaml", True),
        ("catalog:self.yaml", True),
    ]


def test_a_url_location_is_not_followed_and_says_so(tmp_path: Path) -> None:
    write(
        tmp_path,
        "a.yaml",
        location("a", "https://github.com/acme/x/catalog-info.yaml", type_="url"),
    )
    (problem,) = location_problems(snapshot(tmp_path))
    assert problem.severity is Severity.INFO


def test_a_broken_location_file_still_leads_to_its_previous_targets(tmp_path: Path) -> None:
    write(tmp_path, "catalog-info.yaml", location("root", "./teams/entities.txt"))
    write(tmp_path, "teams/entities.txt", component("payments"))
    first = snapshot(tmp_path, include=["catalog-info.yaml"])
    assert names(first) == ["payments", "root"]

    write(tmp_path, "catalog-info.yaml", "kind: [broken\n")
    second = snapshot(tmp_path, include=["catalog-info.yaml"], previous=first)

    assert names(second) == ["payments", "root"]
    assert [f.code for f in second.findings] == ["invalid-file"]


def test_an_invalid_location_document_still_leads_to_its_previous_targets(
    tmp_path: Path,
) -> None:
    # The file parses, but its Location no longer validates: the Location keeps its last
    # good observation, and so do the entities of the (unchanged) files it targeted.
    write(tmp_path, "catalog-info.yaml", component("top"), location("root", "./teams/a.yaml"))
    write(tmp_path, "teams/a.yaml", component("payments"))
    first = snapshot(tmp_path, include=["catalog-info.yaml"])
    assert names(first) == ["payments", "root", "top"]

    broken = location("root", "./teams/a.yaml").replace("name: root", "name: 'root!'")
    write(tmp_path, "catalog-info.yaml", component("top"), broken)
    second = snapshot(tmp_path, include=["catalog-info.yaml"], previous=first)

    assert names(second) == ["payments", "root", "top"]
    assert [f.code for f in second.findings] == ["invalid-entity"]
    third = snapshot(tmp_path, include=["catalog-info.yaml"], previous=second, now=LATER)
    assert names(third) == ["payments", "root", "top"]


def test_an_unchanged_file_is_not_parsed_again_and_keeps_its_observations(tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    from trueup.model.observation import Snapshot
    from trueup.sources.base import ReadContext
    from trueup.sources.file import FileSource
    from trueup.sources.file.config import FileSourceConfig

    folder = tmp_path / "catalog"
    folder.mkdir()
    doc = (
        "apiVersion: backstage.io/v1alpha1\nkind: Group\n"
        "metadata: {{name: {name}}}\nspec: {{type: team, children: []}}\n"
    )
    (folder / "a.yaml").write_text(doc.format(name="team-a"))
    (folder / "b.yaml").write_text(
        doc.format(name="team-b") + "---\nkind: Group\nmetadata: {name: Bad_Name!}\n"
    )
    source = FileSource(FileSourceConfig(id="catalog", type="file", path=str(folder)))
    t0 = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
    data = tmp_path / "data"  # where the source remembers what each file's parse depended on
    first = next(source.observe(ReadContext(now=lambda: t0, data_dir=data)))
    assert isinstance(first, Snapshot)
    (folder / "a.yaml").write_text(doc.format(name="team-a2"))
    later = t0 + timedelta(hours=1)
    second = next(
        source.observe(ReadContext(now=lambda: later, previous={"catalog": first}, data_dir=data))
    )
    assert isinstance(second, Snapshot)
    by_name = {o.ref.name: o for o in second.observations}
    # b.yaml did not change: the very same observation, first seen at t0, and its finding again
    assert by_name["team-b"] == next(o for o in first.observations if o.ref.name == "team-b")
    assert by_name["team-b"].provenance.observed_at == t0
    assert (
        [f.code for f in second.findings] == [f.code for f in first.findings] == ["invalid-entity"]
    )
    # a.yaml changed: parsed again, seen now, with the new content hash in its locator
    assert by_name["team-a2"].provenance.observed_at == later
    assert (
        by_name["team-a2"].provenance.locator
        != next(o for o in first.observations if o.ref.name == "team-a").provenance.locator
    )


def test_a_document_that_no_longer_names_its_entity_keeps_the_last_good_one(
    tmp_path: Path,
) -> None:
    from datetime import UTC, datetime, timedelta

    from trueup.model.observation import Snapshot
    from trueup.sources.base import ReadContext
    from trueup.sources.file import FileSource
    from trueup.sources.file.config import FileSourceConfig

    folder = tmp_path / "catalog"
    folder.mkdir()
    good = "apiVersion: backstage.io/v1alpha1\nkind: Group\nmetadata: {name: team-a}\n"
    good += "spec: {type: team, children: []}\n"
    (folder / "a.yaml").write_text(good)
    source = FileSource(FileSourceConfig(id="catalog", type="file", path=str(folder)))
    t0 = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
    first = next(source.observe(ReadContext(now=lambda: t0)))
    assert isinstance(first, Snapshot)
    later = t0 + timedelta(hours=1)
    for broken in (good.replace("metadata:", "metdata:"), good.replace("team-a", "team_a!")):
        (folder / "a.yaml").write_text(broken)
        second = next(source.observe(ReadContext(now=lambda: later, previous={"catalog": first})))
        assert isinstance(second, Snapshot)
        assert second.observations == first.observations  # the last good one, as it was
        assert [f.code for f in second.findings] == ["invalid-entity"]


def test_an_entity_a_yaml_1_1_directive_makes_read_otherwise_keeps_the_last_good_one(
    tmp_path: Path,
) -> None:
    """Backstage reads ``owner: no`` under ``%YAML 1.1`` as false: the entity is refused
    as one that breaks a rule (``invalid-entity``, rule ``yaml-1.1``) and keeps its last
    good observation, as Backstage keeps its last good entity."""
    from datetime import UTC, datetime, timedelta

    from trueup.model.observation import Snapshot
    from trueup.sources.base import ReadContext
    from trueup.sources.file import FileSource
    from trueup.sources.file.config import FileSourceConfig

    folder = tmp_path / "catalog"
    folder.mkdir()
    good = "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata: {name: web}\n"
    good += "spec: {type: service, lifecycle: production, owner: 'no'}\n"
    (folder / "a.yaml").write_text("%YAML 1.1\n---\n" + good)  # quoted: alike in both
    source = FileSource(FileSourceConfig(id="catalog", type="file", path=str(folder)))
    t0 = datetime(2026, 11, 28, 8, 0, tzinfo=UTC)
    first = next(source.observe(ReadContext(now=lambda: t0)))
    assert isinstance(first, Snapshot)
    assert [o.fields["spec.owner"] for o in first.observations] == ["no"]
    assert first.findings == ()
    (folder / "a.yaml").write_text("%YAML 1.1\n---\n" + good.replace("'no'", "no"))
    later = t0 + timedelta(hours=1)
    second = next(source.observe(ReadContext(now=lambda: later, previous={"catalog": first})))
    assert isinstance(second, Snapshot)
    assert second.observations == first.observations  # the last good one, as it was
    (refused,) = second.findings
    assert (refused.code, refused.evidence["rule"]) == ("invalid-entity", "yaml-1.1")
    assert (refused.evidence["field"], refused.evidence["line"]) == ("spec.owner", 6)


def test_a_file_with_the_lstat_of_its_last_read_is_neither_opened_nor_parsed(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "catalog"
    write(folder, "a.yaml", component("alpha"))
    write(folder, "b.yaml", component("beta"), "kind: Group\nmetadata: {name: Bad_Name!}\n")
    (tmp_path / "outside.yaml").write_text(component("secret-outside"))
    source = FileSource(FileSourceConfig(id="catalog", type="file", path=str(folder)))
    data = tmp_path / "data"

    def read(previous: Snapshot | None, now: datetime) -> Snapshot:
        context = ReadContext(
            now=lambda: now,
            previous={"catalog": previous} if previous is not None else {},
            data_dir=data,
        )
        (result,) = source.observe(context)
        assert isinstance(result, Snapshot), result
        return result

    # Files written within the racy window of a read are read again next time: wait it out.
    time.sleep(RACY_NS / 1e9 + 0.2)
    first, opened = opened_during(lambda: read(None, NOW), suffix=".yaml")
    assert opened == ["a.yaml", "b.yaml"]
    state = (data / "files.json").stat()
    second, opened = opened_during(lambda: read(first, LATER), suffix=".yaml")
    assert opened == []  # neither opened nor hashed: the lstat is the one remembered
    assert (data / "files.json").stat().st_ino == state.st_ino  # nothing new to remember
    assert second.observations == first.observations
    assert [f.code for f in second.findings] == [f.code for f in first.findings]
    assert second.version == first.version

    write(folder, "b.yaml", component("beta", "changed"))
    at = LATER + timedelta(minutes=1)
    third, opened = opened_during(lambda: read(second, at), suffix=".yaml")
    assert opened == ["b.yaml"]  # a new lstat: read, hashed and parsed again
    assert (data / "files.json").stat().st_ino != state.st_ino  # its new digest remembered
    assert names(third) == ["alpha", "beta"]
    assert third.findings == ()

    (folder / "a.yaml").unlink()
    (folder / "a.yaml").symlink_to(tmp_path / "outside.yaml")
    at = LATER + timedelta(minutes=2)
    fourth, opened = opened_during(lambda: read(third, at), suffix=".yaml")
    assert "outside.yaml" not in opened
    assert [f.evidence.get("rule") for f in fourth.findings] == ["outside-root"]
    assert "secret-outside" not in names(fourth)
