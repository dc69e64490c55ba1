"""The path policy every file-reading source uses: regular files, under their root."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from trueup.path_policy import Refusal, Rule, check_under, read_file, read_under


@pytest.fixture
def root(tmp_path: Path) -> Path:
    folder = tmp_path / "root"
    (folder / "teams").mkdir(parents=True)
    (folder / "teams" / "a.yaml").write_bytes(b"a: 1\n")
    (tmp_path / "outside.yaml").write_bytes(b"secret: 1\n")
    return folder


def refusal(found: object) -> Refusal:
    assert isinstance(found, Refusal), found
    return found


def test_a_regular_file_under_the_root_is_read(root: Path) -> None:
    assert read_under(root, "teams/a.yaml", max_bytes=100) == b"a: 1\n"
    assert check_under(root, "teams/a.yaml") is None


def test_a_link_that_stays_inside_is_followed(root: Path) -> None:
    (root / "alias.yaml").symlink_to("teams/a.yaml")
    (root / "mirror").symlink_to(root / "teams", target_is_directory=True)
    assert read_under(root, "alias.yaml", max_bytes=100) == b"a: 1\n"
    assert read_under(root, "mirror/a.yaml", max_bytes=100) == b"a: 1\n"


@pytest.mark.parametrize(
    ("setup", "relative", "reason"),
    [
        ("file-link", "out.yaml", "is a symbolic link that leads outside the folder"),
        ("folder-link", "up/outside.yaml", "leads, through a symbolic link, outside the folder"),
        (None, "../outside.yaml", "is outside the folder"),
        (None, "/etc/passwd", "is outside the folder"),
    ],
)
def test_paths_leading_out_of_the_root_are_refused(
    root: Path, setup: str | None, relative: str, reason: str
) -> None:
    if setup == "file-link":
        (root / "out.yaml").symlink_to(root.parent / "outside.yaml")
    elif setup == "folder-link":
        (root / "up").symlink_to(root.parent, target_is_directory=True)
    found = refusal(read_under(root, relative, max_bytes=100))
    assert found.rule is Rule.OUTSIDE_ROOT
    assert reason in found.reason
    assert "secret" not in found.message and "outside.yaml" not in found.reason
    assert check_under(root, relative) == found


def test_special_files_and_folders_are_refused_without_being_opened(root: Path) -> None:
    os.mkfifo(root / "pipe.yaml")  # reading it would block: it must never be opened
    found = refusal(read_under(root, "pipe.yaml", max_bytes=100))
    assert (found.rule, found.reason) == (
        Rule.SPECIAL_FILE,
        "is a FIFO (named pipe), not a file; not read",
    )
    assert refusal(read_under(root, "teams", max_bytes=100)).rule is Rule.NOT_A_FILE
    device = refusal(read_file(Path("/dev/zero"), max_bytes=100))
    assert device.rule is Rule.SPECIAL_FILE and "character device" in device.reason


def test_missing_dangling_and_too_large_files(root: Path) -> None:
    assert refusal(read_under(root, "nope.yaml", max_bytes=10)).rule is Rule.MISSING
    (root / "dangling.yaml").symlink_to(root / "gone.yaml")
    dangling = refusal(read_under(root, "dangling.yaml", max_bytes=10))
    assert (dangling.rule, dangling.reason) == (Rule.MISSING, "is a symbolic link to nothing")
    large = refusal(read_under(root, "teams/a.yaml", max_bytes=4))
    assert (large.rule, large.reason) == (Rule.TOO_LARGE, "is 5 bytes, over the 4 cap")
    assert read_under(root, "teams/a.yaml", max_bytes=5) == b"a: 1\n"


def test_read_file_follows_a_named_link_but_reads_only_regular_files(root: Path) -> None:
    named = root.parent / "named.yaml"
    named.symlink_to(root / "teams" / "a.yaml")
    assert read_file(named, max_bytes=100) == b"a: 1\n"
    assert refusal(read_file(root / "teams", max_bytes=100)).rule is Rule.NOT_A_FILE
    assert (
        refusal(read_file(root / "none", max_bytes=100)).message
        == f"{root / 'none'} does not exist"
    )
