"""The github source against the loopback GitHub API: cost, pagination, rate limits,
truncated trees, renames, removals and the secrecy of the token."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from trueup.model.observation import FailureKind, Snapshot

from .conftest import TOKEN, Harness, component, failures, snapshots
from .fake_api import FakeClock, FakeGitHub, Fault

SECONDARY = {"message": "You have exceeded a secondary rate limit. Please wait a few minutes."}


def test_cold_read_then_no_change_costs_nothing_against_the_limit(
    acme: FakeGitHub, clock: FakeClock, tmp_path: Path
) -> None:
    h = Harness(acme, clock, tmp_path)
    first = h.read()
    assert set(snapshots(first)) == {"acme/billing", "acme/payments", "acme/search"}
    assert h.names("acme/payments") == {"payments"}
    payments = h.stored["acme/payments"].observations[0]
    head = acme.repos["acme/payments"].branches["main"]
    assert payments.provenance.locator == f"acme/payments@{head[:12]}:catalog-info.yaml#0"
    assert payments.fields["metadata.annotations.backstage.io/view-url"] == (
        "https://github.example/acme/payments/blob/main/catalog-info.yaml"
    )
    assert h.stored["acme/payments"].version == head

    counted = acme.counted()
    before = len(acme.log)
    second = h.read()
    assert set(snapshots(second)) == set(snapshots(first))
    assert acme.counted() == counted  # every request was a 304
    assert {r.status for r in acme.log[before:]} == {304}
    assert h.source.files_parsed == 0
    assert h.source.requests.not_modified == len(acme.log) - before
    assert h.source.rate_limit is not None and h.source.rate_limit.remaining is not None


def test_a_changed_file_costs_its_head_tree_and_blob_only(
    acme: FakeGitHub, clock: FakeClock, tmp_path: Path
) -> None:
    h = Harness(acme, clock, tmp_path)
    h.read()
    acme.push("acme/search", {"catalog-info.yaml": component("search", "Changed")})
    before = len(acme.log)
    h.read()
    counted = [r.path.split("?")[0] for r in acme.log[before:] if r.counted]
    head = acme.repos["acme/search"].branches["main"]
    assert counted[:2] == [
        "/repos/acme/search/commits/main",
        f"/repos/acme/search/git/trees/{head}",
    ]
    assert len(counted) == 3 and counted[2].startswith("/repos/acme/search/git/blobs/")
    assert h.source.files_parsed == 1
    (search,) = h.stored["acme/search"].observations
    assert search.fields["metadata.description"] == "Changed"


def test_primary_rate_limit_sends_nothing_until_reset_and_keeps_data(
    acme: FakeGitHub, clock: FakeClock, tmp_path: Path
) -> None:
    h = Harness(acme, clock, tmp_path)
    h.read()
    kept = dict(h.stored)
    acme.exhaust(reset_in=60)
    before = len(acme.log)
    reads = h.read()
    assert set(failures(reads)) == set(kept)
    assert {f.kind for f in failures(reads).values()} == {FailureKind.RATE_LIMITED}
    assert len(acme.log) - before == 1  # the first 403, then nothing
    assert "until" in next(iter(failures(reads).values())).message
    assert h.stored == kept  # stale, not deleted
    assert h.source.rate_limit is not None and h.source.rate_limit.blocked_until is not None

    clock.now += 30  # still before the reset: not a single request
    before = len(acme.log)
    reads = h.read()
    assert len(acme.log) == before
    assert {f.kind for f in failures(reads).values()} == {FailureKind.RATE_LIMITED}

    clock.now += 31  # past the reset
    reads = h.read()
    assert failures(reads) == {}
    assert h.stored.keys() == kept.keys()


def test_secondary_limit_with_retry_after_waits_then_continues(
    acme: FakeGitHub, clock: FakeClock, tmp_path: Path
) -> None:
    h = Harness(acme, clock, tmp_path)
    acme.script(r"^/orgs/acme/repos", Fault(429, {"retry-after": "7"}, SECONDARY))
    reads = h.read()
    assert failures(reads) == {}
    assert clock.sleeps == [7]
    listing = [r for r in acme.log if r.path.startswith("/orgs/acme/repos")]
    assert [r.status for r in listing] == [429, 200]
    assert listing[1].at - listing[0].at >= 7


def test_secondary_limit_with_a_long_retry_after_degrades_without_retrying(
    acme: FakeGitHub, clock: FakeClock, tmp_path: Path
) -> None:
    h = Harness(acme, clock, tmp_path)
    h.read()
    acme.script(r"^/orgs/acme/repos", Fault(429, {"retry-after": "600"}, SECONDARY))
    before = len(acme.log)
    reads = h.read()
    assert {f.kind for f in failures(reads).values()} == {FailureKind.RATE_LIMITED}
    assert len(acme.log) - before == 1
    assert clock.sleeps == []
    clock.now += 300
    before = len(acme.log)
    h.read()
    assert len(acme.log) == before  # still inside the 600 s: nothing sent
    clock.now += 301
    assert failures(h.read()) == {}


def test_secondary_403_without_retry_after_backs_off_exponentially_then_gives_up(
    acme: FakeGitHub, clock: FakeClock, tmp_path: Path
) -> None:
    h = Harness(acme, clock, tmp_path, max_retry_wait="10m", max_retries=2)
    h.read()
    acme.script(r"^/orgs/acme/repos", *[Fault(403, {}, SECONDARY)] * 5)
    before = len(acme.log)
    reads = h.read()
    assert {f.kind for f in failures(reads).values()} == {FailureKind.RATE_LIMITED}
    assert clock.sleeps == [60, 120]
    sent = acme.log[before:]
    assert len(sent) == 3  # bounded: never hammers
    assert sent[1].at - sent[0].at >= 60 and sent[2].at - sent[1].at >= 120
    assert len(h.stored) == 3


def three_pages_read(github: FakeGitHub, clock: FakeClock, tmp_path: Path) -> Harness:
    """Six repositories (``acme/r0`` to ``r5``), listed two to a page, read once."""
    for i in range(6):
        github.put_repo(f"acme/r{i}", {"catalog-info.yaml": component(f"c{i}")})
    h = Harness(github, clock, tmp_path, per_page=2)
    h.read()
    return h


def test_listing_failing_on_page_3_is_discarded_whole(
    github: FakeGitHub, clock: FakeClock, tmp_path: Path
) -> None:
    h = three_pages_read(github, clock, tmp_path)
    kept = dict(h.stored)
    github.push("acme/r0", {"catalog-info.yaml": component("c0", "should not be read")})
    github.script(r"^/orgs/acme/repos\?.*page=3", Fault(500, {}, {"message": "Server Error"}))
    reads = h.read()
    assert set(failures(reads)) == set(kept)
    assert all("listing failed" in f.message for f in failures(reads).values())
    assert h.stored == kept
    assert not any("/commits/" in r.path for r in github.log[-3:])


def test_a_repository_added_after_a_full_last_page_is_listed(
    github: FakeGitHub, clock: FakeClock, tmp_path: Path
) -> None:
    """GitHub's ETag covers a page's body, not its Link header: a full last page stays a
    304 when a page is added after it (app-sre/github-mirror#57), so it is asked again."""
    for name in ("billing", "payments"):
        github.put_repo(f"acme/{name}", {"catalog-info.yaml": component(name)})
    h = Harness(github, clock, tmp_path, per_page=2)
    h.read()
    assert set(h.stored) == {"acme/billing", "acme/payments"}
    github.put_repo("acme/zeta", {"catalog-info.yaml": component("zeta")})  # listed last
    reads = h.read()
    assert set(snapshots(reads)) == {"acme/billing", "acme/payments", "acme/zeta"}
    assert h.names("acme/zeta") == {"zeta"}

    before = len(github.log)
    h.read()  # a last page that is not full is still answered by a 304
    listing = [r for r in github.log[before:] if r.path.startswith("/orgs/acme/repos")]
    assert [r.status for r in listing] == [304, 304]


def test_listing_reset_mid_body_is_discarded_whole(
    github: FakeGitHub, clock: FakeClock, tmp_path: Path
) -> None:
    h = three_pages_read(github, clock, tmp_path)
    kept = dict(h.stored)
    github.push("acme/r5", {"more.yaml": "x"})  # the listing's pages change
    github.script(r"^/orgs/acme/repos\?.*page=2", Fault(-1))
    reads = h.read()
    assert set(failures(reads)) == set(kept)
    assert {f.kind for f in failures(reads).values()} == {FailureKind.UNREACHABLE}
    assert h.stored == kept


def test_truncated_tree_is_walked_level_by_level(
    github: FakeGitHub, clock: FakeClock, tmp_path: Path
) -> None:
    files = {f"svc/s{i}/catalog-info.yaml": component(f"s{i}") for i in range(8)}
    github.put_repo("acme/mono", files)
    github.truncated.add("acme/mono")
    h = Harness(github, clock, tmp_path, catalog_path="**/catalog-info.yaml")
    reads = h.read()
    assert failures(reads) == {}
    assert h.names("acme/mono") == {f"s{i}" for i in range(8)}
    assert any(r.path.endswith("?recursive=1") for r in github.log)
    assert sum("/git/trees/" in r.path and "recursive" not in r.path for r in github.log) > 1


def test_a_truncated_tree_that_cannot_be_walked_removes_nothing(
    github: FakeGitHub, clock: FakeClock, tmp_path: Path
) -> None:
    files = {f"svc/s{i}/catalog-info.yaml": component(f"s{i}") for i in range(8)}
    github.put_repo("acme/mono", files)
    h = Harness(github, clock, tmp_path, catalog_path="**/catalog-info.yaml")
    h.read()
    kept = dict(h.stored)
    github.push("acme/mono", {"svc/s0/catalog-info.yaml": None, "new/catalog-info.yaml": "x"})
    github.truncated.add("acme/mono")
    github.script(r"/git/trees/[0-9a-f]{40}$", Fault(500))  # the level-by-level walk fails
    reads = h.read()
    assert set(failures(reads)) == {"acme/mono"}
    assert h.stored == kept


def test_renamed_repository_follows_the_301_and_keeps_its_scope(
    github: FakeGitHub, clock: FakeClock, tmp_path: Path
) -> None:
    github.put_repo("acme/old-name", {"catalog-info.yaml": component("svc")})
    h = Harness(github, clock, tmp_path, org=None, repositories=["acme/old-name"])
    h.read()
    github.rename("acme/old-name", "acme/new-name")
    reads = h.read()
    assert set(snapshots(reads)) == {"acme/old-name"}
    (svc,) = h.stored["acme/old-name"].observations
    assert svc.provenance.locator.startswith("acme/new-name@")
    assert any(r.status == 301 for r in github.log)
    before = len(github.log)
    h.read()
    assert all(r.status != 301 for r in github.log[before:])  # the 301 was remembered


def test_renamed_repository_in_an_org_listing_keeps_its_scope(
    acme: FakeGitHub, clock: FakeClock, tmp_path: Path
) -> None:
    h = Harness(acme, clock, tmp_path)
    h.read()
    acme.rename("acme/search", "acme/find")
    reads = h.read()
    assert set(reads) == {"acme/billing", "acme/payments", "acme/search"}
    assert h.names("acme/search") == {"search"}
    assert h.held == {}
    assert any("renamed" in e for e in h.source.last_events)


def test_an_org_that_suddenly_lists_nothing_is_held_by_the_guard(
    acme: FakeGitHub, clock: FakeClock, tmp_path: Path
) -> None:
    h = Harness(acme, clock, tmp_path)
    h.read()
    acme.empty_orgs.add("acme")
    reads = h.read()
    assert {s: len(r.observations) for s, r in snapshots(reads).items()} == {
        "acme/billing": 0,
        "acme/payments": 0,
        "acme/search": 0,
    }
    assert set(h.held) == {"acme/billing", "acme/payments", "acme/search"}
    assert h.names("acme/payments") == {"payments"}  # nothing removed
    h.read()  # and again: still held, still there
    assert h.names("acme/payments") == {"payments"}


def test_a_deleted_repository_is_a_guarded_removal_released_by_acceptance(
    acme: FakeGitHub, clock: FakeClock, tmp_path: Path
) -> None:
    h = Harness(acme, clock, tmp_path)
    h.read()
    acme.delete("acme/search")
    h.read()
    assert set(h.held) == {"acme/search"}
    assert h.names("acme/search") == {"search"}
    h.read(accept=True)
    assert h.names("acme/search") == set()
    h.read()  # the stored snapshot is empty now: the scope is forgotten
    reads = h.read()
    assert "acme/search" not in reads
    assert h.names("acme/billing") == {"billing"}


def test_archived_repositories_are_left_out_unless_included(
    acme: FakeGitHub, clock: FakeClock, tmp_path: Path
) -> None:
    acme.put_repo("acme/legacy", {"catalog-info.yaml": component("legacy")}, archived=True)
    h = Harness(acme, clock, tmp_path)
    assert "acme/legacy" not in snapshots(h.read())
    h2 = Harness(acme, clock, tmp_path / "b", include_archived=True)
    assert h2.read()["acme/legacy"].observations  # type: ignore[union-attr]


def test_explicit_repository_404_is_a_failure_not_a_removal(
    github: FakeGitHub, clock: FakeClock, tmp_path: Path
) -> None:
    github.put_repo("acme/one", {"catalog-info.yaml": component("one")})
    github.put_repo("acme/two", {"catalog-info.yaml": component("two")})
    h = Harness(github, clock, tmp_path, org=None, repositories=["acme/one", "acme/two"])
    h.read()
    github.delete("acme/two")
    reads = h.read()
    assert failures(reads)["acme/two"].kind == FailureKind.UNREACHABLE
    assert h.names("acme/two") == {"two"}
    assert isinstance(reads["acme/one"], Snapshot)


def test_repository_globs_select_from_the_owner_listing(
    acme: FakeGitHub, clock: FakeClock, tmp_path: Path
) -> None:
    h = Harness(acme, clock, tmp_path, org=None, repositories=["acme/*ing", "acme/search"])
    assert set(snapshots(h.read())) == {"acme/billing", "acme/search"}


def test_invalid_file_keeps_previous_observations_with_commit_evidence(
    acme: FakeGitHub, clock: FakeClock, tmp_path: Path
) -> None:
    h = Harness(acme, clock, tmp_path)
    h.read()
    kept = h.stored["acme/billing"].observations
    head = acme.push("acme/billing", {"catalog-info.yaml": "kind: [broken\n"})
    reads = h.read()
    snapshot = reads["acme/billing"]
    assert isinstance(snapshot, Snapshot)
    assert snapshot.observations == kept
    (problem,) = snapshot.findings
    assert problem.code == "invalid-file"
    assert problem.evidence["commit"] == head
    assert problem.evidence["repo"] == "acme/billing"
    assert problem.evidence["path"] == "catalog-info.yaml"


def test_location_url_targets_into_the_same_repository_are_followed(
    github: FakeGitHub, clock: FakeClock, tmp_path: Path
) -> None:
    base = "https://github.example/acme/catalog/blob/main"
    root = (
        "apiVersion: backstage.io/v1alpha1\nkind: Location\nmetadata:\n  name: all\n"
        f"spec:\n  type: url\n  targets:\n  - {base}/teams/a.yaml\n"
        "  - https://github.example/acme/elsewhere/blob/main/catalog-info.yaml\n"
        "  - ./teams/b.yaml\n"
    )
    github.put_repo(
        "acme/catalog",
        {
            "catalog-info.yaml": root,
            "teams/a.yaml": component("a"),
            "teams/b.yaml": component("b"),
        },
    )
    h = Harness(github, clock, tmp_path)
    h.read()
    assert h.names("acme/catalog") == {"all", "a", "b"}
    (problem,) = h.stored["acme/catalog"].findings
    assert "no configured source reads" in problem.message


def test_targeted_refresh_reads_one_repository_without_the_listing(
    acme: FakeGitHub, clock: FakeClock, tmp_path: Path
) -> None:
    h = Harness(acme, clock, tmp_path)
    h.read()
    acme.push("acme/payments", {"catalog-info.yaml": component("payments", "Webhook")})
    before = len(acme.log)
    reads = h.read(scopes=frozenset({"acme/payments"}))
    assert set(reads) == {"acme/payments"}
    paths = [r.path for r in acme.log[before:]]
    assert not any(p.startswith("/orgs/") for p in paths)
    assert all("/acme/payments" in p for p in paths)
    assert h.source.scope_for(f"{acme.base_url}/acme/payments.git") == "acme/payments"
    assert h.source.scope_for("acme/payments") == "acme/payments"
    assert h.source.scope_for("acme/unknown") is None
    # the same owner/name on another GitHub (github.com, not the one read): not this source's
    assert h.source.scope_for("https://github.com/acme/payments.git") is None
    assert h.source.scope_for("git@github.com:acme/payments.git") is None


def test_the_token_never_leaks(
    acme: FakeGitHub, clock: FakeClock, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    h = Harness(acme, clock, tmp_path)
    h.read()
    assert all(r.authorization == f"Bearer {TOKEN}" for r in acme.log)
    acme.token = "another"  # the token is revoked: every request is a 401
    acme.push("acme/billing", {"x.yaml": "y"})
    reads = h.read()
    outputs = [f.message for f in failures(reads).values()]
    outputs += [f.message + repr(f.evidence) for s in h.stored.values() for f in s.findings]
    outputs += [caplog.text, repr(reads), repr(h.source.rate_limit)]
    outputs += [p.read_text(errors="replace") for p in tmp_path.rglob("*") if p.is_file()]
    assert failures(reads) and {f.kind for f in failures(reads).values()} == {FailureKind.FORBIDDEN}
    assert not any(TOKEN in text for text in outputs)


def test_contents_through_git_fetch_cost_no_tree_or_blob_requests(
    github: FakeGitHub, clock: FakeClock, tmp_path: Path
) -> None:
    from ..git.conftest import WorkRepo

    work = WorkRepo(tmp_path / "work")
    work.write("catalog-info.yaml", component("fetched"))
    work.write("docs/catalog-info.yaml", component("nested"))
    head = work.commit()
    repo = github.put_repo("acme/viagit", {})
    repo.clone_url = str(work.path)
    files = {
        p: (work.path / p).read_bytes() for p in ("catalog-info.yaml", "docs/catalog-info.yaml")
    }
    github.set_head("acme/viagit", files, branch="main", commit=head)
    h = Harness(
        github,
        clock,
        tmp_path / "data",
        use_git_for_content=True,
        catalog_path="**/catalog-info.yaml",
    )
    reads = h.read()
    assert failures(reads) == {}
    assert h.names("acme/viagit") == {"fetched", "nested"}
    assert not any("/git/" in r.path for r in github.log)
    assert h.stored["acme/viagit"].version == head


def test_a_primary_limit_mid_read_degrades_the_rest_without_requests(
    acme: FakeGitHub, clock: FakeClock, tmp_path: Path
) -> None:
    h = Harness(acme, clock, tmp_path)
    h.read()
    for name in ("billing", "payments", "search"):
        acme.push(f"acme/{name}", {"catalog-info.yaml": component(name, "new")})
    reset = str(int(clock() + 60))
    limited = Fault(403, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": reset})
    acme.script(r"^/repos/acme/payments/commits/", limited)
    before = len(acme.log)
    reads = h.read()
    assert isinstance(reads["acme/billing"], Snapshot)
    assert {s: f.kind for s, f in failures(reads).items()} == {
        "acme/payments": FailureKind.RATE_LIMITED,
        "acme/search": FailureKind.RATE_LIMITED,
    }
    assert not any("/acme/search/" in r.path for r in acme.log[before:])
    assert {o.fields["metadata.description"] for o in h.stored["acme/search"].observations} == {
        "A component"
    }


def test_placeholders_read_the_same_repository_and_ref_and_follow_their_file(
    github: FakeGitHub, clock: FakeClock, tmp_path: Path
) -> None:
    api = (
        "apiVersion: backstage.io/v1alpha1\nkind: API\nmetadata:\n  name: orders\n"
        "spec:\n  type: openapi\n  lifecycle: production\n  owner: team-a\n  definition:\n"
        "    $text: {target}\n"
    )
    github.put_repo(
        "acme/catalog",
        {
            "catalog-info.yaml": api.format(target="./specs/orders.yaml"),
            "specs/orders.yaml": "version: 1\n",
        },
    )
    h = Harness(github, clock, tmp_path)
    h.read()
    (orders,) = h.stored["acme/catalog"].observations
    head = github.repos["acme/catalog"].branches["main"]
    assert orders.fields["spec.definition"] == "version: 1\n"
    assert orders.references == (
        ("spec.definition", f"acme/catalog@{head[:12]}:specs/orders.yaml"),
    )

    before = len(github.log)
    h.read()  # an unchanged head: the referenced file is known, nothing else is asked
    assert {r.status for r in github.log[before:]} == {304}
    assert h.stored["acme/catalog"].observations[0].fields["spec.definition"] == "version: 1\n"

    github.push("acme/catalog", {"specs/orders.yaml": "version: 2\n"})  # only the spec changes
    h.read()
    assert h.stored["acme/catalog"].observations[0].fields["spec.definition"] == "version: 2\n"
    assert h.source.files_parsed == 1
