"""A git source follows a Location target that is a glob to every matching file of the commit.

Backstage's URL readers for git hosts follow a glob target in a repository (their
``search``), as its file reader follows one in a folder; trueup's file source does the
latter (tests/sources/test_file_location_globs.py). Here the same targets over the same
files, committed to a real repository in a temp folder, must lead to the same entities:
the expected matches are those of ``glob`` 14 (the table is shared with the file
source's tests). A target stays relative to the file that names it and inside the
repository; a hostile glob is a finding, not a failed read.
"""

from __future__ import annotations

import json
import os
from datetime import timedelta
from pathlib import Path

import pytest

from tests.sources.test_file_location_globs import (
    GLOB_MATCHES,
    PLUGINS,
    names,
    problems,
    reasons,
)
from trueup.config import Config, parse_config
from trueup.git.repository import GitRepository
from trueup.model.observation import Snapshot
from trueup.model.ref import EntityRef
from trueup.pipeline import SyncOutcome, sync
from trueup.store import Store

from .conftest import NOW, WorkRepo, component, location, make_source, read

ROOT_ONLY = ["catalog-info.yaml"]  # as a source that names only the root file


def plugins(repo: WorkRepo, *targets: str) -> None:
    repo.write("catalog-info.yaml", location("root", *targets))
    for path, name in PLUGINS.items():
        repo.write(path, component(name))


def read_repo(
    repo: WorkRepo, data: Path, *, previous: Snapshot | None = None, include: list[str] = ROOT_ONLY
) -> Snapshot:
    result = read(make_source(str(repo.path), include=include), data, previous=previous)
    assert isinstance(result, Snapshot), result
    return result


@pytest.mark.parametrize(("target", "expected"), GLOB_MATCHES, ids=[t for t, _ in GLOB_MATCHES])
def test_a_glob_target_follows_every_file_it_matches(
    tmp_path: Path, target: str, expected: set[str]
) -> None:
    repo = WorkRepo(tmp_path / "catalog")
    plugins(repo, target)
    repo.commit()
    snap = read_repo(repo, tmp_path / "data")
    assert names(snap) == expected
    assert snap.findings == ()


def test_the_roadie_catalog_reads_every_plugin_behind_its_root_file(tmp_path: Path) -> None:
    """RoadieHQ/roadie-backstage-plugins: a source that names only the root file."""
    repo = WorkRepo(tmp_path / "catalog")
    repo.write("catalog-info.yaml", location("roadie", "./plugins/**/catalog-info.yaml"))
    for plugin in ("argo-cd", "jira", "scaffolder-actions/http-request"):
        repo.write(f"plugins/{plugin}/catalog-info.yaml", component(plugin.rsplit("/")[-1]))
    repo.write("plugins/jira/node_modules/.bin/catalog-info.yaml", component("vendored"))
    head = repo.commit()

    snap = read_repo(repo, tmp_path / "data")

    assert names(snap) == {"argo-cd", "jira", "http-request"}  # ``**`` skips ``.bin``
    assert snap.findings == ()
    located = {o.ref.name: o.provenance.locator for o in snap.observations}
    assert located["http-request"] == (
        f"catalog@{head[:12]}:plugins/scaffolder-actions/http-request/catalog-info.yaml#0"
    )


def test_a_glob_is_relative_to_the_file_that_names_it(tmp_path: Path) -> None:
    repo = WorkRepo(tmp_path / "catalog")
    repo.write("catalog-info.yaml", location("root", "./teams/all.yaml"))
    repo.write("teams/all.yaml", location("teams", "./*/catalog-info.yaml", "../top-*.yaml"))
    repo.write("teams/a/catalog-info.yaml", component("team-a"))
    repo.write("teams/b/catalog-info.yaml", component("team-b"))
    repo.write("a/catalog-info.yaml", component("not-this-one"))
    repo.write("top-1.yaml", component("top-1"))
    repo.commit()

    snap = read_repo(repo, tmp_path / "data")

    assert names(snap) == {"team-a", "team-b", "top-1"}
    assert snap.findings == ()


@pytest.mark.parametrize(
    ("include", "extra"),
    [(ROOT_ONLY, set()), (["**/catalog-info.yaml"], {"hidden"})],  # include globs enter dots
)
def test_a_glob_that_matches_its_own_file_is_no_loop(
    tmp_path: Path, include: list[str], extra: set[str]
) -> None:
    repo = WorkRepo(tmp_path / "catalog")
    plugins(repo, "./**/catalog-info.yaml")
    repo.commit()
    snap = read_repo(repo, tmp_path / "data", include=include)
    assert names(snap) == {"top", "a", "deep"} | extra
    assert snap.findings == ()  # Backstage reads it with no error


def test_a_plain_target_back_to_its_file_is_still_a_loop(tmp_path: Path) -> None:
    repo = WorkRepo(tmp_path / "catalog")
    repo.write("catalog-info.yaml", location("root", "./teams/*.yaml"))
    repo.write("teams/a.yaml", location("a", "../catalog-info.yaml"))
    repo.commit()
    snap = read_repo(repo, tmp_path / "data")
    assert reasons(snap) == [("../catalog-info.yaml", "forms a loop back to catalog-info.yaml")]


def test_a_glob_that_matches_nothing_is_a_finding(tmp_path: Path) -> None:
    repo = WorkRepo(tmp_path / "catalog")
    plugins(repo, "./nothing/**/*.yaml", "./plugins/a/x1.yaml", "./plugins/b/*")
    repo.commit()
    snap = read_repo(repo, tmp_path / "data")
    assert names(snap) == {"x1"}  # the other targets are still followed
    first, second = problems(snap)
    assert first.code == "invalid-file"
    assert first.subject == "catalog/catalog@main:catalog-info.yaml"
    assert first.message == (
        "catalog-info.yaml document 0: Location target './nothing/**/*.yaml' "
        "matches no file [location-target]"
    )
    # A folder is no file: ``plugins/b/*`` matches only the folder ``deep``.
    assert second.evidence["reason"] == "matches no file"


@pytest.mark.parametrize(("presence", "reported"), [("required", True), ("optional", False)])
def test_an_optional_glob_may_match_nothing(tmp_path: Path, presence: str, reported: bool) -> None:
    repo = WorkRepo(tmp_path / "catalog")
    repo.write(
        "catalog-info.yaml",
        "apiVersion: backstage.io/v1alpha1\nkind: Location\nmetadata:\n  name: root\n"
        f"spec:\n  presence: {presence}\n  targets: ['./later/**/*.yaml', '../out/*.yaml']\n",
    )
    repo.commit()
    snap = read_repo(repo, tmp_path / "data")
    expected = [("../out/*.yaml", "is outside the repository")]  # forgiven never
    if reported:
        expected.insert(1, ("./later/**/*.yaml", "matches no file"))
    assert reasons(snap) == sorted(expected)


def test_a_glob_never_leads_out_of_the_repository(tmp_path: Path) -> None:
    repo = WorkRepo(tmp_path / "catalog")
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.yaml").write_text(component("secret"))
    repo.write(
        "catalog-info.yaml",
        location("root", "../outside/*.yaml", "/etc/*.yaml", "./{teams,../outside}/*.yaml"),
    )
    repo.write("teams/a.yaml", component("team-a"))
    os.symlink(tmp_path / "outside" / "secret.yaml", repo.path / "teams" / "link.yaml")
    os.symlink(tmp_path / "outside", repo.path / "teams" / "linked-folder")
    repo.commit()

    snap = read_repo(repo, tmp_path / "data")

    assert names(snap) == {"team-a"}  # a symbolic link is no file in a commit, as for a path
    assert reasons(snap) == [
        ("../outside/*.yaml", "is outside the repository"),
        ("./{teams,../outside}/*.yaml", "is outside the repository"),
        ("/etc/*.yaml", "is outside the repository"),
    ]


def test_a_match_whose_name_no_store_takes_is_reported_not_read(tmp_path: Path) -> None:
    repo = WorkRepo(tmp_path / "catalog")
    repo.write("catalog-info.yaml", location("root", "./teams/*.yaml"))
    repo.write("teams/a.yaml", component("team-a"))
    (repo.path / "teams" / os.fsdecode(b"caf\xe9.yaml")).write_text(component("latin-1"))
    repo.commit()

    snap = read_repo(repo, tmp_path / "data")

    assert names(snap) == {"team-a"}
    assert reasons(snap) == [
        (
            "./teams/*.yaml",
            "matches teams/caf\\xe9.yaml, whose name is not UTF-8 text, which cannot be "
            "stored; not read",
        )
    ]


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        ("{" * 2000, "nests its braces more than 32 deep; not followed"),
        ("{" * 300 + "a,b" + "}" * 300, "nests its braces more than 32 deep; not followed"),
        ("[" * 40_000, "is longer than 4096 characters; not followed"),
        ("./x{1..100000}.yaml", "expands to more than 1000 patterns; not followed"),
        ("./+(a|b).yaml", "uses an extended glob pattern, which trueup does not follow"),
    ],
    ids=["deep-braces", "deep-closed-braces", "long", "wide-braces", "extglob"],
)
def test_a_hostile_glob_target_is_a_finding_not_a_failed_read(
    tmp_path: Path, target: str, reason: str
) -> None:
    repo = WorkRepo(tmp_path / "catalog")
    repo.write("catalog-info.yaml", location("root", target, "./there.yaml"))
    repo.write("there.yaml", component("there"))
    repo.commit()
    snap = read_repo(repo, tmp_path / "data")
    assert names(snap) == {"there"}
    assert [r for _, r in reasons(snap)] == [reason]


def test_a_url_glob_into_the_same_repository_is_followed(tmp_path: Path) -> None:
    repo = WorkRepo(tmp_path / "catalog")
    base = "https://git.example/acme/catalog/blob/main"
    repo.write("catalog-info.yaml", location("root", f"{base}/teams/*.yaml", type_="url"))
    repo.write("teams/a.yaml", component("team-a"))
    repo.write("teams/b.yaml", component("team-b"))
    repo.commit()
    source = make_source(
        str(repo.path), include=ROOT_ONLY, web={"base": "https://git.example/acme/catalog"}
    )
    snap = read(source, tmp_path / "data")
    assert isinstance(snap, Snapshot)
    assert names(snap) == {"team-a", "team-b"}
    assert snap.findings == ()


def test_the_tree_is_listed_once_per_read_not_once_per_target(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = WorkRepo(tmp_path / "catalog")
    repo.write("catalog-info.yaml", location("root", "./teams/*.yaml", "./plugins/**/*.yaml"))
    repo.write("teams/a.yaml", location("a", "../groups/*.yaml", "../none/*.yaml"))
    repo.write("groups/g.yaml", component("g"))
    repo.write("plugins/p/catalog-info.yaml", component("p"))
    repo.commit()
    listed: list[str] = []
    list_files = GitRepository.list_files

    def counted(self: GitRepository, commit: str) -> dict[str, str]:
        listed.append(commit)
        return list_files(self, commit)

    monkeypatch.setattr(GitRepository, "list_files", counted)
    snap = read_repo(repo, tmp_path / "data")
    assert names(snap) == {"g", "p"}
    assert reasons(snap) == [("../none/*.yaml", "matches no file")]
    assert len(listed) == 1  # the cold read's listing serves every glob of every round


def test_a_file_that_comes_to_match_is_read_and_one_that_goes_is_dropped(tmp_path: Path) -> None:
    repo = WorkRepo(tmp_path / "catalog")
    plugins(repo, "./plugins/**/catalog-info.yaml")
    repo.commit()
    source = make_source(str(repo.path), include=ROOT_ONLY)
    first = read(source, tmp_path / "data")
    assert isinstance(first, Snapshot)
    assert names(first) == {"top", "a", "deep"}

    again = read(source, tmp_path / "data", previous=first)  # an unchanged head
    assert isinstance(again, Snapshot)
    assert source.files_parsed == 0
    assert names(again) == {"top", "a", "deep"}

    repo.write("plugins/new/catalog-info.yaml", component("new"))
    repo.remove("plugins/a/catalog-info.yaml")
    repo.commit()
    second = read(source, tmp_path / "data", previous=again)

    assert isinstance(second, Snapshot)
    assert names(second) == {"top", "deep", "new"}
    assert second.findings == ()
    assert source.files_parsed == 1  # only the new file: the others' blobs are known
    assert second.version != first.version


def synced(config: Config, store: Store, minutes: int) -> SyncOutcome:
    return sync(config, store, now=lambda: NOW + timedelta(minutes=minutes))


def test_a_sync_serves_the_entities_behind_a_glob_target(tmp_path: Path, store: Store) -> None:
    repo = WorkRepo(tmp_path / "catalog")
    repo.write(
        "catalog-info.yaml",
        location("roadie", "./plugins/**/catalog-info.yaml", "./none/*.yaml"),
    )
    for plugin in ("argo-cd", "jira", "wiz"):
        repo.write(f"plugins/{plugin}/catalog-info.yaml", component(plugin))
    repo.commit()
    config = parse_config(
        json.dumps(
            {
                "data_dir": str(tmp_path / "data"),
                "sources": [
                    {"id": "catalog", "type": "git", "url": str(repo.path), "include": ROOT_ONLY}
                ],
            }
        ),
        "trueup.yaml",
        {},
    )

    assert not synced(config, store, 0).failures
    served = {e.ref.name for e in store.entities() if not e.removed}
    assert served == {"argo-cd", "jira", "wiz"}  # a Location is followed, not served
    assert [f.message for f in store.findings(codes=["invalid-file"])] == [
        "catalog-info.yaml document 0: Location target './none/*.yaml' matches no file "
        "[location-target]"
    ]

    repo.write("plugins/github/catalog-info.yaml", component("github"))
    repo.remove("plugins/wiz/catalog-info.yaml")
    repo.commit()
    assert not synced(config, store, 5).failures
    served = {e.ref.name for e in store.entities() if not e.removed}
    assert served == {"argo-cd", "jira", "github"}
    assert store.entity(EntityRef.of("component", None, "github")) is not None
