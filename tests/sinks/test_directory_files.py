"""The full pass's files are written by the sync's worker processes when there are, and
the folder ends exactly as when the syncing process wrote them in order."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

import pytest

from trueup.feed import FeedRow
from trueup.model.ref import EntityRef
from trueup.parallel import can_fork, early_worker_count, early_workers
from trueup.sinks.directory import write_directory
from trueup.sinks.directory.sink import COMMIT, MANIFEST, MASKED, PENDING, read_commit

pytestmark = pytest.mark.skipif(not can_fork(), reason="needs os.fork")

NAMESPACES = ("alpha", "beta", "gamma")
KINDS = ("component", "resource")


def generated(count: int, version: str = "1") -> list[FeedRow]:
    """``count`` rows over six folders, in ref order, each text its own."""
    refs = sorted(
        (EntityRef(KINDS[i % 2], NAMESPACES[i % 3], f"entity-{i:05d}"), i) for i in range(count)
    )
    return [
        FeedRow(
            ref=ref,
            content_hash=f"{ref}@{version}",
            yaml=f"kind: {ref.kind}\nmetadata:\n  name: {ref.name}\n  version: '{version}'\n"
            + "x" * (i % 700),
            json="{}",
        )
        for ref, i in refs
    ]


def tree(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (hidden ones too) and its bytes."""
    return {
        str(file.relative_to(folder)): file.read_bytes()
        for file in sorted(folder.rglob("*"))
        if file.is_file()
    }


def as_one_thread_wrote(rows: list[FeedRow], commit: int, masked: str) -> dict[str, bytes]:
    """What the full pass leaves: a file per row, the manifest and the finished markers."""
    files = {f"{r.ref.namespace}/{r.ref.kind}/{r.ref.name}.yaml": r for r in rows}
    manifest = {relative: row.content_hash for relative, row in files.items()}
    return {
        **{relative: row.yaml.encode() for relative, row in files.items()},
        MANIFEST: json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode(),
        COMMIT: str(commit).encode(),
        MASKED: masked.encode(),
    }


@pytest.fixture(params=["alone", "workers"])
def writers(request: pytest.FixtureRequest) -> Iterator[AbstractContextManager[None]]:
    """Around a pass: without worker processes (written in order), or with two forked."""
    if request.param == "alone":
        yield nullcontext()
        return
    with early_workers(2):
        assert early_worker_count() == 2  # the pass hands its files to them
        yield nullcontext()


def test_a_full_pass_writes_every_file_manifest_and_marker(
    tmp_path: Path, writers: AbstractContextManager[None]
) -> None:
    rows = generated(3000)
    with writers:
        report = write_directory(tmp_path, rows, 7, "masked-with")
    assert (report.written, report.unchanged, report.deleted) == (3000, 0, 0)
    assert tree(tmp_path) == as_one_thread_wrote(rows, 7, "masked-with")


def test_the_next_pass_skips_unchanged_files_rewrites_changed_ones_and_deletes_leavers(
    tmp_path: Path, writers: AbstractContextManager[None]
) -> None:
    first = generated(3000)
    second = generated(2500)
    second[100:1700] = generated(2500, version="2")[100:1700]
    with writers:
        write_directory(tmp_path, first, 1, "m")
        (tmp_path / "gamma" / "resource" / "entity-00005.yaml").unlink()  # rewritten
        report = write_directory(tmp_path, second, 2, "m")
    assert (report.written, report.unchanged, report.deleted) == (1601, 899, 500)
    assert tree(tmp_path) == as_one_thread_wrote(second, 2, "m")


def test_with_workers_the_folder_ends_as_without(tmp_path: Path) -> None:
    rows = generated(4000)
    write_directory(tmp_path / "alone", rows, 3, "m")
    with early_workers(2):
        write_directory(tmp_path / "workers", rows, 3, "m")
    assert tree(tmp_path / "workers") == tree(tmp_path / "alone")


def unfinished(folder: Path, commit: int) -> bool:
    """Marked as a write that did not finish, the last finished one's records kept."""
    return (folder / PENDING).exists() and read_commit(folder) == commit


def test_a_folder_that_is_a_file_fails_the_pass_midway_and_leaves_it_unfinished(
    tmp_path: Path, writers: AbstractContextManager[None]
) -> None:
    rows = generated(3000)
    with writers:
        write_directory(tmp_path, rows[:10], 1, "m")
        before = (tmp_path / MANIFEST).read_bytes()
        (tmp_path / "beta").mkdir()
        (tmp_path / "beta" / "component").write_text("a file where a folder goes")
        with pytest.raises(FileExistsError) as raised:
            write_directory(tmp_path, rows, 2, "m")
    assert raised.value.filename == str(tmp_path / "beta" / "component")
    assert unfinished(tmp_path, 1)
    assert (tmp_path / MANIFEST).read_bytes() == before  # written only once every file landed
    assert (tmp_path / "alpha" / "component" / f"{rows[0].ref.name}.yaml").exists()


def test_a_target_that_is_a_folder_fails_the_pass_with_the_rename_s_error(
    tmp_path: Path, writers: AbstractContextManager[None]
) -> None:
    rows = generated(3000)
    blocked = tmp_path / "beta" / "resource" / f"{rows[2200].ref.name}.yaml"
    blocked.mkdir(parents=True)
    with writers, pytest.raises(IsADirectoryError) as raised:
        write_directory(tmp_path, rows, 1, "m")
    assert (raised.value.filename, raised.value.filename2) == (
        str(blocked.with_name(f".{blocked.name}.tmp")),
        str(blocked),
    )
    assert (tmp_path / PENDING).exists() and not (tmp_path / MANIFEST).exists()
    for row in rows[:2200]:  # every file before the failed one landed, as in order
        folder = tmp_path / row.ref.namespace / row.ref.kind
        assert (folder / f"{row.ref.name}.yaml").read_text() == row.yaml


def test_a_write_failure_comes_before_a_later_failure_to_read_the_rows(
    tmp_path: Path, writers: AbstractContextManager[None]
) -> None:
    rows = generated(3000)
    (tmp_path / "alpha").write_text("a file where a folder goes")

    def failing() -> Iterator[FeedRow]:
        yield from rows[:2900]
        raise RuntimeError("the store went away")

    with writers, pytest.raises(NotADirectoryError):
        write_directory(tmp_path, failing(), 1, "m")
    assert (tmp_path / PENDING).exists()


def test_a_failure_to_read_the_rows_fails_the_pass_once_the_files_before_landed(
    tmp_path: Path, writers: AbstractContextManager[None]
) -> None:
    rows = generated(3000)

    def failing() -> Iterator[FeedRow]:
        yield from rows[:2900]
        raise RuntimeError("the store went away")

    with writers, pytest.raises(RuntimeError, match="the store went away"):
        write_directory(tmp_path, failing(), 1, "m")
    assert (tmp_path / PENDING).exists() and not (tmp_path / MANIFEST).exists()
    for row in rows[:2500]:  # the batches read whole before the failure
        assert (tmp_path / row.ref.namespace / row.ref.kind / f"{row.ref.name}.yaml").exists()
