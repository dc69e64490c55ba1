"""A file source follows a Location target that is a glob, as Backstage's file reader does.

Backstage hands every ``file`` Location target to the ``glob`` package and reads each
match (``FileReaderProcessor``); catalogs rely on it (RoadieHQ/roadie-backstage-plugins'
``catalog-info.yaml`` lists ``./plugins/**/catalog-info.yaml``). The expected matches
below are those of ``glob`` 14 (the Backstage harness's pinned catalog backend) over the
same folder. Every match stays under the folder's path policy. Real files in a temp
folder; the last tests sync through the pipeline on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from trueup.config import parse_config
from trueup.model.finding import Finding
from trueup.model.observation import Snapshot
from trueup.pipeline import SyncOutcome, sync
from trueup.sources.base import ReadContext
from trueup.sources.file import FileSource
from trueup.sources.file.config import FileSourceConfig
from trueup.sources.glob_pattern import NotFollowed, compile_segment, glob_patterns
from trueup.store import Store

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
ROOT_ONLY = ["catalog-info.yaml"]  # as a source that names only the root file


def component(name: str) -> str:
    return (
        "apiVersion: backstage.io/v1alpha1\nkind: Component\n"
        f"metadata: {{name: {name}}}\n"
        "spec: {type: service, lifecycle: production, owner: team-a}\n"
    )


def location(name: str, *targets: str, type_: str | None = None) -> str:
    spec: dict[str, object] = {"targets": list(targets)}
    if type_ is not None:
        spec["type"] = type_
    return (
        "apiVersion: backstage.io/v1alpha1\nkind: Location\n"
        f"metadata: {{name: {name}}}\nspec: {json.dumps(spec)}\n"
    )


def write(root: Path, path: str, text: str) -> None:
    target = root / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)


def read(
    root: Path, *, previous: Snapshot | None = None, include: list[str] = ROOT_ONLY
) -> Snapshot:
    config = FileSourceConfig(id="catalog", type="file", path=str(root), include=include)
    context = ReadContext(
        now=lambda: NOW, previous={"catalog": previous} if previous is not None else {}
    )
    (result,) = FileSource(config).observe(context)
    assert isinstance(result, Snapshot), result
    return result


def names(snap: Snapshot) -> set[str]:
    return {o.ref.name for o in snap.observations if o.ref.kind == "component"}


def problems(snap: Snapshot) -> list[Finding]:
    return [f for f in snap.findings if f.evidence.get("rule") == "location-target"]


def reasons(snap: Snapshot) -> list[tuple[str, str]]:
    return sorted((str(f.evidence["target"]), str(f.evidence["reason"])) for f in problems(snap))


PLUGINS = {
    "plugins/catalog-info.yaml": "top",
    "plugins/a/catalog-info.yaml": "a",
    "plugins/b/deep/catalog-info.yaml": "deep",
    "plugins/.hidden/catalog-info.yaml": "hidden",
    "plugins/b/.catalog-info.yaml": "dotfile",
    "plugins/a/x1.yaml": "x1",
    "plugins/a/x2.yaml": "x2",
    "plugins/a/xa.yaml": "xa",
    "plugins/a/x10.yaml": "x10",
    "plugins/a/.x3.yaml": "x3",
}


def plugins(root: Path, *targets: str) -> None:
    write(root, "catalog-info.yaml", location("root", *targets))
    for path, name in PLUGINS.items():
        write(root, path, component(name))


# What ``glob`` 14 matches for each target over PLUGINS (run there with node).
GLOB_MATCHES = [
    ("./plugins/**/catalog-info.yaml", {"top", "a", "deep"}),
    ("./plugins/*/catalog-info.yaml", {"a"}),
    ("./plugins/**/*/catalog-info.yaml", {"a", "deep"}),
    ("./plugins/a/x?.yaml", {"x1", "x2", "xa"}),
    ("./plugins/a/?*.yaml", {"a", "x1", "x2", "xa", "x10"}),
    ("./plugins/a/*.yaml", {"a", "x1", "x2", "xa", "x10"}),
    ("./plugins/a/x{1,a}.yaml", {"x1", "xa"}),
    ("./plugins/a/x{1..2}.yaml", {"x1", "x2"}),
    ("./plugins/a/x{0..10}.yaml", {"x1", "x2", "x10"}),
    ("./plugins/{a,b/deep}/catalog-info.yaml", {"a", "deep"}),
    ("./plugins/a/x[0-9].yaml", {"x1", "x2"}),
    ("./plugins/a/x[!0-9].yaml", {"xa"}),
    ("./plugins/a/x[1].yaml", {"x1"}),
    ("./plugins/a/../a/x?.yaml", {"x1", "x2", "xa"}),
    ("./plugins/**/x1*.yaml", {"x1", "x10"}),
    # A name that starts with a dot matches only a pattern that starts with one.
    ("./plugins/.*/catalog-info.yaml", {"hidden"}),
    ("./plugins/**/.catalog-info.yaml", {"dotfile"}),
    ("./plugins/a/.x*.yaml", {"x3"}),
    ("./plugins/a/{.,}x*.yaml", {"x1", "x2", "xa", "x10", "x3"}),
]


@pytest.mark.parametrize(("target", "expected"), GLOB_MATCHES, ids=[t for t, _ in GLOB_MATCHES])
def test_a_glob_target_follows_every_file_it_matches(
    tmp_path: Path, target: str, expected: set[str]
) -> None:
    plugins(tmp_path, target)
    snap = read(tmp_path)
    assert names(snap) == expected
    assert snap.findings == ()


def test_the_roadie_catalog_reads_every_plugin_behind_its_root_file(tmp_path: Path) -> None:
    """RoadieHQ/roadie-backstage-plugins: a source that names only the root file."""
    write(tmp_path, "catalog-info.yaml", location("roadie", "./plugins/**/catalog-info.yaml"))
    for plugin in ("argo-cd", "jira", "scaffolder-actions/http-request"):
        write(tmp_path, f"plugins/{plugin}/catalog-info.yaml", component(plugin.rsplit("/")[-1]))
    write(tmp_path, "plugins/jira/node_modules/.bin/catalog-info.yaml", component("vendored"))

    snap = read(tmp_path)

    assert names(snap) == {"argo-cd", "jira", "http-request"}  # ``**`` skips ``.bin``
    assert snap.findings == ()
    located = {o.ref.name: o.provenance.locator for o in snap.observations}
    assert located["http-request"].endswith(
        ":plugins/scaffolder-actions/http-request/catalog-info.yaml#0"
    )


def test_a_glob_that_matches_its_own_file_is_no_loop(tmp_path: Path) -> None:
    plugins(tmp_path, "./**/catalog-info.yaml")
    snap = read(tmp_path)
    assert names(snap) == {"top", "a", "deep"}
    assert snap.findings == ()  # Backstage reads it with no error


def test_a_glob_that_matches_nothing_is_a_finding(tmp_path: Path) -> None:
    plugins(tmp_path, "./nothing/**/*.yaml", "./plugins/a/x1.yaml")
    snap = read(tmp_path)
    assert names(snap) == {"x1"}  # the other targets are still followed
    (problem,) = problems(snap)
    assert problem.code == "invalid-file"
    assert problem.subject == "catalog:catalog-info.yaml"
    assert problem.message == (
        "catalog-info.yaml document 0: Location target './nothing/**/*.yaml' "
        "matches no file [location-target]"
    )


def test_a_glob_never_leads_out_of_the_folder(tmp_path: Path) -> None:
    root = tmp_path / "catalog"
    write(tmp_path, "outside/secret.yaml", component("secret"))
    write(tmp_path, "outside/more/secret.yaml", component("more-secret"))
    write(root, "catalog-info.yaml", location("root", "../outside/*.yaml", "./teams/**/*.yaml"))
    write(root, "teams/a.yaml", component("team-a"))
    os.symlink(tmp_path / "outside" / "secret.yaml", root / "teams" / "link.yaml")
    os.symlink(tmp_path / "outside" / "more", root / "teams" / "linked-folder")

    snap = read(root)

    assert names(snap) == {"team-a"}
    assert reasons(snap) == [
        ("../outside/*.yaml", f"is outside the folder {root}"),
        (
            "./teams/**/*.yaml",
            f"matches teams/link.yaml, which is a symbolic link that leads outside the "
            f"folder {root}; not read",
        ),
    ]
    # The link to a folder is not entered; the listing reports it as it does for any.
    assert [f.evidence["rule"] for f in snap.findings if f not in problems(snap)] == ["folder-link"]


def test_a_literal_folder_on_the_way_that_leads_outside_is_not_listed(tmp_path: Path) -> None:
    root = tmp_path / "catalog"
    write(tmp_path, "outside/secret.yaml", component("secret"))
    write(root, "catalog-info.yaml", location("root", "./linked/*.yaml"))
    os.symlink(tmp_path / "outside", root / "linked")

    snap = read(root)

    assert names(snap) == set()
    assert reasons(snap) == [
        (
            "./linked/*.yaml",
            f"matches linked, which is a symbolic link that leads outside the folder {root}; "
            "not read",
        )
    ]


def test_a_folder_or_a_fifo_that_a_glob_matches_is_refused(tmp_path: Path) -> None:
    write(tmp_path, "catalog-info.yaml", location("root", "./teams/*"))
    write(tmp_path, "teams/a.yaml", component("team-a"))
    (tmp_path / "teams" / "sub").mkdir()
    os.mkfifo(tmp_path / "teams" / "pipe")

    snap = read(tmp_path)

    assert names(snap) == {"team-a"}
    assert reasons(snap) == [
        ("./teams/*", "matches teams/pipe, which is a FIFO (named pipe), not a file; not read"),
        ("./teams/*", "matches teams/sub, which is a folder, not a file"),
    ]


def test_a_match_whose_name_no_store_takes_is_reported_not_read(tmp_path: Path) -> None:
    write(tmp_path, "catalog-info.yaml", location("root", "./teams/*.yaml"))
    write(tmp_path, "teams/a.yaml", component("team-a"))
    (tmp_path / "teams" / os.fsdecode(b"caf\xe9.yaml")).write_text(component("latin-1"))

    snap = read(tmp_path)

    assert names(snap) == {"team-a"}
    assert reasons(snap) == [
        (
            "./teams/*.yaml",
            "matches teams/caf\\xe9.yaml, whose name is not UTF-8 text, which cannot be "
            "stored; not read",
        )
    ]


def test_extended_globs_are_reported_not_guessed(tmp_path: Path) -> None:
    plugins(tmp_path, "./plugins/a/+(x1|x2).yaml", "./plugins/a/x[[:digit:]].yaml")
    snap = read(tmp_path)
    assert names(snap) == set()
    assert [reason for _, reason in reasons(snap)] == [
        "uses an extended glob pattern, which trueup does not follow",
        "uses a POSIX character class, which trueup does not follow",
    ]


def test_a_brace_that_expands_too_far_is_not_followed(tmp_path: Path) -> None:
    plugins(
        tmp_path,
        "./plugins/a/x{1..100000}.yaml",
        "./x{a,b}{c,d}{e,f}{g,h}{i,j}{k,l}{m,n}{o,p}{q,r}{s,t}{u,v}",
    )
    snap = read(tmp_path)
    assert names(snap) == set()
    assert {reason for _, reason in reasons(snap)} == {
        "expands to more than 1000 patterns; not followed"
    }


def test_a_file_that_comes_to_match_is_read_and_one_that_goes_is_dropped(tmp_path: Path) -> None:
    plugins(tmp_path, "./plugins/**/catalog-info.yaml")
    first = read(tmp_path)
    write(tmp_path, "plugins/new/catalog-info.yaml", component("new"))
    (tmp_path / "plugins" / "a" / "catalog-info.yaml").unlink()

    second = read(tmp_path, previous=first)

    assert names(second) == {"top", "deep", "new"}
    assert second.findings == ()
    assert second.version != first.version


# --- through the pipeline, on SQLite and PostgreSQL ----------------------------------


def _sync(
    root: Path, store: Store, db_url: str, at: datetime, *, from_scratch: bool
) -> SyncOutcome:
    text = json.dumps(
        {
            "database": db_url,
            "sources": [
                {
                    "id": "catalog",
                    "type": "file",
                    "path": str(root / "catalog"),
                    "include": ROOT_ONLY,
                }
            ],
        }
    )
    clock: Callable[[], datetime] = lambda: at  # noqa: E731
    config = parse_config(text, "test.yaml", {}, root)
    return sync(config, store, now=clock, from_scratch=from_scratch)


@pytest.mark.parametrize("from_scratch", [False, True], ids=["incremental", "reference"])
def test_a_sync_serves_the_entities_behind_a_glob_target(
    tmp_path: Path, store: Store, db_url: str, from_scratch: bool
) -> None:
    folder = tmp_path / "catalog"
    write(
        folder,
        "catalog-info.yaml",
        location("roadie", "./plugins/**/catalog-info.yaml", "./none/*.yaml"),
    )
    for plugin in ("argo-cd", "jira", "wiz"):
        write(folder, f"plugins/{plugin}/catalog-info.yaml", component(plugin))

    outcome = _sync(tmp_path, store, db_url, NOW, from_scratch=from_scratch)

    assert not outcome.failures
    served = {e.ref.name for e in store.entities() if not e.removed}
    assert served == {"argo-cd", "jira", "wiz"}  # a Location is followed, not served
    assert [f.message for f in store.findings(codes=["invalid-file"])] == [
        "catalog-info.yaml document 0: Location target './none/*.yaml' matches no file "
        "[location-target]"
    ]

    write(folder, "plugins/github/catalog-info.yaml", component("github"))
    (folder / "plugins" / "wiz" / "catalog-info.yaml").unlink()
    outcome = _sync(tmp_path, store, db_url, NOW + timedelta(minutes=5), from_scratch=from_scratch)

    assert not outcome.failures
    served = {e.ref.name for e in store.entities() if not e.removed}
    assert served == {"argo-cd", "jira", "github"}


@pytest.mark.parametrize(
    "target",
    [
        "{" * 2000,  # braces nested past the interpreter's recursion limit
        "{" * 300 + "a,b" + "}" * 300,
        "[" * 40_000,  # over the length cap: refused before any scan (was hours)
        "./x/" + "*" * 5000,
    ],
)
def test_a_hostile_glob_target_is_a_finding_not_a_failed_read(target: str) -> None:
    found = glob_patterns(target)
    assert isinstance(found, NotFollowed), found


def test_unclosed_brackets_under_the_cap_are_a_plain_path() -> None:
    # 4,000 unclosed '[' are no set: each is a literal character (this took 1.2 s, quadratic)
    assert glob_patterns("[" * 4000) is None
    assert compile_segment("[" * 4000) == "[" * 4000
