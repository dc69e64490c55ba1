"""Truth rule 4 (SPEC 5.4): what the ``removal-held`` finding says, and who releases it.

A held read keeps every entity it would have removed, and its finding names the
scope, the counts, a sorted sample of ten refs and the command that releases it.
"""

from __future__ import annotations

from dataclasses import replace

from tests.assemble.builders import component, intent, snapshot
from trueup.assemble.guard import guard_removals, is_accepted
from trueup.model.observation import HELD_PART, Nature, Snapshot


def _scope(names: list[str]) -> Snapshot:
    return snapshot(
        "catalog",
        "team-repo",
        *[intent(component(n), scope="team-repo", path=f"{n}.yaml") for n in names],
        nature=Nature.INTENT,
    )


NAMES = [f"svc-{i:02}" for i in range(20)]


def test_the_held_finding_names_the_scope_counts_sample_and_release() -> None:
    before, after = _scope(NAMES), _scope(NAMES[:5])
    outcome = guard_removals(before, after, max_ratio=0.5, accepted=False)
    held = outcome.finding
    assert held is not None
    assert (held.code, held.subject) == ("removal-held", "scope:catalog/team-repo")
    assert held.message == (
        "removals held in catalog/team-repo: the read would remove 15 of 20 entities "
        "(75%, above max_removal_ratio 50%); release with "
        "`trueup sync --accept-removals catalog/team-repo`"
    )
    assert held.evidence["held"] == 15
    assert held.evidence["before"] == 20
    assert held.evidence["sample"] == [f"component:default/svc-{i:02}" for i in range(5, 15)]
    assert (held.evidence["source"], held.evidence["scope"]) == ("catalog", "team-repo")
    assert held.evidence["origin"] == "pipeline"
    assert outcome.held == before.refs - after.refs
    assert outcome.snapshot.refs == before.refs  # nothing is removed while held


def test_the_sample_lists_every_ref_when_fewer_than_ten_are_held() -> None:
    outcome = guard_removals(_scope(NAMES[:6]), _scope(NAMES[:2]), max_ratio=0.5, accepted=False)
    assert outcome.finding is not None
    assert outcome.finding.evidence["sample"] == [
        f"component:default/svc-{i:02}" for i in range(2, 6)
    ]


def test_an_empty_read_says_it_returned_nothing() -> None:
    outcome = guard_removals(_scope(NAMES[:3]), _scope([]), max_ratio=1.0, accepted=False)
    assert outcome.finding is not None
    assert outcome.finding.message.startswith(
        "removals held in catalog/team-repo: the read returned nothing where there were entities;"
    )
    assert outcome.finding.evidence["held"] == 3


def test_a_first_read_and_a_read_that_only_adds_hold_nothing() -> None:
    first = guard_removals(None, _scope([]), max_ratio=0.5, accepted=False)
    assert (first.held, first.finding, first.snapshot.observations) == (frozenset(), None, ())
    grown = _scope(NAMES)
    added = guard_removals(_scope(NAMES[:2]), grown, max_ratio=0.0, accepted=False)
    assert (added.held, added.finding, added.snapshot) == (frozenset(), None, grown)


def test_a_scope_that_had_nothing_and_reads_nothing_holds_nothing() -> None:
    nothing = guard_removals(_scope([]), _scope([]), max_ratio=0.5, accepted=False)
    assert (nothing.held, nothing.finding, nothing.snapshot.observations) == (frozenset(), None, ())


def test_a_source_id_releases_all_its_scopes_and_a_scope_only_itself() -> None:
    assert is_accepted("catalog", "team-repo", frozenset({"catalog"}))
    assert is_accepted("catalog", "team-repo", frozenset({"catalog/team-repo"}))
    assert not is_accepted("catalog", "team-repo", frozenset({"catalog/other-repo"}))
    assert not is_accepted("catalog", "team-repo", frozenset({"team-repo", "clusters"}))


def test_a_hold_is_kept_while_the_held_refs_stay_away_whatever_the_share() -> None:
    # 2 of 20 gone is under the ratio, but one of them was held by an earlier read.
    before, after = _scope(NAMES), _scope(NAMES[2:])
    held_before = {_scope(["svc-00"]).observations[0].ref}
    outcome = guard_removals(before, after, max_ratio=0.5, accepted=False, held_before=held_before)
    assert outcome.held == held_before  # svc-01 is removed, svc-00 stays held
    assert outcome.snapshot.refs == after.refs | held_before
    assert outcome.finding is not None
    assert outcome.finding.message == (
        "removals held in catalog/team-repo: an earlier read held these removals and they "
        "are not accepted yet; release with `trueup sync --accept-removals catalog/team-repo`"
    )
    assert outcome.finding.evidence["held"] == 1
    released = guard_removals(before, after, max_ratio=0.5, accepted=True, held_before=held_before)
    assert (released.held, released.finding) == (frozenset(), None)
    back = guard_removals(
        before,
        _scope(NAMES[:1] + NAMES[2:]),
        max_ratio=0.5,
        accepted=False,
        held_before=held_before,
    )
    assert (back.held, back.finding) == (frozenset(), None)  # svc-00 came back


def test_a_part_that_carries_held_observations_gets_the_held_fingerprint() -> None:
    filed = _scope(NAMES[:2])
    before = replace(
        filed, observations=tuple(replace(o, part=f"{o.ref.name}.yaml") for o in filed.observations)
    )
    emptied = replace(_scope([]), parts={"svc-00.yaml": "new", "other.yaml": "read"})
    outcome = guard_removals(before, emptied, max_ratio=0.5, accepted=False)
    assert outcome.held == before.refs
    # svc-01.yaml is gone from the read, svc-00.yaml was read again: both are revisited.
    assert outcome.snapshot.parts == {
        "svc-00.yaml": HELD_PART,
        "svc-01.yaml": HELD_PART,
        "other.yaml": "read",
    }


# --- Location entities: followed, never served, so not what the ratio is a share of ----


def _location(name: str) -> dict[str, object]:
    return {
        "apiVersion": "backstage.io/v1alpha1",
        "kind": "Location",
        "metadata": {"name": name},
        "spec": {"type": "file", "target": f"./{name}.yaml"},
    }


def _filed(components: list[str], locations: list[str]) -> Snapshot:
    return snapshot(
        "catalog",
        "team-repo",
        *[intent(_location(n), scope="team-repo", path="all.yaml") for n in locations],
        *[intent(component(n), scope="team-repo", path=f"{n}.yaml") for n in components],
        nature=Nature.INTENT,
    )


TEAMS = [f"team-{i}" for i in range(6)]


def test_locations_do_not_hide_a_mass_removal_of_entities() -> None:
    # 5 of the 6 Components go; with the 6 Locations counted that was 5 of 12 (42%).
    before, after = _filed(NAMES[:6], TEAMS), _filed(NAMES[:1], TEAMS)
    outcome = guard_removals(before, after, max_ratio=0.5, accepted=False)
    assert outcome.held == before.refs - after.refs
    assert outcome.finding is not None
    assert outcome.finding.message.startswith(
        "removals held in catalog/team-repo: the read would remove 5 of 6 entities (83%, "
    )
    assert outcome.finding.evidence["before"] == 6


def test_removed_locations_alone_hold_nothing() -> None:
    # The Components are now found by the include globs: no entity goes, 6 Locations do.
    before, after = _filed(NAMES[:4], TEAMS), _filed(NAMES[:4], [])
    outcome = guard_removals(before, after, max_ratio=0.5, accepted=False)
    assert (outcome.held, outcome.finding, outcome.snapshot) == (frozenset(), None, after)


def test_a_read_of_only_locations_returned_no_entities() -> None:
    # Every target of the Locations is gone: the read has Locations and nothing else.
    outcome = guard_removals(
        _filed(NAMES[:3], TEAMS), _filed([], TEAMS), max_ratio=1.0, accepted=False
    )
    assert outcome.finding is not None
    assert outcome.finding.message.startswith(
        "removals held in catalog/team-repo: the read returned nothing where there were entities;"
    )
    assert outcome.held == _filed(NAMES[:3], []).refs


def test_a_scope_of_only_locations_may_lose_them() -> None:
    outcome = guard_removals(_filed([], TEAMS), _filed([], []), max_ratio=0.5, accepted=False)
    assert (outcome.held, outcome.finding) == (frozenset(), None)


def test_a_held_read_holds_its_removed_locations_too() -> None:
    # Nothing is removed while held, the Locations a held read lost included.
    before, after = _filed(NAMES[:6], TEAMS), _filed(NAMES[:1], TEAMS[:1])
    outcome = guard_removals(before, after, max_ratio=0.5, accepted=False)
    assert outcome.snapshot.refs == before.refs
    assert outcome.finding is not None
    assert outcome.finding.evidence["held"] == 10
