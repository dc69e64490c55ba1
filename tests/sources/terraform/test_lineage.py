"""Lineage and serial rules (test plan row 38; Terraform's CheckValidImport)."""

from __future__ import annotations

import pytest

from trueup.sources.terraform.lineage import StateVersion, Verdict, succession

A = "b1a7f3c2-6d4e-4f1a-9c2b-0e8d7a6f5b41"
B = "0c3d8a8e-2f9a-4b7e-a1c4-7d0e5f6a9b21"


@pytest.mark.parametrize(
    ("previous", "new", "verdict"),
    [
        (None, StateVersion(A, 3, "aa"), Verdict.ACCEPTED),
        (StateVersion(A, 3, "aa"), StateVersion(A, 4, "bb"), Verdict.ACCEPTED),
        (StateVersion(A, 3, "aa"), StateVersion(A, 3, "aa"), Verdict.ACCEPTED),
        (StateVersion(A, 3, ""), StateVersion(A, 3, "bb"), Verdict.ACCEPTED),
        (StateVersion(A, 3, "aa"), StateVersion(A, 2, "bb"), Verdict.STALE),
        (StateVersion(A, 3, "aa"), StateVersion(A, 3, "bb"), Verdict.CONFLICT),
        (StateVersion(A, 3, "aa"), StateVersion(B, 1, "cc"), Verdict.NEW_LINEAGE),
    ],
)
def test_the_verdict_follows_terraforms_import_rules(
    previous: StateVersion | None, new: StateVersion, verdict: Verdict
) -> None:
    assert succession(previous, new).verdict is verdict


def test_the_reasons_name_serials_and_lineages() -> None:
    stale = succession(StateVersion(A, 5, "aa"), StateVersion(A, 3, "bb"))
    assert not stale.accepted
    assert stale.message.startswith("rolled back: serial 3 < 5")
    conflict = succession(StateVersion(A, 5, "aa"), StateVersion(A, 5, "bb"))
    assert not conflict.accepted
    assert "serial 5" in conflict.message and "different content" in conflict.message
    new = succession(StateVersion(A, 5, "aa"), StateVersion(B, 1, "cc"))
    assert new.accepted
    assert f"new lineage {B}" in new.message and A in new.message


def test_a_version_string_round_trips_and_foreign_ones_are_ignored() -> None:
    version = StateVersion(A, 12, "0123456789abcdef0123")
    text = str(version)
    assert text == f"{A}/12#0123456789abcdef"
    assert StateVersion.parse(text) == StateVersion(A, 12, "0123456789abcdef")
    assert StateVersion.parse(f"{A}/12") == StateVersion(A, 12, "")
    assert StateVersion.parse("") is None
    assert StateVersion.parse("184990000") is None
    # A stored, shortened digest still matches the full digest of the same state.
    same = succession(StateVersion.parse(text), version)
    assert same.verdict is Verdict.ACCEPTED
