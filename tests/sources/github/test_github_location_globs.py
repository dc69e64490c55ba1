"""A github source follows a Location target that is a glob, as Backstage's GitHub reader does.

Backstage's ``GithubUrlReader.search`` lists the repository's tree and reads every file a
glob target matches; the file and git sources follow the same targets the same way
(their tests share the table of expected matches). Against the loopback GitHub API: the
head's tree is asked once per read however many globs there are, and an unchanged head
still costs nothing but a 304.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.sources.test_file_location_globs import GLOB_MATCHES, PLUGINS
from trueup.model.observation import Snapshot

from .conftest import Harness, component, failures
from .fake_api import FakeClock, FakeGitHub


def location(*targets: str, presence: str | None = None) -> str:
    listed = "".join(f"  - '{t}'\n" for t in targets)
    presence_line = f"  presence: {presence}\n" if presence else ""
    return (
        "apiVersion: backstage.io/v1alpha1\nkind: Location\nmetadata:\n  name: root\n"
        f"spec:\n{presence_line}  targets:\n{listed}"
    )


def names(h: Harness, scope: str = "acme/catalog") -> set[str]:
    return {o.ref.name for o in h.stored[scope].observations if o.ref.kind == "component"}


def reasons(h: Harness, scope: str = "acme/catalog") -> list[tuple[str, str]]:
    return sorted(
        (str(f.evidence["target"]), str(f.evidence["reason"]))
        for f in h.stored[scope].findings
        if f.evidence.get("rule") == "location-target"
    )


def trees(github: FakeGitHub, since: int) -> list[str]:
    return [r.path for r in github.log[since:] if "/git/trees/" in r.path]


@pytest.mark.parametrize(("target", "expected"), GLOB_MATCHES, ids=[t for t, _ in GLOB_MATCHES])
def test_a_glob_target_follows_every_file_it_matches(
    github: FakeGitHub, clock: FakeClock, tmp_path: Path, target: str, expected: set[str]
) -> None:
    files = {"catalog-info.yaml": location(target)}
    files |= {path: component(name) for path, name in PLUGINS.items()}
    github.put_repo("acme/catalog", files)
    h = Harness(github, clock, tmp_path)
    assert failures(h.read()) == {}
    assert names(h) == expected
    assert h.stored["acme/catalog"].findings == ()


def _roadie(github: FakeGitHub) -> None:
    github.put_repo(
        "acme/catalog",
        {
            "catalog-info.yaml": location(
                "./plugins/**/catalog-info.yaml", "./none/*.yaml", "../out/*.yaml"
            ),
            "plugins/argo-cd/catalog-info.yaml": component("argo-cd"),
            "plugins/jira/catalog-info.yaml": location("./api-*.yaml"),
            "plugins/jira/api-v1.yaml": component("jira-v1"),
            "plugins/jira/api-v2.yaml": component("jira-v2"),
            "README.md": "x",
        },
    )


def test_globs_of_every_round_cost_one_tree_request(
    github: FakeGitHub, clock: FakeClock, tmp_path: Path
) -> None:
    _roadie(github)
    h = Harness(github, clock, tmp_path)
    assert failures(h.read()) == {}
    assert names(h) == {"argo-cd", "jira-v1", "jira-v2"}
    assert reasons(h) == [
        ("../out/*.yaml", "is outside the repository"),
        ("./none/*.yaml", "matches no file"),
    ]
    head = github.repos["acme/catalog"].branches["main"]
    assert trees(github, 0) == [f"/repos/acme/catalog/git/trees/{head}?recursive=1"]


def test_an_unchanged_head_costs_a_304_and_a_new_matching_file_is_followed(
    github: FakeGitHub, clock: FakeClock, tmp_path: Path
) -> None:
    _roadie(github)
    h = Harness(github, clock, tmp_path)
    h.read()
    first = h.stored["acme/catalog"]

    before = len(github.log)
    h.read()
    assert {r.status for r in github.log[before:]} == {304}  # no tree asked for the globs
    assert h.source.files_parsed == 0
    assert names(h) == {"argo-cd", "jira-v1", "jira-v2"}
    assert h.stored["acme/catalog"].findings == first.findings

    github.push(
        "acme/catalog",
        {
            "plugins/wiz/catalog-info.yaml": component("wiz"),
            "plugins/jira/api-v3.yaml": component("jira-v3"),
            "plugins/argo-cd/catalog-info.yaml": None,
            "none/x.yaml": component("none-x"),
        },
    )
    before = len(github.log)
    h.read()
    assert names(h) == {"wiz", "jira-v1", "jira-v2", "jira-v3", "none-x"}
    assert reasons(h) == [("../out/*.yaml", "is outside the repository")]
    assert h.source.files_parsed == 3  # the new files only
    assert len(trees(github, before)) == 1


def test_an_optional_glob_may_match_nothing(
    github: FakeGitHub, clock: FakeClock, tmp_path: Path
) -> None:
    github.put_repo("acme/catalog", {"catalog-info.yaml": location("./later/**/*.yaml")})
    github.put_repo(
        "acme/optional",
        {"catalog-info.yaml": location("./later/**/*.yaml", presence="optional")},
    )
    h = Harness(github, clock, tmp_path)
    h.read()
    assert reasons(h) == [("./later/**/*.yaml", "matches no file")]
    assert reasons(h, "acme/optional") == []
    github.push("acme/optional", {"later/a/b.yaml": component("later")})
    h.read()
    assert names(h, "acme/optional") == {"later"}


def test_a_hostile_glob_is_a_finding_not_a_failed_read(
    github: FakeGitHub, clock: FakeClock, tmp_path: Path
) -> None:
    github.put_repo(
        "acme/catalog",
        {
            "catalog-info.yaml": location("{" * 2000, "[" * 40_000, "./there.yaml"),
            "there.yaml": component("there"),
        },
    )
    h = Harness(github, clock, tmp_path)
    assert failures(h.read()) == {}
    assert names(h) == {"there"}
    assert [r for _, r in reasons(h)] == [
        "is longer than 4096 characters; not followed",  # '[' sorts before '{'
        "nests its braces more than 32 deep; not followed",
    ]
    assert trees(github, 0) == [
        f"/repos/acme/catalog/git/trees/{github.repos['acme/catalog'].branches['main']}?recursive=1"
    ]


def test_an_unchanged_head_read_by_an_older_trueup_lists_the_tree_for_its_globs(
    github: FakeGitHub, clock: FakeClock, tmp_path: Path
) -> None:
    _roadie(github)
    h = Harness(github, clock, tmp_path)
    h.read()
    (state_file,) = tmp_path.rglob("acme_catalog.json")
    state = json.loads(state_file.read_text())
    del state["extra"]["globs"]  # remembered before globs were followed
    state_file.write_text(json.dumps(state))

    before = len(github.log)
    h.read()
    assert names(h) == {"argo-cd", "jira-v1", "jira-v2"}
    assert len(trees(github, before)) == 1  # asked again rather than guessed
    assert h.source.files_parsed == 0


def test_globs_through_git_fetch_cost_no_tree_request(
    github: FakeGitHub, clock: FakeClock, tmp_path: Path
) -> None:
    from ..git.conftest import WorkRepo

    work = WorkRepo(tmp_path / "work")
    work.write("catalog-info.yaml", location("./teams/*/catalog-info.yaml"))
    work.write("teams/a/catalog-info.yaml", component("a"))
    work.write("teams/b/catalog-info.yaml", component("b"))
    head = work.commit()
    repo = github.put_repo("acme/viagit", {})
    repo.clone_url = str(work.path)
    files = {p: (work.path / p).read_bytes() for p in ("catalog-info.yaml",)}
    github.set_head("acme/viagit", files, branch="main", commit=head)
    h = Harness(github, clock, tmp_path / "data", use_git_for_content=True)
    assert failures(h.read()) == {}
    assert names(h, "acme/viagit") == {"a", "b"}
    assert not any("/git/" in r.path for r in github.log)
    assert isinstance(h.stored["acme/viagit"], Snapshot)
