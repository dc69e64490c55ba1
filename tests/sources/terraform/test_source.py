"""The terraform source over local state files: scopes, failures, lineage and serial rules."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.sources.terraform.conftest import (
    LINEAGE,
    NOW,
    PLANTED,
    config,
    context,
    fixture_bytes,
    fixture_state,
    read_all,
    state_text,
)
from trueup import pipeline
from trueup.config import Config
from trueup.errors import ConfigError
from trueup.model.observation import FailureKind, Nature, ScopeFailure, ScopeRead, Snapshot
from trueup.sources.terraform import TerraformSource
from trueup.store import Store

OTHER_LINEAGE = "0c3d8a8e-2f9a-4b7e-a1c4-7d0e5f6a9b21"


def write(path: Path, document: dict[str, Any] | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(document if isinstance(document, bytes) else state_text(document).encode())
    return path


def variant(**top: Any) -> dict[str, Any]:
    return fixture_state() | top


def one(reads: list[ScopeRead]) -> ScopeRead:
    assert len(reads) == 1, reads
    return reads[0]


def snapshot(read: ScopeRead) -> Snapshot:
    assert isinstance(read, Snapshot), read
    return read


def failure(read: ScopeRead) -> ScopeFailure:
    assert isinstance(read, ScopeFailure), read
    return read


def test_a_glob_gives_one_scope_per_state_named_after_its_path(tmp_path: Path) -> None:
    write(tmp_path / "states/payments.tfstate", variant())
    write(tmp_path / "states/prod/terraform.tfstate", variant(lineage=OTHER_LINEAGE))
    write(tmp_path / "states/notes.txt", b"not a state")
    source = TerraformSource(config(f"{tmp_path}/states/**/*.tfstate"))
    reads = read_all(source)
    assert [r.scope for r in reads] == ["payments", "prod"]
    first = snapshot(reads[0])
    assert first.source == "infra" and first.nature is Nature.ACTUAL and first.read_at == NOW
    assert first.version.startswith(f"{LINEAGE}/7#")
    assert len(first.observations) == 6
    assert {o.ref.name for o in snapshot(reads[1]).observations} >= {
        "prod.aws_db_instance.payments"
    }


def test_a_folder_reads_every_state_below_it_and_a_file_names_its_scope(tmp_path: Path) -> None:
    write(tmp_path / "infra/eu/db.tfstate", variant())
    assert [r.scope for r in read_all(TerraformSource(config(str(tmp_path / "infra"))))] == [
        "eu/db"
    ]
    single = TerraformSource(config(str(tmp_path / "infra/eu/db.tfstate")))
    assert snapshot(one(read_all(single))).scope == "db"
    write(tmp_path / "envs/staging/terraform.tfstate", variant())
    default_name = TerraformSource(config(str(tmp_path / "envs/staging/terraform.tfstate")))
    assert snapshot(one(read_all(default_name))).scope == "staging"


@pytest.mark.parametrize(
    ("fixture", "reason"),
    [
        ("v5.tfstate", "state format version 5 is not supported"),
        ("no-version.tfstate", 'does not have a "version" attribute'),
        ("v3.tfstate", "state format version 3"),
        ("weird-mode.tfstate", 'has mode "weird"'),
        ("bad-index-key.tfstate", "invalid index key of type object"),
        ("truncated.tfstate", "ends early at byte 1500"),
        ("corrupt.tfstate", "at byte 296"),
    ],
)
def test_a_corrupt_or_unsupported_state_is_an_invalid_read_naming_the_file(
    tmp_path: Path, fixture: str, reason: str
) -> None:
    path = write(tmp_path / "states/payments.tfstate", fixture_bytes("v4-aws.tfstate"))
    good = snapshot(one(read_all(TerraformSource(config(str(tmp_path / "states/*.tfstate"))))))
    path.write_bytes(fixture_bytes(fixture))
    source = TerraformSource(config(str(tmp_path / "states/*.tfstate")))
    read = failure(one(read_all(source, {"payments": good})))
    assert read.kind is FailureKind.INVALID
    assert read.message.startswith(f"{path}: ")
    assert reason in read.message
    assert PLANTED not in read.message


def test_a_lower_serial_of_the_same_lineage_is_refused_as_stale(tmp_path: Path) -> None:
    path = write(tmp_path / "payments.tfstate", variant(serial=5))
    source = TerraformSource(config(str(path)))
    newer = snapshot(one(read_all(source)))
    write(path, variant(serial=3))
    read = failure(one(read_all(source, {"payments": newer})))
    assert read.kind is FailureKind.INVALID
    assert "rolled back: serial 3 < 5" in read.message
    write(path, variant(serial=6))
    assert snapshot(one(read_all(source, {"payments": newer}))).version.startswith(f"{LINEAGE}/6#")


def test_the_same_serial_with_different_content_is_a_conflict(tmp_path: Path) -> None:
    path = write(tmp_path / "payments.tfstate", variant())
    source = TerraformSource(config(str(path)))
    first = snapshot(one(read_all(source)))
    write(path, json.dumps(fixture_state(), indent=8).encode())  # reformatted: same state
    assert snapshot(one(read_all(source, {"payments": first}))).version == first.version
    changed = variant()
    changed["resources"][1]["instances"][0]["attributes"]["engine_version"] = "16.1"
    write(path, changed)
    read = failure(one(read_all(source, {"payments": first})))
    assert read.kind is FailureKind.INVALID
    assert "conflict: serial 7" in read.message and "different content" in read.message


def test_a_different_lineage_is_a_new_state_noted_in_a_finding(tmp_path: Path) -> None:
    path = write(tmp_path / "payments.tfstate", variant(serial=40))
    source = TerraformSource(config(str(path)))
    old = snapshot(one(read_all(source)))
    write(path, variant(lineage=OTHER_LINEAGE, serial=1))
    new = snapshot(one(read_all(source, {"payments": old})))
    assert new.version.startswith(f"{OTHER_LINEAGE}/1#")
    assert len(new.observations) == 6
    assert [(f.code, f.subject) for f in new.findings] == [("conflict", "scope:infra/payments")]
    assert f"new lineage {OTHER_LINEAGE}" in new.findings[0].message
    assert new.findings[0].evidence["previous_lineage"] == LINEAGE


def test_a_missing_state_file_is_not_installed_and_replaces_nothing(tmp_path: Path) -> None:
    source = TerraformSource(config(str(tmp_path / "gone.tfstate")))
    read = failure(one(read_all(source)))
    assert (read.scope, read.kind) == ("gone", FailureKind.NOT_INSTALLED)
    assert "no state file at" in read.message


def test_a_glob_that_matches_nothing_is_a_failure_of_the_source(tmp_path: Path) -> None:
    read = failure(one(read_all(TerraformSource(config(f"{tmp_path}/*.tfstate")))))
    assert (read.scope, read.kind) == ("infra", FailureKind.NOT_INSTALLED)


def test_a_state_that_disappears_is_read_as_empty_for_the_removal_guard(tmp_path: Path) -> None:
    path = write(tmp_path / "states/payments.tfstate", variant())
    write(tmp_path / "states/other.tfstate", variant(lineage=OTHER_LINEAGE))
    source = TerraformSource(config(f"{tmp_path}/states/*.tfstate"))
    before = {r.scope: snapshot(r) for r in read_all(source)}
    path.unlink()
    after = {r.scope: snapshot(r) for r in read_all(source, before)}
    assert after["payments"].observations == ()
    assert len(after["other"].observations) == 6


def test_a_rollback_after_the_state_went_missing_is_still_refused(tmp_path: Path) -> None:
    """A state gone for one read (held by the removal guard) keeps its serial for the next."""
    path = write(tmp_path / "states/payments.tfstate", variant(serial=10))
    settings = config(f"{tmp_path}/states/*.tfstate")
    store = Store.open(f"sqlite:///{tmp_path / 'trueup.db'}")
    store.upgrade()

    def sync(minutes: int) -> pipeline.SyncOutcome:
        return pipeline.sync(
            Config(sources=[settings]),
            store,
            now=lambda: NOW + timedelta(minutes=minutes),
            sources=[TerraformSource(settings)],
        )

    try:
        assert sync(0).exit_code == 0
        path.unlink()
        sync(1)  # read as empty: the removal guard holds the entities
        rolled_back = variant(serial=5)
        rolled_back["resources"][1]["instances"][0]["attributes"]["engine_version"] = "9.6"
        write(path, rolled_back)
        outcome = sync(2)
        assert outcome.snapshots == []
        (refused,) = outcome.failures
        assert refused.kind is FailureKind.INVALID
        assert "rolled back: serial 5 < 10" in refused.message
    finally:
        store.close()


def test_two_files_with_one_scope_name_are_refused(tmp_path: Path) -> None:
    write(tmp_path / "a/prod/terraform.tfstate", variant())
    write(tmp_path / "a/prod.tfstate", variant())
    read = failure(one(read_all(TerraformSource(config(f"{tmp_path}/a/**/*.tfstate")))))
    assert read.scope == "prod"
    assert "would all be the scope 'prod'" in read.message


def test_a_targeted_read_reads_only_the_named_scopes(tmp_path: Path) -> None:
    write(tmp_path / "payments.tfstate", variant())
    write(tmp_path / "other.tfstate", variant())
    source = TerraformSource(config(f"{tmp_path}/*.tfstate"))
    reads = list(source.observe(context(scopes=frozenset({"other"}))))
    assert [r.scope for r in reads] == ["other"]


def test_a_state_over_the_size_cap_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path / "payments.tfstate", variant())
    read = failure(one(read_all(TerraformSource(config(str(path), max_state_size=1000)))))
    assert read.kind is FailureKind.INVALID
    assert "larger than max_state_size (1000 bytes)" in read.message


@pytest.mark.parametrize(
    ("state", "message"),
    [
        ("ftp://host/x.tfstate", "ftp:// is not supported"),
        ("s3://bucket-only", "s3://bucket/key"),
        ("https:///no-host", "has no host"),
    ],
)
def test_an_unusable_location_fails_fast(state: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        TerraformSource(config(state))


@pytest.mark.parametrize(
    ("state", "extra", "message"),
    [
        (
            "states/*.tfstate",
            {"endpoint_url": "http://127.0.0.1:9000"},
            "endpoint_url applies to s3",
        ),
        ("https://tf.example/state", {"region": "eu-west-1"}, "region applies to s3"),
        ("s3://bucket/key.tfstate", {"password": "x"}, "password applies to http"),
        ("states/*.tfstate", {"headers": {"A": "b"}}, "headers applies to http"),
    ],
)
def test_keys_of_another_backend_fail_fast(state: str, extra: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        TerraformSource(config(state, **extra))
