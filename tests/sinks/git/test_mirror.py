"""The git mirror sink and ``trueup hydrate`` against real repositories and a git server.

SPEC 6.2: one file per entity plus an ``all.yaml`` Location in a separate mirror
repository; a commit only when something changed, naming what and why; rejected
pushes re-applied, never forced; a diverged mirror reported; mass removals held.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml

from tests.sinks.git.conftest import Mirror, WorkRepo, component, git, hydrate_config
from trueup.hydrate import HydrateOutcome, HydrateRequest, hydrate

T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def run(
    tmp_path: Path,
    source: WorkRepo,
    mirror: Mirror,
    *,
    at: datetime = T0,
    runner: str = "ci",
    **request: object,
) -> HydrateOutcome:
    """One CI job: a fresh configuration and data folder per ``runner``, a throw-away database."""
    config = hydrate_config(tmp_path / runner, source.path)
    options: dict[str, object] = {"mirror": mirror.url, "push": True, **request}
    return hydrate(config, HydrateRequest(**options), now=lambda: at)  # type: ignore[arg-type]


def test_first_hydration_writes_one_file_per_entity_and_a_location(
    tmp_path: Path, catalog: WorkRepo, mirror: Mirror
) -> None:
    outcome = run(tmp_path, catalog, mirror, author="Hydrator <ci@example.com>")

    assert outcome.exit_code == 0, outcome.errors
    (report,) = outcome.reports
    assert (report.written, report.removed, report.held) == (5, 0, 0)
    assert report.note.startswith("commit ") and report.note.endswith(" pushed to main")
    files = mirror.files()
    assert sorted(files) == [
        "all.yaml",
        "default/component/a.yaml",
        "default/component/b.yaml",
        "default/component/c.yaml",
        "default/component/d.yaml",
        "default/group/team-a.yaml",
    ]
    entity = yaml.safe_load(files["default/component/a.yaml"])
    assert (entity["kind"], entity["metadata"]["name"]) == ("Component", "a")
    assert entity["spec"]["owner"] == "team-a"
    assert entity["metadata"]["annotations"]["trueup.io/sources"] == "catalog"
    location = yaml.safe_load(files["all.yaml"])
    assert location["kind"] == "Location"
    assert location["metadata"]["name"] == "trueup-hydrated"
    assert location["spec"]["targets"] == [
        "./default/component/a.yaml",
        "./default/component/b.yaml",
        "./default/component/c.yaml",
        "./default/component/d.yaml",
        "./default/group/team-a.yaml",
    ]
    head = catalog.head()
    message = mirror.message()
    assert message.splitlines()[0] == "trueup: 5 added, 0 changed, 0 removed"
    assert f"  component:default/a  catalog/catalog@main {head[:12]}" in message
    assert f"Trueup-Source: catalog/catalog@main@{head}" in message
    assert f"Trueup-Read-At: {T0.isoformat()}" in message
    assert git(mirror.bare, "log", "-1", "--format=%an <%ae>|%cn <%ce>", "main") == (
        "Hydrator <ci@example.com>|Hydrator <ci@example.com>"
    )


def test_the_same_inputs_give_the_same_bytes_and_no_commit(
    tmp_path: Path, catalog: WorkRepo, mirror: Mirror
) -> None:
    run(tmp_path, catalog, mirror)
    first, blobs = mirror.head(), mirror.blobs()
    assert first is not None

    again = run(tmp_path, catalog, mirror, at=T0 + timedelta(hours=1))
    elsewhere = run(tmp_path, catalog, mirror, at=T0 + timedelta(hours=2), runner="other")

    assert mirror.head() == first and mirror.log() == [first]
    assert mirror.blobs() == blobs
    for outcome in (again, elsewhere):
        (report,) = outcome.reports
        assert outcome.exit_code == 0
        assert (report.written, report.unchanged) == (0, 5)
        assert report.note == f"up to date at {first[:12]}"


def test_one_changed_file_changes_one_entity(
    tmp_path: Path, catalog: WorkRepo, mirror: Mirror
) -> None:
    run(tmp_path, catalog, mirror)
    before = mirror.head()
    assert before is not None
    catalog.write("b/catalog-info.yaml", component("b", description="Pays the bills"))
    head = catalog.commit("describe b")

    outcome = run(tmp_path, catalog, mirror, at=T0 + timedelta(minutes=5))

    (report,) = outcome.reports
    assert (report.written, report.unchanged, report.removed) == (1, 4, 0)
    after = mirror.head()
    assert after is not None and mirror.log() == [after, before]
    assert git(mirror.bare, "diff", "--name-only", before, after).splitlines() == [
        "default/component/b.yaml"
    ]
    entity = yaml.safe_load(mirror.files()["default/component/b.yaml"])
    assert entity["metadata"]["description"] == "Pays the bills"
    message = mirror.message()
    assert message.splitlines()[0] == "trueup: 0 added, 1 changed, 0 removed"
    assert f"Changed (1):\n  component:default/b  catalog/catalog@main {head[:12]}" in message


def test_a_removal_deletes_the_file_and_its_location_target(
    tmp_path: Path, catalog: WorkRepo, mirror: Mirror
) -> None:
    run(tmp_path, catalog, mirror)
    catalog.remove("d/catalog-info.yaml")
    head = catalog.commit("retire d")

    outcome = run(tmp_path, catalog, mirror, at=T0 + timedelta(minutes=5))

    (report,) = outcome.reports
    assert (report.written, report.removed, report.held) == (0, 1, 0)
    files = mirror.files()
    assert "default/component/d.yaml" not in files
    assert "./default/component/d.yaml" not in yaml.safe_load(files["all.yaml"])["spec"]["targets"]
    message = mirror.message()
    assert message.splitlines()[0] == "trueup: 0 added, 0 changed, 1 removed"
    assert f"  component:default/d  no longer in catalog/catalog@main {head[:12]}" in message


def test_a_mass_removal_is_held_until_accepted(
    tmp_path: Path, catalog: WorkRepo, mirror: Mirror
) -> None:
    run(tmp_path, catalog, mirror)
    first = mirror.head()
    for name in ("b", "c", "d"):
        catalog.remove(f"{name}/catalog-info.yaml")
    catalog.commit("an accident: three components gone")

    held = run(tmp_path, catalog, mirror, at=T0 + timedelta(minutes=5))

    (report,) = held.reports
    assert held.exit_code == 0
    assert (report.removed, report.held) == (0, 3)
    assert mirror.head() == first  # nothing else changed: no commit at all
    assert "default/component/c.yaml" in mirror.files()

    accepted = run(tmp_path, catalog, mirror, at=T0 + timedelta(minutes=6), accept_removals=True)

    (report,) = accepted.reports
    assert (report.removed, report.held) == (3, 0)
    assert sorted(mirror.files()) == [
        "all.yaml",
        "default/component/a.yaml",
        "default/group/team-a.yaml",
    ]
    assert mirror.message().splitlines()[0] == "trueup: 0 added, 0 changed, 3 removed"


def test_a_held_removal_is_written_in_the_commit_of_other_changes(
    tmp_path: Path, catalog: WorkRepo, mirror: Mirror
) -> None:
    run(tmp_path, catalog, mirror)
    for name in ("b", "c", "d"):
        catalog.remove(f"{name}/catalog-info.yaml")
    catalog.write("e/catalog-info.yaml", component("e"))
    catalog.commit("e in, three out")

    run(tmp_path, catalog, mirror, at=T0 + timedelta(minutes=5))

    files = mirror.files()
    assert "default/component/e.yaml" in files and "default/component/b.yaml" in files
    targets = yaml.safe_load(files["all.yaml"])["spec"]["targets"]
    assert "./default/component/b.yaml" in targets and "./default/component/e.yaml" in targets
    message = mirror.message()
    assert message.splitlines()[0] == "trueup: 1 added, 0 changed, 0 removed, 3 removals held"
    assert "Removals held, nothing deleted: it would remove 3 of 5 entities (60%" in message
    assert "  component:default/c\n" in message


def test_a_diverged_mirror_is_reported_and_not_overwritten(
    tmp_path: Path, catalog: WorkRepo, mirror: Mirror
) -> None:
    run(tmp_path, catalog, mirror)
    hand = WorkRepo(tmp_path / "hand")
    hand.git("pull", "-q", mirror.url, "main")
    hand.write("default/component/a.yaml", "# edited by hand\n")
    edited = hand.commit("a quick fix in the mirror")
    hand.git("push", "-q", mirror.url, "HEAD:main")
    catalog.write("b/catalog-info.yaml", component("b", description="changed"))
    catalog.commit()

    outcome = run(tmp_path, catalog, mirror, at=T0 + timedelta(minutes=5))

    assert outcome.exit_code == 2
    (error,) = outcome.errors
    assert "the mirror has diverged: 1 of trueup's files were changed by other commits" in error
    assert "default/component/a.yaml" in error and "nothing was overwritten" in error
    assert mirror.head() == edited


def test_files_of_its_own_in_the_mirror_are_kept(
    tmp_path: Path, catalog: WorkRepo, mirror: Mirror
) -> None:
    hand = WorkRepo(tmp_path / "hand")
    hand.write("README.md", "The hydrated catalog. Do not edit.\n")
    hand.write(".github/workflows/lint.yaml", "on: push\n")
    hand.commit("a README first")
    hand.git("push", "-q", mirror.url, "HEAD:main")

    outcome = run(tmp_path, catalog, mirror)

    assert outcome.exit_code == 0, outcome.errors
    files = mirror.files()
    assert files["README.md"] == "The hydrated catalog. Do not edit.\n"
    assert ".github/workflows/lint.yaml" in files and "default/component/a.yaml" in files
    assert len(mirror.log()) == 2


# --- two CI jobs racing to push ---------------------------------------------------

PRE_RECEIVE = """#!/bin/sh
# The first push waits (at most 30 s) until another push has landed: a race, made
# deterministic.
if mkdir "$GIT_DIR/first-push" 2>/dev/null; then
  i=0
  while [ ! -e "$GIT_DIR/second-landed" ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done
fi
exit 0
"""
POST_RECEIVE = """#!/bin/sh
if [ -d "$GIT_DIR/first-push" ]; then touch "$GIT_DIR/second-landed"; fi
"""


def hold_first_push(mirror: Mirror) -> None:
    for name, script in (("pre-receive", PRE_RECEIVE), ("post-receive", POST_RECEIVE)):
        hook = mirror.bare / "hooks" / name
        hook.write_text(script)
        hook.chmod(0o755)


def race(
    tmp_path: Path,
    mirror: Mirror,
    first: tuple[WorkRepo, datetime],
    second: tuple[WorkRepo, datetime],
) -> tuple[HydrateOutcome, HydrateOutcome]:
    """``first`` pushes and is held until ``second`` has pushed and landed."""
    results: dict[str, HydrateOutcome | BaseException] = {}

    def job() -> None:
        try:
            results["first"] = run(tmp_path, first[0], mirror, at=first[1], runner="first")
        except BaseException as exc:
            results["first"] = exc

    thread = threading.Thread(target=job)
    thread.start()
    deadline = time.monotonic() + 60
    while not (mirror.bare / "first-push").exists():
        assert time.monotonic() < deadline, "the first run never pushed"
        time.sleep(0.02)
    landed = run(tmp_path, second[0], mirror, at=second[1], runner="second")
    thread.join(60)
    held = results["first"]
    assert isinstance(held, HydrateOutcome), held
    return held, landed


def fast_forwards_only(mirror: Mirror) -> bool:
    return all(
        old == "0" * 40 or git(mirror.bare, "merge-base", old, new) == old
        for old, new in mirror.reflog()
    )


def pinned_copy(source: WorkRepo, folder: Path) -> WorkRepo:
    """Another CI runner's checkout of ``source`` at its current commit, for a job run later.

    As ``actions/checkout`` with ``fetch-depth: 0`` does: branch ``main`` at the
    pushed commit; a later ``git fetch`` (here, :func:`catch_up`) brings newer
    commits to ``origin/main`` without moving it.
    """
    folder.mkdir(parents=True)
    git(folder, "clone", "-q", str(source.path), "catalog")
    copy = WorkRepo.__new__(WorkRepo)
    copy.path = folder / "catalog"
    return copy


def b_described_then_e_added(
    tmp_path: Path, source: WorkRepo, mirror: Mirror, *, remove: tuple[str, ...] = ()
) -> WorkRepo:
    """Hydrate ``source`` once, then commit ``b`` described, then ``e`` added (and ``remove`` gone).

    Returns a job's checkout of the commit that described ``b``: the older sources.
    """
    run(tmp_path, source, mirror)
    source.write("b/catalog-info.yaml", component("b", description="described"))
    source.commit("describe b")
    older = pinned_copy(source, tmp_path / "older")
    source.write("e/catalog-info.yaml", component("e"))
    for name in remove:
        source.remove(f"{name}/catalog-info.yaml")
    source.commit("".join(["add e", *(f", remove {name}" for name in remove)]))
    return older


def test_two_runs_racing_to_push_both_land_and_nothing_is_forced(
    tmp_path: Path, catalog: WorkRepo, mirror: Mirror
) -> None:
    older = b_described_then_e_added(tmp_path, catalog, mirror)
    start = mirror.head()  # the first hydration's: the two commits since are not hydrated
    hold_first_push(mirror)

    newer_run, older_run = race(
        tmp_path, mirror, (catalog, T0 + timedelta(minutes=10)), (older, T0 + timedelta(minutes=5))
    )

    assert newer_run.exit_code == 0 and older_run.exit_code == 0
    assert newer_run.reports[0].note.endswith("pushed to main (attempt 2)")
    head, landed_first, first = mirror.log()
    assert first == start
    assert mirror.message(landed_first).splitlines()[0] == "trueup: 0 added, 1 changed, 0 removed"
    assert mirror.message(head).splitlines()[0] == "trueup: 1 added, 0 changed, 0 removed"
    files = mirror.files()
    assert "default/component/e.yaml" in files
    assert yaml.safe_load(files["default/component/b.yaml"])["metadata"]["description"] == (
        "described"
    )
    assert fast_forwards_only(mirror) and len(mirror.reflog()) == 3


def test_a_slower_run_of_older_sources_never_undoes_a_newer_one(
    tmp_path: Path, catalog: WorkRepo, mirror: Mirror
) -> None:
    older = b_described_then_e_added(tmp_path, catalog, mirror)
    start = mirror.head()  # the first hydration's: the two commits since are not hydrated
    hold_first_push(mirror)

    older_run, newer_run = race(
        tmp_path, mirror, (older, T0 + timedelta(minutes=5)), (catalog, T0 + timedelta(minutes=10))
    )

    assert older_run.exit_code == 0 and newer_run.exit_code == 0
    assert older_run.reports[0].note.startswith("the mirror holds a newer hydration")
    head, first = mirror.log()
    assert first == start
    assert mirror.message(head).splitlines()[0] == "trueup: 1 added, 1 changed, 0 removed"
    assert "default/component/e.yaml" in mirror.files()
    assert fast_forwards_only(mirror) and len(mirror.reflog()) == 2


def catch_up(checkout: WorkRepo) -> None:
    checkout.git("fetch", "-q", "origin")


def test_a_job_for_an_older_commit_that_reads_last_stands_back(
    tmp_path: Path, catalog: WorkRepo, mirror: Mirror
) -> None:
    # the job for the push that described b waits in a queue
    older = b_described_then_e_added(tmp_path, catalog, mirror, remove=("c",))
    newer = run(tmp_path, catalog, mirror, at=T0 + timedelta(minutes=5), runner="newer")
    landed = mirror.head()
    catch_up(older)  # the queued job starts: its checkout fetched the newer commit too

    late = run(tmp_path, older, mirror, at=T0 + timedelta(minutes=10), runner="older")

    assert newer.exit_code == 0 and late.exit_code == 0, late.errors
    note = late.reports[0].note
    assert note.startswith("the mirror holds newer sources: catalog/catalog@main "), note
    assert f"{catalog.head()[:12]} follows this hydration's {older.head()[:12]}" in note
    assert mirror.head() == landed
    files = mirror.files()
    assert "default/component/e.yaml" in files and "default/component/c.yaml" not in files


def test_a_job_for_a_newer_commit_that_read_first_still_lands(
    tmp_path: Path, catalog: WorkRepo, mirror: Mirror
) -> None:
    older = b_described_then_e_added(tmp_path, catalog, mirror)
    catch_up(older)
    # The older commit's job reads later but pushes first; the newer one read before it.
    first = run(tmp_path, older, mirror, at=T0 + timedelta(minutes=10), runner="older")
    assert first.reports[0].note.endswith("pushed to main"), first.reports
    newer = run(tmp_path, catalog, mirror, at=T0 + timedelta(minutes=5), runner="newer")

    assert newer.exit_code == 0, newer.errors
    assert newer.reports[0].note.endswith("pushed to main"), newer.reports[0].note
    assert "default/component/e.yaml" in mirror.files()
    assert f"Trueup-Source: catalog/catalog@main@{catalog.head()}" in mirror.message()


def test_without_the_newer_commit_the_read_time_decides(
    tmp_path: Path, catalog: WorkRepo, mirror: Mirror
) -> None:
    """A checkout that cannot show the mirror's commit cannot order them: read time decides."""
    older = b_described_then_e_added(tmp_path, catalog, mirror)  # never fetches the newer commit
    run(tmp_path, catalog, mirror, at=T0 + timedelta(minutes=10), runner="newer")

    late = run(tmp_path, older, mirror, at=T0 + timedelta(minutes=5), runner="older")

    assert late.reports[0].note.startswith("the mirror holds a newer hydration"), late.reports
    assert "default/component/e.yaml" in mirror.files()


def test_after_a_force_push_the_later_read_wins(
    tmp_path: Path, catalog: WorkRepo, mirror: Mirror
) -> None:
    catalog.write("e/catalog-info.yaml", component("e"))
    abandoned = catalog.commit("add e")
    run(tmp_path, catalog, mirror)
    catalog.git("reset", "-q", "--hard", "HEAD~1")
    catalog.write("f/catalog-info.yaml", component("f"))
    catalog.commit("add f instead")

    again = run(tmp_path, catalog, mirror, at=T0 + timedelta(minutes=5), runner="again")

    assert again.reports[0].note.endswith("pushed to main"), again.reports
    assert f"catalog/catalog@main {abandoned[:12]}" not in mirror.message()
    files = mirror.files()
    assert "default/component/f.yaml" in files and "default/component/e.yaml" not in files


def test_check_says_a_change_that_would_hold_removals_is_pending(
    tmp_path: Path, catalog: WorkRepo, mirror: Mirror
) -> None:
    # A pull-request gate: merging this would leave the mirror holding three entities
    # the sources dropped, until someone releases them. That is not "up to date".
    run(tmp_path, catalog, mirror)
    for name in ("b", "c", "d"):
        catalog.remove(f"{name}/catalog-info.yaml")
    catalog.commit("three components gone")

    gate = run(tmp_path, catalog, mirror, at=T0 + timedelta(minutes=5), check=True)

    (report,) = gate.reports
    assert gate.exit_code == 3, report.note
    assert report.held == 3
    assert "3 removals would be held" in report.note
    assert "--accept-removals" in report.note
