"""The ``directory`` sink: one YAML file per entity, ``<namespace>/<kind>/<name>.yaml``.

Called by the pipeline after a commit, through the :class:`~trueup.sinks.base.Sink`
protocol (:class:`DirectorySink`). Cost grows with change: a manifest
(``.trueup-manifest.json``) remembers the content hash of every file written,
so an unchanged entity is not rewritten (the volatile ``trueup.io/observed-at``
annotation alone is not a change, as for revisions). Each file is replaced
atomically (written beside it, then renamed); files of entities that left are
deleted; a missing file is rewritten by a full pass (:func:`write_directory`).
A full pass has the sync's worker processes, when it forked some, write its
files while it still reads the rows (:mod:`~trueup.sinks.directory.files`);
the manifest and the markers below are written after every file landed.

When the publication knows which entities the commit revised
(``Publication.revised``, an incremental commit), only their files are
rewritten (:func:`update_directory`): the other files stand, so a sync that
changed nothing costs no pass over every entity. Without a manifest (a first
run, a folder emptied by hand) it declines and the full pass runs instead.
Such an update does not rewrite the manifest either (100,000 entries): it
appends what it wrote and deleted to ``.trueup-manifest.journal``, one JSON
line per file, which every reader applies on top of the manifest and which is
folded into it by the next full pass, or once it grows past
:data:`JOURNAL_LIMIT` bytes.

The store has committed before the sink writes, so a write that stops half-way
(a full disk, a kill) is not revised again by the next sync: every write marks
the folder (``.trueup-manifest.pending``) until it has finished, and a marked
folder gets the full pass, which compares every file. A sync killed after the
store's commit and before the sink's write began leaves no mark, and the next
sync revises only its own changes: so every finished write records the number
of the commit it published (``Publication.commit_number``) in
``.trueup-manifest.commit``, and an update runs only for the commit right after
that one. Any other (a commit the sink never wrote, a number not known) gets
the full pass.

The rows come masked with every secret trueup knows (``Publication``), and a
value can become a secret after its file was written (a token added to
``trueup.yaml`` that some entity already names): that entity is revised by no
commit, yet its file must lose the value as the feed does. So a finished write
also records in ``.trueup-manifest.masked`` what it was masked with
(:func:`masking`: a random salt of the folder's and the redaction layer's
salted, slow fingerprint of every secret, never a secret nor a plain hash of
one), and an update runs only when the secrets known now give the same record.
Any other (a secret learnt, or one no longer configured) gets the full pass,
which rewrites every file whose masked text changed.
"""

from __future__ import annotations

import fcntl
import json
import os
import secrets
from collections.abc import Collection, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from trueup.crashpoint import crashpoint
from trueup.feed import FeedRow
from trueup.model.ref import EntityRef
from trueup.redaction import KNOWN_SECRETS
from trueup.sinks.base import Publication, SinkReport
from trueup.sinks.directory.config import DirectorySinkConfig
from trueup.sinks.directory.files import replace_file, write_files

MANIFEST = ".trueup-manifest.json"
JOURNAL = ".trueup-manifest.journal"
PENDING = ".trueup-manifest.pending"  # a write began and has not finished
LOCK = ".trueup-manifest.lock"  # held by the one process writing the folder
COMMIT = ".trueup-manifest.commit"  # the store commit the last finished write published
MASKED = ".trueup-manifest.masked"  # what its files were masked with (see masking)
JOURNAL_LIMIT = 1 << 20
# The crash tests' point (``TRUEUP_CRASHPOINT``): the store has committed, the folder not begun.
BEFORE_WRITE = "directory-sink-before-write"


@dataclass(frozen=True, slots=True)
class DirectoryReport:
    written: int
    unchanged: int
    deleted: int


def relative_path(row: FeedRow) -> str:
    return _relative(row.ref)


def _relative(ref: EntityRef) -> str:
    return f"{ref.namespace}/{ref.kind}/{ref.name}.yaml"


def write_directory(
    path: Path, rows: Iterable[FeedRow], commit: int | None = None, masked: str | None = None
) -> DirectoryReport:
    """Bring the folder in line with the emitted entities; report what was done.

    ``commit`` is the store commit the rows are of, ``masked`` what they are masked
    with (:func:`masking`, taken before the first row was masked), when known (see
    the module docstring).
    """
    path.mkdir(parents=True, exist_ok=True)
    (path / PENDING).touch()
    before = read_manifest(path) or {}
    after: dict[str, str] = {}
    unchanged = 0

    def changed() -> Iterator[tuple[str, str]]:
        nonlocal unchanged
        for row in rows:
            relative = relative_path(row)
            digest = row.content_hash
            after[relative] = digest
            if before.get(relative) == digest and (path / relative).exists():
                unchanged += 1
                continue
            yield relative, row.yaml

    written = write_files(path, changed())  # every file landed, or it raised
    deleted = 0
    for relative in before.keys() - after.keys():
        try:
            (path / relative).unlink()
            deleted += 1
        except FileNotFoundError:
            pass
    _write_manifest(path, after)
    if masked is None:
        (path / MASKED).unlink(missing_ok=True)
    else:
        replace_file(path / MASKED, masked)
    _finish(path, commit)
    return DirectoryReport(written, unchanged, deleted)


def masking(path: Path) -> str:
    """What rows masked from now on are masked with, as ``path`` records it: the folder's
    salt (a new one for a folder without) and the fingerprint of every secret known now.

    Neither is a secret, and the fingerprint gives none back (see
    :meth:`~trueup.redaction.SecretRegistry.fingerprint`). Taken before the rows
    are masked: a secret learnt while they are makes the record older than the
    files, which costs the next write a full pass, never a file left unmasked.
    """
    salt = None
    try:
        recorded = json.loads((path / MASKED).read_text(encoding="utf-8"))
        salt = bytes.fromhex(recorded["salt"])
    except (OSError, ValueError, TypeError, KeyError):
        pass
    if not salt:
        salt = secrets.token_bytes(16)
    fingerprint = KNOWN_SECRETS.fingerprint(salt)
    return json.dumps({"salt": salt.hex(), "secrets": fingerprint}, separators=(",", ":"))


def read_commit(path: Path) -> int | None:
    """The store commit the folder's last finished write published; None when not known."""
    try:
        return int((path / COMMIT).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _finish(path: Path, commit: int | None) -> None:
    """Record that the folder holds ``commit``'s entities, then lift the pending mark.

    In this order: a kill between the two leaves the mark, and the full pass.
    """
    if commit is None:
        (path / COMMIT).unlink(missing_ok=True)
    else:
        replace_file(path / COMMIT, str(commit))
    (path / PENDING).unlink()


def _read_masked(path: Path) -> str | None:
    try:
        return (path / MASKED).read_text(encoding="utf-8")
    except OSError:
        return None


def read_manifest(path: Path) -> dict[str, str] | None:
    """Every file the sink wrote in ``path`` and its content hash; None without a manifest."""
    try:
        manifest: dict[str, str] = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    try:
        lines = (path / JOURNAL).read_text(encoding="utf-8").splitlines()
    except OSError:
        lines = []
    for line in lines:
        try:
            relative, digest = json.loads(line)
        except ValueError:
            continue  # a line cut short by a crash: its file is rewritten by a full pass
        if digest is None:
            manifest.pop(relative, None)
        else:
            manifest[relative] = digest
    return manifest


def _write_manifest(path: Path, manifest: dict[str, str]) -> None:
    """Replace the manifest with ``manifest``; the journal is folded into it."""
    replace_file(path / MANIFEST, json.dumps(manifest, sort_keys=True, separators=(",", ":")))
    (path / JOURNAL).unlink(missing_ok=True)


def _journal(path: Path, entries: list[tuple[str, str | None]]) -> None:
    """Record written (hash) and deleted (None) files; fold the journal when it is large."""
    journal = path / JOURNAL
    text = "".join(json.dumps(entry, separators=(",", ":")) + "\n" for entry in entries)
    with journal.open("a+b") as handle:
        if handle.seek(0, os.SEEK_END):
            handle.seek(-1, os.SEEK_END)
            if handle.read(1) != b"\n":
                text = "\n" + text  # a line a crash cut short stays a line of its own
        handle.write(text.encode())
    if journal.stat().st_size > JOURNAL_LIMIT:
        _write_manifest(path, read_manifest(path) or {})


def update_directory(
    path: Path,
    rows: Iterable[FeedRow],
    changed: Collection[EntityRef],
    commit: int | None,
    masked: str | None = None,
) -> DirectoryReport | None:
    """Rewrite the files of the ``changed`` entities only; None when there is no manifest,
    the last write did not finish, did not publish the commit before ``commit`` or was
    masked otherwise than ``rows`` are (the full pass must compare every file).

    ``rows`` are the emitted ones among ``changed`` by store commit ``commit``, masked
    with ``masked`` (:func:`masking`); a changed entity without a row (removed, or
    no longer emitted) loses its file.
    """
    if commit is None or read_commit(path) != commit - 1:
        return None  # a commit came between (or its number is not known): not revised here
    if masked is None or _read_masked(path) != masked:
        return None  # a secret learnt (or dropped) since: unrevised files may show it
    if not (path / MANIFEST).is_file() or (path / PENDING).exists():
        return None
    (path / PENDING).touch()
    entries: list[tuple[str, str | None]] = []
    kept: set[str] = set()
    for row in rows:
        relative = relative_path(row)
        kept.add(relative)
        target = path / relative  # revised: its content changed, no need to compare
        target.parent.mkdir(parents=True, exist_ok=True)
        replace_file(target, row.yaml)
        entries.append((relative, row.content_hash))
    gone = [
        relative
        for relative in map(_relative, changed)
        if relative not in kept and (path / relative).exists()
    ]
    manifest = read_manifest(path) if gone else None  # only the sink's own files are deleted
    for relative in gone:
        if manifest is None or relative not in manifest:
            continue
        try:
            (path / relative).unlink()
        except FileNotFoundError:
            continue
        entries.append((relative, None))
    if entries:
        _journal(path, entries)
    _finish(path, commit)
    written = sum(1 for _, digest in entries if digest is not None)
    deleted = len(entries) - written
    return DirectoryReport(written, len(changed) - written - deleted, deleted)


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold the folder's lock: one writer at a time (a ``trueup sync`` beside a server's
    scheduler), so that neither reads a manifest or journal the other is writing."""
    path.mkdir(parents=True, exist_ok=True)
    with open(path / LOCK, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class DirectorySink:
    """Writes the publication's entities into a folder; see the module docstring."""

    def __init__(self, config: DirectorySinkConfig) -> None:
        self.config = config

    @property
    def name(self) -> str:
        return f"directory sink {self.config.path}"

    def write(self, publication: Publication) -> SinkReport:
        """Bring the folder in line with the publication. OSError when the folder cannot be."""
        crashpoint(BEFORE_WRITE)
        path = Path(self.config.path)
        commit = publication.commit_number
        report = None
        with _locked(path):
            masked = masking(path)  # before a row is masked (the rows mask as they are read)
            revised = publication.revised_rows()
            if revised is not None and publication.revised is not None:
                report = update_directory(path, revised, publication.revised, commit, masked)
            if report is None:
                report = write_directory(path, publication.rows(), commit, masked)
        return SinkReport(
            sink=self.name,
            written=report.written,
            unchanged=report.unchanged,
            removed=report.deleted,
        )
