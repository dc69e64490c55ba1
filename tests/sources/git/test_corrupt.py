"""A repository whose data is damaged is its own failure kind: it was reached, not unreachable."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.sources.git.conftest import WorkRepo, component, make_source, read
from trueup.errors import RepositoryError
from trueup.git.repository import GitRepository
from trueup.model.observation import FailureKind, ScopeFailure


def test_a_missing_object_in_the_remote_is_corrupt_not_unreachable(tmp_path: Path) -> None:
    work = WorkRepo(tmp_path / "work")
    work.write("catalog-info.yaml", component("a"))
    work.commit()
    blob = work.git("rev-parse", "HEAD:catalog-info.yaml")
    (work.path / ".git" / "objects" / blob[:2] / blob[2:]).unlink()
    failed = read(make_source(str(work.path)), tmp_path / "data")
    assert isinstance(failed, ScopeFailure), failed
    assert failed.kind == FailureKind.CORRUPT
    assert "corruption" in failed.message or blob in failed.message, failed.message


def test_a_blob_missing_from_the_clone_is_corrupt(tmp_path: Path) -> None:
    work = WorkRepo(tmp_path / "work")
    work.write("catalog-info.yaml", component("a"))
    work.commit()
    repo = GitRepository(str(work.path), work.path / ".git")
    with pytest.raises(RepositoryError) as caught:
        repo.read_blobs(["0" * 40], max_bytes=1024)
    assert caught.value.kind == FailureKind.CORRUPT
    assert "missing from the clone" in str(caught.value)
