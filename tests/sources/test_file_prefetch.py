"""The file source parsing a large folder in the sync's worker processes (``prefetch``).

A read with early workers must be the read without them: the same observations,
findings, parts and version, for every kind of file the walk meets.
"""

from __future__ import annotations

import os
import pickle
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from trueup.backstage_config import BackstageConfig, emission_policy
from trueup.model.emission import DEFAULT_POLICY
from trueup.model.observation import Snapshot
from trueup.parallel import can_fork, early_worker_count, early_workers
from trueup.path_policy import Refusal
from trueup.sources.base import ReadContext
from trueup.sources.file import FileSource
from trueup.sources.file.config import FileSourceConfig
from trueup.sources.file.prefetch import MIN_FILES, Parsed, Prefetch, _ParseJob

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)

pytestmark = pytest.mark.skipif(not can_fork(), reason="worker processes are forked")


def component(name: str, extra: str = "") -> str:
    return (
        "apiVersion: backstage.io/v1alpha1\nkind: Component\n"
        f"metadata:\n  name: {name}\n{extra}"
        "spec:\n  type: service\n  lifecycle: production\n  owner: team-a\n"
    )


def world(root: Path, outside: Path) -> None:
    """More files than the prefetch threshold, with every case the walk handles."""
    for i in range(MIN_FILES + 30):
        folder = root / f"team-{i % 7}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"c{i:04d}.yaml").write_text(component(f"svc-{i}") + "---\n" + component(f"x{i}"))
    (root / "team-0" / "broken.yaml").write_text("metadata: [unclosed\n")
    (root / "team-1" / "invalid.yaml").write_text(component("Bad Name!"))
    (root / "team-2" / "notes.yaml").write_text("just: a mapping\n")
    (root / "team-3" / "about.txt").write_text("the description\n")
    (root / "team-3" / "text.yaml").write_text(
        component("with-text", "  description:\n    $text: about.txt\n")
    )
    outside.write_text(component("outside"))
    os.symlink(outside, root / "team-4" / "escape.yaml")
    # a Location early in the listing leads to a file late in it, and to one not included
    (root / "a-location.yaml").write_text(
        "apiVersion: backstage.io/v1alpha1\nkind: Location\nmetadata:\n  name: loc\n"
        "spec:\n  targets: [./team-6/c0006.yaml, ./extra/more.yml]\n"
    )
    (root / "extra").mkdir()
    (root / "extra" / "more.yml").write_text(component("more"))


def read(root: Path, data_dir: Path | None = None, now: datetime = NOW) -> Snapshot:
    config = FileSourceConfig(id="catalog", type="file", path=str(root), include=["**/*.yaml"])
    context = ReadContext(now=lambda: now, previous={}, data_dir=data_dir)
    (result,) = FileSource(config).observe(context)
    assert isinstance(result, Snapshot), result
    return result


def same(a: Snapshot, b: Snapshot) -> None:
    assert a.observations == b.observations
    assert a.findings == b.findings
    assert (a.version, a.parts, a.kept, dict(a.ignored)) == (
        b.version,
        b.parts,
        b.kept,
        dict(b.ignored),
    )


def test_a_read_with_workers_is_the_read_without(tmp_path: Path) -> None:
    root = tmp_path / "catalog"
    world(root, tmp_path / "outside.yaml")
    alone = read(root)
    with early_workers(2):
        assert early_worker_count() == 2
        shared = read(root)
    same(alone, shared)
    rules = {f.evidence.get("rule") for f in alone.findings}
    assert {"outside-root", "yaml-syntax", "name-format"} <= rules
    assert {"svc-0", "more", "with-text"} <= {o.ref.name for o in alone.observations}
    assert len(alone.observations) >= 2 * MIN_FILES


def test_a_warm_read_with_workers_keeps_what_is_remembered(tmp_path: Path) -> None:
    """The second read parses nothing (every file remembered by its lstat); a file
    rewritten with the same bytes is read again and kept; one edited is parsed."""
    root = tmp_path / "catalog"
    world(root, tmp_path / "outside.yaml")
    first = read(root, tmp_path / "data")
    later = NOW + timedelta(minutes=5)
    (root / "team-5" / "c0005.yaml").write_text(component("svc-5"))  # one document less
    touched = root / "team-2" / "c0002.yaml"
    touched.write_text(touched.read_text())
    alone = read(root, tmp_path / "alone", later)
    with early_workers(2):
        shared = read(root, tmp_path / "data", later)
    names = {o.ref.name for o in shared.observations}
    assert "x5" not in names and "x2" in names
    assert {o.ref.name for o in alone.observations} == names
    assert shared.version == alone.version != first.version
    assert shared.findings == alone.findings


def test_prefetch_hands_files_to_the_workers_only_when_there_are_some(tmp_path: Path) -> None:
    root = tmp_path / "catalog"
    world(root, tmp_path / "outside.yaml")
    paths = sorted(str(p.relative_to(root)) for p in root.rglob("*.yaml"))
    alone = Prefetch(root, "catalog", "catalog", DEFAULT_POLICY, paths)
    assert alone.take(paths[0]) is None  # no workers: the walk reads it
    with early_workers(2):
        few = Prefetch(root, "catalog", "catalog", DEFAULT_POLICY, paths[: MIN_FILES - 1])
        assert few.take(paths[0]) is None  # too few to be worth it
        many = Prefetch(root, "catalog", "catalog", DEFAULT_POLICY, paths)
        try:
            last = many.take(paths[-1])  # out of order: the others wait for their turn
            first = many.take(paths[0])
            escape = many.take("team-4/escape.yaml")
            assert many.take(paths[0]) is None  # taken once
        finally:
            many.close()
    assert isinstance(first, Parsed) and first.parsed.path == paths[0]
    assert isinstance(last, Parsed) and last.parsed.path == paths[-1]
    assert isinstance(escape, Refusal)


def test_the_parse_job_crosses_to_the_early_workers(tmp_path: Path) -> None:
    """A job that cannot be pickled would make the map fork late workers, in the middle
    of the read: the job carries its settings only, under a configured policy too."""
    policy = emission_policy(BackstageConfig(kinds=[*BackstageConfig().kinds, "Template"]))
    job = _ParseJob(tmp_path, "catalog", "catalog", policy)
    copy = pickle.loads(pickle.dumps(job))
    assert (copy.root, copy.policy.fingerprint) == (tmp_path, policy.fingerprint)
